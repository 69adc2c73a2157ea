"""GET /metrics for Prometheus, read at scrape time from the running watch (LiveView) and the store.

    app.include_router(metrics_router(store, live, principal_dependency))

Prometheus scrapes with an API token (bearer) whose principal needs `cameras:read`; per-camera series stop at
its camera access. Each scrape builds a registry of its own (never prometheus_client's global one, which holds
the process's Python metrics and is shared by every library), with one collector reading:

- per camera (LiveView, while `gunwatch watch` runs here): frames in / dropped / still / analysed, restarts
  and events (counters since the watch started), fps in and analysed, mean inference ms, top gun score, the
  threshold; its state, one gauge per state (1 for the current one), from the store where no watch runs;
- from the store: events by camera and state, events by disposition, the outbox's queue depth per lane and
  channel, each channel's delivery latency (created -> delivered) over the last hour as a summary, protocol
  runs by state, and `gunwatch_store_up` (0 when the store could not be read: the scrape still answers).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gunwatch.events.store import EventStore
from gunwatch.events.store.errors import StoreError
from gunwatch.events.store.schema import (
    DISPOSITIONS,
    CameraRow,
    DeliveryRow,
    DispositionRow,
    EventRow,
    ProtocolRunRow,
)
from gunwatch.service.live import CameraLive, LiveView
from gunwatch.users.principal import AccessDenied, Principal
from gunwatch.video.health import CAMERA_STATES

log = logging.getLogger(__name__)

LATENCY_WINDOW_S = 3600.0
QUANTILES = (0.5, 0.9, 0.99)
CAMERA_STATE_NAMES = (*CAMERA_STATES, "starting")  # "starting": a live camera before its first frame
WAITING = ("pending", "sending")
MAX_LATENCY_ROWS = 100_000  # a window's deliveries; beyond it the summary covers the newest


class GunwatchCollector(Collector):
    """`cameras`: the cameras whose series are shown (None: all)."""

    def __init__(self, store: EventStore, live: LiveView | None, cameras: frozenset[str] | None = None,
                 window_s: float = LATENCY_WINDOW_S):
        self.store, self.live, self.cameras, self.window_s = store, live, cameras, window_s

    def collect(self) -> Iterator[Metric]:
        live = [camera for camera in (self.live.cameras() if self.live else []) if self._sees(camera.camera)]
        yield from _live_metrics(live)
        try:
            with self.store.errors("cannot read metrics from"), self.store.read_session() as session:
                stored = list(self._store_metrics(session, {camera.camera: camera.state for camera in live}))
        except StoreError as error:
            log.warning("metrics: %s", error)
            stored, up = [], 0.0
        else:
            up = 1.0
        yield from stored
        yield GaugeMetricFamily("gunwatch_store_up", "1 when the event store could be read for this scrape", up)

    def _sees(self, camera: str | None) -> bool:
        return self.cameras is None or (camera is not None and camera in self.cameras)

    def _store_metrics(self, session: Session, live_states: dict[str, str]) -> Iterator[Metric]:
        yield _camera_states(session, live_states, self._sees)
        yield self._events(session)
        yield self._dispositions(session)
        yield _queue_depth(session)
        yield _latency(session, time.time() - self.window_s)
        yield self._runs(session)

    def _events(self, session: Session) -> Metric:
        family = GaugeMetricFamily("gunwatch_events", "threat events in the store, by camera and state",
                                   labels=["camera", "state"])
        query = select(EventRow.camera, EventRow.state, func.count()).group_by(EventRow.camera, EventRow.state)
        for camera, state, count in session.execute(query):
            if self._sees(camera):
                family.add_metric([camera, state], count)
        return family

    def _dispositions(self, session: Session) -> Metric:
        family = GaugeMetricFamily("gunwatch_event_dispositions",
                                   "threat events by what people last said of them (none: nobody answered yet)",
                                   labels=["disposition"])
        query = (select(EventRow.camera, DispositionRow.disposition, func.count())
                 .outerjoin(DispositionRow, DispositionRow.event_id == EventRow.id)
                 .group_by(EventRow.camera, DispositionRow.disposition))
        counts = dict.fromkeys((*DISPOSITIONS, "none"), 0)
        for camera, disposition, count in session.execute(query):
            if self._sees(camera):
                counts[disposition or "none"] += count
        for disposition, count in counts.items():
            family.add_metric([disposition], count)
        return family

    def _runs(self, session: Session) -> Metric:
        family = GaugeMetricFamily("gunwatch_protocol_runs", "protocol runs by state", labels=["state"])
        query = select(ProtocolRunRow.camera, ProtocolRunRow.state, func.count()).group_by(
            ProtocolRunRow.camera, ProtocolRunRow.state)
        counts: dict[str, int] = {}
        for camera, state, count in session.execute(query):
            if self._sees(camera):
                counts[state] = counts.get(state, 0) + count
        for state, count in sorted(counts.items()):
            family.add_metric([state], count)
        return family


def _live_metrics(cameras: list[CameraLive]) -> Iterator[Metric]:
    counters: dict[str, tuple[str, Callable[[CameraLive], float]]] = {
        "frames_in": ("frames decoded since the watch started", lambda c: c.frames_in),
        "frames_dropped": ("frames decoded but never sampled (only the newest is kept)", lambda c: c.dropped),
        "frames_still": ("sampled frames the motion gate skipped", lambda c: c.still),
        "frames_analysed": ("frames the detector saw", lambda c: c.analysed),
        "restarts": ("times the watchdog restarted its reader", lambda c: c.restarts),
        "events": ("threat events it opened", lambda c: c.events),
    }
    gauges: dict[str, tuple[str, Callable[[CameraLive], float]]] = {
        "fps_in": ("frames decoded per second, recent", lambda c: c.fps_in),
        "fps_analysed": ("frames analysed per second, recent", lambda c: c.fps_analysed),
        "inference_ms": ("mean detector time per analysed frame, recent", lambda c: c.infer_ms),
        "top_score": ("highest gun score of the last few seconds, counted or not", lambda c: c.top_score),
        "threshold": ("the gun score a box must reach to count", lambda c: c.threshold),
    }
    for name, (text, value) in counters.items():
        family = CounterMetricFamily(f"gunwatch_camera_{name}", text, labels=["camera"])
        for camera in cameras:
            family.add_metric([camera.camera], value(camera))
        yield family
    for name, (text, value) in gauges.items():
        gauge = GaugeMetricFamily(f"gunwatch_camera_{name}", text, labels=["camera"])
        for camera in cameras:
            gauge.add_metric([camera.camera], value(camera))
        yield gauge


def _camera_states(session: Session, live_states: dict[str, str], sees: Callable[[str], bool]) -> Metric:
    """The live state where the watch runs here, else the stored one; cameras never recorded are left out."""
    states = {name: state for name, state in session.execute(select(CameraRow.name, CameraRow.state))
              if state is not None and sees(name)}
    states.update(live_states)
    family = GaugeMetricFamily("gunwatch_camera_state", "1 for the camera's current state, 0 for the others",
                               labels=["camera", "state"])
    for camera, current in sorted(states.items()):
        for state in CAMERA_STATE_NAMES:
            family.add_metric([camera, state], 1.0 if state == current else 0.0)
    return family


def _queue_depth(session: Session) -> Metric:
    family = GaugeMetricFamily("gunwatch_outbox_queue_depth", "deliveries waiting to be sent or being sent",
                               labels=["lane", "channel"])
    query = (select(DeliveryRow.lane, DeliveryRow.channel, func.count()).where(DeliveryRow.status.in_(WAITING))
             .group_by(DeliveryRow.lane, DeliveryRow.channel))
    for lane, channel, count in session.execute(query):
        family.add_metric([lane, channel or ""], count)
    return family


def _latency(session: Session, since: float) -> Metric:
    """A summary over the window, not since the start: count and sum may go down as deliveries age out."""
    family = Metric("gunwatch_delivery_latency_seconds",
                    f"from queued to delivered, per channel, over the last {LATENCY_WINDOW_S:g} s", "summary")
    channel = func.coalesce(DeliveryRow.channel, DeliveryRow.lane)
    query = (select(channel, DeliveryRow.created_at, DeliveryRow.delivered_at)
             .where(DeliveryRow.delivered_at >= since).order_by(DeliveryRow.delivered_at.desc())
             .limit(MAX_LATENCY_ROWS))
    latencies: dict[str, list[float]] = {}
    for name, created_at, delivered_at in session.execute(query):
        latencies.setdefault(name, []).append(max(0.0, delivered_at - created_at))
    for name, values in sorted(latencies.items()):
        values.sort()
        for quantile in QUANTILES:
            family.add_sample(family.name, {"channel": name, "quantile": str(quantile)}, _quantile(values, quantile))
        family.add_sample(f"{family.name}_count", {"channel": name}, len(values))
        family.add_sample(f"{family.name}_sum", {"channel": name}, sum(values))
    return family


def _quantile(ordered: list[float], q: float) -> float:
    """Nearest rank: a latency that happened, never an interpolation between two."""
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def metrics_text(store: EventStore, live: LiveView | None, cameras: Iterable[str] | None = None) -> bytes:
    """The exposition text, with the per-camera series of `cameras` (None: all)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(GunwatchCollector(store, live, None if cameras is None else frozenset(cameras)))
    return generate_latest(registry)


def metrics_router(store: EventStore, live: LiveView | None, principal_dependency: Callable[..., Any]) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    signed_in = Depends(principal_dependency)

    # A plain `def`: the store is blocking, so FastAPI runs it in its thread pool.
    @router.get("/metrics")
    def metrics(principal: Principal = signed_in) -> Response:
        try:
            principal.require("cameras:read")
        except AccessDenied as error:
            raise HTTPException(403, str(error)) from None
        return Response(metrics_text(store, live, principal.cameras), media_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})

    return router
