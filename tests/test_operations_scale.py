"""Scale-out (issue 9): the optimizer's fan-out over household shards, the production k8s executor
config, and resilience: a run killed mid-optimization, and households whose solve fails or times out.

The fan-out tests run the real pipeline on a small generated firm (dbt, GX, HiGHS), and the
``optimize_day`` job with the real multiprocess executor; the kill test SIGKILLs a real run's
process group while its solve shards run."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
import yaml

from orchestration.defs.optimize.shards import (
    combine, frames_for, household_groups, make_shards, plan_shards, shard_count, solve_shard,
)

AS_OF = dt.date(2026, 11, 20)
HOUSEHOLDS = 8
# Run config replaces the resource's configured values, so the time limit is given too: runs compared
# row for row must not differ by a household stopped at the (wall-time) limit on a busy machine.
SHARDED = {"resources": {"optimizer_fanout": {"config": {"shards": 3, "min_households_per_shard": 1,
                                                         "time_limit_seconds": 600}}}}


# --- pure shard planning --------------------------------------------------------------------------

def test_shards_balance_lots_and_cover_every_household_once():
    weights = {f"HH{i:02d}": w for i, w in enumerate([900, 100, 500, 500, 300, 300, 200, 200, 100])}
    groups = plan_shards(weights, 3)
    assert sorted(h for g in groups for h in g) == sorted(weights)
    loads = sorted(sum(weights[h] for h in g) for g in groups)
    assert loads == [1000, 1000, 1100]  # LPT: within one household of even
    assert plan_shards(weights, 3) == groups and all(g == sorted(g) for g in groups)


def test_shard_count_respects_the_minimum_households_per_shard():
    assert shard_count(200, 4, 25) == 4
    assert shard_count(60, 4, 25) == 2
    assert shard_count(8, 4, 25) == 1
    assert shard_count(0, 4, 25) == 1


def test_a_larger_firm_gets_more_shards_of_the_same_size_not_larger_ones():
    readiness = pd.DataFrame({"household_id": [f"HH{i:04d}" for i in range(2300)], "is_ready": True})
    lots = {h: 600 for h in readiness.household_id}
    assert [len(g) for g in household_groups(readiness, lots, 4, 25, 500)] == [460] * 5
    assert len(household_groups(readiness.head(1000), lots, 4, 25, 500)) == 4
    assert len(household_groups(readiness, lots, 4, 25, 0)) == 4  # no maximum


def _environment_home(_):
    return os.environ.get("SLEEVELESS_HOME")


def test_each_run_forks_its_steps_from_a_server_with_that_runs_environment(monkeypatch):
    # The forkserver keeps the environment it started with; a process that runs one home's day and
    # then another's must not hand the second run's steps the first home (fresh_forkserver).
    import multiprocessing

    from orchestration.lib.reconstruct import fresh_forkserver

    context = multiprocessing.get_context("forkserver")
    fresh_forkserver()
    monkeypatch.setenv("SLEEVELESS_HOME", "/homes/first")
    with context.Pool(1) as pool:
        assert pool.map(_environment_home, [0]) == ["/homes/first"]
    monkeypatch.setenv("SLEEVELESS_HOME", "/homes/second")
    with context.Pool(1) as pool:
        assert pool.map(_environment_home, [0]) == ["/homes/first"]  # what the server kept
    fresh_forkserver()
    with context.Pool(1) as pool:
        assert pool.map(_environment_home, [0]) == ["/homes/second"]
    fresh_forkserver()


def test_a_warm_forkserver_starts_before_the_run_and_its_steps_fork_from_it(monkeypatch):
    # sleeveless run-day (multiprocess) starts the server while it builds the run, so the code location
    # loads in parallel; the executor must then fork every step from that server, with the environment
    # of the moment it started.
    import multiprocessing
    from multiprocessing import forkserver

    from orchestration.defs.jobs import FORKSERVER_PRELOAD
    from orchestration.lib.reconstruct import fresh_forkserver

    monkeypatch.setenv("SLEEVELESS_HOME", "/homes/warm")
    fresh_forkserver(warm=True)
    server = forkserver._forkserver._forkserver_pid  # CPython's own record of the server it started
    assert server is not None and os.waitpid(server, os.WNOHANG)[0] == 0  # running before any step asks
    monkeypatch.setenv("SLEEVELESS_HOME", "/homes/later")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["dagster._core.executor.multiprocess", FORKSERVER_PRELOAD])
    with context.Pool(1) as pool:  # what the multiprocess executor does: set its preload, then start steps
        assert pool.map(_environment_home, [0]) == ["/homes/warm"]
    assert forkserver._forkserver._forkserver_pid == server  # no second server
    fresh_forkserver()


# --- the production executor config ---------------------------------------------------------------

def test_the_k8s_executor_config_loads_and_validates_against_dagster_k8s_schema():
    from dagster_k8s import k8s_job_executor

    from orchestration.defs.jobs import K8S_EXECUTOR_CONFIG, executor_for, k8s_executor_config

    config = k8s_executor_config()

    @dg.op
    def noop():
        return None

    @dg.job(executor_def=k8s_job_executor)
    def probe():
        noop()

    assert dg.validate_run_config(probe, {"execution": {"config": config}})
    with pytest.raises(dg.DagsterInvalidConfigError):  # the schema really is applied
        dg.validate_run_config(probe, {"execution": {"config": {**config, "max_concurent": 4}}})
    assert executor_for("k8s").name == "k8s"
    # the per-step override names the solve op, so solve pods get their own size
    from orchestration.definitions import defs

    job = defs().resolve_job_def("optimize_day")
    ops = {op.name for op in job.graph.iterate_op_defs()}
    assert set(config["per_step_k8s_config"]) <= ops
    assert yaml.safe_load(K8S_EXECUTOR_CONFIG.read_text())["execution"]["config"]["tag_concurrency_limits"][0] == {
        "key": "sleeveless/stage", "value": "solve", "limit": 16}


# --- the pipeline on a small firm -----------------------------------------------------------------

@pytest.fixture(scope="module")
def firm(tmp_path_factory):
    """A small firm's day, run once in process (shards: 1): the single-process reference."""
    from synthetic import write_synthetic_firm

    root = tmp_path_factory.mktemp("home")
    saved = {k: os.environ.get(k) for k in ("SLEEVELESS_HOME", "SLEEVELESS_DUCKDB_PATH", "DAGSTER_HOME",
                                            "SLEEVELESS_SOLVER_TIME_LIMIT", "PYTHONHASHSEED")}
    os.environ["SLEEVELESS_HOME"] = str(root)
    # Runs compared row for row must not differ by a household stopped at the time limit on a busy
    # machine (HiGHS' limit is wall time); the time-limit test sets its own limit in run config.
    os.environ["SLEEVELESS_SOLVER_TIME_LIMIT"] = "600"
    os.environ.setdefault("PYTHONHASHSEED", "0")  # for the step processes (see the fan-out test)
    os.environ.pop("SLEEVELESS_DUCKDB_PATH", None)
    from orchestration.lib.home import Home
    from sleeveless.cli import _instance, run_day

    home = Home.from_env()
    home.export()
    write_synthetic_firm(Path(home.landing), AS_OF, households=HOUSEHOLDS, seed=11)
    result, _ = run_day(home, AS_OF)
    assert result.success
    orders = Path(home.outputs) / "orders" / AS_OF.isoformat()
    yield {
        "home": home, "instance": _instance(home), "reference": _day(home, "optimizer.trades"),
        "reference_outcomes": _day(home, "optimizer.household_outcomes"), "orders": _digest(orders),
    }
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _day(home, table: str) -> pd.DataFrame:
    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        return con.execute(f"select * from {table} where as_of_date = ?", [AS_OF]).df()


