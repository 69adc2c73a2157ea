"""The tracker: stable ids across frames, two-stage association, lost tracks, and the greedy matcher."""

from __future__ import annotations

import numpy as np
import pytest

from gunwatch.inference.detections import Detections
from gunwatch.tracking.tracker import GunTracker, TrackerSettings, greedy_match

STEP_S = 0.2  # 5 analysed frames a second


def boxes(*scored: tuple[tuple[float, float, float, float], float]) -> Detections:
    return Detections(
        np.array([box for box, _ in scored], np.float32).reshape(-1, 4),
        np.array([score for _, score in scored], np.float32),
        np.ones(len(scored), np.int64),
    )


def square(x: float, y: float, side: float = 60) -> tuple[float, float, float, float]:
    return x, y, x + side, y + side


def ids(tracker: GunTracker, detections: Detections, now: float) -> list[int]:
    return [sighting.track_id for sighting in tracker.update(detections, now)]


def test_greedy_match_takes_the_best_pairs_first() -> None:
    iou = np.array([[0.9, 0.6], [0.8, 0.1]])
    assert greedy_match(iou, 0.3) == [(0, 0)]  # row 1's only good column is taken; 0.1 is below 0.3
    assert greedy_match(np.array([[0.5, 0.6], [0.7, 0.2]]), 0.3) == [(1, 0), (0, 1)]
    assert greedy_match(np.zeros((0, 3)), 0.3) == []


def test_a_moving_gun_keeps_its_id() -> None:
    tracker = GunTracker()
    seen = [ids(tracker, boxes((square(100 + 20 * i, 200 + 5 * i), 0.9)), i * STEP_S) for i in range(15)]
    assert seen == [[1]] * 15


def test_a_missed_frame_is_bridged_by_the_motion_model() -> None:
    # 30 px a frame on a 60 px box; after a missed frame the gun is 60 px on: no overlap with its last box.
    tracker = GunTracker()
    assert ids(tracker, boxes((square(100, 100), 0.9)), 0.0) == [1]
    assert ids(tracker, boxes((square(130, 100), 0.9)), 0.2) == [1]
    assert ids(tracker, boxes(), 0.4) == []
    assert ids(tracker, boxes((square(190, 100), 0.9)), 0.6) == [1]


def test_two_guns_far_apart_get_two_tracks() -> None:
    tracker = GunTracker()
    for i in range(5):
        frame = boxes((square(50 + 10 * i, 50), 0.9), (square(500 - 10 * i, 300), 0.8))
        assert ids(tracker, frame, i * STEP_S) == [1, 2]
    assert len(tracker.tracks) == 2


@pytest.mark.parametrize("widths_per_frame", [1.1, 1.3, 1.5])
def test_a_small_gun_moving_more_than_its_width_a_frame_keeps_its_id(widths_per_frame: float) -> None:
    # A 30 px gun walked across a far 1080p view: consecutive boxes do not overlap at all.
    tracker = GunTracker()
    step = 30 * widths_per_frame
    seen = [ids(tracker, boxes((square(100 + step * i, 500, side=30), 0.9)), i * STEP_S) for i in range(8)]
    assert seen == [[1]] * 8
    # Without the buffered stage, each frame would start a new track (and confirmation, per track, never fires).
    plain = GunTracker(TrackerSettings(buffer=0.0))
    assert [ids(plain, boxes((square(100 + step * i, 500, side=30), 0.9)), i * STEP_S) for i in range(3)] == [
        [1], [2], [3]]


def test_the_buffer_joins_only_what_the_plain_match_left_and_only_nearby() -> None:
    tracker = GunTracker()
    assert ids(tracker, boxes((square(100, 100, side=30), 0.9), (square(400, 100, side=30), 0.9)), 0.0) == [1, 2]
    # Gun 1 barely moved (plain match); a new detection 45 px right of it is 1.5 widths off gun 1's old place
    # but gun 1 is taken, and gun 2 is 255 px away: it starts a track of its own, gun 2 carries on unmatched.
    assert ids(tracker, boxes((square(102, 100, side=30), 0.9), (square(145, 100, side=30), 0.9)), 0.2) == [1, 3]
    # Something 6 widths from every track is not the same gun.
    assert ids(tracker, boxes((square(102 + 180, 300, side=30), 0.9)), 0.4) == [4]


def test_a_weak_detection_keeps_a_track_but_never_starts_one() -> None:
    tracker = GunTracker(TrackerSettings(high_score=0.6, low_score=0.1))
    assert ids(tracker, boxes((square(100, 100), 0.2)), 0.0) == []  # too weak to start a track
    assert ids(tracker, boxes((square(100, 100), 0.9)), 0.2) == [1]
    assert ids(tracker, boxes((square(105, 100), 0.3)), 0.4) == [1]  # stage 2 keeps it
    assert ids(tracker, boxes((square(110, 100), 0.9)), 0.6) == [1]
    assert ids(tracker, boxes((square(400, 100), 0.05)), 0.8) == []  # below low_score: ignored
    assert tracker.track_ids == {1}


def test_a_weak_detection_does_not_revive_a_lost_track() -> None:
    # ByteTrack's rule: the second stage matches only tracks seen in the previous frame.
    tracker = GunTracker(TrackerSettings(high_score=0.6))
    ids(tracker, boxes((square(100, 100), 0.9)), 0.0)
    ids(tracker, boxes(), 0.2)
    assert ids(tracker, boxes((square(100, 100), 0.3)), 0.4) == []
    assert ids(tracker, boxes((square(100, 100), 0.9)), 0.6) == [1]  # a confident one does


def test_a_track_lost_too_many_frames_is_dropped() -> None:
    tracker = GunTracker(TrackerSettings(max_lost_frames=2))
    ids(tracker, boxes((square(100, 100), 0.9)), 0.0)
    ids(tracker, boxes(), 0.2)
    ids(tracker, boxes(), 0.4)
    assert tracker.track_ids == {1}  # lost 2 frames: still kept
    ids(tracker, boxes(), 0.6)
    assert tracker.track_ids == set()
    assert ids(tracker, boxes((square(100, 100), 0.9)), 0.8) == [2]  # the same place, a new identity


def test_a_track_unseen_too_long_is_dropped_even_without_frames() -> None:
    # A camera offline for a minute: no frames counted as lost, but the old track must not claim a new gun.
    tracker = GunTracker(TrackerSettings(max_lost_s=5.0))
    ids(tracker, boxes((square(100, 100), 0.9)), 0.0)
    assert ids(tracker, boxes((square(100, 100), 0.9)), 60.0) == [2]


@pytest.mark.parametrize(
    "settings",
    [
        {"high_score": 0.2, "low_score": 0.3},
        {"low_score": -0.1},
        {"match_iou": 0.0},
        {"max_lost_frames": -1},
        {"buffer": -0.5},
    ],
)
def test_bad_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        TrackerSettings(**settings)
