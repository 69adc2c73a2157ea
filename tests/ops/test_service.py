"""The unit `gunwatch service install` writes: what it says, checked by systemd's own `systemd-analyze verify`."""

from __future__ import annotations

from pathlib import Path

import pytest

from gunwatch.config import ConfigError
from gunwatch.ops.service import ServicePlan, env_text, gunwatch_command, plan_service, unit_text
from support.systemd import verify

SITE = """\
cameras:
  lobby: {url: "rtsp://admin:${CAM_PASSWORD}@10.0.0.5/stream1"}
  hall: {url: "rtsp://viewer:${CAM_PASSWORD}@10.0.0.6/stream1?name=$${HALL}"}
evidence: {folder: runs/evidence}
store: {url: "sqlite:///state/gunwatch.db"}
alerts:
  channels:
    office_email:
      url: smtp://alerts%40school.org:${SMTP_PASSWORD}@smtp.school.org:587?starttls=yes
      sender: alerts@school.org
"""


def settings(text: str) -> dict[str, list[str]]:
    """The unit's KEY=value lines, each key's values in order (comments and sections left out)."""
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith("#"):
            found.setdefault(key, []).append(value)
    return found


def plan_in(folder: Path, site: str = SITE, **overrides: object) -> ServicePlan:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "site.yaml").write_text(site)
    arguments = {"user": "gunwatch", "unit_dir": folder / "units", "env_file": folder / "secrets" / "gunwatch.env",
                 "working_dir": folder, "environ": {}} | overrides
    return plan_service(Path("site.yaml"), **arguments)  # type: ignore[arg-type]


def venv_in_a_home() -> bool:
    # A developer's clone in ~/gunwatch runs its tests from a venv in a home: the unit keeps it readable.
    return any(Path(gunwatch_command()[0]).is_relative_to(home) for home in (Path("/home"), Path("/root")))


def write(plan: ServicePlan) -> Path:
    plan.unit_path.parent.mkdir(parents=True, exist_ok=True)
    plan.unit_path.write_text(unit_text(plan))
    return plan.unit_path


def test_the_unit_is_hardened_and_writes_only_the_store_and_evidence_folders(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "site")  # no secret set: the folders are known without them
    unit = settings(unit_text(plan))
    site = tmp_path / "site"
    assert unit["ReadWritePaths"] == [f"{site / 'runs' / 'evidence'} {site / 'state'}"]
    assert unit["ExecStart"] == [" ".join([*gunwatch_command(), "watch", "--config", str(site / "site.yaml"),
                                           "--status-every", "0", "--log-format", "json"])]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]  # systemctl reload: the watch re-reads its site file
    assert unit["After"] == unit["Wants"] == ["network-online.target"]
    assert unit["User"] == ["gunwatch"]
    assert (unit["ProtectSystem"], unit["NoNewPrivileges"], unit["PrivateTmp"]) == (["strict"], ["yes"], ["yes"])
    assert unit["ProtectHome"] == ["read-only" if venv_in_a_home() else "yes"]
    assert unit["EnvironmentFile"] == [str(site / "secrets" / "gunwatch.env")]
    assert unit["WorkingDirectory"] == [str(site)]  # the site file's relative paths mean what they meant here
    assert unit["WantedBy"] == ["multi-user.target"]
    assert verify(write(plan)) == ""


def test_systemd_reads_paths_with_spaces_and_percent_signs_as_written(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "a site" / "100%", site=SITE.replace("runs/evidence", "'my evidence'"))
    text = unit_text(plan)
    assert verify(write(plan)) == ""
    unit = settings(text)
    site = tmp_path / "a site" / "100%%"
    assert unit["ReadWritePaths"] == [f'"{site / "my evidence"}" "{site / "state"}"']
    assert unit["WorkingDirectory"] == [str(site)]


def test_a_path_systemd_would_read_otherwise_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="control character"):
        plan_in(tmp_path / "site", site=SITE.replace("runs/evidence", '"runs\\nReadWritePaths=/"'))


def test_the_secrets_file_lists_the_site_files_variables_once_each(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "site")
    assert plan.secrets == ("CAM_PASSWORD", "SMTP_PASSWORD")  # not HALL: $${...} is a literal
    names = [line for line in env_text(plan).splitlines() if not line.startswith("#")]
    assert names == ["CAM_PASSWORD=", "SMTP_PASSWORD="]


def test_a_server_database_leaves_only_the_evidence_writable(tmp_path: Path) -> None:
    site = SITE.replace("sqlite:///state/gunwatch.db", "postgresql://gunwatch:${PGPASSWORD}@db.local/gunwatch")
    plan = plan_in(tmp_path / "site", site=site)
    assert plan.writable == ((tmp_path / "site" / "runs" / "evidence"),)
    assert "PGPASSWORD" in plan.secrets
    assert verify(write(plan)) == ""


def test_evidence_inside_the_state_folder_is_one_writable_path(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "site", site=SITE.replace("runs/evidence", "state/evidence"))
    assert plan.writable == ((tmp_path / "site" / "state"),)


def test_folders_under_tmp_are_said_to_be_private_to_the_service(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "site")
    if not str(tmp_path).startswith(("/tmp/", "/var/tmp/")):
        pytest.skip(f"the test's folder {tmp_path} is not under /tmp")
    assert len(plan.warnings) == 2 and "private" in plan.warnings[0]


def test_a_home_is_read_only_rather_than_hidden_when_gunwatch_lives_in_it(tmp_path: Path) -> None:
    plan = plan_in(tmp_path / "site")
    moved = ServicePlan(**{**vars(plan), "working_dir": Path("/home/ops/gunwatch")})
    assert moved.protect_home == "read-only"
    assert plan.protect_home == ("read-only" if venv_in_a_home() else "yes")


@pytest.mark.parametrize("user", ["root", "nobody", "Bad User", "x" * 40, ""])
def test_root_a_shared_user_or_an_odd_name_is_refused(tmp_path: Path, user: str) -> None:
    with pytest.raises(ValueError, match="unprivileged user of its own"):
        plan_in(tmp_path / "site", user=user)


def test_a_site_file_with_errors_is_refused_with_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        plan_in(tmp_path / "site", site=SITE.replace("folder: runs/evidence", "folder: runs/evidence, keep: 3"))
    assert [(problem.file, problem.key) for problem in error.value.problems] == [
        (str(tmp_path / "site" / "site.yaml"), "evidence.keep")]


def test_a_sqlite_file_named_by_an_unset_variable_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        plan_in(tmp_path / "site", site=SITE.replace("sqlite:///state/", "sqlite:///${STATE}/"))
    assert [problem.key for problem in error.value.problems] == ["store.url"]
