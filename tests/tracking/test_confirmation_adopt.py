"""Adopting an event opened elsewhere (a camera moved to another cluster node): it continues under its id, a
gun confirmed here joins it, and without one it closes close_after_s after the adoption."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pytest

from gunwatch.config import Camera
from gunwatch.config.sections import ConfirmationSettings
from gunwatch.events.model import ThreatEvent
from gunwatch.inference.detections import Detections
from gunwatch.tracking.confirmation import ThreatConfirmer

ADOPTED_AT = 1000.0
CLOSE_AFTER_S = 10.0
SIZE, STEP_S, HANDGUN = (640, 480), 0.2, 1
NOTHING = Detections()


def gun(score: float) -> Detections:
    return Detections(np.array([[100.0, 100.0, 160.0, 140.0]], np.float32), np.array([score], np.float32),
                      np.array([HANDGUN], np.int64))


def confirmer(close_after_s: float = CLOSE_AFTER_S) -> ThreatConfirmer:
    settings = ConfirmationSettings(window=5, min_hits=3, quick_margin=None, close_after_s=close_after_s)
    return ThreatConfirmer("lobby", Camera(url="clip.mp4"), settings, model_threshold=0.5)


def feed(confirmer: ThreatConfirmer, frames: Sequence[Detections], start: float) -> list[list[ThreatEvent]]:
    """The changes after each frame; frame i is taken at start + i * STEP_S."""
    return [confirmer.update(start + i * STEP_S, SIZE, detections) for i, detections in enumerate(frames)]


def left_open(score: float = 0.6, last_seen: float = ADOPTED_AT - 7) -> ThreatEvent:
    """An event its previous holder left open: its gun last seen (as stored) a while before the adoption."""
    return ThreatEvent(camera="lobby", state="updated", first_seen=last_seen - 5, confirmed_at=last_seen - 4,
                       last_seen=last_seen, max_score=score, best_box=(1.0, 2.0, 3.0, 4.0))


def test_an_adopted_event_without_the_gun_closes_close_after_s_after_the_adoption() -> None:
    adopting, event = confirmer(close_after_s=CLOSE_AFTER_S), left_open()
    adopting.adopt(event, ADOPTED_AT)
    assert adopting.event == event
    # Past close_after_s from its stored last sighting, but not from the adoption: still open.
    assert adopting.tick(ADOPTED_AT + CLOSE_AFTER_S - 0.1) == []
    [closed] = adopting.tick(ADOPTED_AT + CLOSE_AFTER_S)
    assert closed == dataclasses.replace(event, state="closed", closed_at=ADOPTED_AT + CLOSE_AFTER_S)
    assert adopting.event is None


def test_a_gun_confirmed_after_the_adoption_continues_the_same_event() -> None:
    adopting, event = confirmer(close_after_s=CLOSE_AFTER_S), left_open(score=0.6)
    adopting.adopt(event, ADOPTED_AT)
    changes = [change for step in feed(adopting, [gun(0.8)] * 3 + [NOTHING], start=ADOPTED_AT + 1)
               for change in step]
    [updated] = changes  # no "open": the gun joined the adopted event, with its higher score
    assert (updated.id, updated.state, updated.max_score) == (event.id, "updated", pytest.approx(0.8))
    assert updated.last_seen == ADOPTED_AT + 1 + 2 * 0.2
    # Counted from the last sighting here now, which is later than the adoption.
    assert adopting.tick(updated.last_seen + CLOSE_AFTER_S - 0.1) == []
    [closed] = adopting.tick(updated.last_seen + CLOSE_AFTER_S)
    assert (closed.id, closed.state) == (event.id, "closed")
    # A later gun opens a new event: the adopted one is over.
    [[], [], [opened]] = feed(adopting, [gun(0.8)] * 3, start=closed.closed_at + 1)
    assert opened.state == "open" and opened.id != event.id


def test_only_an_open_event_of_the_same_camera_with_none_open_here_is_adopted() -> None:
    adopting = confirmer()
    with pytest.raises(ValueError, match="camera lobby: cannot adopt closed event"):
        adopting.adopt(dataclasses.replace(left_open(), state="closed", closed_at=ADOPTED_AT), ADOPTED_AT)
    with pytest.raises(ValueError, match="of camera hall"):
        adopting.adopt(dataclasses.replace(left_open(), camera="hall"), ADOPTED_AT)
    adopting.adopt(left_open(), ADOPTED_AT)
    with pytest.raises(ValueError, match="is open"):
        adopting.adopt(left_open(), ADOPTED_AT)
