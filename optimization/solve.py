"""Solve a household Pyomo model with HiGHS; map the termination to SolveStatus.

Two interfaces, same model, same answer (a test checks it):
- "direct" (default): `compile_linear_model` reads the model's active Vars, Constraints and
  Objective into sparse arrays (fast path for LinearExpression bodies, generic fallback through
  Pyomo's standard repn for anything else) and hands them to highspy in one passModel call;
  optimal values are loaded back into the Pyomo Vars.
- "appsi": Pyomo's persistent HiGHS interface (pyomo.contrib.appsi.solvers.Highs). Several
  times slower on large households; kept as the reference path.
Trades are only ever extracted after SolveStatus.OPTIMAL.
"""

from __future__ import annotations

import enum
import heapq
import math
import operator
import time
from dataclasses import dataclass

import highspy
import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.base.expression import ExpressionData, ScalarExpression
from pyomo.core.base.var import VarData
from pyomo.core.expr.numeric_expr import (
    LinearExpression,
    MonomialTermExpression,
    NegationExpression,
    ProductExpression,
    SumExpression,
)
from pyomo.core.expr.numvalue import native_numeric_types
from pyomo.repn import generate_standard_repn

from optimization.settings import OptimizerSettings
from optimization.warm import WarmStart, basis_for, capture

INF = float("inf")


class SolveStatus(str, enum.Enum):
    OPTIMAL = "optimal"
    INFEASIBLE = "infeasible"
    TIME_LIMIT = "time_limit"
    # a feasible solution whose proven gap is above the accepted tolerance (direction_search
    # "two_solve"): not optimal, so no trades are written from it
    GAP_LIMIT = "gap_limit"
    ERROR = "error"


@dataclass(frozen=True)
class SolveResult:
    status: SolveStatus
    termination: str  # the solver's own words
    objective: float | None
    solve_seconds: float  # Pyomo -> solver translation + solver run + loading values
    variable_count: int
    constraint_count: int
    binary_count: int = 0
    mip_gap: float | None = None
    nodes: int = 0  # branch-and-bound nodes (0 for a pure LP)
    objective_bound: float | None = None  # proven lower bound (= objective for a pure LP)
    warm_started: bool = False  # the root LP started from a previous basis (optimization.warm)
    root_iterations: int | None = None  # simplex iterations of the root LP
    warm_start: "WarmStart | None" = None  # the root LP's final basis, for tomorrow


_HIGHS_STATUS = {
    highspy.HighsModelStatus.kOptimal: SolveStatus.OPTIMAL,
    highspy.HighsModelStatus.kInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kUnboundedOrInfeasible: SolveStatus.INFEASIBLE,
    highspy.HighsModelStatus.kTimeLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kIterationLimit: SolveStatus.TIME_LIMIT,
    highspy.HighsModelStatus.kSolutionLimit: SolveStatus.TIME_LIMIT,
}


# ---------------------------------------------------------------------------------------------
# Pyomo model -> arrays


@dataclass(eq=False)
class CompiledLP:
    variables: list  # VarData in column order
    constraints: list  # ConstraintData in row order
    col_lower: np.ndarray
    col_upper: np.ndarray
    col_cost: np.ndarray
    integrality: np.ndarray  # bool
    row_lower: np.ndarray
    row_upper: np.ndarray
    a_start: np.ndarray  # CSR
    a_index: np.ndarray
    a_value: np.ndarray
    objective_offset: float
    sense: int  # 1 minimize, -1 maximize

    @property
    def num_col(self) -> int:
        return len(self.variables)

    @property
    def num_row(self) -> int:
        return len(self.constraints)


