"""Policy edits of a HouseholdProblem's inputs: pure functions, no formulation change.

Each takes a problem (and the day's request or setting) and returns the problem the optimizer
should see, exactly as the marts could have expressed it: lots closed to loss sales (the per-lot
`no_loss_sale` flag), identical groups closed to buying (`no_buy_groups`), shares of lots that must
be sold today (`LotTable.sell_minimum`, the sell column's lower bound), per-account withdrawals.
The daily run applies them in `household_problems_from_marts` (requests and settings); the
life-cycle what-ifs (lifecycle/) use the same functions.

- `harvest_threshold` / `close_small_losses`: the year-round harvest threshold (a loss must be
  at least a share of basis that tightens through the year);
- `forced_harvest_shares` / `with_forced_harvest`: the `tax_loss_harvest` request (realize $X of
  losses today, deepest loss per dollar of basis first, and hold the groups out of buying);
- `withdrawal_split` / `with_household_withdrawal`: a household-level `cash_withdrawal` (the
  accounts that pay are chosen here; a traditional-IRA dollar costs the ordinary income rate).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from optimization.data import HouseholdProblem

ROTH = "roth_ira"


# ---------------------------------------------------------------------------------------------
# year-round harvest threshold


def harvest_threshold(day: dt.date, start: float, end: float, end_month_day: tuple[int, int] = (12, 1),
                      year_end_only: bool = False) -> float:
    """Loss as a share of basis a lot needs to be harvested on `day`: `start` on January 1,
    linear to `end` on `end_month_day`, `end` from then to December 31. `year_end_only`: no
    candidate (infinite threshold) before `end_month_day`."""
    jan1 = dt.date(day.year, 1, 1)
    last = dt.date(day.year, *end_month_day)
    if day >= last:
        return end
    if year_end_only:
        return math.inf
    frac = (day - jan1).days / (last - jan1).days
    return start + (end - start) * frac


def loss_fraction(problem: HouseholdProblem) -> np.ndarray:
    """Per lot: 1 - price / cost_per_share (> 0 for a loss), 0 without a basis."""
    lots = problem.lots
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lots.cost_per_share > 0, 1.0 - problem.price[lots.security] / lots.cost_per_share, 0.0)


def overweight(problem: HouseholdProblem, band: float) -> np.ndarray:
    """Per security: held more than `band` x household value above target."""
    v = problem.market_value
    return problem.holding_values - problem.target_weight * v > band * v


def _taxable_lots(problem: HouseholdProblem) -> np.ndarray:
    if not len(problem.lots):
        return np.zeros(0, dtype=bool)
    return np.array([a.taxable for a in problem.accounts], dtype=bool)[problem.lots.account]


def close_small_losses(problem: HouseholdProblem, threshold: float, band: float) -> HouseholdProblem:
    """Close to selling the taxable loss lots whose loss is below `threshold` of basis, unless
    their security is more than `band` of value over target (then trimming it is a rebalance)
    or the lot must be sold today (a forced harvest)."""
    lots = problem.lots
    if not len(lots):
        return problem
    frac = loss_fraction(problem)
    small = _taxable_lots(problem) & (frac > 0) & (frac < threshold - 1e-12)
    close = small & ~overweight(problem, band)[lots.security]
    if lots.sell_minimum is not None:
        close &= ~(lots.sell_minimum > 0)
    mask = lots.no_loss_sale | close
    mask.setflags(write=False)
    return replace(problem, lots=replace(lots, no_loss_sale=mask))


# ---------------------------------------------------------------------------------------------
# forced harvest (tax_loss_harvest request)


def _never_sold(problem: HouseholdProblem) -> np.ndarray:
    lots = problem.lots
    return np.array([
        problem.accounts[a].locked or problem.security_ids[s] in problem.accounts[a].never_sell
        for a, s in zip(lots.account, lots.security)
    ], dtype=bool)


def forced_harvest_shares(problem: HouseholdProblem, amount: float, fractional_quantum: float = 1e-4,
                          account_id: str | None = None) -> dict[str, float]:
    """Shares per lot that realize `amount` of losses: taxable loss lots that may be sold (no
    wash window, no never_sell, no lock), deepest loss per dollar of basis first (ties: lot id);
    the last lot partly, rounded up to the account's share quantum. `account_id`: that account only."""
    lots = problem.lots
    if not len(lots) or not amount > 0:
        return {}
    quantum = np.array([fractional_quantum if a.fractional_allowed else 1.0 for a in problem.accounts])[lots.account]
    loss_ps = lots.cost_per_share - problem.price[lots.security]
    ok = _taxable_lots(problem) & (loss_ps > 0) & ~lots.no_loss_sale & (lots.quantity > 0) & ~_never_sold(problem)
    if account_id is not None:
        ok &= np.array([problem.accounts[a].account_id == account_id for a in lots.account], dtype=bool)
    frac = loss_fraction(problem)
    order = sorted(np.flatnonzero(ok), key=lambda i: (-frac[i], lots.lot_id[i]))
    shares, left = {}, float(amount)
    for i in order:
        if left <= 1e-6:
            break
        n = min(float(lots.quantity[i]), math.ceil(left / loss_ps[i] / quantum[i] - 1e-9) * quantum[i])
        shares[lots.lot_id[i]] = float(round(n, 6))
        left -= n * loss_ps[i]
    return shares


