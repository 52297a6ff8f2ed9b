"""Order files per custodian and day, with the separate lot-instruction file.

Per custodian with trades: `<custodian>_orders_<YYYYMMDD>.csv` (position-level, one line per account,
security and side), `<custodian>_lot_instructions_<YYYYMMDD>.csv` (the lots each sell or gift
relieves), `<custodian>_block_orders_<YYYYMMDD>.csv` + `<custodian>_allocations_<YYYYMMDD>.csv` (one
block per security and side across accounts, with per-account allocations), and
`<custodian>_fix44_orders_<YYYYMMDD>.fix` (the blocks as FIX 4.4 NewOrderSingle with pre-allocations,
one message per line); and `<custodian>_upload/` with the same orders and lot instructions in that
custodian's own upload dialect (delivery.upload_dialects, docs/order-uploads.md).

A custodian upload is position-level (account, side, quantity, symbol); without a lot instruction
the custodian relieves lots FIFO and the tax plan is lost, so every sell and gift also appears, lot
by lot, in the lot-instruction file. Content is deterministic: same trades, same bytes (no run id,
no timestamps; sorted rows; fixed number formats).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from delivery.csvfile import csv_bytes, texts
from delivery.fix import render_fix_messages
from delivery.upload_dialects import render_custodian_uploads

ORDER_COLUMNS = ["as_of_date", "account_id", "side", "symbol", "cusip", "quantity", "order_type", "time_in_force", "order_id"]
LOT_INSTRUCTION_COLUMNS = [
    "as_of_date", "order_id", "account_id", "symbol", "cusip", "action", "lot_id", "acquired_date", "quantity",
    "cost_basis", "realized_gain", "holding_term",
]


def _csv(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame, lineterminator="\n")


def _qty(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def _cents(value: float) -> str:
    return f"{value:.2f}"


def _per_distinct(values: pd.Series, format_one) -> pd.Series:
    """``values.map(format_one)`` for a datetime column, format_one called once per distinct value
    (a day's lots share a few thousand acquisition dates), as an object column (it only goes to a
    file); any other column, or one with missing values, through map itself."""
    if not (isinstance(values.dtype, np.dtype) and values.dtype.kind == "M"):
        return values.map(format_one)
    codes, distinct = pd.factorize(values)
    if (codes < 0).any():
        return values.map(format_one)
    text = np.empty(len(distinct), dtype=object)
    text[:] = [format_one(d) for d in distinct]
    return pd.Series(text[codes], index=values.index, dtype=object)


def numbered_ids(prefix: str, custodians: pd.Series, numbers: np.ndarray, digits: int):
    """f"{prefix}-{custodian[:3].upper()}-{number:0{digits}d}" for each row, as a text column: the
    custodian's part made once per custodian and joined to the zero-padded numbers in Arrow (one
    custodian has ~1M order lines a day at 10,000 households); a list of them, as before, where a
    custodian is missing, a number is negative or there are no rows."""
    codes, custodian_names = pd.factorize(custodians)
    if not len(codes) or (codes < 0).any() or (numbers < 0).any():  # (Arrow pads "-5" as "0000-5")
        return [f"{prefix}-{custodian[:3].upper()}-{i:0{digits}d}" for custodian, i in zip(custodians.to_numpy(), numbers)]
    heads = pa.array([f"{prefix}-{custodian[:3].upper()}-" for custodian in custodian_names], pa.large_string())
    padded = pc.utf8_lpad(pa.array(numbers.astype(np.int64)).cast(pa.large_string()), width=digits, padding="0")
    return pd.array(pc.binary_join_element_wise(heads.take(pa.array(codes)), padded, pa.scalar("", pa.large_string())),
                    dtype="str")


def order_lines(trades: pd.DataFrame, accounts: pd.DataFrame, securities: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """One position-level order per account, security and side (sells of several lots aggregate)."""
    market = trades[trades["side"].isin(["sell", "buy"])]
    lines = (
        market.groupby(["account_id", "security_id", "side"], as_index=False)["quantity"].sum()
        .merge(accounts[["account_id", "custodian"]], on="account_id", how="left")
        .merge(securities[["security_id", "ticker", "cusip"]], on="security_id", how="left")
        .sort_values(["custodian", "account_id", "side", "ticker"], ascending=[True, True, False, True], kind="stable")
        .reset_index(drop=True)
    )
    stamp = f"{as_of:%Y%m%d}"
    lines["order_id"] = numbered_ids(f"SLV-{stamp}", lines["custodian"], (lines.groupby("custodian").cumcount() + 1).to_numpy(), 6)
    lines["as_of_date"] = as_of.isoformat()
    lines["symbol"] = lines["ticker"]
    lines["side"] = lines["side"].str.upper()
    lines["order_type"] = "MARKET"
    lines["time_in_force"] = "DAY"
    return lines


BLOCK_COLUMNS = ["as_of_date", "block_id", "side", "symbol", "cusip", "quantity", "account_count", "order_type", "time_in_force"]
ALLOCATION_COLUMNS = ["as_of_date", "block_id", "order_id", "account_id", "side", "symbol", "quantity"]


def block_orders(orders: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One block per custodian, security and side across accounts, and the per-account allocations."""
    blocks = (
        orders.groupby(["custodian", "side", "symbol", "cusip"], as_index=False)
        .agg(quantity=("quantity", "sum"), account_count=("account_id", "nunique"))
        .sort_values(["custodian", "side", "symbol"], ascending=[True, False, True], kind="stable")
        .reset_index(drop=True)
    )
    stamp = f"{as_of:%Y%m%d}"
    blocks["block_id"] = [
        f"BLK-{stamp}-{custodian[:3].upper()}-{i:05d}"
        for custodian, i in zip(blocks["custodian"], blocks.groupby("custodian").cumcount() + 1)
    ]
    blocks["as_of_date"] = as_of.isoformat()
    blocks["order_type"], blocks["time_in_force"] = "MARKET", "DAY"
    allocations = orders.merge(blocks[["custodian", "side", "symbol", "block_id"]], on=["custodian", "side", "symbol"])
    allocations = allocations.sort_values(["block_id", "account_id"], kind="stable").reset_index(drop=True)
    return blocks, allocations