def _collect(expr, mult, var_col, cols, vals) -> float:
    """Append mult * (linear part of expr) to cols/vals; return mult * constant part.

    var_col maps id(VarData) -> column for the free variables; a variable missing from it is
    fixed and contributes its value to the constant.
    """
    cls = expr.__class__
    if cls in native_numeric_types:
        return mult * expr
    if cls is LinearExpression or cls is SumExpression:
        const = 0.0
        get = var_col.get
        for arg in expr.args:
            acls = arg.__class__
            if acls is MonomialTermExpression:
                coef, var = arg._args_
                if coef.__class__ not in native_numeric_types:
                    coef = pyo.value(coef)
                col = get(id(var))
                if col is None:
                    const += mult * coef * pyo.value(var)
                else:
                    cols.append(col)
                    vals.append(mult * coef)
            elif acls in native_numeric_types:
                const += mult * arg
            else:
                const += _collect(arg, mult, var_col, cols, vals)
        return const
    if isinstance(expr, VarData):
        col = var_col.get(id(expr))
        if col is None:
            return mult * pyo.value(expr)
        cols.append(col)
        vals.append(mult)
        return 0.0
    if cls is MonomialTermExpression:
        coef, var = expr._args_
        return _collect(var, mult * pyo.value(coef), var_col, cols, vals)
    if isinstance(expr, (ExpressionData, ScalarExpression)):
        return _collect(expr.expr, mult, var_col, cols, vals)
    if cls is NegationExpression:
        return _collect(expr.args[0], -mult, var_col, cols, vals)
    if cls is ProductExpression:
        a, b = expr.args
        if not _is_variable(a):
            return _collect(b, mult * pyo.value(a), var_col, cols, vals)
        if not _is_variable(b):
            return _collect(a, mult * pyo.value(b), var_col, cols, vals)
    if not _is_variable(expr):
        return mult * pyo.value(expr)
    repn = generate_standard_repn(expr, quadratic=False, compute_values=True)
    if not repn.is_linear():
        raise ValueError(f"nonlinear expression in a linear model: {expr}")
    for coef, var in zip(repn.linear_coefs, repn.linear_vars):
        cols.append(var_col[id(var)])
        vals.append(mult * pyo.value(coef))
    return mult * pyo.value(repn.constant)


def _is_variable(expr) -> bool:
    return expr.__class__ not in native_numeric_types and expr.is_potentially_variable()


def compile_linear_model(model: pyo.ConcreteModel, use_standard_form: bool = True) -> CompiledLP:
    """The active linear (MI)LP of a Pyomo model as arrays, in declaration order.

    A model from build_household_model carries the standard form it was built from; when the
    model's structure is provably unchanged since (`exported_standard_form`), the matrix and row
    bounds come from there, the column bounds from the Vars and the costs from the current Params
    (the standard-form export). Anything else (an edited, added or deactivated constraint, a fixed
    variable, a replaced objective) is read from the Pyomo objects themselves.
    """
    with PauseGC():
        lp = exported_standard_form(model) if use_standard_form else None
        return lp if lp is not None else _compile_linear_model(model)


def exported_standard_form(model: pyo.ConcreteModel) -> CompiledLP | None:
    """The model as arrays straight from its standard form, or None when that is not safe."""
    from optimization.model import objective_vector

    sf = getattr(model, "standard_form", None)
    rows = getattr(model, "row_constraints", None)
    if sf is None or rows is None or len(rows) != sf.num_row:
        return None
    # every active constraint is one of the built rows, unchanged
    active = sum(len(c) for c in model.component_objects(pyo.Constraint, active=True, descend_into=True))
    if active != len(rows):
        return None
    for con, expr in zip(rows, model.built_row_exprs):
        if con.expr is not expr or not con.active:
            return None
    # the same variables, none fixed; the same objective expressions
    variables = model.col_vars
    if sum(len(v) for v in model.component_objects(pyo.Var, descend_into=True)) != len(variables):
        return None
    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if objectives != [model.total_cost] or model.total_cost.sense != pyo.minimize:
        return None
    names = list(sf.objective_terms)
    current = (model.total_cost.expr,) + tuple(getattr(model, n).expr for n in names) + tuple(
        model.security_drift_dollars[k].expr for k in model.TIERS) + tuple(
        model.sector_drift_dollars[k].expr for k in model.SECTOR_TIER) + tuple(
        model.asset_class_drift_dollars[k].expr for k in model.ASSET_CLASS_TIER)
    if len(current) != len(model.built_objective) or any(a is not b for a, b in zip(current, model.built_objective)):
        return None
    bounds = column_bounds(variables)
    if bounds is None:  # a fixed variable
        return None
    col_lower, col_upper = bounds
    return CompiledLP(
        variables=variables,
        constraints=rows,
        col_lower=col_lower,
        col_upper=col_upper,
        col_cost=objective_vector(model),
        integrality=np.asarray(sf.col_binary, dtype=bool),
        row_lower=np.asarray(sf.row_lower, dtype=float),
        row_upper=np.asarray(sf.row_upper, dtype=float),
        a_start=np.asarray(sf.a_row_start, dtype=np.int64),
        a_index=np.asarray(sf.a_col, dtype=np.int32),
        a_value=np.asarray(sf.a_val, dtype=float),
        objective_offset=0.0,
        sense=1,
    )


