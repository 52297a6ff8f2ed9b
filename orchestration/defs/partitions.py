import dagster as dg

# One partition per as-of date: every asset of the daily run is materialized for that date.
as_of_dates = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_offset=1)

# Every asset holds one as-of date per materialization: a backfill runs one date per run.
one_date_per_run = dg.BackfillPolicy.multi_run(1)
