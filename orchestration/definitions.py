"""The Dagster code location: everything under orchestration/defs/, loaded in one place, with the
policies that apply across domains set here rather than asset by asset."""

import datetime as dt
from pathlib import Path

import dagster as dg

# What operations watch: the day's custodian files arrived, the trades, the orders, the reports.
WATCHED = [
    dg.AssetKey(["raw", "ingested_files"]),
    dg.AssetKey(["household_trades"]),
    dg.AssetKey(["order_files"]),
    dg.AssetKey(["taxes_saved_report"]),
]
# Each business day's run (files arrive overnight after the close) must have materialized these by
# 09:00 New York time the next morning: the check at 09:00 Tuesday-Saturday looks back 24 hours.
# A cron cannot skip NYSE holidays: the morning after a weekday holiday reads stale (docs/runbook.md).
DAILY_ORDERS_DEADLINE = dg.FreshnessPolicy.cron(
    deadline_cron="0 9 * * 2-6", lower_bound_delta=dt.timedelta(hours=24), timezone="America/New_York",
)


def with_freshness(definitions: dg.Definitions) -> dg.Definitions:
    """The same definitions, the watched assets carrying DAILY_ORDERS_DEADLINE.

    A module that imports an asset (deliver/assets.py imports household_trades) makes the folder
    loader see it twice; the loader folds identical objects, a mapped copy would not be: fold first.
    """
    assets = list({id(a): a for a in definitions.assets or []}.values())
    mapped = dg.map_asset_specs(
        lambda spec: spec.replace_attributes(freshness_policy=DAILY_ORDERS_DEADLINE) if spec.key in WATCHED else spec,
        assets,
    )
    return dg.Definitions(
        assets=mapped, schedules=definitions.schedules, sensors=definitions.sensors, jobs=definitions.jobs,
        resources=definitions.resources, executor=definitions.executor, loggers=definitions.loggers,
        asset_checks=definitions.asset_checks, metadata=definitions.metadata,
        component_tree=definitions.component_tree,
    )


@dg.definitions
def defs() -> dg.Definitions:
    return with_freshness(dg.load_from_defs_folder(path_within_project=Path(__file__).parent))
