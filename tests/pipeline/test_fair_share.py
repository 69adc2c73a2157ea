"""The detector's fair share and batching policy, driven in simulated time (no clocks, no threads)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from gunwatch.pipeline.camera_loop import next_sample_due
from gunwatch.pipeline.fair_share import Batch, FairScheduler


@dataclass
class SimCamera:
    """A camera loop as the watch runs it: it submits its due frame(s) and waits for the answer before the next."""

    name: str
    cost_s: float  # detector seconds per frame (tiles, resolution)
    period_s: float | None = None  # 1 / detect fps; None: it wants every frame it can get
    burst: int = 1  # frames it submits at once (a camera with a backlog)
    start_s: float = 0.0
    key: str = "off"
    next_due: float = field(init=False)
    outstanding: int = 0
    answered: list[float] = field(default_factory=list)  # when each of its frames came back
    busy_s: list[tuple[float, float]] = field(default_factory=list)  # (answered at, detector seconds)

    def __post_init__(self) -> None:
        self.next_due = self.start_s

    def seconds_between(self, start: float, end: float) -> float:
        return sum(cost for at, cost in self.busy_s if start <= at < end)


def simulate(cameras: list[SimCamera], seconds: float, workers: int = 1, max_batch: int = 1,
             deadline_s: float = 0.0) -> dict[str, SimCamera]:
    """Discrete-event run: a batch takes the sum of its frames' costs on one worker."""
    by_name = {camera.name: camera for camera in cameras}
    scheduler: FairScheduler[int] = FairScheduler(max_batch, deadline_s)
    running: list[tuple[float, Batch[int]] | None] = [None] * workers
    now = 0.0
    while now < seconds:
        for worker, job in enumerate(running):
            if job is not None and job[0] <= now:
                end, batch = job
                scheduler.done(batch, sum(by_name[r.camera].cost_s for r in batch.requests))
                for request in batch.requests:
                    camera = by_name[request.camera]
                    camera.outstanding -= 1
                    camera.answered.append(end)
                    camera.busy_s.append((end, camera.cost_s))
                running[worker] = None
        for camera in cameras:
            if camera.outstanding == 0 and now >= camera.next_due:
                for frame in range(camera.burst):
                    scheduler.push(camera.name, camera.key, frame, now)
                camera.outstanding = camera.burst
                # As CameraLoop.take: a fixed schedule, never a burst to catch up.
                camera.next_due = next_sample_due(camera.next_due, camera.period_s or 0.0, now)
        for worker, job in enumerate(running):
            if job is None and (batch := scheduler.take(now)) is not None:
                running[worker] = (now + sum(by_name[r.camera].cost_s for r in batch.requests), batch)
        upcoming = [job[0] for job in running if job is not None]
        upcoming += [c.next_due for c in cameras if c.outstanding == 0 and c.next_due > now]
        wake = scheduler.wake_at()
        upcoming += [wake] if wake is not None and wake > now else []
        now = min(upcoming, default=seconds)
    return by_name


def test_a_cheap_camera_gets_all_its_frames_beside_one_costing_ten_times_more_with_a_backlog() -> None:
    cheap = SimCamera("cheap", cost_s=0.01, period_s=0.2)
    # Always five frames queued, each 10x the cheap one's cost: first come, first served would make the cheap
    # camera wait 0.5 s behind them, more than its period.
    tiled = SimCamera("tiled", cost_s=0.1, burst=5)
    result = simulate([cheap, tiled], seconds=10.0)
    assert len(result["cheap"].answered) == 50  # every frame of 10 s at 5 fps
    # Each waited for at most the one tiled frame running when it came.
    due = [0.2 * k for k in range(50)]
    assert max(answered - at for answered, at in zip(result["cheap"].answered, due, strict=True)) <= 0.11 + 1e-9
    # The tiled camera got the leftover: the detector never idled while it had frames waiting.
    assert result["tiled"].seconds_between(0, 10) == pytest.approx(10.0 - 50 * 0.01, abs=0.1)


def test_cameras_that_ask_for_more_split_the_leftover_by_time_not_by_frames() -> None:
    cheap = SimCamera("cheap", cost_s=0.01, period_s=0.2)
    tiled = SimCamera("tiled", cost_s=0.1)  # both want every frame they can get
    hd = SimCamera("hd", cost_s=0.05)
    result = simulate([cheap, tiled, hd], seconds=20.0)
    assert len(result["cheap"].answered) == 100
    left = 20.0 - 100 * 0.01
    for name in ("tiled", "hd"):
        assert result[name].seconds_between(0, 20) == pytest.approx(left / 2, abs=0.2), name
    assert len(result["hd"].answered) == pytest.approx(2 * len(result["tiled"].answered), abs=4)


def test_a_camera_that_joins_late_banks_no_credit_for_the_time_it_asked_for_nothing() -> None:
    early = SimCamera("early", cost_s=0.1)
    late = SimCamera("late", cost_s=0.1, start_s=10.0)
    result = simulate([early, late], seconds=20.0)
    assert result["early"].seconds_between(0, 10) == pytest.approx(10.0, abs=0.1)
    # From its start on, the late camera gets half: not the first 10 s to itself.
    for name in ("early", "late"):
        assert result[name].seconds_between(10, 20) == pytest.approx(5.0, abs=0.2), name