def _digest(folder: Path) -> dict[str, str]:
    """{path relative to the folder: sha256} of every file under it (custodian upload subfolders too)."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _comparable(frame: pd.DataFrame, drop=("run_id",)) -> pd.DataFrame:
    return frame.drop(columns=list(drop)).reset_index(drop=True)


TIMINGS = ("run_id", "build_seconds", "solve_seconds", "message")  # messages carry node counts and timings


def test_shards_of_the_real_marts_give_the_single_process_result(firm):
    """Pure equivalence: the union of 3 shards' results is optimize_households over all households."""
    from optimization import OptimizerSettings, household_problems_from_marts, optimize_households
    from optimization.risk import estimate_risk_model
    from orchestration.defs.optimize.assets import apply_quality_holds, read_household_marts
    from orchestration.lib.warehouse import read_day, read_marts

    with duckdb.connect(str(firm["home"].duckdb_path), read_only=True) as con:
        marts = read_marts(con)
        holds = read_day(con, "quality.household_holds", AS_OF)
        prices = con.execute("select security_id, price_date, close from raw.price_history where as_of_date = ?",
                             [AS_OF]).df()
    marts["fct_household_readiness"] = apply_quality_holds(marts["fct_household_readiness"], holds)
    risk = estimate_risk_model(prices, marts["dim_securities"])
    settings = OptimizerSettings(time_limit_seconds=600)
    single_trades, single_outcomes = optimize_households(
        household_problems_from_marts(marts, AS_OF, settings, risk_model=risk), settings)
    shards = make_shards(marts, AS_OF, settings, risk, shards=3)
    assert len(shards) == 3 and sum(len(s.households) for s in shards) == HOUSEHOLDS
    # the plan step reads each shard's rows from DuckDB instead of holding every mart: the same rows
    # and values (a column NULL in every row of a shard may come back as None where the whole table
    # gives NaN: the problem builder reads both as missing)
    def values(frame):
        return frame.astype(object).where(frame.notna(), None)

    with duckdb.connect(str(firm["home"].duckdb_path), read_only=False) as con:
        for shard in shards:
            read = read_household_marts(con, list(shard.households), marts["dim_securities"])
            for name, frame in shard.frames.items():
                if name != "fct_household_readiness":  # holds applied by the step itself
                    pd.testing.assert_frame_equal(values(read[name]), values(frame), obj=name)
    trades, outcomes = combine([solve_shard(s) for s in shards])
    pd.testing.assert_frame_equal(trades, single_trades)
    keep = [c for c in single_outcomes.columns if c not in TIMINGS]
    pd.testing.assert_frame_equal(outcomes[keep], single_outcomes[keep])


