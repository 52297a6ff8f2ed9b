"""Generated legacy portfolios and the direct-index model they move into (transition study).

Universe (seeded, `universe`): `n_model` index names M000.. (cap weights lognormal(0, 1.2), 99% of the
model, 1% cash) and `n_outside` names X000.. that are not in the index (legacy stocks the model
does not hold); 11 GICS sectors, 3 industries per sector; prices lognormal around $90. Risk: an
exact market + sector factor model (beta ~ U(0.7, 1.3), market 16%/yr, independent sectors
8%/yr, specific 20-35%/yr), built as an optimization.risk.RiskModel so the optimizer prices and
reports tracking error the way the daily run does.

Legacy household (`legacy_household(seed)`): one taxable account, value lognormal (median $1.5M,
clipped to $100k-$20M), 3-25 positions with Dirichlet(0.7) weights (concentrated), each an index
name with probability 0.75 (drawn by cap weight) or an outside name; 1-4 lots per position, age
exponential with mean 6 years (clipped to 20 days-30 years, so some lots are short-term), cost
per share = price x exp(-(0.08 age + 0.30 sqrt(age) Z)) (older lots carry larger gains, some
lots are at a loss); 1% cash; tax rates drawn from three brackets (st, lt): (0.408, 0.238),
(0.388, 0.188), (0.278, 0.188) with probabilities 0.4, 0.4, 0.2. Nothing here is tuned to the
published study; docs/lifecycle.md explains the differences.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimization.risk import RiskModel
from optimization.testing import SECTORS

from lifecycle.household import Household, normalise

RATE_BRACKETS = ((0.408, 0.238), (0.388, 0.188), (0.278, 0.188))
RATE_WEIGHTS = (0.4, 0.4, 0.2)


@dataclass(frozen=True, eq=False)
class Universe:
    securities: pd.DataFrame  # PRICE_COLUMNS
    model: pd.DataFrame  # security_id, target_weight (CASH included)
    risk: RiskModel
    expected_return: float = 0.06  # per year, every name (price drift simulation)

    @property
    def model_ids(self) -> list[str]:
        return [s for s in self.model["security_id"] if s != "CASH"]


def universe(n_model: int = 200, n_outside: int = 60, seed: int = 0) -> Universe:
    rng = np.random.default_rng(seed)
    ids = [f"M{i:03d}" for i in range(n_model)] + [f"X{i:03d}" for i in range(n_outside)]
    n = len(ids)
    sector = [SECTORS[i % len(SECTORS)] for i in range(n)]
    industry = [f"{SECTORS[i % len(SECTORS)]}/{(i // len(SECTORS)) % 3}" for i in range(n)]
    prices = np.round(np.exp(rng.normal(4.5, 0.6, n)), 2)
    securities = pd.DataFrame(dict(
        security_id=ids, price=prices, gics_sector=sector, gics_industry=industry, asset_class="us_equity",
        identical_group=ids, security_type="equity",
    ))
    caps = np.sort(rng.lognormal(0.0, 1.2, n_model))[::-1]
    weights = 0.99 * caps / caps.sum()
    model = pd.DataFrame(dict(security_id=ids[:n_model] + ["CASH"], target_weight=list(weights) + [0.01]))
    names = sorted(set(sector))
    factor_names = ("market",) + tuple(f"sector:{s}" for s in names)
    exposures = np.zeros((n, len(factor_names)))
    exposures[:, 0] = rng.uniform(0.7, 1.3, n)
    for i, s in enumerate(sector):
        exposures[i, 1 + names.index(s)] = 1.0
    factor_cov = np.diag([0.16 ** 2] + [0.08 ** 2] * len(names))
    specific = rng.uniform(0.20, 0.35, n) ** 2
    order = np.argsort(ids)
    risk = RiskModel(
        security_ids=tuple(ids[i] for i in order), bucket=tuple(sector[i] for i in order), factor_names=factor_names,
        exposures=exposures[order], factor_cov=factor_cov, specific_var=specific[order],
        observations=np.full(n, 756),
    )
    return Universe(securities, model, risk)


def legacy_household(u: Universe, seed: int, as_of: dt.date = dt.date(2026, 3, 2), household_id: str | None = None) -> Household:
    rng = np.random.default_rng(1000 + seed)
    hid = household_id or f"LEG{seed:05d}"
    value = float(np.clip(rng.lognormal(math.log(1.5e6), 0.8), 1e5, 2e7))
    k = int(rng.integers(3, 26))
    weights = rng.dirichlet(np.full(k, 0.7))
    model_ids = u.model_ids
    outside = [s for s in u.securities["security_id"] if s.startswith("X")]
    cap = u.model.set_index("security_id")["target_weight"].reindex(model_ids).to_numpy()
    chosen: list[str] = []
    while len(chosen) < k:
        s = (rng.choice(model_ids, p=cap / cap.sum()) if rng.random() < 0.75 else rng.choice(outside))
        if s not in chosen:
            chosen.append(str(s))
    price = u.securities.set_index("security_id")["price"]
    rows = []
    for s, w in zip(chosen, weights):
        n_lots = int(rng.integers(1, 5))
        split = rng.dirichlet(np.ones(n_lots)) if n_lots > 1 else np.ones(1)
        for j, share in enumerate(split):
            age = float(np.clip(rng.exponential(6.0), 20 / 365, 30.0))
            growth = 0.08 * age + 0.30 * math.sqrt(age) * rng.normal()
            cps = round(float(price[s]) * math.exp(-growth), 4)
            qty = math.floor(value * 0.99 * w * share / float(price[s]))
            if qty <= 0:
                continue
            acquired = as_of - dt.timedelta(days=int(round(age * 365.25)))
            rows.append((f"{hid}-{s}-{j}", f"{hid}-TAX", s, float(qty), cps, acquired))
    lots = pd.DataFrame(rows, columns=["lot_id", "account_id", "security_id", "quantity", "cost_per_share", "acquired_date"])
    st, lt = RATE_BRACKETS[int(rng.choice(len(RATE_BRACKETS), p=RATE_WEIGHTS))]
    accounts = pd.DataFrame(dict(account_id=[f"{hid}-TAX"], taxable=[True], registration=["individual"],
                                 fractional_allowed=[True], cash=[round(value * 0.01, 2)]))
    held = set(lots["security_id"])
    securities = u.securities[u.securities["security_id"].isin(held | set(model_ids))]
    return normalise(hid, as_of, st, lt, accounts, lots, u.model, securities)


def drifted_prices(u: Universe, prices: pd.Series, years: float, rng: np.random.Generator) -> pd.Series:
    """Prices after `years` of returns drawn from the universe's factor model (log-normal, mean
    `expected_return`)."""
    risk = u.risk
    ids = list(risk.security_ids)
    cov = (risk.exposures @ risk.factor_cov @ risk.exposures.T + np.diag(risk.specific_var)) * years
    r = rng.multivariate_normal(np.full(len(ids), u.expected_return * years) - 0.5 * np.diag(cov), cov)
    growth = pd.Series(np.exp(r), index=ids)
    return (prices * growth.reindex(prices.index).fillna(1.0)).round(4)
