"""Confirmation: N of M frames (or fewer, well over the threshold) opens one event per camera; updates on a higher
score; closes after a silence."""

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

SIZE = (640, 480)
STEP_S = 0.2  # 5 analysed frames a second
THRESHOLD = 0.5
GUN = (100.0, 100.0, 160.0, 140.0)
FAR_GUN = (500.0, 350.0, 560.0, 390.0)
PERSON, HANDGUN = 0, 1

Box = tuple[float, float, float, float]


def frame(*guns: tuple[Box, float], people: Sequence[Box] = ()) -> Detections:
    boxes = [box for box, _ in guns] + list(people)
    return Detections(
        np.array(boxes, np.float32).reshape(-1, 4),
        np.array([score for _, score in guns] + [0.95] * len(people), np.float32),
        np.array([HANDGUN] * len(guns) + [PERSON] * len(people), np.int64),
    )


def gun(score: float = 0.9, box: Box = GUN) -> Detections:
    return frame((box, score))


NOTHING = frame()


def confirmer(camera: Camera | None = None, close_after_s: float = 10.0, quick_margin: float | None = None,
              **detect: object) -> ThreatConfirmer:
    """3 of 5 at the threshold; the quick lane only where a test gives its margin (2 of 3 frames that far over)."""
    camera = camera or Camera(url="clip.mp4", detect=detect)
    settings = ConfirmationSettings(window=5, min_hits=3, quick_margin=quick_margin, quick_window=3, quick_hits=2,
                                    close_after_s=close_after_s)
    return ThreatConfirmer("lobby", camera, settings, model_threshold=THRESHOLD)


def feed(confirmer: ThreatConfirmer, frames: Sequence[Detections], start: float = 0.0) -> list[list[ThreatEvent]]:
    """The changes after each frame; frame i is taken at start + i * STEP_S with pts i / 5."""
    return [
        confirmer.update(start + i * STEP_S, SIZE, detections, pts=i / 5 + 100) for i, detections in enumerate(frames)
    ]


def states(changes: list[list[ThreatEvent]]) -> list[list[str]]:
    return [[event.state for event in step] for step in changes]


def test_three_of_five_frames_open_one_event_at_the_third_hit() -> None:
    changes = feed(confirmer(), [gun(0.8), NOTHING, gun(0.9), NOTHING, gun(0.7)])
    assert states(changes) == [[], [], [], [], ["open"]]
    [event] = changes[4]
    assert (event.camera, event.track_id, event.zone) == ("lobby", 1, None)
    assert event.first_seen == 0.0  # the first frame that held the gun, not the confirming one
    assert event.first_pts == 100.0
    assert event.confirmed_at == event.last_seen == pytest.approx(0.8)
    assert event.max_score == pytest.approx(0.7)  # the confirming frame's, which the evidence has in hand
    assert event.best_box == GUN
    assert event.boxes == (GUN,)
    assert event.closed_at is None


def test_three_hits_in_a_row_open_on_the_third() -> None:
    assert states(feed(confirmer(), [gun(), gun(), gun(), gun(), gun()])) == [[], [], ["open"], [], []]


def test_two_of_five_never_opens() -> None:
    pattern = [gun(), NOTHING, NOTHING, gun(), NOTHING] * 4
    assert all(step == [] for step in feed(confirmer(), pattern))


def test_a_one_frame_flicker_never_opens() -> None:
    # A phone scored as a gun once, among frames of people only.
    person = (300.0, 50.0, 420.0, 400.0)
    frames = [frame(people=[person])] * 3 + [frame((GUN, 0.95), people=[person])] + [frame(people=[person])] * 6
    c = confirmer()
    assert all(step == [] for step in feed(c, frames))
    assert c.event is None


def test_people_are_not_guns() -> None:
    person = (300.0, 50.0, 420.0, 400.0)
    assert all(step == [] for step in feed(confirmer(), [frame(people=[person])] * 10))


def test_scores_just_below_the_threshold_never_confirm() -> None:
    assert all(step == [] for step in feed(confirmer(), [gun(THRESHOLD - 0.001)] * 10))
    assert states(feed(confirmer(), [gun(THRESHOLD)] * 3))[-1] == ["open"]  # "at or above"


def test_the_camera_threshold_overrides_the_model_threshold() -> None:
    assert all(step == [] for step in feed(confirmer(threshold=0.8), [gun(0.75)] * 10))
    assert states(feed(confirmer(threshold=0.3), [gun(0.35)] * 3))[-1] == ["open"]


def test_a_weak_frame_keeps_the_track_but_is_not_a_hit() -> None:
    # 0.3 is under the threshold: the track survives it (ByteTrack's second stage) yet it does not count.
    c = confirmer()
    changes = feed(c, [gun(0.9), gun(0.3), gun(0.9), gun(0.3), gun(0.9)])
    assert states(changes) == [[], [], [], [], ["open"]]
    assert changes[4][0].track_id == 1


