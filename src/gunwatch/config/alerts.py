"""The `alerts` section of the site file: channels, recipients and groups, and the safety protocols."""

from __future__ import annotations

import ipaddress
import re
import ssl
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from gunwatch.config.base import Name, StrictModel
from gunwatch.config.channels import ChannelConfig
from gunwatch.config.channels import RetrySettings as RetrySettings  # where the outbox has always found it
from gunwatch.config.errors import ReferenceProblems

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_host_port(listen: str) -> tuple[str, int]:
    """`127.0.0.1:8780`, `0.0.0.0:8780`, `gunwatch.local:8780` or `[::1]:8780` -> (host, port); ValueError
    otherwise. Used by the config check and by the link server, so both take the same text."""
    host, colon, port = listen.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"write an IPv6 address in brackets, e.g. [::1]:8780; got {listen!r}")
    if not colon or not host or any(c.isspace() for c in host) or not (port.isascii() and port.isdigit()) \
            or not 1 <= int(port) <= 65535:
        raise ValueError(f"must be host:port with a port from 1 to 65535, e.g. 127.0.0.1:8780; got {listen!r}")
    return host, int(port)


# --- who is told ------------------------------------------------------------------------------------------

class Recipient(StrictModel):
    """A person (or a desk) and their address on each channel that needs one (email, phone, chat id).

    Channels with a single destination (a webhook, an MQTT broker, a file) need no address: listing such
    a channel in a notify step reaches it once per recipient, with the recipient named in the message.
    """

    name: str | None = Field(None, description="how messages and the audit log name them (default: the key)")
    addresses: dict[str, str] = Field(
        default_factory=dict, description="channel name -> address on that channel (an email, a phone number...)"
    )


# A target in a step's `to:` list: a recipient's name, or `group:NAME` for every member of a group.
Target = str


class StepSettings(StrictModel):
    """The settings of one kind of step (the value under its key: `call: {url: ...}`)."""

    def identity(self) -> dict[str, Any]:
        """What a stored reference to the step is checked against (by digest): the settings as written,
        defaults left out. A kind whose settings hold credentials leaves them out (CallStep)."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class NotifyStep(StepSettings):
    """Tell recipients over channels (every recipient on every listed channel where it can be reached)."""

    to: list[Target] = Field(min_length=1, description="recipients and group:NAME")
    via: list[str] = Field(min_length=1, description="channel names")


class CallStep(StepSettings):
    """Call an HTTP endpoint: an access-control lockdown, door locks. `cancel` is called on a false alarm
    or all-clear (unlock), when this call was made."""

    url: str = Field(repr=False)
    method: Literal["POST", "PUT", "GET", "DELETE", "PATCH"] = "POST"
    body: dict[str, object] | None = Field(None, description="JSON body; {camera}, {zone}, {score}, {event_id} filled")
    headers: dict[str, str] = Field(default_factory=dict, repr=False)
    secret: str | None = Field(None, repr=False, description="sign the request like the webhook channel (without "
                                                             "it: unsigned, for APIs that check `headers`)")
    timeout_s: float = Field(10.0, gt=0, le=300)
    cancel: CallStep | None = Field(None, description="the call that undoes this one")

    @field_validator("secret")
    @classmethod
    def _not_empty(cls, secret: str | None) -> str | None:
        if secret is not None and not secret:  # e.g. ${DOOR_SECRET:-} unset: unsigned only by leaving it out
            raise ValueError("empty: set a signing key, or remove `secret` to send the call unsigned")
        return secret

    def identity(self) -> dict[str, Any]:
        # The secret and header values left out: rotating a token is no new step, and a digest must not help
        # guess a weak one. Whether they are set is kept.
        identity = self.model_dump(mode="json", exclude_defaults=True, exclude={"secret", "headers", "cancel"})
        identity["signed"] = self.secret is not None
        identity["headers"] = sorted(self.headers)
        if self.cancel is not None:
            identity["cancel"] = self.cancel.identity()
        return identity


class PublishStep(StepSettings):
    """Publish on an MQTT channel: sirens, lights, a PA system. `cancel_payload` is published on a false
    alarm or all-clear, when this publish was made."""

    channel: str = Field(description="an mqtt:// channel's name")
    topic: str = Field(min_length=1)
    payload: str | dict[str, object] = Field("ON", description="text or JSON; {camera}, {zone}... filled in")
    retain: bool = False
    cancel_payload: str | dict[str, object] | None = None


class RunStep(StepSettings):
    """Run a local command (no shell), e.g. a spoken announcement: [espeak-ng, "Lockdown. {camera}"].

    The command gets a minimal environment, not gunwatch's (which holds its passwords): PATH, HOME, LANG,
    LC_*, TZ and a few more (`alerts.commands.BASE_ENV`), the event as GUNWATCH_CAMERA, GUNWATCH_ZONE,
    GUNWATCH_SCORE, GUNWATCH_EVENT_ID and GUNWATCH_SITE, and the variables named in `env`."""

    command: list[str] = Field(min_length=1)
    timeout_s: float = Field(30.0, gt=0, le=3600)
    cancel_command: list[str] | None = Field(None, description="run on a false alarm or all-clear, when this ran")
    env: list[str] = Field(default_factory=list, description="names of gunwatch's environment variables the "
                                                             "command also gets, e.g. [PULSE_SERVER]")

    @field_validator("env")
    @classmethod
    def _variable_names(cls, names: list[str]) -> list[str]:
        bad = [name for name in names if not _ENV_NAME.match(name)]
        if bad:
            raise ValueError(f"not environment variable names: {', '.join(map(repr, bad))} (letters, digits, _)")
        return names


class WaitAckStep(StepSettings):
    """Wait for someone to acknowledge the event. Acknowledged in time: the protocol ends here. Not: the
    steps after this one run, as an escalation (their messages say nobody answered)."""

    timeout_s: float = Field(gt=0, le=86400)


class Step(StrictModel):
    """One step of a protocol: exactly one of its keys, which names its kind (each kind is carried out by
    a module of its own in `alerts.protocols.steps`); the key's settings are checked by the kind's model."""

    notify: NotifyStep | None = None
    call: CallStep | None = None
    publish: PublishStep | None = None
    run: RunStep | None = None
    wait_ack: WaitAckStep | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Step:
        given = [name for name in STEP_KINDS if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"a step has exactly one of {', '.join(STEP_KINDS)}; got {', '.join(given) or 'none'}")
        return self

    @property
    def kind(self) -> str:
        return next(name for name in STEP_KINDS if getattr(self, name) is not None)

    @property
    def payload(self) -> StepSettings:
        """The settings under the step's one key."""
        return getattr(self, self.kind)


