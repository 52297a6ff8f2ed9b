"""optimize_households: one model per household, each isolated from the others' failures."""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

import pandas as pd
from pyomo.common.gc_manager import PauseGC

from optimization.data import HouseholdProblem
from optimization.extract import (
    TRADE_COLUMNS,
    drift_after,
    drift_before,
    estimated_tax,
    extract_quantities,
    tracking_error_after,
    tracking_error_before,
    round_quantities,
    trade_rows,
    trades_frame,
)
from optimization.model import (
    InfeasibleRequest,
    build_household_model,
    household_standard_form,
    release_household_model,
)
from optimization.settings import OptimizerSettings
from optimization.solve import SolveStatus, solve_household_model
from optimization.warm import WarmStart

OUTCOME_COLUMNS = [
    "household_id", "status", "termination", "objective", "build_seconds", "solve_seconds", "lot_count",
    "variable_count", "constraint_count", "drift_before", "drift_after", "estimated_tax", "trade_count", "message",
    # added for issue 5 (annualised ex-ante tracking error vs target; NaN without a risk model)
    "tracking_error_before", "tracking_error_after",
    # relative MIP gap at the end of the branch-and-bound (0 for a pure LP; NaN when not solved)
    "mip_gap",
    # the root LP started from the previous day's basis (optimization.warm), and its simplex iterations
    "warm_started", "root_iterations",
    # proven lower bound on the objective (the objective itself for a pure LP; NaN when not solved):
    # objective - objective_bound is the dollar gap the direction search left (settings
    # direction_gap_dollars, direction_search)
    "objective_bound",
]
WARM_START_KEY = "_warm_start"  # the outcome dict's slot for the day's basis (not a column)


def optimize_household(
    problem: HouseholdProblem, settings: OptimizerSettings = OptimizerSettings(), warm_start: "WarmStart | None" = None,
) -> tuple[list[tuple], dict]:
    """(trade rows, outcome) for one household. Never raises: failures become the outcome.
    ``warm_start``: the household's basis from its previous solve; today's is in outcome[WARM_START_KEY].

    Python's cyclic GC is paused for the household: its model is tens of thousands of objects, and
    every collection during the solve and the extraction would rescan them (measured: 15-17% of a
    daily-run household's time). Its model's reference cycles are broken when it is done
    (release_household_model), so reference counting frees it at once instead of a GC pass over
    ~80,000 objects after it (another ~15%)."""
    try:
        with PauseGC(), household_wall_clock(settings.household_wall_seconds):
            return _optimize_household(problem, settings, warm_start)
    except HouseholdOverran as exc:
        outcome = _new_outcome(problem)
        outcome.update(status="time_limit", termination="household wall-clock guard", message=f"no trades: {exc}")
        return [], outcome


class HouseholdOverran(BaseException):
    """A household's processing ran past settings.household_wall_seconds. A BaseException, like
    KeyboardInterrupt, so that the per-stage ``except Exception`` inside does not swallow it."""


@contextlib.contextmanager
def household_wall_clock(seconds: float):
    """Raise HouseholdOverran inside the block once ``seconds`` of wall time have passed. HiGHS has
    its own time limit; this catches what runs in Python around it (a loop that never ends hung a
    whole shard once: docs/scale.md). Only in a process's main thread (signals go there); elsewhere
    it guards nothing."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def overran(signum, frame):
        raise HouseholdOverran(f"household processing exceeded its {seconds:g} s wall-clock guard")

    previous = signal.signal(signal.SIGALRM, overran)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _new_outcome(problem: HouseholdProblem) -> dict:
    """A household's outcome before anything is known of its solve."""
    outcome = dict.fromkeys(OUTCOME_COLUMNS)
    outcome.update(
        household_id=problem.household_id, lot_count=len(problem.lots), estimated_tax=0.0, trade_count=0,
        build_seconds=0.0, solve_seconds=0.0, objective=math.nan, drift_before=math.nan, drift_after=math.nan,
        tracking_error_before=math.nan, tracking_error_after=math.nan, mip_gap=math.nan,
        warm_started=False, root_iterations=0, objective_bound=math.nan,
    )
    return outcome


def _optimize_household(problem, settings, warm_start) -> tuple[list[tuple], dict]:
    built: list = []  # the household's Pyomo model, once built
    try:
        return _optimize_built(problem, settings, warm_start, built)
    finally:
        for model in built:  # freed now by reference counting, not later by a GC pass over it
            with contextlib.suppress(Exception):  # never a household's failure
                release_household_model(model)


