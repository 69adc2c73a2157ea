"""One file per schema revision; Alembic reads them in the order of their `down_revision` links."""
