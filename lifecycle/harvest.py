"""Year-round loss harvesting: a policy around the optimizer (which already harvests on its own).

- Threshold that tightens through the year (`harvest_threshold`): a taxable lot is a harvest
  candidate only when its loss is at least `start` (20%) of its basis on January 1, falling
  linearly to `end` (5%) on December 1 and staying there through December. Early in the year a
  loss has months to deepen and the wash window costs exposure; late in the year a loss not taken
  is lost to this tax year. Below the threshold, loss lots of securities that are not overweight
  beyond `band` (1% of household value) are closed to selling (the problem's per-lot
  `no_loss_sale`); loss lots of an overweight security stay sellable (trimming it is a rebalance).
  Above the threshold the optimizer still decides: it harvests only when the loss is worth more
  than the drift and trading cost (optimization/README.md "Defaults").
- Substitutes: while a harvested group may not be bought (an active no_buy window, or a hold),
  its shortfall to target moves to substitutes: the `substitutes` table (security_id,
  substitute_id) or else the other names of the same GICS industry (then sector), another
  identical group, not blocked, pro rata to their targets. On the harvest day the harvest sales
  are fixed before the solve, so the optimizer buys the substitutes. After the window, inside each
  industry the shortfall of under-target names stays on the over-target names whose excess is
  appreciated (> `return_gain_limit` gain per dollar); the rest returns to the original, where
  the optimizer sells the substitute and buys the original back (it still pays: small gain).
- Forced harvest: harvest `amount` dollars of losses today (deepest loss per dollar of basis
  first, taxable lots not blocked by a wash window) and hold the groups out until `hold_until`
  (returned as no_buy windows for the household's windows file / the daily run).
The tax-naive alternative is the same day with no harvesting (every taxable loss lot of a
security not overweight closed to selling).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from optimization import OptimizerSettings, policies
from optimization.data import CASH, HouseholdProblem
from optimization.risk import RiskModel

from lifecycle.household import WASH_WINDOW_DAYS, WINDOW_COLUMNS, Household
from lifecycle.plans import EventComparison, chain, household_problem, optimize_plan, with_sales_done


@dataclass(frozen=True)
class HarvestPolicy:
    start: float = 0.20  # loss / basis needed on January 1
    end: float = 0.05  # ... on `end_date` and after
    end_month_day: tuple[int, int] = (12, 1)
    band: float = 0.01  # a security more than this (share of value) over target may always sell
    substitute: bool = True
    rule: str = "threshold"  # "threshold": harvest every lot past it; "optimizer": the optimizer picks
    year_end_only: bool = False  # the comparison policy: no harvest candidates before end_month_day
    # after a window, go back to the original only where the substitute can be sold for at most
    # this gain per dollar (a loss, or a small gain); appreciated substitutes keep the weight
    return_gain_limit: float = 0.02


def harvest_threshold(day: dt.date, policy: HarvestPolicy = HarvestPolicy()) -> float:
    """Loss as a share of basis a lot needs to be a harvest candidate on `day` (the daily run's
    `OptimizerSettings.harvest_threshold_*` use the same function, optimization/policies.py)."""
    return policies.harvest_threshold(day, policy.start, policy.end, policy.end_month_day, policy.year_end_only)


_loss_fraction = policies.loss_fraction


def threshold_policy(threshold: float, band: float):
    """Close to selling the taxable loss lots below `threshold` of basis (not of overweights)."""
    def policy(problem: HouseholdProblem):
        return policies.close_small_losses(problem, threshold, band), []
    return policy


def forced_harvest_shares(problem: HouseholdProblem, amount: float) -> dict[str, float]:
    """Shares per lot that realize `amount` of losses: deepest loss per dollar of basis first
    (the daily run's `tax_loss_harvest` request uses the same function)."""
    return policies.forced_harvest_shares(problem, amount)


def choose_substitutes(household: Household, security_id: str, blocked_groups: set[str],
                       substitutes: pd.DataFrame | None = None) -> dict[str, float]:
    """Where a blocked security's weight goes: the named substitute, else the other securities of
    its GICS industry (then sector) outside its identical group and not blocked, pro rata to their
    target weights (equal shares when none has one). Spreading keeps each substitute's extra
    weight small, so returning to the original after the window never forces the sale of one
    large appreciated position."""
    if substitutes is not None and len(substitutes):
        named = substitutes.loc[substitutes["security_id"] == security_id, "substitute_id"]
        if len(named):
            return {str(named.iloc[0]): 1.0}
    sec = household.securities.set_index("security_id")
    me = sec.loc[security_id]
    target = household.targets.groupby("security_id")["target_weight"].sum()
    pool = sec[(sec["identical_group"] != me["identical_group"]) & ~sec["identical_group"].isin(blocked_groups)]
    for column in ("gics_industry", "gics_sector"):
        if pd.isna(me[column]):
            continue
        same = sorted(pool.index[pool[column] == me[column]])
        if same:
            weights = np.array([float(target.get(s, 0.0)) for s in same])
            weights = weights if weights.sum() > 0 else np.ones(len(same))
            return dict(zip(same, weights / weights.sum()))
    return {}


def choose_substitute(household: Household, security_id: str, blocked_groups: set[str],
                      substitutes: pd.DataFrame | None = None) -> str | None:
    """The main substitute (largest share), or None when there is none."""
    shares = choose_substitutes(household, security_id, blocked_groups, substitutes)
    return max(sorted(shares), key=lambda s: shares[s]) if shares else None


def substituted_targets(household: Household, groups: set[str], substitutes: pd.DataFrame | None = None,
                        sold: dict[str, float] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """Targets where each security of `groups` keeps only the weight it still holds (after the
    `sold` lot quantities) and its shortfall to target moves to its substitute: the substitute
    holds what the original may not be bought back to, and nothing else moves."""
    targets = household.targets.groupby("security_id", as_index=False)["target_weight"].sum()
    group = household.security_attr("identical_group")
    lots = household.lots
    quantity = lots["quantity"] - lots["lot_id"].map(sold or {}).fillna(0.0)
    held = (quantity * lots["security_id"].map(household.price)).groupby(lots["security_id"]).sum()
    value = household.market_value
    weight = dict(zip(targets["security_id"], targets["target_weight"]))
    moves = {}
    for sid in sorted(weight):
        if sid == CASH or group.get(sid) not in groups:
            continue
        shortfall = max(0.0, weight[sid] - float(held.get(sid, 0.0)) / value)
        subs = choose_substitutes(household, sid, groups, substitutes)
        if not subs or shortfall <= 0:
            continue
        moves[sid] = ", ".join(subs)
        weight[sid] -= shortfall
        for sub, share in subs.items():
            weight[sub] = weight.get(sub, 0.0) + shortfall * share
    frame = pd.DataFrame(dict(security_id=list(weight), target_weight=list(weight.values())))
    return frame[frame["target_weight"] > 0].sort_values("security_id").reset_index(drop=True), moves


def kept_substitution_targets(household: Household, gain_limit: float, blocked: set[str]) -> tuple[pd.DataFrame, dict]:
    """Targets where, inside each GICS industry, the shortfall of under-target securities moves to
    the over-target securities of the same industry whose excess is appreciated (gain per dollar
    above `gain_limit`, taxable lots): the return to the original happens only where it is cheap.
    Stateless: read from today's holdings, so it needs no memory of past harvests."""
    sec = household.securities.set_index("security_id")
    targets = household.targets.groupby("security_id")["target_weight"].sum()
    value = household.market_value
    lots = household.lots.assign(value=household.lot_values())
    price = lots["security_id"].map(household.price)
    taxable = lots["account_id"].map(household.accounts.set_index("account_id")["taxable"]).astype(bool)
    appreciated = taxable & ((price - lots["cost_per_share"]) / price > gain_limit)
    held = lots.groupby("security_id")["value"].sum()
    dear = lots[appreciated].groupby("security_id")["value"].sum()
    weight = targets.to_dict()
    moves = {}
    group = sec["identical_group"]
    industry = sec["gics_industry"].where(sec["gics_industry"].notna(), sec["gics_sector"])
    for name, members in sec.groupby(industry).groups.items():
        members = sorted(m for m in members if group[m] not in blocked)
        over = {m: min(float(held.get(m, 0.0)) - weight.get(m, 0.0) * value, float(dear.get(m, 0.0))) for m in members}
        over = {m: v for m, v in over.items() if v > 0}
        under = {m: weight.get(m, 0.0) * value - float(held.get(m, 0.0)) for m in members if weight.get(m, 0.0) > 0}
        under = {m: v for m, v in under.items() if v > 0}
        if not over or not under:
            continue
        moved = min(sum(over.values()), sum(under.values()))
        for m, v in under.items():
            weight[m] -= moved * v / sum(under.values()) / value
        for m, v in over.items():
            weight[m] = weight.get(m, 0.0) + moved * v / sum(over.values()) / value
        moves[name] = round(moved, 2)
    frame = pd.DataFrame(dict(security_id=list(weight), target_weight=list(weight.values())))
    return frame[frame["target_weight"] > 1e-12].sort_values("security_id").reset_index(drop=True), moves


def blocked_groups(household: Household) -> set[str]:
    """Identical groups that may not be bought on as_of (active no_buy windows and holds)."""
    w = household.windows
    if not len(w):
        return set()
    end = pd.to_datetime(w["window_end"].where(w["window_end"].notna(),
                                               pd.to_datetime(w["window_start"]) + pd.Timedelta(days=WASH_WINDOW_DAYS)))
    active = (w["window_type"] == "no_buy") & (end.dt.date >= household.as_of) & (pd.to_datetime(w["window_start"]).dt.date <= household.as_of)
    return set(w.loc[active, "identical_group"])


def threshold_harvest_shares(household: Household, problem: HouseholdProblem, threshold: float,
                             blocked: set[str], substitutes: pd.DataFrame | None) -> dict[str, float]:
    """Whole taxable lots at a loss of at least `threshold` of basis, not closed by a wash window,
    whose security is outside the model or has a substitute to hold meanwhile."""
    lots = problem.lots
    taxable = np.array([a.taxable for a in problem.accounts], dtype=bool)[lots.account]
    deep = taxable & (_loss_fraction(problem) >= threshold) & ~lots.no_loss_sale & (lots.quantity > 0)
    shares = {}
    for i in np.flatnonzero(deep):
        s = lots.security[i]
        sid = problem.security_ids[s]
        if problem.target_weight[s] > 0 and choose_substitute(household, sid, blocked | {problem.identical_group[s]},
                                                              substitutes) is None:
            continue
        shares[lots.lot_id[i]] = float(lots.quantity[i])
    return shares


def plan_harvest(
    household: Household,
    policy: HarvestPolicy = HarvestPolicy(),
    settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
    substitutes: pd.DataFrame | None = None,
    forced_amount: float = 0.0,
    hold_until: dt.date | None = None,
    with_naive: bool = True,
) -> EventComparison:
    """One day of the policy. `policy.rule`: "threshold" harvests every lot past the threshold
    (with a substitute) before the optimizer runs; "optimizer" lets the optimizer choose among
    the lots past the threshold and completes its harvests with substitutes in a second pass."""
    threshold = harvest_threshold(household.as_of, policy)
    notes = [f"harvest threshold {threshold:.4f} of basis on {household.as_of} (rule: {policy.rule})"]
    group = household.security_attr("identical_group")
    blocked = blocked_groups(household)
    mask = threshold_policy(threshold, policy.band)
    probe = household_problem(household, (), settings)
    fixed: dict[str, float] = {}
    if forced_amount > 0:
        fixed.update(forced_harvest_shares(probe, forced_amount))
    if policy.rule == "threshold":
        for lot, n in threshold_harvest_shares(household, probe, threshold, blocked, substitutes).items():
            fixed[lot] = max(n, fixed.get(lot, 0.0))
    if policy.rule == "optimizer":
        base = household
        if policy.substitute and blocked:
            base = replace(household, targets=substituted_targets(household, blocked, substitutes)[0])
        first = optimize_plan(base, (), settings, risk, chain(_sell_first(fixed), mask), name="year_round_harvest")
        sold = first.trades[(first.trades["side"] == "sell") & (first.trades["realized_gain"] < 0)]
        sold = sold.loc[np.array([household.is_taxable(a) for a in sold["account_id"]], dtype=bool)]
        fixed = sold.groupby("lot_id")["quantity"].sum().to_dict()
    lot_security = household.lots.set_index("lot_id")["security_id"]
    harvested_groups = {group[lot_security[lot]] for lot in fixed}
    targets, moves = (substituted_targets(household, blocked | harvested_groups, substitutes, sold=fixed)
                      if policy.substitute else (household.targets, {}))
    notes += [f"substitute {s} -> {t}" for s, t in moves.items()]
    planned = replace(household, targets=targets)
    if policy.substitute and policy.return_gain_limit is not None:
        kept_targets, kept = kept_substitution_targets(planned, policy.return_gain_limit, blocked | harvested_groups)
        planned = replace(planned, targets=kept_targets)
        notes += [f"industry {k}: {v:,.2f} stays in appreciated substitutes" for k, v in kept.items()]
    plan = optimize_plan(planned, (), settings, risk, chain(_sell_first(fixed), mask), name="year_round_harvest")
    no_harvest = (optimize_plan(household, (), settings, risk, threshold_policy(math.inf, policy.band), name="no_harvest")
                  if with_naive else plan)
    holds = pd.DataFrame(columns=WINDOW_COLUMNS)
    if forced_amount > 0 and hold_until is not None:
        forced_lots = forced_harvest_shares(probe, forced_amount)
        groups = sorted({group[lot_security[lot]] for lot in forced_lots})
        holds = pd.DataFrame([dict(identical_group=g, window_type="no_buy", window_start=household.as_of,
                                   window_end=hold_until, exempt_lot_id=None) for g in groups], columns=WINDOW_COLUMNS)
        notes.append(f"hold {len(holds)} harvested groups out until {hold_until}")
    return EventComparison("harvest", household, plan, no_harvest, notes=tuple(notes), detail=holds)


def _sell_first(shares: dict[str, float]):
    def policy(problem):
        return with_sales_done(problem, shares, "tax_loss_harvest") if shares else (problem, [])
    return policy
