"""Events handed to the alerts: with their snapshot when it is written in time, without it at the deadline and
again with it once written, always in that order; never twice without it."""

from __future__ import annotations

import dataclasses
import threading
import time

from gunwatch.events.model import Evidence, ThreatEvent
from gunwatch.pipeline.alert_hand_on import AlertHandOn
from support.waiting import wait_until

WAIT_S = 30.0


def event(camera: str = "lobby") -> ThreatEvent:
    now = time.time()
    return ThreatEvent(camera=camera, state="open", first_seen=now, confirmed_at=now, last_seen=now, max_score=0.9,
                       best_box=(1.0, 2.0, 3.0, 4.0))


def pictured(opened: ThreatEvent) -> ThreatEvent:
    return dataclasses.replace(opened, evidence=Evidence(snapshot=f"/evidence/{opened.id}.jpg"))


class Heard:
    def __init__(self) -> None:
        self.events: list[ThreatEvent] = []
        self.changed = threading.Condition()

    def __call__(self, heard: ThreatEvent) -> None:
        with self.changed:
            self.events.append(heard)
            self.changed.notify_all()

    def snapshots(self) -> list[str | None]:
        with self.changed:
            return [e.evidence.snapshot for e in self.events]


def test_a_snapshot_written_in_time_goes_once_with_it() -> None:
    heard = Heard()
    hand_on = AlertHandOn(heard, wait_s=WAIT_S).start()  # a deadline the test never reaches
    try:
        opened = event()
        hand_on.expect(1, opened)
        hand_on.written(1, pictured(opened))
        assert hand_on.wait_idle(WAIT_S)
        assert heard.snapshots() == [f"/evidence/{opened.id}.jpg"]
    finally:
        hand_on.close(WAIT_S)
    assert heard.snapshots() == [f"/evidence/{opened.id}.jpg"]  # closing hands on nothing more


def test_a_late_snapshot_goes_without_it_at_the_deadline_then_with_it_and_a_failed_one_not_twice() -> None:
    heard = Heard()
    hand_on = AlertHandOn(heard, wait_s=0.0).start()
    try:
        late, failed = event("lobby"), event("yard")
        hand_on.expect(1, late)
        hand_on.expect(2, failed)
        assert wait_until(lambda: len(heard.snapshots()) == 2, WAIT_S)  # both went at the deadline, without
        assert heard.snapshots() == [None, None]
        hand_on.written(1, pictured(late))  # the disk answers at last
        hand_on.failed(2, failed)  # the disk was full: it went already, it does not go again
        assert hand_on.wait_idle(WAIT_S)
        assert [(e.camera, e.evidence.snapshot) for e in heard.events] == [
            ("lobby", None), ("yard", None), ("lobby", f"/evidence/{late.id}.jpg")]
    finally:
        hand_on.close(WAIT_S)


def test_closing_hands_on_what_still_waits_for_its_snapshot_without_it() -> None:
    heard = Heard()
    hand_on = AlertHandOn(heard, wait_s=WAIT_S).start()
    opened = event()
    hand_on.expect(1, opened)
    hand_on.close(WAIT_S)
    assert heard.snapshots() == [None]
