"""Whether a threat event starts a protocol."""

from __future__ import annotations

from datetime import datetime

from gunwatch.alerts.protocols.schedule import in_schedule
from gunwatch.config.alerts import Trigger
from gunwatch.events.model import ThreatEvent


def threat_matches(trigger: Trigger, event: ThreatEvent) -> bool:
    if trigger.on != "threat":
        return False
    if trigger.cameras is not None and event.camera not in trigger.cameras:
        return False
    if trigger.zones is not None and event.zone not in trigger.zones:
        return False
    if event.max_score < trigger.min_score:
        return False
    return in_schedule(trigger.schedule, datetime.fromtimestamp(event.confirmed_at))


def offline_matches(trigger: Trigger, camera: str, at: float) -> bool:
    if trigger.on != "camera_offline":
        return False
    if trigger.cameras is not None and camera not in trigger.cameras:
        return False
    return in_schedule(trigger.schedule, datetime.fromtimestamp(at))


def disk_low_matches(trigger: Trigger, at: float) -> bool:
    """The evidence disk is the site's, not a camera's: only the schedule applies."""
    return trigger.on == "disk_low" and in_schedule(trigger.schedule, datetime.fromtimestamp(at))