STEP_KINDS = ("notify", "call", "publish", "run", "wait_ack")


# --- when a protocol runs ---------------------------------------------------------------------------------

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class TimeWindow(StrictModel):
    """Days and a time of day (the site's local time); `to` before `from` runs past midnight."""

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS))
    start: str = Field("00:00", alias="from", description="HH:MM")
    end: str = Field("24:00", alias="to", description="HH:MM, or 24:00 for the end of the day")

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if value != "24:00" and not _CLOCK.match(value):
            raise ValueError(f"must be a time of day as HH:MM, got {value!r}")
        return value


class Trigger(StrictModel):
    """What starts a protocol: a threat event (on these cameras and zones, above a score, in a schedule), a
    camera going offline (an attacker may disable cameras first), or the evidence disk below its floor with
    nothing left to prune (`disk_low`: events then go without pictures and clips; cameras, zones and scores
    do not apply to it)."""

    on: Literal["threat", "camera_offline", "disk_low"] = "threat"
    cameras: list[str] | None = Field(None, description="camera names (default: every camera)")
    zones: list[str] | None = Field(None, description="zone names (default: any zone, or none)")
    min_score: float = Field(0.0, ge=0, le=1)
    schedule: list[TimeWindow] | None = Field(None, description="when the protocol applies (default: always)")
    offline_for_s: float = Field(
        0.0, ge=0, le=86400, description="on: camera_offline only: the camera must have stayed offline this long "
                                         "before the protocol starts (0: at once). A shorter blind spell reaches "
                                         "nobody through this protocol; the log and the camera's health history "
                                         "keep it")

    @model_validator(mode="after")
    def _offline_for_s_is_for_cameras_offline(self) -> Trigger:
        if "offline_for_s" in self.model_fields_set and self.on != "camera_offline":
            raise ValueError(f"offline_for_s applies to on: camera_offline only, not on: {self.on}")
        return self

    @model_validator(mode="after")
    def _disk_low_has_no_camera(self) -> Trigger:
        # The evidence disk is the site's: a camera, zone or score here would be a filter that never applies.
        if self.on == "disk_low":
            given = [key for key in ("cameras", "zones", "min_score") if key in self.model_fields_set]
            if given:
                raise ValueError(f"on: disk_low is the site's evidence disk, not a camera's: remove {', '.join(given)}")
        return self


