"""Warm starts: yesterday's simplex basis of a household, carried to today's solve by name.

Each column and row of a household's standard form has a business name (block + label: `sell`
+ lot id, `buy` + (account, security), `cash_balance` + account, ...), so a basis captured at the
root LP of one day maps onto the next day's model even though lots, buys and tiers come and go.
Names seen yesterday keep their status; new columns start nonbasic at a finite bound, new rows
basic. The result need not be a consistent basis (the count of basic variables may be off by a
few): HiGHS repairs it, and it is only ever a starting point: the answer is the same optimum,
reached in fewer simplex iterations (bench/bench_optimizer.py --warm; docs/optimizer-benchmark.md).

Stored as compressed JSON (`to_bytes` / `from_bytes`), so the daily run keeps one per household
and as-of date in the warehouse (`optimizer.household_bases`). Only the statuses that differ from
what a missing name gets anyway are stored (a column at its lower bound, a basic row), which
halves the blob (about 10-25 KB per household).
"""

from __future__ import annotations

import json
import operator
import zlib
from dataclasses import dataclass

import highspy
import numpy as np

LOWER, BASIC, UPPER, ZERO = 0, 1, 2, 3  # HighsBasisStatus values


def _names(blocks) -> list[str]:
    """``block|repr(label)`` of every column (row), in order: the f-string per entry, built per block."""
    out: list[str] = []
    for name, block in blocks.items():
        prefix = f"{name}|"
        out.extend(map(prefix.__add__, map(repr, block.labels)))
    return out


@dataclass(frozen=True)
class WarmStart:
    """Basis status per column and row name (HighsBasisStatus values)."""

    columns: dict[str, int]
    rows: dict[str, int]

    def to_bytes(self) -> bytes:
        # a missing column name starts nonbasic at a finite bound (its lower one when it has one) and a
        # missing row name starts basic (basis_for): those statuses need not be stored
        columns = {name: s for name, s in self.columns.items() if s != LOWER}
        rows = {name: s for name, s in self.rows.items() if s != BASIC}
        return zlib.compress(json.dumps({"columns": columns, "rows": rows}, sort_keys=True).encode(), 6)

    @staticmethod
    def from_bytes(blob: bytes) -> "WarmStart":
        data = json.loads(zlib.decompress(blob))
        return WarmStart(columns=data["columns"], rows=data["rows"])


def _named(blocks, statuses: np.ndarray, default: int) -> dict[str, int]:
    """{name: status} for the entries whose status is not ``default`` (a missing name gets that
    status back in basis_for), naming only those."""
    out = {}
    for name, block in blocks.items():
        part = statuses[block.start:block.start + len(block.labels)]
        for offset in np.flatnonzero(part != default).tolist():
            out[f"{name}|{block.labels[offset]!r}"] = int(part[offset])
    return out


def _form_names(form, which: str) -> list[str] | None:
    """Every column's ("columns") or row's ("rows") name of ``form``, computed once per form and
    kept on it (basis_for names every entry; capture then reuses the list); None for a form
    without the cache."""
    cache = getattr(form, "entry_names", None)
    if cache is None:
        return None
    if which not in cache:
        cache[which] = _names(form.col_blocks if which == "columns" else form.row_blocks)
    return cache[which]


def _named_from(names: list[str], statuses: np.ndarray, default: int) -> dict[str, int]:
    """_named with the names already known: the same {name: status}, in the same order."""
    keep = np.flatnonzero(statuses != default).tolist()
    return dict(zip(map(names.__getitem__, keep), statuses[keep].tolist()))


def capture(h: highspy.Highs, form) -> WarmStart | None:
    """The current basis of ``h`` (loaded from ``form``), by name; None when HiGHS has none.
    Only statuses that differ from what a missing name starts with are kept (as in to_bytes)."""
    basis = h.getBasis()
    if not basis.valid:
        return None
    cols = np.fromiter(map(_STATUS_VALUE, basis.col_status), dtype=np.int8)
    rows = np.fromiter(map(_STATUS_VALUE, basis.row_status), dtype=np.int8)
    if len(cols) != form.num_col or len(rows) != form.num_row:
        return None
    cache = getattr(form, "entry_names", None) or {}
    if "columns" in cache and "rows" in cache:  # a warm-started solve named every entry already
        return WarmStart(_named_from(cache["columns"], cols, LOWER), _named_from(cache["rows"], rows, BASIC))
    return WarmStart(_named(form.col_blocks, cols, LOWER), _named(form.row_blocks, rows, BASIC))


_STATUS_VALUE = operator.attrgetter("value")  # HighsBasisStatus -> int, cheaper than int() per entry


_HIGHS_STATUS = {LOWER: highspy.HighsBasisStatus.kLower, BASIC: highspy.HighsBasisStatus.kBasic,
                 UPPER: highspy.HighsBasisStatus.kUpper, ZERO: highspy.HighsBasisStatus.kZero}
_UNKNOWN = -1  # a name with no status and no default (a new column)


def _statuses(names, known, lower, upper, default) -> list:
    """Known statuses, with every nonbasic one on a bound the entry has today: basic stays basic;
    upper stays upper where there is a finite upper bound; everything else goes to the finite
    lower bound, else the finite upper one, else zero (free). Vectorised over the entries."""
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    fill = _UNKNOWN if default is None else default
    try:  # float, so that each stored value compares with BASIC / UPPER as it did (1.0 is basic, 1.5 not)
        status = np.fromiter(map(known.get, names, [fill] * len(names)), dtype=float, count=len(names))
    except (TypeError, ValueError):  # a stored status that is not a number (a damaged basis): only ==
        status = np.array([BASIC if s == BASIC else UPPER if s == UPPER else _UNKNOWN
                           for s in map(known.get, names, [fill] * len(names))], dtype=float)
    has_lower, has_upper = np.isfinite(lower), np.isfinite(upper)
    out = np.where(has_lower, LOWER, np.where(has_upper, UPPER, ZERO))
    out = np.where((status == UPPER) & has_upper, UPPER, out)
    out = np.where(status == BASIC, BASIC, out)
    return list(map(_HIGHS_STATUS.__getitem__, out.tolist()))


def basis_for(form, warm: WarmStart, col_lower, col_upper) -> highspy.HighsBasis:
    """A starting basis for ``form`` from ``warm``: known names keep their status (a nonbasic
    status is moved to a bound the column has), new columns go nonbasic, new rows basic."""
    col_names = _form_names(form, "columns") or _names(form.col_blocks)
    row_names = _form_names(form, "rows") or _names(form.row_blocks)
    col_status = _statuses(col_names, warm.columns, col_lower, col_upper, default=None)
    row_status = _statuses(row_names, warm.rows, form.row_lower, form.row_upper, default=BASIC)
    basis = highspy.HighsBasis()
    basis.col_status = col_status
    basis.row_status = row_status
    basis.valid = True
    return basis
