"""Run the household optimizer on a Household, pre-applied forced sales, and plan summaries.

`optimize_plan` is the only place lifecycle/ calls the optimizer: marts -> HouseholdProblem ->
(optional policy edit of the problem) -> optimize_household. A policy edit never changes the
formulation; it edits the problem's inputs (lots that may not be sold, groups that may not be
bought, sales already decided) exactly as the daily run's marts could express them.

`EventComparison` is what every stage returns: the trade list of each plan (optimized and the
tax-naive alternative) and one summary row per plan (`comparison_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimization import OptimizerSettings, household_problems_from_marts, optimize_household
from optimization.data import HouseholdProblem
from optimization.extract import TRADE_COLUMNS, drift, trades_frame, tracking_error
from optimization.risk import RiskModel

from lifecycle.household import Household, Request

COMPARISON_COLUMNS = [
    "stage", "household_id", "as_of", "plan", "market_value", "st_gain", "lt_gain", "capital_gains_tax",
    "ordinary_income_tax", "tax", "tax_pct_of_value", "gift_tax_avoided", "sold_value", "turnover",
    "drift_after", "tracking_error_after", "trade_count",
]


@dataclass(frozen=True, eq=False)
class Plan:
    """One plan: its trades (TRADE_COLUMNS) and what it costs."""

    name: str
    trades: pd.DataFrame
    market_value: float
    drift_after: float
    tracking_error_after: float = math.nan
    ordinary_income_tax: float = 0.0  # tax on IRA distributions (withdrawals from traditional IRAs)
    gift_tax_avoided: float = 0.0  # embedded gain of the lots given x lt rate
    status: str = "optimal"
    message: str = ""

    def _sells(self) -> pd.DataFrame:
        return self.trades[self.trades["side"] == "sell"]

    def gain(self, term: str) -> float:
        s = self._sells()
        taxed = s["estimated_tax"].fillna(0.0) != 0
        return float(s.loc[taxed & (s["holding_term"] == term), "realized_gain"].sum())

    @property
    def capital_gains_tax(self) -> float:
        return float(self._sells()["estimated_tax"].fillna(0.0).sum())

    @property
    def tax(self) -> float:
        return self.capital_gains_tax + self.ordinary_income_tax

    @property
    def sold_value(self) -> float:
        return float(self.trades.loc[self.trades["side"].isin(["sell", "gift"]), "trade_value"].sum())

    @property
    def turnover(self) -> float:
        """Value sold or given / household value before trades."""
        return self.sold_value / self.market_value if self.market_value > 0 else math.nan

    def summary(self, stage: str, household: Household) -> dict:
        return dict(
            stage=stage, household_id=household.household_id, as_of=household.as_of, plan=self.name,
            market_value=round(self.market_value, 2), st_gain=round(self.gain("short"), 2),
            lt_gain=round(self.gain("long"), 2), capital_gains_tax=round(self.capital_gains_tax, 2),
            ordinary_income_tax=round(self.ordinary_income_tax, 2), tax=round(self.tax, 2),
            tax_pct_of_value=self.tax / self.market_value if self.market_value > 0 else math.nan,
            gift_tax_avoided=round(self.gift_tax_avoided, 2), sold_value=round(self.sold_value, 2),
            turnover=self.turnover, drift_after=self.drift_after, tracking_error_after=self.tracking_error_after,
            trade_count=int(len(self.trades)),
        )


@dataclass(frozen=True, eq=False)
class EventComparison:
    """A life-cycle event: the optimized plan beside the tax-naive alternative (and others)."""

    stage: str
    household: Household
    optimized: Plan
    naive: Plan
    others: tuple[Plan, ...] = ()
    notes: tuple[str, ...] = ()
    detail: pd.DataFrame | None = None  # stage-specific table (years of a plan, lots deferred, ...)

    @property
    def plans(self) -> tuple[Plan, ...]:
        plans = (self.optimized, self.naive) + self.others
        return tuple(p for i, p in enumerate(plans) if all(p is not q for q in plans[:i]))

    @property
    def tax_saved(self) -> float:
        """naive tax - optimized tax + gift tax avoided (the taxes-saved report's total)."""
        return self.naive.tax - self.optimized.tax + self.optimized.gift_tax_avoided - self.naive.gift_tax_avoided

    def comparison_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.summary(self.stage, self.household) for p in self.plans], columns=COMPARISON_COLUMNS)

    def trades_frame(self) -> pd.DataFrame:
        """Every plan's trades, with a `plan` column first."""
        parts = [p.trades.assign(plan=p.name) for p in self.plans if len(p.trades)]
        if not parts:
            return pd.DataFrame(columns=["plan"] + TRADE_COLUMNS)
        frame = pd.concat(parts, ignore_index=True)
        return frame[["plan"] + TRADE_COLUMNS]


