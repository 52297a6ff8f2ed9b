"""Household ("sleeveless"), lot-level, tax-aware rebalancing with Pyomo + HiGHS.

Public API (called by the Dagster asset; this package imports nothing from orchestration/ or
Dagster):

    problems = household_problems_from_marts(frames, as_of, settings)
    trades, outcomes = optimize_households(problems, settings)

See optimization/README.md for the formulation, defaults, rounding step and speed.
"""

from optimization.data import AccountData, HouseholdProblem, LotTable, household_problems_from_marts
from optimization.extract import TRADE_COLUMNS, extract_quantities, round_quantities
from optimization.model import StandardForm, build_household_model, household_standard_form
from optimization.risk import HouseholdRisk, RiskModel, estimate_risk_model
from optimization.optimize import OUTCOME_COLUMNS, optimize_household, optimize_households
from optimization.settings import OptimizerSettings
from optimization.solve import SolveResult, SolveStatus, compile_linear_model, solve_household_model
from optimization.warm import WarmStart

__all__ = [
    "AccountData",
    "HouseholdProblem",
    "HouseholdRisk",
    "RiskModel",
    "estimate_risk_model",
    "LotTable",
    "OptimizerSettings",
    "OUTCOME_COLUMNS",
    "SolveResult",
    "SolveStatus",
    "StandardForm",
    "TRADE_COLUMNS",
    "WarmStart",
    "build_household_model",
    "compile_linear_model",
    "extract_quantities",
    "household_problems_from_marts",
    "household_standard_form",
    "optimize_household",
    "optimize_households",
    "round_quantities",
    "solve_household_model",
]
