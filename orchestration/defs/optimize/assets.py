"""The optimizer: one Pyomo/HiGHS model per household, all its accounts together, fanned out over
shards of households that solve in parallel (Dagster dynamic outputs).

    plan_household_shards (reads DuckDB)  ->  solve_household_shard x N (no DuckDB)
        ->  write_household_trades (the one DuckDB writer: optimizer.trades, optimizer.household_outcomes)

The asset key stays ``household_trades`` (its blocking check ``trades_are_safe`` and everything
downstream see one asset). With the in-process executor the shards run one after the other; with the
multiprocess executor (``optimize_day`` job, or SLEEVELESS_EXECUTOR=multiprocess) or dagster-k8s's
k8s_job_executor (deploy/k8s/) each shard is its own process or pod. docs/scale.md has the numbers.
"""


import datetime as dt
import shutil
import time
from pathlib import Path

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from optimization import OUTCOME_COLUMNS, OptimizerSettings
from optimization.risk import estimate_risk_model
from orchestration.defs.optimize.resources import OptimizerFanOut, shards_location
from orchestration.defs.optimize.shards import (
    Shard,
    ShardResult,
    combine,
    SHARD_MARTS_BY_ACCOUNT,
    SHARD_MARTS_BY_HOUSEHOLD,
    combined_bases,
    household_groups,
    shard_key,
    solve_shard,
)
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.home import Home
from orchestration.lib.masking import mask_text
from orchestration.lib.warehouse import (
    MARTS,
    read_day,
    read_previous_bases,
    replace_day,
    write_bases,
)

# What the optimizer reads: the marts, the GX household gate (its blocking checks stop this asset
# for everyone) and the day's price history (the risk model).
UPSTREAM = {name: dg.AssetKey([name]) for name in MARTS} | {
    "household_quality_holds": dg.AssetKey(["household_quality_holds"]),
    "price_history": dg.AssetKey(["raw", "price_history"]),
}
MAX_LISTED = 50  # households listed in metadata tables (all of them are in optimizer.household_outcomes)


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


def operator_metadata(trades: pd.DataFrame, outcomes: pd.DataFrame, accounts: pd.DataFrame,
                      results: list[ShardResult]) -> dict:
    """What an operator reads at a glance: accounts and households processed, who was held out or
    not solved and why, solver outcomes, taxes realized. Account numbers are masked (last four)."""
    status = outcomes["status"].value_counts().to_dict()
    solved = set(outcomes.loc[outcomes["status"] != "held_out", "household_id"])
    account_ids = accounts["account_id"].astype(str).tolist()

    def listed(frame: pd.DataFrame) -> str:
        if not len(frame):
            return "none"
        shown = frame[["household_id", "status", "message"]].head(MAX_LISTED).copy()
        shown["message"] = shown["message"].fillna("").astype(str).map(lambda m: mask_text(m, account_ids)[:300])
        more = f"\n\n... and {len(frame) - MAX_LISTED} more (optimizer.household_outcomes)" if len(frame) > MAX_LISTED else ""
        return shown.to_markdown(index=False) + more

    held = outcomes[outcomes["status"] == "held_out"]
    not_solved = outcomes[~outcomes["status"].isin(["held_out", "optimal"])]
    sells = trades[trades["side"] == "sell"] if len(trades) else trades
    te = outcomes.get("tracking_error_after")
    return {
        "dagster/row_count": len(trades),
        "accounts_processed": int(accounts["household_id"].isin(solved).sum()),
        "households_optimized": len(solved),
        "households_held_out": int(status.get("held_out", 0)),
        "households_not_solved": len(not_solved),
        "held_out": dg.MetadataValue.md(listed(held)),
        "not_solved": dg.MetadataValue.md(listed(not_solved)),
        "solver_outcomes": dg.MetadataValue.json({k: int(v) for k, v in sorted(status.items())}),
        "estimated_tax": round(float(pd.to_numeric(trades["estimated_tax"], errors="coerce").sum()), 2) if len(trades) else 0.0,
        "realized_gain": round(float(pd.to_numeric(sells["realized_gain"], errors="coerce").sum()), 2) if len(sells) else 0.0,
        "trade_value": round(float(trades["trade_value"].sum()), 2) if len(trades) else 0.0,
        "tracking_error_after_median": round(float(te.median()), 6) if te is not None and te.notna().any()
        else "not estimated",
        "shards": dg.MetadataValue.md(pd.DataFrame(
            [{"shard": r.index, "households": len(r.outcomes), "trades": len(r.trades), "seconds": round(r.seconds, 2)}
             for r in sorted(results, key=lambda r: r.index)]
        ).to_markdown(index=False)),
    }


