"""The console's HTML: a layout, the alert banner, the live wall, the events timeline, an event's page and
the cameras' page. Rendered on the server, everything shown escaped; `static/console.js` only swaps in
fresh fragments of these when the event stream says something changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from gunwatch.alerts.audit import AuditEntry
from gunwatch.alerts.outbox import Delivery
from gunwatch.events.model import ThreatEvent
from gunwatch.service.cameras import CameraView
from gunwatch.service.events import EventDetail
from gunwatch.users.principal import Principal

# The four actions, their button, and the key that presses it (console.js).
ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("confirm", "Confirm: real gun", "c"),
    ("false_alarm", "False alarm", "f"),
    ("ack", "Acknowledge", "a"),
    ("resolve", "Resolve", "r"),
)
FINAL = ("false_alarm", "resolved")
NAV = (("/", "Live"), ("/events", "Events"), ("/cameras", "Cameras"))
STATE_FILTERS = ("open", "updated", "closed")
DISPOSITION_FILTERS = ("none", "acknowledged", "confirmed", "false_alarm", "resolved")


@dataclass(frozen=True)
class BannerAlert:
    """An event someone still has to act on (nobody answered, or it was acknowledged or confirmed and is not
    resolved yet), with its protocol's progress."""

    event: ThreatEvent
    disposition: str | None
    actor: str | None
    deliveries: Sequence[Delivery]
    runs: Sequence[Any]  # alerts.history.RunSummary


def clock(at: float | None) -> str:
    """A time with its zone: whoever reads it may sit in another one than the cameras."""
    return "-" if at is None else datetime.fromtimestamp(at).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _e(value: object) -> str:
    return escape(str(value))


def _badge(state: str | None) -> str:
    text = (state or "unknown").replace("_", " ")
    return f"<span class=\"badge {_e(state or 'unknown')}\">{_e(text)}</span>"


def layout(title: str, body: str, *, user: Principal, csrf: str, here: str, live_fps: float, banner: str = "") -> str:
    """A whole page: the header, the banner (filled again by the script on every change), the body."""
    current = ' class="here"'
    links = [*NAV, *((("/users", "Users"),) if user.may("admin") else ()), ("/account", "Account")]
    nav = "".join(f"<a href=\"{href}\"{current if href == here else ''}>{_e(label)}</a>" for href, label in links)
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            "<meta name=\"robots\" content=\"noindex,nofollow\">"
            f"<meta name=\"csrf-token\" content=\"{_e(csrf)}\">"
            f"<title>{_e(title)} - gunwatch</title><link rel=\"stylesheet\" href=\"/static/console.css\">"
            "<script src=\"/static/console.js\" defer></script></head>"
            f"<body data-live-fps=\"{live_fps:g}\"><header><span class=\"brand\">gunwatch</span>{nav}"
            f"<span class=\"small\">{_e(user.name)} ({_e(user.role)})</span>"
            f"<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf)}\">"
            "<button type=\"submit\">Sign out</button></form></header>"
            f"<div id=\"banner\">{banner}</div>"
            f"<main><button id=\"sound-off\" hidden>Sound is off: click anywhere to hear alerts</button>"
            f"<p id=\"status\" role=\"status\"></p><h1>{_e(title)}</h1>{body}</main></body></html>")


def action_form(event_id: str, disposition: str | None, csrf: str, main: bool = False) -> str:
    """The four buttons (those that still apply) and a note; posts to the console's own action route."""
    if disposition in FINAL:
        return ""
    buttons = "".join(
        f"<button type=\"submit\" name=\"action\" value=\"{action}\">{_e(label)}<kbd>{key}</kbd></button>"
        for action, label, key in ACTIONS
        if not (action == "ack" and disposition in ("acknowledged", "confirmed"))
        and not (action == "confirm" and disposition == "confirmed"))
    return (f"<form class=\"act actions{' main' if main else ''}\" method=\"post\" "
            f"action=\"/events/{quote(event_id)}/act\"><input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf)}\">"
            "<input type=\"text\" name=\"note\" maxlength=\"500\" placeholder=\"note for the log (optional)\" "
            f"autocomplete=\"off\">{buttons}</form>")


