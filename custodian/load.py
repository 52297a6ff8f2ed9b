"""Load one as-of date of custodian files into the DuckDB ``raw`` schema, exactly once per file.

Side effects live here (reading the landing store, writing the archive, DuckDB and the quarantine
folder); the line rules live in custodian.parse. For one as-of date:

1. every file in ``landing/<date>/`` that the ledger (``raw.file_ledger``) has not seen is read,
   hashed (sha256) and copied to the immutable archive (``archive/<date>/<sha256>/<name>``) before
   it is parsed; the ledger records it once: ``accepted``, ``duplicate`` (same content as a file
   already delivered for the day, whatever its name: recorded, never loaded) or ``rejected`` (not
   a custodian file of this day: wrong date in its name, unknown kind, unsafe name);
2. per entity, the accepted file delivered last is the day's file; earlier ones are superseded,
   kept in the archive and the ledger, and no longer loaded (a corrected file replaces its rows);
3. the day's rows are replaced (delete, then insert, in one transaction) from the archived bytes,
   so reloading a day gives the same tables and row counts, even after landing files are removed.

Custodian dialect files (custodian.dialects: Schwab-, Fidelity- and Pershing-like families) go
through the same ledger, archive and supersession (their kind is ``<custodian>_<kind>``); they load
into ``raw.<custodian>_<kind>`` and, translated, into the canonical ``raw.<entity>`` tables
(custodian/dialects/load.py), with a per-account reconciliation in ``raw.reconciliation``.

Landing files are only read, never modified or deleted.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from custodian.dialects import RECORDS_BY_TABLE, recognize
from custodian.dialects.load import (
    DialectFileLoad, dialect_tables, ensure_dialect_schema, insert_file_rows, load_families, start_families,
)
from custodian.dialects.reconcile import RECONCILIATION_COLUMNS, reconciliation_csv
from custodian.layout import (
    ACCOUNTS, ALL_LAYOUTS, DUCKDB_TYPES, LAYOUTS_BY_ENTITY, LINEAGE_COLUMNS, PRICES, FileLayout, landing_folder_name,
)
from custodian.parse import QUARANTINE_COLUMNS, ParsedFile, parse_landing_file, sha256_of
from custodian.stores import FileStore, UnsafeKey, safe_name
from custodian.workers import Preparer

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
# Columns added to the tables above (dbt reads the original ones; these carry the delivery and scope).
ADDED_COLUMNS = {
    "quarantine": [("scope", "varchar")],
    "ingested_files": [("landing_key", "varchar"), ("archive_uri", "varchar"), ("delivery_seq", "bigint")],
}
# Every delivery ever seen; never deleted or updated (a reload of a day adds nothing).
FILE_LEDGER_DDL = """
create table if not exists raw.file_ledger (
    as_of_date date, delivery_seq bigint, landing_key varchar, file_name varchar, entity varchar,
    file_sha256 varchar, etag varchar, size_bytes bigint, archive_key varchar, archive_uri varchar,
    status varchar, duplicate_of varchar, reason varchar, first_seen_at timestamp
)"""

# Quarantine scopes. dbt's hold-out logic sees 'line' and 'file' rows; 'unknown_account' (a row of an
# account no household has) and 'stray' (a delivered file that is not one of the day's files) are
# kept for the operator but hold no household (transforms/models/staging/canonical/stg_canonical__quarantine.sql).
SCOPE_LINE, SCOPE_FILE, SCOPE_UNKNOWN_ACCOUNT, SCOPE_STRAY = "line", "file", "unknown_account", "stray"
ACCOUNT_ENTITIES = tuple(layout.entity for layout in ALL_LAYOUTS if layout.account_column and layout is not ACCOUNTS)
ARCHIVING_THREADS = 2  # landing files read, hashed and archived at once by sync_ledger
_NAME_DATE = re.compile(r"(?<!\d)(20\d{6})(?!\d)")


@dataclass
class EntityLoad:
    entity: str
    source_file: str | None
    file_sha256: str | None
    rows_loaded: int
    rows_quarantined: int
    rejected_whole: bool = False
    landing_key: str | None = None
    archive_uri: str | None = None
    superseded: list[str] = field(default_factory=list)  # earlier deliveries for the day, kept, not loaded


@dataclass
class DayLoad:
    as_of: dt.date
    entities: dict[str, EntityLoad] = field(default_factory=dict)
    quarantine: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QUARANTINE_COLUMNS))
    new_deliveries: pd.DataFrame = field(default_factory=pd.DataFrame)  # ledger rows added by this load
    ledger: pd.DataFrame = field(default_factory=pd.DataFrame)  # every ledger row of the day
    dialect_files: dict[str, EntityLoad] = field(default_factory=dict)  # by raw table (<custodian>_<kind>)
    reconciliation: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RECONCILIATION_COLUMNS))

    @property
    def missing(self) -> list[str]:
        return sorted(e for e, load in self.entities.items() if load.source_file is None)

    @property
    def duplicates(self) -> pd.DataFrame:
        return self.ledger[self.ledger["status"] == "duplicate"] if len(self.ledger) else self.ledger


def raw_table_ddl(layout: FileLayout) -> str:
    cols = [f"{c.name} {DUCKDB_TYPES[c.kind]}" for c in layout.columns]
    cols += [f"{name} {kind}" for name, kind in LINEAGE_COLUMNS]
    return f"create table if not exists raw.{layout.entity} ({', '.join(cols)})"


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    for layout in ALL_LAYOUTS:
        con.execute(raw_table_ddl(layout))
        for column in layout.columns:  # a warehouse from before a column joined the layout
            if column.may_be_absent:
                con.execute(f"alter table raw.{layout.entity} add column if not exists {column.name} {DUCKDB_TYPES[column.kind]}")
    con.execute(QUARANTINE_DDL)
    con.execute(LEDGER_DDL)
    con.execute(FILE_LEDGER_DDL)
    ensure_dialect_schema(con)
    for table, columns in ADDED_COLUMNS.items():
        for name, kind in columns:
            con.execute(f"alter table raw.{table} add column if not exists {name} {kind}")


def _write_rows(con: duckdb.DuckDBPyConnection, parsed: ParsedFile, as_of: dt.date) -> None:
    layout = parsed.layout
    frame = parsed.rows[layout.column_names + ["source_line"]]
    insert_file_rows(con, layout.entity, frame, [f"cast({c.name} as {DUCKDB_TYPES[c.kind]})" for c in layout.columns],
                     as_of, parsed.source_file, parsed.file_sha256)


def rejected_rows_csv(rejects: pd.DataFrame) -> bytes:
    buffer = io.StringIO()
    rejects.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode()


def classify(name: str, content: bytes, as_of: dt.date) -> tuple[str | None, str | None]:
    """(kind, None) for a custodian file of the day, else (kind or None, why it is rejected).

    A dialect file name (CRSyymmdd.RPS, 001_X_POSITD_CCYYMMDD.DAT, PSH_GCUS_CCYYMMDD.DAT) gives the kind
    ``<custodian>_<kind>`` and the date. Otherwise the entity comes from the name (``<entity>_...``,
    longest entity first), else from a header that is exactly one layout's; a date in the name
    (YYYYMMDD) must be the as-of date."""
    dialect_file = recognize(name)
    if dialect_file is not None:
        dialect, record, date = dialect_file
        if date != as_of:
            shown = date.strftime("%Y%m%d") if date else "(not a date)"
            return record.table, f"file for as-of date {shown} delivered for {as_of:%Y%m%d}"
        return record.table, None
    lowered = name.lower()
    entity = next((layout.entity for layout in sorted(ALL_LAYOUTS, key=lambda lay: -len(lay.entity))
                   if lowered.startswith(layout.entity + "_") or lowered.startswith(layout.entity + ".")), None)
    if entity is None:
        first = content.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").strip()
        entity = next((layout.entity for layout in ALL_LAYOUTS if first == ",".join(layout.column_names)), None)
    if entity is None:
        return None, ("not a known custodian file: its name starts with no entity "
                      f"({', '.join(layout.entity for layout in ALL_LAYOUTS)}) and its header matches no layout")
    dated = _NAME_DATE.search(name)
    if dated and dated.group(1) != f"{as_of:%Y%m%d}":
        return entity, f"file for as-of date {dated.group(1)} delivered for {as_of:%Y%m%d}"
    return entity, None


def sync_ledger(
    store: FileStore, con: duckdb.DuckDBPyConnection, as_of: dt.date, archive_store: FileStore,
    now: dt.datetime | None = None,
) -> pd.DataFrame:
    """Record every new landing file of the day in raw.file_ledger, archiving it first; return the new rows."""
    folder = landing_folder_name(as_of)
    seen = con.execute(
        "select landing_key, etag, file_sha256, status from raw.file_ledger where as_of_date = ? order by delivery_seq",
        [as_of],
    ).fetchall()
    seen_keys = {(key, etag) for key, etag, _, _ in seen}
    # a duplicate repeats a file of the day; a rejected delivery (say, misnamed) does not count, so the
    # same bytes re-sent under a proper name are accepted
    first_key_of_sha: dict[str, str] = {}
    for key, _, sha, status in seen:
        if status != "rejected":
            first_key_of_sha.setdefault(sha, key)
    next_seq = con.execute("select coalesce(max(delivery_seq), 0) + 1 from raw.file_ledger").fetchall()[0][0]
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    new = []
    arrived = [obj for obj in sorted(store.list_objects(folder), key=lambda o: (o.modified, o.key))
               if (obj.key, obj.etag) not in seen_keys]
    # read, hash, archive and classify two files at a time (I/O and hashing release the GIL); the
    # ledger's decisions (sequence numbers, duplicates) stay in delivery order below
    with ThreadPoolExecutor(max_workers=ARCHIVING_THREADS) as pool:
        for obj, copy in zip(arrived, pool.map(lambda obj: _archive_one(store, archive_store, folder, obj, as_of), arrived)):
            row = {"as_of_date": as_of, "delivery_seq": next_seq, "landing_key": obj.key, "file_name": safe_name(obj.key),
                   "entity": None, "file_sha256": None, "etag": obj.etag, "size_bytes": obj.size, "archive_key": None,
                   "archive_uri": None, "status": "rejected", "duplicate_of": None, "reason": None, "first_seen_at": now}
            next_seq += 1
            if copy.unreadable is not None:
                row["reason"] = copy.unreadable
            else:
                row.update(file_sha256=copy.sha, archive_key=copy.archive_key, archive_uri=copy.archive_uri,
                           entity=copy.entity)
                _set_status(row, copy.reason, first_key_of_sha)
            new.append(row)
    frame = pd.DataFrame(new, columns=[c.split()[0] for c in _ledger_columns()])
    if len(frame):
        con.register("new_deliveries", frame)
        try:
            con.execute("insert into raw.file_ledger by name select * from new_deliveries")
        finally:
            con.unregister("new_deliveries")
    return frame


@dataclass(frozen=True)
class _ArchivedCopy:
    """What one delivered file's bytes tell the ledger: its hash, archive copy and kind (or why unreadable)."""

    unreadable: str | None = None
    sha: str | None = None
    archive_key: str | None = None
    archive_uri: str | None = None
    entity: str | None = None
    reason: str | None = None


