"""The `retention` section: ages, size, the disk's floor, per-camera ages; mistakes named by file and key."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gunwatch.config import SiteConfig
from gunwatch.config.retention import GB, RetentionSettings

CAMERA = "cameras: {lobby: {url: rtsp://cam/1}}\n"


def test_without_a_section_nothing_is_pruned_by_age_or_size_but_the_floor_and_old_health_are(
        parse: Callable[..., SiteConfig]) -> None:
    retention = parse(CAMERA).retention
    assert (retention.evidence_days, retention.events_days, retention.evidence_max_gb) == (None, None, None)
    assert retention.health_days == 365
    assert retention.floor_bytes(100 * GB) == 5 * GB  # 5 % of the disk


def test_a_camera_overrides_only_the_ages_it_gives(parse: Callable[..., SiteConfig]) -> None:
    retention = parse(CAMERA + "retention:\n  evidence_days: 30\n  events_days: 365\n"
                            "  cameras: {lobby: {evidence_days: 7}, old-gate: {health_days: 10}}\n").retention
    assert (retention.evidence_days_of("lobby"), retention.events_days_of("lobby")) == (7, 365)
    assert (retention.evidence_days_of("gate"), retention.health_days_of("gate")) == (30, 365)
    assert retention.health_days_of("old-gate") == 10  # a camera no longer in the file: its old files still count


@pytest.mark.parametrize(("gb", "percent", "floor"), [(2.0, None, 2 * GB), (None, 10.0, 10 * GB),
                                                       (2.0, 10.0, 10 * GB), (20.0, 10.0, 20 * GB)])
def test_the_floor_is_the_higher_of_its_size_and_share(gb: float | None, percent: float | None, floor: int) -> None:
    assert RetentionSettings(min_free_gb=gb, min_free_percent=percent).floor_bytes(100 * GB) == floor


@pytest.mark.parametrize(("section", "key", "says"), [
    ("{evidence_days: 0}", "retention.evidence_days", "must be > 0"),
    ("{min_free_percent: 100}", "retention.min_free_percent", "must be < 100"),
    ("{evidence_days: 30, events_days: 7}", "retention", "an event's evidence goes with it"),
    ("{cameras: {lobby: {evidence_day: 3}}}", "retention.cameras.lobby.evidence_day", ""),
    ("{every_s: 1}", "retention.every_s", "must be >= 5"),
])
def test_mistakes_name_the_file_and_key(problems: Callable[..., list[str]], section: str, key: str,
                                        says: str) -> None:
    found = problems(CAMERA + f"retention: {section}\n")
    assert len(found) == 1 and found[0].startswith(f"site.yaml: {key}:") and says in found[0], found


def test_a_disk_low_trigger_takes_no_camera(problems: Callable[..., list[str]]) -> None:
    found = problems(CAMERA + """alerts:
  channels: {log: {url: "file:///tmp/alerts.jsonl"}}
  recipients: {desk: {name: Desk}}
  protocols:
    disk: {trigger: {on: disk_low, cameras: [lobby]}, steps: [{notify: {to: [desk], via: [log]}}]}
""")
    assert found == ["site.yaml: alerts.protocols.disk.trigger: on: disk_low is the site's evidence disk, not a "
                     "camera's: remove cameras"]
