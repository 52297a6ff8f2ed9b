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
from orchestration.lib.warehouse import replace_day

HOLDS_TABLE = "quality.household_holds"
TRADE_HOLDS_TABLE = "quality.trade_holds"


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
    """Households held out by a household-level GX suite (lots, reconciliation, accounts, targets, the
    30-day history behind recent purchases, the custodian rows as loaded), with reasons."""
    from expectations.suites import household_holds
    from orchestration.defs.quality.checks import MAX_LISTED, failures_table

    as_of = dt.date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as con:
        outcomes = list(household_suite_outcomes(con, as_of, quality_gates))
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


def household_suite_outcomes(con, as_of: dt.date, quality_gates: QualityGates):
    """The household suites' outcomes, in the order an operator reads them, each suite validated on
    its own read and let go before the next: at 10,000 households the day's lots (6 million), the
    custodian's lots (6 million) and transactions (8 million) held together need 6.7 GB. The step's
    Data Docs index is written once, after the last suite."""
    from expectations.runner import data_docs_built_once
    from expectations.suites import (
        HOUSEHOLD_SUITE_MART_COLUMNS,
        PURCHASE_COLUMNS,
        PURCHASE_TYPES,
        RAW_CUSTODIAN_COLUMNS,
        RECENT_LOT_COLUMNS,
        check_account_history_covers_recent_lots,
        check_accounts,
        check_lots,
        check_lots_reconcile,
        check_raw_custodian_rows,
        check_targets,
    )
    from orchestration.defs.quality.reads import custodian_rows, read_columns, recent_lots, recent_purchases

    docs = quality_gates.docs_dir(as_of)
    days = quality_gates.wash_sale_history_days
    since = as_of - dt.timedelta(days=days)
    marts = HOUSEHOLD_SUITE_MART_COLUMNS
    with data_docs_built_once(docs):
        accounts = read_columns(con, "dim_accounts", marts["dim_accounts"])
        yield check_lots(read_columns(con, "fct_lots", marts["fct_lots"]), as_of, docs_dir=docs)
        yield check_lots_reconcile(read_columns(con, "fct_positions", marts["fct_positions"]), docs_dir=docs)
        yield check_accounts(accounts, docs_dir=docs)
        yield check_targets(read_columns(con, "fct_household_targets", marts["fct_household_targets"]), accounts,
                            tolerance=quality_gates.target_weight_tolerance, docs_dir=docs)
        yield check_account_history_covers_recent_lots(
            recent_lots(con, RECENT_LOT_COLUMNS, since),
            recent_purchases(con, PURCHASE_COLUMNS, PURCHASE_TYPES, as_of, since), as_of, days=days, docs_dir=docs)
        household_of = accounts.set_index("account_id")["household_id"]
        for entity, columns in RAW_CUSTODIAN_COLUMNS.items():
            yield from check_raw_custodian_rows(
                {entity: custodian_rows(con, entity, columns, as_of)}, household_of, as_of, docs_dir=docs)


@dg.asset(
    deps=[dg.AssetKey(["household_trades"])],
    partitions_def=as_of_dates, backfill_policy=one_date_per_run,
    group_name="quality",
    kinds={"great_expectations", "duckdb"},
    pool="duckdb_writer",
    check_specs=[dg.AssetCheckSpec(
        "trades_are_safe", asset=dg.AssetKey(["household_trade_holds"]), blocking=True,
        description="The trade gate, before any order file: no sell beyond a lot, no buy of a restricted "
                    "security or inside a wash-sale window, no never_sell lot or locked account traded, cash "
                    "above its minimum, turnover within bounds. A household with an unsafe trade is held "
                    "(no orders, reason listed); the gate fails, stopping every order, only on a failure "
                    "that names no household or when more than the allowed share of households is held.",
    )],
)
def household_trade_holds(
    context: dg.AssetExecutionContext, duckdb: DuckDBResource, quality_gates: QualityGates
):
    """Households whose trades fail the GX trade suites, with reasons: their orders are not written."""
    from expectations.runner import data_docs_built_once
    from expectations.suites import check_trades, household_holds, trade_safety_frame, unattributed_failures
    from orchestration.defs.quality.checks import MAX_LISTED, gate_result
    from orchestration.defs.quality.reads import trade_gate_inputs

    as_of = dt.date.fromisoformat(context.partition_key)
    with duckdb.get_connection() as con:
        trades, marts = trade_gate_inputs(con, as_of)
    frames = trade_safety_frame(
        trades, marts["fct_lots"], marts["fct_account_cash"], marts["fct_buy_restrictions"],
        marts["fct_wash_sale_windows"], marts["fct_requests"], marts["dim_securities"],
        marts["fct_trading_restrictions"], marts["dim_accounts"],
    )
    values = marts["dim_households"].set_index("household_id")["market_value"].astype(float)
    docs = quality_gates.docs_dir(as_of)
    with data_docs_built_once(docs):
        outcomes = check_trades(frames, max_turnover=quality_gates.max_turnover, household_values=values,
                                docs_dir=docs)
    holds = household_holds(outcomes)
    unattributed = unattributed_failures(outcomes)
    with duckdb.get_connection() as con:
        replace_day(con, TRADE_HOLDS_TABLE, holds, as_of, context.run.run_id)
    trading = trades["household_id"].nunique() if len(trades) else 0
    share = len(holds) / trading if trading else 0.0
    passed = not unattributed and share <= quality_gates.max_held_household_share
    listed = holds.head(MAX_LISTED).to_markdown(index=False) if len(holds) else "none"
    check = gate_result(outcomes, passed=passed, extra={
        "households_held": len(holds),
        "households_trading": int(trading),
        "held_share": round(share, 4),
        "max_held_household_share": quality_gates.max_held_household_share,
        "holds": dg.MetadataValue.md(listed),
        "unattributed_failures": dg.MetadataValue.md("; ".join(unattributed) or "none"),
    })
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(holds),
            "households_held": len(holds),
            "holds": dg.MetadataValue.md(listed),
            "data_docs": dg.MetadataValue.url(outcomes[0].docs_url) if outcomes[0].docs_url else "none",
        },
        check_results=[dg.AssetCheckResult(
            check_name="trades_are_safe", passed=check.passed, severity=check.severity,
            description=check.description, metadata=check.metadata,
        )],
    )