def _progress(deliveries: Sequence[Delivery], runs: Sequence[Any]) -> str:
    if not deliveries and not runs:
        return "<p class=\"progress\">No protocol ran for this event.</p>"
    counts: dict[str, int] = {}
    for delivery in deliveries:
        counts[delivery.status] = counts.get(delivery.status, 0) + 1
    parts = [f"{n} {status}" for status, n in sorted(counts.items())]
    steps = ", ".join(f"{_e(r.protocol)}: {_e(r.state.replace('_', ' '))}" + (" (escalated)" if r.escalated else "")
                      for r in runs)
    sent = _e(", ".join(parts) or "none")
    return f"<p class=\"progress\">{steps}{' - ' if steps and parts else ''}deliveries: {sent}</p>"


def banner(alerts: Iterable[BannerAlert], user: Principal, csrf: str) -> str:
    """Every alert still to act on, newest first; red and sounding while nobody answered."""
    out = []
    for alert in alerts:
        event = alert.event
        unacted = alert.disposition is None
        which = "annotated" if event.evidence.annotated else "snapshot" if event.evidence.snapshot else None
        picture = f"/api/events/{quote(event.id)}/{which}" if which else ""
        said = "" if alert.disposition is None else f" - {_e(alert.disposition.replace('_', ' '))} by {_e(alert.actor)}"
        actions = action_form(event.id, alert.disposition, csrf) if user.may("events:act") else (
            "<p class=\"small\">You may see this alert; an operator acts on it.</p>")
        image = (f"<a href=\"/events/{quote(event.id)}\"><img src=\"{picture}\" alt=\"best frame\"></a>"
                 if picture else "<div></div>")
        out.append(
            f"<section class=\"alert{' unacted' if unacted else ''}\" data-event=\"{_e(event.id)}\">{image}<div>"
            f"<h2>Gun on <a href=\"/events/{quote(event.id)}\">{_e(event.camera)}</a>"
            f"{' - ' + _e(event.zone) if event.zone else ''}</h2>"
            f"<p class=\"facts\">score {event.max_score:.2f} - confirmed {clock(event.confirmed_at)} "
            f"(<span data-ts=\"{event.confirmed_at}\"></span>){said}</p>"
            f"{actions}{_progress(alert.deliveries, alert.runs)}</div></section>")
    return "".join(out)


def wall(cameras: Sequence[CameraView], has_live: bool) -> str:
    if not cameras:
        return "<p>No cameras you may see.</p>"
    tiles = []
    for camera in cameras:
        now = camera.live
        state = now.state if now is not None else camera.state
        numbers = (f"<span>{now.fps_analysed:.1f} fps</span><span>top {now.top_score:.2f}/{now.threshold:.2f}</span>"
                   if now is not None else "")
        image = (f"<img data-live=\"/api/cameras/{quote(camera.name)}/frame.jpg\" alt=\"{_e(camera.name)} live\">"
                 if has_live else "<img alt=\"no live view from this console\">")
        reason = camera.reason if now is None else now.reason
        tiles.append(
            f"<a class=\"tile {_e(state or 'unknown')}\" href=\"/cameras/{quote(camera.name)}\" "
            f"data-camera=\"{_e(camera.name)}\">{image}<div class=\"caption\"><b>{_e(camera.name)}</b>"
            f"{_badge(state)}{numbers}</div>"
            + (f"<div class=\"caption small\">{_e(reason)}</div>" if reason and state != "online" else "") + "</a>")
    note = "" if has_live else ("<p class=\"small\">This console reads the store of a watch running elsewhere: "
                                "health only, no live frames.</p>")
    return note + f"<div class=\"wall\">{''.join(tiles)}</div>"