class Verification(StrictModel):
    """A human check before the protocol runs: verifiers get a pre-alert with the snapshot. Confirm goes
    on, false alarm stops, and no answer within `timeout_s` goes on (fail-safe)."""

    to: list[Target] = Field(min_length=1)
    via: list[str] = Field(min_length=1)
    timeout_s: float = Field(30.0, gt=0, le=3600)


class Protocol(StrictModel):
    """A site's pre-defined response: a trigger and ordered steps."""

    trigger: Trigger = Field(default_factory=Trigger)
    verify: Verification | None = None
    steps: list[Step] = Field(min_length=1)
    cooldown_s: float = Field(
        300.0, ge=0, description="a new event on a camera whose run is still active within this merges into it"
    )


# Kinds of message that carry action links; each kind's tokens have a key and a lifetime of their own.
LINK_KINDS = ("pre_alert", "alert", "escalation")


class LinkLifetimes(StrictModel):
    """How long a link works, per kind of message. Short: a link is a bearer credential that can call off a
    lockdown. A pre-alert's links also die when the verification ends (confirmed, or the protocol went
    on), an alert's when the event is closed; `gunwatch event revoke-links` revokes them sooner."""

    pre_alert: float = Field(600.0, gt=0, le=86400, description="seconds a pre-alert's links work")
    alert: float = Field(7200.0, gt=0, le=86400, description="seconds an alert's links work")
    escalation: float = Field(7200.0, gt=0, le=86400, description="seconds an escalation's links work")

    def of(self, kind: str) -> float:
        return float(getattr(self, kind))


class LinkTls(StrictModel):
    """The certificate (PEM, with its chain) and private key (PEM, not encrypted) the link endpoint serves
    HTTPS with. Both are read when the site file loads, so a wrong path or a key that does not match the
    certificate is a config error."""

    cert: Path = Field(description="PEM certificate chain, e.g. /etc/gunwatch/tls/fullchain.pem")
    key: Path = Field(description="PEM private key of the certificate, e.g. /etc/gunwatch/tls/privkey.pem")

    @model_validator(mode="after")
    def _loads(self) -> LinkTls:
        problems = [(name, f"no file {path}") for name, path in (("cert", self.cert), ("key", self.key))
                    if not path.is_file()]
        if problems:
            raise ReferenceProblems(problems)
        try:
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(self.cert, self.key,
                                                                                password=_no_password)
        except (ssl.SSLError, OSError, _EncryptedKey) as error:
            raise ReferenceProblems([("cert", f"cannot serve TLS with this certificate and key: {error}")]) from None
        return self


class _EncryptedKey(ValueError):
    def __init__(self) -> None:
        super().__init__("the key is encrypted; give it unencrypted, readable by gunwatch only")


def _no_password() -> str:
    # Called only for an encrypted key: without it OpenSSL would prompt on the terminal.
    raise _EncryptedKey()


def _checked_listen(listen: str) -> str:
    parse_host_port(listen)
    return listen


# A host:port to listen on, checked as the site file loads (the links' endpoint, the console).
ListenAddress = Annotated[str, AfterValidator(_checked_listen)]


def listens_on_loopback(listen: str) -> bool:
    return is_loopback(parse_host_port(listen)[0])


