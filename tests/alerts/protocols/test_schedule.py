"""When a protocol applies: time windows on days, windows past midnight, and day boundaries."""

from __future__ import annotations

from datetime import datetime

import pytest

from gunwatch.alerts.protocols.schedule import in_schedule, in_window
from gunwatch.config.alerts import TimeWindow

# 2025-06-02 is a Monday; the 6th a Friday, the 7th a Saturday, the 8th a Sunday.
MON, FRI, SAT, SUN = 2, 6, 7, 8


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2025, 6, day, hour, minute, second)


def window(days: list[str] | None = None, start: str = "00:00", end: str = "24:00") -> TimeWindow:
    fields: dict[str, object] = {"from": start, "to": end}
    if days is not None:
        fields["days"] = days
    return TimeWindow.model_validate(fields)


def test_the_calendar_used_here() -> None:
    assert [at(day, 12).strftime("%a") for day in (MON, FRI, SAT, SUN)] == ["Mon", "Fri", "Sat", "Sun"]


def test_default_window_is_every_day_all_day() -> None:
    always = window()
    for day in range(MON, SUN + 1):
        assert in_window(always, at(day, 0, 0))
        assert in_window(always, at(day, 23, 59, 59))


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at(MON, 7, 59, 59), False),
        (at(MON, 8, 0), True),  # `from` is inside
        (at(MON, 12, 30), True),
        (at(MON, 16, 59, 59), True),
        (at(MON, 17, 0), False),  # `to` is not
        (at(SAT, 12, 0), False),  # not one of the days
    ],
)
def test_day_window_includes_from_and_excludes_to(when: datetime, inside: bool) -> None:
    school_hours = window(["mon", "tue", "wed", "thu", "fri"], "08:00", "17:00")
    assert in_window(school_hours, when) is inside


@pytest.mark.parametrize(
    ("when", "inside"),
    [
        (at(FRI, 21, 59), False),
        (at(FRI, 22, 0), True),  # starts on Friday
        (at(FRI, 23, 59, 59), True),
        (at(SAT, 0, 0), True),  # past midnight: still Friday's window
        (at(SAT, 5, 59, 59), True),
        (at(SAT, 6, 0), False),  # ends at `to`
        (at(SAT, 22, 0), False),  # Saturday night is not in it
        (at(SUN, 3, 0), False),  # nor the night after Saturday
        (at(FRI, 3, 0), False),  # the early morning of the starting day belongs to Thursday's night
    ],
)
def test_window_past_midnight_belongs_to_the_day_it_starts(when: datetime, inside: bool) -> None:
    friday_night = window(["fri"], "22:00", "06:00")
    assert in_window(friday_night, when) is inside


def test_window_past_midnight_wraps_from_sunday_into_monday() -> None:
    sunday_night = window(["sun"], "20:00", "07:00")
    assert in_window(sunday_night, at(SUN, 20, 0))
    assert in_window(sunday_night, at(MON + 7, 0, 0))  # Monday the 9th, after Sunday the 8th
    assert in_window(sunday_night, at(MON + 7, 6, 59))
    assert not in_window(sunday_night, at(MON + 7, 7, 0))
    assert not in_window(sunday_night, at(MON + 7, 20, 0))  # Monday evening: not a Sunday
    assert not in_window(sunday_night, at(SAT, 23, 0))


def test_every_night_window() -> None:
    nights = window(None, "18:00", "07:00")
    for day in range(MON, SUN + 1):
        assert in_window(nights, at(day, 18, 0))
        assert in_window(nights, at(day, 2, 0))
        assert not in_window(nights, at(day, 12, 0))
        assert not in_window(nights, at(day, 7, 0))


def test_to_24_00_reaches_the_end_of_the_day_only() -> None:
    evening = window(["mon"], "20:00", "24:00")
    assert in_window(evening, at(MON, 23, 59, 59))
    assert not in_window(evening, at(MON + 1, 0, 0))  # Tuesday 00:00 is the next day
    assert not in_window(evening, at(MON, 19, 59))


def test_midnight_boundary_of_a_day_window() -> None:
    sunday = window(["sun"])
    assert not in_window(sunday, at(SAT, 23, 59, 59))
    assert in_window(sunday, at(SUN, 0, 0))
    assert in_window(sunday, at(SUN, 23, 59, 59))
    assert not in_window(sunday, at(MON + 7, 0, 0))


def test_schedule_is_any_of_its_windows_and_none_means_always() -> None:
    schedule = [window(["mon", "tue", "wed", "thu", "fri"], "18:00", "07:00"), window(["sat", "sun"])]
    assert in_schedule(schedule, at(MON, 19, 0))  # a weekday evening
    assert in_schedule(schedule, at(SAT, 12, 0))  # the weekend, all day
    assert in_schedule(schedule, at(SAT, 3, 0))  # Friday's night reaches into Saturday
    assert in_schedule(schedule, at(SUN, 23, 59))
    # Sunday night into Monday is not covered: the night window starts on weekdays only, and the weekend
    # window ends at Sunday 24:00 (a site wanting it lists "sun" in the night window's days).
    assert not in_schedule(schedule, at(MON + 7, 3, 0))
    assert in_schedule(schedule, at(MON + 7, 19, 0))
    assert not in_schedule(schedule, at(MON, 12, 0))  # school hours are not covered
    assert in_schedule(None, at(MON, 12, 0))
    assert not in_schedule([], at(MON, 12, 0))


def test_invalid_clock_times_are_refused() -> None:
    for bad in ("8:00", "24:01", "25:00", "12:60", "noon"):
        with pytest.raises(ValueError, match="HH:MM"):
            window(None, bad, "10:00")
