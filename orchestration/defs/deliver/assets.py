"""Order files per custodian with lot instructions, and the taxes-saved reports."""


import datetime as dt
import hashlib
import io
import json
from concurrent.futures import ThreadPoolExecutor

import dagster as dg
import pandas as pd
import pyarrow as pa
from dagster_duckdb import DuckDBResource

from delivery.csvfile import csv_byte_parts, csv_bytes
from delivery.html_report import render_html_reports
from delivery.lineage import order_lineage_by_account_range
from delivery.orders import order_files_by_custodian, order_lines
from delivery.taxes_saved import (
    fee_coverage,
    firm_summary,
    holding_values,
    household_summary,
    household_weights,
    return_dispersion,
    taxes_saved_by_account_in_ranges,
    year_to_date,
)
from orchestration.defs.optimize.assets import household_trades
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.stores import FileStoreResource
from orchestration.lib.warehouse import connection_when_free, read_day, read_marts, replace_day


def _csv(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame, lineterminator="\n")


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def apply_trade_gate(trades: pd.DataFrame, outcomes: pd.DataFrame | None, holds: pd.DataFrame):
    """Trades and outcomes with the trade gate's holds applied: a held household's trades are
    dropped (no order goes out) and its outcome says why (status held_at_trade_gate)."""
    if holds is None or holds.empty:
        return trades, outcomes
    reasons = holds.set_index("household_id")["reason"]
    trades = trades[~trades["household_id"].isin(reasons.index)].reset_index(drop=True)
    if outcomes is not None and len(outcomes):
        outcomes = outcomes.copy()
        hit = outcomes["household_id"].isin(reasons.index)
        outcomes.loc[hit, "status"] = "held_at_trade_gate"
        outcomes.loc[hit, "message"] = [
            f"trade gate: {reasons[h]}; {m}" if isinstance(m, str) and m else f"trade gate: {reasons[h]}"
            for h, m in zip(outcomes.loc[hit, "household_id"], outcomes.loc[hit, "message"])
        ]
    return trades, outcomes


WRITER_THREADS = 8  # a durable write waits on fsync (or an upload), not on Python: overlap them
MANIFEST_COLUMNS = ["file", "bytes", "sha256"]


def _write_files(store, folder: str, files: dict[str, bytes]) -> dict[str, str]:
    """Write each file atomically. The first file is written alone (it creates the store's client,
    which the threads then share)."""
    def write(name: str) -> str:
        return store.write_bytes(f"{folder}/{name}", files[name])

    names = sorted(files)
    written = {name: write(name) for name in names[:1]}
    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        written.update(zip(names[1:], pool.map(write, names[1:])))
    return written


def _manifest_entries(files: dict[str, bytes]) -> list[dict]:
    return [{"file": n, "bytes": len(c), "sha256": hashlib.sha256(c).hexdigest()} for n, c in files.items()]


def _write_manifest(store, folder: str, entries: list[dict]) -> str:
    """manifest.csv: name, bytes and sha256 of every file of the folder, by name."""
    manifest = pd.DataFrame(sorted(entries, key=lambda e: e["file"]), columns=MANIFEST_COLUMNS)
    return store.write_bytes(f"{folder}/manifest.csv", _csv(manifest))


def _write_all(store, folder: str, files: dict[str, bytes]) -> dict[str, str]:
    """Write each file, then a manifest (name, bytes, sha256) that names them all."""
    written = _write_files(store, folder, files)
    written["manifest.csv"] = _write_manifest(store, folder, _manifest_entries(files))
    return written


def _write_by_custodian(store, folder: str, batches) -> tuple[dict[str, str], dict[str, int]]:
    """Write each custodian's files (``batches``: delivery.orders.order_files_by_custodian) before the
    next is rendered, then the manifest of them all; also the order and lot-instruction line counts."""
    written: dict[str, str] = {}
    entries: list[dict] = []
    counts = {"order_lines": 0, "lot_instructions": 0}
    for files in batches:
        written.update(_write_files(store, folder, files))
        entries += _manifest_entries(files)
        counts["order_lines"] += sum(c.count(b"\n") - 1 for n, c in files.items() if "_orders_" in n)
        counts["lot_instructions"] += sum(c.count(b"\n") - 1 for n, c in files.items() if "_lot_instructions_" in n)
        pa.default_memory_pool().release_unused()  # (see _csv_buffer)
    written["manifest.csv"] = _write_manifest(store, folder, entries)
    return written, counts


