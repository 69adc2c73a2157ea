"""What the watchdog decides, as pure functions of what it sees and a clock: what hangs, what has recovered, and
whether `gunwatch watch` as a whole is alive. The thread that looks and acts is `watchdog_service`.

Everything the live pipeline does that can hang is seen as `Work`: a piece of work in progress since some moment,
with a bound on how long it may take. A camera reader waiting for its connection or its next frame (its own
timeouts fire after `stall_after_s`: past that and a grace it is hung, not slow), a detector call, a clip being
encoded, a delivery being attempted. Work past its bound is `overdue`: the watchdog restarts it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

WorkKind = Literal["reader", "detector call", "clip", "delivery"]
LATE_CHECKS = 5  # the watchdog's own loop missed this many rounds: `watch` is not alive


@dataclass(frozen=True)
class Work:
    """A piece of work in progress: a watchdog's view."""

    kind: WorkKind
    name: str  # the camera (reader), the call's number, the encoder, the lane (delivery)
    since: float  # monotonic: when it began, or last showed progress
    bound_s: float  # how long it may take
    what: str  # in words: "a call of 3 frames", "clip of event X", "delivery KEY"
    cameras: tuple[str, ...] = ()  # the cameras it holds up

    def running_s(self, now: float) -> float:
        return now - self.since

    def overdue(self, now: float) -> bool:
        return self.running_s(now) > self.bound_s

    def reason(self, now: float) -> str:
        """Why it is given up, for health changes and logs."""
        return f"{self.kind} hung: {self.what}, {self.running_s(now):.0f} s (bound {self.bound_s:g} s)"


def overdue(work: Iterable[Work], now: float) -> list[Work]:
    """The work past its bound, the longest overdue first."""
    return sorted((w for w in work if w.overdue(now)), key=lambda w: w.bound_s - w.running_s(now))


class Recovery:
    """Cameras whose frames a hung detector call held up (reported stalled): recovered once a frame of theirs is
    analysed after that (reported online again)."""

    def __init__(self) -> None:
        self._held: dict[str, int] = {}  # camera -> frames analysed when it was reported

    def held_up(self, camera: str, analysed: int) -> None:
        self._held[camera] = analysed

    def recovered(self, analysed: Mapping[str, int]) -> list[str]:
        """The cameras that analysed a frame since they were held up; forgotten once returned."""
        back = [camera for camera, before in self._held.items() if analysed.get(camera, before) > before]
        for camera in back:
            del self._held[camera]
        return back

    def forget(self, camera: str) -> None:
        self._held.pop(camera, None)

    @property
    def held(self) -> set[str]:
        return set(self._held)


@dataclass(frozen=True)
class Liveness:
    """Whether `watch` lives: the watchdog goes round, and every camera's analysis thread moves."""

    ok: bool
    problems: tuple[str, ...] = ()


def liveness(now: float, last_check: float, every_s: float, rounds: Mapping[str, float | None],
             round_bound_s: float) -> Liveness:
    """`last_check`: when the watchdog last finished a round (monotonic). `rounds`: each camera thread's last
    round (None: its thread ended, which it does only when the watch stops). A camera round waits at most for
    its detector call, which the watchdog gives up past its bound: `round_bound_s` is that and some slack."""
    problems = []
    if now - last_check > LATE_CHECKS * every_s:
        problems.append(f"the watchdog has not looked for {now - last_check:.0f} s")
    for camera, last in sorted(rounds.items()):
        if last is None:
            problems.append(f"camera {camera}: its analysis thread ended")
        elif now - last > round_bound_s:
            problems.append(f"camera {camera}: its analysis thread has not moved for {now - last:.0f} s")
    return Liveness(not problems, tuple(problems))
