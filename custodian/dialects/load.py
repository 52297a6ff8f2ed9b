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
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from custodian.dialects import DIALECTS
from custodian.dialects.engine import NativeFile, parse_dialect_file
from custodian.dialects.reconcile import RECONCILIATION_COLUMNS, reconcile_family
from custodian.dialects.spec import Dialect, RecordLayout
from custodian.dialects.translate import account_map, map_reject_accounts, security_map, to_canonical
from custodian.layout import LINEAGE_COLUMNS
from custodian.parse import QUARANTINE_COLUMNS

NATIVE_TYPES = {"text": "VARCHAR", "code": "VARCHAR", "decimal": "DOUBLE", "date": "DATE"}
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
    content: bytes
    delivery: object  # the ledger row
    rows_loaded: int
    rejects: list[pd.DataFrame] = field(default_factory=list)  # each with a scope column
    rejected_whole: bool = False
    superseded: list[str] = field(default_factory=list)
    canonical: pd.DataFrame | None = None  # canonical rows (for raw.<entity>)


def _scoped(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    out = frame.copy()
    out["scope"] = scope
    return out


def _write_native(con, native: NativeFile, as_of: dt.date) -> None:
    record = native.record
    frame = native.rows[record.field_names].copy()
    frame["as_of_date"] = as_of
    frame["source_file"] = native.source_file
    frame["source_line"] = native.rows["source_line"].astype("int64")
    frame["file_sha256"] = native.file_sha256
    casts = [f"cast({f.name} as {NATIVE_TYPES[f.kind]})" for f in record.fields]
    casts += [f"cast({name} as {kind})" for name, kind in LINEAGE_COLUMNS]
    con.register("incoming_native", frame)
    try:
        con.execute(f"insert into raw.{record.table} select {', '.join(casts)} from incoming_native")
    finally:
        con.unregister("incoming_native")


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
    con: duckdb.DuckDBPyConnection, as_of: dt.date, accepted: pd.DataFrame, read_archived,
    firm_custodians: set[str], canonical_entities: set[str],
) -> tuple[list[DialectFileLoad], list[pd.DataFrame], pd.DataFrame]:
    """Load every expected family; returns (file loads, missing-file rejects, reconciliation rows)."""
    loads, missing, reconciliation = [], [], []
    for dialect in expected_families(accepted, firm_custodians, canonical_entities):
        family_loads, family_missing, family_recon = _load_family(con, dialect, as_of, accepted, read_archived)
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


def _load_family(con, dialect: Dialect, as_of: dt.date, accepted: pd.DataFrame, read_archived):
    parsed: dict[str, NativeFile] = {}
    deliveries: dict[str, pd.DataFrame] = {}
    contents: dict[str, bytes] = {}
    missing = []
    for record in dialect.records:
        rows = accepted[accepted["entity"] == record.table]
        if not len(rows):
            missing.append(_missing(dialect, record, as_of))
            continue
        deliveries[record.table] = rows
        active = rows.iloc[-1]
        content = contents[record.table] = read_archived(active)
        parsed[record.table] = parse_dialect_file(dialect, record, active["file_name"], content, as_of)
    accounts_file = parsed.get(dialect.by_kind("accounts").table)
    securities_file = parsed.get(dialect.by_kind("securities").table)
    accounts = account_map(accounts_file) if accounts_file is not None and not accounts_file.rejected_whole else None
    securities = security_map(securities_file) if securities_file is not None and not securities_file.rejected_whole else None
    rejected_accounts = set()
    if accounts_file is not None:
        rejected_accounts = set(accounts_file.rejects["account_id"].dropna())
    loads = []
    canonical_by_table = {}
    for table, native in parsed.items():
        record = native.record
        delivery = deliveries[table].iloc[-1]
        load = DialectFileLoad(
            table, record.entity or record.table, native.source_file, native.file_sha256,
            contents[table], delivery, 0, rejected_whole=native.rejected_whole,
            superseded=list(deliveries[table]["landing_key"].iloc[:-1]),
        )
        parse_rejects = native.rejects
        if accounts is not None:
            parse_rejects = map_reject_accounts(parse_rejects, accounts)
        if len(parse_rejects):
            load.rejects.append(_scoped(parse_rejects, "file" if native.rejected_whole else "line"))
        _write_native(con, native, as_of)
        if record.entity is not None and not native.rejected_whole:
            why = None
            if accounts is None:
                why = f"the {dialect.custodian} account master of the day is missing or rejected whole"
            elif securities is None and record.security_field:
                why = f"the {dialect.custodian} security file of the day is missing or rejected whole"
            if why:
                load.rejects.append(_scoped(_held_back(record, delivery, why), "file"))
            else:
                canonical, line_rejects, unknown = to_canonical(native, accounts, securities or {})
                held = unknown["account_id"].isin(rejected_accounts)
                if held.any():
                    # the account's own master line was rejected: its household cannot be told, hold all
                    rows = unknown[held].assign(account_id=None, error=lambda f: f"the {dialect.custodian} account "
                                                "master line of this account was rejected")
                    load.rejects.append(_scoped(rows, "line"))
                if len(line_rejects):
                    load.rejects.append(_scoped(line_rejects, "line"))
                if (~held).any():
                    load.rejects.append(_scoped(unknown[~held], "unknown_account"))
                load.canonical = canonical
                canonical_by_table[table] = canonical
        load.rows_loaded = len(load.canonical) if load.canonical is not None else len(native.rows)
        loads.append(load)
    recon = reconcile_family(dialect, parsed, canonical_by_table, accounts or {})
    return loads, missing, recon
