"""Gun data sets in the layouts people have, read into one record type."""
