"""Factor risk model from daily closes, and the ex-ante tracking error of a household vs its target.

Model (documented in optimization/README.md "Risk model"): a fundamental-style market + sector
model with a volatility style factor, estimated by time-series regression.

    r_i(t) = alpha_i + beta_i f_market(t) + gamma_i f_sector(i)(t) + v_i f_volatility(t) + e_i(t)

- r_i: daily log return of security i (closes from raw.price_history, ~3 years);
- f_market: equal-weighted cross-sectional mean return of every security that day;
- f_b: equal-weighted mean return of the members of bucket b (GICS sector; funds: asset class)
  minus f_market; only buckets with at least `min_group_size` securities get a factor (a
  bucket of one would explain its member perfectly and leave no specific risk);
- f_volatility (style, from prices alone): the equal-weighted mean return of the most volatile third
  of the securities minus that of the least volatile third, ranked by realised volatility within
  their bucket (so it is not "stocks minus bonds"), then residualised on a constant, f_market and
  the sector factors: orthogonal to them, it leaves every beta and gamma what it was without it
  and explains what a low-volatility (or high-beta) tilt adds. Only with `style_factors` and at
  least 6 fitted securities;
- beta_i, gamma_i, v_i, specific variance var(e_i) by ordinary least squares per security on the days
  it has a return; factor covariance = sample covariance of the factor returns. Everything is
  annualised with 252 trading days.

A security with fewer than `min_observations` returns (new listing, missing history) gets the
prior exposures (beta 1, gamma 1 on its bucket factor) and the median specific variance of its
bucket (or of all securities); so does a security the model has never seen, at lookup time
(`RiskModel.household_risk`). CASH has no risk.

Tracking error: with active weights a = w - t over securities (CASH carries none),
    TE^2 = (B'a)' F (B'a) + sum_i d_i a_i^2      (annualised; TE = sqrt)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRADING_DAYS = 252
MARKET = "market"
VOLATILITY = "style:volatility"


@dataclass(frozen=True, eq=False)
class HouseholdRisk:
    """The risk model restricted to one household's securities (rows aligned with security_ids)."""

    factor_names: tuple[str, ...]
    exposures: np.ndarray  # n_sec x n_factor
    factor_cov: np.ndarray  # n_factor x n_factor, annualised
    specific_var: np.ndarray  # n_sec, annualised
    unmodelled: tuple[str, ...] = ()  # securities that got the prior (no usable history)

    def tracking_error(self, active_weight: np.ndarray) -> float:
        """Annualised ex-ante tracking error of active weights (securities only, CASH excluded)."""
        return math.sqrt(max(0.0, tracking_variance(active_weight, self.exposures, self.factor_cov, self.specific_var)))


def tracking_variance(active_weight, exposures, factor_cov, specific_var) -> float:
    a = np.asarray(active_weight, dtype=float)
    y = exposures.T @ a
    return float(y @ factor_cov @ y + (specific_var * a * a).sum())


@dataclass(frozen=True, eq=False)
class RiskModel:
    security_ids: tuple[str, ...]
    bucket: tuple[str, ...]  # per security, the bucket used for its sector factor
    factor_names: tuple[str, ...]  # "market", then "sector:<bucket>"
    exposures: np.ndarray  # n x k
    factor_cov: np.ndarray  # k x k, annualised
    specific_var: np.ndarray  # n, annualised
    observations: np.ndarray  # n, daily returns used per security (0: prior)
    start_date: object = None
    end_date: object = None
    method: str = "market + sector factors, OLS per security on daily log returns"

    def __post_init__(self):
        object.__setattr__(self, "_index", {s: i for i, s in enumerate(self.security_ids)})
        prior = {}
        for b in set(self.bucket):
            members = np.array([x == b for x in self.bucket]) & (self.observations > 0)
            prior[b] = float(np.median(self.specific_var[members])) if members.any() else math.nan
        fitted = self.observations > 0
        overall = float(np.median(self.specific_var[fitted])) if fitted.any() else 0.04
        object.__setattr__(self, "_prior_var", {b: (v if math.isfinite(v) else overall) for b, v in prior.items()})
        object.__setattr__(self, "_overall_var", overall)
        object.__setattr__(self, "_factor_index", {f: k for k, f in enumerate(self.factor_names)})

    def volatility(self, security_id: str) -> float:
        i = self._index[security_id]
        b = self.exposures[i]
        return math.sqrt(float(b @ self.factor_cov @ b + self.specific_var[i]))

    def household_risk(self, security_ids: Sequence[str], buckets: Sequence[str]) -> HouseholdRisk:
        """Rows for these securities; factors nobody here is exposed to are dropped."""
        n, k = len(security_ids), len(self.factor_names)
        exposures = np.zeros((n, k))
        specific = np.zeros(n)
        unmodelled = []
        for j, (s, b) in enumerate(zip(security_ids, buckets)):
            i = self._index.get(s)
            if i is not None and self.observations[i] > 0:
                exposures[j] = self.exposures[i]
                specific[j] = self.specific_var[i]
                continue
            unmodelled.append(s)
            exposures[j, 0] = 1.0
            f = self._factor_index.get(f"sector:{b}")
            if f is not None:
                exposures[j, f] = 1.0
            specific[j] = self._prior_var.get(b, self._overall_var)
        used = np.flatnonzero(np.abs(exposures).sum(axis=0) > 0)
        return HouseholdRisk(
            factor_names=tuple(self.factor_names[f] for f in used),
            exposures=np.ascontiguousarray(exposures[:, used]),
            factor_cov=np.ascontiguousarray(self.factor_cov[np.ix_(used, used)]),
            specific_var=specific,
            unmodelled=tuple(unmodelled),
        )