def with_forced_harvest(problem: HouseholdProblem, amount: float, hold_until: dt.date | None = None,
                        fractional_quantum: float = 1e-4, account_id: str | None = None,
                        label: str = "tax_loss_harvest") -> tuple[HouseholdProblem, dict[str, float], list[str]]:
    """The problem with `forced_harvest_shares` as the sell columns' lower bounds and the
    harvested identical groups closed to buying today (the hold; later days read it from the
    request's hold_until). Returns (problem, shares per lot, notes)."""
    shares = forced_harvest_shares(problem, amount, fractional_quantum, account_id)
    lots = problem.lots
    minimum = np.zeros(len(lots)) if lots.sell_minimum is None else lots.sell_minimum.copy()
    pos = {lot: i for i, lot in enumerate(lots.lot_id)}
    for lot, n in shares.items():
        minimum[pos[lot]] = max(minimum[pos[lot]], n)
    minimum.setflags(write=False)
    groups = sorted({problem.identical_group[lots.security[pos[lot]]] for lot in shares})
    realized = sum(n * (lots.cost_per_share[pos[lot]] - problem.price[lots.security[pos[lot]]]) for lot, n in shares.items())
    notes = [f"{label}: {realized:,.2f} of losses from {len(shares)} lots (requested {amount:,.2f})"
             + (f"; {', '.join(groups)} held out of buying until {hold_until}" if hold_until else "")]
    if realized < amount - 0.01:
        notes.append(f"{label}: only {realized:,.2f} of harvestable losses")
    problem = replace(problem, lots=replace(lots, sell_minimum=minimum),
                      no_buy_groups=problem.no_buy_groups | frozenset(groups))
    return problem, shares, notes


# ---------------------------------------------------------------------------------------------
# household-level cash withdrawal (account choice)


def withdrawal_sources(problem: HouseholdProblem, eligible: Sequence[str] | None = None,
                       ordinary_rate: float | None = None) -> list[tuple[float, str, str, float]]:
    """Where a household's cash can come from, as (tax per dollar, account_id, source, dollars):
    free cash (above the account's own withdrawals and cash minimum); in taxable accounts each lot
    that may be sold, at (price - cost) / price x its st/lt rate (losses negative); in a
    traditional IRA every dollar at `ordinary_rate` (a distribution is ordinary income); in a
    Roth nothing (tax free). Eligible: the named accounts, else every unlocked account but Roths."""
    rate = problem.st_rate if ordinary_rate is None else ordinary_rate
    names = set(eligible or ())
    lots = problem.lots
    price = problem.price[lots.security] if len(lots) else np.zeros(0)
    never = _never_sold(problem) if len(lots) else np.zeros(0, dtype=bool)
    blocked = lots.no_loss_sale & (price < lots.cost_per_share) if len(lots) else never
    sources = []
    for a, account in enumerate(problem.accounts):
        if account.locked or (names and account.account_id not in names):
            continue
        if not names and account.registration == ROTH:
            continue
        free = max(0.0, account.cash - account.withdrawal - account.cash_minimum)
        in_a = np.flatnonzero((lots.account == a) & ~never & ~blocked) if len(lots) else []
        if not account.taxable:
            per_dollar = 0.0 if account.registration == ROTH else rate
            value = free + float(sum(lots.quantity[i] * price[i] for i in in_a))
            if value > 0:
                sources.append((per_dollar, account.account_id, "account", value))
            continue
        if free > 0:
            sources.append((0.0, account.account_id, "cash", free))
        for i in in_a:
            term_rate = problem.lt_rate if lots.is_long_term[i] else problem.st_rate
            sources.append((term_rate * (price[i] - lots.cost_per_share[i]) / price[i], account.account_id,
                            lots.lot_id[i], float(lots.quantity[i] * price[i])))
    return sorted(sources, key=lambda s: (s[0], s[1], s[2]))


