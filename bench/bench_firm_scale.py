"""The whole daily pipeline on large synthetic firms: time and peak memory per stage, households per
second, and the optimization stage's fan-out with 1 vs 2 workers.

    .venv/bin/python bench/bench_firm_scale.py --sizes 1000            # what docs/scale.md reports
    .venv/bin/python bench/bench_firm_scale.py --sizes 1000 10000 --workers 1 2 --out /tmp/scale.json
    .venv/bin/python bench/bench_firm_scale.py --sizes 1000 --workers --before-optimizer   # the stages before it
    .venv/bin/python bench/bench_firm_scale.py --sizes 1000 --workers --executor multiprocess --steps  # the day on 2 workers

For each size it (1) generates the firm (synthetic.write_synthetic_firm, seed 7), (2) runs the day
with ``sleeveless run-day`` (the local default: in-process executor) in a child process, sampling
the child's resident memory every 0.2 s (less often where sampling would take over 5% of a core:
SAMPLER_CPU_SHARE) and attributing the samples to Dagster's step windows, and
(3) reruns the optimizer alone (job ``optimize_day``, multiprocess executor, one process per shard)
with each worker count and the same shards, so the ratio isolates parallelism. Memory is the sum
over the run's process tree (the executor, its forkserver and its step processes) of each process's
proportional set size (PSS: pages shared after a fork counted once, not once per process).

Everything is written under --root (default /tmp/sleeveless_scale); dbt's target under it too.
Numbers on a shared machine are noisy: run it twice and read the lower.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
AS_OF = "2026-11-20"


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _rss_bytes(pid: int) -> int:
    """Proportional set size (shared pages divided among the processes sharing them: step processes
    forked from the forkserver share its pages), falling back to the resident set size."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def tree_rss(pid: int) -> int:
    """Memory of a process and all its descendants (PSS: shared pages counted once), in bytes."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += _rss_bytes(p)
        todo.extend(_children(p))
    return total


# The memory sampler's own CPU share, at most (of one core). Reading a process's PSS makes the kernel
# walk its page tables: ~26 ms for a 1.3 GB step process here, and the whole tree of a 10,000-household
# day holds 3-7 GB. Sampling it every 0.2 s, as this script did up to 2026-12-06, took 0.15 core on the
# 1,000-household day (42.6 s of the 2-core machine's CPU in a 4.6-minute run) and more at 10,000: CPU
# the pipeline it measures did not get. So the sampler waits long enough after each sample to stay
# under this share, and reports what it cost (Sampled.cost).
SAMPLER_CPU_SHARE = 0.05


class Sampled:
    """Runs a command, sampling its process tree's memory: [(unix time, bytes)], every ``interval``
    seconds or less often, so that sampling takes at most SAMPLER_CPU_SHARE of one core."""

    def __init__(self, cmd: list[str], env: dict, interval: float = 0.2, cpu_share: float = SAMPLER_CPU_SHARE):
        self.cmd, self.env, self.interval, self.cpu_share = cmd, env, interval, cpu_share
        self.samples: list[tuple[float, int]] = []
        self.sampler_cpu_seconds = 0.0

    def run(self) -> tuple[float, str]:
        started = time.time()
        process = subprocess.Popen(self.cmd, env=self.env, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        done = threading.Event()

        def sample():
            while not done.is_set():
                cpu = time.thread_time()
                self.samples.append((time.time(), tree_rss(process.pid)))
                cost = time.thread_time() - cpu
                self.sampler_cpu_seconds += cost
                done.wait(max(self.interval, cost * (1 - self.cpu_share) / self.cpu_share))

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        output = process.communicate()[0]
        done.set()
        thread.join()
        if process.returncode:
            raise SystemExit(f"{' '.join(self.cmd)} failed ({process.returncode}):\n{output[-4000:]}")
        return time.time() - started, output

    def cost(self) -> dict:
        """What the sampling took: samples, its CPU seconds, and the longest gap between two samples."""
        times = [t for t, _ in self.samples]
        gaps = [b - a for a, b in zip(times, times[1:])]
        return {"samples": len(times), "cpu_seconds": round(self.sampler_cpu_seconds, 1),
                "longest_gap_seconds": round(max(gaps, default=0.0), 2)}

    def peak(self, start: float | None = None, end: float | None = None) -> int:
        inside = [b for t, b in self.samples if (start is None or t >= start - 0.2) and (end is None or t <= end + 0.2)]
        return max(inside, default=0)


def _env(home: Path, **extra) -> dict:
    env = dict(os.environ)
    env.update(SLEEVELESS_HOME=str(home), DAGSTER_HOME=str(home / "dagster_home"),
               DBT_TARGET_PATH=str(home.parent / "dbt_target"), **extra)
    env.pop("SLEEVELESS_DUCKDB_PATH", None)
    return env


def _step_stats(home: Path, run_id: str) -> list[dict]:
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        return [
            {"step": s.step_key, "start": s.start_time, "end": s.end_time, "seconds": s.end_time - s.start_time}
            for s in instance.get_run_step_stats(run_id) if s.start_time and s.end_time
        ]


def _run_seconds(home: Path, run_id: str) -> float:
    """The run's own duration as Dagster records it (start to end of the run: its steps, the forkserver's
    start and the executor's bookkeeping; not the launching process's interpreter start and imports)."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster_home")
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster_home")) as instance:
        stats = instance.get_run_stats(run_id)
        return stats.end_time - stats.start_time


