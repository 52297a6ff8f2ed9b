"""What the GX gates read from DuckDB: only the rows and columns a suite states its rules on or names
its failures by, so a 10,000-household day (6 million lots, 8 million transactions) is never one
frame in one process.

Each reader returns exactly what the suite's pure function (expectations/suites.py) would keep of
the full table, in the table's order, so the outcomes are those of a read of everything.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from orchestration.lib.warehouse import read_frame, read_marts, select_list


# The columns of the optimizer's trades the trade suites read (expectations.suites.trade_safety_frame,
# check_trades): no price, basis, tax or reason text.
TRADE_COLUMNS = ["household_id", "account_id", "security_id", "side", "quantity", "trade_value", "lot_id",
                 "realized_gain"]
# The marts trade_safety_frame reads, each with the columns it reads (fct_lots: see trade_gate_lots).
TRADE_GATE_MART_COLUMNS = {
    "fct_account_cash": ["account_id", "household_id", "cash"],
    "fct_buy_restrictions": ["account_id", "security_id"],
    "fct_wash_sale_windows": ["household_id", "identical_group", "window_type"],
    "fct_requests": ["account_id", "household_id", "request_type", "amount"],
    "dim_securities": ["security_id", "identical_group"],
    "fct_trading_restrictions": ["account_id", "security_id", "restriction_type"],
    "dim_accounts": ["account_id", "cash_minimum", "trading_locked"],
    "dim_households": ["household_id", "market_value"],
}


def read_columns(con: duckdb.DuckDBPyConnection, mart: str, columns: list[str]) -> pd.DataFrame:
    """Only the columns a suite reads: fct_lots is 6 million rows of 22 columns at 10,000 households."""
    return read_marts(con, [mart], columns={mart: columns})[mart]


def custodian_rows(con: duckdb.DuckDBPyConnection, entity: str, columns: list[str], as_of: dt.date) -> pd.DataFrame:
    """The day's rows of one raw custodian table (every custodian's dialect translated at ingestion)."""
    return read_frame(con, f"select {select_list(columns)} from raw.{entity} where as_of_date = ?", [as_of])


def recent_lots(con: duckdb.DuckDBPyConnection, columns: list[str], since: dt.date) -> pd.DataFrame:
    """The lots acquired on or after ``since``, in fct_lots' order: the only lots whose purchase the
    history check looks for (recent_lot_purchases keeps these and no others)."""
    return read_frame(con, f"select {select_list(columns)} from main.fct_lots where acquired_date >= ?", [since])


def recent_purchases(
    con: duckdb.DuckDBPyConnection, columns: list[str], types: tuple[str, ...], as_of: dt.date, since: dt.date,
) -> pd.DataFrame:
    """The day's transactions of the purchase ``types`` traded on or after ``since``: the only ones
    that can match a recent lot (recent_lot_purchases keeps these and no others)."""
    return read_frame(
        con,
        f"select {select_list(columns)} from raw.transactions "
        "where as_of_date = ? and transaction_type in (select unnest(?)) and trade_date >= ?",
        [as_of, list(types), since],
    )


def trade_gate_trades(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """The day's trades, in their stored order, with the columns the trade suites read."""
    return read_frame(con, f"select {select_list(TRADE_COLUMNS)} from optimizer.trades where as_of_date = ?", [as_of])


def trade_gate_lots(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> pd.DataFrame:
    """The lots the trade gate needs, in fct_lots' order: every lot a sell or gift of the day relieves
    (its quantity) and each account's first lot (which names the account's household).

    trade_safety_frame reads lots twice: joined to the relieved lot ids, and through the first row of
    each account (``drop_duplicates("account_id")``). These rows give both the same answer as all
    6 million lots, at a few percent of the memory.
    """
    return read_frame(
        con,
        """
        select lot_id, account_id, household_id, quantity
        from main.fct_lots
        where lot_id in (select lot_id from optimizer.trades where as_of_date = ? and side in ('sell', 'gift'))
           or rowid in (select min(rowid) from main.fct_lots group by account_id)
        order by rowid
        """,
        [as_of],
    )


def trade_gate_inputs(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """(the day's trades, the marts trade_safety_frame and the turnover rule read, fct_lots included)."""
    marts = {mart: read_columns(con, mart, columns) for mart, columns in TRADE_GATE_MART_COLUMNS.items()}
    marts["fct_lots"] = trade_gate_lots(con, as_of)
    return trade_gate_trades(con, as_of), marts