def _buckets(sectors) -> dict[str, str]:
    """security_id -> bucket, from a mapping or a dim_securities-like frame (gics_sector, else asset_class)."""
    if isinstance(sectors, pd.DataFrame):
        ids = sectors["security_id"].astype(str).to_numpy()
        sector = sectors["gics_sector"] if "gics_sector" in sectors.columns else pd.Series([None] * len(sectors))
        klass = sectors["asset_class"] if "asset_class" in sectors.columns else pd.Series([None] * len(sectors))
        out = {}
        for s, a, c in zip(ids, sector.astype(object).to_numpy(), klass.astype(object).to_numpy()):
            b = a if isinstance(a, str) and a.strip() else (c if isinstance(c, str) and c.strip() else "unclassified")
            out[s] = b.strip()
        return out
    if isinstance(sectors, Mapping):
        return {str(k): (str(v) if v is not None and v == v else "unclassified") for k, v in sectors.items()}
    raise TypeError("sectors must be a mapping security_id -> sector or a frame with security_id, gics_sector")


def estimate_risk_model(
    price_history: pd.DataFrame,
    sectors,
    *,
    min_observations: int = 60,
    min_group_size: int = 3,
    style_factors: bool = True,
) -> RiskModel:
    """Market + sector (+ volatility style) factor model from daily closes (columns security_id,
    price_date, close).

    `sectors`: security_id -> GICS sector (funds: asset class), as a mapping or as dim_securities.
    Pure and deterministic (securities sorted by id, dates sorted). See the module docstring.
    """
    frame = pd.DataFrame({
        "security_id": price_history["security_id"].astype(str).to_numpy(),
        "price_date": pd.to_datetime(price_history["price_date"]).to_numpy(),
        "close": pd.to_numeric(price_history["close"], errors="coerce").to_numpy(dtype=float),
    })
    wide = frame.pivot_table(index="price_date", columns="security_id", values="close", aggfunc="last").sort_index()
    wide = wide.reindex(columns=sorted(wide.columns))
    ids = tuple(str(c) for c in wide.columns)
    closes = wide.to_numpy(dtype=float, copy=True)
    closes[~(closes > 0)] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(np.log(closes), axis=0)  # T x n, NaN where either close is missing
    bucket_of = _buckets(sectors)
    bucket = tuple(bucket_of.get(s, "unclassified") for s in ids)
    valid = np.isfinite(r)
    with np.errstate(invalid="ignore"):
        counts = valid.sum(axis=1)
        market = np.where(counts > 0, np.nansum(r, axis=1) / np.maximum(counts, 1), 0.0)

    groups = sorted(b for b in set(bucket) if sum(x == b for x in bucket) >= min_group_size)
    group_index = {b: k + 1 for k, b in enumerate(groups)}
    factors = np.zeros((r.shape[0], 1 + len(groups)))
    factors[:, 0] = market
    for b, k in group_index.items():
        cols = np.array([x == b for x in bucket])
        rb, vb = r[:, cols], valid[:, cols]
        nb = vb.sum(axis=1)
        mean_b = np.where(nb > 0, np.nansum(rb, axis=1) / np.maximum(nb, 1), market)
        factors[:, k] = mean_b - market

    obs = valid.sum(axis=0)
    fitted = obs >= min_observations
    complete = valid.all(axis=0) & fitted
    style = volatility_factor(r, valid, bucket, fitted, factors) if style_factors else None
    if style is not None:
        factors = np.column_stack([factors, style])
    s_col = factors.shape[1] - 1 if style is not None else None
    n, kf = len(ids), factors.shape[1]
    exposures = np.zeros((n, kf))
    specific = np.zeros(n)
    # securities with a full history: one least-squares solve per bucket (same design matrix)
    for b in sorted(set(bucket)):
        k = group_index.get(b)
        design = np.column_stack([np.ones(len(market)), market] + ([factors[:, k]] if k else [])
                                 + ([factors[:, s_col]] if s_col else []))
        cols = np.flatnonzero(np.array([x == b for x in bucket]) & complete)
        if len(cols):
            _fit(design, r[:, cols], cols, k, exposures, specific, s_col)
        for j in np.flatnonzero(np.array([x == b for x in bucket]) & fitted & ~complete):
            rows = valid[:, j]
            _fit(design[rows], r[rows, j][:, None], np.array([j]), k, exposures, specific, s_col)
    factor_cov = np.cov(factors, rowvar=False, ddof=1).reshape(kf, kf) * TRADING_DAYS
    specific *= TRADING_DAYS
    # prior for securities without enough history (see module docstring)
    for j in np.flatnonzero(~fitted):
        exposures[j, 0] = 1.0
        if group_index.get(bucket[j]):
            exposures[j, group_index[bucket[j]]] = 1.0
    dates = wide.index
    model = RiskModel(
        security_ids=ids,
        bucket=bucket,
        factor_names=(MARKET,) + tuple(f"sector:{b}" for b in groups) + ((VOLATILITY,) if s_col else ()),
        exposures=exposures,
        factor_cov=factor_cov,
        specific_var=specific,
        observations=np.where(fitted, obs, 0),
        start_date=dates[0].date() if len(dates) else None,
        end_date=dates[-1].date() if len(dates) else None,
        method=("market + sector factors + a volatility style factor" if s_col else "market + sector factors")
        + ", OLS per security on daily log returns",
    )
    # unfitted securities get their bucket's median specific variance
    if (~fitted).any():
        prior = np.array([model._prior_var.get(b, model._overall_var) for b in bucket])
        specific[~fitted] = prior[~fitted]
    return model


