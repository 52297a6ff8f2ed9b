"""The household-level gate: which households the GX household suites hold out today, and why.

Runs the household suites on the marts and writes one row per held household to
``quality.household_holds`` (household_id, reason, failed_rows); the optimizer holds those
households out (status held_out, the reason in its message) and lets the rest trade.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.defs.quality.resources import QualityGates
from orchestration.lib.warehouse import read_marts, replace_day

HOLDS_TABLE = "quality.household_holds"


@dg.asset(
    # After the marts the firm gates guard (prices, reconciliation share, wash-sale history): when one
    # of those fails the day stops for everyone and holding households one by one is moot.
    deps=[dg.AssetKey([name]) for name in (
        "fct_lots", "fct_positions", "dim_accounts", "fct_household_targets", "dim_securities",
        "fct_wash_sale_windows", "fct_household_readiness",
    )],
    partitions_def=as_of_dates, backfill_policy=one_date_per_run,
    group_name="quality",
    kinds={"great_expectations", "duckdb"},
    pool="duckdb_writer",
)
def household_quality_holds(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, quality_gates: QualityGates
) -> dg.MaterializeResult:
    """Households held out by a household-level GX suite (lots, reconciliation, accounts, targets), with reasons."""
    from expectations.suites import check_accounts, check_lots, check_lots_reconcile, check_targets, household_holds
    from orchestration.defs.quality.checks import MAX_LISTED, failures_table

    as_of = dt.date.fromisoformat(context.partition_key)
    docs = quality_gates.docs_dir(as_of)
    with duckdb.get_connection() as con:
        marts = read_marts(con, ["fct_lots", "fct_positions", "dim_accounts", "fct_household_targets"])
    outcomes = [
        check_lots(marts["fct_lots"], as_of, docs_dir=docs),
        check_lots_reconcile(marts["fct_positions"], docs_dir=docs),
        check_accounts(marts["dim_accounts"], docs_dir=docs),
        check_targets(marts["fct_household_targets"], marts["dim_accounts"],
                      tolerance=quality_gates.target_weight_tolerance, docs_dir=docs),
    ]
    holds = household_holds(outcomes)
    with duckdb.get_connection() as con:
        replace_day(con, HOLDS_TABLE, holds, as_of, context.run.run_id)
    failed = any(o.failed for o in outcomes)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(holds),
            "households_held": len(holds),
            "holds": dg.MetadataValue.md(holds.head(MAX_LISTED).to_markdown(index=False) if len(holds) else "none"),
            "failures": dg.MetadataValue.md(failures_table(outcomes) if failed else "none"),
            "data_docs": dg.MetadataValue.url(outcomes[0].docs_url),
        }
    )
