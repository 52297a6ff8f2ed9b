"""dbt builds staging, intermediate and mart models for one as-of date from the raw tables."""

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.dbt import (
    as_of_date_for_dbt,
    ensure_manifest,
    keep_partial_parse,
    transforms_project,
    translator,
)


@dbt_assets(
    manifest=ensure_manifest(),
    project=transforms_project,
    partitions_def=as_of_dates,
    dagster_dbt_translator=translator,
    pool="duckdb_writer",
    backfill_policy=one_date_per_run,
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    # dbt tests run inside `build` and show as asset checks; row-level money rules are gated by GX.
    with as_of_date_for_dbt(context.partition_key):
        build = dbt.cli(["build"], context=context)
    yield from build.stream()
    keep_partial_parse(build.target_path)
