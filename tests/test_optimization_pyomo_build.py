"""The fast Pyomo build must be the model Pyomo's own API would build: every row the relational
expression Pyomo makes of (lower, body, upper), every Var the standard form's bounds, and a model
released after its household frees without the cyclic GC (the build takes Pyomo shortcuts for
speed: docs/optimizer-benchmark.md, seventh pass)."""

from __future__ import annotations

import datetime as dt
import gc
import math
import weakref

import pyomo.environ as pyo
from pyomo.core.expr.relational_expr import tuple_to_relational_expr

from optimization import OptimizerSettings, household_problems_from_marts
from optimization.model import build_household_model, household_standard_form, release_household_model
from optimization.testing import synthetic_frames

AS_OF = dt.date(2026, 3, 2)


def household_model():
    settings = OptimizerSettings()
    problem = household_problems_from_marts(synthetic_frames(1, as_of=AS_OF, n_securities=60, n_lots=240), AS_OF,
                                            settings)[0]
    form = household_standard_form(problem, settings)
    return form, build_household_model(problem, settings, form)


def test_every_row_is_the_relational_expression_pyomo_makes_of_its_bounds():
    form, m = household_model()
    checked = 0
    for con in m.component_data_objects(ctype=pyo.Constraint):
        lo, hi = con.lower, con.upper
        expected = tuple_to_relational_expr((None if lo is None else lo, con.body, None if hi is None else hi))
        got = con.expr
        assert type(got) is type(expected), con.name
        assert [str(a) for a in got.args] == [str(a) for a in expected.args], con.name
        assert getattr(got, "_strict", None) == getattr(expected, "_strict", None), con.name
        checked += 1
    assert checked == form.num_row and checked > 100


def test_every_var_has_the_bounds_setlb_and_setub_give_it():
    """The build assigns the stored bounds directly; Pyomo's setters would store the same."""
    form, m = household_model()
    for v, lo, hi in zip(m.col_vars, form.col_lower.tolist(), form.col_upper.tolist()):
        stored = (v._lb, v._ub)
        v.setlb(lo)
        v.setub(None if math.isinf(hi) else hi)
        assert stored == (v._lb, v._ub), v.name


def test_a_released_model_is_freed_without_the_cyclic_gc():
    _, m = household_model()
    alive = weakref.ref(m)
    gc.disable()
    try:
        release_household_model(m)
        del m
        assert alive() is None
    finally:
        gc.enable()
