"""The events retention may touch: closed, called a false alarm or resolved, and not under a legal hold.

An open event, one nobody has answered yet (or only acknowledged or confirmed), and a held one never appear
here, so nothing downstream can prune them by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from gunwatch.events.store.schema import DispositionRow, EventRow, LegalHoldRow

FINAL_DISPOSITIONS = ("false_alarm", "resolved")
EVIDENCE_COLUMNS = ("snapshot", "annotated", "clip")


@dataclass(frozen=True)
class Candidate:
    """A prunable event: `ended_at` is when it closed; `evidence` its files as (column, path as stored)."""

    event_id: str
    camera: str
    ended_at: float
    disposition: str
    evidence: tuple[tuple[str, str], ...]

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(path for _, path in self.evidence)


def prunable_events(session: Session, with_evidence_only: bool = False) -> list[Candidate]:
    """Every prunable event, the oldest (by when it ended) first; `with_evidence_only`: those with evidence
    paths left (when no age deletes events, the ones pruned already are of no more use, and grow for years)."""
    ended = func.coalesce(EventRow.closed_at, EventRow.last_seen)
    query = (
        select(EventRow.id, EventRow.camera, ended, DispositionRow.disposition, EventRow.snapshot,
               EventRow.annotated, EventRow.clip)
        .join(DispositionRow, DispositionRow.event_id == EventRow.id)
        .outerjoin(LegalHoldRow, LegalHoldRow.event_id == EventRow.id)
        .where(EventRow.state == "closed", DispositionRow.disposition.in_(FINAL_DISPOSITIONS),
               LegalHoldRow.event_id.is_(None))
        .order_by(ended, EventRow.id)
    )
    if with_evidence_only:
        query = query.where(or_(EventRow.snapshot.is_not(None), EventRow.annotated.is_not(None),
                                EventRow.clip.is_not(None)))
    return [Candidate(event_id, camera, ended_at, disposition,
                      tuple((column, path) for column, path in zip(EVIDENCE_COLUMNS, files, strict=True) if path))
            for event_id, camera, ended_at, disposition, *files in session.execute(query)]