def _csv_buffer(pieces) -> bytearray:
    """_csv of the concatenation of ``pieces`` (frames with the same columns and dtypes), encoded a
    block of rows at a time into one buffer: the order lineage is ~0.9 GB at 10,000 households, and
    its rows' text, the joined text and the bytes at once would be three times that."""
    buffer = bytearray()
    for k, frame in enumerate(pieces):
        parts = csv_byte_parts(frame, lineterminator="\n")
        if k:
            next(parts)  # the header, once
        for part in parts:
            buffer += part
        # Arrow's allocator keeps the blocks the CSV text was joined in; what comes next is built by pandas
        pa.default_memory_pool().release_unused()
    return buffer


def _relieved_lot_sources(con, as_of: dt.date) -> pd.DataFrame:
    """lot_id and custodian file, line and sha256 of the lots the day's trades name: the lineage
    needs no other lot (fct_lots holds 6M rows at 10,000 households; a day's sells and gifts ~1M)."""
    return con.execute(
        f"select lot_id, {', '.join(LOT_LINEAGE_COLUMNS)} from main.fct_lots "
        "where lot_id in (select lot_id from optimizer.trades where as_of_date = ?)",
        [as_of],
    ).df()


# The lots' custodian file and line: the order lineage reads them, the reports do not.
LOT_LINEAGE_COLUMNS = ["source_file", "source_line", "file_sha256"]
# The marts taxes_saved_report reads (withdrawal_income_tax rebuilds household problems from these).
REPORT_MARTS = ["dim_securities", "dim_accounts", "dim_households", "fct_lots", "fct_account_cash",
                "fct_household_targets", "fct_wash_sale_windows", "fct_requests"]
# The lot columns the report and the household problems it rebuilds read: fct_lots is 6M rows at
# 10,000 households, and each of its other columns (ids, dates, reasons) is ~50 MB to ~400 MB in pandas.
REPORT_LOT_COLUMNS = ["lot_id", "account_id", "household_id", "security_id", "quantity", "cost_basis", "cost_per_share",
                      "acquired_date", "long_term_date", "is_long_term", "price"]
WEIGHT_LOT_COLUMNS = ["household_id", "security_id", "quantity", "price"]  # delivery.taxes_saved.household_weights


# order_files and taxes_saved_report are not in the duckdb_writer pool: they come after every other
# DuckDB step of the day (the trade gate), hold the file only while they read their inputs (and the
# report while it writes its table), and so run side by side, each waiting for the other's short hold
# (connection_when_free): at 10,000 households 107 s one after the other became 66 s (docs/scale.md).
# household_trade_holds carries the blocking trade gate (trades_are_safe): when it fails nothing is
# written; when it passes, the households it holds are left out of every file.
TRADE_GATE = dg.AssetKey(["household_trade_holds"])


@dg.asset(deps=[household_trades, TRADE_GATE], partitions_def=as_of_dates, backfill_policy=one_date_per_run,
          group_name="deliver", kinds={"csv"})
def order_files(context: dg.AssetExecutionContext, duckdb: DuckDBResource, outputs: FileStoreResource) -> dg.MaterializeResult:
    """Per custodian and day: orders, the lot-instruction file naming the lots to relieve, block orders
    with allocations and FIX 4.4 messages; plus the order lineage for auditors (outside the orders
    folder, since it carries the run id)."""
    as_of = dt.date.fromisoformat(context.partition_key)
    with connection_when_free(duckdb) as con:
        marts = read_marts(con, ["dim_accounts", "dim_securities", "fct_household_targets"],
                           columns={"fct_household_targets": ["household_id", "model_id", "model_version"]})
        lot_sources = _relieved_lot_sources(con, as_of)
        trades = read_day(con, "optimizer.trades", as_of)
        trades, _ = apply_trade_gate(trades, None, read_day(con, "quality.trade_holds", as_of))
        run_id = con.execute("select any_value(run_id) from optimizer.trades where as_of_date = ?", [as_of]).fetchone()[0]
        price_rows = con.execute(
            "select security_id, source_file, source_line, file_sha256 from raw.prices where as_of_date = ?", [as_of]
        ).df()
    orders = order_lines(trades, marts["dim_accounts"], marts["dim_securities"], as_of) if len(trades) else None
    store = outputs.store()
    written, counts = _write_by_custodian(store, f"orders/{as_of.isoformat()}", order_files_by_custodian(
        trades, marts["dim_accounts"], marts["dim_securities"], as_of, orders))
    lineage = order_lineage_by_account_range(
        trades, marts["dim_accounts"], marts["dim_securities"], lot_sources, marts["fct_household_targets"],
        price_rows, run_id or context.run.run_id, as_of, orders,
    )
    lineage_file = store.write_bytes(f"lineage/{as_of.isoformat()}/order_lineage_{as_of:%Y%m%d}.csv", _csv_buffer(lineage))
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.json(sorted(written.values())),
            "lineage": lineage_file,
            **counts,
        }
    )


