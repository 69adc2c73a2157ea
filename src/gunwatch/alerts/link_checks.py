"""Whether a validly signed link still applies, and revoking links before they expire.

A signature says the site issued a link; it cannot say the link is still wanted. A link stops working:

- when it is revoked: one link by its id, or every link of an event issued until then
  (`gunwatch event revoke-links`, or `LinkRevocations.revoke`);
- when the event has left the stage the link was issued for: a pre-alert's links (confirm, false alarm)
  die once the event was confirmed or acknowledged, or its protocol went on without an answer. A verifier
  who looks too late can no longer call off what the alert started; the alert's own links can.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from gunwatch.alerts import audit
from gunwatch.alerts.links import LinkClaim
from gunwatch.events.store import EventStore
from gunwatch.events.store.schema import DispositionRow, ProtocolRunRow, RevokedLinkRow

# Run states after the verification gate: the alerts went out.
_PAST_VERIFICATION = ("running", "waiting_ack", "done")


def link_refusal(session: Session, claim: LinkClaim) -> str | None:
    """Why the link of `claim` no longer applies, or None. Read inside the action's own transaction, so a
    revocation or confirmation committing first is seen."""
    revoked = session.scalars(select(RevokedLinkRow).where(
        RevokedLinkRow.event_id == claim.event_id,
        or_(RevokedLinkRow.token_id == claim.token_id,
            and_(RevokedLinkRow.token_id.is_(None), RevokedLinkRow.revoked_at >= claim.issued_at)))
        .order_by(RevokedLinkRow.id).limit(1)).first()
    if revoked is not None:
        return f"it was revoked by {revoked.actor}"
    if claim.kind == "pre_alert":
        return _verification_over(session, claim.event_id)
    return None


def _verification_over(session: Session, event_id: str) -> str | None:
    word = session.get(DispositionRow, event_id)
    if word is not None and word.disposition in ("confirmed", "acknowledged"):
        return f"the event was {word.disposition} by {word.actor}; the pre-alert's links no longer apply"
    moved_on = session.scalars(select(ProtocolRunRow.id).where(
        ProtocolRunRow.event_id == event_id,
        or_(ProtocolRunRow.state.in_(_PAST_VERIFICATION), ProtocolRunRow.escalated == 1)).limit(1)).first()
    if moved_on is not None:
        return "the verification is over and the alert went out; use the alert's link"
    return None


@dataclass(frozen=True)
class Revocation:
    event_id: str
    token_id: str | None  # None: every link of the event issued until `at`
    at: float


class LinkRevocations:
    def __init__(self, store: EventStore):
        self.store = store

    def revoke(self, event_id: str, actor: str, token_ids: list[str] | None = None, reason: str | None = None,
               now: float | None = None) -> list[Revocation]:
        """Revoke the listed links of the event, or (None) every link of it issued until now; links issued
        later (an escalation) work. Recorded in the audit log."""
        now = time.time() if now is None else now
        ids: list[str | None] = list(token_ids) if token_ids is not None else [None]
        with self.store.errors(f"cannot revoke links of event {event_id} in"), \
                self.store.write_session.begin() as session:
            for token_id in ids:
                session.add(RevokedLinkRow(event_id=event_id, token_id=token_id, revoked_at=now, actor=actor,
                                           reason=reason))
                audit.append(session, actor, "links.revoked", event_id, at=now,
                             links=token_id or "all issued until now", reason=reason)
        return [Revocation(event_id, token_id, now) for token_id in ids]

    def refusal(self, claim: LinkClaim) -> str | None:
        """`link_refusal` in a read transaction of its own (showing a page; the POST checks again)."""
        with self.store.errors("cannot read"), self.store.read_session() as session:
            return link_refusal(session, claim)