def column_bounds(variables: list) -> tuple[np.ndarray, np.ndarray] | None:
    """(lower, upper) of each Var as VarData.bounds resolves them (the tighter of the Var's own
    bound and its domain's; None as -inf/+inf), read in one pass; None when a Var is fixed.

    VarData.bounds costs two property calls and a domain lookup per Var; for bounds that are plain
    finite floats or None (what build_household_model sets) the same resolution is a numpy max/min
    against each domain's bounds, computed once per domain. Anything else (a Param or an
    expression as a bound, an infinite or nan one) goes through VarData.bounds itself."""
    if not variables:
        return np.zeros(0), np.zeros(0)
    lbs, ubs, domains, fixed = zip(*map(_VAR_FIELDS, variables))
    if any(fixed):
        return None
    if not set(map(type, lbs)).union(map(type, ubs)) <= _PLAIN_BOUND_TYPES:
        return _bounds_one_by_one(variables)
    own_lower = np.array(lbs, dtype=float)  # None -> nan
    own_upper = np.array(ubs, dtype=float)
    if (np.isnan(own_lower).sum() != lbs.count(None) or np.isnan(own_upper).sum() != ubs.count(None)
            or np.isposinf(own_lower).any() or np.isneginf(own_upper).any()):
        return _bounds_one_by_one(variables)  # a nan or a +inf lower / -inf upper bound: Pyomo raises
    own_lower[np.isnan(own_lower)] = -INF
    own_upper[np.isnan(own_upper)] = INF
    _, first, which = np.unique(np.fromiter(map(id, domains), dtype=np.uint64, count=len(domains)),
                                  return_index=True, return_inverse=True)
    per_domain = np.array([domains[i].bounds() for i in first.tolist()], dtype=float).reshape(-1, 2)
    domain_lower = np.where(np.isnan(per_domain[:, 0]), -INF, per_domain[:, 0])[which]
    domain_upper = np.where(np.isnan(per_domain[:, 1]), INF, per_domain[:, 1])[which]
    return np.maximum(own_lower, domain_lower), np.minimum(own_upper, domain_upper)


_VAR_FIELDS = operator.attrgetter("_lb", "_ub", "_domain", "_fixed")
_PLAIN_BOUND_TYPES = {float, int, type(None)}


def _bounds_one_by_one(variables: list) -> tuple[np.ndarray, np.ndarray]:
    bounds = [v.bounds for v in variables]  # one call per Var resolves both bounds
    col_lower = np.array([-INF if lb is None else lb for lb, _ in bounds], dtype=float)
    col_upper = np.array([INF if ub is None else ub for _, ub in bounds], dtype=float)
    return col_lower, col_upper


