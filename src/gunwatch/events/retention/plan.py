"""What a retention pass prunes and why, decided from the prunable events, the settings and the disk alone.

Oldest first throughout: events past `events_days` go whole, evidence past `evidence_days` goes, then more of
the oldest evidence while the folder is over `evidence_max_gb`, then while the disk is below its free-space
floor. Nothing is touched here; `prune` carries a plan out (or only shows it: a dry run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from gunwatch.config.retention import GB, RetentionSettings
from gunwatch.events.retention.candidates import Candidate
from gunwatch.events.retention.disk import DiskUsage, size_text

DAY_S = 86400.0


@dataclass(frozen=True)
class Prune:
    """`event`: the event goes (its row, history and evidence); `evidence`: only its files go."""

    candidate: Candidate
    what: Literal["event", "evidence"]
    reason: str
    space: int  # bytes its files take


@dataclass(frozen=True)
class Plan:
    prunes: tuple[Prune, ...]
    usage: DiskUsage  # the evidence disk before the pass
    evidence_space: int  # bytes under the evidence folder before the pass
    floor: int  # the free bytes the disk must keep

    @property
    def freed(self) -> int:
        return sum(prune.space for prune in self.prunes)

    @property
    def free_after(self) -> int:
        return self.usage.free + self.freed


def make_plan(candidates: list[Candidate], space_of: Callable[[Candidate], int], settings: RetentionSettings,
              now: float, usage: DiskUsage, evidence_space: int) -> Plan:
    """`candidates` oldest first (as `prunable_events` gives them); `space_of` the bytes an event's files take."""
    prunes: list[Prune] = []
    left: list[Candidate] = []  # evidence no age takes: what the size limit and the floor may take
    for candidate in candidates:
        by_age = _by_age(candidate, settings, now)
        if by_age is not None:
            what, reason = by_age
            prunes.append(Prune(candidate, what, reason, space_of(candidate)))
        elif candidate.evidence:
            left.append(candidate)
    freed = sum(prune.space for prune in prunes)

    def take_oldest(reason: str) -> None:
        nonlocal freed
        candidate = left.pop(0)
        prunes.append(Prune(candidate, "evidence", reason, space_of(candidate)))
        freed += prunes[-1].space

    if settings.evidence_max_gb is not None:
        limit = int(settings.evidence_max_gb * GB)
        while left and evidence_space - freed > limit:
            take_oldest(f"the evidence folder takes {size_text(evidence_space - freed)}, over evidence_max_gb "
                        f"({settings.evidence_max_gb:g} GB)")
    floor = settings.floor_bytes(usage.total)
    while left and usage.free + freed < floor:
        take_oldest(f"{size_text(usage.free + freed)} free on the evidence disk, below its floor of "
                    f"{size_text(floor)}")
    return Plan(tuple(prunes), usage, evidence_space, floor)


def _by_age(candidate: Candidate, settings: RetentionSettings, now: float) -> tuple[Literal["event", "evidence"],
                                                                                       str] | None:
    camera = candidate.camera
    days = settings.events_days_of(camera)
    if days is not None and candidate.ended_at <= now - days * DAY_S:
        return "event", f"ended more than {days:g} days ago ({_key('events_days', camera, settings)})"
    days = settings.evidence_days_of(camera)
    if days is not None and candidate.evidence and candidate.ended_at <= now - days * DAY_S:
        return "evidence", f"ended more than {days:g} days ago ({_key('evidence_days', camera, settings)})"
    return None


def _key(name: str, camera: str, settings: RetentionSettings) -> str:
    """The setting that decided: the camera's own, or the site's."""
    override = settings.cameras.get(camera)
    if override is not None and getattr(override, name) is not None:
        return f"retention.cameras.{camera}.{name}"
    return f"retention.{name}"