def is_loopback(host: str) -> bool:
    """Whether `host` (a listen address) is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to any address


class LinkSettings(StrictModel):
    """Signed links in messages (ack, confirm, false alarm, resolve), served by `gunwatch watch`.

    Links go only on per-person channels (email, `{to}` apprise URLs such as SMS), never on broadcast ones
    (webhooks, MQTT, files). The endpoint speaks HTTPS itself (`tls`), or listens on loopback behind an
    HTTPS reverse proxy: a link is a bearer credential, and plain HTTP on a network gives it away."""

    base_url: str | None = Field(None, description="e.g. https://gunwatch.school.org:8780 (default: no links)")
    secret: str | None = Field(None, repr=False, description="signing key, at least 16 characters; use ${ENV}")
    expire_s: LinkLifetimes = Field(default_factory=LinkLifetimes, description="link lifetimes per message kind")
    listen: ListenAddress = Field("127.0.0.1:8780", description="host:port the link endpoint listens on "
                                                      "(gunwatch watch serves it when base_url is set)")
    tls: LinkTls | None = Field(None, description="certificate and key: the endpoint serves HTTPS")

    @property
    def loopback(self) -> bool:
        return listens_on_loopback(self.listen)

    @model_validator(mode="after")
    def _secure(self) -> LinkSettings:
        if self.base_url is None:
            return self
        if self.secret is None or len(self.secret) < 16:
            raise ValueError("links need a secret of at least 16 characters (e.g. secret: ${GUNWATCH_LINK_SECRET})")
        scheme = urlsplit(self.base_url).scheme.lower()
        where = f"listen: {self.listen}"
        if scheme not in ("http", "https"):
            raise ReferenceProblems([("base_url", "must be an https:// URL, e.g. https://gunwatch.school.org:8780")])
        if scheme == "http" and not self.loopback:
            raise ReferenceProblems([("base_url", f"must be https:// when the endpoint listens beyond this machine "
                                                  f"({where}): links are credentials, plain HTTP gives them away. "
                                                  "Give tls (cert and key) and an https base_url, or listen on "
                                                  "127.0.0.1 behind an HTTPS reverse proxy")])
        if self.tls is None and not self.loopback:
            raise ReferenceProblems([("tls", f"the endpoint listens beyond this machine ({where}) and needs tls "
                                             "(cert and key); or listen on 127.0.0.1 behind an HTTPS reverse proxy")])
        if self.tls is not None and scheme != "https":
            raise ReferenceProblems([("base_url", "must be https:// when the endpoint serves TLS")])
        return self


class AlertSettings(StrictModel):
    """Channels, who is told, and the protocols that run on their own."""

    site_name: str = Field("gunwatch", description="named in every message")
    channels: dict[Name, ChannelConfig] = Field(default_factory=dict)
    recipients: dict[Name, Recipient] = Field(default_factory=dict)
    groups: dict[Name, list[str]] = Field(default_factory=dict, description="group name -> recipient names")
    protocols: dict[Name, Protocol] = Field(default_factory=dict)
    links: LinkSettings = Field(default_factory=LinkSettings)

    @model_validator(mode="after")
    def _names_exist(self) -> AlertSettings:
        problems: list[tuple[str, str]] = []
        for group, members in self.groups.items():
            problems += [(f"groups.{group}", f"no recipient {m!r}") for m in members if m not in self.recipients]
        for name, recipient in self.recipients.items():
            problems += [(f"recipients.{name}.addresses", f"no channel {c!r}") for c in recipient.addresses
                         if c not in self.channels]
        for name, protocol in self.protocols.items():
            where = f"protocols.{name}"
            if protocol.verify is not None:
                problems += self._check_targets(f"{where}.verify", protocol.verify.to, protocol.verify.via)
            for index, step in enumerate(protocol.steps):
                if step.notify is not None:
                    problems += self._check_targets(f"{where}.steps[{index}].notify", step.notify.to, step.notify.via)
                if step.publish is not None:
                    channel = self.channels.get(step.publish.channel)
                    if channel is None or channel.kind != "mqtt":
                        problems.append((f"{where}.steps[{index}].publish.channel",
                                         f"no mqtt channel {step.publish.channel!r}"))
        if problems:
            raise ReferenceProblems(problems)
        return self

    def _check_targets(self, where: str, targets: list[str], via: list[str]) -> list[tuple[str, str]]:
        problems = [(f"{where}.via", f"no channel {c!r}") for c in via if c not in self.channels]
        for target in targets:
            group = target.removeprefix("group:")
            if target.startswith("group:") and group not in self.groups:
                problems.append((f"{where}.to", f"no group {group!r}"))
            elif not target.startswith("group:") and target not in self.recipients:
                problems.append((f"{where}.to", f"no recipient {target!r}"))
        return problems
