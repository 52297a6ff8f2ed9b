"""The engine's households across worker processes: the same rows as one process, in the same order.

Households are independent (a wash sale never crosses households), so the firm splits into contiguous
ranges of household ids, balanced by lot count (about ``taxlots.pipeline.LOTS_PER_PART`` lots each);
each worker runs ``book_frames`` on a range's lots and transactions (every account and security goes
to every worker: small, and it keeps the household and filing-status lookups exactly those of one
process) and sends back a typed frame, and the ranges' frames are concatenated in household order. Workers are spawned (not forked: the caller may hold threads, e.g.
Dagster's or DuckDB's), so each pays the import of pandas and the engine, and the ranges travel
pickled: below ``MIN_HOUSEHOLDS_PER_WORKER`` households per worker one process is faster and is used
instead. A script that calls this must guard its top level (``if __name__ == "__main__":``), as any
user of spawned processes must. Measured: docs/tax-engine.md (little on a loaded machine; the
10,000-household day's engine step on two processes: docs/scale.md).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from taxlots.pipeline import _s, book_rows

MIN_HOUSEHOLDS_PER_WORKER = 250
CHUNKS_PER_WORKER = 3  # at least a few ranges per worker, so one slow range does not leave a core idle


def household_of_rows(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.Series:
    """Each row's household as the engine sees it (pipeline.household_inputs): the account's household
    id, blank when the account is unknown or has none."""
    household_of = {r.account_id: _s(r.household_id) for r in accounts.itertuples()}
    return frame["account_id"].map(lambda account: household_of.get(account, ""))


def households_to_replay(lot_households: pd.Series, trade_households: pd.Series) -> pd.Series:
    """The household of every lot, plus one entry per household with trades and no open lot (it sold
    everything: no lot rows, but its realized gains for the year are the engine's to report), so
    that ``household_ranges`` covers both and weighs households by their lots."""
    # sets of the distinct ids (iterating an Arrow-backed column row by row costs more than the rest)
    sold_out = sorted(set(trade_households[trade_households != ""].unique()) - set(lot_households.unique()))
    return pd.concat([lot_households, pd.Series(sold_out, dtype=object)], ignore_index=True)


def household_ranges(lot_households: pd.Series, chunks: int) -> list[list[str]]:
    """Household ids in order, cut into at most ``chunks`` contiguous ranges of about equal lot count."""
    counts = lot_households.value_counts().sort_index()
    total, ranges, current, size = int(counts.sum()), [], [], 0
    target = total / max(chunks, 1)
    for household_id, n in counts.items():
        current.append(household_id)
        size += int(n)
        if size >= target * (len(ranges) + 1) and len(ranges) < chunks - 1:
            ranges.append(current)
            current = []
    if current:
        ranges.append(current)
    return ranges


def rows_of_ranges(row_households: pd.Series, ranges: list[list[str]]) -> list[np.ndarray]:
    """For each range of households, the positions of the rows that belong to it, in frame order: one
    pass over the rows (a selection per range would read every row once per range: 120 ranges at
    10,000 households). Rows of households in no range are in none."""
    range_of = {household: k for k, households in enumerate(ranges) for household in households}
    part = row_households.map(range_of).fillna(-1).to_numpy(dtype=np.int64)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(len(ranges) + 1))
    return [order[bounds[k]:bounds[k + 1]] for k in range(len(ranges))]


def book_frames(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
                securities: pd.DataFrame, as_of: dt.date) -> tuple[pd.DataFrame, list[dict]]:
    """One range's tables: its lot rows as a typed frame (what travels back from a worker: compact,
    where a list of row dicts for millions of lots would not fit), its household rows as dicts."""
    from taxlots.pipeline import _without_cyclic_gc, lot_basis_frame

    with _without_cyclic_gc():  # the rows' table too: its columns are as many objects again
        lot_rows, household_rows = book_rows(open_lots, transactions, accounts, securities, as_of)
        return lot_basis_frame(lot_rows), household_rows


def worker_count(lot_households: pd.Series, workers: int) -> int:
    """Processes worth starting: none below MIN_HOUSEHOLDS_PER_WORKER households each."""
    return min(workers, lot_households.nunique() // MIN_HOUSEHOLDS_PER_WORKER)


def book_frames_in_processes(slices, accounts: pd.DataFrame, securities: pd.DataFrame, as_of: dt.date,
                             workers: int) -> list[tuple[pd.DataFrame, list[dict]]]:
    """``book_frames`` of each (lots, transactions) slice, in order, in ``workers`` spawned processes.
    ``slices`` is consumed lazily, a few ranges ahead of the results: the parent never holds a second
    copy of the firm's rows, only the ranges in flight."""
    results, pending = [], deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for lots_part, trades_part in slices:
            pending.append(pool.submit(book_frames, lots_part, trades_part, accounts, securities, as_of))
            while len(pending) > 2 * workers:
                results.append(pending.popleft().result())
        results += [future.result() for future in pending]
    return results
