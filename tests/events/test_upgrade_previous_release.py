"""A store written by the previous release (schema revision 0005) opens with this gunwatch: upgraded to the
newest revision, every row it held still there and read by today's code."""

from __future__ import annotations

from sqlalchemy import create_engine

from gunwatch.events.store import EventStore
from gunwatch.events.store.engine import parse_store_url
from gunwatch.events.store.migrate import current_revision, head_revision
from gunwatch.events.store.runs import RunLog
from support.old_store import PREVIOUS_RELEASE, T0, create_previous_release_store


def test_a_store_of_the_previous_release_is_upgraded_with_its_rows(store_url: str) -> None:
    create_previous_release_store(store_url, snapshot="runs/evidence/lobby/old.jpg")
    engine = create_engine(parse_store_url(store_url))
    try:
        assert current_revision(engine) == PREVIOUS_RELEASE
        with EventStore(store_url) as store:  # upgrades
            assert current_revision(engine) == head_revision() != PREVIOUS_RELEASE
            event = store.get_event("evt-old")
            assert event is not None
            assert (event.camera, event.zone, event.state, event.max_score) == ("lobby", "door", "closed", 0.91)
            assert (event.first_seen, event.confirmed_at, event.closed_at) == (T0 + 10, T0 + 11, T0 + 25)
            assert (event.best_box, event.track_id, event.evidence.snapshot) == ((1, 2, 3, 4), 4,
                                                                                "runs/evidence/lobby/old.jpg")
            assert store.dispositions(["evt-old"]) == {"evt-old": "acknowledged"}
            (camera,) = store.camera_status()
            assert (camera.name, camera.state, camera.reason) == ("lobby", "degraded", "4 fps of 10")
            assert [(change.state, change.at) for change in camera.recent] == [("degraded", T0 + 50), ("online", T0)]
            (run,) = RunLog(store).latest()
            assert (run.host, run.pid, run.ending, run.stopped_at) == ("host-a", 7, "stopped", T0 + 100)
    finally:
        engine.dispose()


def test_commands_other_than_watch_refuse_an_old_store_and_leave_it_as_it_was(store_url: str) -> None:
    """`event list`, `user add`, `prune`... never upgrade on the side: only watch and serve do, after a backup."""
    from typer.testing import CliRunner

    from gunwatch.cli import app

    create_previous_release_store(store_url)
    listed = CliRunner().invoke(app, ["event", "list", "--store", store_url])
    assert listed.exit_code == 2
    assert f"at schema revision {PREVIOUS_RELEASE}" in listed.output and "gunwatch backup" in listed.output
    added = CliRunner().invoke(app, ["user", "add", "ortiz", "--role", "operator", "--store", store_url,
                                     "--password-stdin"], input="correct horse battery\n")
    assert added.exit_code != 0 and "gunwatch backup" in added.output
    engine = create_engine(parse_store_url(store_url))
    try:
        assert current_revision(engine) == PREVIOUS_RELEASE
    finally:
        engine.dispose()
