"""Write and parse custodian dialect files from their declarative layouts (custodian.dialects.spec).

Pure: values in, bytes out (``encode_file``); bytes in, typed native rows and quarantine records
out (``parse_dialect_file``). The rules are the canonical parser's (custodian.parse): every bad line
is rejected with file, line (1-based, physical), field, value and error and keeps its raw text; the
rest load. Whole-file rejects (``rejected_whole``) are the structural faults: an empty file, a header
that is not UTF-8 or names another as-of date or file, a missing trailer (a truncated file), a
trailer count that does not match the detail records read, a delimited file in another delimiter.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from custodian.dialects.spec import LEADING, SIGN_BYTE, TEXT_SIGN, Dialect, Field, RecordLayout, python_date_format
from custodian.parse import QUARANTINE_COLUMNS, sha256_of

HEADER, TRAILER, RECORD, ENCODING = "<header>", "<trailer>", "<record>", "<encoding>"
_DATE_REGEX = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%y": r"\d{2}"}


@dataclass(frozen=True)
class NativeFile:
    """One parsed dialect file: native typed rows (plus source_line and raw_line) and its rejects."""

    dialect: Dialect
    record: RecordLayout
    source_file: str
    file_sha256: str
    rows: pd.DataFrame
    rejects: pd.DataFrame  # QUARANTINE_COLUMNS
    rejected_whole: bool = False


# ---------------------------------------------------------------------------------------------------
# framing: header and trailer records


def header_record(dialect: Dialect, record: RecordLayout, as_of: dt.date) -> str | None:
    if dialect.framing == "htd":
        text = f"H{record.code:<20}{as_of:%Y%m%d}{dialect.custodian.upper():<12}"
        return text.ljust(dialect.record_width)
    if dialect.framing == "bof_eof":
        text = f"BOF      PERSHING {record.code:<4} {record.description.upper()[:40]:<40} DATA OF {as_of:%m/%d/%Y}"
        return text.ljust(dialect.record_width - 1) + "A"
    return None


def trailer_record(dialect: Dialect, record: RecordLayout, count: int) -> str | None:
    if dialect.framing == "htd":
        return f"T{record.code:<20}{count:010d}".ljust(dialect.record_width)
    if dialect.framing == "bof_eof":
        text = f"EOF      PERSHING {record.code:<4} TOTAL DETAIL RECORDS: {count:010d}"
        return text.ljust(dialect.record_width - 1) + "Z"
    return None


def _parse_header(dialect: Dialect, record: RecordLayout, line: str, as_of: dt.date) -> str | None:
    """Why the header record is wrong, or None."""
    if dialect.framing == "htd":
        if not line.startswith("H"):
            return "missing header: the first record is not an H record"
        code, date = line[1:21].strip(), line[21:29]
        if code != record.code:
            return f"header names file {code!r}, expected {record.code!r}"
        if date != f"{as_of:%Y%m%d}":
            return f"header as-of date {date!r} is not the as-of date {as_of:%Y%m%d}"
        return None
    if not line.startswith("BOF      PERSHING "):
        return "missing header: the first record does not start with 'BOF      PERSHING '"
    match = re.search(r"DATA OF (\S+)", line)
    if line[18:22].strip() != record.code:
        return f"header names file {line[18:22].strip()!r}, expected {record.code!r}"
    if not match or match.group(1) != f"{as_of:%m/%d/%Y}":
        return f"header as-of date {match.group(1) if match else '<none>'!r} is not {as_of:%m/%d/%Y}"
    if not line.endswith("A"):
        return "header record does not end with A"
    return None


def _parse_trailer(dialect: Dialect, line: str) -> tuple[int | None, str | None]:
    """(declared detail count, error) of a trailer record; (None, None) when the line is no trailer."""
    if dialect.framing == "htd":
        if not line.startswith("T"):
            return None, None
        count = line[21:31]
    else:
        if not line.startswith("EOF      PERSHING "):
            return None, None
        match = re.search(r"TOTAL DETAIL RECORDS: (\d{10})", line)
        count = match.group(1) if match else ""
    if not count.isdigit():
        return None, f"trailer count {count!r} is not a number"
    return int(count), None


# ---------------------------------------------------------------------------------------------------
# writing


def _format_number(values: np.ndarray, f: Field, fixed: bool) -> list[str]:
    v = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(v)
    scaled = np.zeros(len(v), dtype=np.int64)
    scaled[present] = np.round(v[present] * 10**f.decimals).astype(np.int64)
    out = []
    if not fixed:
        for ok, n in zip(present.tolist(), scaled.tolist()):
            if not ok:
                out.append("")
                continue
            sign = "-" if n < 0 else ""
            digits = str(abs(n)).rjust(f.decimals + 1, "0")
            out.append(sign + (digits[: -f.decimals] + "." + digits[-f.decimals:] if f.decimals else digits))
        return out
    digits_width = f.width - (1 if f.sign == LEADING else 0)
    for ok, n in zip(present.tolist(), scaled.tolist()):
        if not ok:
            out.append(" " * (f.width + (1 if f.sign == SIGN_BYTE else 0)))
            continue
        digits = str(abs(n)).zfill(digits_width)
        if len(digits) > digits_width:
            raise ValueError(f"{f.name}: {n / 10**f.decimals} does not fit {digits_width} digits")
        sign = "-" if n < 0 else "+"
        out.append(sign + digits if f.sign == LEADING else digits + sign if f.sign == SIGN_BYTE else digits)
    return out


def _format_field(series: pd.Series, f: Field, fixed: bool) -> list[str]:
    if f.kind == "decimal":
        return _format_number(series.to_numpy(dtype=np.float64, na_value=np.nan), f, fixed)
    if f.kind == "date":
        stamps = pd.to_datetime(series)
        text = stamps.dt.strftime(f.date_format).fillna("").tolist()
    else:
        text = ["" if pd.isna(x) else str(x) for x in series.tolist()]
    if not fixed:
        return text
    too_long = [t for t in text if len(t) > f.width]
    if too_long:
        raise ValueError(f"{f.name}: {too_long[0]!r} is wider than {f.width}")
    return [t.ljust(f.width) for t in text]


def encode_records(dialect: Dialect, record: RecordLayout, frame: pd.DataFrame) -> list[str]:
    """Detail records (no line ends) of ``frame`` (one column per native field)."""
    fixed = dialect.framing != "delimited"
    columns = [_format_field(frame[f.name], f, fixed) for f in record.fields]
    if not fixed:
        return [dialect.delimiter.join(cells) for cells in zip(*columns)] if len(frame) else []
    if not len(frame):
        return []
    prefix = _detail_prefix(dialect, record, len(frame))
    out = []
    for i, cells in enumerate(zip(*columns)):
        buffer = list(prefix[i].ljust(dialect.record_width))
        for f, cell in zip(record.fields, cells):
            buffer[f.start:f.start + len(cell)] = cell
        out.append("".join(buffer[: dialect.record_width]))
    return out


def _detail_prefix(dialect: Dialect, record: RecordLayout, n: int) -> list[str]:
    """What starts and ends each detail record: 'D' (htd); code + 'A' + 8-digit sequence ... 'X' (bof_eof)."""
    if dialect.framing == "htd":
        return ["D"] * n
    return [f"{record.code[:2]}A{seq:08d}".ljust(dialect.record_width - 1) + "X" for seq in range(1, n + 1)]


def encode_file(dialect: Dialect, record: RecordLayout, frame: pd.DataFrame, as_of: dt.date) -> bytes:
    details = encode_records(dialect, record, frame)
    lines = [header_record(dialect, record, as_of)] + details + [trailer_record(dialect, record, len(details))]
    return ("\n".join(line for line in lines if line is not None) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------------------------------
# parsing


def _reject(source_file, line, account, field, value, error, raw_line) -> dict:
    return {"source_file": source_file, "source_line": int(line), "account_id": account, "field": field,
            "value": value, "error": error, "raw_line": raw_line}


def _date_regex(fmt: str) -> str:
    out = re.escape(fmt)
    for token, regex in _DATE_REGEX.items():
        out = out.replace(re.escape(token), regex)
    return out


def convert_field(f: Field, text: pd.Series, fixed: bool) -> tuple[pd.Series, pd.Series]:
    """Typed values and an error per row ('' when fine) for one field's raw text.

    The conversion is row by row (a row's value and error depend on its text only), so a column with
    repeated texts (dates, codes, account numbers, CUSIPs) is converted once per distinct text and
    spread back: the same values and errors, at a fraction of the string work."""
    codes, uniques = pd.factorize(text)
    if len(text) and len(uniques) <= len(text) // 2 and (codes >= 0).all():
        values, errors = _convert_text(f, pd.Series(uniques, dtype=text.dtype), fixed)
        return (values.take(codes).set_axis(text.index), errors.take(codes).set_axis(text.index))
    return _convert_text(f, text, fixed)


class FirstError:
    """Each row's first error, rule after rule: a rule marks only rows no earlier rule marked. Kept as
    an integer code per row, not by comparing a column of texts with '' before every rule (the object
    comparisons were a sixth of the ingest's time)."""

    def __init__(self, rows: int):
        self.code = np.zeros(rows, dtype=np.int32)  # 0: no error yet
        self.messages: dict[str, int] = {"": 0}

    def add(self, rows, message: str) -> None:
        hit = _flags(rows) & (self.code == 0)
        if hit.any():
            self.code[hit] = self.messages.setdefault(message, len(self.messages))

    def series(self, index) -> pd.Series:
        """The error text per row ('' when fine), categorical: comparing it with '' compares codes."""
        return pd.Series(pd.Categorical.from_codes(self.code, categories=list(self.messages)), index=index)


def _flags(rows) -> np.ndarray:
    """A row mask as numpy booleans (a pandas nullable or arrow mask: NA is not a hit)."""
    if isinstance(rows, pd.Series):
        return rows.to_numpy(dtype=bool, na_value=False)
    return np.asarray(rows, dtype=bool)


def _convert_text(f: Field, text: pd.Series, fixed: bool) -> tuple[pd.Series, pd.Series]:
    stripped = text.str.strip()
    blank = stripped == ""
    errors = FirstError(len(text))
    if f.required:
        errors.add(blank, "required value is blank")
    if f.kind in ("text", "code"):
        values = stripped.astype(object).where(~blank, None)
        if f.kind == "code":
            errors.add(~blank & ~stripped.isin(list(f.code_map)), "not one of the codes " + ", ".join(f.code_map))
        if f.check is not None:
            valid, message = f.check
            errors.add(~blank & ~valid(stripped).astype(bool), message)
        return values, errors.series(text.index)
    if f.kind == "date":
        values = pd.to_datetime(stripped.where(~blank), format=f.date_format, errors="coerce")
        shaped = stripped.str.fullmatch(_date_regex(f.date_format))
        bad = ~blank & (values.isna() | ~shaped)
        errors.add(bad, f"not a date ({python_date_format(f.date_format)})")
        return values.where(~bad), errors.series(text.index)
    # decimals
    if not fixed:
        shaped = stripped.str.fullmatch(r"-?\d+(\.\d+)?" if f.sign == TEXT_SIGN else r"\d+(\.\d+)?")
        values = pd.to_numeric(stripped.where(~blank & shaped), errors="coerce")
    else:
        if f.sign == LEADING:
            sign, digits = text.str[:1], text.str[1:]
        elif f.sign == SIGN_BYTE:
            sign, digits = text.str[f.width:], text.str[: f.width]
        else:
            sign, digits = pd.Series("+", index=text.index), text
        shaped = digits.str.fullmatch(r"\d+")
        errors.add(~blank & shaped & ~sign.isin(["+", "-", " "] if f.sign == SIGN_BYTE else ["+", "-"]),
                   "sign byte is not + or -")
        magnitude = pd.to_numeric(digits.where(~blank & shaped), errors="coerce") / 10**f.decimals
        values = magnitude.where(sign != "-", -magnitude)
    bad = ~blank & values.isna()
    errors.add(bad, "not a number" + (f" (digits, {f.decimals} implied decimals)" if fixed else ""))
    if f.minimum is not None:
        errors.add(~blank & ~bad & (values < f.minimum), f"below the minimum {f.minimum:g}")
    if f.positive:
        errors.add(~blank & ~bad & (values <= 0), "must be > 0")
    return values.astype(float), errors.series(text.index)


# what Python's str.strip() removes: a line of these only is blank (matched in arrow, exactly)
_BLANK_LINE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x110000) if chr(c).isspace()) + "]*"