@dg.op(
    ins={name: dg.In(dg.Nothing) for name in UPSTREAM},
    out={
        "shards": dg.DynamicOut(Shard, io_manager_key="shard_io_manager"),
        "held_out": dg.Out(pd.DataFrame, io_manager_key="shard_io_manager"),
    },
    pool="duckdb_writer",  # DuckDB takes one process at a time, readers included
)
def plan_household_shards(context: dg.OpExecutionContext, duckdb: DuckDBResource, optimizer_fanout: OptimizerFanOut):
    """Applies the household holds, estimates the day's risk model and splits the ready households
    into shards balanced by lot count; each shard's mart rows are read from DuckDB when its turn
    comes, so the step holds one shard at a time, never the whole firm."""
    as_of = dt.date.fromisoformat(context.partition_key)
    settings = OptimizerSettings(
        time_limit_seconds=optimizer_fanout.time_limit_seconds,
        harvest_threshold_start=optimizer_fanout.harvest_threshold_start,
        harvest_threshold_end=optimizer_fanout.harvest_threshold_end,
    )
    with duckdb.get_connection() as con:
        readiness = con.execute("select * from main.fct_household_readiness").df()
        holds = read_day(con, "quality.household_holds", as_of)
        securities = con.execute("select * from main.dim_securities").df()
        # The risk model is re-estimated each day from the price history delivered with the day.
        price_history = con.execute(
            "select security_id, price_date, close from raw.price_history where as_of_date = ? and price_date <= ?",
            [as_of, as_of],
        ).df()
        warm_starts = read_previous_bases(con, as_of) if optimizer_fanout.warm_start else {}
        lot_counts = dict(con.execute("select household_id, count(*) from main.fct_lots group by all").fetchall())
        readiness = apply_quality_holds(readiness, holds)
        risk_model = estimate_risk_model(price_history, securities) if len(price_history) else None
        del price_history
        if risk_model is None:
            context.log.warning(f"no price history for {as_of}: tracking error is not priced or reported")
        groups = household_groups(readiness, lot_counts, optimizer_fanout.shards,
                                  optimizer_fanout.min_households_per_shard, optimizer_fanout.max_households_per_shard)
        context.log.info(f"{sum(map(len, groups))} ready households in {len(groups)} shards: "
                         + ", ".join(str(len(g)) for g in groups)
                         + f"; {sum(h in warm_starts for g in groups for h in g)} start from the previous day's basis")
        keys = mart_shard_keys(con)
        for i, group in enumerate(groups):
            frames = read_household_marts(con, group, securities, keys)
            frames["fct_household_readiness"] = readiness[readiness["household_id"].astype(str).isin(set(group))] \
                .reset_index(drop=True)
            shard = Shard(i, as_of, tuple(group), frames, settings, risk_model,
                          {h: warm_starts[h] for h in group if h in warm_starts})
            yield dg.DynamicOutput(shard, mapping_key=shard.key, output_name="shards")
    yield dg.Output(held_out_outcomes(readiness, OUTCOME_COLUMNS), output_name="held_out")


def mart_shard_keys(con) -> dict[str, str | None]:
    """shards.shard_key of every mart, from the warehouse's catalog (one query)."""
    rows = con.execute("select table_name, column_name from information_schema.columns where table_schema = 'main' "
                       "and table_name in (select unnest(?::varchar[]))", [list(MARTS)]).fetchall()
    columns: dict[str, set[str]] = {name: set() for name in MARTS}
    for table, column in rows:
        columns[table].add(column)
    return {name: shard_key(cols) for name, cols in columns.items()}


