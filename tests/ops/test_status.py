"""`gunwatch service status`: not installed, installed (what systemd says, or why it cannot be asked)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gunwatch.ops.status import ServiceStatus, format_status, parse_properties, service_status

# As `systemctl show gunwatch.service --property=...` prints it for a unit that restarted twice.
SHOWN = """\
LoadState=loaded
ActiveState=active
SubState=running
Result=success
MainPID=4242
NRestarts=2
ExecMainStartTimestamp=Thu 2026-12-03 10:00:00 UTC
"""


def test_not_installed_when_the_unit_dir_lacks_the_unit(tmp_path: Path) -> None:
    status = service_status(tmp_path)
    assert (status.installed, status.exit_code) == (False, 4)
    assert "not installed" in format_status(status) and str(tmp_path / "gunwatch.service") in format_status(status)


def test_an_installed_unit_is_reported_with_what_systemd_says_or_why_it_cannot_say(tmp_path: Path) -> None:
    (tmp_path / "gunwatch.service").write_text("[Service]\nExecStart=/bin/true\n")
    result = subprocess.run([sys.executable, "-m", "gunwatch.cli", "service", "status", "--unit-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3  # not running: systemd has not loaded a unit in a folder of the test's
    assert f"installed ({tmp_path / 'gunwatch.service'})" in result.stdout
    # With systemd running (a host) it has not read this folder; in a container there is no systemd to ask.
    assert "systemd has not read it yet" in result.stdout or "state unknown" in result.stdout


def test_a_running_unit_reads_as_its_state_pid_and_restarts() -> None:
    status = ServiceStatus(Path("/etc/systemd/system/gunwatch.service"), True, "active", parse_properties(SHOWN))
    assert status.exit_code == 0
    text = format_status(status)
    assert "state: active (running)" in text
    assert "pid 4242, since Thu 2026-12-03 10:00:00 UTC" in text
    assert "restarted 2 times" in text


def test_a_failed_unit_says_its_result() -> None:
    shown = SHOWN.replace("ActiveState=active", "ActiveState=failed").replace("Result=success", "Result=exit-code")
    status = ServiceStatus(Path("/x/gunwatch.service"), True, "failed", parse_properties(shown.replace("4242", "0")))
    assert status.exit_code == 3
    assert "state: failed (running), last result: exit-code" in format_status(status)
    assert "pid" not in format_status(status)