def _execute_optimize_day(instance, run_config, asset_selection=None):
    from orchestration.lib.reconstruct import fresh_forkserver, optimize_day_job

    fresh_forkserver()
    with dg.execute_job(dg.reconstructable(optimize_day_job), instance=instance, run_config=run_config,
                        tags={"dagster/partition": AS_OF.isoformat()}, raise_on_error=False,
                        asset_selection=asset_selection) as result:
        return result.success, result.run_id


def test_the_sharded_asset_run_by_the_multiprocess_executor_writes_the_same_trades(firm):
    # 3 shards, each in its own process, against the fixture's single-process run of the same day
    # (results do not depend on the process: docs/optimizer-benchmark.md, "Determinism").
    reference, reference_outcomes = firm["reference"], firm["reference_outcomes"]
    success, run_id = _execute_optimize_day(firm["instance"], SHARDED)
    assert success
    records = firm["instance"].get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    pids = {r.event_log_entry.step_key: r.event_log_entry.dagster_event.pid for r in records}
    solves = sorted(k for k in pids if "solve_household_shard" in k)
    assert len(solves) == 3
    assert len({pids[k] for k in solves} | {pids["household_trades.plan_household_shards"]}) == 4  # own processes
    gate = [r.event_log_entry.dagster_event.event_specific_data for r in firm["instance"].get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records]
    assert [(g.check_name, g.passed) for g in gate] == [("trades_are_safe", True)]  # the trade gate ran on them
    trades = _day(firm["home"], "optimizer.trades")
    assert set(trades["run_id"]) == {run_id}
    pd.testing.assert_frame_equal(_comparable(trades), _comparable(reference))
    outcomes = _day(firm["home"], "optimizer.household_outcomes")
    keep = [c for c in outcomes.columns if c not in TIMINGS]
    pd.testing.assert_frame_equal(outcomes[keep], reference_outcomes[keep])
    # the metadata an operator reads, account numbers masked
    [metadata] = [r.event_log_entry.asset_materialization.metadata for r in firm["instance"].get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
        if r.event_log_entry.asset_materialization.asset_key == dg.AssetKey(["household_trades"])]
    assert metadata["households_optimized"].value == HOUSEHOLDS and metadata["accounts_processed"].value > HOUSEHOLDS
    assert metadata["solver_outcomes"].value == {"optimal": HOUSEHOLDS}
    assert "ACC0" not in str({k: v.value for k, v in metadata.items()})
    # the shards are deleted once written
    assert not (Path(firm["home"].root) / "shards" / run_id).exists()


