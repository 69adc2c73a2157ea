"""Which cameras' frames the detector analyses next: fair shares of its time, in batches formed by size or deadline.

A pure policy: every time is passed in and nothing waits, so it is tested without clocks or threads. The
detector service (`detector_service`) holds one under its lock and runs the batches it hands out.

Fair share is start-time fair queuing over measured cost. Each camera has `served`: the detector seconds
charged to it. The camera served least whose request is waiting goes next. A camera that had nothing waiting
joins at the current virtual time (the `served` of the camera picked last), so the time it did not use is not
banked to be spent in a burst later. A camera that asks for more than its share (tiles, a high fps, a backlog)
is served when the others have nothing waiting or have been served as much: it gets the leftover, never
another camera's share. A request's cost is not known before it runs: a batch charges each request its
camera's smoothed cost as it leaves (so a second worker does not pick the same camera again meanwhile), and
the measured seconds replace that charge when the batch is done.

A batch holds requests that can share one runtime call (the same key: tile mode, second look), at most one
per camera per round, taken in fair order, up to `max_batch`. It waits for more only while it is not full, its
oldest request has waited less than `deadline_s`, and some camera could still add one: a camera known here
that has no request waiting or running (a camera loop submits its next frame once the last one's answer is
back, so one with a request here adds none meanwhile).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
COST_SMOOTHING = 0.2  # weight of the newest measured cost in a camera's expected cost


@dataclass(frozen=True)
class Queued(Generic[T]):
    camera: str
    key: Hashable  # requests of one key can share a runtime call
    item: T
    arrived: float
    order: int  # arrival order: ties go to the earlier request


@dataclass(frozen=True)
class Batch(Generic[T]):
    key: Hashable
    requests: tuple[Queued[T], ...]
    charged: tuple[float, ...]  # the expected cost each request was charged as the batch left

    @property
    def items(self) -> list[T]:
        return [request.item for request in self.requests]


class FairScheduler(Generic[T]):
    def __init__(self, max_batch: int, deadline_s: float) -> None:
        if max_batch < 1 or deadline_s < 0:
            raise ValueError(f"need max_batch >= 1 and deadline_s >= 0, got {max_batch}, {deadline_s:g}")
        self.max_batch, self.deadline_s = max_batch, deadline_s
        self._queues: dict[str, deque[Queued[T]]] = {}
        self._served: dict[str, float] = {}
        self._cost: dict[str, float] = {}  # smoothed measured seconds per request, by camera
        self._running: dict[str, int] = {}  # requests in batches taken and not yet done, by camera
        self._virtual = 0.0
        self._arrivals = 0

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._queues.values())

    def served(self, camera: str) -> float:
        """Detector seconds charged to `camera` (expected costs of batches still running included)."""
        return self._served.get(camera, 0.0)

    def push(self, camera: str, key: Hashable, item: T, now: float) -> None:
        queue = self._queues.setdefault(camera, deque())
        if not queue:  # joins at the virtual time: no credit banked while it asked for nothing
            self._served[camera] = max(self._served.get(camera, 0.0), self._virtual)
        queue.append(Queued(camera, key, item, now, self._arrivals))
        self._arrivals += 1

    def take(self, now: float) -> Batch[T] | None:
        """The next batch if one is due at `now`: full, or its oldest request waited `deadline_s`."""
        requests = self._next_batch()
        if not requests:
            return None
        if len(requests) < self.max_batch and now < min(r.arrived for r in requests) + self.deadline_s \
                and self._another_may_come():
            return None
        self._virtual = max(self._virtual, self._served[requests[0].camera])
        charged = []
        for request in requests:
            self._queues[request.camera].popleft()
            cost = self._cost.get(request.camera, 0.0)
            self._served[request.camera] += cost
            self._running[request.camera] = self._running.get(request.camera, 0) + 1
            charged.append(cost)
        return Batch(requests[0].key, tuple(requests), tuple(charged))

    def wake_at(self) -> float | None:
        """When the next batch becomes due by its deadline (None: nothing is waiting)."""
        requests = self._next_batch()
        return min(r.arrived for r in requests) + self.deadline_s if requests else None

    def done(self, batch: Batch[T], seconds: float) -> None:
        """The batch ran for `seconds` (failed or not: the time was spent); each request's share replaces its charge."""
        share = seconds / len(batch.requests)
        for request, charged in zip(batch.requests, batch.charged, strict=True):
            self._served[request.camera] += share - charged
            self._running[request.camera] -= 1
            known = self._cost.get(request.camera)
            self._cost[request.camera] = share if known is None else known + COST_SMOOTHING * (share - known)

    def forget(self, camera: str) -> bool:
        """A camera that stopped, with nothing waiting or running: batches no longer wait for it. False (and
        kept) while it has requests here."""
        if self._queues.get(camera) or self._running.get(camera):
            return False
        for known in (self._queues, self._served, self._cost, self._running):
            known.pop(camera, None)
        return True

    def drain(self) -> list[Queued[T]]:
        """Every waiting request, removed (the service is closing)."""
        left = sorted((r for queue in self._queues.values() for r in queue), key=lambda r: r.order)
        self._queues.clear()
        return left

    def _another_may_come(self) -> bool:
        return any(not self._queues.get(camera) and not self._running.get(camera) for camera in self._served)

    def _fair_order(self) -> list[str]:
        waiting = [camera for camera, queue in self._queues.items() if queue]
        return sorted(waiting, key=lambda camera: (self._served[camera], self._queues[camera][0].order))

    def _next_batch(self) -> list[Queued[T]]:
        """The batch the fairest camera's next request leads: same key, round by round over the cameras."""
        order = self._fair_order()
        if not order:
            return []
        key = self._queues[order[0]][0].key
        # Each camera's leading requests of that key (its order kept: a later one never overtakes an earlier).
        runs = []
        for camera in order:
            run = []
            for request in self._queues[camera]:
                if request.key != key:
                    break
                run.append(request)
            if run:
                runs.append(run)
        batch: list[Queued[T]] = []
        depth = 0
        while len(batch) < self.max_batch and any(depth < len(run) for run in runs):
            batch.extend(run[depth] for run in runs if depth < len(run))
            depth += 1
        return batch[: self.max_batch]
