"""Blocking Great Expectations gates, at two levels (docs/quality.md).

Firm gates fail, and so stop the optimizer and every order, when the day's data is wrong for
everyone: a custodian file missing, a price missing or stale, too many accounts not reconciling,
transaction history too short for wash-sale windows, an unsafe trade. Household gates fail only on
what cannot be pinned on a household; a failure that can is reported (the households it touches are
listed) and the ``household_quality_holds`` asset holds those households out while the rest trade.

Every check's metadata names each failed expectation with its unexpected count and sample rows, and
links the GX Data Docs page of the day, so an operator sees why without opening a log.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from orchestration.defs.partitions import as_of_dates
from orchestration.defs.quality.reads import read_columns
from orchestration.defs.quality.resources import QualityGates
from orchestration.lib.warehouse import read_day, read_marts

MAX_LISTED = 100
# Checks read the DuckDB file: in a multiprocess run they queue behind its one writer.
DUCKDB_POOL = "duckdb_writer"  # rows of a holds table shown in metadata (the full list is in quality.household_holds)


def _sample(f) -> str:
    shown = f.rows[:3] if f.rows else f.sample[:5]
    return str(shown).replace("|", "/")[:300]


def failures_table(outcomes) -> str:
    """Markdown: one line per failed expectation, with its unexpected count and sample rows."""
    lines = ["| suite | expectation | column | unexpected | sample rows |", "|---|---|---|---|---|"]
    lines += [
        f"| {o.suite} | {f.expectation} | {f.column or ''} | "
        f"{f.unexpected_count if f.unexpected_count is not None else ''} | {_sample(f)} |"
        for o in outcomes
        for f in o.failed
    ]
    return "\n".join(lines)


def gate_result(outcomes, passed: bool | None = None, extra: dict | None = None) -> dg.AssetCheckResult:
    """The check result of one or more suite outcomes. ``passed`` overrides "no expectation failed"
    (a household gate passes with failures it can pin on households; they are then a warning)."""
    outcomes = outcomes if isinstance(outcomes, list) else [outcomes]
    failed = [f for o in outcomes for f in o.failed]
    passed = not failed if passed is None else passed
    docs = next((o.docs_url for o in outcomes if o.docs_url), None)
    metadata = {
        "failed_expectations": len(failed),
        "rows_validated": sum(o.row_count for o in outcomes),
        "failures": dg.MetadataValue.md(failures_table(outcomes) if failed else "none"),
        "failed_detail": dg.MetadataValue.json([
            {"suite": o.suite, "expectation": f.expectation, "column": f.column,
             "unexpected_count": f.unexpected_count, "sample_rows": f.rows[:10] or f.sample[:10]}
            for o in outcomes for f in o.failed
        ]),
    }
    if docs:
        metadata["data_docs"] = dg.MetadataValue.url(docs)
    metadata.update(extra or {})
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR if not passed or not failed else dg.AssetCheckSeverity.WARN,
        description="; ".join(o.summary() for o in outcomes),
        metadata=metadata,
    )


def household_gate_result(outcomes) -> dg.AssetCheckResult:
    """Pass when every failure names its households (they are held out); fail on the rest."""
    from expectations.suites import household_holds, unattributed_failures

    outcomes = outcomes if isinstance(outcomes, list) else [outcomes]
    unattributed = unattributed_failures(outcomes)
    holds = household_holds(outcomes)
    return gate_result(
        outcomes,
        passed=not unattributed,
        extra={
            "households_to_hold": len(holds),
            "holds": dg.MetadataValue.md(holds.head(MAX_LISTED).to_markdown(index=False) if len(holds) else "none"),
            "unattributed_failures": dg.MetadataValue.md("; ".join(unattributed) or "none"),
        },
    )


def _as_of(context) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


# --- firm gates -----------------------------------------------------------------------------------

@dg.asset_check(asset=dg.AssetKey(["raw", "ingested_files"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL)
def custodian_files_present(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Firm gate: every required custodian file of the day (prices, positions, lots, ...) was ingested with rows."""
    from expectations.suites import check_custodian_files

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        ledger = con.execute("select * from raw.ingested_files where as_of_date = ?", [as_of]).df()
    return gate_result(check_custodian_files(ledger, as_of, docs_dir=quality_gates.docs_dir(as_of)))


