"""A protocol's trigger in the site file: what each kind of trigger takes."""

from __future__ import annotations

from collections.abc import Callable

from gunwatch.config import SiteConfig

SITE = """cameras: {lobby: {url: rtsp://cam/1}}
alerts:
  channels: {log: {url: "file:///tmp/alerts.jsonl"}}
  recipients: {desk: {name: Desk}}
  protocols:
    guards: {trigger: {on: %s, offline_for_s: 30}, steps: [{notify: {to: [desk], via: [log]}}]}
"""


def test_a_camera_offline_trigger_can_wait_for_the_camera_to_stay_offline(
        parse: Callable[..., SiteConfig]) -> None:
    assert parse(SITE % "camera_offline").alerts.protocols["guards"].trigger.offline_for_s == 30


def test_offline_for_s_on_another_trigger_is_named(problems: Callable[..., list[str]]) -> None:
    assert problems(SITE % "threat") == ["site.yaml: alerts.protocols.guards.trigger: offline_for_s applies to "
                                         "on: camera_offline only, not on: threat"]