def _decode(source_file: str, content: bytes) -> tuple[pd.Series, list[dict], bool]:
    """Lines of the file as arrow-backed strings (a non-UTF-8 line is missing, so numbers keep), their
    rejects, and whether the last line had a line end. A file that is UTF-8 throughout (the usual case)
    is split in arrow: no Python string per line."""
    ended = content.endswith(b"\n")
    try:
        text = pa.array([content], pa.large_binary()).cast(pa.large_string())  # checks UTF-8
    except pa.ArrowInvalid:
        return _decode_line_by_line(source_file, content, ended)
    lines = pc.list_flatten(pc.split_pattern(text, "\n"))
    del text
    if ended:
        lines = lines.slice(0, len(lines) - 1)
    return pd.Series(pc.utf8_rtrim(lines, "\r"), dtype="str"), [], ended


def _decode_line_by_line(source_file: str, content: bytes, ended: bool) -> tuple[pd.Series, list[dict], bool]:
    raw_lines = content.split(b"\n")
    if ended:
        raw_lines = raw_lines[:-1]
    lines, rejects = [], []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as err:
            shown = raw.decode("utf-8", errors="replace").rstrip("\r")
            rejects.append(_reject(source_file, number, None, ENCODING, repr(raw[err.start:err.start + 4]),
                                   f"not UTF-8: byte 0x{raw[err.start]:02x} at column {err.start + 1}", shown))
            lines.append(None)
    return pd.Series(lines, dtype="str"), rejects, ended


