"""Year-round against year-end-only loss harvesting over a simulated year (same price path).

A direct-index household is bought at the model on the first day (one taxable account, every lot
at cost = price); every `step_days` prices move by a draw from the universe's factor model (the
same seeded path for both policies), the harvest policy runs (`plan_harvest`, rule "threshold")
and its trades are applied (lots, cash, wash-sale windows). Year-round: the threshold falls from
20% of basis on January 1 to 5% on December 1. Year-end only: nothing is a harvest candidate
before December 1, then 5%. The optimizer still rebalances on every step under both. Losses
harvested are summed at the household's rates (tax value, ignoring the $3,000 limit and
carryforwards).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from optimization import OptimizerSettings

from lifecycle.generate import Universe, drifted_prices
from lifecycle.harvest import HarvestPolicy, plan_harvest
from lifecycle.household import Household, apply_trades, move_to, normalise


def index_household(u: Universe, value: float, start: dt.date, household_id: str = "DI") -> Household:
    """The model bought on `start` in one taxable account (whole-dollar fractional shares)."""
    price = u.securities.set_index("security_id")["price"]
    weights = u.model[u.model["security_id"] != "CASH"]
    lots = pd.DataFrame(dict(
        lot_id=[f"{household_id}-{s}-0" for s in weights["security_id"]], account_id=f"{household_id}-TAX",
        security_id=weights["security_id"].to_numpy(),
        quantity=np.round(value * weights["target_weight"].to_numpy() / price[weights["security_id"]].to_numpy(), 4),
        cost_per_share=price[weights["security_id"]].to_numpy(), acquired_date=start,
    ))
    invested = float((lots["quantity"] * lots["cost_per_share"]).sum())
    accounts = pd.DataFrame(dict(account_id=[f"{household_id}-TAX"], taxable=[True], registration=["individual"],
                                 fractional_allowed=[True], cash=[round(value - invested, 2)]))
    securities = u.securities[u.securities["security_id"].isin(set(weights["security_id"]))]
    return normalise(household_id, start, 0.408, 0.238, accounts, lots, u.model, securities)


def simulate_year(u: Universe, seed: int, policy: HarvestPolicy, value: float = 1_000_000.0,
                  start: dt.date = dt.date(2026, 1, 2), step_days: int = 7,
                  settings: OptimizerSettings = OptimizerSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per step: date, losses and gains realized (taxable), tax, drift after; every trade
    with its `trade_date`)."""
    rng = np.random.default_rng(seed)
    household = index_household(u, value, start)
    rows, trades = [], []
    day = start
    while day.year == start.year:
        plan = plan_harvest(household, policy, settings, with_naive=False).optimized
        sells = plan.trades[plan.trades["side"] == "sell"]
        rows.append(dict(
            as_of=day, losses=float(-sells.loc[sells["realized_gain"] < 0, "realized_gain"].sum()),
            gains=float(sells.loc[sells["realized_gain"] > 0, "realized_gain"].sum()), tax=plan.tax,
            turnover=plan.turnover, drift_after=plan.drift_after, market_value=plan.market_value, status=plan.status,
        ))
        trades.append(plan.trades.assign(trade_date=day))
        household = apply_trades(household, plan.trades)
        day = day + dt.timedelta(days=step_days)
        household = move_to(household, day, drifted_prices(u, household.price, step_days / 365.25, rng))
    return pd.DataFrame(rows), pd.concat(trades, ignore_index=True)


def compare_policies(u: Universe, seeds: range, **kwargs) -> pd.DataFrame:
    """Per seed: the year's harvested losses and tax under both policies."""
    out = []
    for seed in seeds:
        for name, policy in (("year_round", HarvestPolicy()), ("year_end_only", HarvestPolicy(year_end_only=True))):
            year, _ = simulate_year(u, seed, policy, **kwargs)
            out.append(dict(seed=seed, policy=name, losses_harvested=year["losses"].sum(), gains_realized=year["gains"].sum(),
                            tax=year["tax"].sum(), tax_pct_of_start=year["tax"].sum() / year["market_value"].iloc[0],
                            turnover=year["turnover"].sum(), end_value=year["market_value"].iloc[-1],
                            drift_after_mean=year["drift_after"].mean()))
    return pd.DataFrame(out)
