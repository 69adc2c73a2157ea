"""Signed, expiring links that let a recipient act on an event from the message itself.

A token carries the event, the action, the kind of message it came in (pre_alert, alert, escalation), who
it was sent to, its own random id, when it was issued and when it expires, signed with HMAC-SHA256 under
a key of its own kind (derived from the site's link secret): a pre-alert's token is no alert token, and
no token offers an action its kind does not (a false-alarm link cannot resolve). Nothing is stored per
link: tokens are minted when a message goes out on a per-person channel, and checked against the
revocations (`alerts.link_checks`) when used. Opening a link shows a page with one button: the action
happens on POST, so mail scanners and link previews, which fetch every URL they see, cannot acknowledge
or cancel anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import secrets
import time
from dataclasses import dataclass

from gunwatch.config.alerts import LINK_KINDS, LinkSettings

ACTIONS = ("ack", "confirm", "false_alarm", "resolve")
# Which actions each kind of message offers (the other kinds carry no links).
OFFERED: dict[str, tuple[str, ...]] = {
    "pre_alert": ("confirm", "false_alarm"),
    "alert": ("ack", "false_alarm", "resolve"),
    "escalation": ("ack", "false_alarm", "resolve"),
}
assert set(OFFERED) == set(LINK_KINDS)
VERSION = 2
MAX_TOKEN = 1024  # characters; a real token is about 250


class LinkError(ValueError):
    """A token that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class LinkClaim:
    event_id: str
    action: str
    kind: str  # the message kind it was issued in: pre_alert, alert or escalation
    recipient: str | None
    token_id: str
    issued_at: float
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def kind_key(secret: str, kind: str) -> bytes:
    """The signing key of one kind of link: a leaked or guessed token of one kind says nothing of another's."""
    return hmac.new(secret.encode(), f"gunwatch-link/v{VERSION}/{kind}".encode(), hashlib.sha256).digest()


def _signature(secret: str, kind: str, body: str) -> bytes:
    return _b64(hmac.new(kind_key(secret, kind), body.encode(), hashlib.sha256).digest()).encode()


def make_token(secret: str, event_id: str, action: str, kind: str, recipient: str | None, issued_at: float,
               expires_at: float, token_id: str | None = None) -> str:
    if kind not in OFFERED:
        raise ValueError(f"messages of kind {kind!r} carry no links; kinds with links: {', '.join(OFFERED)}")
    if action not in OFFERED[kind]:
        raise ValueError(f"a {kind} offers {', '.join(OFFERED[kind])}, not {action!r}")
    # Issued time rounded down: a revocation of "every link until now" never misses one issued before it.
    claims = {"v": VERSION, "e": event_id, "a": action, "k": kind, "r": recipient,
              "i": token_id or secrets.token_hex(12), "t": math.floor(issued_at * 1000) / 1000, "x": int(expires_at)}
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{_signature(secret, kind, body).decode()}"


def read_token(secret: str, token: str, now: float | None = None) -> LinkClaim:
    """The claim of a token this site signed, or LinkError. Checks signature, kind, action and expiry; not
    revocation nor the event's state (`alerts.link_checks`), which need the store."""
    # Bytes of ASCII text only: compare_digest raises on non-ASCII str, which would be a server error.
    if len(token) > MAX_TOKEN or not token.isascii():
        raise LinkError("not a gunwatch link")
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature:
        raise LinkError("not a gunwatch link")
    # The kind is inside the signed body: try each kind's key, so nothing unsigned is parsed.
    kind = next((k for k in OFFERED if hmac.compare_digest(signature.encode(), _signature(secret, k, body))), None)
    if kind is None:
        raise LinkError("the link's signature does not match (altered, from another site, or of an older gunwatch)")
    try:
        data = json.loads(_unb64(body))
        claim = LinkClaim(str(data["e"]), str(data["a"]), str(data["k"]), data.get("r"), str(data["i"]),
                          float(data["t"]), float(data["x"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("not a gunwatch link") from None
    if data.get("v") != VERSION or claim.kind != kind or claim.action not in OFFERED[kind]:
        raise LinkError("not a gunwatch link")
    if (time.time() if now is None else now) > claim.expires_at:
        raise LinkError("the link has expired")
    return claim


def unverified_claim(token: str) -> LinkClaim:
    """What a token says, without checking its signature: to revoke a link (revoking a forged one harms
    nothing). LinkError when it is not shaped like a token."""
    body = token.rpartition("/")[2].partition(".")[0] if token.isascii() else ""
    try:
        data = json.loads(_unb64(body))
        return LinkClaim(str(data["e"]), str(data["a"]), str(data["k"]), data.get("r"), str(data["i"]),
                         float(data["t"]), float(data["x"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("not a gunwatch link") from None


def snapshot_link(links: dict[str, str]) -> str | None:
    """The link to the event's picture that goes with one person's action links: `/act/TOKEN/snapshot` of
    the first of them. It opens only the picture (a GET), checked as the action link is (signature, expiry,
    revocation, stage); it reveals nothing the message does not carry already. None without links."""
    first = next(iter(links.values()), None)
    return None if first is None else f"{first}/snapshot"


def message_links(settings: LinkSettings, kind: str, event_id: str | None, recipient: str | None,
                  now: float) -> dict[str, str]:
    """The action links a message of `kind` to one person carries (none without a base URL, or for cancels).
    Minted when the message is sent, never stored: see `alerts.outbox.executor`."""
    if settings.base_url is None or settings.secret is None or event_id is None or kind not in OFFERED:
        return {}
    base = settings.base_url.rstrip("/")
    expires_at = now + settings.expire_s.of(kind)
    return {action: f"{base}/act/{make_token(settings.secret, event_id, action, kind, recipient, now, expires_at)}"
            for action in OFFERED[kind]}