def read_household_marts(con, households: list[str], securities: pd.DataFrame,
                         keys: dict[str, str | None] | None = None) -> dict[str, pd.DataFrame]:
    """Every mart's rows that belong to ``households`` (shards.shard_key), in table order: the rows
    shards.frames_for takes from marts held in memory. Firm-wide marts (securities) are shared whole.
    ``keys``: mart_shard_keys(con), read once per plan rather than once per shard."""
    keys = keys if keys is not None else mart_shard_keys(con)
    con.execute("create or replace temp table shard_households as select unnest(?::varchar[]) as household_id",
                [list(households)])
    con.execute("create or replace temp table shard_accounts as select account_id from main.dim_accounts "
                "where household_id in (select household_id from shard_households)")
    members = {SHARD_MARTS_BY_HOUSEHOLD: "(select household_id from shard_households)",
               SHARD_MARTS_BY_ACCOUNT: "(select account_id from shard_accounts)"}
    frames = {}
    for name in MARTS:
        if name == "dim_securities":
            frames[name] = securities
            continue
        key = keys[name]
        where = "true" if key is None else f"{key} in {members[key]}"
        frames[name] = con.execute(f"select * from main.{name} where {where}").df()
    return frames


@dg.op(out=dg.Out(ShardResult, io_manager_key="shard_io_manager"), tags={"sleeveless/stage": "solve"})
def solve_household_shard(context: dg.OpExecutionContext, shard: Shard) -> ShardResult:
    """Builds and solves the shard's households; never touches DuckDB."""
    result = solve_shard(shard)
    status = result.outcomes["status"].value_counts().to_dict() if len(result.outcomes) else {}
    context.log.info(f"{shard.key}: {len(shard.households)} households in {result.seconds:.1f}s: {status}")
    return result


@dg.op(out=dg.Out(dg.Nothing), pool="duckdb_writer")
def write_household_trades(
    context: dg.OpExecutionContext, results: list[ShardResult], held_out: pd.DataFrame, duckdb: DuckDBResource,
) -> None:
    """The one DuckDB writer of the optimizer: the day's trades and outcomes, in one transaction
    (delete-then-insert, so a rerun leaves exactly one copy and a killed run leaves the last one)."""
    started = time.perf_counter()
    as_of = dt.date.fromisoformat(context.partition_key)
    trades, outcomes = combine(results)
    held_out = held_out.astype({c: outcomes[c].dtype for c in ("household_id", "status", "message")})
    outcomes = pd.concat([outcomes, held_out], ignore_index=True) if len(held_out) else outcomes
    outcomes = outcomes.sort_values("household_id", kind="stable").reset_index(drop=True)
    with duckdb.get_connection() as con:
        accounts = con.execute("select account_id, household_id from main.dim_accounts").df()
        con.execute("begin transaction")
        try:
            replace_day(con, "optimizer.trades", trades, as_of, context.run.run_id)
            replace_day(con, "optimizer.household_outcomes", outcomes, as_of, context.run.run_id)
            write_bases(con, combined_bases(results), as_of, context.run.run_id)
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise
    metadata = operator_metadata(trades, outcomes, accounts, results)
    metadata["seconds_writing"] = round(time.perf_counter() - started, 2)
    context.add_output_metadata(metadata)
    # The shards of this run are consumed: drop them (a folder store; an S3 prefix expires by lifecycle).
    folder = Path(shards_location(Home.from_env())) / context.run.run_id
    if folder.is_dir():
        shutil.rmtree(folder, ignore_errors=True)


@dg.graph_asset(
    ins={name: dg.AssetIn(key=key, dagster_type=dg.Nothing) for name, key in UPSTREAM.items()},
    partitions_def=as_of_dates,
    backfill_policy=one_date_per_run,
    group_name="optimize",
    kinds={"pyomo", "highs", "duckdb"},
)
def household_trades(**upstream):
    """Lot-level sells, security-level buys and gifts per account, written to optimizer.trades
    (with optimizer.household_outcomes: status, timings and drift per household)."""
    shards, held_out = plan_household_shards(**upstream)
    return write_household_trades(shards.map(solve_household_shard).collect(), held_out)
