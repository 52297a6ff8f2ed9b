"""Native dialect rows -> canonical rows (custodian.layout), pure and declarative.

Each native field with ``canonical`` set feeds that canonical column (native codes through
``codes``); ``constants`` and ``derived`` fill the rest. Account numbers become the firm's account
id through the custodian's own account master of the day (its ``firm_reference``), CUSIPs become
security ids through the custodian's security file of the day (its symbol). A row whose account is
not in the custodian's account master is an unknown account; a row whose CUSIP is not a valid
record of the custodian's security file (missing, or rejected, say for a price of 0) is rejected.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from custodian.dialects.engine import NativeFile
from custodian.layout import LAYOUTS_BY_ENTITY
from custodian.parse import QUARANTINE_COLUMNS


def account_map(accounts: NativeFile) -> dict[str, str]:
    """native account number -> the firm's account id."""
    rows = accounts.rows
    return dict(zip(rows["account_number"], rows["firm_reference"]))


def security_map(securities: NativeFile) -> dict[str, str]:
    """CUSIP -> security id (the symbol)."""
    rows = securities.rows
    return dict(zip(rows["cusip"], rows["symbol"]))


def _rejects(native: NativeFile, mask: np.ndarray, account, field: str, values, error: str) -> pd.DataFrame:
    bad = native.rows[mask]
    return pd.DataFrame({
        "source_file": native.source_file, "source_line": bad["source_line"].astype("int64"),
        "account_id": account[mask] if account is not None else None, "field": field,
        "value": np.asarray(values)[mask], "error": error, "raw_line": bad["raw_line"],
    }, columns=QUARANTINE_COLUMNS)


def to_canonical(
    native: NativeFile, accounts: dict[str, str], securities: dict[str, str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(canonical rows with source_line and raw_line, line rejects, unknown-account rejects) of one native file.

    Line rejects carry the firm's account id when the account is known, so they hold its household."""
    record = native.record
    layout = LAYOUTS_BY_ENTITY[record.entity]
    rows = native.rows
    empty = pd.DataFrame(columns=QUARANTINE_COLUMNS)
    out = pd.DataFrame(index=rows.index)
    native_accounts = rows[record.account_field].to_numpy(dtype=object)
    firm_accounts = pd.Series(native_accounts).map(accounts).to_numpy(dtype=object)
    unknown = pd.isna(firm_accounts)
    unknown_rejects = _rejects(native, unknown, native_accounts, record.account_field, native_accounts,
                               f"unknown account: not in the {native.dialect.custodian} account master of the day") \
        if unknown.any() else empty
    out["account_id"] = firm_accounts
    line_bad = np.zeros(len(rows), dtype=bool)
    line_rejects = empty
    if record.security_field:
        cusips = rows[record.security_field].to_numpy(dtype=object)
        ids = pd.Series(cusips).map(securities).to_numpy(dtype=object)
        missing = pd.isna(ids) & ~pd.isna(cusips) & ~unknown
        if missing.any():
            line_rejects = _rejects(native, missing, firm_accounts, record.security_field, cusips,
                                    f"security not in the {native.dialect.custodian} security file of the day "
                                    "(missing, or its record was rejected)")
        line_bad |= missing
        out["security_id"] = ids
    for f in record.fields:
        if f.canonical is None:
            continue
        values = rows[f.name]
        out[f.canonical] = values.map(f.code_map) if f.codes else values
    for column, value in record.constants:
        out[column] = value
    for column, parts in record.derived:
        out[column] = sum(rows[p].fillna(0.0) for p in parts)
    for column in layout.column_names:
        if column not in out:
            out[column] = None
    keep = ~unknown & ~line_bad
    canonical = out.loc[keep, layout.column_names].copy()
    canonical["source_line"] = rows.loc[keep, "source_line"].astype("int64")
    canonical["raw_line"] = rows.loc[keep, "raw_line"]  # for a later reject (unknown firm account); not loaded
    for column in layout.columns:
        if column.kind == "boolean":
            canonical[column.name] = canonical[column.name].astype("boolean")
        elif column.kind in ("decimal", "integer"):
            canonical[column.name] = pd.to_numeric(canonical[column.name]).astype(float)
    return canonical.reset_index(drop=True), line_rejects, unknown_rejects


def map_reject_accounts(rejects: pd.DataFrame, accounts: dict[str, str]) -> pd.DataFrame:
    """Parser rejects name the native account number; name the firm's account where it is known."""
    if not len(rejects):
        return rejects
    out = rejects.copy()
    mapped = out["account_id"].map(accounts)
    out["account_id"] = mapped.where(mapped.notna(), out["account_id"])
    return out


def canonical_coverage(record) -> set[str]:
    """Canonical columns a record fills (a test checks every column of its entity is covered)."""
    covered = {f.canonical for f in record.fields if f.canonical}
    covered |= {c for c, _ in record.constants} | {c for c, _ in record.derived}
    covered.add("account_id")
    if record.security_field:
        covered.add("security_id")
    return covered
