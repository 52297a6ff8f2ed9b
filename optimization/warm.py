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
import zlib
from dataclasses import dataclass

import highspy
import numpy as np

LOWER, BASIC, UPPER, ZERO = 0, 1, 2, 3  # HighsBasisStatus values


def _names(blocks) -> list[str]:
    return [f"{name}|{label!r}" for name, block in blocks.items() for label in block.labels]


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


def capture(h: highspy.Highs, form) -> WarmStart | None:
    """The current basis of ``h`` (loaded from ``form``), by name; None when HiGHS has none.
    Only statuses that differ from what a missing name starts with are kept (as in to_bytes)."""
    basis = h.getBasis()
    if not basis.valid:
        return None
    cols = np.array([int(s) for s in basis.col_status], dtype=np.int8)
    rows = np.array([int(s) for s in basis.row_status], dtype=np.int8)
    if len(cols) != form.num_col or len(rows) != form.num_row:
        return None
    return WarmStart(_named(form.col_blocks, cols, LOWER), _named(form.row_blocks, rows, BASIC))


def _statuses(names, known, lower, upper, default) -> list:
    """Known statuses, with every nonbasic one on a bound the entry has today."""
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    out = []
    for j, name in enumerate(names):
        status = known.get(name, default)
        if status == BASIC:
            out.append(highspy.HighsBasisStatus.kBasic)
        elif status == UPPER and np.isfinite(upper[j]):
            out.append(highspy.HighsBasisStatus.kUpper)
        elif np.isfinite(lower[j]):
            out.append(highspy.HighsBasisStatus.kLower)
        elif np.isfinite(upper[j]):
            out.append(highspy.HighsBasisStatus.kUpper)
        else:
            out.append(highspy.HighsBasisStatus.kZero)
    return out


def basis_for(form, warm: WarmStart, col_lower, col_upper) -> highspy.HighsBasis:
    """A starting basis for ``form`` from ``warm``: known names keep their status (a nonbasic
    status is moved to a bound the column has), new columns go nonbasic, new rows basic."""
    col_status = _statuses(_names(form.col_blocks), warm.columns, col_lower, col_upper, default=None)
    row_status = _statuses(_names(form.row_blocks), warm.rows, form.row_lower, form.row_upper, default=BASIC)
    basis = highspy.HighsBasis()
    basis.col_status = col_status
    basis.row_status = row_status
    basis.valid = True
    return basis
