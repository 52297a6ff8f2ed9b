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
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def ready_problems(warehouse: str, n: int, as_of: dt.date, settings) -> list:
    """The first n ready households of the warehouse's marts, with the day's risk model."""
    import duckdb

    from optimization import household_problems_from_marts
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
    return household_problems_from_marts(frames_for(marts, set(ready)), as_of, settings, risk_model=risk)


def measure(warehouse: str, n: int, as_of: dt.date) -> dict:
    from optimization import OptimizerSettings, optimize_households

    settings = OptimizerSettings(time_limit_seconds=60)
    problems = ready_problems(warehouse, n, as_of, settings)
    optimize_households(problems[:2], settings)  # imports and first-call costs out of the way
    spent = {"gc": 0.0}
    started = {}

    def on_gc(phase, info):
        if phase == "start":
            started["t"] = time.perf_counter()
        else:
            spent["gc"] += time.perf_counter() - started["t"]

    gc.callbacks.append(on_gc)
    runs = []
    for _ in range(2):
        spent["gc"] = 0.0
        t = time.process_time()
        _, outcomes = optimize_households(problems, settings)
        runs.append({"cpu": time.process_time() - t, "gc": spent["gc"]})
    best = min(runs, key=lambda r: r["cpu"])
    return {"households": len(problems), "lots_mean": float(outcomes.lot_count.mean()),
            "cpu_s": best["cpu"], "gc_s": best["gc"], "households_per_cpu_s": len(problems) / best["cpu"],
            "status": outcomes.status.value_counts().to_dict()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--households", type=int, default=30)
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--compare", help="another checkout of the project, measured in a child process")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
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
    result = measure(args.warehouse, args.households, dt.date.fromisoformat(args.as_of))
    if args.json:
        print(json.dumps(result))
        return
    rows = [("this tree", result)]
    if args.compare:
        env = dict(os.environ, PYTHONPATH=args.compare)
        out = subprocess.run([sys.executable, str(Path(args.compare) / "bench" / Path(__file__).name),
                              "--warehouse", args.warehouse, "--households", str(args.households),
                              "--as-of", args.as_of, "--json"], env=env, cwd=args.compare,
                             capture_output=True, text=True, check=True).stdout
        rows.append((args.compare, json.loads(out.strip().splitlines()[-1])))
    print("| code | households | mean lots | CPU s | of which GC s | households per CPU second |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['households']} | {r['lots_mean']:.0f} | {r['cpu_s']:.2f} | {r['gc_s']:.2f} | "
              f"{r['households_per_cpu_s']:.1f} |")
    if len(rows) == 2:
        print(f"\nratio (other / this tree, CPU): {rows[1][1]['cpu_s'] / rows[0][1]['cpu_s']:.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
