"""Steps outside the duckdb_writer pool (order files and the taxes-saved report, side by side after the
trade gate) wait for another process's hold on the DuckDB file instead of failing."""

from __future__ import annotations

import subprocess
import sys
import time

import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from orchestration.lib.warehouse import connection_when_free

HOLD = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("create table if not exists t as select 1 as x")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_step_waits_for_the_other_process_to_let_go_of_the_file(tmp_path):
    path = str(tmp_path / "w.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "2.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException):
            duckdb.connect(path).close()  # what a plain connect does meanwhile
        started = time.monotonic()
        with connection_when_free(DuckDBResource(database=path), poll_seconds=0.1) as con:
            assert con.execute("select x from t").fetchall() == [(1,)]
        assert time.monotonic() - started > 0.5
    finally:
        holder.wait(timeout=30)


def test_past_its_patience_the_lock_is_raised(tmp_path):
    path = str(tmp_path / "w.duckdb")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, path, "5.0"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException, match="(?i)lock"):
            with connection_when_free(DuckDBResource(database=path), patience_seconds=0.5, poll_seconds=0.1):
                pass
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_order_files_and_the_report_run_side_by_side_outside_the_writer_pool():
    from orchestration.defs.deliver.assets import order_files, taxes_saved_report

    for asset in (order_files, taxes_saved_report):
        assert asset.op.pool is None
