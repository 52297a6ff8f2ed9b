"""Parse one canonical landing file into typed rows and quarantine records.

Pure: bytes in, (valid rows, rejected rows) out. A rejected row names the file, the line (1-based,
the header is line 1), the field, the offending value and the error, and keeps the raw line, so an
operator can fix the file without opening it and nothing is lost. A file whose header does not
match its layout is rejected whole (one quarantine record on line 1, field "<header>").
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass

import numpy as np
import pandas as pd

from custodian.layout import Column, FileLayout

QUARANTINE_COLUMNS = ["source_file", "source_line", "account_id", "field", "value", "error", "raw_line"]


@dataclass(frozen=True)
class ParsedFile:
    layout: FileLayout
    source_file: str
    file_sha256: str
    rows: pd.DataFrame  # layout columns, typed, plus source_line
    rejects: pd.DataFrame  # QUARANTINE_COLUMNS

    @property
    def rejected_whole(self) -> bool:
        return bool(len(self.rejects)) and (self.rejects["field"] == "<header>").any()


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _reject(source_file, line, account_id, field, value, error, raw_line) -> dict:
    return {
        "source_file": source_file,
        "source_line": int(line),
        "account_id": account_id,
        "field": field,
        "value": value,
        "error": error,
        "raw_line": raw_line,
    }


def _convert(column: Column, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Typed values and an error message per row ('' when fine) for one column of strings."""
    blank = text.str.strip() == ""
    errors = pd.Series("", index=text.index, dtype=object)
    if column.required:
        errors = errors.mask(blank, "required value is blank")
    if column.kind == "text":
        values = text.str.strip().astype(object).where(~blank, None)
        if column.choices:
            bad = ~blank & ~values.isin(column.choices)
            errors = errors.mask(bad & (errors == ""), f"not one of {', '.join(column.choices)}")
        return values, errors
    if column.kind in ("decimal", "integer"):
        values = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = ~blank & (values.isna() | ~np.isfinite(values.fillna(0.0)))
        errors = errors.mask(bad & (errors == ""), "not a number")
        if column.minimum is not None:
            below = ~bad & ~blank & (values < column.minimum)
            errors = errors.mask(below & (errors == ""), f"below the minimum {column.minimum:g}")
        if column.kind == "integer":
            return values.astype("Int64"), errors
        return values.astype(float), errors
    if column.kind == "date":
        values = pd.to_datetime(text.where(~blank), format="%Y-%m-%d", errors="coerce")
        bad = ~blank & values.isna()
        errors = errors.mask(bad & (errors == ""), "not a date (YYYY-MM-DD)")
        return values, errors  # datetime64 (NaT when blank); DuckDB casts it to DATE on insert
    if column.kind == "boolean":
        lowered = text.str.strip().str.lower()
        values = lowered.map({"true": True, "false": False})
        bad = ~blank & values.isna()
        errors = errors.mask(bad & (errors == ""), "not a boolean (true/false)")
        return values.astype("boolean"), errors
    raise ValueError(f"unknown column kind {column.kind!r}")


def parse_landing_file(layout: FileLayout, source_file: str, content: bytes) -> ParsedFile:
    digest = sha256_of(content)
    text = content.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""))
    empty_rows = pd.DataFrame(columns=layout.column_names + ["source_line"])
    header = next(reader, None)
    if header is None or [h.strip() for h in header] != layout.column_names:
        got = ",".join(header) if header else "<empty file>"
        reject = _reject(
            source_file, 1, None, "<header>", got,
            f"header does not match the {layout.entity} layout; expected: {','.join(layout.column_names)}",
            got,
        )
        return ParsedFile(layout, source_file, digest, empty_rows, pd.DataFrame([reject], columns=QUARANTINE_COLUMNS))

    width = len(layout.columns)
    records: list[list[str]] = []
    lines: list[int] = []
    rejects: list[dict] = []
    account_pos = layout.column_names.index(layout.account_column) if layout.account_column else None
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line carries no data
        if len(row) != width:
            account = row[account_pos] if account_pos is not None and account_pos < len(row) else None
            rejects.append(_reject(source_file, line, account, "<row>", str(len(row)),
                                   f"expected {width} fields, found {len(row)}", ",".join(row)))
            continue
        records.append(row)
        lines.append(line)

    frame = pd.DataFrame(records, columns=layout.column_names, dtype=object) if records else empty_rows.drop(columns="source_line")
    frame = frame.astype(str) if len(frame) else frame
    typed = {}
    row_errors = pd.Series("", index=frame.index, dtype=object)
    first_field = pd.Series("", index=frame.index, dtype=object)
    for column in layout.columns:
        if not len(frame):
            typed[column.name] = pd.Series([], dtype=object)
            continue
        values, errors = _convert(column, frame[column.name])
        typed[column.name] = values
        new = (row_errors == "") & (errors != "")
        first_field = first_field.mask(new, column.name)
        row_errors = row_errors.mask(new, errors)

    bad = row_errors != ""
    if bad.any():
        for idx in np.flatnonzero(bad.to_numpy()):
            field = first_field.iat[idx]
            account = frame[layout.account_column].iat[idx] if layout.account_column else None
            rejects.append(_reject(source_file, lines[idx], account, field, frame[field].iat[idx],
                                   row_errors.iat[idx], ",".join(frame.iloc[idx].tolist())))
    rows = pd.DataFrame(typed)
    rows["source_line"] = pd.Series(lines, dtype="int64") if len(frame) else pd.Series([], dtype="int64")
    rows = rows.loc[~bad.to_numpy()] if len(frame) else rows
    rejects_frame = pd.DataFrame(rejects, columns=QUARANTINE_COLUMNS).sort_values(["source_line"], kind="stable")
    return ParsedFile(layout, source_file, digest, rows.reset_index(drop=True), rejects_frame.reset_index(drop=True))
