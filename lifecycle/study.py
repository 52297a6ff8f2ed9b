"""The transition study: (a), (b), (c) on generated legacy portfolios, summarised beside the
published figures (Smartleaf study of 18,000 real portfolios; docs/lifecycle.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from optimization import OptimizerSettings

from lifecycle.generate import legacy_household, universe
from lifecycle.transition import TransitionPolicy, plan_transition

PUBLISHED = {
    "liquidate": dict(tax_pct_of_value=0.0721, turnover=1.0, tracking_error_after=0.0, net_tax_benefit_share=0.05),
    "transition": dict(tax_pct_of_value=0.0029, turnover=0.304, tracking_error_after=0.0154, net_tax_benefit_share=0.46),
}


def study_rows(count: int, seed: int = 0, policy: TransitionPolicy = TransitionPolicy(),
               settings: OptimizerSettings = OptimizerSettings(), n_model: int = 200, multi_year: bool = True) -> pd.DataFrame:
    """One row per (household, plan): the comparison frame of each generated household."""
    u = universe(n_model=n_model, seed=seed)
    frames = []
    for k in range(count):
        household = legacy_household(u, seed * 100_000 + k)
        c = plan_transition(household, policy, settings, u.risk, u, multi_year=multi_year)
        frame = c.comparison_frame()
        if c.detail is not None and len(c.detail):
            frame.loc[frame["plan"] == "multi_year", "years"] = len(c.detail)
            frame.loc[frame["plan"] == "multi_year", "inside_bands"] = bool(c.detail["inside_bands_after"].iloc[-1])
        frame["positions"] = household.lots["security_id"].nunique()
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def summarise(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and distribution per plan, with the published figures beside them."""
    out = []
    for plan, g in rows.groupby("plan", sort=False):
        tax = g["tax_pct_of_value"]
        published = PUBLISHED.get(plan, {})
        out.append(dict(
            plan=plan, households=len(g),
            tax_pct_mean=tax.mean(), tax_pct_p10=tax.quantile(0.1), tax_pct_median=tax.median(),
            tax_pct_p90=tax.quantile(0.9), tax_pct_published=published.get("tax_pct_of_value", np.nan),
            turnover_mean=g["turnover"].mean(), turnover_median=g["turnover"].median(),
            turnover_published=published.get("turnover", np.nan),
            te_mean=g["tracking_error_after"].mean(), te_median=g["tracking_error_after"].median(),
            te_published=published.get("tracking_error_after", np.nan),
            net_tax_benefit_share=float((g["tax"] < 0).mean()),
            net_tax_benefit_published=published.get("net_tax_benefit_share", np.nan),
        ))
    return pd.DataFrame(out)
