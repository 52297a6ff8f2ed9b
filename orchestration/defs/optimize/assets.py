"""The optimizer: one Pyomo/HiGHS model per household, all its accounts together."""


import datetime as dt
import time

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from optimization import OptimizerSettings, household_problems_from_marts, optimize_households
from optimization.risk import estimate_risk_model
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.warehouse import MARTS, read_day, read_marts, replace_day


def apply_quality_holds(readiness: pd.DataFrame, holds: pd.DataFrame) -> pd.DataFrame:
    """Readiness with the GX household gate's holds added: a held household is not ready, and its
    GX reasons follow the readiness mart's own ('; '-joined)."""
    if holds is None or holds.empty:
        return readiness
    reasons = holds.groupby("household_id")["reason"].agg("; ".join)
    out = readiness.copy()
    gx_reason = out["household_id"].map(reasons)
    hit = gx_reason.notna()
    own = out["hold_reasons"].fillna("").astype(str)
    out.loc[hit, "hold_reasons"] = [
        f"{mine}; data quality: {theirs}" if mine else f"data quality: {theirs}"
        for mine, theirs in zip(own[hit], gx_reason[hit])
    ]
    out.loc[hit, "is_ready"] = False
    return out


def held_out_outcomes(readiness: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Households the readiness gate kept out, as outcome rows with the reason."""
    held = readiness[~readiness["is_ready"].astype(bool)]
    rows = pd.DataFrame({"household_id": held["household_id"], "status": "held_out", "message": held["hold_reasons"]})
    return rows.reindex(columns=columns)


@dg.asset(
    # household_quality_holds: the GX household gate; its blocking checks stop this asset for everyone.
    deps=[dg.AssetKey([name]) for name in MARTS]
    + [dg.AssetKey(["household_quality_holds"]), dg.AssetKey(["raw", "price_history"])],
    partitions_def=as_of_dates, backfill_policy=one_date_per_run,
    group_name="optimize",
    kinds={"pyomo", "highs", "duckdb"},
    pool="duckdb_writer",
)
def household_trades(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Lot-level sells, security-level buys and gifts per account, written to optimizer.trades
    (with optimizer.household_outcomes: status, timings and drift per household)."""
    as_of = dt.date.fromisoformat(context.partition_key)
    settings = OptimizerSettings()
    started = time.perf_counter()
    with duckdb.get_connection() as con:
        marts = read_marts(con)
        holds = read_day(con, "quality.household_holds", as_of)
        # The risk model is re-estimated each day from the price history delivered with the day.
        price_history = con.execute(
            "select security_id, price_date, close from raw.price_history where as_of_date = ? and price_date <= ?",
            [as_of, as_of],
        ).df()
    marts["fct_household_readiness"] = apply_quality_holds(marts["fct_household_readiness"], holds)
    risk_model = estimate_risk_model(price_history, marts["dim_securities"]) if len(price_history) else None
    if risk_model is None:
        context.log.warning(f"no price history for {as_of}: tracking error is not priced or reported")
    problems = household_problems_from_marts(marts, as_of, settings, risk_model=risk_model)
    trades, outcomes = optimize_households(problems, settings)
    held = held_out_outcomes(marts["fct_household_readiness"], list(outcomes.columns))
    outcomes = pd.concat([outcomes, held], ignore_index=True) if len(held) else outcomes
    outcomes = outcomes.sort_values("household_id", kind="stable").reset_index(drop=True)
    with duckdb.get_connection() as con:
        replace_day(con, "optimizer.trades", trades, as_of, context.run.run_id)
        replace_day(con, "optimizer.household_outcomes", outcomes, as_of, context.run.run_id)
    status = outcomes["status"].value_counts().to_dict()
    held_md = held[["household_id", "message"]].to_markdown(index=False) if len(held) else "none"
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(trades),
            "households_optimized": len(problems),
            "households_held_out": int(status.get("held_out", 0)),
            "held_out": dg.MetadataValue.md(held_md),
            "solver_outcomes": dg.MetadataValue.json({k: int(v) for k, v in status.items()}),
            "estimated_tax": round(float(pd.to_numeric(trades["estimated_tax"], errors="coerce").sum()), 2),
            "trade_value": round(float(trades["trade_value"].sum()), 2),
            "tracking_error_after_median": round(float(outcomes["tracking_error_after"].median()), 6)
            if "tracking_error_after" in outcomes and outcomes["tracking_error_after"].notna().any()
            else "not estimated",
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
