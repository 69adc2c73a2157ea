"""`systemd-analyze verify` for the tests: skipped (with the apt hint) where systemd is not installed, a
failure under GUNWATCH_REQUIRE_SYSTEMD=1 (CI), so that a missing package cannot pass unseen."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def verify(unit: Path) -> str:
    """What `systemd-analyze verify` says of the unit: empty for a clean unit. It exits 0 on warnings (an
    unknown key, a value it ignores, an unsafe user), so its words count, not only its exit code."""
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        reason = "systemd-analyze not installed (apt-get install systemd)"
        if os.environ.get("GUNWATCH_REQUIRE_SYSTEMD") == "1":
            pytest.fail(f"systemd tests required (GUNWATCH_REQUIRE_SYSTEMD=1) but {reason}")
        pytest.skip(reason)
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    said = (result.stdout + result.stderr).strip()
    return said if said or result.returncode == 0 else f"exit code {result.returncode}"