@dg.asset(deps=[household_trades, TRADE_GATE], partitions_def=as_of_dates, backfill_policy=one_date_per_run,
          group_name="deliver", kinds={"csv"})
def taxes_saved_report(context: dg.AssetExecutionContext, duckdb: DuckDBResource, outputs: FileStoreResource) -> dg.MaterializeResult:
    """Estimated Taxes Saved or Deferred per account, per household and for the firm."""
    as_of = dt.date.fromisoformat(context.partition_key)
    with connection_when_free(duckdb) as con:
        marts = read_marts(con, REPORT_MARTS, columns={"fct_lots": REPORT_LOT_COLUMNS})
        trades = read_day(con, "optimizer.trades", as_of)
        outcomes = read_day(con, "optimizer.household_outcomes", as_of)
        trades, outcomes = apply_trade_gate(trades, outcomes, read_day(con, "quality.trade_holds", as_of))
        price_history = con.execute(
            "select security_id, price_date, close from raw.price_history where as_of_date = ? and price_date <= ?",
            [as_of, as_of],
        ).df()
    optimized = set(outcomes.loc[outcomes["status"] == "optimal", "household_id"])
    by_account = taxes_saved_by_account_in_ranges(
        trades, marts["fct_lots"], marts["dim_accounts"][marts["dim_accounts"]["household_id"].isin(optimized)],
        marts["dim_households"], marts["fct_household_targets"], marts["fct_account_cash"], marts["fct_requests"],
        securities=marts["dim_securities"], wash_windows=marts["fct_wash_sale_windows"], as_of=as_of,
        transitioning=frozenset(marts["fct_requests"].loc[marts["fct_requests"]["request_type"] == "transition", "household_id"]),
    )
    by_household = household_summary(by_account)
    with connection_when_free(duckdb) as con:
        # The report ledger: one row per account and run day, the basis of the year-to-date figures.
        replace_day(con, "reports.taxes_saved_by_account", by_account, as_of, context.run.run_id)
        history = con.execute(
            "select * from reports.taxes_saved_by_account where year(as_of_date) = ?", [as_of.year]
        ).df()
    ytd = year_to_date(history, as_of)
    summary = firm_summary(by_household, outcomes)
    summary["as_of_date"] = as_of.isoformat()
    summary["ytd_taxes_saved_or_deferred"] = round(float(ytd["ytd_taxes_saved_or_deferred"].sum()), 2)
    summary["ytd_fee_coverage"] = fee_coverage(ytd, by_account, as_of)
    # the weights need four of the lots' columns: a selection of all eleven would copy ~0.7 GB
    lots_in_scope = marts["fct_lots"].loc[marts["fct_lots"]["household_id"].isin(optimized), WEIGHT_LOT_COLUMNS]
    cash_in_scope = marts["fct_account_cash"][marts["fct_account_cash"]["household_id"].isin(optimized)]
    held = holding_values(lots_in_scope)
    dispersion = return_dispersion(
        {
            "before": household_weights(lots_in_scope, cash_in_scope, held=held),
            "after": household_weights(lots_in_scope, cash_in_scope, trades, marts["fct_requests"], held=held),
        },
        marts["fct_household_targets"][marts["fct_household_targets"]["household_id"].isin(optimized)],
        price_history,
    )
    summary["return_dispersion_by_model"] = dispersion.to_dict(orient="records")
    stamp = f"{as_of:%Y%m%d}"
    files = {
        f"taxes_saved_by_account_{stamp}.csv": _csv(by_account),
        f"taxes_saved_by_household_{stamp}.csv": _csv(by_household),
        f"household_outcomes_{stamp}.csv": _csv(outcomes.drop(columns=["build_seconds", "solve_seconds"], errors="ignore")),
        f"firm_summary_{stamp}.json": (json.dumps(summary, indent=2, sort_keys=True) + "\n").encode(),
        f"taxes_saved_by_account_{stamp}.parquet": _parquet(by_account),
        f"taxes_saved_ytd_by_account_{stamp}.csv": _csv(ytd),
        f"return_dispersion_by_model_{stamp}.csv": _csv(dispersion),
    }
    files.update(render_html_reports(summary, by_household, by_account, outcomes, marts["dim_households"], as_of))
    written = _write_all(outputs.store(), f"reports/{as_of.isoformat()}", files)
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.json(sorted(written.values())),
            "taxes_saved_or_deferred": summary["taxes_saved_or_deferred"],
            "households_reported": summary["households_reported"],
            "dashboard": dg.MetadataValue.path(outputs.store().uri(f"reports/{as_of.isoformat()}/index.html")),
            "summary": dg.MetadataValue.json(summary),
        }
    )
