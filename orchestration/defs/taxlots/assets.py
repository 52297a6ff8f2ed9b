"""The tax-lot engine over each household's history: the engine's basis next to the custodian's."""

import datetime as dt
import os
import time

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from orchestration.lib.masking import mask_frame
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.warehouse import replace_day
from taxlots.pipeline import ENGINE_COLUMNS, engine_books

INPUTS = ("open_lots", "transactions", "accounts", "security_master")
# Only buys, reinvestments and sells replay (taxlots.pipeline selects the same rows again): most of a
# history is dividends, fees and cash, not worth reading out of DuckDB. Only the columns the engine
# reads (taxlots.pipeline.ENGINE_COLUMNS) are read.
ROWS_REPLAYED = {"transactions": " and transaction_type in ('buy', 'reinvest', 'sell') and security_id is not null"}


def engine_workers() -> int:
    """Processes replaying households (SLEEVELESS_ENGINE_WORKERS, default 1: in this process).
    Small firms stay in one process whatever the setting (taxlots.fanout.MIN_HOUSEHOLDS_PER_WORKER)."""
    return max(1, int(os.environ.get("SLEEVELESS_ENGINE_WORKERS", "1")))


def engine_day(connection, as_of: dt.date, run_id: str, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replay the day's households from the raw tables and replace the day in taxlots.engine_lot_basis and
    taxlots.household_realized; returns both tables. ``connection()`` opens a DuckDB connection (a context
    manager), used once to read and once to write."""
    with connection() as con:
        frames = {
            name: con.execute(f"select {', '.join(ENGINE_COLUMNS[name])} from raw.{name} where as_of_date = ?"
                              + ROWS_REPLAYED.get(name, ""), [as_of]).df()
            for name in INPUTS
        }
    # typed by engine_books: a column that is null on every lot (a day with no differences) is still
    # VARCHAR / TIMESTAMP / DOUBLE in DuckDB, not its NULL type
    lots, households = engine_books(
        frames["open_lots"], frames["transactions"], frames["accounts"], frames["security_master"], as_of,
        workers=workers,
    )
    del frames
    households = households.astype({"engine_error": "string", "household_id": "string"})
    with connection() as con:
        replace_day(con, "taxlots.engine_lot_basis", lots, as_of, run_id)
        replace_day(con, "taxlots.household_realized", households, as_of, run_id)
    return lots, households


@dg.asset(
    key=["taxlots", "engine_lot_basis"],
    deps=[dg.AssetKey(["raw", name]) for name in INPUTS],
    partitions_def=as_of_dates,
    backfill_policy=one_date_per_run,
    group_name="tax_engine",
    kinds={"python", "duckdb"},
    pool="duckdb_writer",
)
def engine_lot_basis_asset(context: dg.AssetExecutionContext, duckdb: DuckDBResource) -> dg.MaterializeResult:
    """Replays every household's transactions (wash sales across all its accounts, IRAs included) over
    the custodian's open lots; where the engine's basis differs from the custodian's, fct_lots shows
    the difference and the reason beside the custodian's basis. Also writes the household's year
    (taxlots.household_realized: realized gains, disallowed losses, netting, offset, carryforwards),
    which dim_households carries beside the custodian-reported figures."""
    as_of = dt.date.fromisoformat(context.partition_key)
    started = time.perf_counter()
    workers = engine_workers()
    result, households = engine_day(duckdb.get_connection, as_of, context.run.run_id, workers)
    differing = result[result["basis_difference_reason"].notna()]
    sample = mask_frame(differing[["account_id", "lot_id", "basis_difference", "basis_difference_reason"]].head(20))
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(result),
            "lots_differing_from_custodian": len(differing),
            "households_replayed": len(households),
            "households_not_replayed": int(households["engine_error"].notna().sum()),
            "losses_disallowed_household_wide": round(float(households["engine_disallowed_loss_ytd"].sum()), 2),
            "basis_difference_total": round(float(pd.to_numeric(differing["basis_difference"]).abs().sum()), 2),
            "sample": dg.MetadataValue.md(sample.to_markdown(index=False) if len(sample) else "none"),
            "seconds": round(time.perf_counter() - started, 2),
            "engine_workers": workers,
        }
    )