def test_a_gun_moving_across_the_frame_keeps_its_track() -> None:
    frames = [gun(box=(100.0 + 25 * i, 100.0 + 5 * i, 160.0 + 25 * i, 140.0 + 5 * i)) for i in range(12)]
    c = confirmer()
    changes = feed(c, frames)
    assert states(changes)[2] == ["open"]
    assert changes[2][0].track_id == 1
    assert c.tracker.track_ids == {1}


def test_a_small_gun_carried_past_at_walking_pace_is_confirmed() -> None:
    # A gun 24 px wide on a far camera, carried at walking pace: 34 px between frames analysed at 5 fps, so
    # consecutive boxes never overlap. Confirmation counts hits per track: the tracker must keep it one track.
    frames = [gun(box=(40.0 + 34 * i, 300.0, 64.0 + 34 * i, 316.0)) for i in range(8)]
    c = confirmer()
    changes = feed(c, frames)
    assert states(changes)[2] == ["open"]
    assert c.tracker.track_ids == {1}


def test_two_guns_far_apart_are_two_tracks_in_one_event() -> None:
    c = confirmer()
    changes = feed(c, [frame((GUN, 0.8), (FAR_GUN, 0.6))] * 3 + [frame((GUN, 0.8), (FAR_GUN, 0.95))])
    assert c.tracker.track_ids == {1, 2}
    [opened] = changes[2]
    assert opened.track_id == 1  # both confirmed at once: the higher-scoring one leads
    assert opened.boxes == (GUN, FAR_GUN)
    [updated] = changes[3]  # the second gun's higher score updates the same event
    assert (updated.state, updated.id, updated.max_score) == ("updated", opened.id, pytest.approx(0.95))
    assert updated.best_box == FAR_GUN


def test_a_second_gun_confirmed_later_joins_the_open_event() -> None:
    c = confirmer(close_after_s=1.0)
    frames = [gun(0.9)] * 3 + [frame((FAR_GUN, 0.7))] * 6
    changes = feed(c, frames)
    assert sum(len(step) for step in changes) == 1  # no second event
    # The far gun confirmed at frame 5 keeps the event alive though the first gun is gone.
    assert c.event is not None
    assert c.event.last_seen == pytest.approx(8 * STEP_S)


def test_an_unconfirmed_gun_does_not_keep_the_event_alive() -> None:
    c = confirmer(close_after_s=1.0)
    flickers = [frame((FAR_GUN, 0.9)) if i % 3 == 0 else NOTHING for i in range(10)]
    changes = feed(c, [gun()] * 3 + flickers)
    closed = [event for step in changes for event in step if event.state == "closed"]
    assert len(closed) == 1
    assert closed[0].last_seen == pytest.approx(2 * STEP_S)


def test_a_gun_inside_a_mask_never_counts() -> None:
    # GUN's centre (130, 120) is in the mask; FAR_GUN's is not.
    camera = Camera(url="clip.mp4", masks=[[(0.1, 0.1), (0.3, 0.1), (0.3, 0.4), (0.1, 0.4)]])
    assert all(step == [] for step in feed(confirmer(camera), [gun()] * 10))
    assert states(feed(confirmer(camera), [gun(box=FAR_GUN)] * 3))[-1] == ["open"]


def test_only_guns_in_an_enabled_zone_count_and_the_event_names_it() -> None:
    zones = {
        "till": {"polygon": [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (0.0, 0.5)]},  # holds GUN
        "door": {"polygon": [(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)], "enabled": False},  # holds FAR_GUN
    }
    camera = Camera(url="clip.mp4", zones=zones)
    assert all(step == [] for step in feed(confirmer(camera), [gun(box=FAR_GUN)] * 10))  # in a disabled zone
    [[event]] = [step for step in feed(confirmer(camera), [gun()] * 3) if step]
    assert event.zone == "till"


def test_without_an_enabled_zone_the_whole_frame_counts() -> None:
    camera = Camera(url="clip.mp4", zones={"door": {"polygon": [(0.5, 0.5), (1, 0.5), (1, 1)], "enabled": False}})
    [[event]] = [step for step in feed(confirmer(camera), [gun()] * 3) if step]
    assert event.zone is None


def test_the_event_updates_only_when_the_score_rises() -> None:
    changes = feed(confirmer(), [gun(0.6), gun(0.6), gun(0.6), gun(0.55), gun(0.8), gun(0.7), gun(0.9)])
    assert states(changes) == [[], [], ["open"], [], ["updated"], [], ["updated"]]
    opened, first_update, second_update = changes[2][0], changes[4][0], changes[6][0]
    assert opened.id == first_update.id == second_update.id
    assert first_update.max_score == pytest.approx(0.8)
    assert second_update.max_score == pytest.approx(0.9)
    assert second_update.last_seen == pytest.approx(6 * STEP_S)
    assert opened.state == "open"  # each change is its own copy
    assert second_update.first_seen == 0.0