def camera_page(camera: CameraView, history: Sequence[Any], has_live: bool) -> str:
    now = camera.live
    image = (f"<div class=\"large\"><img data-live=\"/api/cameras/{quote(camera.name)}/frame.jpg\" "
             f"alt=\"{_e(camera.name)} live\"></div>" if has_live else "")
    reason = (now.reason if now else camera.reason) or "-"
    facts = [("State", _badge(now.state if now else camera.state)), ("Reason", _e(reason)),
             ("Since", _e(clock(camera.state_at))), ("Kind", _e(camera.kind or "-"))]
    if now is not None:
        facts += [("Frames in", f"{now.frames_in} ({now.fps_in:.1f}/s)"), ("Dropped", str(now.dropped)),
                  ("Analysed", f"{now.analysed} ({now.fps_analysed:.1f}/s)"), ("Inference", f"{now.infer_ms:.0f} ms"),
                  ("Motion share", f"{now.motion_share:.0%}"), ("Top gun score", f"{now.top_score:.2f} "
                                                                             f"(counts from {now.threshold:.2f})"),
                  ("Events", str(now.events)), ("Restarts", str(now.restarts))]
    rows = "".join(f"<tr><td>{_e(clock(h.at))}</td><td>{_badge(h.state)}</td><td>{_e(h.reason or '')}</td></tr>"
                   for h in history)
    return (image + "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"
            "<h2>Health history</h2><div class=\"scroll\"><table><tr><th>time</th><th>state</th><th>reason</th></tr>"
            f"{rows or '<tr><td colspan=3>none recorded</td></tr>'}</table></div>")


def cameras_page(cameras: Sequence[CameraView], channels: Sequence[Any]) -> str:
    rows = []
    for camera in cameras:
        now = camera.live
        numbers = ([str(now.frames_in), str(now.dropped), str(now.analysed), f"{now.infer_ms:.0f}",
                    f"{now.motion_share:.0%}", f"{now.top_score:.2f}"] if now else ["-"] * 6)
        rows.append(f"<tr><td><a href=\"/cameras/{quote(camera.name)}\">{_e(camera.name)}</a></td>"
                    f"<td>{_badge(now.state if now else camera.state)}</td>"
                    f"<td>{_e((now.reason if now else camera.reason) or '')}</td>"
                    + "".join(f"<td>{_e(n)}</td>" for n in numbers) + "</tr>")
    table = ("<div class=\"scroll\"><table><tr><th>camera</th><th>state</th><th>reason</th><th>frames in</th>"
             "<th>dropped</th><th>analysed</th><th>inference ms</th><th>motion share</th><th>top score</th></tr>"
             + "".join(rows) + "</table></div>")
    return table + "<h2>Alert channels</h2>" + channels_table(channels)


def channels_table(channels: Sequence[Any]) -> str:
    if not channels:
        return "<p class=\"small\">No channel has delivered anything yet.</p>"
    rows = "".join(
        f"<tr><td>{_e(c.channel)}</td><td>{_badge(c.state)}</td><td>{c.delivered}</td><td>{c.failed}</td>"
        f"<td>{c.pending}{_waiting(c.oldest_pending_age_s)}</td><td>{_e(clock(c.last_delivered_at))}</td>"
        f"<td>{_e(clock(c.last_error_at))} {_e(c.last_error or '')}</td></tr>" for c in channels)
    return ("<div class=\"scroll\"><table><tr><th>channel</th><th>state</th><th>delivered</th><th>failed</th>"
            f"<th>pending</th><th>last delivered</th><th>last failure</th></tr>{rows}</table></div>")


def _waiting(age_s: float | None) -> str:
    return "" if age_s is None else f" (oldest {age_s:.0f} s)"


