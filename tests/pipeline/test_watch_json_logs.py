"""`gunwatch watch --log-format json`, as the service runs it: every line on stderr is a JSON log record
(the cameras' health, the event, the final status table), with the camera and event as fields of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "samples" / "demo" / "lobby.mp4"


def gunwatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gunwatch.cli", *args], capture_output=True, text=True, timeout=120)


def records(stderr: str) -> list[dict[str, object]]:
    """Every line parsed: a line that is not a JSON object fails the test here, with the line."""
    parsed = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            pytest.fail(f"a line on stderr is not JSON: {line!r}")
        assert isinstance(record, dict) and {"time", "level", "logger", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed


@pytest.mark.slow
def test_a_watch_logs_only_json_lines_with_camera_and_event_fields(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        f"cameras:\n  lobby: {{url: \"{DEMO}\"}}\n"
        "confirmation: {close_after_s: 1.5}\n"
        f"evidence: {{folder: \"{tmp_path / 'evidence'}\"}}\n"
        f"store: {{url: \"sqlite:///{tmp_path / 'events.db'}\"}}\n"
    )
    result = gunwatch("watch", "--config", str(site), "--until-done", "--status-every", "0", "--log-format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == ""  # the events are log records too: one stream for the journal
    logged = records(result.stderr)
    online = next(r for r in logged if r.get("state") == "online")
    assert online["camera"] == "lobby" and online["level"] == "INFO"
    events = [r for r in logged if "event" in r]
    assert events[0]["state"] == "open" and events[-1]["state"] == "closed"
    assert {r["camera"] for r in events} == {"lobby"} and len({r["event"] for r in events}) == 1
    (status,) = [str(r["message"]) for r in logged if str(r["message"]).startswith("status:\n")]
    assert "lobby" in status  # the final table, one record


def test_a_bad_site_file_is_refused_in_json_with_the_file_and_key(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("cameras:\n  lobby: {url: a.mp4, detect: {fps: 0}}\n")
    result = gunwatch("watch", "--config", str(site), "--log-format", "json")
    assert result.returncode == 1
    (record,) = records(result.stderr)
    assert (record["level"], record["file"], record["key"]) == ("ERROR", str(site), "cameras.lobby.detect.fps")


def test_an_unknown_log_format_is_refused() -> None:
    result = gunwatch("watch", "--config", "site.yaml", "--log-format", "xml")
    assert result.returncode == 2 and "--log-format xml: choose text or json" in result.stderr