# ---------------------------------------------------------------------------------------------
# the optimizer on a household


ProblemPolicy = Callable[[HouseholdProblem], tuple[HouseholdProblem, list[tuple]]]


def household_problem(
    household: Household, requests: Sequence[Request] = (), settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
) -> HouseholdProblem:
    frames = household.mart_frames(tuple(requests))
    problems = household_problems_from_marts(frames, household.as_of, settings, risk_model=risk)
    if len(problems) != 1:
        raise ValueError(f"expected one household, got {len(problems)}")
    return problems[0]


def optimize_plan(
    household: Household,
    requests: Sequence[Request] = (),
    settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
    policy: ProblemPolicy | None = None,
    name: str = "optimized",
) -> Plan:
    """The household optimizer's plan; `policy` may edit the problem and pre-decide sales first."""
    problem = household_problem(household, requests, settings, risk)
    forced: list[tuple] = []
    if policy is not None:
        problem, forced = policy(problem)
    rows, outcome = optimize_household(offset_used_up(problem, settings), settings)
    if outcome["status"] != "optimal":
        rows, forced = [], []
    trades = merge_lot_rows(trades_frame(forced + rows))
    ordinary = sum(
        r.amount * household.income_rate for r in requests
        if r.request_type == "cash_withdrawal" and household.is_traditional_ira(r.account_id)
    )
    gifts = trades[trades["side"] == "gift"]
    avoided = float(((gifts["trade_value"] - gifts["cost_basis_relieved"]) * household.lt_rate).sum())
    # drift / TE of the final state (forced sales included): recomputed from the trades
    base = household_problem(household, requests, settings, risk)
    values, cash = state_after(base, trades, requests)
    return Plan(
        name=name, trades=trades, market_value=base.market_value, drift_after=drift(base, values, cash),
        tracking_error_after=tracking_error(base, values, cash), ordinary_income_tax=ordinary,
        gift_tax_avoided=avoided, status=str(outcome["status"]), message=str(outcome["message"] or ""),
    )


def offset_used_up(problem: HouseholdProblem, settings: OptimizerSettings) -> HouseholdProblem:
    """Year-to-date net realized below -ordinary_loss_offset counts as -offset for the optimizer.

    The optimizer's `unusable_loss_beyond_offset` row has lower bound -(YTD net) - offset; when the
    year's earlier sales already realized more than the offset in net losses, that bound is
    positive and only today's gains can meet it (infeasible, or gains forced out). The right bound
    is min(0, -(YTD net) - offset): once the offset is used up, every net loss today is carried
    forward. Clamping the YTD total at -offset gives exactly that bound (the row only reads the
    total). To be fixed in optimization/model.py (report of issue 6)."""
    ytd = problem.realized_st_gain_ytd + problem.realized_lt_gain_ytd
    floor = -settings.ordinary_loss_offset
    if ytd >= floor:
        return problem
    return replace(problem, realized_st_gain_ytd=problem.realized_st_gain_ytd + (floor - ytd))


def merge_lot_rows(trades: pd.DataFrame) -> pd.DataFrame:
    """One row per (account, security, side, lot): a lot sold before the optimizer and again by
    it is one order line."""
    if trades.empty:
        return trades
    key = ["household_id", "account_id", "security_id", "side", "_lot"]
    summed = ["quantity", "trade_value", "cost_basis_relieved", "realized_gain", "estimated_tax"]
    frame = trades.assign(_lot=trades["lot_id"].fillna(""))
    first = frame.groupby(key, sort=False, as_index=False).first()
    sums = frame.groupby(key, sort=False, as_index=False)[summed].sum(min_count=1)
    merged = first.drop(columns=summed).merge(sums, on=key)
    return trades_frame(list(merged[TRADE_COLUMNS].itertuples(index=False, name=None)))


