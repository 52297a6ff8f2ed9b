import dagster as dg

from orchestration.defs.partitions import as_of_dates

# The whole day: ingest -> dbt -> GX gates -> optimizer -> trade gate -> orders and reports.
# In-process: every step shares the one DuckDB file, which takes one writer at a time.
daily_run = dg.define_asset_job(
    "daily_run", selection=dg.AssetSelection.all(), partitions_def=as_of_dates, executor_def=dg.in_process_executor
)
