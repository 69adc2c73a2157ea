"""Whether a threat event (or a camera going offline) starts a protocol: cameras, zones, score, schedule."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from gunwatch.alerts.protocols.matching import offline_matches, threat_matches
from gunwatch.config.alerts import Trigger
from gunwatch.events.model import ThreatEvent

MONDAY_NOON = datetime(2025, 6, 2, 12, 0).timestamp()  # local time, as schedules are
SATURDAY_NIGHT = datetime(2025, 6, 7, 23, 30).timestamp()


def trigger(**fields: Any) -> Trigger:
    return Trigger.model_validate(fields)


def test_default_trigger_matches_any_threat(make_event: Callable[..., ThreatEvent]) -> None:
    assert threat_matches(trigger(), make_event())
    assert threat_matches(trigger(), make_event(camera="anywhere", zone=None, max_score=0.01))


def test_cameras(make_event: Callable[..., ThreatEvent]) -> None:
    entrances = trigger(cameras=["lobby", "gate"])
    assert threat_matches(entrances, make_event(camera="lobby"))
    assert threat_matches(entrances, make_event(camera="gate"))
    assert not threat_matches(entrances, make_event(camera="parking"))
    assert not threat_matches(entrances, make_event(camera="Lobby"))  # names are exact
    assert not threat_matches(trigger(cameras=[]), make_event())  # an empty list is no camera, not every one


def test_zones(make_event: Callable[..., ThreatEvent]) -> None:
    doors = trigger(zones=["door", "hall"])
    assert threat_matches(doors, make_event(zone="door"))
    assert not threat_matches(doors, make_event(zone="yard"))
    assert not threat_matches(doors, make_event(zone=None))  # a gun outside every zone is not in these
    assert threat_matches(trigger(), make_event(zone=None))  # no zones listed: any zone, or none


@pytest.mark.parametrize(("score", "matches"), [(0.59, False), (0.6, True), (0.95, True)])
def test_min_score_is_inclusive(make_event: Callable[..., ThreatEvent], score: float, matches: bool) -> None:
    assert threat_matches(trigger(min_score=0.6), make_event(max_score=score)) is matches


def test_schedule_uses_the_confirmation_time(make_event: Callable[..., ThreatEvent]) -> None:
    after_hours = trigger(schedule=[{"days": ["sat", "sun"]}, {"from": "18:00", "to": "07:00"}])
    assert not threat_matches(after_hours, make_event(confirmed_at=MONDAY_NOON))
    assert threat_matches(after_hours, make_event(confirmed_at=SATURDAY_NIGHT))
    # first_seen does not decide: a gun seen before the window opened, confirmed inside it, counts.
    evening = datetime(2025, 6, 2, 18, 0, 1).timestamp()
    assert threat_matches(after_hours, make_event(first_seen=evening - 5, confirmed_at=evening))


def test_every_condition_must_hold(make_event: Callable[..., ThreatEvent]) -> None:
    strict = trigger(cameras=["lobby"], zones=["door"], min_score=0.7, schedule=[{"days": ["mon"]}])
    event = make_event(camera="lobby", zone="door", max_score=0.8, confirmed_at=MONDAY_NOON)
    assert threat_matches(strict, event)
    for change in ({"camera": "gate"}, {"zone": "yard"}, {"max_score": 0.5}, {"confirmed_at": SATURDAY_NIGHT}):
        assert not threat_matches(strict, make_event(**{**vars(event), **change}))


def test_threat_and_offline_triggers_do_not_cross(make_event: Callable[..., ThreatEvent]) -> None:
    offline = trigger(on="camera_offline")
    assert not threat_matches(offline, make_event())
    assert offline_matches(offline, "lobby", MONDAY_NOON)
    assert not offline_matches(trigger(), "lobby", MONDAY_NOON)


def test_offline_trigger_cameras_and_schedule() -> None:
    offline = trigger(on="camera_offline", cameras=["lobby"], schedule=[{"from": "18:00", "to": "07:00"}])
    assert offline_matches(offline, "lobby", SATURDAY_NIGHT)
    assert not offline_matches(offline, "gate", SATURDAY_NIGHT)
    assert not offline_matches(offline, "lobby", MONDAY_NOON)
