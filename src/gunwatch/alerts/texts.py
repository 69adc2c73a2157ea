"""What each kind of message says: titles people can act on from a lock screen, bodies with the facts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gunwatch.alerts.message import THREAT_KINDS, AlertMessage, MessageKind

# An alert does not wait for its picture (a hung evidence disk must not delay it): it says so, and the picture
# follows in a message of its own (`alerts.pictures`), or is attached if it comes before the alert is sent.
NO_SNAPSHOT = "Snapshot not available yet: it follows in a later message."


def _clock(at: float | None) -> str:
    """`14:03:07 CET`: the site's local time with its zone, so a reader in another zone (a district office, a
    phone set to another zone) is never an hour off. A zone without a name shows its offset (`+0530`)."""
    if at is None:
        return "?"
    local = datetime.fromtimestamp(at).astimezone()
    zone = local.strftime("%Z")
    if not zone or zone[0] in "+-":  # tzdata names some zones only by their offset ("+03")
        zone = f"UTC{local.strftime('%z')}"
    return f"{local.strftime('%H:%M:%S')} {zone}"


def _where(context: dict[str, Any]) -> str:
    camera = context.get("camera") or "?"
    zone = context.get("zone")
    return f"{camera} ({zone})" if zone else camera


TITLES: dict[str, str] = {
    "pre_alert": "VERIFY: possible gun on {where}",
    "alert": "GUN DETECTED: {where}",
    "escalation": "ESCALATION: gun on {where}, nobody acknowledged",
    "cancel": "CANCELLED (false alarm): {where}",
    "all_clear": "ALL CLEAR: {where}",
    "camera_offline": "CAMERA OFFLINE: {where}",
    "disk_low": "DISK LOW: the evidence disk is nearly full",
    "snapshot": "SNAPSHOT: gun on {where}",
    "test": "TEST message from gunwatch: no action needed",
}


LATE_TITLE = "LATE ALERT - "  # before a threat's title when the alerts heard of the event only once it was over


def title(kind: MessageKind, context: dict[str, Any]) -> str:
    site = context.get("site")
    text = TITLES[kind].format(where=_where(context))
    if context.get("late") and kind in THREAT_KINDS:
        text = LATE_TITLE + text
    return f"[{site}] {text}" if site else text


def _late(context: dict[str, Any]) -> str:
    return (f"LATE: gunwatch could not raise this alert while it happened (a node or the watch failed meanwhile). "
            f"The gun was last seen {_clock(context.get('last_seen'))}; the event closed "
            f"{_clock(context.get('closed_at'))}. Where the person went is not known.")


def body(kind: MessageKind, context: dict[str, Any]) -> str:
    where, score = _where(context), context.get("score")
    seen = f"first seen {_clock(context.get('first_seen'))}, confirmed {_clock(context.get('confirmed_at'))}"
    score_text = f"score {score:.2f}" if isinstance(score, int | float) else "score ?"
    lines = {
        "pre_alert": [f"Possible handgun on camera {where} ({score_text}, {seen}).",
                      "Look at the snapshot: confirm, or mark a false alarm. No answer soon: the protocol goes on."],
        "alert": [f"Handgun detected on camera {where} ({score_text}, {seen}).", "Follow the site's protocol."],
        "escalation": [f"Handgun detected on camera {where} ({score_text}, {seen}).",
                       "Nobody acknowledged the alert in time: you are being told as the next group."],
        "cancel": [f"The alert for camera {where} was a FALSE ALARM. Stand down: do not act on it."],
        "all_clear": [f"The threat on camera {where} is resolved. All clear."],
        "camera_offline": [f"Camera {where} stopped sending video: {context.get('reason') or 'no reason given'}.",
                           "Check the camera: an attacker may disable cameras first."],
        "disk_low": [f"The evidence disk is below its free-space floor: {context.get('reason') or 'no reason given'}.",
                     "Threats are still detected and alerted, but events may go without their pictures and clips: "
                     "resolve old events (retention then prunes them), free space or enlarge the disk."],
        "snapshot": [f"The snapshot of the alert for camera {where} ({score_text}, {seen}), which went out "
                     "without it."],
        "test": [f"This is a TEST of the alert channel {context.get('channel') or '?'}, sent "
                 f"{_clock(context.get('created_at'))} by `gunwatch alert test`.",
                 "Nothing happened: do not act on it. It shows that alerts on this channel reach you."],
    }[kind]
    if kind in THREAT_KINDS and context.get("late"):
        lines.insert(1, _late(context))
    if kind in THREAT_KINDS and context.get("event_id") and not context.get("snapshot"):
        lines.append(NO_SNAPSHOT)
    if context.get("actor") and kind in ("cancel", "all_clear"):
        # Who, never their note: a link holder's free text must not go to every recipient in the site's name
        # (the note stays in the audit log).
        lines.append(f"Marked by {context['actor']}.")
    if context.get("event_id"):
        lines.append(f"Event {context['event_id']}.")
    return "\n".join(lines)


def make_message(key: str, kind: MessageKind, context: dict[str, Any], created_at: float, *,
                 recipient: str | None = None, step: int | None = None) -> AlertMessage:
    """The message as stored in the outbox: without links, which are minted when it is sent."""
    return AlertMessage(
        key=key, kind=kind, title=title(kind, context), body=body(kind, context), camera=context.get("camera"),
        event_id=context.get("event_id"), zone=context.get("zone"), score=context.get("score"),
        first_seen=context.get("first_seen"), confirmed_at=context.get("confirmed_at"), created_at=created_at,
        site=context.get("site"), protocol=context.get("protocol"), step=step, recipient=recipient,
        snapshot=context.get("snapshot"), snapshot_url=context.get("snapshot_url"),
    )
