"""Running gunwatch unattended: its systemd service and logs a journal or a log shipper can read."""