def _archive_one(store: FileStore, archive_store: FileStore, folder: str, obj, as_of: dt.date) -> _ArchivedCopy:
    """Read one landing file, archive it (before anything parses it: what was delivered is kept whatever
    happens next) and classify it; its bytes are released on return."""
    name = safe_name(obj.key)
    try:
        content = store.read_bytes(obj.key)
    except UnsafeKey as err:
        return _ArchivedCopy(unreadable=str(err))
    sha = sha256_of(content)
    archive_key = f"{folder}/{sha}/{name}"
    archive_uri = archive_store.write_new(archive_key, content)
    entity, reason = classify(name, content, as_of)
    return _ArchivedCopy(None, sha, archive_key, archive_uri, entity, reason)


def _set_status(row: dict, reason: str | None, first_key_of_sha: dict[str, str]) -> None:
    """A readable delivery's status: a duplicate of an earlier file of the day, rejected, or accepted."""
    sha = row["file_sha256"]
    if sha in first_key_of_sha:
        row.update(status="duplicate", duplicate_of=first_key_of_sha[sha],
                   reason=f"same content (sha256) as {first_key_of_sha[sha]}: recorded, not loaded")
    elif reason is not None:
        row["reason"] = reason
    else:
        row["status"] = "accepted"
    if row["status"] != "rejected":
        first_key_of_sha.setdefault(sha, row["landing_key"])