def withdrawal_split(problem: HouseholdProblem, amount: float, eligible: Sequence[str] | None = None,
                     ordinary_rate: float | None = None) -> dict[str, float]:
    """Dollars per account that raise `amount` at the least tax: the cheapest sources first
    (`withdrawal_sources`), i.e. the exact optimum of the tax alone (a fractional knapsack); the
    optimizer then chooses the lots inside each account with drift and trading cost. Cents,
    summing exactly to `amount`; a shortfall (not enough anywhere) stays on the last account used
    (or the first eligible), where the optimizer reports it infeasible."""
    split: dict[str, float] = {}
    capacity: dict[str, float] = {}
    left = float(amount)
    for _, account_id, _, dollars in withdrawal_sources(problem, eligible, ordinary_rate):
        capacity[account_id] = capacity.get(account_id, 0.0) + dollars
        if left <= 1e-9:
            continue
        take = min(dollars, left)
        split[account_id] = split.get(account_id, 0.0) + take
        left -= take
    if left > 1e-9:
        fallback = next(iter(split), None) or next(
            (a.account_id for a in problem.accounts if not eligible or a.account_id in eligible), None)
        if fallback is None:
            return {}
        split[fallback] = split.get(fallback, 0.0) + left
    # Cents rounded down, never above what an account can raise (an account drained to its last
    # lot must not be asked for a fraction of a cent more); the missing cents go to the account
    # with the most room left.
    cents = {a: math.floor(v * 100 + 1e-6) / 100 for a, v in split.items()}
    cents = {a: v for a, v in cents.items() if v > 0}
    short = round(round(float(amount), 2) - round(sum(cents.values()), 2), 2)
    if short > 0 and split:
        room = {a: capacity.get(a, 0.0) - cents.get(a, 0.0) for a in split}
        roomiest = max(room, key=lambda a: (room[a], a))
        cents[roomiest] = round(cents.get(roomiest, 0.0) + short, 2)
    return dict(sorted(cents.items()))


def with_household_withdrawal(problem: HouseholdProblem, amount: float, eligible: Sequence[str] | None = None,
                              ordinary_rate: float | None = None, label: str = "cash_withdrawal"
                              ) -> tuple[HouseholdProblem, dict[str, float], list[str]]:
    """The problem with a household-level withdrawal turned into per-account withdrawals
    (`withdrawal_split`). Returns (problem, split, notes); the notes give the split and the
    ordinary income tax of its traditional-IRA part."""
    split = withdrawal_split(problem, amount, eligible, ordinary_rate)
    accounts = tuple(replace(a, withdrawal=a.withdrawal + split.get(a.account_id, 0.0)) for a in problem.accounts)
    income = ordinary_income_tax(problem, split, ordinary_rate)
    notes = [f"{label} {amount:,.2f} from the household: "
             + ", ".join(f"{a} {v:,.2f}" for a, v in split.items())
             + (f"; IRA distribution taxed as ordinary income {income:,.2f}" if income else "")]
    return replace(problem, accounts=accounts), split, notes


def _registration(problem: HouseholdProblem, account_id: str) -> str:
    return next((a.registration for a in problem.accounts if a.account_id == account_id), "")


def _taxable(problem: HouseholdProblem, account_id: str) -> bool:
    return next((a.taxable for a in problem.accounts if a.account_id == account_id), True)


def ordinary_income_tax(problem: HouseholdProblem, split: dict[str, float], ordinary_rate: float | None = None) -> float:
    """Tax on the traditional-IRA part of a withdrawal split (non-taxable, not Roth)."""
    rate = problem.st_rate if ordinary_rate is None else ordinary_rate
    return float(sum(v for a, v in split.items() if not _taxable(problem, a) and _registration(problem, a) != ROTH) * rate)
