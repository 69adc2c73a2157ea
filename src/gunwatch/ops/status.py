"""`gunwatch service status`: is the unit installed, and what systemd says of it."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gunwatch.ops.names import UNIT_NAME

PROPERTIES = ("LoadState", "ActiveState", "SubState", "Result", "MainPID", "NRestarts", "ExecMainStartTimestamp")


@dataclass
class ServiceStatus:
    unit_path: Path
    installed: bool
    active: str | None = None  # `systemctl is-active`: active, inactive, failed, activating, ...
    properties: dict[str, str] = field(default_factory=dict)  # `systemctl show`
    problem: str | None = None  # why systemd could not be asked

    @property
    def exit_code(self) -> int:
        """As `systemctl status`: 0 running, 3 not running (or not known), 4 no such unit."""
        if not self.installed:
            return 4
        return 0 if self.active == "active" else 3

    def to_json_dict(self) -> dict[str, object]:
        return {"unit": str(self.unit_path), "installed": self.installed, "active": self.active,
                "properties": self.properties, "problem": self.problem}


def service_status(unit_dir: Path, timeout_s: float = 10.0) -> ServiceStatus:
    unit_path = unit_dir / f"{UNIT_NAME}.service"
    if not unit_path.is_file():
        return ServiceStatus(unit_path, installed=False)
    if shutil.which("systemctl") is None:
        return ServiceStatus(unit_path, True, problem="systemctl is not installed (apt-get install systemd)")
    unit = f"{UNIT_NAME}.service"
    try:
        active = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True, timeout=timeout_s)
        shown = subprocess.run(["systemctl", "show", unit, f"--property={','.join(PROPERTIES)}"],
                               capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return ServiceStatus(unit_path, True, problem=f"systemctl did not answer within {timeout_s:g} s")
    if shown.returncode != 0:  # no systemd running here (a container), or no bus to it
        reason = (shown.stderr.strip() or active.stderr.strip()).splitlines()
        return ServiceStatus(unit_path, True, problem=f"systemd cannot be asked: {reason[0] if reason else '?'}")
    return ServiceStatus(unit_path, True, active.stdout.strip() or None, parse_properties(shown.stdout))


def parse_properties(text: str) -> dict[str, str]:
    """`systemctl show`'s KEY=VALUE lines."""
    pairs = (line.partition("=") for line in text.splitlines())
    return {key: value for key, equals, value in pairs if equals}


def format_status(status: ServiceStatus) -> str:
    if not status.installed:
        return (f"{UNIT_NAME}.service: not installed (no {status.unit_path}; "
                f"`gunwatch service install --config SITE` writes it)")
    lines = [f"{UNIT_NAME}.service: installed ({status.unit_path})"]
    if status.problem is not None:
        return "\n".join([*lines, f"  state unknown: {status.problem}"])
    shown = status.properties
    if shown.get("LoadState") == "not-found":
        lines.append("  systemd has not read it yet: systemctl daemon-reload")
    state = f"{status.active} ({shown.get('SubState', '?')})"
    if shown.get("Result") not in (None, "", "success"):
        state += f", last result: {shown['Result']}"
    lines.append(f"  state: {state}")
    if shown.get("MainPID") not in (None, "", "0"):
        lines.append(f"  pid {shown['MainPID']}, since {shown.get('ExecMainStartTimestamp') or '?'}")
    if shown.get("NRestarts") not in (None, "", "0"):
        lines.append(f"  restarted {shown['NRestarts']} times after a failure")
    lines.append(f"  logs: journalctl -u {UNIT_NAME} (JSON lines: journalctl -u {UNIT_NAME} -o cat | jq)")
    return "\n".join(lines)
