"""Short- to long-term: a gain lot a few days from long-term is sold last, so its gain is taxed at
the long-term rate when it is sold (after long_term_date) unless the drift is worth more now.

The optimizer prices this with `near_long_term_days` (30) and `near_long_term_penalty` (0.05 per
dollar of gain on top of the short-term rate; optimization/README.md). The what-if solves the
household three ways: today with the deferral (the firm's settings), today without it
(near_long_term_days = 0, the tax-naive alternative: short-term lots are ranked by today's tax
only), and on the latest long_term_date of the short-term gain lots the deferral kept (same
prices): the tax those lots then pay at the long-term rate. `detail` lists each short-term gain
lot within the window: gain, days to long-term, tax if sold today, tax at long-term, saving.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from optimization import OptimizerSettings
from optimization.risk import RiskModel

from lifecycle.household import Household, apply_trades, move_to
from lifecycle.plans import EventComparison, household_problem, optimize_plan


def near_long_term_lots(household: Household, settings: OptimizerSettings) -> pd.DataFrame:
    problem = household_problem(household, (), settings)
    lots = problem.lots
    taxable = np.array([a.taxable for a in problem.accounts], dtype=bool)[lots.account]
    gain = (problem.price[lots.security] - lots.cost_per_share) * lots.quantity
    near = taxable & ~lots.is_long_term & (gain > 0) & (lots.days_to_long_term <= settings.near_long_term_days)
    idx = np.flatnonzero(near)
    return pd.DataFrame(dict(
        lot_id=[lots.lot_id[i] for i in idx], security_id=[problem.security_ids[lots.security[i]] for i in idx],
        gain=gain[idx], days_to_long_term=lots.days_to_long_term[idx],
        long_term_date=[pd.Timestamp(lots.long_term_date[i]).date() for i in idx],
        tax_if_sold_today=gain[idx] * problem.st_rate, tax_at_long_term=gain[idx] * problem.lt_rate,
    ))


def plan_short_to_long(
    household: Household, settings: OptimizerSettings = OptimizerSettings(), risk: RiskModel | None = None,
) -> EventComparison:
    deferring = optimize_plan(household, (), settings, risk, name="defer_to_long_term")
    naive_settings = replace(settings, near_long_term_days=0, near_long_term_penalty=0.0)
    naive = optimize_plan(household, (), naive_settings, risk, name="no_deferral")
    near = near_long_term_lots(household, settings)
    sold_today = deferring.trades.loc[deferring.trades["side"] == "sell", "lot_id"]
    sold_naive = naive.trades.loc[naive.trades["side"] == "sell", "lot_id"]
    near["sold_with_deferral"] = near["lot_id"].isin(set(sold_today))
    near["sold_without_deferral"] = near["lot_id"].isin(set(sold_naive))
    near["saving_if_waited"] = near["tax_if_sold_today"] - near["tax_at_long_term"]
    # shares of each near lot the naive plan sells today and the deferral keeps until long-term
    def sold_shares(plan):
        t = plan.trades[plan.trades["side"] == "sell"]
        return near["lot_id"].map(t.groupby("lot_id")["quantity"].sum()).fillna(0.0)

    kept = (sold_shares(naive) - sold_shares(deferring)).clip(lower=0.0)
    per_share = near["gain"] / household.lots.set_index("lot_id")["quantity"].reindex(near["lot_id"]).to_numpy()
    near["shares_kept_to_long_term"] = kept
    near["conversion_value"] = kept * per_share * (household.st_rate - household.lt_rate)
    others = ()
    deferred = near[~near["sold_with_deferral"]]
    if len(deferred):
        later = max(deferred["long_term_date"])
        after = move_to(apply_trades(household, deferring.trades), later)
        others = (optimize_plan(after, (), settings, risk, name=f"on_long_term_date_{later}"),)
    conversion = float(near["conversion_value"].sum())
    notes = (f"{len(near)} short-term gain lots within {settings.near_long_term_days} days of long-term; "
             f"{int((~near['sold_with_deferral']).sum())} deferred",
             f"today's tax {deferring.tax - naive.tax:+.2f} against the naive plan; the gain kept until long-term "
             f"saves {conversion:.2f} when sold then (st - lt rate): net {conversion - (deferring.tax - naive.tax):+.2f}")
    return EventComparison("short_to_long", household, deferring, naive, others=others, notes=notes, detail=near)
