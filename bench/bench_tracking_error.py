"""Linearised tracking error vs the exact quadratic, on synthetic direct-index households.

    .venv/bin/python -u bench/bench_tracking_error.py --households 3     # about 10 min on the dev machine
    .venv/bin/python -u bench/bench_tracking_error.py --households 1 --qp   # + HiGHS QP attempt

For each household (500 names, 4,000 lots, 2 accounts; risk model estimated from a synthetic
3-year price history):
1. "lin": the optimizer's model as configured (secant linearisation of TE^2, README
   "Tracking error"), solved as usual (LP branch-and-bound over the same-day wash-sale switches);
   its solution is scored with the EXACT objective (linearised risk cost replaced by
   risk_aversion x V_after x TE^2 computed from the risk model);
2. "fine": the same with 20 geometric breakpoints (1e-5 .. 0.25) on both parts, scored the same way;
3. "lower bound": the same MIP with the max-of-tangents under-estimate of every square on those 20
   points: its optimum is a lower bound on the exact (MIQP) optimum.
The exact optimum lies in [lower bound, min(exact lin, exact fine)]; "lin - lower" bounds what the
linearisation costs. --qp also tries HiGHS's QP solver on the exact problem with the switches
fixed at lin's values (HiGHS has no MIQP); on these models it did not converge (docs/optimizer-benchmark.md).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import highspy  # noqa: E402
import numpy as np  # noqa: E402

from optimization import (  # noqa: E402
    OptimizerSettings,
    build_household_model,
    estimate_risk_model,
    household_problems_from_marts,
    household_standard_form,
    solve_household_model,
)
from optimization.risk import synthetic_price_history  # noqa: E402
from optimization.solve import highs_from_arrays  # noqa: E402
from optimization.testing import synthetic_frames  # noqa: E402

AS_OF = dt.date(2026, 3, 2)


def risk_pieces(form, problem, priced=True):
    """(te cost vector of the linearisation, active-dollar map rows, factor exposure columns)."""
    n = form.num_col
    te_cost = np.zeros(n)
    for name in ("specific_risk", "factor_risk") if priced else ():
        cols, coefs = form.objective_terms[name]
        np.add.at(te_cost, cols, coefs * form.risk_aversion)
    n_sec = len(problem.security_ids)
    K = form.tiers["security_over"].lower.shape[1]
    over = form.cols("security_over").reshape(-1, K)[:n_sec]
    under = form.cols("security_under").reshape(-1, K)[:n_sec]
    sw = [problem.security_ids.index(s) for s in form.col_blocks["harvest_relief"].labels]
    h_over = form.cols("harvest_over").reshape(-1, K)
    h_under = form.cols("harvest_under").reshape(-1, K)
    # active dollars of security i = sum over - sum under (+ the harvest branch's)
    entries = [(i, c, 1.0) for i in range(n_sec) for c in over[i]]
    entries += [(i, c, -1.0) for i in range(n_sec) for c in under[i]]
    entries += [(i, c, 1.0) for p, i in enumerate(sw) for c in h_over[p]]
    entries += [(i, c, -1.0) for p, i in enumerate(sw) for c in h_under[p]]
    return te_cost, entries, form.cols("factor_exposure") if priced else None


def exact_risk(x, form, problem, entries, fac_cols):
    V = form.facts.value_after
    risk = problem.risk
    a = np.zeros(len(problem.security_ids))
    for i, c, s in entries:
        a[i] += s * x[c]
    a /= V
    y = x[fac_cols]
    return float(y @ risk.factor_cov @ y + (risk.specific_var * a * a).sum()), a


def solve_exact_qp(problem, settings, x_lin, form_lin):
    """The exact QP, wash-sale switches fixed at the linearised solution's; (objective, x, seconds, status).

    Built on the standard form WITHOUT the risk pricing (risk_aversion 0: drift tiers only), plus
    columns a_i (active weight) and y_f (factor exposure), rows V a_i = active dollars of i and
    y_f = sum_i B_if a_i, and the Hessian 2 ra V (F on y, diag(d) on a).
    """
    ra = form_lin.risk_aversion
    form = household_standard_form(problem, replace(settings, risk_aversion=0.0))
    V = form.facts.value_after
    n, n_sec = form.num_col, len(problem.security_ids)
    B, F, d = problem.risk.exposures, problem.risk.factor_cov, problem.risk.specific_var
    n_fac = B.shape[1]
    col_lower, col_upper = form.col_lower.copy(), form.col_upper.copy()
    lin_switch = dict(zip(form_lin.col_blocks["wash_sale_switch"].labels, x_lin[form_lin.cols("wash_sale_switch")]))
    for j, g in zip(form.cols("wash_sale_switch"), form.col_blocks["wash_sale_switch"].labels):
        col_lower[j] = col_upper[j] = round(lin_switch[g])
    _, entries, _ = risk_pieces(form, problem, priced=False)
    a_col = n + np.arange(n_sec)
    y_col = n + n_sec + np.arange(n_fac)
    cost = np.concatenate([form.col_cost, np.zeros(n_sec + n_fac)])
    lower = np.concatenate([col_lower, np.full(n_sec + n_fac, -np.inf)])
    upper = np.concatenate([col_upper, np.full(n_sec + n_fac, np.inf)])
    rows = [[] for _ in range(n_sec)]
    for i, c, s in entries:
        rows[i].append((c, -s))
    a_start, a_index, a_value = list(form.a_row_start), list(form.a_col), list(form.a_val)
    for i in range(n_sec):
        row = sorted(rows[i]) + [(a_col[i], V)]
        a_index += [c for c, _ in row]
        a_value += [v for _, v in row]
        a_start.append(len(a_index))
    for f in range(n_fac):
        nz = np.flatnonzero(B[:, f])
        a_index += [int(a_col[i]) for i in nz] + [int(y_col[f])]
        a_value += [-B[i, f] for i in nz] + [1.0]
        a_start.append(len(a_index))
    h = highs_from_arrays(
        cost, lower, upper, np.zeros(len(cost), bool),
        np.concatenate([form.row_lower, np.zeros(n_sec + n_fac)]),
        np.concatenate([form.row_upper, np.zeros(n_sec + n_fac)]),
        np.array(a_start), np.array(a_index), np.array(a_value), settings,
    )
    h.setOptionValue("time_limit", 120.0)
    # Hessian (HiGHS: min c'x + 1/2 x'Qx; lower triangle, column-wise)
    q_start, q_index, q_value = [0] * (n + 1), [], []
    for i in range(n_sec):
        q_index.append(int(a_col[i]))
        q_value.append(2 * ra * V * d[i])
        q_start.append(len(q_index))
    for f in range(n_fac):
        for g in range(f, n_fac):
            q_index.append(int(y_col[g]))
            q_value.append(2 * ra * V * F[g, f])
        q_start.append(len(q_index))
    hess = highspy.HighsHessian()
    hess.dim_ = len(cost)
    hess.format_ = highspy.HessianFormat.kTriangular
    hess.start_ = np.array(q_start, dtype=np.int32)
    hess.index_ = np.array(q_index, dtype=np.int32)
    hess.value_ = np.array(q_value, dtype=float)
    h.passHessian(hess)
    t0 = time.perf_counter()
    h.run()
    seconds = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus())
    x = np.asarray(h.getSolution().col_value, dtype=float)
    a = x[a_col]
    y = x[y_col]
    var = float(y @ F @ y + (d * a * a).sum())
    return float(h.getInfo().objective_function_value), var, seconds, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=4)
    parser.add_argument("--securities", type=int, default=500)
    parser.add_argument("--lots", type=int, default=4000)
    parser.add_argument("--accounts", type=int, default=2)
    parser.add_argument("--risk-aversion", type=float, default=None)
    parser.add_argument("--fine-points", type=int, default=20, help="breakpoints of the fine secant/tangent models")
    parser.add_argument("--qp", action="store_true", help="also try HiGHS's QP solver (switches fixed)")
    args = parser.parse_args()

    settings = OptimizerSettings() if args.risk_aversion is None else OptimizerSettings(risk_aversion=args.risk_aversion)
    frames = synthetic_frames(args.households, n_securities=args.securities, n_lots=args.lots,
                              n_accounts=args.accounts, as_of=AS_OF)
    sec = frames["dim_securities"]
    history = synthetic_price_history(sec.security_id.tolist(), dict(zip(sec.security_id, sec.gics_sector)), seed=3)
    t0 = time.perf_counter()
    risk = estimate_risk_model(history, sec)
    print(f"risk model: {len(risk.security_ids)} securities, {len(risk.factor_names)} factors, "
          f"{history.price_date.nunique()} days, estimated in {time.perf_counter() - t0:.2f} s; "
          f"risk_aversion {settings.risk_aversion}\n")
    problems = household_problems_from_marts(frames, AS_OF, settings, risk_model=risk)
    fine = np.geomspace(1e-5, 0.25, args.fine_points)
    fine_secant = replace(settings, specific_risk_breakpoints=tuple(fine), factor_risk_breakpoints=tuple(fine),
                          time_limit_seconds=300.0)
    fine_tangent = replace(fine_secant, risk_linearization="tangent")
    header = ["household", "TE before", "TE after", "lin TE^2 / exact", "exact obj (lin)", "exact obj (fine)",
              "lower bound", "lin - lower ($)", "lin - lower (% risk $)", "solve lin s", "solve fine s"]
    if args.qp:
        header += ["HiGHS QP (switches fixed)", "QP s"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for problem in problems:
        run = {}
        for name, st in (("lin", settings), ("fine", fine_secant), ("tangent", fine_tangent)):
            form = household_standard_form(problem, st)
            model = build_household_model(problem, st, form)
            t0 = time.perf_counter()
            result = solve_household_model(model, st)
            seconds = time.perf_counter() - t0
            assert result.status.value == "optimal", result
            x = np.array([v.value or 0.0 for v in model.col_vars])
            te_cost, entries, fac_cols = risk_pieces(form, problem)
            V, ra = form.facts.value_after, form.risk_aversion
            var_exact, _ = exact_risk(x, form, problem, entries, fac_cols)
            run[name] = dict(
                form=form, x=x, seconds=seconds, objective=result.objective, var=var_exact,
                var_lin=float(te_cost @ x) / (ra * V),
                exact=float((form.col_cost - te_cost) @ x) + ra * V * var_exact,
            )
        lin, fine_run, lower = run["lin"], run["fine"], run["tangent"]["objective"]
        te_before = problem.risk.tracking_error(problem.holding_values / problem.market_value - problem.target_weight)
        gap = lin["exact"] - lower
        risk_dollars = settings.risk_aversion * lin["form"].facts.value_after * lin["var"]
        cells = [
            problem.household_id, f"{te_before:.3%}", f"{np.sqrt(lin['var']):.3%}", f"{lin['var_lin'] / lin['var']:.2f}",
            f"{lin['exact']:,.2f}", f"{fine_run['exact']:,.2f}", f"{lower:,.2f}", f"{gap:,.2f}",
            f"{gap / risk_dollars:.1%}", f"{lin['seconds']:.2f}", f"{fine_run['seconds']:.2f}",
        ]
        if args.qp:
            qp_obj, var_qp, qp_seconds, status = solve_exact_qp(problem, settings, lin["x"], lin["form"])
            cells += [f"{qp_obj:,.2f} ({status}, TE {np.sqrt(max(var_qp, 0)):.3%})", f"{qp_seconds:.1f}"]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
