"""`gunwatch config check`: a summary and exit 0, or every problem and exit 1; passwords never printed."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gunwatch.cli import app

EXAMPLE = Path(__file__).resolve().parents[2] / "configs" / "site.example.yaml"
# The example's variables, fixed whatever the machine running the tests has set.
EXAMPLE_ENV: dict[str, str | None] = {
    "CAMERA_PASSWORD": "hunter2", "CAMERA_USER": None, "GUNWATCH_DB": None, "SMTP_PASSWORD": "s3cret",
    "TWILIO_SID": "AC123", "TWILIO_TOKEN": "tok", "WEBHOOK_SECRET": "hook-key", "DOORS_SECRET": "doors-key",
    "MQTT_USER": None, "MQTT_PASSWORD": "mqtt-pass",
}


def run(*args: str | Path, env: dict[str, str | None] | None = None):
    # This click (vendored by typer) keeps stdout and stderr apart on the Result: .stdout / .stderr.
    return CliRunner().invoke(app, [str(arg) for arg in args], env=env)


def test_check_the_example() -> None:
    result = run("config", "check", EXAMPLE, env=EXAMPLE_ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == f"{EXAMPLE}: valid, 2 cameras, 2 enabled"
    assert "rtsp://admin:***@192.168.1.20:554/Streaming/Channels/101" in lines[1]
    assert "hunter2" not in result.output


def test_check_json() -> None:
    result = run("config", "check", EXAMPLE, "--json", env=EXAMPLE_ENV)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert list(payload) == ["valid", "file", "cameras", "model", "store", "warnings", "channels", "protocols"]
    assert payload["channels"][1:3] == ["sms: apprise twilio://…", "ops_webhook: webhook https://ops.school.org/…"]
    assert "AC123" not in result.stdout  # the Twilio account id in the apprise URL
    assert "s3cret" not in result.stdout
    assert payload["valid"] is True
    assert payload["cameras"][0] == {
        "name": "lobby",
        "kind": "rtsp",
        "url": "rtsp://admin:***@192.168.1.20:554/Streaming/Channels/101",
        "enabled": True,
        "detect_fps": 5.0,
        "zones": 2,
        "masks": 1,
    }
    assert payload["store"] == "sqlite:///runs/gunwatch.db"
    assert "hunter2" not in result.output


def test_check_lists_every_problem_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("cameras:\n  lobby:\n    url: rtsp://admin:hunter2@cam/s\n    detect: {fps: 0, fsp: 2}\n")
    result = run("config", "check", path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path}: cameras.lobby.detect.fps: must be > 0, got 0",
        f"error: {path}: cameras.lobby.detect.fsp: unknown key (did you mean 'fps'?)",
    ]


def test_check_json_of_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("cameras:\n  lobby: {url: a.mp4\n")
    result = run("config", "check", path, "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "valid": False,
        "file": str(path),
        "errors": [
            {"file": str(path), "line": 3, "key": None, "message": "invalid YAML: expected ',' or '}', but got "
             "'<stream end>' (column 1), while parsing a flow mapping that starts on line 2"},
        ],
    }


def test_check_names_an_unset_variable() -> None:
    result = run("config", "check", EXAMPLE, env={**EXAMPLE_ENV, "CAMERA_PASSWORD": None})
    assert result.exit_code == 1
    assert "cameras.lobby.url: environment variable CAMERA_PASSWORD is not set" in result.stderr
