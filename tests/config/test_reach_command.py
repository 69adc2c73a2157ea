"""`gunwatch config check --reach`: every enabled camera and channel tried, a table of results, exit 1 when
something cannot be reached; real receivers on loopback, a real video file, a missing one, a closed port."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from gunwatch.cli import app
from support.http_receiver import HttpReceiver, http_receiver_fixture  # noqa: F401 - `http_receiver`
from support.smtp_server import SmtpServer, smtp_server_fixture  # noqa: F401 - `smtp_server`
from support.videos import write_video


def write_site(path: Path, cameras: dict[str, dict[str, object]], channels: dict[str, dict[str, object]]) -> Path:
    site = {"cameras": cameras, "alerts": {"channels": {name: {"timeout_s": 5, **c} for name, c in channels.items()}}}
    path.write_text(yaml.safe_dump(site, sort_keys=False))
    return path


def run(*args: str | Path):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def test_everything_reachable(tmp_path: Path, smtp_server: SmtpServer, http_receiver: HttpReceiver) -> None:
    clip = write_video(tmp_path / "lobby.mp4", frames=5)
    cameras = {"lobby": {"url": str(clip)}, "old": {"url": "gone.mp4", "enabled": False}}
    site = write_site(tmp_path / "site.yaml", cameras,
                      {"mail": {"url": smtp_server.url}, "hook": {"url": http_receiver.url(), "signed": False}})
    result = run("config", "check", site, "--reach", "--timeout", "30")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "trying 1 camera(s) and 2 channel(s)..." in lines
    assert lines[-1] == "all 3 checked reachable"
    assert not any(line.startswith("camera  old") for line in lines)  # disabled: not opened
    assert smtp_server.mails == [] and http_receiver.requests == []


def test_what_cannot_be_reached_is_named_and_the_rest_still_checked(
        tmp_path: Path, smtp_server: SmtpServer, http_receiver: HttpReceiver, refused_port: int) -> None:
    clip = write_video(tmp_path / "lobby.mp4", frames=5)
    port = refused_port
    site = write_site(
        tmp_path / "site.yaml",
        {"gate": {"url": f"rtsp://admin:hunter2@127.0.0.1:{port}/Streaming/101"},
         "yard": {"url": str(tmp_path / "missing.mp4")},
         "lobby": {"url": str(clip)}},
        {"mail": {"url": smtp_server.url}, "down": {"url": f"http://127.0.0.1:{port}/hook", "signed": False},
         "sms": {"url": "json://127.0.0.1:9/notify"}})
    result = run("config", "check", site, "--reach", "--timeout", "30", "--json")
    assert result.exit_code == 1, result.output
    reach = {(r["what"], r["name"]): r for r in json.loads(result.stdout)["reach"]}
    assert {key: r["ok"] for key, r in reach.items()} == {
        ("camera", "gate"): False, ("camera", "yard"): False, ("camera", "lobby"): True,
        ("channel", "mail"): True, ("channel", "down"): False, ("channel", "sms"): None}
    assert reach[("camera", "gate")]["detail"] == "connection refused"
    assert reach[("camera", "yard")]["detail"] == "no such file or directory"
    table = result.stderr
    assert "hunter2" not in result.output and f"rtsp://admin:***@127.0.0.1:{port}" in table
    gate_line = next(line for line in table.splitlines() if line.startswith("camera") and " gate " in line)
    assert "UNREACHABLE" in gate_line and "connection refused" in gate_line
    assert table.splitlines()[-1] == "3 of 6 unreachable: camera gate, camera yard, channel down"
    assert "not checked" in next(line for line in table.splitlines() if " sms " in line)


def test_without_reach_nothing_is_tried(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site.yaml", {"yard": {"url": str(tmp_path / "missing.mp4")}}, {})
    result = run("config", "check", site)
    assert result.exit_code == 0 and "trying" not in result.stderr
