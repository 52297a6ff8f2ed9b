"""Parse the day's custodian files in a helper thread while the loader writes DuckDB.

The ingest's pure work per file (read the archived copy, check its hash, parse, translate) needs no
database, and the day's transaction has one writer (the step's own connection). So files are
prepared one step ahead by ``workers - 1`` helper threads and handed back in the order the loader
asks for them: the writer's order, its tables, rows and quarantine do not change. Threads, not
processes: the parse runs mostly in arrow and DuckDB's insert runs outside the GIL, so the two
overlap, while the memory a file's rows leave behind is reused by the next file in the same heap (a
helper process kept its own high-water mark: 8.5 GB instead of 5.3 GB at 10,000 households,
docs/ingestion.md "Speed").

Memory: a parse peaks at about four times its file's size and its result is held until written, so
a file is prepared ahead only while the landing bytes of the files being prepared and held stay
under ``OVERLAP_BYTES``; a larger file is prepared when its turn comes, with nothing else in flight,
as in one thread.

``SLEEVELESS_INGEST_WORKERS``: threads working on the ingest, the loader's included (default 2, or
1 on a one-core machine); 1 prepares every file in the loader's thread, in order, as before.
"""

from __future__ import annotations

import ctypes
import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

WORKERS_ENV = "SLEEVELESS_INGEST_WORKERS"
# landing bytes in preparation or waiting to be written at once: a fixed-width file parses at about
# four times its size, and at 10,000 households 1 GB here (a 0.42 GB lot file written while a 0.58 GB
# transaction file parsed) peaked at 6.5 GB against 5.3 GB in one thread; a larger file is prepared
# in the loader's thread with nothing else in flight
OVERLAP_BYTES = 500_000_000


def ingest_workers() -> int:
    """Threads for the ingest (the loader's included), from SLEEVELESS_INGEST_WORKERS."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if value:
        return max(1, int(value))
    return min(2, os.cpu_count() or 1)


@dataclass(frozen=True)
class Job:
    """One file's preparation: ``prepare(*args)`` and its landing bytes."""

    prepare: Callable
    args: tuple
    size: int
    here: bool = False  # prepared in the loader's thread when started (say, a file it already parsed)


def _may_start(size: int, in_flight: deque, budget: int) -> bool:
    """A file goes to a helper only if it fits beside what is being prepared and held; a file larger
    than the budget never does (it is prepared by the loader, alone)."""
    return size <= budget and sum(job.size for job, _ in in_flight) + size <= budget


def _helpers_busy(in_flight: deque) -> int:
    """Jobs given to the helpers and not yet handed to the caller (one may be held by the caller)."""
    return sum(1 for job, _ in in_flight if not job.here)


def release_memory() -> None:
    """Give freed memory back to the system (arrow's pool, then the C heap) once a file's rows are
    written, so the next file's parse does not stack on top of pages nobody uses."""
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 - best effort: only memory is at stake
        pass
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


class Preparer:
    """Prepares jobs in order, ahead in helper threads where there are any (``workers - 1``).

    A context manager: the helpers stop on leaving."""

    def __init__(self, workers: int | None = None, budget: int = OVERLAP_BYTES):
        self.workers = ingest_workers() if workers is None else workers
        self.budget = budget
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> "Preparer":
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.workers - 1, thread_name_prefix="ingest-prepare")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _start(self, job: Job) -> Future:
        if self._pool is not None and not job.here:
            return self._pool.submit(job.prepare, *job.args)
        done: Future = Future()
        done.set_result(job.prepare(*job.args))
        return done

    def in_order(self, jobs: list[Job]) -> Iterator:
        """Each job's result, in the jobs' order; with helpers, later jobs are prepared while the caller
        handles the earlier ones (at most ``workers - 1`` ahead, within ``budget`` landing bytes). The
        first jobs start now, before the first result is asked for."""
        if self._pool is None:
            return (job.prepare(*job.args) for job in jobs)
        in_flight: deque[tuple[Job, Future]] = deque()
        upcoming = deque(jobs)

        def start_what_fits() -> None:
            while upcoming and _helpers_busy(in_flight) < self.workers and _may_start(upcoming[0].size, in_flight, self.budget):
                job = upcoming.popleft()
                in_flight.append((job, self._start(job)))

        def results() -> Iterator:
            try:
                while upcoming or in_flight:
                    start_what_fits()
                    if not in_flight:  # the next file is too large to overlap: prepared here, alone
                        job = upcoming.popleft()
                        yield job.prepare(*job.args)
                        continue
                    result = in_flight[0][1].result()
                    start_what_fits()  # the result is held while the caller writes it: it still counts
                    in_flight.popleft()
                    yield result
                    del result
            finally:
                for _, future in in_flight:
                    future.cancel()

        start_what_fits()
        return results()
