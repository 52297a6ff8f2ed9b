"""Transition of a legacy portfolio into a model, three ways:

(a) `liquidate`: sell every lot, buy the model (lifecycle.naive.liquidation_plan);
(b) `transition`: one optimizer run toward the model under a tax budget (default 1% of value,
    a soft cap as in the daily run): appreciated legacy holdings that fit the model are kept when
    selling them costs more tax than their drift and tracking error are worth, names outside
    the model are sold when that pays, `must_sell` names are sold first whatever the tax, losses
    are harvested to offset gains;
(c) `multi_year`: the same run once a year under an annual budget that is held hard (the
    optimizer's overrun penalty raised to `hard_budget_penalty`), until the household is inside
    its drift bands or `years` have passed. Between runs the trades are applied (new lots at the
    price), the year-to-date gains and the budget reset on the new year, and prices either stay
    the same (default: the plan alone moves the portfolio) or drift by a seeded draw from the
    universe's factor model (`price_seed`).
Tracking error is ex ante, from the risk model, annualised.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimization import OptimizerSettings
from optimization.risk import RiskModel

from lifecycle.household import Household, apply_trades, move_to
from lifecycle.naive import liquidation_plan
from lifecycle.plans import EventComparison, Plan, household_problem, optimize_plan, with_sales_done


@dataclass(frozen=True)
class TransitionPolicy:
    budget_pct: float = 0.01  # tax budget of (b), and of each year of (c), as a share of value
    tax_budget: float | None = None  # dollars; overrides budget_pct
    years: int = 5
    hard_budget_penalty: float = 1000.0  # (c): a dollar over the annual budget costs this much
    price_seed: int | None = None  # (c): None keeps prices; else a seeded drift per year
    must_sell: tuple[str, ...] = ()  # security ids sold in full before anything else

    def budget(self, household: Household) -> float:
        return float(self.tax_budget) if self.tax_budget is not None else round(self.budget_pct * household.market_value, 2)


def must_sell_policy(must_sell: tuple[str, ...]):
    def policy(problem):
        wanted = set(must_sell)
        shares = {lot: float(q) for lot, s, q in zip(problem.lots.lot_id, problem.lots.security, problem.lots.quantity)
                  if problem.security_ids[s] in wanted and q > 0}
        return with_sales_done(problem, shares, "restriction")
    return policy if must_sell else None


def one_year(household: Household, budget: float, settings: OptimizerSettings, risk: RiskModel | None,
             must_sell: tuple[str, ...], name: str) -> Plan:
    return optimize_plan(replace(household, tax_budget=budget), (), settings, risk, must_sell_policy(must_sell), name=name)


def inside_bands(household: Household, settings: OptimizerSettings) -> bool:
    problem = household_problem(household, (), settings)
    target = np.append(problem.target_weight, problem.cash_target_weight)
    weight = np.append(problem.holding_values, problem.total_cash) / problem.market_value
    band = np.maximum(settings.drift_band_absolute, settings.drift_band_relative * target)
    dev = np.abs(weight - target)
    return bool(np.all(dev <= band + 1e-12) and 0.5 * dev.sum() <= settings.drift_band_total + 1e-12)


def multi_year_plan(
    household: Household, policy: TransitionPolicy, settings: OptimizerSettings, risk: RiskModel | None,
    universe=None,
) -> tuple[Plan, pd.DataFrame]:
    """(the whole plan as one Plan, one row per year)."""
    hard = replace(settings, tax_overrun_penalty=policy.hard_budget_penalty)
    rng = np.random.default_rng(policy.price_seed) if policy.price_seed is not None else None
    start_value = household.market_value
    annual = policy.budget(household)
    current = household
    years, all_trades = [], []
    last = None
    for year in range(1, policy.years + 1):
        plan = one_year(current, annual, hard, risk, policy.must_sell if year == 1 else (), f"multi_year_y{year}")
        if plan.status != "optimal":
            break
        trades = plan.trades.assign(year=year, trade_date=current.as_of)
        all_trades.append(trades)
        years.append(dict(
            year=year, as_of=current.as_of, market_value=round(plan.market_value, 2), tax_budget=annual,
            tax=round(plan.tax, 2), tax_pct_of_value=plan.tax / plan.market_value, turnover=plan.turnover,
            drift_after=plan.drift_after, tracking_error_after=plan.tracking_error_after,
        ))
        last = plan
        current = apply_trades(current, plan.trades)
        if inside_bands(current, settings):
            years[-1]["inside_bands_after"] = True
            break
        years[-1]["inside_bands_after"] = False
        next_date = _next_year(current.as_of)
        prices = drifted(universe, current, rng) if rng is not None and universe is not None else None
        current = move_to(current, next_date, prices, new_year_budget=annual)
    trades = pd.concat(all_trades, ignore_index=True) if all_trades else pd.DataFrame()
    detail = pd.DataFrame(years)
    total = Plan(
        name="multi_year", trades=trades.drop(columns=["year", "trade_date"]) if len(trades) else trades,
        market_value=start_value, drift_after=last.drift_after if last else math.nan,
        tracking_error_after=last.tracking_error_after if last else math.nan,
        message=f"{len(years)} years, annual budget {annual:.2f}; turnover = value sold over all years / starting value",
    )
    return total, detail


def _next_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def drifted(universe, household: Household, rng) -> pd.Series:
    from lifecycle.generate import drifted_prices

    return drifted_prices(universe, household.price, 1.0, rng)


def plan_transition(
    household: Household,
    policy: TransitionPolicy = TransitionPolicy(),
    settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
    universe=None,
    multi_year: bool = True,
) -> EventComparison:
    liquidate = liquidation_plan(household)
    transition = one_year(household, policy.budget(household), settings, risk, policy.must_sell, "transition")
    others, detail = (), None
    if multi_year:
        plan, detail = multi_year_plan(household, policy, settings, risk, universe)
        others = (plan,)
    return EventComparison("transition", household, transition, liquidate, others=others, detail=detail,
                           notes=(transition.message,))