KILLABLE = textwrap.dedent("""
    import sys, dagster as dg
    from orchestration.lib.reconstruct import optimize_day_job
    run_config = {"resources": {"optimizer_fanout": {"config": {"shards": 3, "min_households_per_shard": 1,
                                                                "time_limit_seconds": 600}}}}
    with dg.execute_job(dg.reconstructable(optimize_day_job), instance=dg.DagsterInstance.get(),
                        run_config=run_config, tags={"dagster/partition": sys.argv[1]}) as result:
        pass
""")


def test_a_run_killed_mid_optimization_then_rerun_leaves_one_copy_and_whole_order_files(firm, tmp_path):
    home = firm["home"]
    before = _day(home, "optimizer.trades")
    script = tmp_path / "killable.py"
    script.write_text(KILLABLE)
    log = (tmp_path / "killable.log").open("w")
    process = subprocess.Popen([sys.executable, str(script), AS_OF.isoformat()], cwd=Path(__file__).parents[1],
                               env=dict(os.environ), start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    # The shard IO manager writes under $SLEEVELESS_HOME/shards/<run id>/<step>/: a solve step's folder
    # appears when its first shard is solved; kill then, while the other shards run.
    shards = Path(home.root) / "shards"
    killed_run, deadline = None, time.monotonic() + 300
    try:
        while time.monotonic() < deadline and process.poll() is None:
            solved = sorted(shards.glob("*/household_trades.solve_household_shard*")) if shards.exists() else []
            if solved:
                os.killpg(process.pid, signal.SIGKILL)  # the run, its executor and its step processes
                killed_run = solved[0].parent.name
                break
            time.sleep(0.05)
    finally:
        if process.poll() is None and killed_run is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)
    log.close()
    assert killed_run, "the run never reached its solve shards:\n" + (tmp_path / "killable.log").read_text()[-3000:]
    # killed mid-optimization: its shard files are still there (the writer deletes them), and the
    # day's tables are still the last good run's
    assert (shards / killed_run).is_dir()
    pd.testing.assert_frame_equal(_day(home, "optimizer.trades"), before)

    # The operator reruns the partition, here with the whole daily run under the multiprocess executor
    # (one process per step, DuckDB steps one at a time in their pool): the same trades and the same
    # order files as the in-process reference run.
    rerun = subprocess.run([sys.executable, "-m", "sleeveless.cli", "--home", str(home.root), "run-day",
                            "--as-of", AS_OF.isoformat()], cwd=Path(__file__).parents[1], capture_output=True,
                           text=True, env={**os.environ, "SLEEVELESS_EXECUTOR": "multiprocess"})
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
    run_id = re.search(r"run id ([0-9a-f-]{36})", rerun.stdout + rerun.stderr).group(1)
    steps = {record.step_key: record for record in firm["instance"].get_run_step_stats(run_id)}
    assert "taxlots__engine_lot_basis" in steps and "order_files" in steps  # the whole day, not the optimizer alone
    trades = _day(home, "optimizer.trades")
    assert set(trades["run_id"]) == {run_id}
    key = ["household_id", "account_id", "security_id", "side", "lot_id"]
    assert not trades.duplicated(key).any() and len(trades) == len(firm["reference"])
    assert len(_day(home, "optimizer.household_outcomes")) == HOUSEHOLDS
    orders = Path(home.outputs) / "orders" / AS_OF.isoformat()
    digest = _digest(orders)
    assert digest == firm["orders"]  # byte-identical, no partial or stray file
    manifest = pd.read_csv(orders / "manifest.csv")
    assert set(manifest["file"]) | {"manifest.csv"} == set(digest)
    assert (manifest.set_index("file")["sha256"] == pd.Series(digest)[manifest["file"]].values).all()