def lot_instruction_lines(trades: pd.DataFrame, orders: pd.DataFrame, securities: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    relieving = trades[trades["side"].isin(["sell", "gift"])].merge(
        securities[["security_id", "ticker", "cusip"]], on="security_id", how="left"
    )
    order_ids = orders.assign(side=orders["side"].str.lower())[["account_id", "security_id", "side", "order_id", "custodian"]]
    relieving = relieving.merge(order_ids, on=["account_id", "security_id", "side"], how="left")
    relieving["action"] = relieving["side"].map({"sell": "SELL_VERSUS_PURCHASE", "gift": "GIFT_TRANSFER_OUT"})
    relieving["order_id"] = relieving["order_id"].fillna("")
    relieving["as_of_date"] = as_of.isoformat()
    relieving["symbol"] = relieving["ticker"]
    return relieving.sort_values(["account_id", "symbol", "action", "lot_id"], kind="stable").reset_index(drop=True)


def render_order_files(
    trades: pd.DataFrame, accounts: pd.DataFrame, securities: pd.DataFrame, as_of: dt.date,
    orders: pd.DataFrame | None = None,
) -> dict[str, bytes]:
    """File name -> content, two files per custodian with trades: orders and lot instructions.
    ``orders``: order_lines of the same arguments, when the caller already has them."""
    files: dict[str, bytes] = {}
    for custodian_files in order_files_by_custodian(trades, accounts, securities, as_of, orders):
        files.update(custodian_files)
    return files


def order_files_by_custodian(
    trades: pd.DataFrame, accounts: pd.DataFrame, securities: pd.DataFrame, as_of: dt.date,
    orders: pd.DataFrame | None = None,
) -> Iterator[dict[str, bytes]]:
    """render_order_files one custodian at a time (file name -> content per custodian, in custodian
    order): at 10,000 households the day's files are ~0.9 GB, so a writer that stores each
    custodian's files before the next is rendered holds a third of that."""
    if trades.empty:
        return
    custodian_of = accounts.set_index("account_id")["custodian"]
    orders = order_lines(trades, accounts, securities, as_of) if orders is None else orders
    lots = lot_instruction_lines(trades, orders, securities, as_of)
    lots["custodian"] = lots["account_id"].map(custodian_of)
    stamp = f"{as_of:%Y%m%d}"
    for custodian in sorted(set(orders["custodian"].unique()).union(lots["custodian"].unique())):
        # each selection once, and the files' text columns as new columns of it (assign shares the
        # rest): at 10,000 households one custodian's orders are ~1M rows
        mine = orders[orders["custodian"] == custodian]
        lot_rows = lots[lots["custodian"] == custodian]
        blocks, allocations = block_orders(mine, as_of)
        files: dict[str, bytes] = {
            f"{custodian}_orders_{stamp}.csv": _csv(mine.assign(quantity=texts(mine["quantity"], _qty))[ORDER_COLUMNS]),
            f"{custodian}_lot_instructions_{stamp}.csv": _csv(lot_rows.assign(
                quantity=texts(lot_rows["quantity"], _qty),
                cost_basis=texts(lot_rows["cost_basis_relieved"], _cents),
                realized_gain=texts(lot_rows["realized_gain"], _cents),
                acquired_date=_per_distinct(lot_rows["acquired_date"], lambda d: pd.Timestamp(d).date().isoformat()),
                holding_term=lot_rows["holding_term"].fillna(""),
            )[LOT_INSTRUCTION_COLUMNS]),
            f"{custodian}_fix44_orders_{stamp}.fix": render_fix_messages(blocks, allocations, custodian, as_of),
            f"{custodian}_block_orders_{stamp}.csv": _csv(blocks.assign(quantity=texts(blocks["quantity"], _qty))[BLOCK_COLUMNS]),
            f"{custodian}_allocations_{stamp}.csv": _csv(
                allocations.assign(quantity=texts(allocations["quantity"], _qty))[ALLOCATION_COLUMNS]),
        }
        files.update(render_custodian_uploads(custodian, mine, lot_rows, blocks, allocations, accounts, as_of))
        yield files