def stage_of(step: str) -> str:
    """Steps grouped into the stages docs/performance.md reports."""
    if step == "custodian_files":
        return "ingest"
    if step.startswith("raw__") or step.endswith(("_present",)):
        return "gx gates"
    if step.startswith("taxlots"):
        return "tax-lot engine"
    if step == "warehouse_models":
        return "dbt build"
    if step.startswith("household_trades.solve"):
        return "optimize: solve shards"
    if step.startswith("household_trades."):
        return "optimize: plan + write"
    if step.startswith("household_trade_holds") or step.endswith("trades_are_safe"):
        return "trade gate"
    if step in ("order_files", "taxes_saved_report"):
        return "orders + reports"
    return "gx gates"


GB = 1024 ** 3


# The daily graph without the optimizer and what follows it (ingest, tax-lot engine, dbt, GX gates,
# household holds), in process like `sleeveless run-day`: the single-process stages of docs/scale.md.
BEFORE_OPTIMIZER = """
import contextlib, sys, dagster as dg
from orchestration.definitions import defs
from orchestration.lib.home import Home
from sleeveless.cli import _instance
instance = _instance(Home.from_env())
selection = dg.AssetSelection.all() - dg.AssetSelection.assets("household_trades").downstream()
job = dg.Definitions.merge(defs(), dg.Definitions(jobs=[dg.define_asset_job(
    "before_optimizer", selection=selection, executor_def=dg.in_process_executor)])).resolve_job_def("before_optimizer")
with contextlib.redirect_stdout(sys.stderr):  # dbt's console output
    result = job.execute_in_process(instance=instance, partition_key=sys.argv[1], raise_on_error=False,
                                    run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
print("run id", result.run_id, "success", result.success)
"""


