"""Load the day's custodian dialect files: native raw tables, canonical rows, reconciliation.

Called by custodian.load.load_landing_day inside its transaction, after the firm's canonical files
(the accounts file names the firm's accounts). Per custodian family delivered (or expected: a
custodian of the firm's accounts when the canonical file of a custodian entity is absent):

1. the custodian's account master and security file are parsed first: they translate account
   numbers and CUSIPs for the rest; if either is missing or rejected whole, every account-level file
   of the family is held back (one quarantine row per file, scope ``file``: every household is held);
2. every file: native rows -> ``raw.<custodian>_<kind>`` (native fields + lineage), canonical rows ->
   ``raw.<entity>`` (lineage to the dialect file and line), rejects -> quarantine;
3. the reconciliation of the family (custodian.dialects.reconcile) -> ``raw.reconciliation``.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass, field, replace
from typing import Iterator

import duckdb
import pandas as pd
import pyarrow as pa

from custodian.dialects import DIALECTS, RECORDS_BY_TABLE
from custodian.dialects.engine import NativeFile, parse_dialect_file
from custodian.dialects.reconcile import RECONCILIATION_COLUMNS, reconcile_family
from custodian.dialects.spec import Dialect, RecordLayout
from custodian.dialects.translate import account_map, map_reject_accounts, security_map, to_canonical
from custodian.layout import LINEAGE_COLUMNS
from custodian.parse import QUARANTINE_COLUMNS, sha256_of
from custodian.workers import Job, Preparer, release_memory

NATIVE_TYPES = {"text": "VARCHAR", "code": "VARCHAR", "decimal": "DOUBLE", "date": "DATE"}
ROWS_PER_BATCH = 50_000  # rows converted to arrow at a time on their way into DuckDB
RECONCILIATION_DDL = (
    "create table if not exists raw.reconciliation (as_of_date date, custodian varchar, account_id varchar, "
    "account_number varchar, check_name varchar, security_id varchar, expected double, reported double, "
    "difference double, tolerance double, source_file varchar, source_line bigint)"
)


def native_table_ddl(record: RecordLayout) -> str:
    cols = [f"{f.name} {NATIVE_TYPES[f.kind]}" for f in record.fields]
    cols += [f"{name} {kind}" for name, kind in LINEAGE_COLUMNS]
    return f"create table if not exists raw.{record.table} ({', '.join(cols)})"


def ensure_dialect_schema(con: duckdb.DuckDBPyConnection) -> None:
    for dialect in DIALECTS:
        for record in dialect.records:
            con.execute(native_table_ddl(record))
    con.execute(RECONCILIATION_DDL)


def dialect_tables() -> list[str]:
    return [r.table for d in DIALECTS for r in d.records] + ["reconciliation"]


@dataclass
class DialectFileLoad:
    """What custodian.load needs to record one dialect file (ledger row, quarantine, quarantine copy)."""

    table: str
    entity: str  # canonical entity fed, or the raw table name for reference records
    source_file: str
    file_sha256: str
    content: bytes  # kept only for a file rejected whole (its quarantine copy)
    delivery: object  # the ledger row
    rows_loaded: int
    rejects: list[pd.DataFrame] = field(default_factory=list)  # each with a scope column
    rejected_whole: bool = False
    superseded: list[str] = field(default_factory=list)
    canonical: pd.DataFrame | None = None  # canonical rows, while write_translated writes them


def _scoped(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    out = frame.copy()
    out["scope"] = scope
    return out


def insert_file_rows(con, table: str, frame: pd.DataFrame, field_casts: list[str], as_of: dt.date,
                     source_file: str, file_sha256: str) -> None:
    """Insert one file's rows (``frame``: its fields and source_line) into raw.<table> with their lineage.

    DuckDB keeps every pandas frame or arrow table scanned inside the day's transaction referenced until
    it commits (a whole firm's rows, as Python strings), so the rows go in as a stream of arrow batches,
    each released once read; the as-of date, file name and hash are query parameters, not a column."""
    lineage = {"as_of_date": "?", "source_file": "?", "source_line": "source_line", "file_sha256": "?"}
    casts = field_casts + [f"cast({lineage[name]} as {kind})" for name, kind in LINEAGE_COLUMNS]
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    batches = (pa.RecordBatch.from_pandas(frame.iloc[start:start + ROWS_PER_BATCH], schema=schema, preserve_index=False)
               for start in range(0, len(frame), ROWS_PER_BATCH))
    con.register("incoming_rows", pa.RecordBatchReader.from_batches(schema, batches))
    try:
        con.execute(f"insert into raw.{table} select {', '.join(casts)} from incoming_rows",
                    [as_of, source_file, file_sha256])
    finally:
        con.unregister("incoming_rows")


def _write_native(con, native: NativeFile, as_of: dt.date) -> None:
    record = native.record
    frame = native.rows[record.field_names].copy()
    frame["source_line"] = native.rows["source_line"].astype("int64")
    insert_file_rows(con, record.table, frame, [f"cast({f.name} as {NATIVE_TYPES[f.kind]})" for f in record.fields],
                     as_of, native.source_file, native.file_sha256)


def _held_back(record: RecordLayout, delivery, why: str) -> pd.DataFrame:
    return pd.DataFrame([{
        "source_file": delivery["file_name"], "source_line": 0, "account_id": None, "field": "<file>",
        "value": None, "error": f"not loaded: {why}", "raw_line": None,
    }], columns=QUARANTINE_COLUMNS)


def _missing(dialect: Dialect, record: RecordLayout, as_of: dt.date) -> pd.DataFrame:
    return pd.DataFrame([{
        "source_file": dialect.file_name(record, as_of), "source_line": 0, "account_id": None, "field": "<file>",
        "value": None, "error": f"no {dialect.custodian} {record.code} file delivered for {as_of.isoformat()}",
        "raw_line": None,
    }], columns=QUARANTINE_COLUMNS)


def expected_families(accepted: pd.DataFrame, firm_custodians: set[str], canonical_entities: set[str]) -> list[Dialect]:
    """Families to load: those with a delivery today, and a custodian of the firm's accounts whose
    positions, lots or transactions have no canonical file today (they must come from its family)."""
    delivered = set(accepted["entity"].dropna())
    needs = not {"positions", "open_lots", "transactions"} <= canonical_entities
    return [d for d in DIALECTS
            if any(r.table in delivered for r in d.records) or (needs and d.custodian in firm_custodians)]


def load_families(
    con: duckdb.DuckDBPyConnection, as_of: dt.date, accepted: pd.DataFrame, archive_store,
    firm_custodians: set[str], canonical_entities: set[str], write_translated,
    plans: dict[str, FamilyPlan] | None = None,
) -> tuple[list[DialectFileLoad], list[pd.DataFrame], pd.DataFrame]:
    """Load every expected family; returns (file loads, missing-file rejects, reconciliation rows).

    ``write_translated(load)`` writes a file's canonical rows (``load.canonical``) to raw.<entity> and
    returns the rejects it adds (a frame with a scope column, or None); it is called as soon as the
    file is translated, so only one custodian file's rows are in memory at a time. ``plans``: the
    families already started (``start_families``); by default they are planned and prepared here."""
    loads, missing, reconciliation = [], [], []
    if plans is None:
        plans = start_families(as_of, accepted, archive_store, Preparer(1))
    for dialect in expected_families(accepted, firm_custodians, canonical_entities):
        plan = plans.get(dialect.custodian)
        if plan is None:  # a custodian of the firm's accounts that delivered nothing today
            plan, jobs = plan_family(dialect, as_of, accepted, archive_store)
            plan.prepared = Preparer(1).in_order(jobs)
        family_loads, family_missing, family_recon = _load_family(con, plan, as_of, write_translated)
        loads += family_loads
        missing += family_missing
        reconciliation.append(family_recon)
    recon = pd.concat([r for r in reconciliation if len(r)] or [pd.DataFrame(columns=RECONCILIATION_COLUMNS)],
                      ignore_index=True)
    if len(recon):
        frame = recon.copy()
        frame.insert(0, "as_of_date", as_of)
        con.register("incoming_recon", frame)
        try:
            con.execute("insert into raw.reconciliation by name select * from incoming_recon")
        finally:
            con.unregister("incoming_recon")
    return loads, missing, recon


# What the family's reconciliation (custodian.dialects.reconcile) reads once a file is loaded: the native
# rows of these kinds, and of the canonical rows of positions and lots only these columns.
RECONCILED_NATIVE_KINDS = ("positions", "securities", "balances")
RECONCILED_CANONICAL_KINDS = ("positions", "open_lots")
RECONCILED_CANONICAL_COLUMNS = ["account_id", "security_id", "quantity", "source_line"]


def _kept_for_reconciliation(native: NativeFile) -> NativeFile:
    """The parsed file without what the reconciliation never reads (raw lines; rows of other kinds)."""
    if native.record.kind.startswith(RECONCILED_NATIVE_KINDS):
        return replace(native, rows=native.rows.drop(columns="raw_line"))
    return replace(native, rows=pd.DataFrame())  # not rows.iloc[:0]: an arrow slice keeps its whole buffer


@dataclass(frozen=True)
class FamilyMaps:
    """What translates a family's files: its account master and security file of the day."""

    accounts: dict | None
    securities: dict | None
    rejected_accounts: frozenset


def read_verified(archive_store, delivery: dict) -> bytes:
    """The archived copy of a delivery, checked against its ledger hash."""
    content = archive_store.read_bytes(delivery["archive_key"])
    if sha256_of(content) != delivery["file_sha256"]:
        raise RuntimeError(f"archived copy {delivery['archive_uri']} does not match its ledger hash")
    return content


def parse_delivery(table: str, delivery: dict, archive_store, as_of: dt.date) -> tuple[NativeFile, bytes]:
    """Read, check and parse one dialect file (custodian.workers may run it in a helper thread); the
    bytes are kept only for a file rejected whole (its quarantine copy)."""
    dialect, record = RECORDS_BY_TABLE[table]
    content = read_verified(archive_store, delivery)
    native = parse_dialect_file(dialect, record, delivery["file_name"], content, as_of, digest=delivery["file_sha256"])
    return native, content if native.rejected_whole else b""


def _parsed(parsed: tuple[NativeFile, bytes]) -> tuple[NativeFile, bytes]:
    """A file parsed already (the account master and security file: parsed first, they translate the rest)."""
    return parsed


def _translate(load: DialectFileLoad, native: NativeFile, maps: FamilyMaps, delivery) -> pd.DataFrame | None:
    """The file's canonical rows (None when it feeds no canonical entity or is held back); its
    translation rejects go to ``load.rejects``."""
    dialect, record = native.dialect, native.record
    if record.entity is None or native.rejected_whole:
        return None
    why = None
    if maps.accounts is None:
        why = f"the {dialect.custodian} account master of the day is missing or rejected whole"
    elif maps.securities is None and record.security_field:
        why = f"the {dialect.custodian} security file of the day is missing or rejected whole"
    if why:
        load.rejects.append(_scoped(_held_back(record, delivery, why), "file"))
        return None
    canonical, line_rejects, unknown = to_canonical(native, maps.accounts, maps.securities or {})
    held = unknown["account_id"].isin(maps.rejected_accounts)
    if held.any():
        # the account's own master line was rejected: its household cannot be told, hold all
        rows = unknown[held].assign(account_id=None, error=lambda f: f"the {dialect.custodian} account "
                                    "master line of this account was rejected")
        load.rejects.append(_scoped(rows, "line"))
    if len(line_rejects):
        load.rejects.append(_scoped(line_rejects, "line"))
    if (~held).any():
        load.rejects.append(_scoped(unknown[~held], "unknown_account"))
    return canonical


def _delivery_fields(delivery) -> dict:
    return {name: delivery[name] for name in ("file_name", "archive_key", "archive_uri", "file_sha256")}


@dataclass
class FamilyPlan:
    """A custodian family's files of the day, their translation maps and their preparation (started)."""

    dialect: Dialect
    deliveries: dict[str, pd.DataFrame]  # the ledger rows of each delivered kind, the active one last
    missing: list[pd.DataFrame]
    maps: FamilyMaps
    tables: list[str]  # delivered kinds, in the family's record order
    prepared: Iterator | None = None  # (NativeFile, bytes) per table, in order


def plan_family(dialect: Dialect, as_of: dt.date, accepted: pd.DataFrame, archive_store) -> tuple[FamilyPlan, list[Job]]:
    """The family's deliveries and maps (the account master and security file are parsed here: they
    translate the others) and one preparation job per delivered file."""
    deliveries: dict[str, pd.DataFrame] = {}
    missing = []
    for record in dialect.records:
        rows = accepted[accepted["entity"] == record.table]
        if not len(rows):
            missing.append(_missing(dialect, record, as_of))
            continue
        deliveries[record.table] = rows

    def active(table: str) -> dict:
        return _delivery_fields(deliveries[table].iloc[-1])

    references = {record.table: parse_delivery(record.table, active(record.table), archive_store, as_of)
                  for record in (dialect.by_kind("accounts"), dialect.by_kind("securities"))
                  if record.table in deliveries}
    accounts_file = references.get(dialect.by_kind("accounts").table, (None,))[0]
    securities_file = references.get(dialect.by_kind("securities").table, (None,))[0]
    accounts = account_map(accounts_file) if accounts_file is not None and not accounts_file.rejected_whole else None
    securities = security_map(securities_file) if securities_file is not None and not securities_file.rejected_whole else None
    rejected_accounts = set()
    if accounts_file is not None:
        rejected_accounts = set(accounts_file.rejects["account_id"].dropna())
    maps = FamilyMaps(accounts, securities, frozenset(rejected_accounts))
    tables = [record.table for record in dialect.records if record.table in deliveries]
    jobs = [Job(_parsed, (references.pop(table),), 0, here=True) if table in references else
            Job(parse_delivery, (table, active(table), archive_store, as_of), int(deliveries[table].iloc[-1]["size_bytes"]))
            for table in tables]
    return FamilyPlan(dialect, deliveries, missing, maps, tables), jobs


def start_families(as_of: dt.date, accepted: pd.DataFrame, archive_store, preparer: Preparer) -> dict[str, FamilyPlan]:
    """Plan every family delivered today and start preparing its files (custodian.workers): called as
    soon as the ledger is known, so the helpers parse while the firm's own files load."""
    plans, jobs = {}, []
    for dialect in DIALECTS:
        if any(r.table in set(accepted["entity"].dropna()) for r in dialect.records):
            plan, family_jobs = plan_family(dialect, as_of, accepted, archive_store)
            plans[dialect.custodian] = plan
            jobs += family_jobs
    results = preparer.in_order(jobs)
    for plan in plans.values():
        plan.prepared = itertools.islice(results, len(plan.tables))
    return plans


def _load_family(con, plan: FamilyPlan, as_of: dt.date, write_translated):
    """One custodian file at a time, in the family's record order: write its native rows, translate and
    write its canonical rows, then keep only its rejects and what the reconciliation needs. The files
    were parsed ahead (``plan.prepared``), in a helper thread where there is one, while this one writes."""
    dialect, deliveries = plan.dialect, plan.deliveries
    loads = []
    parsed: dict[str, NativeFile] = {}
    canonical_by_table = {}
    prepared = iter(plan.prepared)
    for table in plan.tables:
        # next(), not zip(): zip keeps its last item alive, a whole file's rows, while the next one parses
        native, content = next(prepared)
        record = RECORDS_BY_TABLE[table][1]
        delivery = deliveries[table].iloc[-1]
        load = DialectFileLoad(
            table, record.entity or record.table, native.source_file, native.file_sha256,
            content if native.rejected_whole else b"", delivery, 0, rejected_whole=native.rejected_whole,
            superseded=list(deliveries[table]["landing_key"].iloc[:-1]),
        )
        del content
        parse_rejects = native.rejects
        if plan.maps.accounts is not None:
            parse_rejects = map_reject_accounts(parse_rejects, plan.maps.accounts)
        if len(parse_rejects):
            load.rejects.append(_scoped(parse_rejects, "file" if native.rejected_whole else "line"))
        _write_native(con, native, as_of)
        load.rows_loaded = len(native.rows)
        canonical = _translate(load, native, plan.maps, delivery)
        if canonical is not None:
            if record.kind.startswith(RECONCILED_CANONICAL_KINDS):
                canonical_by_table[table] = canonical[RECONCILED_CANONICAL_COLUMNS]
            load.canonical = canonical
            written_rejects = write_translated(load)
            if written_rejects is not None and len(written_rejects):
                load.rejects.append(written_rejects)
            load.rows_loaded = len(load.canonical)
            load.canonical = None
        del canonical
        parsed[table] = _kept_for_reconciliation(native)
        del native
        release_memory()  # the file's rows are written: their pages go back before the next file's arrive
        loads.append(load)
    recon = reconcile_family(dialect, parsed, canonical_by_table, plan.maps.accounts or {})
    return loads, plan.missing, recon