def test_two_workers_serve_the_cheap_camera_at_once_while_the_other_is_busy() -> None:
    cheap = SimCamera("cheap", cost_s=0.01, period_s=0.2)
    tiled = SimCamera("tiled", cost_s=0.4, key="on")  # longer than the cheap camera's period
    one = simulate([cheap, tiled], seconds=10.0, workers=1)
    assert len(one["cheap"].answered) < 50  # one worker: it waits up to 0.4 s behind the tiled frame
    cheap, tiled = SimCamera("cheap", cost_s=0.01, period_s=0.2), SimCamera("tiled", cost_s=0.4, key="on")
    two = simulate([cheap, tiled], seconds=10.0, workers=2)
    assert len(two["cheap"].answered) == 50
    assert max(b - a for a, b in zip([0.2 * k for k in range(50)], two["cheap"].answered, strict=True)) <= 0.01 + 1e-9


def test_a_batch_leaves_when_full_when_its_deadline_passed_or_when_no_other_camera_could_add() -> None:
    scheduler: FairScheduler[str] = FairScheduler(max_batch=3, deadline_s=0.25)
    for camera in "abcd":
        scheduler.push(camera, "off", camera, 0.0)
    first = scheduler.take(0.0)
    assert first is not None and first.items == ["a", "b", "c"]  # full: at once
    second = scheduler.take(0.0)
    assert second is not None and second.items == ["d"]  # every other camera is running: none could add
    scheduler.done(first, 0.03)
    scheduler.done(second, 0.01)

    scheduler.push("a", "off", "a2", 1.0)
    assert scheduler.take(1.0) is None and scheduler.wake_at() == 1.25  # b, c, d may add a frame
    scheduler.push("b", "on", "b2", 1.125)  # another tile mode: a batch of its own
    assert scheduler.take(1.2) is None
    batch = scheduler.take(1.25)
    assert batch is not None and batch.items == ["a2"] and batch.key == "off"
    assert scheduler.take(1.25) is None and scheduler.wake_at() == 1.375
    batch = scheduler.take(1.375)
    assert batch is not None and batch.items == ["b2"] and batch.key == "on"
    assert scheduler.take(2.0) is None and scheduler.wake_at() is None and scheduler.waiting == 0


def test_a_batch_takes_one_frame_per_camera_per_round_and_keeps_each_cameras_order() -> None:
    scheduler: FairScheduler[str] = FairScheduler(max_batch=3, deadline_s=0.0)
    for item in ("a1", "a2", "a3"):
        scheduler.push("a", "off", item, 0.0)
    scheduler.push("b", "off", "b1", 0.0)
    scheduler.push("b", "on", "b2", 0.0)  # after b1, in another mode: never before b1, never in b1's batch
    batches = [scheduler.take(0.0) for _ in range(3)]
    assert [(b.items, b.key) for b in batches if b is not None] == [
        (["a1", "b1", "a2"], "off"), (["a3"], "off"), (["b2"], "on")]


def test_the_measured_seconds_replace_what_a_batch_was_charged() -> None:
    scheduler: FairScheduler[str] = FairScheduler(max_batch=1, deadline_s=0.0)
    scheduler.push("x", "off", "x1", 0.0)
    batch = scheduler.take(0.0)
    assert batch is not None and batch.charged == (0.0,)  # nothing measured yet
    scheduler.done(batch, 0.5)
    assert scheduler.served("x") == pytest.approx(0.5)
    scheduler.push("x", "off", "x2", 1.0)
    batch = scheduler.take(1.0)
    assert batch is not None and batch.charged == (0.5,) and scheduler.served("x") == pytest.approx(1.0)
    scheduler.done(batch, 0.1)  # it ran faster than expected
    assert scheduler.served("x") == pytest.approx(0.6)


def test_a_stopped_camera_is_forgotten_and_closing_drains_what_waits() -> None:
    scheduler: FairScheduler[str] = FairScheduler(max_batch=4, deadline_s=0.01)
    scheduler.push("gone", "off", "g", 0.0)
    batch = scheduler.take(0.0)
    assert batch is not None
    assert not scheduler.forget("gone")  # still running
    scheduler.done(batch, 0.01)
    assert scheduler.forget("gone")
    scheduler.push("a", "off", "a1", 1.0)
    taken = scheduler.take(1.0)  # no other camera is known: nothing to wait for
    assert taken is not None and taken.items == ["a1"]
    scheduler.push("a", "off", "a2", 2.0)
    scheduler.push("b", "on", "b1", 2.0)
    assert [r.item for r in scheduler.drain()] == ["a2", "b1"] and scheduler.waiting == 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        FairScheduler(max_batch=0, deadline_s=0.01)
    with pytest.raises(ValueError, match="deadline_s"):
        FairScheduler(max_batch=1, deadline_s=-1)
