"""Charitable gift of securities: give $X choosing the long-term lots with the largest embedded gain
per dollar (never short-term, never a loss), then rebalance, in one optimizer solve.

The optimizer's `charitable_gift` request does the lot choice (gift candidates are long-term
appreciated lots of taxable accounts; `gift_preference` ranks them by gain per dollar). The
comparison is a cash gift of the same amount raised the tax-naive way (every position of the
account sold pro rata, FIFO): its tax is realized today, and the gift of stock also removes the
embedded gain of the lots given (gain x lt rate never paid: `gift_tax_avoided`).
"""

from __future__ import annotations

from optimization import OptimizerSettings
from optimization.risk import RiskModel

from lifecycle.household import Household, Request
from lifecycle.naive import pro_rata_fifo_plan
from lifecycle.plans import EventComparison, optimize_plan


def plan_gift(
    household: Household,
    amount: float,
    account_id: str | None = None,
    settings: OptimizerSettings = OptimizerSettings(),
    risk: RiskModel | None = None,
) -> EventComparison:
    account_id = account_id or next(a for a in household.accounts["account_id"] if household.is_taxable(a))
    if not household.is_taxable(account_id):
        raise ValueError("gifts of securities come from taxable accounts only")
    plan = optimize_plan(household, (Request(account_id, "charitable_gift", amount),), settings, risk)
    cash_gift = pro_rata_fifo_plan(
        household, account_id, amount, name="cash_gift_pro_rata_fifo",
        requests=(Request(account_id, "cash_withdrawal", amount),),
    )
    given = plan.trades.loc[plan.trades["side"] == "gift", "trade_value"].sum()
    notes = (f"given {given:.2f} of {amount:.2f} in securities",) + ((plan.message,) if "only" in plan.message else ())
    return EventComparison("gift", household, plan, cash_gift, notes=notes)
