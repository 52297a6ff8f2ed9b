"""One partition per as-of date, on US market business days only (orchestration/lib/calendar.py).

Keys stay ``YYYY-MM-DD``. A weekday cron gives Monday-Friday; NYSE holidays falling on a weekday
are excluded by date (Dagster 1.13's ``exclusions``). ``end_offset=1`` keeps today's (in-progress)
business day launchable, as the previous all-days partitioning did: custodian files for D arrive
the night after D's close. (``DailyPartitionsDefinition`` also takes ``exclusions``, but with
weekends excluded its ``end_offset=1`` already offers next Monday's partition on a Saturday; the
weekday cron keeps Friday the last key until Monday.)
"""

import datetime as dt

import dagster as dg

from orchestration.lib.calendar import weekday_holidays

FIRST_DATE = dt.date(2024, 1, 1)
# Holidays are generated from rules up to this year; tests/test_operations.py fails well before it
# runs out (then raise it: nothing else changes).
LAST_HOLIDAY_YEAR = 2045

as_of_dates = dg.TimeWindowPartitionsDefinition(
    start=FIRST_DATE.isoformat(),
    fmt="%Y-%m-%d",
    cron_schedule="0 0 * * 1-5",
    end_offset=1,
    exclusions=[dt.datetime.combine(day, dt.time()) for day in weekday_holidays(FIRST_DATE.year, LAST_HOLIDAY_YEAR)],
)

# Every asset holds one as-of date per materialization: a backfill runs one date per run.
one_date_per_run = dg.BackfillPolicy.multi_run(1)


def is_as_of_partition(date: str) -> bool:
    """True for a key the daily run can be launched with (a business day within the partition range)."""
    try:
        return as_of_dates.has_partition_key(date)
    except ValueError:
        return False