def bench_day(home: Path, households: int, before_optimizer: bool = False, reuse_firm: bool = False,
              executor: str = "in_process", workers: int = 2, engine_workers: int = 1) -> dict:
    gen = Sampled([PYTHON, "-m", "sleeveless.cli", "--home", str(home), "generate", "--as-of", AS_OF,
                   "--households", str(households), "--seed", "7"], _env(home))
    # --reuse-firm: the landing files of an earlier generation (same size and seed) are used as they are
    gen_seconds = 0.0 if reuse_firm and (home / "landing" / AS_OF).is_dir() else gen.run()[0]
    command = ([PYTHON, "-c", BEFORE_OPTIMIZER, AS_OF] if before_optimizer
               else [PYTHON, "-m", "sleeveless.cli", "--home", str(home), "run-day", "--as-of", AS_OF])
    day = Sampled(command, _env(home, SLEEVELESS_EXECUTOR=executor, SLEEVELESS_WORKERS=str(workers),
                                SLEEVELESS_ENGINE_WORKERS=str(engine_workers)))
    day_seconds, output = day.run()
    run_id = re.search(r"run id ([0-9a-f-]{36})", output).group(1)
    steps = _step_stats(home, run_id)
    for s in steps:  # the whole process tree's memory while the step ran (steps in parallel share it)
        s["peak_gb"] = round(day.peak(s["start"], s["end"]) / GB, 2)
    stages: dict[str, dict] = {}
    for s in steps:
        stage = stages.setdefault(stage_of(s["step"]), {"seconds": 0.0, "peak_gb": 0.0, "start": s["start"], "end": s["end"]})
        stage["seconds"] += s["seconds"]
        stage["start"], stage["end"] = min(stage["start"], s["start"]), max(stage["end"], s["end"])
        # the peak over the stage's own steps, not over the span from its first to its last step (the
        # GX gates run both before the tax-lot engine and after the dbt build)
        stage["peak_gb"] = max(stage["peak_gb"], s["peak_gb"])
    for stage in stages.values():
        stage["span_seconds"] = round(stage.pop("end") - stage.pop("start"), 1)
        stage["seconds"] = round(stage["seconds"], 1)
    return {
        "households": households, "executor": executor, "workers": workers if executor != "in_process" else 1,
        "engine_workers": engine_workers,
        "generate_seconds": round(gen_seconds, 1), "generate_peak_gb": round(gen.peak() / GB, 2),
        "day_seconds": round(day_seconds, 1), "day_peak_gb": round(day.peak() / GB, 2),
        "households_per_second": round(households / day_seconds, 2), "stages": stages, "run_id": run_id,
        "memory_sampler": day.cost(),
        "steps": sorted(steps, key=lambda s: s["start"]),
    }


OPTIMIZE = """
import sys, dagster as dg
from orchestration.lib.reconstruct import fresh_forkserver, optimize_day_job
fresh_forkserver(warm=True)
shards = int(sys.argv[2])
config = {"resources": {"optimizer_fanout": {"config": {"shards": shards, "min_households_per_shard": 1}}}}
with dg.execute_job(dg.reconstructable(optimize_day_job), instance=dg.DagsterInstance.get(), run_config=config,
                    tags={"dagster/partition": sys.argv[1]}) as result:
    print("run id", result.run_id, "success", result.success)
"""


def bench_optimize(home: Path, households: int, workers: int, shards: int) -> dict:
    run = Sampled([PYTHON, "-c", OPTIMIZE, AS_OF, str(shards)], _env(home, SLEEVELESS_WORKERS=str(workers)))
    seconds, output = run.run()
    run_id = re.search(r"run id ([0-9a-f-]{36})", output).group(1)
    assert "success True" in output, output[-2000:]
    steps = _step_stats(home, run_id)
    solves = [s for s in steps if ".solve_household_shard" in s["step"]]
    span = max(s["end"] for s in solves) - min(s["start"] for s in solves)
    return {
        "households": households, "workers": workers, "shards": shards, "seconds": round(seconds, 1),
        "run_seconds": round(_run_seconds(home, run_id), 1), "solve_span_seconds": round(span, 1), "solve_step_seconds": round(sum(s["seconds"] for s in solves), 1),
        "peak_gb": round(run.peak() / GB, 2), "households_per_second": round(households / seconds, 2),
    }


