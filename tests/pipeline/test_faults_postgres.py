"""Fault: the PostgreSQL server restarted in the middle of a run (issue 12 item 5).

Real parts: the session's PostgreSQL server (tests/support/postgres.py), stopped (`pg_ctl -m immediate`: a
crash, connections cut) and started again on its port; file cameras looping clips; the watch service with its
store and evidence writers. The model is a stand-in that sees a handgun in the middle of every picture while
the test holds `gun` set, so the test decides when an event opens and closes: both happen while the database is
down. What must go on is waited for; the bound on each wait is reached only when the code is wrong.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gunwatch.config import parse_site_config
from gunwatch.events.model import ThreatEvent
from gunwatch.events.store import EventStore
from gunwatch.pipeline.analysis import FrameAnalyzer
from gunwatch.pipeline.watch import WatchService
from support.postgres import PostgresServer
from support.stand_in import GunWhileHeld, grey_clip
from support.waiting import wait_until

WAIT_S = 60.0
CAMERAS = ("door", "hall")


def analysed(service: WatchService) -> dict[str, int]:
    return {loop.name: loop.counters.analysed for loop in service.loops}


def test_a_postgres_restart_mid_run_loses_no_event_and_analysis_goes_on(
    tmp_path: Path, postgres_server: PostgresServer, postgres_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="gunwatch.pipeline.store_writer")
    cameras = "\n".join(f'  {name}: {{url: "{grey_clip(tmp_path / f"{name}.mp4", 60 + 40 * i)}", loop: true, '
                        f'detect: {{fps: 5}}}}' for i, name in enumerate(CAMERAS))
    site = parse_site_config(f"""
cameras:
{cameras}
motion: {{enabled: false}}
confirmation: {{close_after_s: 0.5}}
evidence: {{folder: "{tmp_path / 'evidence'}", pre_roll_s: 1, post_roll_s: 1}}
store: {{url: "{postgres_url}"}}
""")
    model = GunWhileHeld()
    alerted: list[ThreatEvent] = []  # what the alerts are handed (with its snapshot), database or not
    store = EventStore(postgres_url)
    service = WatchService(site, FrameAnalyzer(model, 64), store, on_evidence=alerted.append).start()
    down = False
    try:
        assert wait_until(lambda: {c.name for c in store.camera_status()} == set(CAMERAS), WAIT_S)

        postgres_server.crash()  # immediate: like a crash, every connection cut, what was committed kept
        down = True
        before = analysed(service)
        model.gun.set()
        # Both cameras' events, before the gun goes: a camera behind the other (a loaded machine) must not be
        # left without one.
        both_alerted = wait_until(lambda: {e.camera for e in alerted} == set(CAMERAS), WAIT_S)
        assert both_alerted, "no alert while the store is down"
        assert wait_until(lambda: service.store_writer.store_down, WAIT_S)
        model.gun.clear()  # the events close while the database is still down
        assert wait_until(lambda: all(loop.confirmer.event is None for loop in service.loops), WAIT_S)
        # Every camera went on analysing while its writes could not land.
        assert wait_until(lambda: all(analysed(service)[c] >= before[c] + 10 for c in CAMERAS), WAIT_S)
        waiting = service.store_writer.stats().waiting
        assert waiting >= 1 and service.store_writer.stats().refused == 0

        assert postgres_server.start(), postgres_server.log_tail()
        down = False
        made = {event.id for event in alerted}
        assert made and {event.camera for event in alerted} == set(CAMERAS)

        def all_landed_closed() -> bool:
            stored = {event.id: event for event in store.list_events(limit=100)}
            return made <= stored.keys() and all(stored[i].state == "closed" for i in made)

        assert wait_until(all_landed_closed, WAIT_S), f"events lost: {made} vs {store.list_events()}"
        assert wait_until(lambda: not service.store_writer.store_down, WAIT_S)
    finally:
        if down:
            postgres_server.start()  # the server is the session's: later tests need it
        service.stop()
        service.close()
        store.close()
    messages = [record.getMessage() for record in caplog.records]
    assert any("the store is unavailable" in m and "writes are kept and tried again" in m for m in messages)
    assert any("the store is back" in m for m in messages)
    # Each stored event kept its snapshot, written while the database was down.
    for event_id in made:
        stored = EventStore(postgres_url).get_event(event_id)
        assert stored is not None and stored.evidence.snapshot and Path(stored.evidence.snapshot).is_file()
