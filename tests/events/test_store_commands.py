"""`gunwatch event list` and `gunwatch camera status`: the store read from the command line."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gunwatch.cli import app
from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.events.store import EventStore

EVENT_KEYS = ["id", "camera", "zone", "state", "max_score", "first_seen", "confirmed_at", "last_seen", "closed_at",
              "track_id", "best_box", "evidence", "disposition"]


def run(*args: str | Path):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def with_password(url: str) -> str:
    """The URL with a password added; the test server trusts loopback, so it still connects."""
    return url.replace("://postgres@", "://postgres:s3cret@")


@pytest.fixture
def filled_store(store: EventStore, make_event: Callable[..., ThreatEvent], t0: float) -> EventStore:
    """Three events on two cameras (newest: gate-2), and health for two cameras."""
    store.save_event(make_event(id="lobby-1", confirmed_at=t0, state="closed", closed_at=t0 + 30))
    store.save_event(make_event(id="gate-2", camera="gate", confirmed_at=t0 + 100, max_score=0.9,
                                evidence=Evidence("e/gate.jpg", "e/gate-boxes.jpg", "e/gate.mp4")))
    store.save_event(make_event(id="lobby-3", confirmed_at=t0 + 50))
    store.upsert_camera("lobby", "rtsp://admin:hunter2@cam/lobby", "rtsp")
    store.upsert_camera("gate", "videos/gate.mp4", "file")
    store.record_health("lobby", "online", "connected", t0)
    store.record_health("lobby", "offline", "connection refused", t0 + 60)
    return store


def test_event_list_json_is_newest_first_with_local_times(filled_store: EventStore, store_url: str, t0: float) -> None:
    result = run("event", "list", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    events = json.loads(result.stdout)
    assert [e["id"] for e in events] == ["gate-2", "lobby-3", "lobby-1"]
    assert list(events[0]) == [*EVENT_KEYS, "legal_hold"] and events[0]["legal_hold"] is False
    gate = events[0]
    assert (gate["camera"], gate["state"], gate["max_score"]) == ("gate", "open", 0.9)
    assert gate["evidence"] == {"snapshot": "e/gate.jpg", "annotated": "e/gate-boxes.jpg", "clip": "e/gate.mp4"}
    first_seen = datetime.fromisoformat(gate["first_seen"])
    assert first_seen.utcoffset() == datetime.fromtimestamp(t0).astimezone().utcoffset()  # local time, with offset
    assert first_seen.timestamp() == t0 + 0.125
    assert datetime.fromisoformat(events[2]["closed_at"]).timestamp() == t0 + 30
    assert gate["disposition"] is None


def test_event_list_shows_what_people_said(filled_store: EventStore, store_url: str) -> None:
    from gunwatch.alerts.event_actions import EventActions

    EventActions(filled_store).false_alarm("lobby-3", "cli:ann", "a phone")
    EventActions(filled_store).acknowledge("gate-2", "cli:bob")
    events = json.loads(run("event", "list", "--store", store_url, "--json").stdout)
    assert [e["disposition"] for e in events] == ["acknowledged", "false_alarm", None]
    lines = run("event", "list", "--store", store_url).stderr.splitlines()
    assert lines[3].startswith("lobby-3") and " false alarm " in lines[3]


def test_event_list_text(filled_store: EventStore, store_url: str) -> None:
    result = run("event", "list", "--store", store_url)
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("3 threat event(s) in ") and lines[0].endswith(", newest first:")
    assert lines[1].split()[:5] == ["id", "camera", "state", "said", "score"]
    assert [line.split()[0] for line in lines[2:]] == ["gate-2", "lobby-3", "lobby-1"]
    assert lines[2].split()[1:5] == ["gate", "open", "-", "0.90"]  # nobody has said anything yet
    assert lines[2].endswith("e/gate.jpg e/gate-boxes.jpg e/gate.mp4")


def test_event_list_of_one_camera_and_a_limit(filled_store: EventStore, store_url: str) -> None:
    result = run("event", "list", "--store", store_url, "--camera", "lobby", "--limit", "1", "--json")
    assert result.exit_code == 0, result.output
    assert [e["id"] for e in json.loads(result.stdout)] == ["lobby-3"]
    result = run("event", "list", "--store", store_url, "--camera", "hall")
    assert "no threat events of camera hall in " in result.stderr


def test_camera_status(filled_store: EventStore, store_url: str, t0: float) -> None:
    result = run("camera", "status", "--store", store_url, "--json")
    assert result.exit_code == 0, result.output
    gate, lobby = json.loads(result.stdout)
    assert (gate["name"], gate["kind"], gate["state"], gate["recent"]) == ("gate", "file", None, [])
    assert lobby["url"] == "rtsp://admin:***@cam/lobby"
    assert (lobby["state"], lobby["reason"]) == ("offline", "connection refused")
    assert [change["state"] for change in lobby["recent"]] == ["offline", "online"]
    assert datetime.fromisoformat(lobby["state_at"]).timestamp() == t0 + 60
    text = run("camera", "status", "--store", store_url).stderr
    assert "gate: no health recorded yet (file, videos/gate.mp4)" in text
    assert "lobby: offline since " in text and "hunter2" not in text
    assert text.splitlines()[-1].split()[1:] == ["online", "connected"]


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)  # SQLite URLs hold no password
def test_the_password_of_the_store_url_is_never_printed(filled_store: EventStore, store_url: str) -> None:
    for command in (["event", "list"], ["camera", "status"]):
        result = run(*command, "--store", with_password(store_url))
        assert result.exit_code == 0, result.output
        assert "postgres:***@127.0.0.1" in result.stderr and "s3cret" not in result.output


def test_an_empty_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    EventStore(url).close()
    result = run("event", "list", "--store", url, "--json")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "[]\n", f"no threat events in {url}\n")
    result = run("camera", "status", "--store", url)
    assert (result.exit_code, result.stderr) == (0, f"no cameras in {url}\n")


@pytest.mark.parametrize("command", [["event", "list"], ["camera", "status"]])
def test_no_store_yet(command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(*command, "--json")
    assert (result.exit_code, result.stdout) == (0, "[]\n")
    assert result.stderr == "no event store at runs/gunwatch.db: nothing recorded yet (gunwatch watch creates it)\n"
    assert not (tmp_path / "runs").exists()  # reading never creates the store


def test_the_default_store_and_the_site_files_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    make_event: Callable[..., ThreatEvent]) -> None:
    monkeypatch.chdir(tmp_path)
    with EventStore("sqlite:///runs/gunwatch.db") as default, EventStore("sqlite:///site.db") as site:
        default.save_event(make_event(id="in-default"))
        site.save_event(make_event(id="in-site"))
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  lobby: {url: rtsp://cam/lobby}\nstore:\n  url: sqlite:///site.db\n")
    assert [e["id"] for e in json.loads(run("event", "list", "--json").stdout)] == ["in-default"]
    assert [e["id"] for e in json.loads(run("event", "list", "--config", site_file, "--json").stdout)] == ["in-site"]


def test_an_invalid_site_file_is_reported(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  lobby: {url: rtsp://cam/lobby}\nstore:\n  url: mysql://db/events\n")
    result = run("event", "list", "--config", site_file)
    assert result.exit_code == 2
    assert f"error: {site_file}: store.url: unsupported database mysql://" in result.stderr


def test_store_and_config_together_are_refused(tmp_path: Path) -> None:
    result = run("camera", "status", "--store", "sqlite:///x.db", "--config", tmp_path / "site.yaml")
    assert (result.exit_code, result.stderr) == (2, "error: give --store or --config, not both\n")


def test_an_unreachable_store_fails_with_its_redacted_url() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("event", "list", "--store", f"postgresql://gunwatch:s3cret@127.0.0.1:{port}/events", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"error: cannot open the event store postgresql://gunwatch:***@127.0.0.1:{port}/")
    assert "s3cret" not in result.output


def test_read_only_commands_need_no_channel_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   make_event: Callable[..., ThreatEvent]) -> None:
    """A site file whose email password comes from ${SMTP_PASSWORD}: an operator's shell without it can still
    look at the store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SMTP_PASSWORD", raising=False)
    with EventStore("sqlite:///site.db") as site:
        site.save_event(make_event(id="in-site"))
        site.upsert_camera("lobby", "rtsp://cam/lobby", "rtsp")
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  lobby: {url: rtsp://cam/lobby}\nstore:\n  url: sqlite:///site.db\n"
                         "alerts:\n  channels:\n    mail: {url: 'smtp://gunwatch:${SMTP_PASSWORD}@relay:587'}\n")
    listed = run("event", "list", "--config", site_file, "--json")
    assert listed.exit_code == 0, listed.output
    assert [e["id"] for e in json.loads(listed.stdout)] == ["in-site"]
    shown = run("event", "show", "in-site", "--config", site_file, "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == "in-site"
    status = run("camera", "status", "--config", site_file, "--json")
    assert status.exit_code == 0, status.output
    assert [c["name"] for c in json.loads(status.stdout)] == ["lobby"]
    # The full check still names the missing secret.
    checked = run("config", "check", site_file)
    assert checked.exit_code == 1 and "SMTP_PASSWORD" in checked.stderr


def test_the_stores_own_password_variable_stays_required(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUNWATCH_DB_PASSWORD", raising=False)
    site_file = tmp_path / "site.yaml"
    site_file.write_text("cameras:\n  lobby: {url: rtsp://cam/lobby}\n"
                         "store:\n  url: 'postgresql://gunwatch:${GUNWATCH_DB_PASSWORD}@db/events'\n")
    result = run("event", "list", "--config", site_file)
    assert result.exit_code == 2
    assert f"error: {site_file}: store.url: environment variable GUNWATCH_DB_PASSWORD is not set" in result.stderr
