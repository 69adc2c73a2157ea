"""Notification channels, one adapter per kind, chosen by the URL's scheme (see `registry.py`)."""
