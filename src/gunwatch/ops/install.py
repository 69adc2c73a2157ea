"""Carry out a service plan: the user, its folders, the secrets file and the unit, each only when missing or
different, so that installing again (after the site file moved a folder) is safe."""

from __future__ import annotations

import os
import pwd
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from gunwatch.ops.names import SYSTEM_UNIT_DIR, UNIT_NAME
from gunwatch.ops.service import ServicePlan, env_text, missing_secrets, unit_text

NOLOGIN = "/usr/sbin/nologin"


class InstallError(RuntimeError):
    """What stopped the install, and what to do about it."""


@dataclass
class InstallReport:
    unit_path: Path
    env_file: Path
    env_written: bool
    missing_secrets: list[str]
    user_created: bool
    notes: list[str] = field(default_factory=list)


def install(plan: ServicePlan) -> InstallReport:
    notes: list[str] = []
    created = ensure_user(plan.user)
    prepare_folders(plan, notes)
    env_written = write_env_file(plan, notes)
    write_unit(plan)
    if plan.unit_path.parent == SYSTEM_UNIT_DIR and Path("/run/systemd/system").is_dir():
        reload = subprocess.run(["systemctl", "daemon-reload"], capture_output=True, text=True, check=False)
        if reload.returncode != 0:
            notes.append(f"systemctl daemon-reload failed: {reload.stderr.strip()}")
    return InstallReport(plan.unit_path, plan.env_file, env_written, missing_secrets(plan), created, notes)


def ensure_user(user: str) -> bool:
    """True when the user had to be created (a system user with its own group, no home, no shell)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        entry = None
    if entry is not None:
        if entry.pw_uid == 0:
            raise InstallError(f"user {user} is root (uid 0): the service needs an unprivileged user of its own")
        return False
    command = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
               "--shell", NOLOGIN, user]
    if os.geteuid() != 0:
        raise InstallError(f"user {user} does not exist: run this as root to create it, or `{' '.join(command)}`")
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InstallError(f"could not create user {user}: {result.stderr.strip()}")
    return True


def prepare_folders(plan: ServicePlan, notes: list[str]) -> None:
    """The writable folders made, and given to the service's user: the folders themselves, the SQLite file
    and its journals, and everything in the evidence folder (a watch run by hand as root left it root's)."""
    for folder in plan.writable:
        folder.mkdir(parents=True, exist_ok=True)
    plan.evidence_dir.mkdir(parents=True, exist_ok=True)
    owned = [*plan.writable, plan.evidence_dir, *(path for path in plan.state_files if path.exists())]
    owned += [path for path in plan.evidence_dir.rglob("*") if not path.is_symlink()]
    if os.geteuid() != 0:
        notes.append(f"not root: give the folders to {plan.user} yourself "
                     f"(chown -R {plan.user}: {' '.join(map(str, plan.writable))})")
        return
    entry = pwd.getpwnam(plan.user)
    for path in owned:
        status = path.stat()
        if (status.st_uid, status.st_gid) != (entry.pw_uid, entry.pw_gid):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def write_env_file(plan: ServicePlan, notes: list[str]) -> bool:
    """Written (mode 0600) when missing, with the site file's names, empty; an existing one is kept, its
    mode tightened to 0600 if others could read it. True when written."""
    path = plan.env_file
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            path.chmod(0o600)
            notes.append(f"{path} was mode {mode:04o}: now 0600 (only root reads the secrets)")
        return False
    with os.fdopen(descriptor, "w") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whatever the umask
        handle.write(env_text(plan))
    return True


def write_unit(plan: ServicePlan) -> None:
    plan.unit_path.parent.mkdir(parents=True, exist_ok=True)
    partial = plan.unit_path.with_name(f".{UNIT_NAME}.service.partial")
    partial.write_text(unit_text(plan))
    partial.chmod(0o644)
    os.replace(partial, plan.unit_path)  # systemd never reads half a unit
