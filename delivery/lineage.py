"""Order lineage: every order line linked to the lots it relieves, the price, the model version, the
reason, and for each lot the custodian file (sha256) and line it came from.

Kept apart from the order files (which must be byte-identical on a rerun) because it carries the
run id of the run that produced the orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pandas as pd

from delivery.orders import order_lines
from taxlots.fanout import rows_of_ranges

LINEAGE_COLUMNS = [
    "as_of_date", "run_id", "order_id", "custodian", "account_id", "household_id", "side", "symbol", "security_id",
    "order_quantity", "lot_id", "lot_quantity", "acquired_date", "cost_basis_relieved", "realized_gain", "holding_term",
    "reason", "price", "price_source_file", "price_source_line", "price_file_sha256", "model_id", "model_version",
    "lot_source_file", "lot_source_line", "lot_file_sha256",
]


def order_lineage(
    trades: pd.DataFrame,
    accounts: pd.DataFrame,
    securities: pd.DataFrame,
    lots: pd.DataFrame,
    targets: pd.DataFrame,
    price_rows: pd.DataFrame,
    run_id: str,
    as_of: dt.date,
    orders: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per (order line, lot) for sells and gifts, one per order line for buys.

    ``price_rows``: raw.prices lineage (security_id, source_file, source_line, file_sha256);
    ``orders``: order_lines of the same trades, when the caller already has them.
    """
    if trades.empty:
        return pd.DataFrame(columns=LINEAGE_COLUMNS)
    orders = order_lines(trades, accounts, securities, as_of) if orders is None else orders
    orders = orders[["account_id", "security_id", "side", "order_id", "custodian", "quantity"]]
    orders = orders.assign(side=orders["side"].str.lower()).rename(columns={"quantity": "order_quantity"})
    rows = trades.merge(orders, on=["account_id", "security_id", "side"], how="left")
    rows = rows.merge(
        lots[["lot_id", "source_file", "source_line", "file_sha256"]].rename(
            columns={"source_file": "lot_source_file", "source_line": "lot_source_line", "file_sha256": "lot_file_sha256"}
        ),
        on="lot_id", how="left",
    )
    rows = rows.merge(
        price_rows.rename(columns={"source_file": "price_source_file", "source_line": "price_source_line",
                                   "file_sha256": "price_file_sha256"}),
        on="security_id", how="left",
    )
    models = targets[["household_id", "model_id", "model_version"]].drop_duplicates("household_id")
    rows = rows.merge(models, on="household_id", how="left")
    rows = rows.merge(securities[["security_id", "ticker"]], on="security_id", how="left")
    rows["symbol"] = rows["ticker"]
    rows["lot_quantity"] = rows["quantity"]
    rows["side"] = rows["side"].str.upper()
    rows["order_id"] = rows["order_id"].fillna("")  # gifts travel as transfers, not orders
    rows["run_id"] = run_id
    rows["as_of_date"] = as_of.isoformat()
    rows["lot_source_line"] = rows["lot_source_line"].astype("Int64")
    rows["price_source_line"] = rows["price_source_line"].astype("Int64")
    # the columns first: a sort copies every column it carries (3M rows at 10,000 households)
    return rows[LINEAGE_COLUMNS].sort_values(["account_id", "symbol", "side", "lot_id"], kind="stable", ignore_index=True)


ACCOUNTS_PER_RANGE = 2_000


def order_lineage_by_account_range(
    trades: pd.DataFrame,
    accounts: pd.DataFrame,
    securities: pd.DataFrame,
    lots: pd.DataFrame,
    targets: pd.DataFrame,
    price_rows: pd.DataFrame,
    run_id: str,
    as_of: dt.date,
    orders: pd.DataFrame,
    accounts_per_range: int = ACCOUNTS_PER_RANGE,
) -> Iterator[pd.DataFrame]:
    """order_lineage in pieces that concatenate to it: one range of the trading accounts at a time,
    in account order. The lineage is sorted by account first and each range keeps its trades' order,
    so the pieces in order are the whole frame's rows; every column has the same dtype in a piece
    as in the whole (text, float, Int64 line numbers, dates), so the CSV of the pieces is the CSV of
    the whole. At 10,000 households the whole frame is 3M rows x 26 columns (~1.3 GB).

    ``orders``: order_lines of all the trades (order ids are numbered across accounts)."""
    trading = sorted(set(trades["account_id"].unique())) if len(trades) else []
    if len(trading) <= accounts_per_range:
        yield order_lineage(trades, accounts, securities, lots, targets, price_rows, run_id, as_of, orders)
        return
    ranges = [trading[i:i + accounts_per_range] for i in range(0, len(trading), accounts_per_range)]
    models = targets[["household_id", "model_id", "model_version"]].drop_duplicates("household_id")
    for trade_rows, order_rows in zip(rows_of_ranges(trades["account_id"], ranges),
                                      rows_of_ranges(orders["account_id"], ranges)):
        yield order_lineage(trades.iloc[trade_rows], accounts, securities, lots, models, price_rows, run_id, as_of,
                            orders.iloc[order_rows])