def _ledger_columns() -> list[str]:
    body = FILE_LEDGER_DDL.split("(", 1)[1].rsplit(")", 1)[0]
    return [c.strip() for c in body.split(",")]


def _unknown_accounts(parsed: ParsedFile, known: set[str]) -> tuple[ParsedFile, pd.DataFrame]:
    """Move rows whose account is in no accounts file of the day to quarantine (scope unknown_account)."""
    # a blank account is not unknown: a household-level request names none (custodian.layout REQUESTS)
    unknown = parsed.rows["account_id"].notna() & ~parsed.rows["account_id"].isin(known)
    if not unknown.any():
        return parsed, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = parsed.rows[unknown]
    rejects = pd.DataFrame({
        "source_file": parsed.source_file, "source_line": bad["source_line"].astype("int64"),
        "account_id": bad["account_id"], "field": "account_id", "value": bad["account_id"],
        "error": "unknown account: not in the accounts file of the day",
        "raw_line": bad[parsed.layout.column_names].astype(object).where(bad[parsed.layout.column_names].notna(), "")
        .astype(str).agg(",".join, axis=1),
    }, columns=QUARANTINE_COLUMNS)
    kept = ParsedFile(parsed.layout, parsed.source_file, parsed.file_sha256,
                      parsed.rows[~unknown].reset_index(drop=True), parsed.rejects)
    return kept, rejects


