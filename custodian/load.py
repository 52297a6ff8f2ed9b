"""Load one as-of date's landing files into the DuckDB ``raw`` schema.

Side effects live here (reading the store, writing DuckDB and the quarantine folder); the parsing
rules live in custodian.parse. Reloading a day first deletes that day's rows, so a rerun gives the
same tables and row counts. Raw landing files are only read, never modified or deleted.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from custodian.layout import ALL_LAYOUTS, DUCKDB_TYPES, LINEAGE_COLUMNS, FileLayout, landing_folder_name
from custodian.parse import QUARANTINE_COLUMNS, ParsedFile, parse_landing_file
from custodian.stores import FileStore

QUARANTINE_DDL = """
create table if not exists raw.quarantine (
    as_of_date date, source_file varchar, source_line bigint, account_id varchar,
    field varchar, value varchar, error varchar, raw_line varchar
)"""
LEDGER_DDL = """
create table if not exists raw.ingested_files (
    as_of_date date, entity varchar, source_file varchar, file_sha256 varchar,
    rows_loaded bigint, rows_quarantined bigint
)"""


@dataclass
class EntityLoad:
    entity: str
    source_file: str | None
    file_sha256: str | None
    rows_loaded: int
    rows_quarantined: int
    rejected_whole: bool = False


@dataclass
class DayLoad:
    as_of: dt.date
    entities: dict[str, EntityLoad] = field(default_factory=dict)
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))

    @property
    def missing(self) -> list[str]:
        return sorted(e for e, load in self.entities.items() if load.source_file is None)


def raw_table_ddl(layout: FileLayout) -> str:
    cols = [f"{c.name} {DUCKDB_TYPES[c.kind]}" for c in layout.columns]
    cols += [f"{name} {kind}" for name, kind in LINEAGE_COLUMNS]
    return f"create table if not exists raw.{layout.entity} ({', '.join(cols)})"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for layout in ALL_LAYOUTS:
        con.execute(raw_table_ddl(layout))
    con.execute(QUARANTINE_DDL)
    con.execute(LEDGER_DDL)


def _write_rows(con: duckdb.DuckDBPyConnection, parsed: ParsedFile, as_of: dt.date) -> None:
    layout = parsed.layout
    frame = parsed.rows.copy()
    frame["as_of_date"] = as_of
    frame["source_file"] = parsed.source_file
    frame["file_sha256"] = parsed.file_sha256
    ordered = layout.column_names + [name for name, _ in LINEAGE_COLUMNS]
    frame = frame[ordered]
    casts = [f"cast({c.name} as {DUCKDB_TYPES[c.kind]})" for c in layout.columns]
    casts += [f"cast({name} as {kind})" for name, kind in LINEAGE_COLUMNS]
    con.register("incoming", frame)
    try:
        con.execute(f"insert into raw.{layout.entity} select {', '.join(casts)} from incoming")
    finally:
        con.unregister("incoming")


def rejected_rows_csv(rejects: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    rejects.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def load_landing_day(
    store: FileStore,
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    quarantine_store: FileStore | None = None,
) -> DayLoad:
    """Parse every canonical file of the day from ``store`` and replace that day's raw rows."""
    ensure_raw_schema(con)
    folder = landing_folder_name(as_of)
    available = set(store.list(folder))
    result = DayLoad(as_of=as_of)
    rejects = []
    con.execute("begin transaction")
    try:
        for table in [layout.entity for layout in ALL_LAYOUTS] + ["quarantine", "ingested_files"]:
            con.execute(f"delete from raw.{table} where as_of_date = ?", [as_of])
        for layout in ALL_LAYOUTS:
            key = f"{folder}/{layout.file_name(as_of)}"
            if key not in available:
                result.entities[layout.entity] = EntityLoad(layout.entity, None, None, 0, 0)
                continue
            parsed = parse_landing_file(layout, layout.file_name(as_of), store.read_bytes(key))
            _write_rows(con, parsed, as_of)
            load = EntityLoad(
                layout.entity, parsed.source_file, parsed.file_sha256, len(parsed.rows), len(parsed.rejects),
                parsed.rejected_whole,
            )
            result.entities[layout.entity] = load
            con.execute(
                "insert into raw.ingested_files values (?, ?, ?, ?, ?, ?)",
                [as_of, layout.entity, parsed.source_file, parsed.file_sha256, load.rows_loaded, load.rows_quarantined],
            )
            if len(parsed.rejects):
                rejects.append(parsed.rejects)
                if quarantine_store is not None:
                    name = parsed.source_file.removesuffix(".csv")
                    quarantine_store.write_bytes(f"{folder}/{name}.rejected.csv", rejected_rows_csv(parsed.rejects))
        if rejects:
            quarantine = pd.concat(rejects, ignore_index=True)
            quarantine.insert(0, "as_of_date", as_of)
            con.register("rejects", quarantine)
            try:
                con.execute(
                    "insert into raw.quarantine select cast(as_of_date as date), source_file, cast(source_line as bigint), "
                    "cast(account_id as varchar), field, cast(value as varchar), error, raw_line from rejects"
                )
            finally:
                con.unregister("rejects")
            result.quarantine = quarantine
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return result
