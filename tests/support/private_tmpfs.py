"""A real small disk for tests: a tmpfs mounted in a private mount namespace (`unshare --user --map-root-user
--mount`), so a test can fill a disk without root and without touching the machine's own mounts.

A script run with `run_private(script, *args)` mounts it itself (`mount -t tmpfs -o size=... tmpfs "$1"`) and
sees it until it exits. Where user namespaces are not allowed the tests skip and say why.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

UNSHARE = ["unshare", "--user", "--map-root-user", "--mount"]


def private_mounts_missing() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare (util-linux) not found"
    probe = subprocess.run([*UNSHARE, "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True, text=True,
                           timeout=30)
    return None if probe.returncode == 0 else f"no private tmpfs mount here: {probe.stderr.strip()}"


def skip_without_private_mounts() -> None:
    missing = private_mounts_missing()
    if missing:
        pytest.skip(missing)


def run_private(script: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`sh -c script sh args...` in a private mount namespace; output captured as text."""
    return subprocess.run([*UNSHARE, "sh", "-c", script, "sh", *args], capture_output=True, text=True,
                          timeout=timeout)
