"""Benchmark: one realistic household through the Pyomo path vs raw highspy (the floor).

    .venv/bin/python bench/bench_optimizer.py                      # 3 accounts, 500 names, 2,500 lots
    .venv/bin/python bench/bench_optimizer.py --lots 1500 --accounts 2
    .venv/bin/python bench/bench_optimizer.py --households 200 --workers 2   # + end-to-end run
    .venv/bin/python bench/bench_optimizer.py --appsi              # + Pyomo's appsi HiGHS interface
    .venv/bin/python bench/bench_optimizer.py --per-household 10 --lots 4000 --accounts 2   # issue 5 table
    .venv/bin/python bench/bench_optimizer.py --per-household 10 --lots 4000 --accounts 2 --risk

    .venv/bin/python bench/bench_optimizer.py --tradeoff 20 --lots 4000 --accounts 2 --repeats 2 [--risk]  # 6th pass

--tradeoff N: the speed/optimality trade-off of the same-day wash-sale direction search on N
households: each setting of DIRECTION_VARIANTS through optimize_household (CPU seconds, cold start,
each household's fastest of --repeats runs)
against the reference (branch-and-bound to mip_rel_gap 1e-4): households per CPU second, the
objective lost in dollars and relative (median, max), the proven gap (objective - bound), statuses.

--per-household N: N different households (seeds 0..N-1), each solved --repeats times through both
paths; prints per-household median milliseconds, the ratio, and households/s of
optimize_households (1 worker, one process, no warm start: every household from a cold HiGHS).
--risk: with a risk model (synthetic 3-year price history) so the tracking error is priced.
--warm: also the daily re-solve: the same households a day later (prices moved ~1%), solved
through the Pyomo path from a cold HiGHS and from the previous day's root basis (optimization.warm),
and optimize_households both ways: median ms, root-LP simplex iterations and the ratio.

Pyomo path = standard form (numpy) + Pyomo model build + Pyomo -> HiGHS translation + solve.
Raw floor  = the same standard-form arrays handed to highspy directly + the same solve.
"Solve" is the LP branch-and-bound on HiGHS LPs the optimizer uses (the model has one binary per
identical group with both loss lots and buys: the same-day wash-sale switch); HiGHS's own MIP
solver on the same arrays is shown for reference.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from optimization import (  # noqa: E402
    OptimizerSettings,
    build_household_model,
    compile_linear_model,
    household_problems_from_marts,
    household_standard_form,
    optimize_households,
    solve_household_model,
)
from optimization.solve import branch_and_bound, highs_from_arrays  # noqa: E402
from optimization.risk import estimate_risk_model, synthetic_price_history  # noqa: E402
from optimization.testing import synthetic_frames  # noqa: E402

AS_OF = dt.date(2026, 3, 2)


def timed(fn, repeats):
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def raw_solve(form, settings, mip_solver):
    h = highs_from_arrays(
        form.col_cost, form.col_lower, form.col_upper, form.col_binary & (mip_solver == "highs"),
        form.row_lower, form.row_upper, form.a_row_start, form.a_col, form.a_val, settings,
    )
    if mip_solver == "highs":
        h.run()
        return h.getInfo().objective_function_value
    h.setOptionValue("presolve", "off")
    return branch_and_bound(h, form.col_binary, settings, time.perf_counter() + settings.time_limit_seconds).objective


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--securities", type=int, default=500)
    parser.add_argument("--lots", type=int, default=2500)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--appsi", action="store_true", help="also time Pyomo's appsi HiGHS interface")
    parser.add_argument("--households", type=int, default=0, help="also run optimize_households on N households")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--per-household", type=int, default=0, help="table over N households (issue 5)")
    parser.add_argument("--risk", action="store_true", help="price tracking error with a risk model")
    parser.add_argument("--warm", action="store_true", help="also the next-day re-solve, cold vs warm-started")
    parser.add_argument("--tradeoff", type=int, default=0, help="direction-search trade-off table over N households")
    args = parser.parse_args()
    if args.tradeoff:
        frames = synthetic_frames(
            args.tradeoff, n_securities=args.securities, n_lots=args.lots, n_accounts=args.accounts, as_of=AS_OF
        )
        risk = None
        if args.risk:
            sec = frames["dim_securities"]
            history = synthetic_price_history(sec.security_id.tolist(), dict(zip(sec.security_id, sec.gics_sector)))
            risk = estimate_risk_model(history, sec)
        problems = household_problems_from_marts(frames, AS_OF, OptimizerSettings(), risk_model=risk)
        print(f"{len(problems)} households, {args.securities} securities, ~{args.lots} lots, {args.accounts} accounts"
              f"{', risk model priced' if risk else ''}\n")
        print_direction_tradeoff(problems, repeats=args.repeats)
        return
    if args.per_household:
        per_household(args)
        return

    settings = OptimizerSettings()
    frames = synthetic_frames(
        1, n_securities=args.securities, n_lots=args.lots, n_accounts=args.accounts, as_of=AS_OF
    )
    t_marts, problems = timed(lambda: household_problems_from_marts(frames, AS_OF, settings), args.repeats)
    problem = problems[0]
    t_form, form = timed(lambda: household_standard_form(problem, settings), args.repeats)
    t_build, model = timed(lambda: build_household_model(problem, settings, form), args.repeats)
    t_compile, _ = timed(lambda: compile_linear_model(model), args.repeats)

    def pyomo_solve():
        m = build_household_model(problem, settings, form)
        t0 = time.perf_counter()
        result = solve_household_model(m, settings)
        return time.perf_counter() - t0, result

    solves = [pyomo_solve() for _ in range(args.repeats)]
    t_solve = statistics.median(s for s, _ in solves)
    result = solves[0][1]
    t_raw_bb, raw_obj = timed(lambda: raw_solve(form, settings, "branch_and_bound"), args.repeats)
    t_raw_highs, highs_obj = timed(lambda: raw_solve(form, settings, "highs"), max(1, args.repeats // 2))

    lots, buys = len(problem.lots), len(form.col_blocks["buy"].labels)
    print(
        f"household: {len(problem.accounts)} accounts, {len(problem.security_ids)} securities, {lots} lots, "
        f"{buys} buy columns; model {form.num_col} columns ({int(form.col_binary.sum())} binary), "
        f"{form.num_row} rows, {len(form.a_val)} nonzeros"
    )
    print(f"objective: pyomo path {result.objective:.2f} ({result.nodes} nodes), raw {raw_obj:.2f}, "
          f"HiGHS MIP {highs_obj:.2f}; median of {args.repeats} runs\n")
    pyomo_total = t_form + t_build + t_solve
    raw_total = t_form + t_raw_bb
    table = [
        ("marts -> HouseholdProblem", t_marts, ""),
        ("standard form (numpy)", t_form, "both paths"),
        ("Pyomo model build", t_build, "Pyomo path"),
        ("Pyomo -> HiGHS translation", t_compile, "inside the solve below"),
        ("solve via Pyomo (translate + B&B + load)", t_solve, "Pyomo path"),
        ("raw highspy: passModel + B&B", t_raw_bb, "floor"),
        ("raw highspy: passModel + HiGHS MIP", t_raw_highs, "reference"),
    ]
    if args.appsi:
        def appsi():
            m = build_household_model(problem, settings, form)
            return solve_household_model(m, OptimizerSettings(solver_interface="appsi", mip_solver="highs"))

        t_appsi, appsi_result = timed(appsi, 1)
        table.append(("Pyomo appsi HiGHS (build + MIP)", t_appsi, f"reference, obj {appsi_result.objective:.2f}"))
    width = max(len(name) for name, _, _ in table)
    print(f"{'stage':<{width}}  seconds  note")
    for name, seconds, note in table:
        print(f"{name:<{width}}  {seconds:7.3f}  {note}")
    print(f"\nPyomo path total (form + build + solve): {pyomo_total:.3f} s")
    print(f"raw highspy floor (form + pass + solve): {raw_total:.3f} s")
    print(f"ratio Pyomo / raw: {pyomo_total / raw_total:.2f}x")

    if args.households:
        many = synthetic_frames(
            args.households, n_securities=args.securities, n_lots=args.lots, n_accounts=args.accounts, as_of=AS_OF
        )
        run_settings = OptimizerSettings(workers=args.workers)
        t0 = time.perf_counter()
        problems = household_problems_from_marts(many, AS_OF, run_settings)
        t1 = time.perf_counter()
        trades, outcomes = optimize_households(problems, run_settings)
        t2 = time.perf_counter()
        print(
            f"\n{args.households} households, {args.workers} worker(s): marts -> problems {t1 - t0:.2f} s, "
            f"optimize_households {t2 - t1:.2f} s ({(t2 - t1) / args.households:.3f} s/household), "
            f"{len(trades)} trades, status {outcomes.status.value_counts().to_dict()}, "
            f"solve p50/p95/max {np.percentile(outcomes.solve_seconds, 50):.3f}/"
            f"{np.percentile(outcomes.solve_seconds, 95):.3f}/{outcomes.solve_seconds.max():.3f} s"
        )


# (label, settings overrides): the direction search's speed/optimality settings, reference first.
# A generous time limit: the comparison is of the search, not of a loaded machine's wall clock.
DIRECTION_VARIANTS = (
    ("B&B, mip_rel_gap 1e-4 (default)", {}),
    ("B&B, mip_rel_gap 1e-3", {"mip_rel_gap": 1e-3}),
    ("B&B, mip_rel_gap 1e-2", {"mip_rel_gap": 1e-2}),
    ("B&B, direction_gap_dollars 1", {"direction_gap_dollars": 1.0}),
    ("B&B, direction_gap_dollars 10", {"direction_gap_dollars": 10.0}),
    ("B&B, direction_gap_dollars 100", {"direction_gap_dollars": 100.0}),
    ("two_solve (no search)", {"direction_search": "two_solve"}),
    ("two_solve, direction_gap_dollars 10", {"direction_search": "two_solve", "direction_gap_dollars": 10.0}),
)


def direction_tradeoff(problems, variants=DIRECTION_VARIANTS, repeats=2, time_limit_seconds=120.0) -> list[dict]:
    """Per variant: CPU seconds of optimize_household over ``problems`` (each household's fastest of
    ``repeats``) and each household's outcome. Interleaved (every variant on one household, then
    the next), so a shared machine's load drifting during the run weighs on all variants alike."""
    from optimization import optimize_household

    optimize_household(problems[0], OptimizerSettings())  # first-call costs out of the way
    rows = [{"label": label, "cpu": 0.0, "outcomes": [],
             "settings": OptimizerSettings(time_limit_seconds=time_limit_seconds, **overrides)}
            for label, overrides in variants]
    for problem in problems:
        for row in rows:
            fastest = math.inf
            for _ in range(repeats):
                t = time.process_time()
                _, outcome = optimize_household(problem, row["settings"])
                fastest = min(fastest, time.process_time() - t)
            row["cpu"] += fastest
            row["outcomes"].append(outcome)
    return rows