def events_page(events: Sequence[tuple[ThreatEvent, str | None]], cameras: Sequence[str], chosen: dict[str, str],
                next_before: float | None) -> str:
    def options(name: str, values: Iterable[str]) -> str:
        return (f"<label>{name}<select name=\"{name}\"><option value=\"\">any</option>" + "".join(
            f"<option value=\"{_e(v)}\"{' selected' if chosen.get(name) == v else ''}>"
            f"{_e(v.replace('_', ' '))}</option>"
            for v in values) + "</select></label>")

    filters = ("<form class=\"filters\" method=\"get\">" + options("camera", cameras) + options("state", STATE_FILTERS)
               + options("disposition", DISPOSITION_FILTERS)
               + "".join(f"<label>{name}<input type=\"datetime-local\" name=\"{name}\" "
                         f"value=\"{_e(chosen.get(name, ''))}\"></label>" for name in ("since", "until"))
               + "<button type=\"submit\">Show</button></form>")
    rows = "".join(
        f"<tr><td><a href=\"/events/{quote(e.id)}\">{_e(clock(e.confirmed_at))}</a></td><td>{_e(e.camera)}</td>"
        f"<td>{_e(e.zone or '-')}</td><td>{e.max_score:.2f}</td><td>{_badge(e.state)}</td>"
        f"<td>{_badge(d) if d else '-'}</td>"
        f"<td>{'clip' if e.evidence.clip else ''}</td></tr>" for e, d in events)
    more = "" if next_before is None else (
        f"<p><a href=\"/events?{_e(urlencode({**chosen, 'before': repr(next_before)}))}\">older events</a></p>")
    return (filters + "<div class=\"scroll\"><table><tr><th>confirmed</th><th>camera</th><th>zone</th><th>score</th>"
            f"<th>state</th><th>disposition</th><th></th></tr>{rows or '<tr><td colspan=7>no events</td></tr>'}"
            f"</table></div>{more}")


def event_page(history: EventDetail, user: Principal, csrf: str) -> str:
    event = history.event
    assert event is not None
    said = history.disposition
    disposition = said.disposition if said else None
    base = f"/api/events/{quote(event.id)}"
    pictures = []
    if event.evidence.clip:
        pictures.append(f"<figure><video controls preload=\"metadata\" src=\"{base}/clip\"></video>"
                        "<figcaption class=\"small\">clip</figcaption></figure>")
    for which, caption in (("annotated", "best frame, the box that fired"), ("snapshot", "best frame, clean")):
        if getattr(event.evidence, which):
            pictures.append(f"<figure><img src=\"{base}/{which}\" alt=\"{caption}\"><figcaption class=\"small\">"
                            f"{caption}</figcaption></figure>")
    facts = [("Camera", f"<a href=\"/cameras/{quote(event.camera)}\">{_e(event.camera)}</a>"),
             ("Zone", _e(event.zone or "-")), ("Score", f"{event.max_score:.2f}"),
             ("First seen", _e(clock(event.first_seen))), ("Confirmed", _e(clock(event.confirmed_at))),
             ("Last seen", _e(clock(event.last_seen))), ("State", _badge(event.state)),
             ("Disposition", (_badge(said.disposition) + f" by {_e(said.actor)} at {_e(clock(said.at))}")
              if said else "none yet"),
             ("Event", _e(event.id))]
    actions = action_form(event.id, disposition, csrf, main=True) if user.may("events:act") else ""
    return (f"<div class=\"pictures\">{''.join(pictures) or '<p>No evidence was written.</p>'}</div>"
            "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + f"</dl>{actions}"
            f"<div data-fragment=\"/events/{quote(event.id)}/story\">{event_story(history)}</div>")


def event_story(history: EventDetail) -> str:
    """Protocol runs, deliveries and the audit log: the part of an event's page that changes live."""
    runs = "".join(f"<tr><td>{r.id}</td><td>{_e(r.protocol)}</td><td>{_e(r.trigger)}</td><td>{_badge(r.state)}"
                   f"{' escalated' if r.escalated else ''}</td><td>{r.step}</td><td>{_e(clock(r.started_at))}</td></tr>"
                   for r in history.runs)
    deliveries = "".join(
        f"<tr><td>{_e(d.kind)}</td><td>{_e(d.channel or d.action)}</td><td>{_e(d.recipient or '-')}</td>"
        f"<td>{_badge(d.status)}</td><td>{d.attempts}</td><td>{_e(clock(d.delivered_at))}</td>"
        f"<td>{_e((d.last_error or '')[:120])}</td></tr>" for d in history.deliveries)
    audit = "".join(f"<tr><td>{_e(clock(a.at))}</td><td>{_e(a.actor)}</td><td>{_e(a.action)}</td>"
                    f"<td>{_e(_detail(a))}</td></tr>" for a in history.audit)
    return ("<h2>Protocol runs</h2><div class=\"scroll\"><table><tr><th>run</th><th>protocol</th><th>trigger</th>"
            f"<th>state</th><th>next step</th><th>started</th></tr>{runs or '<tr><td colspan=6>none</td></tr>'}"
            "</table></div><h2>Deliveries</h2><div class=\"scroll\"><table><tr><th>kind</th><th>channel</th>"
            "<th>recipient</th><th>status</th><th>tries</th><th>delivered</th><th>error</th></tr>"
            f"{deliveries or '<tr><td colspan=7>none</td></tr>'}</table></div>"
            "<h2>History</h2><div class=\"scroll\"><table><tr><th>time</th><th>by</th><th>what</th><th>detail</th></tr>"
            f"{audit or '<tr><td colspan=4>none</td></tr>'}</table></div>")


