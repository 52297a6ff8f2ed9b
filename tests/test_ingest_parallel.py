"""The ingest with a helper thread (custodian.workers) loads exactly what it loads in one process:
the same raw tables row for row (in the same order), the same quarantine rows and files, ledger and
reconciliation, including a day with bad lines and files rejected whole."""

from __future__ import annotations

import datetime as dt
import filecmp
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from custodian.load import load_landing_day
from custodian.stores import LocalFileStore
from custodian.workers import WORKERS_ENV, Job, Preparer, ingest_workers

AS_OF = dt.date(2026, 11, 20)
DAY = AS_OF.isoformat()
NOW = dt.datetime(2026, 11, 20, 6, 0)


def _break_files(folder: Path) -> None:
    """Bad lines in a fixed-width and a delimited file, a file without its trailer, a stray file."""
    lots = folder / f"PSH_GLOT_{AS_OF:%Y%m%d}.DAT"
    lines = lots.read_bytes().split(b"\n")
    lines[2] = lines[2][:-7]  # a detail record too short
    lots.write_bytes(b"\n".join(lines))
    trades = folder / f"CRS{AS_OF:%y%m%d}.TRN"
    lines = trades.read_bytes().split(b"\n")
    lines[1] = lines[1] + b",extra"  # one field too many
    trades.write_bytes(b"\n".join(lines))
    fidelity_lots = folder / f"001_SLV_TLAOPENFULL_{AS_OF:%Y%m%d}.DAT"
    fidelity_lots.write_bytes(b"\n".join(fidelity_lots.read_bytes().split(b"\n")[:-2]) + b"\n")  # no trailer
    (folder / "notes.txt").write_bytes(b"not a custodian file\n")


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    from synthetic import generate_firm, write_firm

    root = tmp_path_factory.mktemp("landing")
    folder = write_firm(generate_firm(AS_OF, households=6, seed=5), root, dialects=True)
    (folder / f"price_history_{AS_OF:%Y%m%d}.csv").unlink()
    _break_files(folder)
    return root


def _load(landing: Path, home: Path, workers: int, monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, str(workers))
    home.mkdir()
    con = duckdb.connect(str(home / "w.duckdb"))
    day = load_landing_day(LocalFileStore(landing), con, AS_OF, archive_store=LocalFileStore(home / "archive"),
                           quarantine_store=LocalFileStore(home / "quarantine"),
                           reconciliation_store=LocalFileStore(home / "reconciliation"), now=NOW)
    return con, day


@pytest.fixture(scope="module")
def both(landing, tmp_path_factory):
    home = tmp_path_factory.mktemp("homes")
    with pytest.MonkeyPatch.context() as monkeypatch:
        return {workers: (home / f"w{workers}", *_load(landing, home / f"w{workers}", workers, monkeypatch))
                for workers in (1, 2)}


def _tables(con) -> list[str]:
    return [t for (t,) in con.execute("select table_name from information_schema.tables where table_schema = 'raw' "
                                      "order by 1").fetchall()]


def test_the_broken_files_are_quarantined(both):
    _, _, day = both[1]
    files = set(day.quarantine["source_file"])
    assert {f"PSH_GLOT_{AS_OF:%Y%m%d}.DAT", f"CRS{AS_OF:%y%m%d}.TRN", f"001_SLV_TLAOPENFULL_{AS_OF:%Y%m%d}.DAT",
            "notes.txt"} <= files
    assert day.dialect_files["fidelity_open_lots"].rejected_whole


def test_helper_thread_gives_the_same_raw_tables_row_for_row(both):
    (_, one, _), (_, two, _) = both[1], both[2]
    assert _tables(one) == _tables(two)
    for table in _tables(one):
        columns = one.execute(f"describe raw.{table}").fetchall()
        assert columns == two.execute(f"describe raw.{table}").fetchall(), table
        # rowid included: the same rows in the same order (archive paths differ by home: compared apart)
        query = f"select rowid, * exclude (archive_uri) from raw.{table}" if "archive_uri" in {c[0] for c in columns} \
            else f"select rowid, * from raw.{table}"
        left, right = one.execute(query).df(), two.execute(query).df()
        assert len(left) == len(right), table
        pd.testing.assert_frame_equal(left, right, obj=table)


def test_helper_thread_gives_the_same_quarantine_reconciliation_and_archive(both):
    (home1, _, day1), (home2, _, day2) = both[1], both[2]
    pd.testing.assert_frame_equal(day1.quarantine, day2.quarantine)
    pd.testing.assert_frame_equal(day1.reconciliation, day2.reconciliation)
    for folder in ("quarantine", "reconciliation", "archive"):
        left = sorted(p.relative_to(home1 / folder) for p in (home1 / folder).rglob("*") if p.is_file())
        right = sorted(p.relative_to(home2 / folder) for p in (home2 / folder).rglob("*") if p.is_file())
        assert left == right and left, folder
        assert all(filecmp.cmp(home1 / folder / p, home2 / folder / p, shallow=False) for p in left), folder
    assert {t: (f.rows_loaded, f.rows_quarantined) for t, f in day1.dialect_files.items()} == \
        {t: (f.rows_loaded, f.rows_quarantined) for t, f in day2.dialect_files.items()}


def _slow_square(x: int) -> int:
    time.sleep(0.05 * (3 - x % 3))
    return x * x


def test_results_come_in_order_within_the_memory_budget():
    """Out-of-order finishing helpers still hand results back in order; a job over the budget (9) runs
    in the caller's thread with nothing else in flight."""
    import threading

    started: list[tuple[int, int]] = []  # (job, jobs running at that time)
    running = []

    def tracked(x: int) -> int:
        running.append(x)
        started.append((x, len(running), threading.current_thread() is threading.main_thread()))
        try:
            return _slow_square(x)
        finally:
            running.remove(x)

    jobs = [Job(tracked, (i,), size) for i, size in enumerate([5, 1, 1, 9, 1, 0])]
    with Preparer(workers=3, budget=6) as preparer:
        assert list(preparer.in_order(jobs)) == [i * i for i in range(6)]
    big = next(s for s in started if s[0] == 3)
    assert big[1:] == (1, True)
    with Preparer(workers=1) as preparer:
        assert list(preparer.in_order(jobs)) == [i * i for i in range(6)]


def test_workers_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(WORKERS_ENV, "1")
    assert ingest_workers() == 1
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert ingest_workers() == 3
    monkeypatch.delenv(WORKERS_ENV)
    assert ingest_workers() >= 1

