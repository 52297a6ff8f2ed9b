"""Reading the marts and writing the optimizer's output in the shared DuckDB file."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

MARTS = (
    "dim_securities", "dim_accounts", "dim_households", "fct_lots", "fct_positions", "fct_account_cash",
    "fct_household_targets", "fct_wash_sale_windows", "fct_buy_restrictions", "fct_requests",
    "fct_household_readiness", "fct_trading_restrictions",
)


def read_marts(con: duckdb.DuckDBPyConnection, names=MARTS) -> dict[str, pd.DataFrame]:
    return {name: con.execute(f"select * from main.{name}").df() for name in names}


def replace_day(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, as_of: dt.date, run_id: str) -> None:
    """Delete-then-insert one as-of date, so a rerun of the day leaves exactly one copy."""
    schema = table.split(".")[0]
    data = frame.copy()
    # typed even when the day has no rows (a scalar insert into an empty frame types nothing)
    data.insert(0, "run_id", pd.Series([run_id] * len(data), index=data.index, dtype=object))
    data.insert(0, "as_of_date", pd.Series([as_of] * len(data), index=data.index, dtype=object))
    con.execute(f"create schema if not exists {schema}")
    if data.empty:
        data = data.astype({c: "string" for c in data.columns if data[c].dtype == object})
        con.register("incoming", data)
        try:
            con.execute(
                f"create table if not exists {table} as "
                "select cast(null as date) as as_of_date, * exclude (as_of_date) from incoming limit 0"
            )
            con.execute(f"delete from {table} where as_of_date = ?", [as_of])
        finally:
            con.unregister("incoming")
        return
    con.register("incoming", data)
    try:
        con.execute(f"create table if not exists {table} as select * from incoming limit 0")
        _add_new_columns(con, table)
        con.execute(f"delete from {table} where as_of_date = ?", [as_of])
        con.execute(f"insert into {table} by name select * from incoming")
    finally:
        con.unregister("incoming")


def _add_new_columns(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A newer release may add output columns: add them to the table (older days read as null)."""
    existing = {row[0] for row in con.execute(f"describe {table}").fetchall()}
    for name, kind, *_ in con.execute("describe incoming").fetchall():
        if name not in existing:
            con.execute(f'alter table {table} add column "{name}" {kind}')


def read_day(con: duckdb.DuckDBPyConnection, table: str, as_of: dt.date) -> pd.DataFrame:
    return con.execute(f"select * exclude (as_of_date, run_id) from {table} where as_of_date = ?", [as_of]).df()
