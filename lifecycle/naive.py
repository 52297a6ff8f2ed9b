"""The tax-naive alternatives each stage is compared with (no optimizer, no lot choice).

- liquidation: sell every lot, buy the model (tracking error and drift 0 afterwards);
- pro-rata FIFO raise: sell every position of one account in proportion to its value, oldest lot
  first (the custodian default), until the cash need is met; that is how an ETF or a sleeve pays
  a withdrawal, and how a cash gift is raised.
Tax at the household's marginal rates (ST/LT by holding period, 0 in IRA/Roth), plus ordinary
income tax on a withdrawal from a traditional IRA.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from optimization.extract import trades_frame

from lifecycle.household import Household, Request
from lifecycle.plans import Plan, household_problem, state_drift


def _rows(household: Household, sold: pd.DataFrame, reason: str) -> list[tuple]:
    price = household.price
    taxable = household.accounts.set_index("account_id")["taxable"]
    rows = []
    for lot in sold.itertuples(index=False):
        p = float(price[lot.security_id])
        n = float(lot.sold)
        is_lt = household.as_of >= _long_term_date(lot.acquired_date)
        rate = (household.lt_rate if is_lt else household.st_rate) if bool(taxable[lot.account_id]) else 0.0
        gain = n * (p - float(lot.cost_per_share))
        rows.append((household.household_id, lot.account_id, lot.security_id, "sell", n, p, n * p, lot.lot_id,
                     lot.acquired_date, n * float(lot.cost_per_share), gain, "long" if is_lt else "short",
                     gain * rate, reason))
    return rows


def _long_term_date(acquired):
    from optimization.testing import long_term_date

    return long_term_date(pd.Timestamp(acquired).date())


def liquidation_tax(household: Household) -> float:
    """sum over lots in taxable accounts of (price - cost) x quantity x rate (net of losses)."""
    lots = household.lots.assign(sold=household.lots["quantity"])
    return float(sum(r[12] for r in _rows(household, lots, "liquidation")))


def liquidation_plan(household: Household) -> Plan:
    """Sell everything and buy the model: tax on every lot, 100% turnover, no drift afterwards."""
    lots = household.lots.assign(sold=household.lots["quantity"])
    trades = trades_frame(_rows(household, lots, "liquidation"))
    return Plan(name="liquidate", trades=trades, market_value=household.market_value, drift_after=0.0,
                tracking_error_after=0.0, message="sell every lot, buy the model at target (buys not listed)")


def fifo_sale(lots: pd.DataFrame, shares_by_security: dict[str, float]) -> pd.DataFrame:
    """Relieve shares of each security from `lots` (one account) oldest first; adds `sold`."""
    ordered = lots.sort_values(["security_id", "acquired_date", "lot_id"], kind="stable").copy()
    need = ordered["security_id"].map(shares_by_security).fillna(0.0)
    before = ordered.groupby("security_id")["quantity"].cumsum() - ordered["quantity"]
    ordered["sold"] = np.clip(need - before, 0.0, ordered["quantity"])
    return ordered[ordered["sold"] > 1e-9]


def pro_rata_fifo_plan(household: Household, account_id: str, amount: float, name: str = "pro_rata_fifo",
                       requests: tuple[Request, ...] = ()) -> Plan:
    """Raise `amount` of cash in `account_id` (beyond its cash) by selling every position pro rata, FIFO."""
    lots = household.lots[household.lots["account_id"] == account_id]
    price = household.price
    held = lots.groupby("security_id")["quantity"].sum()
    value = float((held * held.index.map(price)).sum())
    cash = float(household.account(account_id)["cash"])
    need = max(0.0, amount - cash)
    fraction = min(1.0, need / value) if value > 0 else 0.0
    sold = fifo_sale(lots, (held * fraction).to_dict())
    trades = trades_frame(_rows(household, sold, "cash_withdrawal"))
    ordinary = 0.0
    if any(r.request_type == "cash_withdrawal" for r in requests) and household.is_traditional_ira(account_id):
        ordinary = amount * household.income_rate
    problem = household_problem(household, requests)
    drift_after, te = state_drift(problem, trades, requests)
    return Plan(name=name, trades=trades, market_value=household.market_value, drift_after=drift_after,
                tracking_error_after=te if not math.isnan(te) else math.nan, ordinary_income_tax=ordinary,
                message=f"pro rata {fraction:.4f} of every position of {account_id}, FIFO")
