"""Threat event changes as one line each, for a person watching the console."""

from __future__ import annotations

import time

from gunwatch.events.model import ThreatEvent


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at % 1 * 1000):03d}"


def event_line(event: ThreatEvent) -> str:
    """`12:00:01.250 THREAT open    lobby  handgun 0.91  zone entrance  (seen 0.62 s before)  id 3f2a...`"""
    if event.state == "closed" and event.closed_at is not None:
        at, detail = event.closed_at, f"gone since {clock(event.last_seen)}"
    elif event.state == "open":
        at, detail = event.confirmed_at, f"first seen {event.confirmed_at - event.first_seen:.2f} s before"
    else:
        at, detail = event.last_seen, f"best {event.max_score:.2f}"
    files = [path for path in (event.evidence.snapshot, event.evidence.clip) if path]
    evidence = f"  evidence {', '.join(files)}" if files else ""
    zone = f"  zone {event.zone}" if event.zone else ""
    return (f"{clock(at)} THREAT {event.state:<7} {event.camera}  handgun {event.max_score:.2f}{zone}  ({detail})"
            f"  id {event.id[:8]}{evidence}")
