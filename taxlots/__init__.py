"""Sleeveless tax-lot engine: a household's history -> open lots, realized lots, wash sales, tax.

Plain Python (no Dagster): ``replay`` / ``replay_both_views`` for the lot books, ``net_capital_gains``
for netting, ``estimate_household_tax`` and ``marginal_rates`` on ``RateTables.from_seeds()``.
Conventions: docs/tax-engine.md.
"""

from taxlots.holding import holding_term, long_term_date, tacked_acquired_date
from taxlots.model import Account, Lot, RealizedLot, ReplayResult, Security, Transaction, WashLink
from taxlots.netting import Netting, net_capital_gains, ordinary_offset_limit, realized_by_term
from taxlots.rates import (
    HouseholdYear,
    MarginalRates,
    RateTables,
    TaxEstimate,
    estimate_household_tax,
    marginal_rates,
    net_investment_income_tax,
    tax_on_long_term_gains,
    tax_on_ordinary_income,
)
from taxlots.replay import replay
from taxlots.views import ViewDifference, compare_views, replay_both_views

__all__ = [
    "Account", "HouseholdYear", "Lot", "MarginalRates", "Netting", "RateTables", "RealizedLot", "ReplayResult",
    "Security", "TaxEstimate", "Transaction", "ViewDifference", "WashLink", "compare_views",
    "estimate_household_tax", "holding_term", "long_term_date", "marginal_rates", "net_capital_gains",
    "net_investment_income_tax", "ordinary_offset_limit", "realized_by_term", "replay", "replay_both_views",
    "tacked_acquired_date", "tax_on_long_term_gains", "tax_on_ordinary_income",
]