def _detail(entry: AuditEntry) -> str:
    shown = {k: v for k, v in entry.detail.items() if v not in (None, [], "")}
    return ", ".join(f"{k}={v}" for k, v in shown.items())[:200]


def account_page(user: Principal, csrf: str) -> str:
    cameras = "every camera" if user.cameras is None else ", ".join(sorted(user.cameras)) or "none"
    return (f"<dl><dt>User</dt><dd>{_e(user.name)}</dd><dt>Role</dt><dd>{_e(user.role)}</dd>"
            f"<dt>Cameras</dt><dd>{_e(cameras)}</dd><dt>May</dt><dd>{_e(', '.join(sorted(user.scopes)))}</dd></dl>"
            "<form method=\"post\" action=\"/logout/all\">"
            f"<input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf)}\">"
            "<p>A lost phone or a shared screen: end every sign-in of yours, on every device.</p>"
            "<div class=\"actions\"><button type=\"submit\">Sign out everywhere</button></div></form>"
            "<p class=\"small\">A new password: <code>gunwatch user passwd NAME</code> on the gunwatch host.</p>")


def users_page(users: Sequence[Any], tokens: Sequence[Any], csrf: str, now: float) -> str:
    """Users and API tokens, for admins; tokens can be revoked here, users are managed with `gunwatch user`."""
    user_rows = "".join(
        f"<tr><td>{_e(u.name)}</td><td>{_e(u.role)}</td>"
        f"<td>{_e('every camera' if u.cameras is None else ', '.join(sorted(u.cameras)))}</td>"
        f"<td>{_e(clock(u.created_at))}</td></tr>" for u in users)
    token_rows = []
    for t in tokens:
        active = t.active(now)
        revoke = (f"<form method=\"post\" action=\"/users/tokens/{quote(t.name)}/revoke\">"
                  f"<input type=\"hidden\" name=\"csrf\" value=\"{_e(csrf)}\">"
                  "<div class=\"actions\"><button type=\"submit\">Revoke</button></div></form>") if active else ""
        state = "active" if active else "revoked" if t.revoked_at else "expired"
        token_rows.append(f"<tr><td>{_e(t.name)}</td><td>{_e(t.user)}</td><td>{_e(', '.join(sorted(t.scopes)))}</td>"
                          f"<td>{_e(clock(t.last_used_at))}</td><td>{_badge(state)}</td><td>{revoke}</td></tr>")
    return ("<h2>Users</h2><div class=\"scroll\"><table><tr><th>name</th><th>role</th><th>cameras</th><th>added</th>"
            f"</tr>{user_rows or '<tr><td colspan=4>none</td></tr>'}</table></div>"
            "<p class=\"small\">Add, remove and change users on the gunwatch host: <code>gunwatch user add NAME "
            "--role operator [--camera C]</code>, <code>gunwatch user access</code>, <code>gunwatch user remove</code>."
            "</p><h2>API tokens</h2><div class=\"scroll\"><table><tr><th>name</th><th>user</th><th>scopes</th>"
            f"<th>last used</th><th>state</th><th></th></tr>{''.join(token_rows) or '<tr><td colspan=6>none</td></tr>'}"
            "</table></div><p class=\"small\">New tokens: <code>gunwatch token add NAME --user U --scope S</code> "
            "(the secret is shown once).</p>")
