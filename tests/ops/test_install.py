"""`gunwatch service install` on a real file system: the unit, the secrets file (0600, kept once written),
the folders made and given to the service's user (a real system user, created by the install, as root)."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from gunwatch.ops.install import InstallError, install
from gunwatch.ops.service import plan_service, unit_text
from support.systemd import verify

SITE = """\
cameras:
  lobby: {url: "rtsp://admin:${CAM_PASSWORD}@10.0.0.5/stream1"}
evidence: {folder: runs/evidence}
store: {url: "sqlite:///state/gunwatch.db"}
"""


def gunwatch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "site.yaml").write_text(SITE)
    return tmp_path


@pytest.fixture
def new_user() -> Iterator[str]:
    """A name no user has yet; the user the install creates is removed again."""
    if os.geteuid() != 0:
        pytest.skip("creating the service's user needs root")
    name = f"gwtest{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["userdel", name], capture_output=True, check=False)


def test_install_creates_the_user_and_gives_it_only_its_folders(site: Path, new_user: str) -> None:
    (site / "runs" / "evidence" / "lobby").mkdir(parents=True)
    (site / "runs" / "evidence" / "lobby" / "old.jpg").write_bytes(b"jpeg")  # left by a watch run as root
    result = gunwatch("service", "install", "--config", "site.yaml", "--user", new_user,
                      "--unit-dir", "units", "--env-file", "secrets/gunwatch.env", cwd=site)
    assert result.returncode == 0, result.stderr
    assert f"created user {new_user}" in result.stderr
    assert "set CAM_PASSWORD in" in result.stderr
    entry = pwd.getpwnam(new_user)
    assert entry.pw_uid != 0 and entry.pw_shell == "/usr/sbin/nologin"
    for path in (site / "state", site / "runs" / "evidence", site / "runs" / "evidence" / "lobby" / "old.jpg"):
        assert path.stat().st_uid == entry.pw_uid, path
    assert site.stat().st_uid == 0 and (site / "runs").stat().st_uid == 0  # only the writable folders
    unit = site / "units" / "gunwatch.service"
    assert f"User={new_user}\n" in unit.read_text()
    assert verify(unit) == ""


def test_the_secrets_file_is_0600_and_kept_once_written(site: Path, new_user: str) -> None:
    plan = plan_service(Path("site.yaml"), new_user, site / "units", site / "secrets" / "gunwatch.env",
                        working_dir=site, environ={})
    first = install(plan)
    env = site / "secrets" / "gunwatch.env"
    assert first.env_written and (env.stat().st_mode & 0o777) == 0o600
    assert first.missing_secrets == ["CAM_PASSWORD"]
    assert (site / "units" / "gunwatch.service").read_text() == unit_text(plan)

    env.write_text("CAM_PASSWORD='s3cret'\n")
    env.chmod(0o644)  # an editor that saved it readable to all
    second = install(plan)
    assert not second.env_written and second.missing_secrets == []
    assert env.read_text() == "CAM_PASSWORD='s3cret'\n"
    assert (env.stat().st_mode & 0o777) == 0o600 and any("now 0600" in note for note in second.notes)


def test_a_user_with_uid_0_is_refused_before_anything_is_written(site: Path) -> None:
    # The name check refuses `root` itself; this is the check on the account, for any name uid 0 has.
    plan = plan_service(Path("site.yaml"), "gunwatch", site / "units", site / "env", working_dir=site, environ={})
    with pytest.raises(InstallError, match="uid 0"):
        install(plan.__class__(**{**vars(plan), "user": pwd.getpwuid(0).pw_name}))
    assert not (site / "units").exists() and not (site / "env").exists()


def test_dry_run_prints_the_unit_and_the_secrets_file_and_writes_nothing(site: Path) -> None:
    result = gunwatch("service", "install", "--config", "site.yaml", "--unit-dir", "units",
                      "--env-file", "secrets/gunwatch.env", "--dry-run", cwd=site)
    assert result.returncode == 0, result.stderr
    assert "ProtectSystem=strict" in result.stdout and "CAM_PASSWORD=" in result.stdout
    assert sorted(path.name for path in site.iterdir()) == ["site.yaml"]


def test_a_bad_site_file_is_refused_with_its_key(site: Path) -> None:
    (site / "site.yaml").write_text(SITE.replace("runs/evidence}", "runs/evidence, keep: 3}"))
    result = gunwatch("service", "install", "--config", "site.yaml", "--unit-dir", "units", "--dry-run", cwd=site)
    assert result.returncode == 1
    assert f"{site / 'site.yaml'}: evidence.keep" in result.stderr


def test_status_says_not_installed_with_exit_code_4(tmp_path: Path) -> None:
    result = gunwatch("service", "status", "--unit-dir", str(tmp_path), "--json", cwd=tmp_path)
    assert result.returncode == 4
    assert json.loads(result.stdout)["installed"] is False
    assert "not installed" in result.stderr