def _wrong_price_dates(parsed: ParsedFile, as_of: dt.date) -> tuple[ParsedFile, pd.DataFrame]:
    dates = pd.to_datetime(parsed.rows["price_date"]).dt.date
    wrong = (dates != as_of).to_numpy()
    if not wrong.any():
        return parsed, pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = parsed.rows[wrong]
    rejects = pd.DataFrame({
        "source_file": parsed.source_file, "source_line": bad["source_line"].astype("int64"), "account_id": None,
        "field": "price_date", "value": dates[wrong].astype(str),
        "error": f"price is not for the as-of date {as_of.isoformat()}",
        "raw_line": bad[parsed.layout.column_names].astype(str).agg(",".join, axis=1),
    }, columns=QUARANTINE_COLUMNS)
    return ParsedFile(parsed.layout, parsed.source_file, parsed.file_sha256,
                      parsed.rows[~wrong].reset_index(drop=True), parsed.rejects), rejects


def _unknown_translated(load: DialectFileLoad, known: set[str]) -> pd.DataFrame:
    """Canonical rows of a dialect file whose firm account is in no accounts file of the day."""
    rows = load.canonical
    unknown = ~rows["account_id"].isin(known)
    if not unknown.any():
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    bad = rows[unknown]
    load.canonical = rows[~unknown].reset_index(drop=True)
    return pd.DataFrame({
        "source_file": load.source_file, "source_line": bad["source_line"].astype("int64"),
        "account_id": bad["account_id"], "field": "account_id", "value": bad["account_id"],
        "error": "unknown account: the custodian's account reference is in no accounts file of the day",
        "raw_line": bad["raw_line"],
    }, columns=QUARANTINE_COLUMNS)


def _scoped(rejects: pd.DataFrame, scope: str) -> pd.DataFrame:
    out = rejects.copy()
    out["scope"] = scope
    return out


