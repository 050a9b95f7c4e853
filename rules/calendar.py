"""Business calendars: when the SLA clock counts.

A calendar has an IANA timezone, weekly opening hours (several ranges a day;
``00:00-24:00`` is the whole day), public holidays from the ``holidays``
package by country and subdivision, explicit extra holidays, and half days
(business ends early on a given date). Arithmetic is exact to the second: each
open range is turned into a pair of UTC instants, so a range on a DST day is
as long as the wall clock says (``00:00-24:00`` lasts 23 or 25 hours) and
adjacent whole days join with no gap.

Configuration shape (the ``calendars:`` key of config.yaml)::

    calendars:
      jakarta_business:
        timezone: Asia/Jakarta
        hours:
          mon-fri: ["08:00-12:00", "13:00-17:00"]
          sat: "09:00-12:00"
        holidays:
          country: ID           # any country the holidays package knows
          subdivision: null     # e.g. "CA" with country US
          dates: [2025-12-24]   # extra closed days
        half_days:
          2025-12-31: "12:00"   # business ends at 12:00 that day
      new_york:
        timezone: America/New_York
        hours: {mon-fri: "09:00-17:00"}
        holidays: {country: US}

A calendar named ``24x7`` (always open, no holidays) exists unless the file
defines one of its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_package

DAY_SECONDS = 86_400
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TWENTY_FOUR_SEVEN = "24x7"

# A calendar with no open hour for this many days in a row is treated as
# closed for good, so that arithmetic on it ends instead of looping.
_MAX_CLOSED_DAYS = 3 * 366

_CLOCK_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

Span = tuple[int, int]


class Calendar(Protocol):
    """Business time arithmetic on timezone-aware instants."""

    name: str

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant when ``seconds`` of business time have passed after start."""
        ...

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        """Business seconds in ``[start, end)``; 0 when end is not after start."""
        ...


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar as configured. ``weekly`` maps weekday (0 = Monday) to ranges
    in seconds after local midnight; ``half_days`` pairs a date with the second
    of the day at which business ends."""

    name: str
    timezone: str
    weekly: Mapping[int, tuple[Span, ...]]
    holidays_country: str | None = None
    holidays_subdiv: str | None = None
    extra_holidays: tuple[date, ...] = ()
    half_days: tuple[tuple[date, int], ...] = ()


class TwentyFourSeven:
    """Always open: business time is elapsed time."""

    spec = None

    def __init__(self, name: str = TWENTY_FOUR_SEVEN) -> None:
        self.name = name

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        return start + timedelta(seconds=max(seconds, 0.0))

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        return max((end - start).total_seconds(), 0.0)


def twenty_four_seven(name: str = TWENTY_FOUR_SEVEN) -> Calendar:
    """A calendar without gaps, in which business time is elapsed time."""
    return TwentyFourSeven(name)


class BusinessCalendar:
    """Weekly hours in one timezone, minus holidays, shortened on half days."""

    def __init__(self, spec: CalendarSpec) -> None:
        self.name = spec.name
        self.spec = spec
        self._zone = ZoneInfo(spec.timezone)
        self._closed = set(spec.extra_holidays)
        self._half_days = dict(spec.half_days)
        self._public = _public_holidays(spec.holidays_country, spec.holidays_subdiv)
        self._day_cache: dict[date, tuple[tuple[datetime, datetime], ...]] = {}

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        remaining = max(seconds, 0.0)
        if remaining == 0:
            return start

        for opens, closes in self._spans_from(start):
            length = (closes - opens).total_seconds()
            if remaining <= length:
                return opens + timedelta(seconds=remaining)

            remaining -= length

        raise AssertionError("unreachable: _spans_from never ends normally")

    def business_seconds_between(self, start: datetime, end: datetime) -> float:
        total = 0.0
        if end <= start:
            return total

        for opens, closes in self._spans_from(start):
            if opens >= end:
                break

            total += (min(closes, end) - opens).total_seconds()

        return total

    def is_open_day(self, day: date) -> bool:
        return bool(self._day_spans(day))

    def _spans_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open spans in UTC from ``start`` on, clipped to begin at ``start``."""
        day = start.astimezone(self._zone).date() - timedelta(days=1)
        closed_days = 0
        while closed_days < _MAX_CLOSED_DAYS:
            spans = self._day_spans(day)
            closed_days = 0 if spans else closed_days + 1
            for opens, closes in spans:
                if closes > start:
                    yield max(opens, start), closes

            day += timedelta(days=1)

        raise ValueError(f"calendar {self.name!r} has no business hours ahead")

    def _day_spans(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        cached = self._day_cache.get(day)
        if cached is not None:
            return cached

        spans: tuple[tuple[datetime, datetime], ...] = ()
        if not self._is_holiday(day):
            ends_at = self._half_days.get(day, DAY_SECONDS)
            ranges = self.spec.weekly.get(day.weekday(), ())
            spans = tuple(
                (self._instant(day, begin), self._instant(day, min(end, ends_at)))
                for begin, end in ranges
                if begin < min(end, ends_at)
            )

        self._day_cache[day] = spans
        return spans

    def _is_holiday(self, day: date) -> bool:
        if day in self._closed:
            return True

        return self._public is not None and day in self._public

    def _instant(self, day: date, second: int) -> datetime:
        """Local wall time ``second`` after midnight of ``day``, as UTC."""
        if second >= DAY_SECONDS:
            day, second = day + timedelta(days=1), second - DAY_SECONDS

        hours, rest = divmod(second, 3600)
        local = datetime.combine(day, time(hours, rest // 60, rest % 60), self._zone)
        return local.astimezone(UTC)


def _public_holidays(country: str | None, subdiv: str | None) -> Any:
    if not country:
        return None

    return holidays_package.country_holidays(country, subdiv=subdiv)


def build_calendar(spec: CalendarSpec) -> Calendar:
    """The calendar for ``spec``; a whole-week, holiday-free spec is 24/7."""
    if _is_always_open(spec):
        return TwentyFourSeven(spec.name)

    return BusinessCalendar(spec)


def build_calendars(specs: Mapping[str, CalendarSpec]) -> dict[str, Calendar]:
    """Every configured calendar by name, plus ``24x7`` unless redefined."""
    built: dict[str, Calendar] = {TWENTY_FOUR_SEVEN: twenty_four_seven()}
    for name, spec in specs.items():
        built[name] = build_calendar(spec)

    return built


def _is_always_open(spec: CalendarSpec) -> bool:
    if spec.holidays_country or spec.extra_holidays or spec.half_days:
        return False

    return all(spec.weekly.get(day) == ((0, DAY_SECONDS),) for day in range(7))


# -- configuration -----------------------------------------------------------


def parse_calendars(
    raw: Mapping[str, Any] | None, where: str = "calendars"
) -> dict[str, CalendarSpec]:
    """Calendar specs by name from the ``calendars:`` mapping.

    Raises ValueError naming the key path, e.g.
    ``calendars.jakarta.timezone: unknown IANA zone 'Asia/Jakartaa'``.
    """
    if raw is None:
        return {}

    _expect(isinstance(raw, Mapping), where, "expected a mapping of calendar names")
    specs = {}
    for name, body in raw.items():
        path = f"{where}.{name}"
        _expect(isinstance(body, Mapping), path, "expected a mapping")
        specs[str(name)] = _parse_one(str(name), body, path)

    return specs


def _parse_one(name: str, body: Mapping[str, Any], path: str) -> CalendarSpec:
    _reject_unknown(body, {"timezone", "hours", "holidays", "half_days"}, path)
    timezone = _parse_zone(body.get("timezone", "UTC"), f"{path}.timezone")
    weekly = _parse_hours(body.get("hours"), f"{path}.hours")
    country, subdiv, extra = _parse_holidays(body.get("holidays"), f"{path}.holidays")
    half_days = _parse_half_days(body.get("half_days"), f"{path}.half_days")

    return CalendarSpec(
        name=name,
        timezone=timezone,
        weekly=weekly,
        holidays_country=country,
        holidays_subdiv=subdiv,
        extra_holidays=extra,
        half_days=half_days,
    )


def _parse_zone(value: Any, path: str) -> str:
    _expect(isinstance(value, str) and value != "", path, "expected an IANA zone")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{path}: unknown IANA zone {value!r}") from None

    return value


def _parse_hours(value: Any, path: str) -> dict[int, tuple[Span, ...]]:
    if value is None:
        return {day: ((0, DAY_SECONDS),) for day in range(7)}

    _expect(isinstance(value, Mapping), path, "expected weekday: ranges")
    weekly: dict[int, list[Span]] = {}
    for key, ranges in value.items():
        days = _parse_days(str(key), f"{path}.{key}")
        spans = _parse_ranges(ranges, f"{path}.{key}")
        for day in days:
            weekly.setdefault(day, []).extend(spans)

    result = {day: _check_overlap(spans, path) for day, spans in weekly.items()}
    _expect(any(result.values()), path, "no business hours in the week")
    return result


def _parse_days(key: str, path: str) -> list[int]:
    days: list[int] = []
    for part in key.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        _expect(first in WEEKDAYS, path, f"unknown weekday {first!r}")
        _expect(not last or last in WEEKDAYS, path, f"unknown weekday {last!r}")
        begin, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        _expect(begin <= end, path, f"weekday range {part!r} runs backwards")
        days.extend(range(begin, end + 1))

    return days


def _parse_ranges(value: Any, path: str) -> list[Span]:
    items = [value] if isinstance(value, str) else value
    _expect(isinstance(items, list), path, "expected 'HH:MM-HH:MM' or a list")
    spans = []
    for item in items:
        _expect(isinstance(item, str), path, f"expected 'HH:MM-HH:MM', got {item!r}")
        begin, sep, end = item.replace(" ", "").partition("-")
        _expect(sep == "-", path, f"expected 'HH:MM-HH:MM', got {item!r}")
        start, stop = _parse_clock(begin, path), _parse_clock(end, path)
        _expect(start < stop, path, f"range {item!r} is empty or backwards")
        _expect(start < DAY_SECONDS, path, f"range {item!r} starts at 24:00")
        spans.append((start, stop))

    return spans


def _parse_clock(text: str, path: str) -> int:
    match = _CLOCK_TIME.match(text)
    _expect(match is not None, path, f"bad time of day {text!r}")
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    value = hours * 3600 + minutes * 60 + seconds
    _expect(minutes < 60 and seconds < 60, path, f"bad time of day {text!r}")
    _expect(value <= DAY_SECONDS, path, f"time of day {text!r} is after 24:00")
    return value


def _check_overlap(spans: list[Span], path: str) -> tuple[Span, ...]:
    ordered = sorted(spans)
    for (_, end), (begin, _) in zip(ordered, ordered[1:], strict=False):
        _expect(begin >= end, path, "ranges overlap")

    return tuple(ordered)


def _parse_holidays(
    value: Any, path: str
) -> tuple[str | None, str | None, tuple[date, ...]]:
    if value is None:
        return None, None, ()

    _expect(isinstance(value, Mapping), path, "expected a mapping")
    _reject_unknown(value, {"country", "subdivision", "dates"}, path)
    country = value.get("country")
    subdiv = value.get("subdivision")
    if country is not None:
        _check_country(str(country), subdiv, path)

    dates = value.get("dates") or []
    _expect(isinstance(dates, list), f"{path}.dates", "expected a list of dates")
    extra = tuple(_parse_date(item, f"{path}.dates") for item in dates)
    return (
        str(country) if country else None,
        str(subdiv) if subdiv else None,
        extra,
    )


def _check_country(country: str, subdiv: Any, path: str) -> None:
    try:
        holidays_package.country_holidays(country, subdiv=subdiv)
    except NotImplementedError:
        where = f"{path}.subdivision" if subdiv else f"{path}.country"
        what = f"{country}/{subdiv}" if subdiv else country
        message = f"{where}: the holidays package does not know {what!r}"
        raise ValueError(message) from None


def _parse_half_days(value: Any, path: str) -> tuple[tuple[date, int], ...]:
    if value is None:
        return ()

    _expect(isinstance(value, Mapping), path, "expected date: 'HH:MM'")
    result = []
    for key, end in value.items():
        day = _parse_date(key, path)
        _expect(isinstance(end, str), f"{path}.{key}", "expected 'HH:MM'")
        result.append((day, _parse_clock(end, f"{path}.{key}")))

    return tuple(sorted(result))


def _parse_date(value: Any, path: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value

    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{path}: bad date {value!r} (expected YYYY-MM-DD)") from None


def _reject_unknown(body: Mapping[str, Any], known: set[str], path: str) -> None:
    for key in body:
        _expect(key in known, f"{path}.{key}", "unknown key")


def _expect(condition: bool, path: str, message: str) -> None:
    if not condition:
        raise ValueError(f"{path}: {message}")
