"""The HTML pages of the link endpoint: self-contained (no scripts, fonts or images from elsewhere), small,
readable on a phone, and everything shown escaped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape

from gunwatch.alerts.event_actions import FINAL, ActionResult
from gunwatch.alerts.links import LinkClaim
from gunwatch.events.model import ThreatEvent

# the button of each action
ACTION_LABELS: dict[str, str] = {
    "ack": "Acknowledge",
    "confirm": "Confirm: real gun",
    "false_alarm": "False alarm: cancel the alert",
    "resolve": "Resolve: all clear",
}
# the disposition each action leads to
DISPOSITION_OF = {"ack": "acknowledged", "confirm": "confirmed", "false_alarm": "false_alarm", "resolve": "resolved"}



@dataclass(frozen=True)
class CurrentDisposition:
    """The latest word on an event (the event_dispositions row)."""

    disposition: str
    actor: str
    note: str | None
    at: float


_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;background:#f4f4f5;
color:#18181b;line-height:1.4}
main{max-width:36rem;margin:0 auto;background:#fff;border-radius:.75rem;padding:1rem 1.25rem;
box-shadow:0 1px 3px rgba(0,0,0,.15)}
h1{font-size:1.35rem;margin:.25rem 0 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1rem;margin:0 0 1rem}
dt{color:#52525b}dd{margin:0;overflow-wrap:anywhere}
img{display:block;width:100%;height:auto;border-radius:.5rem;margin:0 0 1rem}
label{display:block;margin:0 0 .35rem;color:#52525b}
input[type=text]{box-sizing:border-box;width:100%;font-size:1rem;padding:.6rem;margin:0 0 1rem;
border:1px solid #a1a1aa;border-radius:.5rem}
button{width:100%;font-size:1.15rem;font-weight:600;padding:.9rem;border:0;border-radius:.5rem;color:#fff;
background:#1d4ed8}
button.false_alarm,button.resolve{background:#15803d}button.confirm{background:#b91c1c}
.notice{padding:.75rem;border-radius:.5rem;background:#fef3c7;margin:0 0 1rem}
.ok{background:#dcfce7}.bad{background:#fee2e2}
.small{font-size:.85rem;color:#71717a}
"""


def page(title: str, body: str) -> str:
    """A whole document; `title` is escaped here, `body` must already be."""
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex,nofollow\">"
            f"<title>{escape(title)} - gunwatch</title><style>{_STYLE}</style></head>"
            f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>")


def local_time(at: float | None) -> str:
    return "-" if at is None else datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def disposition_text(disposition: str) -> str:
    return disposition.replace("_", " ")


def console_link(event: ThreatEvent) -> str:
    """From a link's page (BASE/act/TOKEN) into the console's page of the event (BASE/events/ID): relative, so it
    works behind any proxy prefix. The console asks the person to sign in; the link's token goes no further."""
    return (f"<p class=\"small\"><a href=\"../events/{escape(event.id)}\">Open this event in the console</a> "
            "(sign in: its clip, history and every delivery).</p>")


def event_page(token: str, claim: LinkClaim, event: ThreatEvent, current: CurrentDisposition | None,
               has_snapshot: bool, console: bool = False) -> str:
    """The event and one button; the button POSTs to the page's own URL (the form has no action), so the
    page works behind any proxy prefix without knowing its base URL."""
    rows = [("Camera", event.camera), ("Zone", event.zone or "-"), ("Score", f"{event.max_score:.2f}"),
            ("Confirmed", local_time(event.confirmed_at)), ("Event", event.id)]
    parts = ["<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"]
    if has_snapshot:
        # Relative: the page is BASE/act/TOKEN, so this is BASE/act/TOKEN/snapshot.
        parts.append(f"<img src=\"{escape(token)}/snapshot\" alt=\"snapshot of the event on {escape(event.camera)}\">")
    if current is not None:
        # Not the note: one link holder's free text is no message to the others (it is in the audit log).
        parts.append(f"<p class=\"notice\">Currently <b>{escape(disposition_text(current.disposition))}</b> by "
                     f"{escape(current.actor)} at {escape(local_time(current.at))}.</p>")
    if current is not None and current.disposition in FINAL and current.disposition != DISPOSITION_OF[claim.action]:
        # The POST would be refused: say so rather than offer a button that fails.
        closed = escape(disposition_text(current.disposition))
        parts.append(f"<p class=\"notice bad\">This event is closed as {closed}; "
                     f"this link's action ({escape(ACTION_LABELS[claim.action])}) no longer applies.</p>")
    else:
        parts.append("<form method=\"post\">"
                     "<label for=\"note\">Note for the log (optional, not sent to anyone)</label>"
                     "<input type=\"text\" id=\"note\" name=\"note\" maxlength=\"500\" autocomplete=\"off\">"
                     f"<button type=\"submit\" class=\"{escape(claim.action)}\">"
                     f"{escape(ACTION_LABELS[claim.action])}</button></form>")
    if claim.recipient:
        parts.append(f"<p class=\"small\">Link sent to {escape(claim.recipient)}; it works until "
                     f"{escape(local_time(claim.expires_at))}.</p>")
    if console:
        parts.append(console_link(event))
    return page(f"Gun detected on {event.camera}", "".join(parts))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def outcome_text(result: ActionResult) -> str:
    """What happened, in one sentence."""
    if not result.changed:
        return f"Already marked {disposition_text(result.disposition)}; nothing new was sent."
    sent = len(result.withdrawals)
    if result.disposition == "false_alarm":
        return f"Marked false alarm; cancels sent to {_count(sent, 'recipient')}."
    if result.disposition == "resolved":
        return f"Resolved; all-clears sent to {_count(sent, 'recipient')}."
    if result.disposition == "acknowledged":
        return "Acknowledged; escalations stop."
    return "Confirmed as a real gun; the protocol goes on."


def result_page(event: ThreatEvent, result: ActionResult, console: bool = False) -> str:
    body = (f"<p class=\"notice ok\">{escape(outcome_text(result))}</p>"
            f"<dl><dt>Camera</dt><dd>{escape(event.camera)}</dd><dt>Zone</dt><dd>{escape(event.zone or '-')}</dd>"
            f"<dt>Event</dt><dd>{escape(event.id)}</dd></dl>" + (console_link(event) if console else ""))
    return page("Done" if result.changed else "Already done", body)


def error_page(title: str, message: str) -> str:
    return page(title, f"<p class=\"notice bad\">{escape(message)}</p>")