def test_the_next_day_starts_each_household_from_the_basis_the_daily_run_stored(firm):
    """The daily run keeps each household's root-LP basis (optimizer.household_bases); the next as-of
    date reads it (never the day's own) and its root LPs start there: same optimum, fewer simplex
    iterations. A basis that no longer decodes only costs its household a cold start."""
    from optimization import OptimizerSettings
    from orchestration.lib.warehouse import read_day, read_marts, read_previous_bases

    next_day = AS_OF + dt.timedelta(days=1)
    with duckdb.connect(str(firm["home"].duckdb_path), read_only=True) as con:
        marts = read_marts(con)
        stored = read_day(con, "optimizer.household_bases", AS_OF)
        assert read_previous_bases(con, AS_OF) == {}  # a rerun of the day starts where the first run did
        bases = read_previous_bases(con, next_day)
    optimal = firm["reference_outcomes"].query("status == 'optimal'")
    assert sorted(stored["household_id"]) == sorted(bases) == sorted(optimal["household_id"])
    broken = sorted(bases)[0]
    bases[broken] = b"not a basis"
    settings = OptimizerSettings(time_limit_seconds=600)
    [shard] = make_shards(marts, AS_OF, settings, None, shards=1, warm_starts=bases)
    [cold] = make_shards(marts, AS_OF, settings, None, shards=1)
    warm_result, cold_result = solve_shard(shard), solve_shard(cold)
    warm = warm_result.outcomes.set_index("household_id")
    cold_outcomes = cold_result.outcomes.set_index("household_id")
    assert not warm.loc[broken, "warm_started"]
    assert warm.drop(index=broken)["warm_started"].all() and not cold_outcomes["warm_started"].any()
    assert warm.loc[warm.status == "optimal", "objective"].round(4).equals(
        cold_outcomes.loc[warm.status == "optimal", "objective"].round(4))
    others = warm.index != broken
    assert warm.loc[others, "root_iterations"].sum() < cold_outcomes.loc[others, "root_iterations"].sum()
    assert sorted(warm_result.bases) == sorted(optimal["household_id"])  # today's, for tomorrow


def test_a_household_whose_solve_fails_does_not_fail_its_shard(firm):
    """Bad data in one household: its outcome says why, its shard's other households trade as before."""
    from optimization import OptimizerSettings
    from orchestration.defs.optimize.assets import solve_household_shard
    from orchestration.lib.warehouse import read_marts

    with duckdb.connect(str(firm["home"].duckdb_path), read_only=True) as con:
        marts = read_marts(con)
    [shard] = make_shards(marts, AS_OF, OptimizerSettings(), None, shards=1)
    victim = shard.households[0]
    frames = dict(shard.frames)
    targets = frames["fct_household_targets"].copy()
    targets.loc[targets["household_id"] == victim, "target_weight"] = float("nan")
    frames["fct_household_targets"] = targets
    broken = dg.build_op_context()
    result = solve_household_shard(broken, type(shard)(**{**shard.__dict__, "frames": frames}))
    outcomes = result.outcomes.set_index("household_id")
    assert outcomes.loc[victim, "status"] == "error" and outcomes.loc[victim, "message"]
    assert (outcomes.drop(index=victim)["status"] == "optimal").all()
    assert not (result.trades["household_id"] == victim).any()
    clean = solve_shard(type(shard)(**{**shard.__dict__, "frames": frames_for(marts, set(shard.households))}))
    others = clean.trades[clean.trades["household_id"] != victim].reset_index(drop=True)
    pd.testing.assert_frame_equal(result.trades.reset_index(drop=True), others)


def test_a_solver_time_limit_in_every_household_fails_no_shard_and_writes_no_trades(firm):
    """The tiniest time limit (run config): every household ends at the limit with no trades; the
    shards and the writer succeed. (Runs last: it leaves the day without trades. The trade gate after
    it is left out: household_trade_holds fails on a day with no trades, reported to its owner.)"""
    config = {"resources": {"optimizer_fanout": {"config": {"shards": 2, "min_households_per_shard": 1,
                                                            "time_limit_seconds": 1e-6}}}}
    success, run_id = _execute_optimize_day(firm["instance"], config, [dg.AssetKey(["household_trades"])])
    assert success
    failures = firm["instance"].get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    assert not failures
    outcomes = _day(firm["home"], "optimizer.household_outcomes")
    assert len(outcomes) == HOUSEHOLDS and set(outcomes["status"]) == {"time_limit"}
    assert outcomes["message"].str.contains("no trades").all()
    assert len(_day(firm["home"], "optimizer.trades")) == 0