def _compile_linear_model(model: pyo.ConcreteModel) -> CompiledLP:
    variables = [v for v in model.component_data_objects(pyo.Var, descend_into=True) if not v.fixed]
    var_col = {id(v): j for j, v in enumerate(variables)}
    n = len(variables)
    bounds = [v.bounds for v in variables]
    col_lower = np.array([-INF if lb is None else lb for lb, _ in bounds], dtype=float)
    col_upper = np.array([INF if ub is None else ub for _, ub in bounds], dtype=float)
    integrality = np.array([v.is_integer() for v in variables], dtype=bool)

    constraints, row_lower, row_upper, starts = [], [], [], [0]
    cols: list[int] = []
    vals: list[float] = []
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        lb, body, ub = con.to_bounded_expression(evaluate_bounds=True)
        const = _collect(body, 1.0, var_col, cols, vals)
        constraints.append(con)
        row_lower.append(-INF if lb is None else lb - const)
        row_upper.append(INF if ub is None else ub - const)
        starts.append(len(cols))

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        raise ValueError(f"expected one active objective, found {len(objectives)}")
    obj = objectives[0]
    ocols: list[int] = []
    ovals: list[float] = []
    offset = _collect(obj.expr, 1.0, var_col, ocols, ovals)
    cost = np.zeros(n)
    np.add.at(cost, np.asarray(ocols, dtype=np.int64), np.asarray(ovals, dtype=float))

    a_start = np.asarray(starts, dtype=np.int64)
    a_index = np.asarray(cols, dtype=np.int32)
    a_value = np.asarray(vals, dtype=float)
    a_start, a_index, a_value = _merge_duplicates(a_start, a_index, a_value)
    return CompiledLP(
        variables=variables,
        constraints=constraints,
        col_lower=col_lower,
        col_upper=col_upper,
        col_cost=cost,
        integrality=integrality,
        row_lower=np.asarray(row_lower, dtype=float),
        row_upper=np.asarray(row_upper, dtype=float),
        a_start=a_start,
        a_index=a_index,
        a_value=a_value,
        objective_offset=float(offset),
        sense=1 if obj.sense == pyo.minimize else -1,
    )


def _merge_duplicates(start, index, value):
    """HiGHS rejects a column repeated in a row: sum such entries (rare: hand-written bodies)."""
    if len(index) == 0:
        return start, index, value
    row = np.repeat(np.arange(len(start) - 1), np.diff(start))
    order = np.lexsort((index, row))
    row_s, idx_s = row[order], index[order]
    dup = (row_s[1:] == row_s[:-1]) & (idx_s[1:] == idx_s[:-1])
    if not dup.any():
        return start, index, value
    first = np.concatenate([[True], ~dup])
    group = np.cumsum(first) - 1
    merged = np.zeros(int(first.sum()))
    np.add.at(merged, group, value[order])
    row_m, idx_m = row_s[first], idx_s[first]
    keep = merged != 0
    row_m, idx_m, merged = row_m[keep], idx_m[keep], merged[keep]
    new_start = np.searchsorted(row_m, np.arange(len(start)))
    return new_start.astype(np.int64), idx_m.astype(np.int32), merged


# ---------------------------------------------------------------------------------------------
# highspy


