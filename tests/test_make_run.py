"""`make run` and the README tell a new user how to call gunwatch: it is in the virtualenv, not on PATH."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_make_run_ends_by_saying_how_to_call_gunwatch(tmp_path: Path) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    venv = tmp_path / "venv"  # a virtualenv elsewhere: the line names the one in use
    # -n: print the recipe without running it; -W: treat the virtualenv as present (nothing is built).
    # --no-print-directory: under `make test` (a make running the suite) it would print "Leaving directory" last.
    result = subprocess.run([make, "-n", "--no-print-directory", "-W", f"{venv}/.runtime", f"VENV={venv}", "run"],
                            cwd=REPO, capture_output=True, text=True, check=True)
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("echo ") and f"{venv}/bin/gunwatch ..." in last and f". {venv}/bin/activate" in last


def test_the_quick_start_says_how_to_call_gunwatch() -> None:
    readme = (REPO / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "`.venv/bin/gunwatch ...`" in quick_start and "`. .venv/bin/activate`" in quick_start