def _optimize_built(problem, settings, warm_start, built: list) -> tuple[list[tuple], dict]:
    outcome = _new_outcome(problem)
    messages = list(problem.notes)
    stage = "validate"
    try:
        if problem.overrides:
            settings = settings.with_overrides(problem.overrides)
            messages.append("household settings: " + ", ".join(f"{k}={v:g}" for k, v in problem.overrides))
        problem.validate()
        outcome["drift_before"] = drift_before(problem)
        outcome["tracking_error_before"] = tracking_error_before(problem)
        stage = "build"
        t0 = time.perf_counter()
        form = household_standard_form(problem, settings)
        model = build_household_model(problem, settings, form)
        built.append(model)
        outcome["build_seconds"] = time.perf_counter() - t0
        messages = messages[len(problem.notes):] + list(form.facts.notes)
        stage = "solve"
        result = solve_household_model(model, settings, warm_start)
        outcome[WARM_START_KEY] = result.warm_start
        outcome.update(
            status=result.status.value, termination=result.termination, solve_seconds=result.solve_seconds,
            variable_count=result.variable_count, constraint_count=result.constraint_count,
            mip_gap=result.mip_gap if result.mip_gap is not None else (0.0 if not result.binary_count else math.nan),
            warm_started=result.warm_started, root_iterations=result.root_iterations or 0,
        )
        if result.objective is not None:  # also a gap_limit solution: its objective and bound are facts
            outcome.update(objective=result.objective, objective_bound=result.objective_bound)
        if result.status != SolveStatus.OPTIMAL:
            messages.append(f"no trades: solver ended {result.termination}")
            outcome["message"] = "; ".join(messages)
            return [], outcome
        stage = "extract"
        facts = form.facts
        lp = extract_quantities(model)
        rounded, notes = round_quantities(problem, facts, lp, settings)
        messages.extend(notes)
        lp_drift, lp_tax = drift_after(problem, facts, lp), estimated_tax(facts, lp)
        after_drift, after_tax = drift_after(problem, facts, rounded), estimated_tax(facts, rounded)
        messages.append(
            f"rounding: drift_after {lp_drift:.6f} -> {after_drift:.6f}, estimated_tax {lp_tax:.2f} -> {after_tax:.2f}"
        )
        if result.binary_count:
            messages.append(
                f"{result.binary_count} same-day wash-sale switches, {result.nodes} branch-and-bound nodes"
            )
        rows = trade_rows(problem, facts, rounded)
        outcome.update(
            drift_after=after_drift, estimated_tax=after_tax, trade_count=len(rows),
            tracking_error_after=tracking_error_after(problem, facts, rounded),
        )
        outcome["message"] = "; ".join(messages)
        return rows, outcome
    except InfeasibleRequest as exc:
        messages.append(f"no trades: {exc}")
        outcome.update(status=SolveStatus.INFEASIBLE.value, termination="infeasible before solve")
        outcome["message"] = "; ".join(messages)
        return [], outcome
    except Exception as exc:  # noqa: BLE001 - one household must never stop the others
        messages.append(f"{stage} failed: {type(exc).__name__}: {exc}")
        outcome.update(status=SolveStatus.ERROR.value, termination=outcome["termination"] or "not solved")
        outcome["message"] = "; ".join(messages)
        return [], outcome


def optimize_households(
    problems: Sequence[HouseholdProblem], settings: OptimizerSettings = OptimizerSettings(),
    warm_starts: Mapping[str, "WarmStart"] | None = None, basis_sink: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(trades, outcomes) for all households; see optimization/README.md for the columns.

    ``warm_starts``: household_id -> yesterday's basis; ``basis_sink``: filled with today's."""
    problems = sorted(problems, key=lambda p: p.household_id)
    warm = [(warm_starts or {}).get(p.household_id) for p in problems]
    if settings.workers > 1 and len(problems) > 1:
        try:
            # spawn, not fork: the caller (a Dagster run) may hold threads; workers import this
            # package once (about 2.5 s) and then take households in chunks.
            context = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(max_workers=settings.workers, mp_context=context) as pool:
                chunk = max(1, len(problems) // (4 * settings.workers))
                results = list(pool.map(optimize_household, problems, repeat(settings), warm, chunksize=chunk))
        except Exception:  # noqa: BLE001 - a broken pool falls back to this process
            results = [optimize_household(p, settings, w) for p, w in zip(problems, warm)]
    else:
        results = [optimize_household(p, settings, w) for p, w in zip(problems, warm)]
    for _, outcome in results:
        basis = outcome.pop(WARM_START_KEY, None)
        if basis_sink is not None and basis is not None:
            basis_sink[outcome["household_id"]] = basis
    rows = [row for trades, _ in results for row in trades]
    outcomes = pd.DataFrame([outcome for _, outcome in results], columns=OUTCOME_COLUMNS)
    for col in ("objective", "build_seconds", "solve_seconds", "drift_before", "drift_after", "estimated_tax",
                "tracking_error_before", "tracking_error_after", "mip_gap", "objective_bound"):
        outcomes[col] = outcomes[col].astype(float)
    outcomes["warm_started"] = outcomes["warm_started"].fillna(False).astype(bool)
    for col in ("lot_count", "variable_count", "constraint_count", "trade_count", "root_iterations"):
        outcomes[col] = outcomes[col].fillna(0).astype(int)
    return trades_frame(rows), outcomes


__all__ = ["optimize_household", "optimize_households", "OUTCOME_COLUMNS", "TRADE_COLUMNS"]
