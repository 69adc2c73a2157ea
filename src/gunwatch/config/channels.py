"""Alert channels in the site file (`alerts.channels`): one model per kind of channel, told apart by the URL's
scheme, so a key that belongs to another kind (a webhook's `secret` on an MQTT broker) is an error, not a
setting that silently does nothing."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)

from gunwatch.config.base import StrictModel
from gunwatch.config.errors import ReferenceProblems
from gunwatch.config.messages import validation_problems

ChannelKind = Literal["webhook", "mqtt", "smtp", "file", "apprise"]
# Schemes with an adapter of our own; any other scheme is handed to apprise (slack://, tgram://, json://, ...).
OWN_SCHEMES: dict[str, ChannelKind] = {
    "http": "webhook",
    "https": "webhook",
    "mqtt": "mqtt",
    "mqtts": "mqtt",
    "smtp": "smtp",
    "smtps": "smtp",
    "file": "file",
}
_URL_EXAMPLES = "https://host/hook, mqtt://host:1883, smtp://host:587, file://alerts.jsonl or slack://tokens"


def channel_kind(url: str) -> ChannelKind:
    return OWN_SCHEMES.get(urlsplit(url).scheme.lower(), "apprise")


class RetrySettings(StrictModel):
    """How the outbox retries a channel that fails: exponential backoff with jitter, up to a limit."""

    initial_s: float = Field(0.5, gt=0, description="first wait after a failure")
    max_s: float = Field(60.0, gt=0, description="longest wait between attempts")
    max_attempts: int = Field(50, ge=1, description="attempts before a delivery is given up as failed")

    @field_validator("max_s")
    @classmethod
    def _not_below_initial(cls, max_s: float, info: ValidationInfo) -> float:
        # Below initial_s, max_s would do nothing: every wait would be initial_s.
        initial = info.data.get("initial_s")
        if initial is not None and max_s < initial:
            raise ValueError(f"must be >= initial_s ({initial:g}), got {max_s:g}")
        return max_s


class BaseChannelConfig(StrictModel):
    """What every channel has: where messages go, and how the outbox treats it."""

    kind: ClassVar[ChannelKind]

    # repr=False: channel URLs carry tokens and passwords; print `redact_url(config.url)` instead.
    url: str = Field(repr=False, description="where messages go; the scheme picks the kind of channel")
    timeout_s: float = Field(10.0, gt=0, le=300, description="a send that takes longer fails (and is retried)")
    retry: RetrySettings = Field(default_factory=RetrySettings)
    max_per_minute: int = Field(30, ge=1, description="rate limit: messages per minute to one address")

    @field_validator("url")
    @classmethod
    def _has_scheme(cls, url: str) -> str:
        if "://" not in url:
            raise ValueError(f"must be a URL such as {_URL_EXAMPLES}")
        return url

    @property
    def needs_address(self) -> bool:
        """Whether each recipient is reached at their own address (email, SMS); the other channels have one
        destination and get one message per step."""
        return False


class WebhookChannelConfig(BaseChannelConfig):
    """`http(s)://`: a JSON POST, signed with HMAC-SHA256 by `secret` (required unless `signed: false`)."""

    kind: ClassVar[ChannelKind] = "webhook"

    secret: str | None = Field(None, repr=False, description="key of the X-Gunwatch-Signature HMAC")
    signed: bool = Field(True, description="false sends requests unsigned (no secret), for a receiver that "
                                           "cannot check a signature")
    attach_snapshot: bool = Field(True, description="send the snapshot JPEG along (snapshot_jpeg_base64)")

    @model_validator(mode="after")
    def _signing(self) -> WebhookChannelConfig:
        # An unset ${SECRET:-} must not quietly turn signing off: unsigned is a choice the file states.
        if self.signed and not self.secret:
            raise ReferenceProblems([("secret", "a webhook signs its requests: set a secret (e.g. "
                                                "${WEBHOOK_SECRET}), or signed: false to send them unsigned")])
        if not self.signed and self.secret:
            raise ReferenceProblems([("signed", "false, but a secret is set: remove one of them")])
        return self


class MqttChannelConfig(BaseChannelConfig):
    """`mqtt(s)://HOST:PORT`: an MQTT broker; `TOPIC_PREFIX/events` and `TOPIC_PREFIX/CAMERA/threat`."""

    kind: ClassVar[ChannelKind] = "mqtt"

    topic_prefix: str = Field("gunwatch", min_length=1, description="first level of every topic")
    discovery: bool = Field(False, description="publish Home Assistant discovery for each camera")


class SmtpChannelConfig(BaseChannelConfig):
    """`smtp(s)://USER:PASS@HOST:PORT?starttls=yes`: email to each recipient, with the snapshot attached."""

    kind: ClassVar[ChannelKind] = "smtp"

    sender: str | None = Field(None, description="the From address (default: gunwatch@HOST)")
    attach_snapshot: bool = Field(True, description="attach the snapshot JPEG")

    @property
    def needs_address(self) -> bool:
        return True


class FileChannelConfig(BaseChannelConfig):
    """`file://PATH`: a local JSON Lines file, with a page beside it (the demo's sink)."""

    kind: ClassVar[ChannelKind] = "file"


class AppriseChannelConfig(BaseChannelConfig):
    """Any other scheme goes to apprise: `slack://`, `tgram://`, `twilio://`, `ntfy://`, `json://`... A `{to}`
    in the URL is replaced by each recipient's address (SMS, a chat id)."""

    kind: ClassVar[ChannelKind] = "apprise"

    attach_snapshot: bool = Field(True, description="attach the snapshot JPEG where the service takes files")

    @property
    def needs_address(self) -> bool:
        return "{to}" in self.url


CHANNEL_MODELS: dict[ChannelKind, type[BaseChannelConfig]] = {
    "webhook": WebhookChannelConfig,
    "mqtt": MqttChannelConfig,
    "smtp": SmtpChannelConfig,
    "file": FileChannelConfig,
    "apprise": AppriseChannelConfig,
}


def _kind_of(value: Any) -> str | None:
    """The union's discriminator: the kind a channel's URL names (None: no URL to tell by)."""
    if isinstance(value, BaseChannelConfig):
        return value.kind
    url = value.get("url") if isinstance(value, dict) else None
    return channel_kind(url) if isinstance(url, str) else None


def _problems_at_keys(value: Any, handler: ValidatorFunctionWrapHandler) -> BaseChannelConfig:
    """The union's errors as problems at the channel's own keys (`alerts.channels.ops.secret`), without the
    union's tag in the path, and a key of another kind of channel named as such."""
    try:
        return handler(value)
    except ValidationError as error:
        union_error = error
    if not isinstance(value, dict):
        raise ReferenceProblems([("", "must be a mapping of keys to values (url, and the channel's settings)")])
    url = value.get("url")
    if url is None:
        raise ReferenceProblems([("url", "required")])
    if not isinstance(url, str) or "://" not in url:
        # Without a scheme there is no kind to check the other keys against.
        raise ReferenceProblems([("url", f"must be a URL such as {_URL_EXAMPLES}")])
    kind = channel_kind(url)
    model = CHANNEL_MODELS[kind]
    try:
        model.model_validate(value)
    except ValidationError as error:
        # Validated again against the kind's own model: its keys, its messages ("did you mean ...?").
        problems = [(problem.key or "", problem.message) for problem in validation_problems(error, "", model)]
        raise ReferenceProblems([(key, _foreign_key(kind, url, key) or message) for key, message in problems]) \
            from None
    raise union_error


def _foreign_key(kind: ChannelKind, url: str, key: str) -> str | None:
    """For a key of another kind of channel: what it applies to, and why this channel is not one."""
    if key in CHANNEL_MODELS[kind].model_fields:
        return None
    owners = [other for other, model in CHANNEL_MODELS.items() if key in model.model_fields]
    if not owners:
        return None
    scheme = urlsplit(url).scheme.lower()
    return (f"applies to {_joined(owners)} channels only; this is {_A_KIND[kind]} channel (its URL is "
            f"{scheme}://), which takes {', '.join(CHANNEL_MODELS[kind].model_fields)}")


_A_KIND: dict[ChannelKind, str] = {"webhook": "a webhook", "mqtt": "an mqtt", "smtp": "an smtp", "file": "a file",
                                   "apprise": "an apprise"}


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


# A channel is one of the models above, chosen by its URL's scheme.
ChannelConfig = Annotated[
    Annotated[WebhookChannelConfig, Tag("webhook")]
    | Annotated[MqttChannelConfig, Tag("mqtt")]
    | Annotated[SmtpChannelConfig, Tag("smtp")]
    | Annotated[FileChannelConfig, Tag("file")]
    | Annotated[AppriseChannelConfig, Tag("apprise")],
    Discriminator(_kind_of),
    WrapValidator(_problems_at_keys),
]

_CHANNEL = TypeAdapter[BaseChannelConfig](ChannelConfig)


def channel_config(**fields: Any) -> BaseChannelConfig:
    """One channel's config from its keys, as the site file gives them: `channel_config(url=..., secret=...)`."""
    return _CHANNEL.validate_python(fields)
