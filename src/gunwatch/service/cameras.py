"""Cameras as a principal sees them: health from the store, live numbers from the running watch.

`gunwatch watch` passes its `LiveView`; `gunwatch serve` on another machine has none, and shows the stored
health only. A camera outside the principal's access is `NotFound`, as an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import select

from gunwatch.events.store import CameraStatus, EventStore
from gunwatch.events.store.schema import CameraRow, HealthRow
from gunwatch.service.errors import NotFound
from gunwatch.service.events import check_epoch
from gunwatch.service.live import CameraLive, LiveView
from gunwatch.users.principal import Principal
from gunwatch.video.health import CameraState, HealthChange

MAX_HISTORY = 1000


@dataclass(frozen=True)
class CameraView:
    """One camera: its stored health (`state` None until its first record) and, while a watch runs here,
    its live numbers (`live`, whose own `state` is the newer word)."""

    name: str
    kind: str | None
    state: str | None
    reason: str | None
    state_at: float | None
    recent: list[HealthChange] = field(default_factory=list)  # newest first
    live: CameraLive | None = None


class CameraService:
    def __init__(self, store: EventStore, live: LiveView | None = None):
        self.store, self.live = store, live

    def list(self, principal: Principal, recent: int = 5) -> list[CameraView]:
        """Every camera the principal may see, by name: those in the store, and any the watch has that the
        store does not (yet)."""
        principal.require("cameras:read")
        live = {camera.camera: camera for camera in self.live.cameras()} if self.live is not None else {}
        stored = {status.name: status for status in self.store.camera_status(recent)}
        names = sorted(name for name in stored.keys() | live.keys() if principal.sees(name))
        return [_view(name, stored.get(name), live.get(name)) for name in names]

    def health_history(self, principal: Principal, camera: str, since: float | None = None,
                       limit: int = 100) -> list[HealthChange]:
        """The camera's health changes, newest first."""
        principal.require("cameras:read")
        check_epoch("since", since)
        self._require_known(principal, camera)
        limit = max(1, min(limit, MAX_HISTORY))
        query = select(HealthRow).where(HealthRow.camera == camera)
        if since is not None:
            query = query.where(HealthRow.at >= since)
        query = query.order_by(HealthRow.at.desc(), HealthRow.id.desc()).limit(limit)
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return [HealthChange(row.camera, cast(CameraState, row.state), row.reason or "", row.at)
                    for row in session.scalars(query)]

    def frame(self, principal: Principal, camera: str) -> tuple[bytes, float]:
        """The newest analysed frame as a JPEG with the boxes that count drawn, and its time. NotFound when
        no watch runs here, or the camera has no frame yet."""
        principal.require("live:read")
        if not principal.sees(camera):
            raise NotFound(f"no camera {camera}")
        frame = None if self.live is None else self.live.frame_jpeg(camera)
        if frame is None:
            raise NotFound(f"no live frame of camera {camera}" if self.live is not None
                           else "no live frames here: this console does not run the cameras")
        return frame

    def _require_known(self, principal: Principal, camera: str) -> None:
        if principal.sees(camera):
            if self.live is not None and any(c.camera == camera for c in self.live.cameras()):
                return
            with self.store.errors("cannot read"), self.store.read_session() as session:
                if session.get(CameraRow, camera) is not None:
                    return
        raise NotFound(f"no camera {camera}")


def _view(name: str, stored: CameraStatus | None, live: CameraLive | None) -> CameraView:
    if stored is None:
        return CameraView(name, None, None, None, None, [], live)
    return CameraView(name, stored.kind, stored.state, stored.reason, stored.state_at, list(stored.recent), live)
