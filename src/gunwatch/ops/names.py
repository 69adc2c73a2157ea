"""Where the service's files go by default (kept apart so that `gunwatch --help` imports nothing more)."""

from __future__ import annotations

from pathlib import Path

UNIT_NAME = "gunwatch"
SYSTEM_UNIT_DIR = Path("/etc/systemd/system")
DEFAULT_ENV_FILE = Path("/etc/gunwatch/gunwatch.env")