@dg.asset_check(asset=dg.AssetKey(["dim_securities"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL,
                additional_deps=[dg.AssetKey(["fct_lots"]), dg.AssetKey(["fct_household_targets"])])
def prices_fresh_and_positive(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Firm gate: every held or target security has a price > 0, no older than the configured age."""
    from expectations.suites import check_security_prices

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        securities = read_marts(con, ["dim_securities"])["dim_securities"]
        held, targeted = read_columns(con, "fct_lots", ["security_id"]), read_columns(con, "fct_household_targets", ["security_id"])
    return gate_result(check_security_prices(
        securities, held, targeted, as_of,
        max_price_age_days=quality_gates.max_price_age_days, docs_dir=quality_gates.docs_dir(as_of),
    ))


@dg.asset_check(asset=dg.AssetKey(["fct_positions"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL)
def accounts_reconcile_within_threshold(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Firm gate: at most the configured share of accounts have lots that do not reconcile with positions
    (below it, those households are held out one by one)."""
    from expectations.suites import check_reconciliation_share

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        positions = read_columns(con, "fct_positions", ["account_id", "quantity", "lot_quantity"])
    outcome = check_reconciliation_share(
        positions, quality_gates.max_unreconciled_account_share, docs_dir=quality_gates.docs_dir(as_of)
    )
    return gate_result(outcome, extra={"max_unreconciled_account_share": quality_gates.max_unreconciled_account_share})


@dg.asset_check(asset=dg.AssetKey(["fct_wash_sale_windows"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL)
def transaction_history_covers_wash_sale_window(
    context, duckdb: DuckDBResource, quality_gates: QualityGates
) -> dg.AssetCheckResult:
    """Firm gate: the transactions file reaches back the configured days (30), so no open wash-sale
    window is missed, and holds nothing dated after the as-of date."""
    from expectations.suites import check_transaction_history

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        transactions = con.execute(
            "select trade_date from raw.transactions where as_of_date = ?", [as_of]
        ).df()
    return gate_result(check_transaction_history(
        transactions, as_of, days=quality_gates.wash_sale_history_days, docs_dir=quality_gates.docs_dir(as_of)
    ))


# --- household gates (fail only on what cannot be pinned on a household) ----------------------------

@dg.asset_check(asset=dg.AssetKey(["fct_lots"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL)
def lots_are_sound(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Lots: quantity > 0, basis >= 0, acquired no later than the as-of date, unique lot ids."""
    from expectations.suites import HOUSEHOLD_SUITE_MART_COLUMNS, check_lots

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        lots = read_columns(con, "fct_lots", HOUSEHOLD_SUITE_MART_COLUMNS["fct_lots"])
    return household_gate_result(check_lots(lots, as_of, docs_dir=quality_gates.docs_dir(as_of)))


@dg.asset_check(asset=dg.AssetKey(["dim_accounts"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL)
def every_account_in_one_household(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Every account in exactly one household (an account in two holds both; in none stops the firm)."""
    from expectations.suites import check_accounts

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        accounts = read_marts(con, ["dim_accounts"])["dim_accounts"]
    return household_gate_result(check_accounts(accounts, docs_dir=quality_gates.docs_dir(as_of)))


@dg.asset_check(asset=dg.AssetKey(["fct_household_targets"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL,
                additional_deps=[dg.AssetKey(["dim_accounts"])])
def targets_sum_to_one(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Every household has a target whose weights sum to 1."""
    from expectations.suites import HOUSEHOLD_SUITE_MART_COLUMNS, check_targets

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        marts = {mart: read_columns(con, mart, HOUSEHOLD_SUITE_MART_COLUMNS[mart]) for mart in ("fct_household_targets", "dim_accounts")}
    return household_gate_result(check_targets(
        marts["fct_household_targets"], marts["dim_accounts"], tolerance=quality_gates.target_weight_tolerance,
        docs_dir=quality_gates.docs_dir(as_of),
    ))


@dg.asset_check(asset=dg.AssetKey(["household_quality_holds"]), blocking=True, partitions_def=as_of_dates, pool=DUCKDB_POOL,
                additional_deps=[dg.AssetKey(["fct_household_readiness"])])
def held_households_within_threshold(context, duckdb: DuckDBResource, quality_gates: QualityGates) -> dg.AssetCheckResult:
    """Firm gate: if more than the configured share of households is held out (GX holds or the
    readiness mart), the feed is what is wrong: stop everyone rather than trade a few."""
    from expectations.runner import validate
    from expectations.suites import _gx

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        readiness = read_marts(con, ["fct_household_readiness"])["fct_household_readiness"]
        holds = read_day(con, "quality.household_holds", as_of)
    held = set(readiness.loc[~readiness["is_ready"].astype(bool), "household_id"]) | set(holds["household_id"])
    total = readiness["household_id"].nunique()
    frame = pd.DataFrame({"households": [total], "held": [len(held)], "held_share": [len(held) / total if total else 0.0]})
    outcome = validate(
        frame, "held_households_within_threshold",
        [_gx().ExpectColumnValuesToBeBetween(column="held_share", min_value=0, max_value=quality_gates.max_held_household_share)],
        docs_dir=quality_gates.docs_dir(as_of),
    )
    return gate_result(outcome, extra={"households_held": len(held), "households": total,
                                       "max_held_household_share": quality_gates.max_held_household_share})
