"""Cash withdrawal: raise $X at least tax, choosing the accounts and the lots, staying near target.

The optimizer already chooses lots (losses first, then the highest basis, long-term before
short-term) and keeps the household near target, for a withdrawal from a given account. What it
does not price is where the cash comes from: a traditional IRA distribution is ordinary income
(`Household.income_rate` x amount), a Roth distribution is tax free but spends tax-free room
(excluded unless named). So this stage splits the amount over the eligible accounts on a grid
(`step`, default 25%), solves each split with the optimizer, adds the IRA income tax and keeps the
split with the least total tax (ties: the smaller drift after). The tax-naive alternative sells
every position of the paying account pro rata, oldest lots first.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pandas as pd

from optimization import OptimizerSettings, policies
from optimization.risk import RiskModel

from lifecycle.household import Household, Request
from lifecycle.naive import pro_rata_fifo_plan
from lifecycle.plans import EventComparison, Plan, household_problem, optimize_plan


def splits(n_accounts: int, step: float) -> list[tuple[float, ...]]:
    """Every split of 1 over n accounts in multiples of `step` (sorted, deterministic)."""
    units = round(1.0 / step)
    if abs(units * step - 1.0) > 1e-9:
        raise ValueError("step must divide 1")
    out = [tuple(k / units for k in combo) for combo in itertools.product(range(units + 1), repeat=n_accounts)
           if sum(combo) == units]
    return sorted(out, reverse=True)


def eligible_accounts(household: Household, accounts: Sequence[str] | None = None) -> list[str]:
    """Accounts that may pay: the named ones, else every taxable and traditional-IRA account."""
    if accounts:
        return list(accounts)
    rows = household.accounts
    return [a for a, reg in zip(rows["account_id"], rows["registration"]) if reg != "roth_ira"]


def account_value(household: Household, account_id: str) -> float:
    lots = household.lots[household.lots["account_id"] == account_id]
    return float((lots["quantity"] * lots["security_id"].map(household.price)).sum() + household.account(account_id)["cash"])


def plan_withdrawal(
    household: Household,
    amount: float,
    pay_from: str | None = None,
    accounts: Sequence[str] | None = None,
    step: float = 0.25,
    settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
    method: str = "grid",
) -> EventComparison:
    """Raise `amount`; `pay_from` is the account the client named (the naive side's account,
    default the first taxable one); `accounts` restricts where the optimized side may raise it.
    `method`: "grid" solves every split on the `step` grid and keeps the least tax; "split" is the
    daily run's: one solve on `optimization.policies.withdrawal_split` (cheapest tax dollar first)."""
    candidates = eligible_accounts(household, accounts)
    pay_from = pay_from or next(a for a in household.accounts["account_id"] if household.is_taxable(a))
    tried: list[tuple[float, float, tuple, Plan]] = []
    if method == "split":
        problem = household_problem(household, (), settings, risk)
        split = policies.withdrawal_split(problem, amount, candidates, household.income_rate)
        requests = tuple(Request(a, "cash_withdrawal", v) for a, v in split.items())
        plan = optimize_plan(household, requests, settings, risk, name="optimized")
        if plan.status != "optimal":
            raise ValueError(f"the split {split} cannot raise {amount:.2f}: {plan.message}")
        tried.append((round(plan.tax, 2), plan.drift_after, tuple(split.get(a, 0.0) / amount for a in candidates), plan))
    elif method != "grid":
        raise ValueError("method must be 'grid' or 'split'")
    for split in (splits(len(candidates), step) if method == "grid" else ()):
        requests = tuple(
            Request(a, "cash_withdrawal", round(amount * w, 2)) for a, w in zip(candidates, split) if w > 0
        )
        if any(r.amount > account_value(household, r.account_id) + 1e-6 for r in requests):
            continue
        plan = optimize_plan(household, requests, settings, risk, name="optimized")
        if plan.status != "optimal":
            continue
        tried.append((round(plan.tax, 2), plan.drift_after, split, plan))
    if not tried:
        raise ValueError(f"no account split can raise {amount:.2f}")
    tried.sort(key=lambda t: (t[0], t[1]))
    best_tax, _, best_split, best = tried[0]
    naive_request = (Request(pay_from, "cash_withdrawal", amount),)
    naive = pro_rata_fifo_plan(household, pay_from, amount, requests=naive_request)
    detail = pd.DataFrame(
        [dict(**{f"share_{a}": w for a, w in zip(candidates, split)}, tax=tax, drift_after=d) for tax, d, split, _ in tried]
    )
    notes = (f"best split {dict(zip(candidates, best_split))}; {len(tried)} splits solved",)
    return EventComparison("withdrawal", household, best, naive, notes=notes, detail=detail)
