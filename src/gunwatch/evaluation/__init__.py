"""`gunwatch eval`: run any model over a data set split and measure it with the metrics package."""
