"""Alembic migrations of the event store (a package only so that installs carry its files)."""