def main(argv=None) -> int:
    global AS_OF
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2], help="none: skip the fan-out runs")
    parser.add_argument("--shards", type=int, default=0, help="shards for the fan-out runs (default: max workers)")
    parser.add_argument("--root", default="/tmp/sleeveless_scale")
    parser.add_argument("--skip-day", action="store_true", help="reuse an existing day, time the fan-out only")
    parser.add_argument("--before-optimizer", action="store_true",
                        help="run the day only up to the optimizer (ingest, tax-lot engine, dbt, gates, holds)")
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--executor", default="in_process", choices=["in_process", "multiprocess"],
                        help="executor of the day's run (SLEEVELESS_EXECUTOR); multiprocess uses --day-workers")
    parser.add_argument("--day-workers", type=int, default=2, help="SLEEVELESS_WORKERS of a multiprocess day")
    parser.add_argument("--engine-workers", type=int, default=1,
                        help="SLEEVELESS_ENGINE_WORKERS: processes replaying the tax-lot engine's households")
    parser.add_argument("--steps", action="store_true", help="also print every step of the day")
    parser.add_argument("--as-of", default=AS_OF,
                        help="the day to generate and run. A later day on the same --root is generated with the "
                             "same seed: the same households, accounts and securities (lots and history dated from the "
                             "new day, yesterday's trades not applied), so each household's model has yesterday's "
                             "shape and starts from the basis the day before stored (warm start)")
    parser.add_argument("--reuse-firm", action="store_true",
                        help="use the landing files already under --root/firm_N (generated earlier) instead of generating")
    args = parser.parse_args(argv)
    AS_OF = args.as_of  # the module's: every run of this invocation is for that day
    shards = args.shards or max(args.workers, default=1)
    results = {"days": [], "optimize": []}
    for n in args.sizes:
        home = Path(args.root) / f"firm_{n}"
        if not args.skip_day:
            day = bench_day(home, n, args.before_optimizer, args.reuse_firm, args.executor, args.day_workers,
                            args.engine_workers)
            results["days"].append(day)
            print(f"\n{n} households, {args.executor} executor ({day['workers']} at once, engine in "
                  f"{args.engine_workers} processes): day {day['day_seconds']} s, "
                  f"peak {day['day_peak_gb']} GB, {day['households_per_second']} households/s "
                  f"(generate {day['generate_seconds']} s)")
            sampler = day["memory_sampler"]
            print(f"memory sampled {sampler['samples']} times (longest gap {sampler['longest_gap_seconds']} s), "
                  f"the sampling took {sampler['cpu_seconds']} CPU s")
            print("| stage | step seconds (sum) | span s | peak GB |\n|---|---|---|---|")
            for stage, s in day["stages"].items():
                print(f"| {stage} | {s['seconds']} | {s['span_seconds']} | {s['peak_gb']} |")
            if args.steps:
                print("| step | seconds | peak GB |\n|---|---|---|")
                for s in day["steps"]:
                    print(f"| {s['step']} | {s['seconds']:.1f} | {s['peak_gb']} |")
        runs = [bench_optimize(home, n, w, shards) for w in args.workers]
        results["optimize"].extend(runs)
        if not runs:
            continue
        print(f"\n{n} households, optimize_day, {shards} shards:")
        print("| workers | stage seconds (process) | run s (Dagster) | solve span s | sum of solve steps s | peak GB | "
              "households/s |\n|---|---|---|---|---|---|---|")
        for r in runs:
            print(f"| {r['workers']} | {r['seconds']} | {r['run_seconds']} | {r['solve_span_seconds']} | "
                  f"{r['solve_step_seconds']} | {r['peak_gb']} | {r['households_per_second']} |")
        if len(runs) >= 2:
            print(f"speed-up {runs[0]['workers']} -> {runs[-1]['workers']} workers: stage "
                  f"{runs[0]['seconds'] / runs[-1]['seconds']:.2f}x (process), "
                  f"{runs[0]['run_seconds'] / runs[-1]['run_seconds']:.2f}x (run), solve span "
                  f"{runs[0]['solve_span_seconds'] / runs[-1]['solve_span_seconds']:.2f}x")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
