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
from taxlots.pipeline import engine_books

INPUTS = ("open_lots", "transactions", "accounts", "security_master")
# Only buys, reinvestments and sells replay (taxlots.pipeline selects the same rows again): most of a
# history is dividends, fees and cash, not worth reading out of DuckDB.
ROWS_REPLAYED = {"transactions": " and transaction_type in ('buy', 'reinvest', 'sell') and security_id is not null"}
DATES = ("custodian_adjusted_acquired_date", "engine_adjusted_acquired_date")
TEXT = ("account_id", "lot_id", "household_id", "security_id", "basis_difference_reason")


def engine_workers() -> int:
    """Processes replaying households (SLEEVELESS_ENGINE_WORKERS, default 1: in this process).
    Small firms stay in one process whatever the setting (taxlots.fanout.MIN_HOUSEHOLDS_PER_WORKER)."""
    return max(1, int(os.environ.get("SLEEVELESS_ENGINE_WORKERS", "1")))


def typed_for_warehouse(result: pd.DataFrame) -> pd.DataFrame:
    """Explicit dtypes: a column that is null on every lot (a day with no differences) must still be
    VARCHAR / DATE / DOUBLE in DuckDB, not its NULL type."""
    typed = result.copy()
    for column in typed.columns:
        if column in TEXT:
            typed[column] = typed[column].astype("string")
        elif column in DATES:
            typed[column] = pd.to_datetime(typed[column])
        else:
            typed[column] = pd.to_numeric(typed[column]).astype("float64")
    return typed


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
    with duckdb.get_connection() as con:
        frames = {
            name: con.execute(f"select * from raw.{name} where as_of_date = ?" + ROWS_REPLAYED.get(name, ""),
                              [as_of]).df()
            for name in INPUTS
        }
    workers = engine_workers()
    lots, households = engine_books(
        frames["open_lots"], frames["transactions"], frames["accounts"], frames["security_master"], as_of,
        workers=workers,
    )
    result = typed_for_warehouse(lots)
    households = households.astype({"engine_error": "string", "household_id": "string"})
    with duckdb.get_connection() as con:
        replace_day(con, "taxlots.engine_lot_basis", result, as_of, context.run.run_id)
        replace_day(con, "taxlots.household_realized", households, as_of, context.run.run_id)
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