def highs_from_arrays(
    col_cost, col_lower, col_upper, integrality, row_lower, row_upper, a_start, a_index, a_value,
    settings: OptimizerSettings, offset: float = 0.0, sense: int = 1,
) -> highspy.Highs:
    """A Highs instance loaded with a row-wise (MI)LP and the optimizer's solver options."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(settings.time_limit_seconds))
    h.setOptionValue("mip_rel_gap", float(settings.mip_rel_gap))
    # HiGHS stops at whichever gap is met first: the branch-and-bound's own test (1e-6 is HiGHS's default)
    h.setOptionValue("mip_abs_gap", max(1e-6, float(settings.direction_gap_dollars)))
    h.setOptionValue("threads", 1)
    # the arrays straight into Highs::passModel (one copy, in C++), not through a HighsLp whose
    # every field assignment copies first (measured: 2.7 -> 0.4 ms for a 9,000-column household)
    integrality = np.asarray(integrality, dtype=bool)
    status = h.passModel(
        len(col_cost), len(row_lower), len(a_value), int(highspy.MatrixFormat.kRowwise),
        int(highspy.ObjSense.kMinimize if sense == 1 else highspy.ObjSense.kMaximize), float(offset),
        np.asarray(col_cost, dtype=float), np.asarray(col_lower, dtype=float), np.asarray(col_upper, dtype=float),
        np.asarray(row_lower, dtype=float), np.asarray(row_upper, dtype=float),
        np.asarray(a_start, dtype=np.int32), np.asarray(a_index, dtype=np.int32), np.asarray(a_value, dtype=float),
        np.where(integrality, int(highspy.HighsVarType.kInteger), int(highspy.HighsVarType.kContinuous)).astype(np.int32),
    )
    if status == highspy.HighsStatus.kError:
        raise RuntimeError("HiGHS rejected the model")
    return h


@dataclass
class _Outcome:
    status: SolveStatus
    termination: str
    objective: float | None
    x: np.ndarray | None
    mip_gap: float | None = None
    nodes: int = 0
    bound: float | None = None  # proven lower bound on the optimum (minimisation)


def _run_highs(h: highspy.Highs, integrality: np.ndarray) -> _Outcome:
    h.run()
    model_status = h.getModelStatus()
    status = _HIGHS_STATUS.get(model_status, SolveStatus.ERROR)
    info = h.getInfo()
    if status != SolveStatus.OPTIMAL:
        return _Outcome(status, h.modelStatusToString(model_status), None, None)
    objective = float(info.objective_function_value)
    mip = integrality.any()
    gap = float(info.mip_gap) if mip and math.isfinite(info.mip_gap) else None
    bound = float(info.mip_dual_bound) if mip else objective
    x = np.asarray(h.getSolution().col_value, dtype=float)
    return _Outcome(status, h.modelStatusToString(model_status), objective, x, gap, bound=bound)


class _TimeUp(Exception):
    pass


def _limit_run_to(h: highspy.Highs, deadline: float, floor: float = 1e-6) -> None:
    """Let the next h.run() end by ``deadline`` (perf_counter seconds). HiGHS measures time_limit
    against its object's total run time over all runs, not this run's: a limit of just the time
    left stopped the branch-and-bound at about half of settings.time_limit_seconds."""
    h.setOptionValue("time_limit", h.getRunTime() + max(floor, deadline - time.perf_counter()))


class _BranchAndBound:
    """Best-first LP branch-and-bound over the binary columns of a model loaded in `h` as an LP."""

    def __init__(self, h: highspy.Highs, binary: np.ndarray, settings: OptimizerSettings, deadline: float, form=None):
        self.h, self.binary, self.settings, self.deadline = h, binary, settings, deadline
        self.cols = np.flatnonzero(binary).astype(np.int32)
        self.form = form  # when given, the root LP's basis is kept (self.root_basis) for warm starts
        self.root_basis: WarmStart | None = None
        self.root_iterations: int | None = None
        self.best, self.best_x = math.inf, None  # incumbent: the best LP solution with integral switches
        # lowest bound of a node dropped because it could not beat the incumbent by more than the
        # tolerance (not because it was solved): it still bounds the optimum, so the gap reports it
        self.closed_within_tolerance = math.inf
        self.lp_count = 0

    def lp(self, lower, upper):
        """Re-solve with the switches' bounds set (warm start from the last basis)."""
        h = self.h
        h.changeColsBounds(len(self.cols), self.cols, lower, upper)
        _limit_run_to(h, self.deadline)
        h.run()
        self.lp_count += 1
        st = h.getModelStatus()
        if st == highspy.HighsModelStatus.kOptimal:
            obj, x = float(h.getInfo().objective_function_value), np.asarray(h.getSolution().col_value, dtype=float)
            self._keep_if_integral(obj, x)
            return obj, x
        if st in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
            return math.inf, None
        if st == highspy.HighsModelStatus.kTimeLimit:
            raise _TimeUp()
        raise RuntimeError(f"LP relaxation ended {h.modelStatusToString(st)}")

    def _keep_if_integral(self, obj, x):
        """Any LP solution whose switches are all 0 or 1 is a feasible household solution: keep the best
        one as the incumbent, whichever search step found it (a strong-branching child that was not
        the branch taken, a rounding, a node)."""
        z = x[self.cols]
        if obj < self.best and np.abs(z - np.round(z)).max(initial=0.0) <= 1e-6:
            self.best, self.best_x = obj, x

    def tolerance(self, best):
        """The accepted gap in dollars of objective: the relative gap, or the absolute one in
        dollars where that is looser (settings.direction_gap_dollars)."""
        if not math.isfinite(best):
            return 0.0
        return max(1e-6, self.settings.mip_rel_gap * abs(best), self.settings.direction_gap_dollars)

    def run(self) -> _Outcome:
        try:
            return self._search()
        except _TimeUp:
            return _Outcome(SolveStatus.TIME_LIMIT, "Time limit reached", None, None)

    def _search(self) -> _Outcome:
        n = len(self.cols)
        lower0, upper0 = np.zeros(n), np.ones(n)
        root_obj, root_x = self.lp(lower0, upper0)
        self.root_iterations = int(self.h.getInfo().simplex_iteration_count)
        if self.form is not None and root_x is not None:
            self.root_basis = capture(self.h, self.form)
        if root_x is None:
            return _Outcome(SolveStatus.INFEASIBLE, "Infeasible", None, None)
        if self.settings.direction_search == "two_solve":
            return self._two_solve(root_obj, root_x)
        # (bound, -switches fixed, tiebreak, fixings, node LP solution): best bound first; among equal
        # bounds (to the cent) the deepest node (a dive): many switches are free (both sides keep the bound)
        heap = [(root_obj, 0, 0, lower0, upper0, root_x)]
        counter, nodes = 1, 0
        while heap:
            if heap[0][0] >= self.best - self.tolerance(self.best):
                break
            if time.perf_counter() > self.deadline:
                raise _TimeUp()
            if nodes >= self.settings.max_branch_nodes:
                return _fallback_highs_mip(self.h, self.binary, self.cols, self.best_x, self.settings, self.deadline, nodes)
            bound, _, _, lower, upper, x = heapq.heappop(heap)
            nodes += 1
            z = x[self.cols]
            frac = np.abs(z - np.round(z))
            if frac.max() <= 1e-6:
                continue  # integral: already the incumbent if it is the best (lp keeps it)
            if nodes == 1 or nodes % 10 == 0:  # rounding heuristic: an early incumbent prunes the tree
                zr = np.round(z)
                self.lp(np.maximum(lower, zr), np.minimum(upper, zr))
                if bound >= self.best - self.tolerance(self.best):
                    self.closed_within_tolerance = min(self.closed_within_tolerance, bound)
                    continue  # the rounding closed this node's gap: no branching needed
            for obj, xc, lo, up in self._strong_branch(bound, lower, upper, frac):
                if obj < self.best - self.tolerance(self.best):
                    heapq.heappush(heap, (round(obj, 2), -int((lo == up).sum()), counter, lo, up, xc))
                    counter += 1
                else:
                    self.closed_within_tolerance = min(self.closed_within_tolerance, obj)
        if self.best_x is None:
            return _Outcome(SolveStatus.INFEASIBLE, "Infeasible", None, None, nodes=nodes)
        open_bounds = [item[0] for item in heap]
        return self._proven(min([self.best, self.closed_within_tolerance] + open_bounds), nodes)

    def _two_solve(self, root_obj, root_x) -> _Outcome:
        """Moehle et al.'s two-solve heuristic on the hull relaxation: each switch fixed to the side
        the root LP leans to (rounded), one re-solve, no search. The root LP stays a proven bound.
        A root whose switches are already 0 or 1 is the incumbent itself (lp kept it): one solve."""
        if self.best_x is not None:
            return self._proven(root_obj, 0)
        z = np.round(root_x[self.cols])
        self.lp(z, z)
        if self.best_x is None:
            return _Outcome(SolveStatus.INFEASIBLE, "Infeasible after fixing the directions", None, None, nodes=1)
        return self._proven(root_obj, 1)

    def _proven(self, lowest, nodes) -> _Outcome:
        """The incumbent with its proven bound: optimal when the gap is within the tolerance."""
        best = self.best
        gap = max(0.0, (best - lowest) / max(abs(best), 1e-9))
        if best - lowest <= self.tolerance(best):
            return _Outcome(SolveStatus.OPTIMAL, "Optimal", best, self.best_x, gap, nodes, bound=lowest)
        words = f"proven gap {best - lowest:.2f} above the accepted {self.tolerance(best):.2f}"
        return _Outcome(SolveStatus.GAP_LIMIT, words, best, self.best_x, gap, nodes, bound=lowest)

    def _strong_branch(self, bound, lower, upper, frac):
        """Children (objective, solution, lower, upper) of the best of the most fractional switches."""
        k = self.settings.strong_branching_candidates
        candidates = [j for j in np.argsort(-frac, kind="stable")[:k] if frac[j] > 1e-6]
        chosen, chosen_score = None, -1.0
        for j in candidates:
            children = []
            for value in (0.0, 1.0):
                lo, up = lower.copy(), upper.copy()
                lo[j] = up[j] = value
                children.append((*self.lp(lo, up), lo, up))
            gains = [min(obj, bound + 1e12) - bound for obj, _, _, _ in children]
            score = max(gains[0], 1e-9) * max(gains[1], 1e-9)
            if score > chosen_score:
                chosen, chosen_score = children, score
            if math.isinf(children[0][0]) or math.isinf(children[1][0]):
                break  # one side infeasible: branching here fixes the switch, take it
        return chosen


