"""The store's contents for people (text tables) and for programs (JSON-ready dicts), as the CLI prints them."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime
from typing import Any

from gunwatch.events.model import ThreatEvent
from gunwatch.events.store.runs import WatchRun
from gunwatch.events.store.status import CameraStatus
from gunwatch.video.health import HealthChange


def local_time(epoch: float | None, timespec: str = "milliseconds") -> str | None:
    """ISO 8601 in the machine's time zone, with its offset, so the text is unambiguous anywhere."""
    return None if epoch is None else datetime.fromtimestamp(epoch).astimezone().isoformat(timespec=timespec)


def event_json(event: ThreatEvent, disposition: str | None = None, held: bool | None = None) -> dict[str, Any]:
    """`held`: under a legal hold; None where the caller did not look (the key is then left out)."""
    found = {
        "id": event.id,
        "camera": event.camera,
        "zone": event.zone,
        "state": event.state,
        "max_score": event.max_score,
        "first_seen": local_time(event.first_seen),
        "confirmed_at": local_time(event.confirmed_at),
        "last_seen": local_time(event.last_seen),
        "closed_at": local_time(event.closed_at),
        "track_id": event.track_id,
        "best_box": list(event.best_box),
        "evidence": asdict(event.evidence),
        "disposition": disposition,
    }
    if held is not None:
        found["legal_hold"] = held
    return found


def camera_json(camera: CameraStatus) -> dict[str, Any]:
    return {
        "name": camera.name,
        "url": camera.url,
        "kind": camera.kind,
        "state": camera.state,
        "reason": camera.reason,
        "state_at": local_time(camera.state_at),
        "recent": [{"state": c.state, "reason": c.reason, "at": local_time(c.at)} for c in camera.recent],
    }


def format_events(events: list[ThreatEvent], store: str, camera: str | None = None,
                  dispositions: dict[str, str] | None = None, held: set[str] | frozenset[str] = frozenset()) -> str:
    """`held`: ids under a legal hold, marked in the evidence column (retention never prunes them)."""
    of_camera = f" of camera {camera}" if camera else ""
    if not events:
        return f"no threat events{of_camera} in {store}"
    said = dispositions or {}
    header = ["id", "camera", "state", "said", "score", "first seen", "last seen", "evidence"]
    rows = [
        [e.id, e.camera, e.state, said.get(e.id, "-").replace("_", " "), f"{e.max_score:.2f}",
         seconds_text(e.first_seen), seconds_text(e.last_seen), _evidence(e) + (" (legal hold)" * (e.id in held))]
        for e in events
    ]
    return f"{len(events)} threat event(s){of_camera} in {store}, newest first:\n" + text_table([header, *rows])


def format_camera_status(cameras: list[CameraStatus], store: str, last_run: WatchRun | None = None,
                         now: float | None = None) -> str:
    """`last_run`: the newest `gunwatch watch` run, said first (whether cameras are watched at all)."""
    run = [] if last_run is None else [run_text(last_run, time.time() if now is None else now)]
    if not cameras:
        return "\n".join([f"no cameras in {store}", *run])
    lines = [f"{len(cameras)} camera(s) in {store}:", *run]
    for camera in cameras:
        state = f"{camera.state} since {seconds_text(camera.state_at)}" if camera.state else "no health recorded yet"
        about = ", ".join(filter(None, [camera.kind, camera.url]))
        lines.append(f"{camera.name}: {state}" + (f" ({about})" if about else ""))
        lines += [f"  {line}" for line in text_table([_change_row(change) for change in camera.recent]).splitlines()]
    return "\n".join(lines)


def run_text(run: WatchRun, now: float) -> str:
    """One line on a watch run: running (with its heartbeat's age), stopped, failed or crashed."""
    head = f"last watch run: {run.label}, started {seconds_text(run.started_at)}"
    if run.ending is None:
        return f"{head}, running (last heartbeat {max(0.0, now - run.heartbeat_at):.0f} s ago)"
    ended = {"stopped": "stopped", "failed": "stopped on an error", "crashed": "crashed, found"}[run.ending]
    note = f" ({run.note})" if run.note else ""
    return f"{head}, {ended} {seconds_text(run.stopped_at)}{note}"


def _change_row(change: HealthChange) -> list[str]:
    return [seconds_text(change.at), change.state, change.reason or ""]


def seconds_text(epoch: float | None) -> str:
    return local_time(epoch, "seconds") or "-"


def _evidence(event: ThreatEvent) -> str:
    paths = [event.evidence.snapshot, event.evidence.annotated, event.evidence.clip]
    return " ".join(path for path in paths if path) or "-"


def text_table(rows: list[list[str]]) -> str:
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) for row in rows)
    return "\n".join(line.rstrip() for line in lines)