def state_after(problem: HouseholdProblem, trades: pd.DataFrame, requests: Sequence[Request] = ()) -> tuple[np.ndarray, float]:
    """(value per security, household cash) after trades and requests, at today's prices."""
    index = {s: i for i, s in enumerate(problem.security_ids)}
    values = problem.holding_values.copy()
    cash = problem.total_cash
    for side, sign in (("sell", -1.0), ("gift", -1.0), ("buy", 1.0)):
        rows = trades[trades["side"] == side]
        for sid, v in zip(rows["security_id"], rows["trade_value"]):
            values[index[sid]] += sign * v
        if side == "sell":
            cash += float(rows["trade_value"].sum())
        elif side == "buy":
            cash -= float(rows["trade_value"].sum())
    cash -= sum(r.amount for r in requests if r.request_type == "cash_withdrawal")
    return values, cash


def state_drift(problem: HouseholdProblem, trades: pd.DataFrame, requests: Sequence[Request] = ()) -> tuple[float, float]:
    values, cash = state_after(problem, trades, requests)
    return drift(problem, values, cash), tracking_error(problem, values, cash)


# ---------------------------------------------------------------------------------------------
# sales decided before the optimizer (must-sell names, forced harvests, harvest substitution)


def sale_rows(problem: HouseholdProblem, shares: dict[str, float], reason: str) -> list[tuple]:
    """Trade rows (TRADE_COLUMNS order) for selling `shares` of the named lots."""
    lots = problem.lots
    pos = {lot: i for i, lot in enumerate(lots.lot_id)}
    rows = []
    for lot_id, n in sorted(shares.items()):
        i = pos[lot_id]
        if n <= 0:
            continue
        account = problem.accounts[lots.account[i]]
        s = lots.security[i]
        p = float(problem.price[s])
        cps = float(lots.cost_per_share[i])
        term = "long" if lots.is_long_term[i] else "short"
        rate = (problem.lt_rate if lots.is_long_term[i] else problem.st_rate) if account.taxable else 0.0
        acquired = pd.Timestamp(lots.acquired_date[i]).date()
        rows.append((problem.household_id, account.account_id, problem.security_ids[s], "sell", float(n), p, n * p,
                     lot_id, acquired, n * cps, n * (p - cps), term, n * (p - cps) * rate, reason))
    return rows


def with_sales_done(problem: HouseholdProblem, shares: dict[str, float], reason: str) -> tuple[HouseholdProblem, list[tuple]]:
    """The problem after selling `shares` (lot_id -> shares) first: quantities down, proceeds in
    the account's cash, taxable gains added to the year to date, the sales' tax taken from the
    remaining budget, and the identical groups of loss sales closed to buying today (same-day
    wash sale)."""
    rows = sale_rows(problem, shares, reason)
    if not rows:
        return problem, []
    lots = problem.lots
    pos = {lot: i for i, lot in enumerate(lots.lot_id)}
    quantity = lots.quantity.copy()
    for lot_id, n in shares.items():
        quantity[pos[lot_id]] = max(0.0, quantity[pos[lot_id]] - n)
    quantity.setflags(write=False)
    proceeds: dict[str, float] = {}
    st = lt = tax = 0.0
    loss_groups = set()
    for r in rows:
        proceeds[r[1]] = proceeds.get(r[1], 0.0) + r[6]
        taxable = next(a.taxable for a in problem.accounts if a.account_id == r[1])
        if taxable:
            st += r[10] if r[11] == "short" else 0.0
            lt += r[10] if r[11] == "long" else 0.0
        tax += r[12]
        if r[10] < 0:
            loss_groups.add(problem.identical_group[problem.security_ids.index(r[2])])
    accounts = tuple(replace(a, cash=a.cash + proceeds.get(a.account_id, 0.0)) for a in problem.accounts)
    budget = None if problem.tax_budget_remaining is None else problem.tax_budget_remaining - tax
    return replace(
        problem, lots=replace(lots, quantity=quantity), accounts=accounts, tax_budget_remaining=budget,
        realized_st_gain_ytd=problem.realized_st_gain_ytd + st, realized_lt_gain_ytd=problem.realized_lt_gain_ytd + lt,
        no_buy_groups=problem.no_buy_groups | frozenset(loss_groups),
    ), rows


def chain(*policies: ProblemPolicy | None) -> ProblemPolicy:
    def run(problem):
        rows: list[tuple] = []
        for p in policies:
            if p is not None:
                problem, more = p(problem)
                rows += more
        return problem, rows
    return run