def branch_and_bound(h: highspy.Highs, binary: np.ndarray, settings: OptimizerSettings, deadline: float) -> _Outcome:
    """Best-first LP branch-and-bound over the binary columns of a model loaded in `h` as an LP.

    Why not HiGHS's own MIP: the household model is near-integral (the same-day wash-sale switches
    are formulated as a disjunctive hull), so a handful of warm-started LP re-solves close the gap;
    HiGHS's root machinery (presolve, probing, cuts, sub-MIPs) costs 5-10x more on these models.
    Branching: strong branching on the `strong_branching_candidates` most fractional switches
    (both children solved, the pair with the best product of bound gains kept). Stops when
    best - (lowest open bound) <= max(mip_rel_gap * |best|, 1e-6): HiGHS's own optimality test.
    Past settings.max_branch_nodes the incumbent is handed to HiGHS's MIP solver.
    """
    return _BranchAndBound(h, binary, settings, deadline).run()


def _fallback_highs_mip(h, binary, cols, incumbent, settings, deadline, nodes) -> _Outcome:
    h.changeColsBounds(len(cols), cols, np.zeros(len(cols)), np.ones(len(cols)))
    h.changeColsIntegrality(len(cols), cols, np.full(len(cols), highspy.HighsVarType.kInteger))
    _limit_run_to(h, deadline, floor=0.01)
    if incumbent is not None:
        sol = highspy.HighsSolution()
        sol.col_value = list(incumbent)
        sol.value_valid = True
        h.setSolution(sol)
    out = _run_highs(h, binary)
    out.nodes = nodes
    return out


