"""Order lineage: every order line linked to the lots it relieves, the price, the model version, the
reason, and for each lot the custodian file (sha256) and line it came from.

Kept apart from the order files (which must be byte-identical on a rerun) because it carries the
run id of the run that produced the orders.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from delivery.orders import order_lines

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
    return rows.sort_values(["account_id", "symbol", "side", "lot_id"], kind="stable")[LINEAGE_COLUMNS].reset_index(drop=True)
