"""Whether a moment falls in a protocol's schedule (the site's local time)."""

from __future__ import annotations

from datetime import datetime

from gunwatch.config.alerts import WEEKDAYS, TimeWindow


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def in_window(window: TimeWindow, when: datetime) -> bool:
    """`from` <= time < `to` on one of the days; a window past midnight (`to` before `from`) belongs to the
    day it starts on, so fri 22:00-06:00 covers Saturday 03:00 too."""
    start, end, now = _minutes(window.start), _minutes(window.end), when.hour * 60 + when.minute
    today = WEEKDAYS[when.weekday()]
    yesterday = WEEKDAYS[(when.weekday() - 1) % 7]
    if start <= end:
        return today in window.days and start <= now < end
    return (today in window.days and now >= start) or (yesterday in window.days and now < end)


def in_schedule(windows: list[TimeWindow] | None, when: datetime) -> bool:
    return windows is None or any(in_window(window, when) for window in windows)
