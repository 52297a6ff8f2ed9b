"""Holding period: long-term means held MORE than one year (IRC 1222), counted on trade dates."""

from __future__ import annotations

import datetime as dt


def one_year_after(day: dt.date) -> dt.date:
    """The same calendar date a year later; Feb 29 maps to Feb 28 (as DuckDB's interval arithmetic does)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def long_term_date(adjusted_acquired_date: dt.date) -> dt.date:
    """First sale date that is long-term: one year and one day after the (adjusted) acquisition."""
    return one_year_after(adjusted_acquired_date) + dt.timedelta(days=1)


def holding_term(adjusted_acquired_date: dt.date, sale_date: dt.date, always_long_term: bool = False) -> str:
    """'long' when the sale is more than one year after acquisition, or the lot was inherited."""
    if always_long_term or sale_date >= long_term_date(adjusted_acquired_date):
        return "long"
    return "short"


def tacked_acquired_date(replacement_date: dt.date, sale_date: dt.date, sold_adjusted_acquired_date: dt.date) -> dt.date:
    """IRC 1223(3): the replacement's holding period includes the sold lot's. Broker convention:
    replacement purchase date minus the days the sold lot was held (also when bought before the sale)."""
    return replacement_date - (sale_date - sold_adjusted_acquired_date)