def branch_nodes(outcome) -> int | None:
    """The B&B nodes a household's message reports (only trading households' messages do)."""
    found = re.search(r"(\d+) branch-and-bound nodes", outcome["message"] or "")
    return int(found.group(1)) if found else None


def print_direction_tradeoff(problems, variants=DIRECTION_VARIANTS, repeats=2) -> None:
    """The trade-off table (markdown) of direction_tradeoff against its first variant."""
    rows = direction_tradeoff(problems, variants, repeats)
    reference = {o["household_id"]: o["objective"] for o in rows[0]["outcomes"]}
    print(f"CPU: each household's fastest of {repeats} runs\n")
    print("| direction search | households per CPU s | CPU ms per household | mean B&B nodes (trading households) "
          "| objective lost $ median / max | relative median / max | proven gap $ median / max | statuses |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        lost, relative, proven, statuses = [], [], [], {}
        for o in row["outcomes"]:
            statuses[o["status"]] = statuses.get(o["status"], 0) + 1
            ref = reference[o["household_id"]]
            if np.isfinite(o["objective"]) and np.isfinite(ref):
                lost.append(o["objective"] - ref)
                relative.append((o["objective"] - ref) / max(abs(ref), 1e-9))
                proven.append(o["objective"] - o["objective_bound"])

        def spread(values, fmt):
            return f"{format(statistics.median(values), fmt)} / {format(max(values), fmt)}" if values else "-"

        n = len(row["outcomes"])
        nodes = [k for k in map(branch_nodes, row["outcomes"]) if k is not None]
        mean_nodes = f"{statistics.mean(nodes):.1f}" if nodes else "-"
        print(f"| {row['label']} | {n / row['cpu']:.2f} | {1e3 * row['cpu'] / n:.0f} | {mean_nodes} | "
              f"{spread(lost, '.2f')} | "
              f"{spread(relative, '.1e')} | {spread(proven, '.2f')} | "
              f"{', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} |")


def per_household(args) -> None:
    settings = OptimizerSettings()
    t0 = time.perf_counter()
    frames = synthetic_frames(
        args.per_household, n_securities=args.securities, n_lots=args.lots, n_accounts=args.accounts, as_of=AS_OF
    )
    risk, t_risk = None, 0.0
    if args.risk:
        sec = frames["dim_securities"]
        history = synthetic_price_history(sec.security_id.tolist(), dict(zip(sec.security_id, sec.gics_sector)))
        t1 = time.perf_counter()
        risk = estimate_risk_model(history, sec)
        t_risk = time.perf_counter() - t1
    t1 = time.perf_counter()
    problems = household_problems_from_marts(frames, AS_OF, settings, risk_model=risk)
    t_marts = time.perf_counter() - t1
    print(f"{args.per_household} households, {args.securities} securities, ~{args.lots} lots, {args.accounts} accounts"
          f"{', risk model (' + format(t_risk, '.2f') + ' s to estimate)' if risk else ''}; "
          f"synthetic marts {t1 - t0:.1f} s, marts -> problems {t_marts:.2f} s; median of {args.repeats} runs each\n")
    print("| household | lots | columns (binary) | rows | Pyomo path ms (form + build + solve) | raw highspy floor ms "
          "(form + pass + solve) | ratio | B&B nodes |")
    print("|---|---|---|---|---|---|---|---|")
    pyomo_ms, raw_ms = [], []
    for problem in problems:
        def pyomo_path():
            form = household_standard_form(problem, settings)
            model = build_household_model(problem, settings, form)
            return form, solve_household_model(model, settings)

        def raw_path():
            form = household_standard_form(problem, settings)
            return raw_solve(form, settings, "branch_and_bound")

        t_pyomo, (form, result) = timed(pyomo_path, args.repeats)
        t_raw, raw_obj = timed(raw_path, args.repeats)
        assert abs(result.objective - raw_obj) <= 1e-6 * max(1.0, abs(raw_obj)) + 1e-3, (result.objective, raw_obj)
        pyomo_ms.append(1e3 * t_pyomo)
        raw_ms.append(1e3 * t_raw)
        print(f"| {problem.household_id} | {len(problem.lots)} | {form.num_col} ({int(form.col_binary.sum())}) | "
              f"{form.num_row} | {1e3 * t_pyomo:.0f} | {1e3 * t_raw:.0f} | {t_pyomo / t_raw:.2f}x | {result.nodes} |")
    med_p, med_r = statistics.median(pyomo_ms), statistics.median(raw_ms)
    print(f"| **median** | | | | **{med_p:.0f}** | **{med_r:.0f}** | **{med_p / med_r:.2f}x** | |")
    cpu = []  # CPU seconds (process_time: wall time on this shared machine swings +-20%), best of --repeats
    for _ in range(args.repeats):
        t1 = time.process_time()
        trades, outcomes = optimize_households(problems, settings)
        cpu.append(time.process_time() - t1)
    print(f"\noptimize_households, 1 worker, {len(problems)} households: {min(cpu):.2f} s CPU (best of "
          f"{args.repeats}) = {len(problems) / min(cpu):.2f} households/s/core (status "
          f"{outcomes.status.value_counts().to_dict()}, {len(trades)} trades; includes rounding and trade rows)")
    if args.warm:
        next_day(args, frames, problems, settings, risk)


def next_day(args, frames, problems, settings, risk) -> None:
    """Day 2: prices moved ~1% (seeded); cold vs warm start from day 1's root basis."""
    bases: dict = {}
    optimize_households(problems, settings, basis_sink=bases)
    moved = dict(frames)
    sec = frames["dim_securities"].copy()
    sec["price"] = sec["price"] * np.exp(np.random.default_rng(99).normal(0.0, 0.01, len(sec)))
    lots = frames["fct_lots"].copy()
    lots["price"] = lots["security_id"].map(sec.set_index("security_id")["price"])
    moved["dim_securities"], moved["fct_lots"] = sec, lots
    day2 = household_problems_from_marts(moved, AS_OF + dt.timedelta(days=1), settings, risk_model=risk)
    print("\nNext day (prices moved ~1%), Pyomo path, cold HiGHS vs the previous day's root basis:\n")
    print("| household | cold ms | warm ms | ratio | root LP iterations cold | warm | same objective |")
    print("|---|---|---|---|---|---|---|")
    cold_ms, warm_ms = [], []
    for problem in day2:
        def solve(warm=None):
            form = household_standard_form(problem, settings)
            model = build_household_model(problem, settings, form)
            return solve_household_model(model, settings, warm)

        t_cold, cold = timed(solve, args.repeats)
        t_warm, warm = timed(lambda: solve(bases.get(problem.household_id)), args.repeats)
        same = abs(cold.objective - warm.objective) <= 1e-6 * max(1.0, abs(cold.objective))
        cold_ms.append(1e3 * t_cold)
        warm_ms.append(1e3 * t_warm)
        print(f"| {problem.household_id} | {1e3 * t_cold:.0f} | {1e3 * t_warm:.0f} | {t_cold / t_warm:.2f}x | "
              f"{cold.root_iterations} | {warm.root_iterations} | {same} |")
    mc, mw = statistics.median(cold_ms), statistics.median(warm_ms)
    print(f"| **median** | **{mc:.0f}** | **{mw:.0f}** | **{mc / mw:.2f}x** | | | |")
    for label, warm in (("cold", None), ("warm", bases)):
        t1 = time.perf_counter()
        optimize_households(day2, settings, warm_starts=warm)
        wall = time.perf_counter() - t1
        print(f"optimize_households day 2, {label}: {wall:.2f} s = {len(day2) / wall:.2f} households/s/core")


if __name__ == "__main__":
    main()
