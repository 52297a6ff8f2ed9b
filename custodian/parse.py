"""Parse one canonical landing file into typed rows and quarantine records.

Pure: bytes in, (valid rows, rejected rows) out. A rejected row names the file, the line (1-based,
the header is line 1), the field, the offending value and the error, and keeps the raw line, so an
operator can fix the file without opening it and nothing is lost. A file that is empty, whose
header does not match its layout (missing, extra or reordered columns, another delimiter) or is not
UTF-8 is rejected whole (one quarantine record on line 1, field "<header>"). Line rules beyond the
column types: a line that is not UTF-8 (field "<encoding>"), a last line without a line end (a
truncated file, field "<row>"), and every line sharing a value of the layout's unique key.
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
        if column.maximum is not None:
            above = ~bad & ~blank & (values > column.maximum)
            errors = errors.mask(above & (errors == ""), f"above the maximum {column.maximum:g}")
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


def reject_message(reject) -> str:
    """One line an operator can act on: file, line, field, error and the offending value."""
    get = reject.get if isinstance(reject, dict) else lambda k: getattr(reject, k)
    value = get("value")
    shown = "" if value is None or value == "" else f" (value {str(value)[:80]!r})"
    return f"{get('source_file')} line {get('source_line')} field {get('field')}: {get('error')}{shown}"


def _decode_lines(source_file: str, content: bytes, account_pos: int | None) -> tuple[str, list[dict]]:
    """UTF-8 text of the file; a line that is not valid UTF-8 is blanked (so line numbers keep) and rejected."""
    try:
        return content.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    rejects, lines = [], []
    for number, raw in enumerate(content.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8-sig" if number == 1 else "utf-8"))
        except UnicodeDecodeError as err:
            shown = raw.decode("utf-8", errors="replace").rstrip("\r")
            field = "<header>" if number == 1 else "<encoding>"
            cells = shown.split(",")
            account = cells[account_pos] if account_pos is not None and account_pos < len(cells) else None
            rejects.append(_reject(source_file, number, account, field, repr(raw[err.start:err.start + 4]),
                                   f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}", shown))
            lines.append("")
    return "\n".join(lines), rejects


def _header_error(layout: FileLayout, header: list[str]) -> str:
    got = [h.strip() for h in header]
    expected = layout.columns_for_header(got)
    if len(got) == 1:
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in got[0]:
                return f"wrong delimiter: the header is {name}-separated, the {layout.entity} layout is comma-separated"
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    parts = []
    if missing:
        parts.append("missing column(s) " + ", ".join(missing))
    if extra:
        parts.append("unexpected column(s) " + ", ".join(extra))
    if not parts:
        parts.append("columns out of order")
    return f"header does not match the {layout.entity} layout ({'; '.join(parts)}); expected: {','.join(expected)}"


def _whole_file(layout: FileLayout, source_file: str, digest: str, field: str, value: str, error: str) -> ParsedFile:
    empty_rows = pd.DataFrame(columns=layout.column_names + ["source_line"])
    reject = _reject(source_file, 1, None, field, value, error, value)
    return ParsedFile(layout, source_file, digest, empty_rows, pd.DataFrame([reject], columns=QUARANTINE_COLUMNS))


def parse_landing_file(layout: FileLayout, source_file: str, content: bytes) -> ParsedFile:
    digest = sha256_of(content)
    if not content.strip():
        return _whole_file(layout, source_file, digest, "<header>", "<empty file>",
                           f"empty file: no header and no rows (expected the {layout.entity} layout)")
    account_pos = layout.column_names.index(layout.account_column) if layout.account_column else None
    text, rejects = _decode_lines(source_file, content, account_pos)
    if rejects and rejects[0]["field"] == "<header>":
        first = rejects[0]
        return _whole_file(layout, source_file, digest, "<header>", first["value"], "header " + first["error"])
    truncated_line = None
    if not text.endswith(("\n", "\r")):
        truncated_line = text.count("\n") + 1  # the last physical line: no line end, the file was cut
    reader = csv.reader(io.StringIO(text, newline=""))
    empty_rows = pd.DataFrame(columns=layout.column_names + ["source_line"])
    header = next(reader, None)
    names = layout.columns_for_header(header or [])
    if header is None or [h.strip() for h in header] != names:
        got = ",".join(header) if header else "<empty file>"
        reject = _reject(source_file, 1, None, "<header>", got, _header_error(layout, header or []), got)
        return ParsedFile(layout, source_file, digest, empty_rows, pd.DataFrame([reject], columns=QUARANTINE_COLUMNS))

    width = len(names)
    records: list[list[str]] = []
    lines: list[int] = []
    for row in reader:
        line = reader.line_num
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # a blank line carries no data
        account = row[account_pos] if account_pos is not None and account_pos < len(row) else None
        if truncated_line is not None and line >= truncated_line:
            rejects.append(_reject(source_file, line, account, "<row>", ",".join(row)[-80:],
                                   "last line has no line end: the file looks truncated", ",".join(row)))
            continue
        if len(row) != width:
            rejects.append(_reject(source_file, line, account, "<row>", str(len(row)),
                                   f"expected {width} fields, found {len(row)}", ",".join(row)))
            continue
        records.append(row)
        lines.append(line)

    frame = pd.DataFrame(records, columns=names, dtype=object) if records else empty_rows.drop(columns="source_line")
    for absent in set(layout.column_names) - set(names):  # a column the file predates: blank
        frame[absent] = ""
    frame = frame[layout.column_names]
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
    if layout.row_rules is not None and len(frame):
        for idx in np.flatnonzero((row_errors == "").to_numpy()):
            found = layout.row_rules({
                name: (None if (v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v))) else v)
                for name, v in ((name, typed[name].iat[idx]) for name in typed)
            })
            if found:
                first_field.iat[idx], row_errors.iat[idx] = found[0]
    if layout.unique_key and len(frame):
        key = frame[list(layout.unique_key)].apply(lambda c: c.str.strip())
        shared = key.duplicated(keep=False).to_numpy()
        if shared.any():
            line_numbers = pd.Series(lines, index=frame.index)
            groups = key[shared].astype(str).agg("|".join, axis=1)
            others = line_numbers[shared].groupby(groups).agg(lambda s: sorted(s.tolist()))
            message = groups.map(lambda g: f"duplicate {'+'.join(layout.unique_key)}: on lines "
                                           + ", ".join(str(n) for n in others[g]))
            dup = pd.Series(False, index=frame.index)
            dup[groups.index] = True
            new = (row_errors == "") & dup
            first_field = first_field.mask(new, layout.unique_key[0])
            row_errors = row_errors.mask(new, message.reindex(frame.index))

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
