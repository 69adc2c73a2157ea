"""Apprise channel: every service apprise knows (slack://, tgram://, ntfy://, twilio://, json://, ...).

A URL holding the literal `{to}` is a template: the address of each send is put there (URL-quoted), so one
channel reaches many chats or phone numbers. A URL without it has one destination and ignores the address.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import apprise

from gunwatch.alerts.channels.base import Channel, DeliveryError
from gunwatch.alerts.message import AlertMessage
from gunwatch.config.channels import AppriseChannelConfig

ADDRESS_SLOT = "{to}"
# How each kind looks where the service shows a type (colour, icon, the json plugin's "type" field).
NOTIFY_TYPES: dict[str, apprise.NotifyType] = {
    "pre_alert": apprise.NotifyType.WARNING,
    "alert": apprise.NotifyType.FAILURE,
    "escalation": apprise.NotifyType.FAILURE,
    "cancel": apprise.NotifyType.SUCCESS,
    "all_clear": apprise.NotifyType.SUCCESS,
    "camera_offline": apprise.NotifyType.WARNING,
    "disk_low": apprise.NotifyType.WARNING,
}
_HAS_TIMEOUT_ARG = {name: re.compile(rf"[?&]{name}=") for name in ("cto", "rto")}


def with_timeouts(url: str, timeout_s: float) -> str:
    """`url` with apprise's connect (`cto`) and read (`rto`) timeouts set to `timeout_s` where it sets none
    (apprise's own default is 4 s each)."""
    for name, present in _HAS_TIMEOUT_ARG.items():
        if not present.search(url):
            url += f"{'&' if '?' in url else '?'}{name}={timeout_s:g}"
    return url


class AppriseChannel(Channel):
    """Hands each message to apprise: title, body (with the action links) and the snapshot as attachment.

    The URL is checked at construction, so a typo fails when the site file loads, not at the first alert
    (a `{to}` template only by its scheme: the rest depends on the address). apprise reports failure only
    as False, so every failed send is retryable; its log lines for the call become the reason.
    """

    config: AppriseChannelConfig

    def __init__(self, name: str, config: AppriseChannelConfig):
        super().__init__(name, config)
        self._url = with_timeouts(config.url, config.timeout_s)
        # In memory: some plugins cache state (tokens, ids) in apprise's persistent store; we keep no files.
        self._asset = apprise.AppriseAsset(storage_mode="memory", service_timeout=config.timeout_s)
        self._apprise: apprise.Apprise | None = None  # the fixed destination, parsed once
        # Apprise URLs carry tokens in the path too (tgram://BOT_TOKEN/CHAT), which redact_url keeps: show
        # apprise's own privacy form where there is one, else the scheme alone.
        scheme = self._url.partition("://")[0].lower()
        self._shown = f"{scheme}://..."
        if ADDRESS_SLOT in self._url:
            if scheme not in apprise.NotificationManager():
                raise ValueError(f"channel {name!r}: apprise has no service {scheme}://")
        else:
            service = apprise.Apprise.instantiate(self._url, asset=self._asset)
            if service is None:
                raise ValueError(f"channel {name!r}: apprise cannot use this {scheme}:// URL (see its log)")
            self._shown = service.url(privacy=True).partition("?")[0]
            self._apprise = apprise.Apprise(asset=self._asset)
            self._apprise.add(service)

    def send(self, message: AlertMessage, address: str | None) -> None:
        notifier = self._apprise or self._for_address(address)
        attachment = None
        if self.config.attach_snapshot and message.snapshot and Path(message.snapshot).is_file():
            attachment = apprise.AppriseAttachment(message.snapshot)
        try:
            result = notifier.notify(
                body=_body(message),
                title=message.title,
                notify_type=NOTIFY_TYPES.get(message.kind, apprise.NotifyType.INFO),
                body_format=apprise.NotifyFormat.TEXT,
                attach=attachment,
                timeout=self.config.timeout_s,  # the whole call, whatever a plugin does with cto/rto
            )
        except Exception as error:  # a plugin's bug must reach the outbox as a failed delivery, not a crash
            raise DeliveryError(f"{self._where()}: apprise raised {type(error).__name__}: {error}") from error
        with result:  # releases the call's captured log
            if result:
                return
            problems = [entry.message for entry in result.logs() if entry.level in ("WARNING", "ERROR")]
            reason = "; ".join(problems) or f"apprise reported {result.status.name}"
        raise DeliveryError(f"{self._where()}: {reason}")

    def _for_address(self, address: str | None) -> apprise.Apprise:
        if address is None:
            raise DeliveryError(f"{self._where()}: the URL has {ADDRESS_SLOT} but no address was given", False)
        service = apprise.Apprise.instantiate(self._url.replace(ADDRESS_SLOT, quote(address, safe="")), self._asset)
        if service is None:
            raise DeliveryError(f"{self._where()}: apprise cannot use the address {address!r}", retryable=False)
        notifier = apprise.Apprise(asset=self._asset)
        notifier.add(service)
        return notifier

    def _where(self) -> str:
        return f"apprise channel {self.name!r} ({self._shown})"


def _body(message: AlertMessage) -> str:
    """The message body, one `action: URL` line per link (ack, false_alarm, ...), and the idempotency key
    last: apprise's services have no header for it, and a receiver that sees a message twice can tell."""
    lines = [message.body]
    if message.snapshot_url:
        lines += ["", f"snapshot: {message.snapshot_url}"]
    if message.links:
        lines += ["", *(f"{action}: {url}" for action, url in message.links.items())]
    return "\n".join([*lines, "", f"ref: {message.key}"])
