"""The optimizer on real daily-run households: CPU per household, current tree vs another checkout.

    .venv/bin/python bench/bench_daily_households.py --warehouse /tmp/s1000/firm_1000/warehouse/sleeveless.duckdb
    .venv/bin/python bench/bench_daily_households.py --warehouse W --households 30 --compare /tmp/older_checkout

Reads the marts of a warehouse a daily run left (bench_firm_scale.py writes one under --root),
applies nothing but readiness, estimates the day's risk model like the plan step, and solves the
first N ready households with optimize_households (1 process, cold start) twice, printing CPU
seconds (time.process_time: steadier than wall time on a shared machine) and the time Python's
cyclic GC took. With --compare, the same in a child process importing the other checkout first,
so both are measured in one run.

    .venv/bin/python bench/bench_daily_households.py --warehouse W --households 100 --tradeoff

--tradeoff: instead, the direction-search trade-off table of bench_optimizer.py (households per CPU
second, objective lost against mip_rel_gap 1e-4, proven gap, statuses) on the first N ready households.

Each household is timed on its own (optimize_household, the per-household work optimize_households
does; the faster of two passes), so the table gives the median as well as the total. --warm: every
household starts from the basis the warehouse holds for it (optimizer.household_bases, decoded as
the solve step does: WarmStart.from_bytes), i.e. the daily run's path with warm starts. --shard:
also the CPU of the daily run's whole solve step over the same households (shards.solve_shard:
household_problems_from_marts, optimize_households with the warm starts, the bases encoded).

With --compare, the other checkout's trades and outcomes come back too and are checked against
this tree's: the same households and statuses, objectives within 1e-6 relative, the same trade
rows (exactly); the script fails (exit 1) otherwise.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import math
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ready_problems(warehouse: str, n: int, as_of: dt.date, settings) -> list:
    """The first n ready households of the warehouse's marts, with the day's risk model."""
    from optimization import household_problems_from_marts

    frames, ready, risk = ready_frames(warehouse, n, as_of)
    return household_problems_from_marts(frames, as_of, settings, risk_model=risk)


def ready_frames(warehouse: str, n: int, as_of: dt.date):
    """(the mart rows of the first n ready households, their ids, the day's risk model)."""
    import duckdb

    from optimization.risk import estimate_risk_model
    from orchestration.defs.optimize.shards import frames_for
    from orchestration.lib.warehouse import read_marts

    with duckdb.connect(warehouse, read_only=True) as con:
        marts = read_marts(con)
        prices = con.execute("select security_id, price_date, close from raw.price_history "
                             "where as_of_date = ? and price_date <= ?", [as_of, as_of]).df()
    risk = estimate_risk_model(prices, marts["dim_securities"])
    readiness = marts["fct_household_readiness"]
    ready = sorted(readiness.loc[readiness.is_ready.astype(bool), "household_id"].astype(str))[:n]
    return frames_for(marts, set(ready)), ready, risk


def warehouse_bases(warehouse: str, as_of: dt.date) -> dict[str, bytes]:
    """household_id -> the newest stored root basis on or before as_of (what the plan step hands a shard)."""
    import duckdb

    with duckdb.connect(warehouse, read_only=True) as con:
        try:
            rows = con.execute("select household_id, basis from optimizer.household_bases where as_of_date <= ? "
                               "order by household_id, as_of_date", [as_of]).fetchall()
        except duckdb.Error:
            return {}
    return {str(h): bytes(b) for h, b in rows}


def measure(warehouse: str, n: int, as_of: dt.date, warm: bool = False, shard: bool = False,
            dump: str | None = None) -> dict:
    from optimization import OptimizerSettings, WarmStart, optimize_households
    from optimization.optimize import optimize_household

    settings = OptimizerSettings(time_limit_seconds=60)
    problems = ready_problems(warehouse, n, as_of, settings)
    blobs = warehouse_bases(warehouse, as_of) if warm else {}
    starts = {h: WarmStart.from_bytes(b) for h, b in blobs.items()}
    optimize_households(problems[:2], settings)  # imports and first-call costs out of the way
    spent = {"gc": 0.0}
    started = {}

    def on_gc(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter()
        else:
            spent["gc"] += time.perf_counter() - started["t"]

    gc.callbacks.append(on_gc)
    passes = []
    for _ in range(2):  # the pass with the lower total (a GC pass lands in whichever household it lands)
        spent["gc"] = 0.0
        times = []
        for problem in problems:
            t = time.process_time()
            # decoding the stored basis is part of a household's warm start (shards.decoded_warm_starts)
            start = WarmStart.from_bytes(blobs[problem.household_id]) if problem.household_id in blobs else None
            optimize_household(problem, settings, start)
            times.append(time.process_time() - t)
        passes.append((sum(times), times, spent["gc"]))
    _, per_household, gc_s = min(passes, key=lambda x: x[0])
    trades, outcomes = optimize_households(problems, settings, warm_starts=starts)
    result = {"households": len(problems), "lots_mean": float(outcomes.lot_count.mean()),
              "cpu_s": sum(per_household), "median_ms": 1000 * statistics.median(per_household), "gc_s": gc_s,
              "households_per_cpu_s": len(problems) / sum(per_household),
              "status": outcomes.status.value_counts().to_dict(),
              "warm_started": int(outcomes.warm_started.sum())}
    if shard:
        result["shard_cpu_s"] = shard_step_cpu(warehouse, n, as_of, settings, blobs)
    if dump:
        with open(dump, "wb") as f:
            pickle.dump({"trades": trades, "outcomes": outcomes}, f)
    return result


def shard_step_cpu(warehouse: str, n: int, as_of: dt.date, settings, blobs: dict) -> float:
    """CPU seconds of the daily run's solve step (shards.solve_shard) over the first n ready households."""
    from orchestration.defs.optimize.shards import Shard, solve_shard

    frames, ready, risk = ready_frames(warehouse, n, as_of)
    shard = Shard(0, as_of, tuple(ready), frames, settings, risk, {h: blobs[h] for h in ready if h in blobs})
    best = math.inf
    for _ in range(2):
        t = time.process_time()
        solve_shard(shard)
        best = min(best, time.process_time() - t)
    return best


def same_results(this: dict, other: dict) -> list[str]:
    """What differs between two trees' (trades, outcomes) on the same households: [] when they agree
    (statuses, objectives within 1e-6 relative, trade rows exactly)."""
    import numpy as np
    import pandas as pd

    problems = []
    a, b = this["outcomes"], other["outcomes"]
    if a.household_id.tolist() != b.household_id.tolist():
        return ["different households"]
    if (a.status != b.status).any():
        problems.append(f"statuses differ: {a.household_id[a.status != b.status].tolist()}")
    scale = np.maximum(1.0, np.abs(b.objective.to_numpy()))
    both = np.isfinite(a.objective.to_numpy()) & np.isfinite(b.objective.to_numpy())
    rel = np.abs(a.objective.to_numpy() - b.objective.to_numpy())[both] / scale[both]
    if (rel > 1e-6).any() or (np.isfinite(a.objective) != np.isfinite(b.objective)).any():
        problems.append(f"objectives differ (max relative {rel.max(initial=0):.2e})")
    try:
        pd.testing.assert_frame_equal(this["trades"], other["trades"], check_exact=True)
    except AssertionError as exc:
        problems.append(f"trades differ: {str(exc).splitlines()[0]}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--households", type=int, default=30)
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--compare", help="another checkout of the project, measured in a child process")
    parser.add_argument("--warm", action="store_true", help="warm starts from optimizer.household_bases")
    parser.add_argument("--shard", action="store_true", help="also the CPU of shards.solve_shard on them")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--tradeoff", action="store_true", help="the direction-search trade-off table instead")
    args = parser.parse_args()
    if args.tradeoff:
        from bench.bench_optimizer import print_direction_tradeoff
        from optimization import OptimizerSettings

        as_of = dt.date.fromisoformat(args.as_of)
        problems = ready_problems(args.warehouse, args.households, as_of, OptimizerSettings())
        print(f"{len(problems)} ready households, mean {sum(len(p.lots) for p in problems) / len(problems):.0f} lots, "
              "risk model priced\n")
        print_direction_tradeoff(problems, repeats=2)
        return
    as_of = dt.date.fromisoformat(args.as_of)
    with tempfile.TemporaryDirectory() as tmp:
        dumps = [os.path.join(tmp, "this.pkl"), os.path.join(tmp, "other.pkl")]
        result = measure(args.warehouse, args.households, as_of, args.warm, args.shard, args.dump or dumps[0])
        if args.json:
            print(json.dumps(result))
            return
        rows = [("this tree", result)]
        if args.compare:
            env = dict(os.environ, PYTHONPATH=args.compare)
            flags = [f for f, on in (("--warm", args.warm), ("--shard", args.shard)) if on]
            # this script, importing the other checkout's optimization/ (and orchestration/) first
            out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--root", args.compare,
                                  "--warehouse", args.warehouse, "--households", str(args.households),
                                  "--as-of", args.as_of, "--json", "--dump", dumps[1], *flags], env=env,
                                 cwd=args.compare, capture_output=True, text=True, check=True).stdout
            rows.append((args.compare, json.loads(out.strip().splitlines()[-1])))
        print(f"{'warm' if args.warm else 'cold'} start, CPU per household timed one by one (the faster of 2 passes)\n")
        print("| code | households | mean lots | CPU s (total) | median ms per household | of which GC s | "
              "households per CPU second |" + (" solve_shard CPU s |" if args.shard else ""))
        print("|---|---|---|---|---|---|---|" + ("---|" if args.shard else ""))
        for name, r in rows:
            print(f"| {name} | {r['households']} | {r['lots_mean']:.0f} | {r['cpu_s']:.2f} | {r['median_ms']:.1f} | "
                  f"{r['gc_s']:.2f} | {r['households_per_cpu_s']:.1f} |"
                  + (f" {r['shard_cpu_s']:.2f} |" if args.shard else ""))
        if len(rows) == 2:
            print(f"\nratio (this tree / other, CPU): total {rows[0][1]['cpu_s'] / rows[1][1]['cpu_s']:.2f}, "
                  f"median {rows[0][1]['median_ms'] / rows[1][1]['median_ms']:.2f}"
                  + (f", solve_shard {rows[0][1]['shard_cpu_s'] / rows[1][1]['shard_cpu_s']:.2f}" if args.shard else ""))
            with open(dumps[0], "rb") as f:
                this = pickle.load(f)
            with open(dumps[1], "rb") as f:
                other = pickle.load(f)
            problems = same_results(this, other)
            if problems:
                print("RESULTS DIFFER:\n  " + "\n  ".join(problems))
                sys.exit(1)
            print(f"results identical: {len(this['outcomes'])} households, statuses equal, objectives within 1e-6 "
                  f"relative, {len(this['trades'])} trade rows equal")


if __name__ == "__main__":
    # --root (the child of --compare): that checkout's packages instead of this one's
    root = sys.argv[sys.argv.index("--root") + 1] if "--root" in sys.argv else str(ROOT)
    if "--root" in sys.argv:
        del sys.argv[sys.argv.index("--root"):sys.argv.index("--root") + 2]
    sys.path.insert(0, root)
    main()
