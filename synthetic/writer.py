"""Writing a Firm as landing CSV files in the canonical layout, byte-deterministically.

Formats: ISO dates, ``true``/``false``, decimals with a dot and fixed rules per column (below), blank
for missing optional values, ``\\n`` line endings, a header row of ``layout.column_names``, and CSV
quoting only where a field holds a comma, a quote or a line break (e.g. the GICS industry
"Oil, Gas & Consumable Fuels").
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from custodian import layout

# Decimal columns: ("fixed", d) always writes d decimals; ("trim", d) rounds to d decimals and drops
# trailing zeros (100 shares -> "100", 1.50 shares -> "1.5"). Anything not listed: fixed 2 (USD).
DECIMAL_FORMATS: dict[str, tuple[str, int]] = {
    "close": ("fixed", 4),
    "price": ("fixed", 4),
    "quantity": ("trim", 6),
    "weight": ("trim", 10),
    "advisory_fee_bps": ("trim", 2),
}
DEFAULT_DECIMAL_FORMAT = ("fixed", 2)
CHUNK_ROWS = 250_000
_EXACT_INT = 2.0**53


def _quote(text: str) -> str:
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def format_decimal(values: np.ndarray, style: str, decimals: int) -> np.ndarray:
    """Format floats (object array of str); NaN -> ''. Rounds first, so '-0.00' never appears."""
    v = np.asarray(values, dtype=np.float64)
    out = np.full(len(v), "", dtype=object)
    present = ~np.isnan(v)
    r = np.round(v[present], decimals) + 0.0
    fmt = f"{{:.{decimals}f}}".format
    if style == "fixed":
        out[present] = list(map(fmt, r.tolist()))
        return out
    whole = (r == np.trunc(r)) & (np.abs(r) < _EXACT_INT)
    text = np.empty(len(r), dtype=object)
    text[whole] = list(map(str, r[whole].astype(np.int64).tolist()))
    text[~whole] = [t.rstrip("0") for t in map(fmt, r[~whole].tolist())]
    out[present] = text
    return out


def format_dates(values: np.ndarray) -> np.ndarray:
    days = np.asarray(values).astype("datetime64[D]")
    missing = np.isnat(days)
    out = np.full(len(days), "", dtype=object)
    if missing.all():
        return out
    uniq, inv = np.unique(days[~missing], return_inverse=True)
    out[~missing] = np.array([str(d) for d in uniq], dtype=object)[inv]
    return out


def format_text(series: pd.Series) -> np.ndarray:
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = [_quote(str(c)) for c in series.cat.categories.tolist()] + [""]
        codes = series.cat.codes.to_numpy()
        return np.array(cats, dtype=object)[np.where(codes < 0, len(cats) - 1, codes)]
    values = series.to_numpy(dtype=object, na_value=None)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()
        values[missing] = ""
    texts = [x if isinstance(x, str) else str(x) for x in values.tolist()]
    joined = "\x00".join(texts)
    if "," in joined or '"' in joined or "\n" in joined or "\r" in joined:
        texts = [_quote(x) for x in texts]
    return np.array(texts, dtype=object)


def format_column(frame: pd.DataFrame, column: layout.Column) -> np.ndarray:
    """One column of ``frame`` as an object array of CSV field strings."""
    s = frame[column.name]
    if column.kind == "decimal":
        style, decimals = DECIMAL_FORMATS.get(column.name, DEFAULT_DECIMAL_FORMAT)
        return format_decimal(s.to_numpy(dtype=np.float64, na_value=np.nan), style, decimals)
    if column.kind == "integer":
        return np.array(["" if pd.isna(x) else str(int(x)) for x in s.tolist()], dtype=object)
    if column.kind == "date":
        return format_dates(s.to_numpy())
    if column.kind == "boolean":
        return np.where(s.to_numpy(dtype=bool), "true", "false").astype(object)
    return format_text(s)


def write_table(frame: pd.DataFrame, file_layout: layout.FileLayout, path: Path) -> int:
    """Write one landing file (header + rows), atomically; returns the number of data rows."""
    missing = [c for c in file_layout.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{file_layout.entity}: frame lacks columns {missing}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(file_layout.column_names) + "\n")
        for start in range(0, len(frame), CHUNK_ROWS):
            chunk = frame.iloc[start : start + CHUNK_ROWS]
            columns = [format_column(chunk, c).tolist() for c in file_layout.columns]
            fh.write("\n".join(map(",".join, zip(*columns))))
            fh.write("\n")
    os.replace(tmp, path)
    return len(frame)
