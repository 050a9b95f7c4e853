"""Business calendars: hours, DST, midnight, year ends, holidays, half days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.calendar import (
    BusinessCalendar,
    TwentyFourSeven,
    build_calendar,
    build_calendars,
    parse_calendars,
    twenty_four_seven,
)

NEW_YORK = ZoneInfo("America/New_York")
JAKARTA = ZoneInfo("Asia/Jakarta")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def calendar_from(body: dict, name: str = "cal"):
    return build_calendar(parse_calendars({name: body})[name])


NY_OFFICE = {"timezone": "America/New_York", "hours": {"mon-fri": "09:00-17:00"}}


def test_friday_evening_hour_lands_monday_after_spring_forward():
    cal = calendar_from(NY_OFFICE)
    friday_evening = local(NEW_YORK, 2024, 3, 8, 18, 0)

    due = cal.add_business_seconds(friday_evening, 3600)

    assert due == local(NEW_YORK, 2024, 3, 11, 10, 0)
    assert due.astimezone(UTC) == datetime(2024, 3, 11, 14, 0, tzinfo=UTC)


def test_business_seconds_across_the_dst_weekend_count_only_open_hours():
    cal = calendar_from(NY_OFFICE)

    seconds = cal.business_seconds_between(
        local(NEW_YORK, 2024, 3, 8, 16, 30), local(NEW_YORK, 2024, 3, 11, 9, 30)
    )

    assert seconds == 3600


@pytest.mark.parametrize(
    ("start", "seconds", "expected"),
    [
        pytest.param(
            datetime(2024, 5, 1, 23, 0, tzinfo=UTC),
            7200,
            datetime(2024, 5, 2, 1, 0, tzinfo=UTC),
            id="midnight",
        ),
        pytest.param(
            datetime(2024, 12, 31, 23, 30, tzinfo=UTC),
            3600,
            datetime(2025, 1, 1, 0, 30, tzinfo=UTC),
            id="year-end",
        ),
        pytest.param(
            datetime(2024, 2, 28, 12, 0, tzinfo=UTC),
            86400,
            datetime(2024, 2, 29, 12, 0, tzinfo=UTC),
            id="leap-day",
        ),
    ],
)
def test_twenty_four_seven_has_no_gaps(start, seconds, expected):
    cal = twenty_four_seven()

    assert cal.add_business_seconds(start, seconds) == expected
    assert cal.business_seconds_between(start, expected) == seconds


def test_whole_days_in_a_zone_join_at_midnight_and_follow_fall_back():
    # A holiday keeps this a real BusinessCalendar rather than the 24/7 shortcut.
    cal = calendar_from(
        {
            "timezone": "America/New_York",
            "hours": {"mon-sun": "00:00-24:00"},
            "holidays": {"dates": ["2024-12-25"]},
        }
    )
    saturday = local(NEW_YORK, 2024, 11, 2, 0, 0)
    monday = local(NEW_YORK, 2024, 11, 4, 0, 0)

    assert isinstance(cal, BusinessCalendar)
    assert cal.business_seconds_between(saturday, monday) == (24 + 25) * 3600
    # 01:00 happens twice that night; three hours after 23:00 is the second one.
    late_evening = local(NEW_YORK, 2024, 11, 2, 23, 0)
    due = cal.add_business_seconds(late_evening, 3 * 3600)
    assert due == datetime(2024, 11, 3, 6, 0, tzinfo=UTC)
    assert due.astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:00 EST"


def test_a_whole_week_without_holidays_is_the_24x7_shortcut():
    cal = calendar_from(
        {"timezone": "Asia/Jakarta", "hours": {"mon-sun": "0:00-24:00"}}
    )

    assert isinstance(cal, TwentyFourSeven)


def test_several_ranges_a_day_skip_the_lunch_break():
    cal = calendar_from(
        {
            "timezone": "Asia/Jakarta",
            "hours": {"mon-fri": ["08:00-12:00", "13:00-17:00"]},
        }
    )

    due = cal.add_business_seconds(local(JAKARTA, 2024, 5, 6, 11, 30), 3600)

    assert due == local(JAKARTA, 2024, 5, 6, 13, 30)


def test_indonesian_public_holidays_from_the_package_are_closed():
    cal = calendar_from(
        {
            "timezone": "Asia/Jakarta",
            "hours": {"mon-fri": "09:00-17:00"},
            "holidays": {"country": "ID"},
        }
    )

    # Eid al-Fitr: Wednesday 10 and Thursday 11 April 2024.
    due = cal.add_business_seconds(local(JAKARTA, 2024, 4, 9, 16, 0), 7200)

    assert due == local(JAKARTA, 2024, 4, 12, 10, 0)


@pytest.mark.parametrize(
    ("subdivision", "expected_day"),
    [
        pytest.param(None, 15, id="US-no-patriots-day"),
        pytest.param("MA", 16, id="US-MA-patriots-day"),
    ],
)
def test_holidays_follow_the_subdivision(subdivision, expected_day):
    body = dict(NY_OFFICE, holidays={"country": "US", "subdivision": subdivision})
    cal = calendar_from(body)

    due = cal.add_business_seconds(local(NEW_YORK, 2024, 4, 12, 16, 0), 7200)

    assert due == local(NEW_YORK, 2024, 4, expected_day, 10, 0)


def test_explicit_holidays_and_half_days():
    cal = calendar_from(
        dict(
            NY_OFFICE,
            holidays={"dates": [date(2024, 12, 24)]},
            half_days={"2024-12-23": "12:00"},
        )
    )

    due = cal.add_business_seconds(local(NEW_YORK, 2024, 12, 23, 11, 0), 3 * 3600)

    assert due == local(NEW_YORK, 2024, 12, 25, 11, 0)


def test_business_time_between_is_zero_when_reversed_or_closed():
    cal = calendar_from(NY_OFFICE)
    saturday = local(NEW_YORK, 2024, 3, 9, 10, 0)

    assert cal.business_seconds_between(saturday, saturday - timedelta(hours=1)) == 0
    assert cal.business_seconds_between(saturday, saturday + timedelta(hours=5)) == 0
    assert cal.add_business_seconds(saturday, 0) == saturday


def test_adding_is_exact_to_the_second():
    cal = calendar_from(NY_OFFICE)
    start = local(NEW_YORK, 2024, 3, 8, 16, 59, 59)

    due = cal.add_business_seconds(start, 2)

    assert due == local(NEW_YORK, 2024, 3, 11, 9, 0, 1)
    assert cal.business_seconds_between(start, due) == 2


def test_build_calendars_always_has_24x7():
    built = build_calendars(parse_calendars({"ny": NY_OFFICE}))

    assert set(built) == {"24x7", "ny"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"timezone": "Asia/Jakartaa"},
            "calendars.jakarta.timezone: unknown IANA zone 'Asia/Jakartaa'",
            id="bad-zone",
        ),
        pytest.param(
            {"hours": {"mon-fry": "09:00-17:00"}},
            "calendars.jakarta.hours.mon-fry: unknown weekday 'fry'",
            id="bad-weekday",
        ),
        pytest.param(
            {"hours": {"mon": ["09:00-13:00", "12:00-17:00"]}},
            "calendars.jakarta.hours: ranges overlap",
            id="overlap",
        ),
        pytest.param(
            {"hours": {"mon": "17:00-09:00"}},
            "calendars.jakarta.hours.mon: range '17:00-09:00' is empty or backwards",
            id="backwards",
        ),
        pytest.param(
            {"hours": {"mon": "09:00-25:00"}},
            "calendars.jakarta.hours.mon: time of day '25:00' is after 24:00",
            id="after-midnight",
        ),
        pytest.param(
            {"holidays": {"country": "QQ"}},
            "calendars.jakarta.holidays.country: the holidays package does not "
            "know 'QQ'",
            id="bad-country",
        ),
        pytest.param(
            {"holidays": {"country": "ID", "subdivision": "XX"}},
            "calendars.jakarta.holidays.subdivision: the holidays package does not "
            "know 'ID/XX'",
            id="bad-subdivision",
        ),
        pytest.param(
            {"half_days": {"2024-13-01": "12:00"}},
            "calendars.jakarta.half_days: bad date '2024-13-01' (expected YYYY-MM-DD)",
            id="bad-date",
        ),
        pytest.param(
            {"hours": {"sat": []}},
            "calendars.jakarta.hours: no business hours in the week",
            id="empty-week",
        ),
        pytest.param(
            {"timezon": "UTC"},
            "calendars.jakarta.timezon: unknown key",
            id="typo-key",
        ),
    ],
)
def test_bad_calendar_config_names_the_key(body, message):
    with pytest.raises(ValueError) as caught:
        parse_calendars({"jakarta": body})

    assert str(caught.value) == message
