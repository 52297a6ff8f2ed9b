"""Reading the marts and writing the optimizer's output in the shared DuckDB file."""

from __future__ import annotations

import contextlib
import datetime as dt
import time

import duckdb
import pandas as pd

MARTS = (
    "dim_securities", "dim_accounts", "dim_households", "fct_lots", "fct_positions", "fct_account_cash",
    "fct_household_targets", "fct_wash_sale_windows", "fct_buy_restrictions", "fct_requests",
    "fct_household_readiness", "fct_trading_restrictions",
)


def read_marts(con: duckdb.DuckDBPyConnection, names=MARTS, columns=None, exclude=None) -> dict[str, pd.DataFrame]:
    """The marts ``names``, each in full unless ``columns`` (mart -> the columns to read) or
    ``exclude`` (mart -> columns to leave out) says otherwise; converted chunk by chunk (read_frame)."""
    columns, exclude = columns or {}, exclude or {}
    return {name: read_frame(con, f"select {select_list(columns.get(name), exclude.get(name))} from main.{name}")
            for name in names}


# DuckDB vectors (2,048 rows) per chunk read_frame converts at a time.
VECTORS_PER_CHUNK = 64


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    """The query's rows as DuckDB's ``.df()`` returns them, converted one chunk at a time.

    ``.df()`` holds the whole result several times over while it converts (2.2 GB of peak memory to
    return 6 million lots that then take 0.45 GB); chunk by chunk the peak is the frame and its chunks.
    A chunk whose strings are all null comes back as object, where the whole result has pandas'
    string dtype: those columns are given the string dtype back, so the frame is the one ``.df()`` gives.
    """
    result = con.execute(sql, params or [])
    chunks = [result.fetch_df_chunk(VECTORS_PER_CHUNK)]
    while len(chunks[-1]):
        chunks.append(result.fetch_df_chunk(VECTORS_PER_CHUNK))
    if len(chunks) <= 2:
        return chunks[0]
    frame = pd.concat(chunks[:-1], ignore_index=True)
    text = {column: chunk[column].dtype for chunk in chunks for column in chunk.columns
            if isinstance(chunk[column].dtype, pd.StringDtype)}
    return frame.astype({column: dtype for column, dtype in text.items() if frame[column].dtype == object})


def select_list(columns=None, exclude=None) -> str:
    if columns:
        return ", ".join(f'"{c}"' for c in columns)
    if exclude:
        return "* exclude (" + ", ".join(f'"{c}"' for c in exclude) + ")"
    return "*"


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


BASES_TABLE = "optimizer.household_bases"  # as_of_date, run_id, household_id, basis (optimization.warm)
BASES_KEPT_DAYS = 3  # the day written and the two as-of dates before it: reruns of recent days stay warm


def read_previous_bases(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> dict[str, bytes]:
    """Each household's root-LP basis of the latest as-of date *before* ``as_of``. Never the day's
    own: a rerun of the day must start from the basis the first run started from, or it could land
    on another optimal vertex and write different order files."""
    if not _table_exists(con, BASES_TABLE):
        return {}
    rows = con.execute(
        f"select household_id, basis from {BASES_TABLE} "
        f"where as_of_date = (select max(as_of_date) from {BASES_TABLE} where as_of_date < ?)",
        [as_of],
    ).fetchall()
    return {str(household): bytes(blob) for household, blob in rows}


def write_bases(con: duckdb.DuckDBPyConnection, bases: pd.DataFrame, as_of: dt.date, run_id: str) -> None:
    """The day's bases (household_id, basis), replacing the day's, then the old days dropped.
    Part of the optimizer writer's transaction."""
    con.execute("create schema if not exists optimizer")
    con.execute(
        f"create table if not exists {BASES_TABLE} "
        "(as_of_date date, run_id varchar, household_id varchar, basis blob)"
    )
    replace_day(con, BASES_TABLE, bases, as_of, run_id)
    forget_old_bases(con, as_of)


def forget_old_bases(con: duckdb.DuckDBPyConnection, as_of: dt.date, keep: int = BASES_KEPT_DAYS) -> None:
    """Drop bases older than the ``keep - 1`` as-of dates before ``as_of`` (a basis is only a hint)."""
    dates = [row[0] for row in con.execute(
        f"select distinct as_of_date from {BASES_TABLE} where as_of_date < ? order by 1 desc", [as_of]
    ).fetchall()]
    if len(dates) >= keep:
        con.execute(f"delete from {BASES_TABLE} where as_of_date < ?", [dates[keep - 2]])


def _table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchone()[0])


def read_day(con: duckdb.DuckDBPyConnection, table: str, as_of: dt.date) -> pd.DataFrame:
    return con.execute(f"select * exclude (as_of_date, run_id) from {table} where as_of_date = ?", [as_of]).df()


# How long a step outside the duckdb_writer pool waits for another process to let go of the file.
LOCK_PATIENCE_SECONDS = 1800.0


@contextlib.contextmanager
def connection_when_free(resource, patience_seconds: float = LOCK_PATIENCE_SECONDS, poll_seconds: float = 0.5):
    """A connection to the DuckDB file of ``resource`` (a DuckDBResource), opened as soon as no other
    process holds it. DuckDB lets one process at a time open a file for writing; steps in the
    ``duckdb_writer`` pool take turns by the pool, and a step outside it (order_files and
    taxes_saved_report, which run side by side after the trade gate and hold the file only to read
    their inputs or write their table) waits here for the lock instead of failing after the
    resource's few retries. Any error other than the lock, or the lock past ``patience_seconds``,
    is raised."""
    deadline = time.monotonic() + patience_seconds
    while True:
        try:
            con = duckdb.connect(resource.database, read_only=False, config=dict(resource.connection_config))
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(poll_seconds)
    try:
        yield con
    finally:
        con.close()