def _line(lines: pd.Series, i: int) -> str | None:
    text = lines.iat[i]
    return None if pd.isna(text) else text


def _empty_rows(record: RecordLayout) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in record.field_names + ["raw_line"]}).assign(
        source_line=pd.Series([], dtype="int64"))


def _whole(dialect, record, source_file, digest, line, field, value, error, raw_line=None) -> NativeFile:
    reject = _reject(source_file, line, None, field, value, error, raw_line if raw_line is not None else value)
    return NativeFile(dialect, record, source_file, digest, _empty_rows(record),
                      pd.DataFrame([reject], columns=QUARANTINE_COLUMNS), rejected_whole=True)


def parse_dialect_file(dialect: Dialect, record: RecordLayout, source_file: str, content: bytes,
                       as_of: dt.date, digest: str | None = None) -> NativeFile:
    """``digest``: the content's sha256 when the caller has just checked it (one pass over the bytes less)."""
    digest = digest or sha256_of(content)
    whole = lambda *a, **k: _whole(dialect, record, source_file, digest, *a, **k)  # noqa: E731
    if not content.strip():
        return whole(1, HEADER, "<empty file>", f"empty file: no records (expected {dialect.custodian} {record.code})")
    lines, rejects, ended = _decode(source_file, content)
    framed = dialect.framing != "delimited"
    first, end = 0, len(lines)  # the detail records are lines[first:end]
    if framed:
        header, trailer, last = _line(lines, 0), _line(lines, -1), len(lines)
        if header is None:
            return whole(1, HEADER, rejects[0]["value"], "header " + rejects[0]["error"], rejects[0]["raw_line"])
        problem = _parse_header(dialect, record, header, as_of)
        if problem:
            return whole(1, HEADER, header[:80], problem, header)
        declared, problem = _parse_trailer(dialect, trailer) if trailer is not None else (None, None)
        if problem:
            return whole(last, TRAILER, trailer[:80], problem, trailer)
        if declared is None or not ended:
            return whole(last, TRAILER, (trailer or "")[:80],
                         "missing trailer: the file looks truncated (last record is not a trailer"
                         + ("" if ended else " and has no line end") + ")", trailer)
        first, end = 1, max(len(lines) - 1, 1)
        if declared != end - first:
            return whole(last, TRAILER, str(declared),
                         f"trailer count {declared} does not match the {end - first} detail records read", trailer)
    else:
        filled = lines.notna() & (lines.str.len() > 0)
        sample = lines[filled.to_numpy()].iat[0] if filled.any() else ""
        if sample and dialect.delimiter not in sample:
            for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
                if delimiter in sample:
                    return whole(1, HEADER, sample[:80], f"wrong delimiter: the records are {name}-separated, "
                                 f"the {dialect.custodian} {record.code} file is comma-separated", sample)
    details = lines.iloc[first:end]
    kept = (details.notna() & ~details.str.fullmatch(_BLANK_LINE).fillna(True).astype(bool)).to_numpy()
    numbers = np.arange(first + 1, end + 1, dtype=np.int64)[kept]
    texts = details[kept].reset_index(drop=True)  # arrow-backed: slicing and matching run in C++
    del lines, details
    account_field = record.field(record.account_field) if record.account_field else None

    if not framed and not ended and len(numbers) and numbers[-1] == end:
        n, t = int(numbers[-1]), texts.iat[-1]
        numbers = numbers[:-1]
        texts = texts.iloc[:-1]
        rejects.append(_reject(source_file, n, None, RECORD, t[-80:], "last line has no line end: the file looks truncated", t))

    if framed:
        width = texts.str.len()
        wrong = (width != dialect.record_width).to_numpy()
        bad_frame = ~texts.str.startswith("D") if dialect.framing == "htd" else ~texts.str.endswith("X")
        for i in np.flatnonzero(wrong | bad_frame.to_numpy()):
            t = texts.iat[i]
            account = t[account_field.start:account_field.end].strip() if account_field else None
            error = (f"record is {len(t)} bytes, the {record.code} record is {dialect.record_width}" if wrong[i]
                     else "not a detail record (" + ("first byte not D" if dialect.framing == "htd" else "last byte not X") + ")")
            rejects.append(_reject(source_file, numbers[i], account or None, RECORD, str(len(t)), error, t))
        good = ~(wrong | bad_frame.to_numpy())
        cells = {f.name: texts[good].str.slice(f.start, f.end) for f in record.fields}
    else:
        # split in arrow, one column of strings per field: no Python string per cell
        split = pc.split_pattern(pa.array(texts.array), dialect.delimiter)
        wrong = pc.list_value_length(split).to_numpy(zero_copy_only=False) != len(record.fields)
        account_pos = record.field_names.index(record.account_field) if record.account_field else None
        for i in np.flatnonzero(wrong):
            parts = split[int(i)].as_py()
            account = parts[account_pos] if account_pos is not None and account_pos < len(parts) else None
            rejects.append(_reject(source_file, numbers[i], account, RECORD, str(len(parts)),
                                   f"expected {len(record.fields)} fields, found {len(parts)}", texts.iat[i]))
        good = ~wrong
        flat = pc.list_flatten(split.filter(pa.array(good)))  # the good rows' fields, row after row
        width = len(record.fields)
        cells = {name: pd.Series(flat.take(np.arange(k, len(flat), width)), dtype="str")
                 for k, name in enumerate(record.field_names)}
        del split, flat
    good_numbers = np.asarray(numbers, dtype=np.int64)[good] if len(numbers) else np.asarray([], dtype=np.int64)
    good_texts = texts[good].reset_index(drop=True)
    typed, row_error = {}, pd.Series("", index=range(len(good_texts)), dtype=object)
    first_field = row_error.copy()
    clean = np.ones(len(good_texts), dtype=bool)  # no error on the row yet (row_error == "")
    for f in record.fields:
        raw = cells[f.name].reset_index(drop=True).astype(str)
        values, errors = convert_field(f, raw, framed)
        typed[f.name] = values.reset_index(drop=True)
        failed = (errors != "").to_numpy(dtype=bool)
        new = clean & failed  # the row's first error: the earliest field wins
        if new.any():
            first_field = first_field.mask(new, f.name)
            row_error = row_error.mask(new, errors.astype(object))
            clean &= ~failed
        cells[f.name] = raw
    if record.unique_key and len(good_texts):
        key = pd.DataFrame({k: cells[k].str.strip() for k in record.unique_key})
        shared = key.duplicated(keep=False).to_numpy()
        if shared.any():
            groups = key[shared].agg("|".join, axis=1)
            lines_of = pd.Series(good_numbers[shared], index=groups.index).groupby(groups).agg(lambda s: sorted(s.tolist()))
            message = groups.map(lambda g: f"duplicate {'+'.join(record.unique_key)}: on lines "
                                 + ", ".join(str(n) for n in lines_of[g]))
            dup = pd.Series(False, index=row_error.index)
            dup[groups.index] = True
            new = (row_error == "") & dup
            first_field = first_field.mask(new, record.unique_key[0])
            row_error = row_error.mask(new, message.reindex(row_error.index))
    if dialect.framing == "delimited" and "business_date" in record.field_names and len(good_texts):
        other_day = typed["business_date"].notna() & (typed["business_date"].dt.date != as_of)
        if len(other_day) and bool(other_day.iloc[0]) and row_error.iat[0] == "":
            return whole(int(good_numbers[0]), HEADER, cells["business_date"].iat[0],
                         f"file is for business date {typed['business_date'].iat[0]:%m/%d/%Y}, not the as-of date "
                         f"{as_of:%m/%d/%Y}", good_texts.iat[0])
        new = (row_error == "") & other_day
        first_field = first_field.mask(new, "business_date")
        row_error = row_error.mask(new, f"business date is not the as-of date {as_of:%m/%d/%Y}")
    bad = (row_error != "").to_numpy()
    for i in np.flatnonzero(bad):
        name = first_field.iat[i]
        account = cells[record.account_field].iat[i].strip() if record.account_field else None
        rejects.append(_reject(source_file, good_numbers[i], account or None, name, cells[name].iat[i].strip(),
                               row_error.iat[i], good_texts.iat[i]))
    rows = pd.DataFrame(typed) if len(good_texts) else _empty_rows(record).drop(columns=["raw_line", "source_line"])
    rows["source_line"] = pd.Series(good_numbers, dtype="int64")
    rows["raw_line"] = good_texts
    rows = rows.loc[~bad].reset_index(drop=True) if len(rows) else _empty_rows(record)
    frame = pd.DataFrame(rejects, columns=QUARANTINE_COLUMNS).sort_values("source_line", kind="stable")
    return NativeFile(dialect, record, source_file, digest, rows, frame.reset_index(drop=True))
