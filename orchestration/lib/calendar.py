"""The US equity market (NYSE) calendar: which dates are business days for an as-of date.

Pure rules, no data file and no network: a date is a business day when it is a weekday and not a
NYSE holiday. Holidays follow NYSE Rule 7.2: New Year's Day, Martin Luther King Jr. Day, Washington's
Birthday (Presidents Day), Good Friday, Memorial Day, Juneteenth (from 2022), Independence Day,
Labor Day, Thanksgiving and Christmas. A fixed-date holiday on a Saturday is observed the Friday
before, on a Sunday the Monday after -- except New Year's Day on a Saturday, which the exchange does
not observe at all (the Friday before closes a year: 31 Dec 2021 was a trading day).

One-off closures (a national day of mourning) are not rules; they are listed in SPECIAL_CLOSURES.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

# Closures decided by the exchange outside the rules (add one when NYSE announces it).
SPECIAL_CLOSURES: dict[dt.date, str] = {
    dt.date(2025, 1, 9): "National Day of Mourning (President Carter)",
}


def easter_sunday(year: int) -> dt.date:
    """Gregorian Easter (the anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l = (32 + 2 * e + 2 * i - h - k) % 7  # noqa: E741 - the algorithm's own name
    m = (a + 11 * h + 22 * l) // 451
    month, day = divmod(h + l - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday (Monday = 0) of a month; n = -1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    last = dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def observed(day: dt.date) -> dt.date:
    """A fixed-date holiday on a Saturday is observed on Friday, on a Sunday on Monday."""
    if day.weekday() == 5:
        return day - dt.timedelta(days=1)
    if day.weekday() == 6:
        return day + dt.timedelta(days=1)
    return day


@lru_cache(maxsize=None)
def nyse_holidays(year: int) -> dict[dt.date, str]:
    """{date the market is closed: holiday name} for one calendar year (weekends not included)."""
    days: dict[dt.date, str] = {}
    new_year = dt.date(year, 1, 1)
    if new_year.weekday() != 5:  # Saturday: not observed (Rule 7.2)
        days[observed(new_year)] = "New Year's Day"
    days[nth_weekday(year, 1, 0, 3)] = "Martin Luther King Jr. Day"
    days[nth_weekday(year, 2, 0, 3)] = "Washington's Birthday"
    days[easter_sunday(year) - dt.timedelta(days=2)] = "Good Friday"
    days[nth_weekday(year, 5, 0, -1)] = "Memorial Day"
    if year >= 2022:
        days[observed(dt.date(year, 6, 19))] = "Juneteenth National Independence Day"
    days[observed(dt.date(year, 7, 4))] = "Independence Day"
    days[nth_weekday(year, 9, 0, 1)] = "Labor Day"
    days[nth_weekday(year, 11, 3, 4)] = "Thanksgiving Day"
    days[observed(dt.date(year, 12, 25))] = "Christmas Day"
    days.update({d: name for d, name in SPECIAL_CLOSURES.items() if d.year == year})
    return days


def holiday_name(day: dt.date) -> str | None:
    return nyse_holidays(day.year).get(day)


def is_business_day(day: dt.date) -> bool:
    return day.weekday() < 5 and holiday_name(day) is None


def why_not_business_day(day: dt.date) -> str | None:
    """None on a business day, else the reason ('Saturday', 'Thanksgiving Day', ...)."""
    if day.weekday() >= 5:
        return day.strftime("%A")
    name = holiday_name(day)
    return f"NYSE holiday: {name}" if name else None


def previous_business_day(day: dt.date) -> dt.date:
    """The latest business day strictly before ``day``."""
    day -= dt.timedelta(days=1)
    while not is_business_day(day):
        day -= dt.timedelta(days=1)
    return day


def business_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """Business days from start to end, both included."""
    out, day = [], start
    while day <= end:
        if is_business_day(day):
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def weekday_holidays(first_year: int, last_year: int) -> list[dt.date]:
    """Holidays falling on weekdays (the ones a Monday-Friday calendar must drop), sorted."""
    return sorted(d for y in range(first_year, last_year + 1) for d in nyse_holidays(y) if d.weekday() < 5)
