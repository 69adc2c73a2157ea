"""Threat events are values: a change is a new version, and no holder of a version can change it."""

from __future__ import annotations

import dataclasses

import pytest

from gunwatch.events.model import Evidence, ThreatEvent


def test_an_event_and_its_evidence_cannot_be_changed_in_place() -> None:
    event = ThreatEvent("lobby", "open", 1.0, 1.4, 1.4, 0.8, [10, 20, 30, 40], boxes=[[10, 20, 30, 40]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.state = "closed"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.evidence.clip = "a.mp4"  # type: ignore[misc]
    # Boxes given as lists (the store's JSON) are kept as tuples: nothing inside a version can change either.
    assert event.best_box == (10, 20, 30, 40) and event.boxes == ((10, 20, 30, 40),)
    closed = dataclasses.replace(event, state="closed", closed_at=12.0)
    assert (event.state, closed.state, closed.id) == ("open", "closed", event.id)


def test_newer_files_replace_older_ones_and_the_rest_are_kept() -> None:
    snapshot = Evidence(snapshot="a.jpg", annotated="a-boxes.jpg")
    assert snapshot.merged(Evidence(clip="a.mp4")) == Evidence("a.jpg", "a-boxes.jpg", "a.mp4")
    assert snapshot.merged(Evidence(snapshot="b.jpg")) == Evidence("b.jpg", "a-boxes.jpg", None)
    assert snapshot.merged(Evidence()) == snapshot
