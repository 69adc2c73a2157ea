"""`gunwatch config check`: what a valid site file sets up, with every URL's password hidden."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gunwatch.config.camera import Camera
from gunwatch.config.redact import endpoint_only, redact_url
from gunwatch.config.site import SiteConfig
from gunwatch.config.sources import SourceKind


@dataclass(frozen=True)
class CameraSummary:
    name: str
    kind: SourceKind
    url: str  # redacted
    enabled: bool
    detect_fps: float
    zones: int
    masks: int


@dataclass(frozen=True)
class SiteSummary:
    file: str
    cameras: list[CameraSummary]
    model: str | None  # None: the shipped model
    store: str  # redacted
    warnings: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)  # "name: kind url" (redacted)
    protocols: list[str] = field(default_factory=list)  # "name: trigger, N steps"


def summarize_site(config: SiteConfig, file: str) -> SiteSummary:
    cameras = [
        CameraSummary(
            name=name,
            kind=camera.kind,
            url=redact_url(camera.url),
            enabled=camera.enabled,
            detect_fps=camera.detect.fps,
            zones=len(camera.zones),
            masks=len(camera.masks),
        )
        for name, camera in config.cameras.items()
    ]
    model = str(config.detector.model) if config.detector.model else None
    alerts = config.alerts
    channels = [f"{name}: {channel.kind} {_shown(channel.url, channel.kind)}"
                for name, channel in alerts.channels.items()]
    protocols = [
        f"{name}: on {p.trigger.on}{' (verified first)' if p.verify else ''}, {_count(len(p.steps), 'step')}"
        for name, p in alerts.protocols.items()
    ]
    return SiteSummary(file, cameras, model, redact_url(config.store.url), missing_local_sources(config),
                       channels, protocols)


def _shown(url: str, kind: str) -> str:
    """A channel's URL for people: webhook paths and apprise URLs often are the secret (a Slack hook, a bot
    token, even in the host part: tgram://BOT_TOKEN/CHAT), so a webhook shows as scheme://host/… and an apprise
    URL as scheme://…; broker and mail URLs only hide their password."""
    if kind == "apprise":
        return url.split("://", 1)[0] + "://…"
    return endpoint_only(url) if kind == "webhook" else redact_url(url)


def missing_local_sources(config: SiteConfig) -> list[str]:
    """Warnings, not errors, for enabled local sources that are not there now: a USB camera may be plugged in
    later, and a folder may be mounted; the pipeline keeps retrying them."""
    return [
        f"cameras.{name}.url: {_missing_what(camera)} {camera.url} not found (the camera stays offline until it is)"
        for name, camera in config.enabled_cameras.items()
        if camera.kind in ("file", "folder", "device") and not Path(camera.url).exists()
    ]


def _missing_what(camera: Camera) -> str:
    return {"file": "video file", "folder": "folder", "device": "device"}[camera.kind]


def format_site_summary(summary: SiteSummary) -> str:
    enabled = sum(camera.enabled for camera in summary.cameras)
    lines = [f"{summary.file}: valid, {_count(len(summary.cameras), 'camera')}, {enabled} enabled"]
    name_width = max(len(camera.name) for camera in summary.cameras)
    for camera in summary.cameras:
        state = "" if camera.enabled else "  (disabled)"
        lines.append(
            f"  {camera.name:<{name_width}}  {camera.kind:<6}  {camera.url}  {camera.detect_fps:g} fps"
            f"  {_count(camera.zones, 'zone')}, {_count(camera.masks, 'mask')}{state}"
        )
    lines.append(f"model: {summary.model or 'the shipped model (or $GUNWATCH_MODEL)'}")
    lines.append(f"store: {summary.store}")
    if summary.channels or summary.protocols:
        lines.append(f"alert channels: {len(summary.channels)}")
        lines += [f"  {channel}" for channel in summary.channels]
        lines.append(f"protocols: {len(summary.protocols)}")
        lines += [f"  {protocol}" for protocol in summary.protocols]
    else:
        lines.append("alerts: no channels or protocols (events are stored, not sent)")
    lines += [f"warning: {warning}" for warning in summary.warnings]
    return "\n".join(lines)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
