"""The fallback: run the previous business day at 07:30 New York time if nothing ran it yet.

Business days are US market days (orchestration/lib/calendar.py: weekends and NYSE holidays
excluded), the same days the ``as_of_dates`` partitions have.

Custodian files for as-of date D (the close of D) arrive overnight; the sensor
(orchestration/defs/ingest/sensors.py) normally launches the run as they land. If it did not (no
sensor running, a delivery it could not see), this schedule launches the day so the morning's
orders still go out, and skips when a run of that date already succeeded or is under way.
"""

from __future__ import annotations


import dagster as dg

from orchestration.defs.partitions import is_as_of_partition
from orchestration.lib.calendar import previous_business_day

__all__ = ["daily_run_fallback", "previous_business_day"]

ACTIVE = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.QUEUED,
          dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


@dg.schedule(
    cron_schedule="30 7 * * 1-5",
    execution_timezone="America/New_York",
    job_name="daily_run",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Fallback: runs the previous business day at 07:30 New York time unless a run of it "
    "already succeeded or is under way.",
)
def daily_run_fallback(context: dg.ScheduleEvaluationContext):
    as_of = previous_business_day(context.scheduled_execution_time.date()).isoformat()
    if not is_as_of_partition(as_of):
        return dg.SkipReason(f"{as_of} is not an as-of partition (before the first date or past the last)")
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(job_name="daily_run", tags={"dagster/partition": as_of}, statuses=ACTIVE), limit=1,
    )
    if runs:
        return dg.SkipReason(f"daily_run for {as_of} already ran or is running ({runs[0].run_id})")
    return dg.RunRequest(run_key=f"fallback:{as_of}", partition_key=as_of,
                         tags={"sleeveless/trigger": "daily_run_fallback"})
