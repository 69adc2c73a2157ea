"""Signed, expiring links that let a recipient act on an event from the message itself.

A token carries the event, the action, who it was sent to and when it expires, signed with HMAC-SHA256;
nothing is stored per link. Opening a link shows a page with one button: the action happens on POST, so
mail scanners and link previews, which fetch every URL they see, cannot acknowledge or cancel anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from gunwatch.alerts.message import MessageKind
from gunwatch.config.alerts import LinkSettings

ACTIONS = ("ack", "confirm", "false_alarm", "resolve")
# Which actions each kind of message offers.
OFFERED: dict[str, tuple[str, ...]] = {
    "pre_alert": ("confirm", "false_alarm"),
    "alert": ("ack", "false_alarm", "resolve"),
    "escalation": ("ack", "false_alarm", "resolve"),
}


class LinkError(ValueError):
    """A token that is malformed, forged or expired; the message says which."""


@dataclass(frozen=True)
class LinkClaim:
    event_id: str
    action: str
    recipient: str | None
    expires_at: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())


def make_token(secret: str, event_id: str, action: str, recipient: str | None, expires_at: float) -> str:
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; known: {', '.join(ACTIONS)}")
    body = _b64(json.dumps({"e": event_id, "a": action, "r": recipient, "x": int(expires_at)},
                           separators=(",", ":")).encode())
    return f"{body}.{_signature(secret, body)}"


def read_token(secret: str, token: str, now: float | None = None) -> LinkClaim:
    body, dot, signature = token.partition(".")
    if not dot or not body or not signature:
        raise LinkError("not a gunwatch link")
    if not hmac.compare_digest(signature, _signature(secret, body)):
        raise LinkError("the link's signature does not match (altered, or from another site)")
    try:
        data = json.loads(_unb64(body))
        claim = LinkClaim(str(data["e"]), str(data["a"]), data.get("r"), float(data["x"]))
    except (ValueError, KeyError, TypeError):
        raise LinkError("not a gunwatch link") from None
    if claim.action not in ACTIONS:
        raise LinkError(f"unknown action {claim.action!r}")
    if (time.time() if now is None else now) > claim.expires_at:
        raise LinkError("the link has expired")
    return claim


def message_links(settings: LinkSettings, kind: MessageKind, event_id: str | None, recipient: str | None,
                  now: float) -> dict[str, str]:
    """The action links a message of `kind` carries (none without a base URL, or for cancels)."""
    if settings.base_url is None or settings.secret is None or event_id is None:
        return {}
    base = settings.base_url.rstrip("/")
    expires_at = now + settings.expire_s
    return {action: f"{base}/act/{make_token(settings.secret, event_id, action, recipient, expires_at)}"
            for action in OFFERED.get(kind, ())}
