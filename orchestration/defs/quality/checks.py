"""Blocking Great Expectations gates: the optimizer never runs on, and no order file is written from,
data that breaks a rule that protects money. The check metadata names each failed expectation with
its unexpected count and sample values, so an operator sees why without opening a log."""


import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.defs.partitions import as_of_dates
from orchestration.lib.warehouse import read_day, read_marts


def _result(outcomes) -> dg.AssetCheckResult:
    outcomes = outcomes if isinstance(outcomes, list) else [outcomes]
    failed = [f for o in outcomes for f in o.failed]
    table = "\n".join(
        ["| suite | expectation | column | unexpected | sample |", "|---|---|---|---|---|"]
        + [
            f"| {o.suite} | {f.expectation} | {f.column or ''} | {f.unexpected_count if f.unexpected_count is not None else ''} | {str(f.sample[:5])[:200]} |"
            for o in outcomes
            for f in o.failed
        ]
    )
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(o.summary() for o in outcomes),
        metadata={
            "failed_expectations": len(failed),
            "rows_validated": sum(o.row_count for o in outcomes),
            "failures": dg.MetadataValue.md(table if failed else "none"),
        },
    )


def _as_of(context) -> dt.date:
    return dt.date.fromisoformat(context.partition_key)


@dg.asset_check(asset=dg.AssetKey(["dim_securities"]), blocking=True, partitions_def=as_of_dates,
                additional_deps=[dg.AssetKey(["fct_lots"]), dg.AssetKey(["fct_household_targets"])])
def prices_fresh_and_positive(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Firm gate: every held or target security has a price > 0 dated the as-of day."""
    from expectations.suites import check_security_prices

    with duckdb.get_connection() as con:
        marts = read_marts(con, ["dim_securities", "fct_lots", "fct_household_targets"])
    return _result(check_security_prices(marts["dim_securities"], marts["fct_lots"], marts["fct_household_targets"], _as_of(context)))


@dg.asset_check(asset=dg.AssetKey(["fct_lots"]), blocking=True, partitions_def=as_of_dates)
def lots_are_sound(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Lots: quantity > 0, basis >= 0, acquired no later than the as-of date, unique lot ids."""
    from expectations.suites import check_lots

    with duckdb.get_connection() as con:
        lots = read_marts(con, ["fct_lots"])["fct_lots"]
    return _result(check_lots(lots, _as_of(context)))


@dg.asset_check(asset=dg.AssetKey(["dim_accounts"]), blocking=True, partitions_def=as_of_dates)
def every_account_in_one_household(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    from expectations.suites import check_accounts

    with duckdb.get_connection() as con:
        accounts = read_marts(con, ["dim_accounts"])["dim_accounts"]
    return _result(check_accounts(accounts))


@dg.asset_check(asset=dg.AssetKey(["fct_household_targets"]), blocking=True, partitions_def=as_of_dates,
                additional_deps=[dg.AssetKey(["dim_accounts"])])
def targets_sum_to_one(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Every household has a target whose weights sum to 1."""
    from expectations.suites import check_targets

    with duckdb.get_connection() as con:
        marts = read_marts(con, ["fct_household_targets", "dim_accounts"])
    return _result(check_targets(marts["fct_household_targets"], marts["dim_accounts"]))


@dg.asset_check(asset=dg.AssetKey(["household_trades"]), blocking=True, partitions_def=as_of_dates)
def trades_are_safe(context, duckdb: DuckDBResource) -> dg.AssetCheckResult:
    """Before any order file: never sell more than a lot holds, never buy a restricted security or
    inside a wash-sale window, never drive cash negative, turnover within a sane bound."""
    from expectations.suites import check_trades, trade_safety_frame

    as_of = _as_of(context)
    with duckdb.get_connection() as con:
        marts = read_marts(con)
        trades = read_day(con, "optimizer.trades", as_of)
    frames = trade_safety_frame(
        trades, marts["fct_lots"], marts["fct_account_cash"], marts["fct_buy_restrictions"],
        marts["fct_wash_sale_windows"], marts["fct_requests"], marts["dim_securities"],
    )
    firm_value = float(marts["dim_households"]["market_value"].sum())
    return _result(check_trades(frames, max_turnover=2.0, household_value=firm_value))