def volatility_factor(r, valid, bucket, fitted, factors) -> np.ndarray | None:
    """Daily returns of the volatility style factor (module docstring), or None with too few names."""
    vol = np.full(r.shape[1], np.nan)
    with np.errstate(invalid="ignore"):
        vol[fitted] = np.nanstd(r[:, fitted], axis=0)
    score = np.full(r.shape[1], np.nan)
    for b in sorted(set(bucket)):
        members = np.flatnonzero(np.array([x == b for x in bucket]) & fitted)
        if len(members) >= 3:
            v = vol[members]
            score[members] = (v - v.mean()) / v.std() if v.std() > 0 else 0.0
    ranked = np.flatnonzero(np.isfinite(score))
    if len(ranked) < 6:
        return None
    order = ranked[np.lexsort((ranked, score[ranked]))]  # least volatile first, ties by position
    third = len(order) // 3
    low, high = order[:third], order[-third:]

    def mean_return(cols):
        n = valid[:, cols].sum(axis=1)
        return np.where(n > 0, np.nansum(r[:, cols], axis=1) / np.maximum(n, 1), 0.0)

    raw = mean_return(high) - mean_return(low)
    others = np.column_stack([np.ones(len(raw)), factors])
    coef, *_ = np.linalg.lstsq(others, raw, rcond=None)
    return raw - others @ coef


def _fit(design, returns, cols, k, exposures, specific, s_col=None) -> None:
    coef, *_ = np.linalg.lstsq(design, returns, rcond=None)
    resid = returns - design @ coef
    dof = max(1, design.shape[0] - design.shape[1])
    exposures[cols, 0] = coef[1]
    if k:
        exposures[cols, k] = coef[2]
    if s_col:
        exposures[cols, s_col] = coef[-1]
    specific[cols] = (resid * resid).sum(axis=0) / dof


def synthetic_price_history(
    security_ids: Sequence[str],
    sectors: Mapping[str, str],
    days: int = 756,
    seed: int = 0,
    end: str = "2026-03-02",
) -> pd.DataFrame:
    """Closes from a known market + sector model (tests, benchmark): beta ~ U(0.7, 1.3), market
    16%/yr, sector 10%/yr, idiosyncratic 20-35%/yr."""
    rng = np.random.default_rng(seed)
    n = len(security_ids)
    names = sorted(set(sectors[s] for s in security_ids))
    sec_idx = np.array([names.index(sectors[s]) for s in security_ids])
    beta = rng.uniform(0.7, 1.3, n)
    idio = rng.uniform(0.20, 0.35, n) / math.sqrt(TRADING_DAYS)
    m = rng.normal(0.0003, 0.16 / math.sqrt(TRADING_DAYS), days)
    s = rng.normal(0.0, 0.10 / math.sqrt(TRADING_DAYS), (days, len(names)))
    r = m[:, None] * beta + s[:, sec_idx] + rng.normal(0.0, 1.0, (days, n)) * idio
    closes = 50.0 * np.exp(np.vstack([np.zeros(n), np.cumsum(r, axis=0)]))
    dates = pd.bdate_range(end=end, periods=days + 1)
    return pd.DataFrame({
        "security_id": np.tile(np.asarray(security_ids, dtype=object), days + 1),
        "price_date": np.repeat(dates.to_numpy(), n),
        "close": closes.ravel(),
    })