def load_landing_day(
    store: FileStore,
    con: duckdb.DuckDBPyConnection,
    as_of: dt.date,
    *,
    archive_store: FileStore,
    quarantine_store: FileStore | None = None,
    reconciliation_store: FileStore | None = None,
    now: dt.datetime | None = None,
) -> DayLoad:
    """Ledger and archive the day's new files, then replace that day's raw rows from the archive."""
    ensure_raw_schema(con)
    folder = landing_folder_name(as_of)
    result = DayLoad(as_of=as_of)
    rejects: list[pd.DataFrame] = []
    quarantine_files: dict[str, bytes] = {}
    reconciliation_files: dict[str, bytes] = {}
    preparer = Preparer().__enter__()  # helper threads (custodian.workers), stopped in the finally below
    con.execute("begin transaction")
    try:
        result.new_deliveries = sync_ledger(store, con, as_of, archive_store, now=now)
        ledger = con.execute("select * from raw.file_ledger where as_of_date = ? order by delivery_seq", [as_of]).df()
        result.ledger = ledger
        for table in [layout.entity for layout in ALL_LAYOUTS] + dialect_tables() + ["quarantine", "ingested_files"]:
            con.execute(f"delete from raw.{table} where as_of_date = ?", [as_of])

        for stray in ledger[ledger["status"] == "rejected"].itertuples():
            frame = pd.DataFrame([{
                "source_file": stray.file_name, "source_line": 1, "account_id": None, "field": "<file>",
                "value": stray.landing_key, "error": stray.reason, "raw_line": None,
            }], columns=QUARANTINE_COLUMNS)
            rejects.append(_scoped(frame, SCOPE_STRAY))
            if isinstance(stray.archive_key, str):
                quarantine_files[f"{folder}/{stray.file_name}"] = archive_store.read_bytes(stray.archive_key)
                quarantine_files[f"{folder}/{stray.file_name.removesuffix('.csv')}.rejected.csv"] = rejected_rows_csv(frame)

        accepted = ledger[ledger["status"] == "accepted"]
        # the custodians' files start parsing now (in a helper process where there is one) while the
        # firm's own files load below; they are written after them, in the same order as ever
        plans = start_families(as_of, accepted, archive_store, preparer)
        dialect_kinds = {kind for kind in accepted["entity"].dropna() if recognize_kind(kind)}
        fed_by_dialects = {recognize_kind(kind).entity for kind in dialect_kinds} - {None}
        firm_custodians: set[str] = set()
        known_accounts: set[str] | None = None
        # accounts first: the other account-level files are checked against it
        for layout in sorted(ALL_LAYOUTS, key=lambda lay: lay is not ACCOUNTS):
            deliveries = accepted[accepted["entity"] == layout.entity]
            if not len(deliveries) and layout.entity in fed_by_dialects:
                result.entities[layout.entity] = EntityLoad(layout.entity, "custodian dialect files", None, 0, 0)
                continue
            if not len(deliveries):
                result.entities[layout.entity] = EntityLoad(layout.entity, None, None, 0, 0)
                missing = pd.DataFrame([{
                    "source_file": layout.file_name(as_of), "source_line": 0, "account_id": None, "field": "<file>",
                    "value": None, "error": f"no {layout.entity} file delivered for {as_of.isoformat()}",
                    "raw_line": None,
                }], columns=QUARANTINE_COLUMNS)
                rejects.append(_scoped(missing, SCOPE_FILE))
                continue
            active = deliveries.iloc[-1]
            content = archive_store.read_bytes(active["archive_key"])
            if sha256_of(content) != active["file_sha256"]:
                raise RuntimeError(f"archived copy {active['archive_uri']} does not match its ledger hash")
            parsed = parse_landing_file(layout, active["file_name"], content)
            extra = []
            if layout is ACCOUNTS:
                firm_custodians = set(parsed.rows["custodian"].dropna())
                known_accounts = set(parsed.rows["account_id"].dropna()) | set(parsed.rejects["account_id"].dropna())
                if parsed.rejected_whole:
                    known_accounts = None  # no account master today: nothing can be called unknown
            elif layout.entity in ACCOUNT_ENTITIES and known_accounts is not None and len(parsed.rows):
                parsed, unknown = _unknown_accounts(parsed, known_accounts)
                if len(unknown):
                    extra.append(_scoped(unknown, SCOPE_UNKNOWN_ACCOUNT))
            if layout is PRICES and len(parsed.rows):
                parsed, stale = _wrong_price_dates(parsed, as_of)
                if len(stale):
                    extra.append(_scoped(stale, SCOPE_LINE))
            _write_rows(con, parsed, as_of)
            file_rejects = [_scoped(parsed.rejects, SCOPE_FILE if parsed.rejected_whole else SCOPE_LINE)] + extra
            file_rejects = pd.concat([f for f in file_rejects if len(f)] or [file_rejects[0]], ignore_index=True)
            load = EntityLoad(
                layout.entity, parsed.source_file, parsed.file_sha256, len(parsed.rows), len(file_rejects),
                parsed.rejected_whole, landing_key=active["landing_key"], archive_uri=active["archive_uri"],
                superseded=list(deliveries["landing_key"].iloc[:-1]),
            )
            result.entities[layout.entity] = load
            con.execute(
                "insert into raw.ingested_files by name select ? as as_of_date, ? as entity, ? as source_file, "
                "? as file_sha256, ? as rows_loaded, ? as rows_quarantined, ? as landing_key, ? as archive_uri, "
                "? as delivery_seq",
                [as_of, layout.entity, parsed.source_file, parsed.file_sha256, load.rows_loaded, load.rows_quarantined,
                 load.landing_key, load.archive_uri, int(active["delivery_seq"])],
            )
            if len(file_rejects):
                rejects.append(file_rejects)
                name = parsed.source_file.removesuffix(".csv")
                quarantine_files[f"{folder}/{name}.rejected.csv"] = rejected_rows_csv(
                    file_rejects.sort_values("source_line", kind="stable")[QUARANTINE_COLUMNS + ["scope"]])
                if parsed.rejected_whole:
                    quarantine_files[f"{folder}/{parsed.source_file}"] = content

        canonical_entities = {e for e, load in result.entities.items() if load.file_sha256 is not None}

        def write_translated(load: DialectFileLoad) -> pd.DataFrame | None:
            """A dialect file's canonical rows into raw.<entity>, less those of accounts unknown to the firm."""
            unknown = None
            if known_accounts is not None and len(load.canonical):
                unknown = _unknown_translated(load, known_accounts)
            _write_rows(con, ParsedFile(LAYOUTS_BY_ENTITY[load.entity], load.source_file, load.file_sha256,
                                        load.canonical, pd.DataFrame(columns=QUARANTINE_COLUMNS)), as_of)
            return _scoped(unknown, SCOPE_UNKNOWN_ACCOUNT) if unknown is not None and len(unknown) else None

        dialect_loads, dialect_missing, reconciliation = load_families(
            con, as_of, accepted, archive_store, firm_custodians, canonical_entities, write_translated, plans)
        for missing in dialect_missing:
            rejects.append(_scoped(missing, SCOPE_FILE))
        for load in dialect_loads:
            file_rejects = list(load.rejects)
            quarantined = sum(len(f) for f in file_rejects)
            delivery = load.delivery
            result.dialect_files[load.table] = EntityLoad(
                load.table, load.source_file, load.file_sha256, load.rows_loaded, quarantined, load.rejected_whole,
                landing_key=delivery["landing_key"], archive_uri=delivery["archive_uri"], superseded=load.superseded)
            con.execute(
                "insert into raw.ingested_files by name select ? as as_of_date, ? as entity, ? as source_file, "
                "? as file_sha256, ? as rows_loaded, ? as rows_quarantined, ? as landing_key, ? as archive_uri, "
                "? as delivery_seq",
                [as_of, load.entity, load.source_file, load.file_sha256, load.rows_loaded, quarantined,
                 delivery["landing_key"], delivery["archive_uri"], int(delivery["delivery_seq"])],
            )
            if file_rejects:
                frame = pd.concat(file_rejects, ignore_index=True)
                rejects.append(frame)
                quarantine_files[f"{folder}/{load.source_file}.rejected.csv"] = rejected_rows_csv(
                    frame.sort_values("source_line", kind="stable")[QUARANTINE_COLUMNS + ["scope"]])
                if load.rejected_whole:
                    quarantine_files[f"{folder}/{load.source_file}"] = load.content
        for entity in fed_by_dialects:
            feeding = [f for f in dialect_loads if f.entity == entity]
            if result.entities[entity].file_sha256 is None and feeding:
                result.entities[entity] = EntityLoad(
                    entity, ", ".join(f.source_file for f in feeding), None,
                    sum(f.rows_loaded for f in feeding), sum(result.dialect_files[f.table].rows_quarantined for f in feeding))
        result.reconciliation = reconciliation
        if dialect_loads:
            reconciliation_files[f"{folder}/reconciliation_{as_of:%Y%m%d}.csv"] = reconciliation_csv(reconciliation)

        if rejects:
            quarantine = pd.concat(rejects, ignore_index=True)
            quarantine.insert(0, "as_of_date", as_of)
            con.register("rejects", quarantine)
            try:
                con.execute(
                    "insert into raw.quarantine by name select cast(as_of_date as date) as as_of_date, source_file, "
                    "cast(source_line as bigint) as source_line, cast(account_id as varchar) as account_id, field, "
                    "cast(value as varchar) as value, error, cast(raw_line as varchar) as raw_line, scope from rejects"
                )
            finally:
                con.unregister("rejects")
            result.quarantine = quarantine
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    finally:
        preparer.__exit__(None, None, None)
    if quarantine_store is not None:
        for key, content in sorted(quarantine_files.items()):
            quarantine_store.write_bytes(key, content)
    if reconciliation_store is not None:
        for key, content in sorted(reconciliation_files.items()):
            reconciliation_store.write_bytes(key, content)
    return result


def recognize_kind(kind: str):
    """The dialect record of a ledger kind ``<custodian>_<kind>``, or None for a canonical entity."""
    found = RECORDS_BY_TABLE.get(kind)
    return found[1] if found else None