def _solve_direct(model, settings: OptimizerSettings, warm_start: WarmStart | None = None) -> SolveResult:
    t0 = time.perf_counter()
    lp = compile_linear_model(model)
    # the standard-form export was used: columns and rows are the form's, so bases map by name
    form = model.standard_form if lp.constraints is getattr(model, "row_constraints", None) else None
    binary = lp.integrality & (lp.col_lower > -1) & (lp.col_upper < 2)
    use_bnb = settings.mip_solver == "branch_and_bound" and binary.any() and (binary == lp.integrality).all()
    h = highs_from_arrays(
        lp.col_cost, lp.col_lower, lp.col_upper, lp.integrality & ~use_bnb, lp.row_lower, lp.row_upper,
        lp.a_start, lp.a_index, lp.a_value, settings, lp.objective_offset, lp.sense,
    )
    warm = False
    if form is not None and warm_start is not None and not lp.integrality[~binary].any():
        warm = h.setBasis(basis_for(form, warm_start, lp.col_lower, lp.col_upper)) != highspy.HighsStatus.kError
    root_basis, root_iterations = None, None
    if use_bnb:
        # The LP re-solves start from the previous basis; presolve only slows the root down here.
        h.setOptionValue("presolve", "off")
        search = _BranchAndBound(h, binary, settings, t0 + settings.time_limit_seconds, form)
        out = search.run()
        root_basis, root_iterations = search.root_basis, search.root_iterations
    else:
        if warm:
            h.setOptionValue("presolve", "off")
        out = _run_highs(h, lp.integrality)
        if form is not None and out.status == SolveStatus.OPTIMAL and not lp.integrality.any():
            root_basis, root_iterations = capture(h, form), int(h.getInfo().simplex_iteration_count)
    if out.status == SolveStatus.OPTIMAL:
        for v, val in zip(lp.variables, out.x.tolist()):
            v.set_value(val, skip_validation=True)
    return SolveResult(
        status=out.status,
        termination=out.termination,
        objective=out.objective,
        solve_seconds=time.perf_counter() - t0,
        variable_count=lp.num_col,
        constraint_count=lp.num_row,
        binary_count=int(lp.integrality.sum()),
        mip_gap=out.mip_gap,
        nodes=out.nodes,
        objective_bound=out.bound,
        warm_started=warm,
        root_iterations=root_iterations,
        warm_start=root_basis,
    )