def test_the_event_closes_after_close_after_s_without_the_gun_via_frames() -> None:
    c = confirmer(close_after_s=1.1)
    changes = feed(c, [gun()] * 3 + [NOTHING] * 8)  # last hit at 0.4 s; frames go on to 2.0 s
    flat = [(i, event) for i, step in enumerate(changes) for event in step]
    assert [(i, event.state) for i, event in flat] == [(2, "open"), (8, "closed")]  # 1.6 s: gone 1.2 >= 1.1
    closed = flat[1][1]
    assert closed.id == flat[0][1].id
    assert closed.closed_at == pytest.approx(1.6)
    assert closed.last_seen == pytest.approx(0.4)
    assert c.event is None


def test_the_event_closes_via_tick_when_frames_stop() -> None:
    c = confirmer(close_after_s=10.0)
    [[opened]] = [step for step in feed(c, [gun()] * 3) if step]
    assert c.tick(5.0) == []
    [closed] = c.tick(10.4)
    assert (closed.state, closed.id, closed.closed_at) == ("closed", opened.id, 10.4)
    assert c.tick(20.0) == []
    assert c.tick(11.0) == []


def test_after_closing_a_new_sighting_opens_a_new_event() -> None:
    c = confirmer(close_after_s=1.0)
    first = [event for step in feed(c, [gun()] * 3) for event in step]
    assert [event.state for event in c.tick(1.5)] == ["closed"]
    changes = feed(c, [gun()] * 3, start=1.6)
    assert states(changes) == [[], [], ["open"]]  # confirmed afresh: three new hits
    second = changes[2][0]
    assert second.id != first[0].id
    assert second.first_seen == pytest.approx(1.6)


def test_a_gun_back_after_the_camera_was_silent_needs_confirming_again() -> None:
    c = confirmer(close_after_s=10.0)
    feed(c, [gun()] * 3)
    changes = feed(c, [gun()] * 3, start=60.0)  # the event is closed by the first frame after the silence
    assert states(changes) == [["closed"], [], ["open"]]


def test_a_published_version_never_changes_under_its_holder() -> None:
    c = confirmer()
    assert c.event is None
    (opened,) = feed(c, [gun()] * 3)[-1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        opened.max_score = 0.0  # type: ignore[misc]
    (grown,) = feed(c, [gun(0.95)], start=3 * STEP_S)[0]
    assert grown.id == opened.id and grown.state == "updated" and grown.max_score == pytest.approx(0.95)
    assert opened.state == "open" and opened.max_score == pytest.approx(0.9)  # the version handed on before
    assert c.event == grown


def test_another_gun_class_id() -> None:
    # The localizer's only class is "handgun", id 0.
    settings = ConfirmationSettings(window=5, min_hits=3, quick_margin=None)
    c = ThreatConfirmer("lobby", Camera(url="clip.mp4"), settings, THRESHOLD, gun_class_id=0)
    detections = Detections(np.array([GUN], np.float32), np.array([0.9], np.float32), np.array([0]))
    changes = [c.update(i * STEP_S, SIZE, detections) for i in range(3)]
    assert states(changes) == [[], [], ["open"]]


def test_a_gun_well_over_the_threshold_opens_on_the_quick_lane() -> None:
    changes = feed(confirmer(quick_margin=0.3), [gun(0.85), gun(0.9)])  # 2 of 3 at >= 0.8
    assert states(changes) == [[], ["open"]]
    assert changes[1][0].first_pts == pytest.approx(100.0)  # the first hit, as on the slow lane


def test_a_gun_just_over_the_threshold_waits_for_the_slow_lane() -> None:
    changes = feed(confirmer(quick_margin=0.3), [gun(0.79), gun(0.79), gun(0.79)])
    assert states(changes) == [[], [], ["open"]]


def test_the_quick_lane_counts_only_its_own_window() -> None:
    # Two confident frames three apart: neither 2 of the last 3 nor (with a weak one between) 3 of 5 hits.
    changes = feed(confirmer(quick_margin=0.3), [gun(0.9), NOTHING, gun(0.4), gun(0.9), NOTHING])
    assert states(changes) == [[], [], [], [], []]


def test_the_quick_lane_rides_on_the_camera_threshold() -> None:
    # The camera's own threshold 0.7 moves the quick lane to 0.8: 0.75 twice is not enough, 0.85 is.
    slow = feed(confirmer(quick_margin=0.1, threshold=0.7), [gun(0.75), gun(0.75)])
    quick = feed(confirmer(quick_margin=0.1, threshold=0.7), [gun(0.85), gun(0.85)])
    assert (states(slow), states(quick)) == ([[], []], [[], ["open"]])


def test_without_a_quick_margin_confident_guns_need_the_full_window() -> None:
    changes = feed(confirmer(quick_margin=None), [gun(0.99), gun(0.99), gun(0.99)])
    assert states(changes) == [[], [], ["open"]]