def _solve_appsi(model, settings: OptimizerSettings) -> SolveResult:
    from pyomo.contrib.appsi.base import TerminationCondition
    from pyomo.contrib.appsi.solvers import Highs

    t0 = time.perf_counter()
    solver = Highs()
    solver.config.time_limit = float(settings.time_limit_seconds)
    solver.config.mip_gap = float(settings.mip_rel_gap)
    solver.config.load_solution = False
    solver.highs_options = {"threads": 1}
    results = solver.solve(model)
    tc = results.termination_condition
    status = {
        TerminationCondition.optimal: SolveStatus.OPTIMAL,
        TerminationCondition.infeasible: SolveStatus.INFEASIBLE,
        TerminationCondition.infeasibleOrUnbounded: SolveStatus.INFEASIBLE,
        TerminationCondition.maxTimeLimit: SolveStatus.TIME_LIMIT,
        TerminationCondition.maxIterations: SolveStatus.TIME_LIMIT,
    }.get(tc, SolveStatus.ERROR)
    objective = None
    if status == SolveStatus.OPTIMAL:
        results.solution_loader.load_vars()
        objective = float(results.best_feasible_objective)
    n_var = sum(1 for v in model.component_data_objects(pyo.Var) if not v.fixed)
    n_bin = sum(1 for v in model.component_data_objects(pyo.Var) if v.is_integer() and not v.fixed)
    n_con = sum(1 for _ in model.component_data_objects(pyo.Constraint, active=True))
    return SolveResult(status, tc.name, objective, time.perf_counter() - t0, n_var, n_con, n_bin)


def solve_household_model(
    model: pyo.ConcreteModel, settings: OptimizerSettings = OptimizerSettings(), warm_start: WarmStart | None = None,
) -> SolveResult:
    """Solve; ``warm_start`` (a previous day's basis, optimization.warm) seeds the root LP when the
    model goes through the standard-form export. The result carries today's root basis."""
    if settings.solver_interface == "appsi":
        return _solve_appsi(model, settings)
    return _solve_direct(model, settings, warm_start)
