"""The deterministic synthetic firm: households, accounts, lots, activity, restrictions and requests.

``generate_firm`` builds every landing table as a pandas DataFrame (columns exactly as in
``custodian.layout``); ``synthetic.writer`` turns them into the landing CSV files. All randomness comes
from one ``numpy.random.Generator(PCG64(seed))``, split into independent child streams (market,
households, holdings, activity, instructions) with ``Generator.spawn``, so the market does not depend
on the number of households. Work is vectorised over accounts, positions and lots.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from custodian import layout
from synthetic.universe import (
    BLEND_MODELS,
    CASH,
    DI_CASH_WEIGHT,
    FUND_MODELS,
    MODEL_IDS,
    MODEL_NAMES,
    SECTOR_NAMES,
    TILTED_MODELS,
    WEIGHT_DECIMALS,
    Universe,
    build_universe,
    direct_index_units,
    style_scores,
    business_days,
    direct_index_units,
    simulate_prices,
)

HISTORY_YEARS = 3  # years of closes in the price_history file
HIDDEN_YEARS = 6  # years of simulated path (cost basis of older lots, closed lots)
WASH_WINDOW_DAYS = 30

# Account kinds: (registration, owner_role, taxable).
ACCOUNT_KINDS = (
    ("individual", "primary", True),
    ("joint", "joint", True),
    ("individual", "spouse", True),
    ("traditional_ira", "primary", False),
    ("roth_ira", "primary", False),
    ("traditional_ira", "spouse", False),
    ("roth_ira", "spouse", False),
)
MARRIED_KIND_WEIGHTS = np.array([1.0, 1.3, 0.35, 0.7, 0.45, 0.5, 0.3])
SINGLE_KIND_WEIGHTS = np.array([1.0, 0.0, 0.0, 0.7, 0.5, 0.0, 0.0])
STATES = ("CA", "NY", "TX", "FL", "WA", "MA", "IL", "NJ", "PA", "CO", "GA", "NC", "VA", "AZ", "OR")
STATE_P = (0.18, 0.12, 0.10, 0.10, 0.06, 0.06, 0.06, 0.06, 0.05, 0.04, 0.04, 0.04, 0.03, 0.03, 0.03)
MODEL_P = (0.38, 0.20, 0.14, 0.16, 0.06, 0.06)  # aligned with the first six MODEL_IDS
TILTED_P = {"SP500_VALUE_DI": 0.15, "SP500_LOWVOL_DI": 0.15}  # of the SP500_DI households, moved to a tilt
FEE_BPS = (25.0, 35.0, 50.0, 60.0, 75.0, 85.0, 100.0)
CUSTODIAN_P = (0.45, 0.35, 0.20)  # aligned with layout.CUSTODIANS
FRACTIONAL_DECIMALS = {"schwab": 4, "fidelity": 3, "pershing": 6}  # decimals of fractional accounts
EXCLUDED_SECTOR_P = {
    "Energy": 0.45,
    "Utilities": 0.10,
    "Real Estate": 0.10,
    "Health Care": 0.08,
    "Consumer Staples": 0.08,
    "Financials": 0.07,
    "Materials": 0.06,
    "Industrials": 0.06,
}
# Transaction types, in their sort order within a day and account.
TX_TYPES = ("deposit", "dividend", "reinvest", "sell", "buy", "fee", "withdrawal")
TX = {name: code for code, name in enumerate(TX_TYPES)}
MICRO = 1_000_000  # quantities are carried as integer millionths, so lots sum to positions exactly


@dataclass
class Firm:
    """One as-of day of the synthetic firm: one DataFrame per landing entity (layout columns, typed)."""

    as_of: dt.date
    seed: int
    security_master: pd.DataFrame
    prices: pd.DataFrame
    price_history: pd.DataFrame
    accounts: pd.DataFrame
    positions: pd.DataFrame
    open_lots: pd.DataFrame
    transactions: pd.DataFrame
    models: pd.DataFrame
    restrictions: pd.DataFrame
    requests: pd.DataFrame

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """entity -> DataFrame, in ``layout.ALL_LAYOUTS`` order."""
        return {lay.entity: getattr(self, lay.entity) for lay in layout.ALL_LAYOUTS}

    def __getitem__(self, entity: str) -> pd.DataFrame:
        if entity not in {f.name for f in fields(self)} - {"as_of", "seed"}:
            raise KeyError(entity)
        return getattr(self, entity)

    @property
    def households(self) -> int:
        return int(self.accounts["household_id"].nunique())


# ----------------------------------------------------------------------------------------------------
# small vectorised helpers


def _ragged(counts: np.ndarray) -> np.ndarray:
    """0..c-1 for each count c, concatenated."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def _starts(sorted_keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """For keys sorted ascending in 0..n-1: start offset and count of each key."""
    counts = np.bincount(sorted_keys, minlength=n).astype(np.int64)
    return np.cumsum(counts) - counts, counts


def _plus_one_year(days: np.ndarray) -> np.ndarray:
    """Same month and day one year later (Feb 29 -> Feb 28), for datetime64[D] arrays."""
    month = days.astype("datetime64[M]")
    day0 = (days - month.astype("datetime64[D]")).astype(np.int64)
    nxt = month + 12
    month_len = ((nxt + 1).astype("datetime64[D]") - nxt.astype("datetime64[D]")).astype(np.int64)
    return nxt.astype("datetime64[D]") + np.minimum(day0, month_len - 1)


def long_term_date(adjusted_acquired: np.ndarray) -> np.ndarray:
    """First date a sale is long term: held more than one year (anniversary + 1 day)."""
    return _plus_one_year(adjusted_acquired) + 1


def _round2(x: np.ndarray) -> np.ndarray:
    return np.round(x, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


def _ids(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """prefix + zero-padded number, as an object array of str."""
    digits = np.asarray(numbers, dtype=np.int64).astype(StringDType())
    return np.strings.add(prefix, np.strings.zfill(digits, width)).astype(object)


def _cat(codes: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    """A categorical column from integer codes (-1: missing) into unique string categories."""
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int64), categories=pd.Index(categories, dtype=object))


def _snap_back(bdays: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Index of the last business day on or before each date (-1 when before the path)."""
    return np.searchsorted(bdays, days, side="right") - 1


# ----------------------------------------------------------------------------------------------------
# models


@dataclass
class Models:
    frame: pd.DataFrame  # the models landing table
    weights: np.ndarray  # (n_models, n_securities) resolved security weights
    cash: np.ndarray  # (n_models,) resolved cash weight
    # Per model, components in holding order (funds first, then stocks by weight), flattened.
    comp_offset: np.ndarray
    comp_count: np.ndarray
    comp_sec: np.ndarray
    comp_w: np.ndarray
    comp_stock: np.ndarray
    stock_weight: np.ndarray  # (n_models,)
    stock_count: np.ndarray
    nonstock_count: np.ndarray
    prefix_offset: np.ndarray
    prefix: np.ndarray  # per model: cumulative stock weight of the first k stocks, k = 0..n_stock


def build_models(uni: Universe, as_of: dt.date, scores: dict[str, np.ndarray] | None = None) -> Models:
    """The model portfolios; ``scores`` (style_scores on the as-of date) adds the factor-tilted
    direct indexes (TILTED_MODELS), without them their weights are the plain direct index's."""
    version = f"{as_of.year}.{as_of.month}.1"
    n_sec = len(uni.ids)
    scale = 10**WEIGHT_DECIMALS
    rows: list[tuple[str, str, float]] = []  # (model_id, component_type, component_id, weight)
    resolved: dict[str, tuple[np.ndarray, float]] = {}

    stock_idx = np.flatnonzero(uni.is_stock)
    units = direct_index_units(uni)
    di = np.zeros(n_sec)
    di[stock_idx] = units / scale
    resolved["SP500_DI"] = (di, DI_CASH_WEIGHT)
    for i, u in zip(stock_idx.tolist(), units.tolist()):
        rows.append(("SP500_DI", "security", uni.ids[i], u / scale))
    rows.append(("SP500_DI", "security", CASH, DI_CASH_WEIGHT))
    for model_id, style in TILTED_MODELS.items():
        tilted_units = direct_index_units(uni, scores[style]) if scores else units
        w = np.zeros(n_sec)
        w[stock_idx] = tilted_units / scale
        resolved[model_id] = (w, DI_CASH_WEIGHT)
        rows.extend((model_id, "security", uni.ids[i], u / scale) for i, u in zip(stock_idx.tolist(), tilted_units.tolist()))
        rows.append((model_id, "security", CASH, DI_CASH_WEIGHT))
    for model_id, comps in FUND_MODELS.items():
        w = np.zeros(n_sec)
        cash = 0.0
        for sec, weight in comps:
            rows.append((model_id, "security", sec, weight))
            if sec == CASH:
                cash += weight
            else:
                w[uni.index_of[sec]] += weight
        resolved[model_id] = (w, cash)
    for model_id, comps in BLEND_MODELS.items():
        w = np.zeros(n_sec)
        cash = 0.0
        for sub, weight in comps:
            rows.append((model_id, "model", sub, weight))
            w += weight * resolved[sub][0]
            cash += weight * resolved[sub][1]
        resolved[model_id] = (w, cash)

    frame = pd.DataFrame(rows, columns=["model_id", "component_type", "component_id", "weight"])
    frame.insert(1, "model_version", version)
    frame.insert(2, "model_name", frame["model_id"].map(MODEL_NAMES))
    frame = frame.sort_values(["model_id", "component_type", "component_id"], kind="stable").reset_index(drop=True)

    weights = np.stack([resolved[m][0] for m in MODEL_IDS])
    cash = np.array([resolved[m][1] for m in MODEL_IDS])
    offs, counts, secs, ws, stocks = [], [], [], [], []
    stock_w, stock_n, non_n, pre_off, prefix = [], [], [], [], []
    off = pre = 0
    for k in range(len(MODEL_IDS)):
        w = weights[k]
        held = np.flatnonzero(w > 0)
        non = held[~uni.is_stock[held]]
        stk = held[uni.is_stock[held]]
        stk = stk[np.lexsort((stk, -w[stk]))]  # heaviest first, ties by index
        order = np.concatenate([non, stk])
        offs.append(off)
        counts.append(len(order))
        off += len(order)
        secs.append(order)
        ws.append(w[order])
        stocks.append(uni.is_stock[order])
        stock_w.append(w[stk].sum())
        stock_n.append(len(stk))
        non_n.append(len(non))
        pre_off.append(pre)
        prefix.append(np.concatenate([[0.0], np.cumsum(w[stk])]))
        pre += len(stk) + 1
    return Models(
        frame=frame,
        weights=weights,
        cash=cash,
        comp_offset=np.array(offs),
        comp_count=np.array(counts),
        comp_sec=np.concatenate(secs),
        comp_w=np.concatenate(ws),
        comp_stock=np.concatenate(stocks),
        stock_weight=np.array(stock_w),
        stock_count=np.array(stock_n),
        nonstock_count=np.array(non_n),
        prefix_offset=np.array(pre_off),
        prefix=np.concatenate(prefix),
    )


# ----------------------------------------------------------------------------------------------------
# the firm


def generate_firm(as_of: dt.date, households: int = 200, seed: int = 7) -> Firm:
    """Generate the whole firm for ``as_of`` (a business day, Mon-Fri) without writing anything."""
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    if as_of.weekday() >= 5:
        raise ValueError(f"as_of {as_of.isoformat()} is not a business day (Mon-Fri)")
    if households < 1:
        raise ValueError("households must be >= 1")
    root = np.random.Generator(np.random.PCG64(seed))
    rng_market, rng_hh, rng_hold, rng_act, rng_instr = root.spawn(5)
    # account instructions and household settings: a stream of their own (spawned after the five
    # above, so adding it changed nothing else the generator draws)
    (rng_rules,) = root.spawn(1)
    (rng_tilts,) = root.spawn(1)  # which direct-index households take a factor tilt (same reasoning)

    # ---- calendar and market -------------------------------------------------------------------
    as_of64 = np.datetime64(as_of, "D")
    bdays = business_days(_years_before(as_of, HIDDEN_YEARS), as_of)
    n_days = len(bdays)
    last = n_days - 1  # index of as_of
    hist_start = np.datetime64(_years_before(as_of, HISTORY_YEARS), "D")
    tx_start = min(np.datetime64(dt.date(as_of.year, 1, 1), "D"), as_of64 - 60)
    w0 = int(np.searchsorted(bdays, tx_start, side="left"))  # first business day of the activity window

    uni = build_universe(rng_market)
    di_w = direct_index_units(uni).astype(float)
    px = simulate_prices(rng_market, uni, n_days, di_w / di_w.sum())
    models = build_models(uni, as_of, style_scores(uni, px, last))
    p_now = px[last]
    n_sec = len(uni.ids)

    # ---- households and accounts ---------------------------------------------------------------
    rng = rng_hh
    n_hh = households
    married = rng.random(n_hh) < 0.6
    n_acc = np.where(
        married,
        rng.choice([1, 2, 3, 4], size=n_hh, p=[0.2, 0.35, 0.28, 0.17]),
        rng.choice([1, 2, 3], size=n_hh, p=[0.35, 0.4, 0.25]),
    )
    kind_w = np.where(married[:, None], MARRIED_KIND_WEIGHTS, SINGLE_KIND_WEIGHTS)
    with np.errstate(divide="ignore"):
        keys = np.log(rng.random((n_hh, len(ACCOUNT_KINDS)))) / kind_w  # Efraimidis-Spirakis
    order = np.argsort(-keys, axis=1, kind="stable")
    take = np.arange(len(ACCOUNT_KINDS))[None, :] < n_acc[:, None]
    acc_hh = np.repeat(np.arange(n_hh), n_acc)
    acc_kind = order[take]
    srt = np.lexsort((acc_kind, acc_hh))
    acc_hh, acc_kind = acc_hh[srt], acc_kind[srt]
    n_a = len(acc_hh)
    kinds = np.array(ACCOUNT_KINDS, dtype=object)
    acc_reg = kinds[acc_kind, 0]
    acc_role = kinds[acc_kind, 1]
    acc_taxable = kinds[acc_kind, 2].astype(bool)

    has_sj = np.bincount(acc_hh, weights=np.isin(acc_kind, [1, 2]), minlength=n_hh) > 0
    u = rng.random(n_hh)
    filing = np.where(
        married | has_sj,
        np.where(has_sj & (u < 0.1), "married_separate", "married_joint"),
        np.where(u < 0.2, "head_of_household", "single"),
    ).astype(object)
    state = np.array(STATES, dtype=object)[rng.choice(len(STATES), size=n_hh, p=STATE_P)]
    income = np.round(np.clip(np.exp(rng.normal(np.log(220_000), 0.75, size=n_hh)), 60_000, 1_500_000), -2)
    fee_bps = np.array(FEE_BPS)[rng.integers(0, len(FEE_BPS), size=n_hh)]
    budget = np.where(rng.random(n_hh) < 0.25, 0.0, np.round(rng.uniform(1_000, 50_000, size=n_hh), -2))
    hh_model = _with_tilts(rng_tilts, rng.choice(len(MODEL_P), size=n_hh, p=MODEL_P))
    wealth = np.clip(np.exp(rng.normal(np.log(900_000), 0.9, size=n_hh)), 80_000, 30_000_000)

    primary_cust = rng.choice(len(layout.CUSTODIANS), size=n_hh, p=CUSTODIAN_P)
    first = np.r_[True, acc_hh[1:] != acc_hh[:-1]]
    other_cust = (primary_cust[acc_hh] + rng.integers(1, len(layout.CUSTODIANS), size=n_a)) % len(layout.CUSTODIANS)
    acc_cust = np.where(first | (rng.random(n_a) < 0.8), primary_cust[acc_hh], other_cust)
    acc_cust_name = np.array(layout.CUSTODIANS, dtype=object)[acc_cust]
    acc_frac = rng.random(n_a) < 0.5
    acc_dec = np.where(acc_frac, np.array([FRACTIONAL_DECIMALS[c] for c in layout.CUSTODIANS])[acc_cust], 0)
    share = rng.exponential(1.0, size=n_a) * np.where(acc_taxable, 1.6, 1.0)
    share /= np.bincount(acc_hh, weights=share, minlength=n_hh)[acc_hh]
    acc_value = np.maximum(wealth[acc_hh] * share, rng.uniform(15_000, 40_000, size=n_a))
    acc_model = hh_model[acc_hh]

    hh_width = max(5, len(str(n_hh)))
    acc_width = max(6, len(str(n_a)))
    hh_ids = _ids("HH", np.arange(1, n_hh + 1), hh_width)
    acc_ids = _ids("ACC", np.arange(1, n_a + 1), acc_width)

    # ---- target holdings per account ------------------------------------------------------------
    rng = rng_hold
    m = acc_model
    n_stk = models.stock_count[m]
    equity = acc_value * models.stock_weight[m]
    k_stk = np.where(n_stk > 0, np.clip(np.round(equity / 2200.0), np.minimum(40, n_stk), n_stk), 0).astype(np.int64)
    n_keep = models.nonstock_count[m] + k_stk
    pos_acc = np.repeat(np.arange(n_a), n_keep)
    flat = np.repeat(models.comp_offset[m], n_keep) + _ragged(n_keep)
    pos_sec = models.comp_sec[flat]
    pos_w = models.comp_w[flat]
    held_stock_w = models.prefix[models.prefix_offset[m] + k_stk]
    stock_scale = np.divide(models.stock_weight[m], held_stock_w, out=np.ones(n_a), where=held_stock_w > 0)
    pos_w = np.where(models.comp_stock[flat], pos_w * stock_scale[pos_acc], pos_w)
    pos_value = acc_value[pos_acc] * pos_w * np.exp(rng.normal(0.0, 0.22, size=len(pos_acc)))
    keep = rng.random(len(pos_acc)) >= 0.04  # some model positions are missing
    pos_acc, pos_sec, pos_value = pos_acc[keep], pos_sec[keep], pos_value[keep]
    pos_legacy = np.zeros(len(pos_acc), dtype=bool)

    # Legacy positions outside the model.
    leg_acc = np.flatnonzero(rng.random(n_a) < 0.3)
    n_leg = 1 + (rng.random(len(leg_acc)) < 0.4) + (rng.random(len(leg_acc)) < 0.15)
    fund_idx = np.flatnonzero(~uni.is_stock)
    stock_idx = np.flatnonzero(uni.is_stock)
    draws = 6
    cand = np.where(
        rng.random((len(leg_acc), draws)) < 0.5,
        fund_idx[rng.integers(0, len(fund_idx), size=(len(leg_acc), draws))],
        stock_idx[rng.integers(0, len(stock_idx), size=(len(leg_acc), draws))],
    )
    c_acc = np.repeat(leg_acc, draws)
    c_sec = cand.ravel()
    c_max = np.repeat(n_leg, draws)
    c_ok = models.weights[acc_model[c_acc], c_sec] == 0
    c_acc, c_sec, c_max = c_acc[c_ok], c_sec[c_ok], c_max[c_ok]
    _, first_i = np.unique(c_acc * n_sec + c_sec, return_index=True)
    first_i = np.sort(first_i)  # first draw of each (account, security), in draw order
    c_acc, c_sec, c_max = c_acc[first_i], c_sec[first_i], c_max[first_i]
    rank = _ragged(np.unique(c_acc, return_counts=True)[1])  # c_acc is non-decreasing
    c_ok = rank < c_max
    c_acc, c_sec = c_acc[c_ok], c_sec[c_ok]
    c_val = acc_value[c_acc] * rng.uniform(0.005, 0.04, size=len(c_acc))
    pos_acc = np.concatenate([pos_acc, c_acc])
    pos_sec = np.concatenate([pos_sec, c_sec])
    pos_value = np.concatenate([pos_value, c_val])
    pos_legacy = np.concatenate([pos_legacy, np.ones(len(c_acc), dtype=bool)])
    srt = np.lexsort((pos_sec, pos_acc))
    pos_acc, pos_sec, pos_value, pos_legacy = pos_acc[srt], pos_sec[srt], pos_value[srt], pos_legacy[srt]

    # Quantities in account units (whole shares, or 10^-d shares for fractional accounts).
    unit_scale = 10.0 ** acc_dec[pos_acc]
    pos_units = np.round(pos_value / p_now[pos_sec] * unit_scale).astype(np.int64)
    keep = pos_units > 0
    pos_acc, pos_sec, pos_legacy, pos_units = pos_acc[keep], pos_sec[keep], pos_legacy[keep], pos_units[keep]
    n_pos = len(pos_acc)

    # ---- lots: split each position over purchase dates --------------------------------------------
    n_lots = np.where(
        pos_legacy,
        1 + np.minimum(rng.poisson(0.6, size=n_pos), 2),
        1 + np.minimum(rng.poisson(1.1, size=n_pos), 5),
    )
    lot_pos = np.repeat(np.arange(n_pos), n_lots)
    frac = rng.exponential(1.0, size=len(lot_pos))
    cum = np.cumsum(frac)
    ends = np.cumsum(n_lots) - 1
    before = np.concatenate([[0.0], cum[ends[:-1]]])
    cum_in = cum - before[lot_pos]
    total = (cum[ends] - before)[lot_pos]
    floor_cum = np.floor(pos_units[lot_pos] * (cum_in / total)).astype(np.int64)
    prev = np.concatenate([[0], floor_cum[:-1]])
    prev[np.cumsum(n_lots) - n_lots] = 0
    lot_units = floor_cum - prev
    lot_leg = pos_legacy[lot_pos]

    # Acquisition dates: recent buys, the rest of the short-term year, about-to-turn-long-term, older.
    n_l = len(lot_pos)
    cat = rng.choice(4, size=n_l, p=[0.07, 0.13, 0.06, 0.74])
    lo = np.array([1, 30, 335, 366])[cat]
    hi = np.array([29, 334, 364, 5 * 365])[cat]
    back = rng.integers(lo, hi + 1)
    back = np.where(lot_leg, rng.integers(730, 2000, size=n_l), back)
    acq_idx = _snap_back(bdays, as_of64 - back)
    old = lot_leg & (rng.random(n_l) < 0.15)  # pre-2011 legacy lots: uncovered, basis from a backward path
    old_days = np.datetime64("2006-01-02") + rng.integers(0, 1825, size=n_l)
    old_days = np.busday_offset(old_days, 0, roll="backward")
    acq_date = np.where(old, old_days, bdays[np.maximum(acq_idx, 0)])
    acq_idx = np.where(old, -1, acq_idx)
    l_sec = pos_sec[lot_pos]
    years_back = (bdays[0] - old_days).astype(np.int64) / 365.25
    old_px = px[0, l_sec] * np.exp(-0.065 * years_back + rng.normal(0.0, 0.2, size=n_l))
    lot_px = np.where(old, np.maximum(np.round(old_px, 4), 0.5), px[np.maximum(acq_idx, 0), l_sec])

    keep = lot_units > 0
    lot_pos, lot_units, lot_leg, acq_idx, acq_date, lot_px = (
        lot_pos[keep], lot_units[keep], lot_leg[keep], acq_idx[keep], acq_date[keep], lot_px[keep]
    )  # fmt: skip
    n_l = len(lot_pos)
    l_acc = pos_acc[lot_pos]
    l_sec = pos_sec[lot_pos]
    l_dec = acc_dec[l_acc]
    l_micro = lot_units * (10 ** (6 - l_dec))
    l_qty = l_micro / MICRO
    l_basis = _round2(l_qty * lot_px)
    l_adj = np.zeros(n_l)
    l_adj_date = acq_date.copy()
    l_kind = np.zeros(n_l, dtype=np.int64)  # 0 bought, 1 reinvested

    # Wash-sale replacement lots: a loss sale 1-20 business days before the purchase disallowed a loss
    # that was added to this lot's basis, and the sold lot's holding period tacks on.
    rng = rng_act
    back_days = (as_of64 - acq_date).astype(np.int64)
    wcand = np.flatnonzero(
        ~lot_leg & acc_taxable[l_acc] & (back_days >= 45) & (back_days <= 330) & (rng.random(n_l) < 0.07)
    )
    w_sell = np.maximum(acq_idx[wcand] - rng.integers(1, 21, size=len(wcand)), 0)
    w_samples = np.maximum(w_sell[:, None] - rng.integers(30, 700, size=(len(wcand), 16)), 0)
    w_sec = l_sec[wcand]
    w_pick = np.argmax(px[w_samples, w_sec[:, None]], axis=1)
    w_old = w_samples[np.arange(len(wcand)), w_pick]
    w_p_old = px[w_old, w_sec]
    w_p_sell = px[w_sell, w_sec]
    ok = w_p_sell < w_p_old * 0.995
    wcand, w_sell, w_old, w_p_old, w_p_sell, w_sec = (
        wcand[ok], w_sell[ok], w_old[ok], w_p_old[ok], w_p_sell[ok], w_sec[ok]
    )  # fmt: skip
    w_units = np.ceil(lot_units[wcand] * rng.uniform(1.0, 1.5, size=len(wcand))).astype(np.int64)
    w_sold_qty = w_units / 10.0 ** l_dec[wcand]
    w_adj = np.maximum(_round2(l_qty[wcand] * (w_p_old - w_p_sell)), 0.01)
    l_adj[wcand] = w_adj
    l_adj_date[wcand] = acq_date[wcand] - (bdays[w_sell] - bdays[w_old])
    l_basis = _round2(l_basis + l_adj)
    w_proceeds = _round2(w_sold_qty * w_p_sell)
    w_gain = _round2(w_proceeds - _round2(w_sold_qty * w_p_old) + w_adj)
    w_gain = np.minimum(w_gain, 0.0) + 0.0
    w_term = bdays[w_sell] >= long_term_date(bdays[w_old])
    in_win = w_sell >= w0
    tx_wash = dict(
        acc=l_acc[wcand][in_win], day=w_sell[in_win], type=TX["sell"], sec=w_sec[in_win], qty=w_sold_qty[in_win],
        price=w_p_sell[in_win], amount=w_proceeds[in_win], gain=w_gain[in_win], term=w_term[in_win].astype(np.int64),
    )  # fmt: skip

    # ---- dividends (and reinvestments in fractional accounts) --------------------------------------
    ev_sec, ev_idx, ev_dps = _dividend_events(rng, uni, bdays, px, w0, last)
    ev_start, ev_count = _starts(ev_sec, n_sec)
    pos_ev = ev_count[pos_sec]
    d_pos = np.repeat(np.arange(n_pos), pos_ev)
    d_rank = _ragged(pos_ev)
    d_ev = ev_start[pos_sec][d_pos] + d_rank
    d_row_start = np.cumsum(pos_ev) - pos_ev
    # Base units held before each pay date: position units minus units of lots bought on/after it.
    d_units = pos_units[d_pos].astype(np.int64)
    recent = np.flatnonzero(acq_idx >= w0)
    r_ev_n = pos_ev[lot_pos[recent]]
    r_lot = np.repeat(recent, r_ev_n)
    r_rank = _ragged(r_ev_n)
    r_row = d_row_start[lot_pos[r_lot]] + r_rank
    later = acq_idx[r_lot] >= ev_idx[d_ev[r_row]]
    d_units -= np.bincount(r_row[later], weights=lot_units[r_lot][later], minlength=len(d_pos)).astype(np.int64)
    drip_p = np.where(uni.is_stock, 0.1, 0.5)[pos_sec]
    pos_drip = acc_frac[pos_acc] & ~pos_legacy & (rng.random(n_pos) < drip_p)
    drip_cum = np.zeros(n_pos, dtype=np.int64)
    d_amount = np.zeros(len(d_pos))
    r_units_all = np.zeros(len(d_pos), dtype=np.int64)
    for k in range(int(pos_ev.max()) if len(pos_ev) else 0):
        rows = np.flatnonzero(d_rank == k)
        p = d_pos[rows]
        units_before = d_units[rows] + drip_cum[p]
        qty_before = units_before / 10.0 ** acc_dec[pos_acc[p]]
        amt = _round2(qty_before * ev_dps[d_ev[rows]])
        d_amount[rows] = amt
        pay_px = px[ev_idx[d_ev[rows]], pos_sec[p]]
        ru = np.where(pos_drip[p], np.floor(amt / pay_px * 10.0 ** acc_dec[pos_acc[p]]), 0).astype(np.int64)
        r_units_all[rows] = ru
        drip_cum[p] += ru
    paid = d_amount > 0
    tx_div = dict(
        acc=pos_acc[d_pos][paid], day=ev_idx[d_ev][paid], type=TX["dividend"], sec=pos_sec[d_pos][paid],
        amount=d_amount[paid],
    )  # fmt: skip
    rr = np.flatnonzero(paid & (r_units_all > 0))
    r_pos = d_pos[rr]
    r_day = ev_idx[d_ev[rr]]
    r_px = px[r_day, pos_sec[r_pos]]
    r_micro = r_units_all[rr] * 10 ** (6 - acc_dec[pos_acc[r_pos]])
    r_qty = r_micro / MICRO
    # Append the reinvested lots.
    lot_pos = np.concatenate([lot_pos, r_pos])
    l_acc = np.concatenate([l_acc, pos_acc[r_pos]])
    l_sec = np.concatenate([l_sec, pos_sec[r_pos]])
    l_micro = np.concatenate([l_micro, r_micro])
    l_qty = np.concatenate([l_qty, r_qty])
    lot_units = np.concatenate([lot_units, r_units_all[rr]])
    lot_px = np.concatenate([lot_px, r_px])
    l_basis = np.concatenate([l_basis, _round2(r_qty * r_px)])
    l_adj = np.concatenate([l_adj, np.zeros(len(rr))])
    acq_idx = np.concatenate([acq_idx, r_day])
    acq_date = np.concatenate([acq_date, bdays[r_day]])
    l_adj_date = np.concatenate([l_adj_date, bdays[r_day]])
    l_kind = np.concatenate([l_kind, np.ones(len(rr), dtype=np.int64)])
    lot_leg = np.concatenate([lot_leg, np.zeros(len(rr), dtype=bool)])
    n_l = len(l_acc)

    # Open lot ids: sorted by account, security, acquisition.
    sec_rank = np.argsort(np.argsort(uni.ids.astype(str), kind="stable"))  # alphabetical rank of each security
    lot_order = np.lexsort((l_kind, acq_date, sec_rank[l_sec], l_acc))
    lot_number = np.empty(n_l, dtype=np.int64)
    lot_number[lot_order] = np.arange(1, n_l + 1)

    # Positions = sum of lots, exactly (integer millionths); cash 0.5%-5% of the account value.
    key = l_acc * n_sec + l_sec
    ukey, inv = np.unique(key, return_inverse=True)
    p_micro = np.bincount(inv, weights=l_micro).astype(np.int64)  # exact below 2**53
    p_acc, p_sec = ukey // n_sec, ukey % n_sec
    sec_value = np.bincount(p_acc, weights=p_micro / MICRO * p_now[p_sec], minlength=n_a)
    cash_frac = rng.uniform(0.005, 0.05, size=n_a)
    acc_cash = _round2(np.where(sec_value > 0, sec_value, acc_value) * cash_frac / (1 - cash_frac))
    acc_total = sec_value + acc_cash

    # ---- activity -------------------------------------------------------------------------------
    lot_tx = np.flatnonzero((acq_idx >= w0) & (acq_idx < last))
    tx_buy = dict(
        acc=l_acc[lot_tx], day=acq_idx[lot_tx], type=np.where(l_kind[lot_tx] == 1, TX["reinvest"], TX["buy"]),
        sec=l_sec[lot_tx], qty=l_qty[lot_tx], price=lot_px[lot_tx], amount=-_round2(l_qty[lot_tx] * lot_px[lot_tx]),
        lot=lot_number[lot_tx],
    )  # fmt: skip
    tx_cash = _cash_activity(rng, bdays, w0, last, acc_total, fee_bps[acc_hh], acc_taxable)

    # Buys (open lots) per household and identical group, to keep loss sales clear of wash sales.
    buys_h = pd.DataFrame(
        {
            "hh": acc_hh[l_acc[lot_tx]],
            "grp": uni.group_code[l_sec[lot_tx]],
            "bday": acq_idx[lot_tx],
        }
    )
    cal_of = (bdays - bdays[0]).astype(np.int64)  # calendar day number per business-day index

    def clear_of_buys(hh: np.ndarray, sec: np.ndarray, day: np.ndarray) -> np.ndarray:
        """True where no open lot of the household's same group was bought within 30 days of the sale."""
        s = pd.DataFrame({"row": np.arange(len(hh)), "hh": hh, "grp": uni.group_code[sec], "sday": day})
        j = s.merge(buys_h, on=["hh", "grp"], how="inner")
        near = np.abs(cal_of[j["bday"].to_numpy()] - cal_of[j["sday"].to_numpy()]) <= WASH_WINDOW_DAYS
        bad = np.zeros(len(hh), dtype=bool)
        bad[j["row"].to_numpy()[near]] = True
        return ~bad

    # Ordinary sells through the year (partial sales of held positions; closed lots).
    n_sells = rng.poisson(np.where(acc_taxable, 1.3, 0.4))
    pos_start, pos_count = _starts(p_acc, n_a)
    n_sells = np.where(pos_count > 0, n_sells, 0)
    s_acc = np.repeat(np.arange(n_a), n_sells)
    s_pos = pos_start[s_acc] + np.floor(rng.random(len(s_acc)) * pos_count[s_acc]).astype(np.int64)
    s_sec = p_sec[s_pos]
    s_day = rng.integers(w0, last, size=len(s_acc))
    s_acq = np.maximum(s_day - rng.integers(5, 1250, size=len(s_acc)), 0)
    s_units = np.maximum(
        np.round(acc_total[s_acc] * rng.uniform(0.002, 0.03, size=len(s_acc)) / px[s_day, s_sec] * 10.0 ** acc_dec[s_acc]), 1
    )  # fmt: skip
    s_qty = s_units / 10.0 ** acc_dec[s_acc]
    s_proceeds = _round2(s_qty * px[s_day, s_sec])
    s_gain = _round2(s_proceeds - _round2(s_qty * px[s_acq, s_sec]))
    recent_sale = cal_of[s_day] > cal_of[last] - WASH_WINDOW_DAYS - 1
    ok = ~((s_gain < 0) & (recent_sale | ~clear_of_buys(acc_hh[s_acc], s_sec, s_day)))
    s_term = bdays[s_day] >= long_term_date(bdays[s_acq])
    tx_sell = dict(
        acc=s_acc[ok], day=s_day[ok], type=TX["sell"], sec=s_sec[ok], qty=s_qty[ok], price=px[s_day, s_sec][ok],
        amount=s_proceeds[ok], gain=s_gain[ok], term=s_term[ok].astype(np.int64),
    )  # fmt: skip

    # Loss harvests inside the last 30 days (~20% of households), of a security in the household model.
    hh_tax_n = np.bincount(acc_hh, weights=acc_taxable, minlength=n_hh).astype(np.int64)
    harvest_hh = np.flatnonzero((hh_tax_n > 0) & (rng.random(n_hh) < 0.22))
    tax_acc = np.flatnonzero(acc_taxable)  # sorted by household already
    t_start, t_count = _starts(acc_hh[tax_acc], n_hh)
    h_acc = tax_acc[t_start[harvest_hh] + np.floor(rng.random(len(harvest_hh)) * t_count[harvest_hh]).astype(np.int64)]
    C = 12
    hc_hh = np.repeat(harvest_hh, C)
    hc_acc = np.repeat(h_acc, C)
    hm = hh_model[hc_hh]
    hc_sec = models.comp_sec[models.comp_offset[hm] + np.floor(rng.random(len(hc_hh)) * models.comp_count[hm]).astype(np.int64)]
    hc_day = _snap_back(bdays, as_of64 - rng.integers(1, 28, size=len(hc_hh)))
    hc_samples = np.maximum(hc_day[:, None] - rng.integers(25, 1250, size=(len(hc_hh), 24)), 0)
    hc_acq = hc_samples[np.arange(len(hc_hh)), np.argmax(px[hc_samples, hc_sec[:, None]], axis=1)]
    hc_units = np.maximum(
        np.round(acc_total[hc_acc] * rng.uniform(0.004, 0.03, size=len(hc_hh)) / px[hc_day, hc_sec] * 10.0 ** acc_dec[hc_acc]), 1
    )  # fmt: skip
    hc_qty = hc_units / 10.0 ** acc_dec[hc_acc]
    hc_proceeds = _round2(hc_qty * px[hc_day, hc_sec])
    hc_gain = _round2(hc_proceeds - _round2(hc_qty * px[hc_acq, hc_sec]))
    ok = (hc_gain <= -1.0) & clear_of_buys(hc_hh, hc_sec, hc_day)
    ok_i = np.flatnonzero(ok)
    _, firsts = np.unique(hc_hh[ok_i], return_index=True)
    pick = ok_i[firsts]
    tx_harvest = dict(
        acc=hc_acc[pick], day=hc_day[pick], type=TX["sell"], sec=hc_sec[pick], qty=hc_qty[pick],
        price=px[hc_day, hc_sec][pick], amount=hc_proceeds[pick], gain=hc_gain[pick],
        term=(bdays[hc_day[pick]] >= long_term_date(bdays[hc_acq[pick]])).astype(np.int64),
    )  # fmt: skip

    transactions = _transactions_frame(
        [tx_buy, tx_div, tx_cash, tx_sell, tx_harvest, tx_wash], bdays, acc_ids, uni.ids, acc_taxable, n_l
    )

    # ---- restrictions and requests ----------------------------------------------------------------
    rng = rng_instr
    restrictions = _restrictions(rng, uni, acc_ids, p_acc, p_sec, pos_start, pos_count)
    lt_date = long_term_date(l_adj_date)
    lt_gain_value = np.where(
        (lt_date <= as_of64) & (l_qty * p_now[l_sec] > l_basis), l_qty * p_now[l_sec], 0.0
    )
    acc_ltav = np.bincount(l_acc, weights=lt_gain_value, minlength=n_a)
    requests = _requests(rng, acc_hh, acc_taxable, acc_total, acc_ltav, hh_ids, acc_ids)
    legacy_acc = np.zeros(n_a, dtype=bool)
    legacy_acc[np.unique(pos_acc[pos_legacy])] = True
    instructions, more_restrictions, transitions = _account_instructions(
        rng_rules, acc_hh, acc_taxable, acc_cash, acc_total, legacy_acc, hh_ids, acc_ids, uni, p_acc, p_sec,
        pos_start, pos_count, len(requests),
    )
    restrictions = (
        pd.concat([restrictions, more_restrictions], ignore_index=True)
        .drop_duplicates(["account_id", "value"], keep="first")
        .sort_values(["account_id", "restriction_type", "value"]).reset_index(drop=True)
    )
    requests = pd.concat([requests, transitions], ignore_index=True)
    # life-cycle requests (household withdrawals, forced harvests): a stream of their own, spawned
    # after every other one, so adding them changed nothing else the generator draws
    (rng_life,) = root.spawn(1)
    requests = pd.concat([requests, _lifecycle_requests(
        rng_life, as_of64, acc_hh, acc_taxable, acc_total, l_acc, l_qty, l_basis, p_now[l_sec], hh_ids, len(requests),
    )], ignore_index=True)
    requests["hold_until"] = pd.to_datetime(requests["hold_until"]) if "hold_until" in requests else pd.NaT
    for column in ("account_choice", "eligible_accounts"):
        requests[column] = requests[column].astype(object).where(requests[column].notna(), None) if column in requests else None

    # ---- frames ---------------------------------------------------------------------------------
    sec_sort = np.argsort(uni.ids.astype(str), kind="stable")
    security_master = uni.frame.iloc[sec_sort].reset_index(drop=True)
    prices = pd.DataFrame(
        {"security_id": uni.ids[sec_sort], "price_date": np.repeat(as_of64, n_sec), "close": p_now[sec_sort]}
    )
    h0 = int(np.searchsorted(bdays, hist_start, side="left"))
    h_days = bdays[h0:]
    price_history = pd.DataFrame(
        {
            "security_id": _cat(np.tile(sec_sort, len(h_days)), uni.ids),
            "price_date": np.repeat(h_days, n_sec),
            "close": px[h0:][:, sec_sort].ravel(),
        }
    )
    accounts = pd.DataFrame(
        {
            "account_id": acc_ids,
            "household_id": hh_ids[acc_hh],
            "owner_role": acc_role,
            "registration": acc_reg,
            "taxable": acc_taxable,
            "custodian": acc_cust_name,
            "fractional_allowed": acc_frac,
            "model_id": np.array(MODEL_IDS, dtype=object)[acc_model],
            "filing_status": filing[acc_hh],
            "state": state[acc_hh],
            "ordinary_income": income[acc_hh],
            "advisory_fee_bps": fee_bps[acc_hh],
            "annual_tax_budget": budget[acc_hh],
            **instructions,
        }
    )
    # Positions: securities per account plus one CASH row, sorted by account then security id.
    pos_categories = np.append(uni.ids, CASH)
    pos_codes = np.concatenate([p_sec, np.full(n_a, n_sec)])
    pos_accs = np.concatenate([p_acc, np.arange(n_a)])
    pos_qty = np.concatenate([p_micro / MICRO, acc_cash])
    id_rank = np.argsort(np.argsort(pos_categories.astype(str), kind="stable"))
    o = np.lexsort((id_rank[pos_codes], pos_accs))
    positions = pd.DataFrame(
        {
            "account_id": _cat(pos_accs[o], acc_ids),
            "security_id": _cat(pos_codes[o], pos_categories),
            "quantity": pos_qty[o],
        }
    )
    lo_ = lot_order
    open_lots = pd.DataFrame(
        {
            "account_id": _cat(l_acc[lo_], acc_ids),
            "lot_id": _ids("L", lot_number[lo_], 9),
            "security_id": _cat(l_sec[lo_], uni.ids),
            "quantity": l_qty[lo_],
            "cost_basis": l_basis[lo_],
            "acquired_date": acq_date[lo_],
            "adjusted_acquired_date": l_adj_date[lo_],
            "wash_sale_adjustment": l_adj[lo_],
            "covered": acq_date[lo_] >= np.datetime64("2011-01-01"),
        }
    )
    return Firm(
        as_of=as_of,
        seed=seed,
        security_master=security_master,
        prices=prices,
        price_history=price_history,
        accounts=accounts,
        positions=positions,
        open_lots=open_lots,
        transactions=transactions,
        models=models.frame,
        restrictions=restrictions,
        requests=requests,
    )


def _with_tilts(rng: np.random.Generator, hh_model: np.ndarray) -> np.ndarray:
    """Some direct-index households (TILTED_P) hold a factor-tilted variant of the index instead."""
    u = rng.random(len(hh_model))
    out = hh_model.copy()
    edge = 0.0
    for model_id, p in TILTED_P.items():
        out[(hh_model == MODEL_IDS.index("SP500_DI")) & (u >= edge) & (u < edge + p)] = MODEL_IDS.index(model_id)
        edge += p
    return out


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # Feb 29
        return day.replace(year=day.year - years, day=28)


def _dividend_events(
    rng: np.random.Generator, uni: Universe, bdays: np.ndarray, px: np.ndarray, w0: int, last: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pay dates inside the activity window (before as_of) and dividend per share, sorted by security, date.

    Stocks pay quarterly (a random month cycle), equity funds quarterly, bond funds monthly.
    """
    n = len(uni.ids)
    bond = uni.frame["asset_class"].to_numpy(dtype=object) == "us_bond"
    cycle = np.where(uni.is_stock, rng.integers(1, 4, size=n), 3)
    pay_day = np.where(uni.is_stock, rng.integers(5, 26, size=n), 24)
    year1 = bdays[last].astype("datetime64[Y]").astype(np.int64) + 1970
    secs, days = [], []
    for year in (year1 - 1, year1):
        for month in range(1, 13):
            pays = bond | ((month - cycle) % 3 == 0)
            idx = np.flatnonzero(pays & (uni.dividend_yield > 0))
            d = np.datetime64(f"{year:04d}-{month:02d}", "M").astype("datetime64[D]") + (pay_day[idx] - 1)
            secs.append(idx)
            days.append(d)
    sec = np.concatenate(secs)
    day_idx = _snap_back(bdays, np.concatenate(days))
    keep = (day_idx >= w0) & (day_idx < last)
    sec, day_idx = sec[keep], day_idx[keep]
    o = np.lexsort((day_idx, sec))
    sec, day_idx = sec[o], day_idx[o]
    freq = np.where(bond[sec], 12.0, 4.0)
    dps = np.round(uni.dividend_yield[sec] * px[day_idx, sec] / freq, 4)
    return sec, day_idx, dps


def _cash_activity(
    rng: np.random.Generator,
    bdays: np.ndarray,
    w0: int,
    last: int,
    acc_total: np.ndarray,
    fee_bps: np.ndarray,
    taxable: np.ndarray,
) -> dict:
    n_a = len(acc_total)
    # Quarterly advisory fees on the first business day of each quarter inside the window.
    years = np.unique(bdays[w0:].astype("datetime64[Y]"))
    q_days = np.array(
        [np.datetime64(f"{y}-{m:02d}-01", "D") for y in years.astype(str) for m in (1, 4, 7, 10)]
    )
    q_days = np.busday_offset(q_days, 0, roll="forward")
    q_idx = np.searchsorted(bdays, q_days)
    q_idx = q_idx[(q_idx >= w0) & (q_idx < last)]
    f_acc = np.repeat(np.arange(n_a), len(q_idx))
    f_day = np.tile(q_idx, n_a)
    f_amt = -_round2(acc_total[f_acc] * fee_bps[f_acc] / 10_000 / 4)
    # Deposits (IRA contributions are small) and withdrawals.
    n_dep = np.where(rng.random(n_a) < 0.15, 1 + (rng.random(n_a) < 0.3), 0)
    d_acc = np.repeat(np.arange(n_a), n_dep)
    d_amt = np.where(
        taxable[d_acc], np.round(rng.uniform(2_000, 60_000, size=len(d_acc)), -2), np.round(rng.uniform(1_000, 7_000, size=len(d_acc)), -2)
    )  # fmt: skip
    d_day = rng.integers(w0, last, size=len(d_acc))
    wd_acc = np.flatnonzero(rng.random(n_a) < 0.08)
    wd_amt = -np.round(np.minimum(rng.uniform(1_000, 25_000, size=len(wd_acc)), acc_total[wd_acc] * 0.1), -2)
    wd_day = rng.integers(w0, last, size=len(wd_acc))
    wd_ok = wd_amt < 0
    return dict(
        acc=np.concatenate([f_acc, d_acc, wd_acc[wd_ok]]),
        day=np.concatenate([f_day, d_day, wd_day[wd_ok]]),
        type=np.concatenate(
            [np.full(len(f_acc), TX["fee"]), np.full(len(d_acc), TX["deposit"]), np.full(int(wd_ok.sum()), TX["withdrawal"])]
        ),
        amount=np.concatenate([f_amt, d_amt, wd_amt[wd_ok]]),
    )


def _transactions_frame(
    parts: list[dict], bdays: np.ndarray, acc_ids: np.ndarray, sec_ids: np.ndarray, taxable: np.ndarray, n_open_lots: int
) -> pd.DataFrame:
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("acc", "day", "type", "sec", "qty", "price", "amount", "lot", "gain", "term")}
    for part in parts:
        n = len(part["acc"])
        t = part["type"]
        cols["acc"].append(np.asarray(part["acc"], dtype=np.int64))
        cols["day"].append(np.asarray(part["day"], dtype=np.int64))
        cols["type"].append(np.broadcast_to(np.asarray(t, dtype=np.int64), (n,)))
        cols["sec"].append(np.asarray(part.get("sec", np.full(n, -1)), dtype=np.int64))
        cols["qty"].append(np.asarray(part.get("qty", np.full(n, np.nan)), dtype=float))
        cols["price"].append(np.asarray(part.get("price", np.full(n, np.nan)), dtype=float))
        cols["amount"].append(np.asarray(part["amount"], dtype=float))
        cols["lot"].append(np.asarray(part.get("lot", np.full(n, -1)), dtype=np.int64))
        cols["gain"].append(np.asarray(part.get("gain", np.full(n, np.nan)), dtype=float))
        cols["term"].append(np.asarray(part.get("term", np.full(n, -1)), dtype=np.int64))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    order = np.lexsort((c["amount"], c["lot"], c["sec"], c["type"], c["acc"], c["day"]))
    c = {k: v[order] for k, v in c.items()}
    n = len(order)
    is_sell = c["type"] == TX["sell"]
    # Sells relieve closed lots: ids continue after the open lots, in transaction order.
    c["lot"][is_sell] = n_open_lots + 1 + np.arange(int(is_sell.sum()))
    # Retirement accounts carry no realized gain or term.
    no_tax = ~taxable[c["acc"]]
    c["gain"][no_tax] = np.nan
    c["term"][no_tax] = -1
    trade = bdays[c["day"]]
    settle = np.busday_offset(trade, 1, roll="forward")
    has_lot = c["lot"] > 0
    lot_ids = np.full(n, None, dtype=object)
    lot_ids[has_lot] = _ids("L", c["lot"][has_lot], 9)
    return pd.DataFrame(
        {
            "transaction_id": _ids("T", np.arange(1, n + 1), 9),
            "account_id": _cat(c["acc"], acc_ids),
            "trade_date": trade,
            "settle_date": settle,
            "transaction_type": _cat(c["type"], np.array(TX_TYPES, dtype=object)),
            "security_id": _cat(c["sec"], sec_ids),
            "quantity": c["qty"],
            "price": c["price"],
            "amount": c["amount"],
            "lot_id": lot_ids,
            "realized_gain": c["gain"],
            "holding_term": _cat(c["term"], np.array(["short", "long"], dtype=object)),
        }
    )


def _restrictions(
    rng: np.random.Generator,
    uni: Universe,
    acc_ids: np.ndarray,
    p_acc: np.ndarray,
    p_sec: np.ndarray,
    pos_start: np.ndarray,
    pos_count: np.ndarray,
) -> pd.DataFrame:
    n_a = len(acc_ids)
    stock_idx = np.flatnonzero(uni.is_stock)
    nb_acc = np.flatnonzero(rng.random(n_a) < 0.10)
    nb_n = 1 + (rng.random(len(nb_acc)) < 0.4)
    r_acc = np.repeat(nb_acc, nb_n)
    # Often a stock the account holds (the restriction does not force a sale), else any stock.
    held_pick = pos_start[r_acc] + np.floor(rng.random(len(r_acc)) * pos_count[r_acc]).astype(np.int64)
    any_stock = stock_idx[rng.integers(0, len(stock_idx), size=len(r_acc))]
    has = pos_count[r_acc] > 0
    cand = np.where(has, p_sec[np.minimum(held_pick, len(p_sec) - 1)] if len(p_sec) else any_stock, any_stock)
    r_sec = np.where(uni.is_stock[cand] & (rng.random(len(r_acc)) < 0.7), cand, any_stock)
    sectors = list(EXCLUDED_SECTOR_P)
    ex_acc = np.flatnonzero(rng.random(n_a) < 0.05)
    ex_sector = np.array(sectors, dtype=object)[rng.choice(len(sectors), size=len(ex_acc), p=list(EXCLUDED_SECTOR_P.values()))]
    assert set(sectors) <= set(SECTOR_NAMES)
    frame = pd.DataFrame(
        {
            "account_id": np.concatenate([acc_ids[r_acc], acc_ids[ex_acc]]),
            "restriction_type": np.array(
                ["never_buy_security"] * len(r_acc) + ["exclude_sector"] * len(ex_acc), dtype=object
            ),
            "value": np.concatenate([uni.ids[r_sec], ex_sector]),
        }
    )
    return frame.drop_duplicates().sort_values(["account_id", "restriction_type", "value"]).reset_index(drop=True)


def _requests(
    rng: np.random.Generator,
    acc_hh: np.ndarray,
    taxable: np.ndarray,
    acc_total: np.ndarray,
    acc_ltav: np.ndarray,
    hh_ids: np.ndarray,
    acc_ids: np.ndarray,
) -> pd.DataFrame:
    n_hh = len(hh_ids)
    rows_hh, rows_acc, rows_type, rows_amt = [], [], [], []
    # Cash withdrawals: 1.5%-9.5% of a taxable account's value, in round hundreds.
    tax_acc = np.flatnonzero(taxable)
    t_start, t_count = _starts(acc_hh[tax_acc], n_hh)
    cw_hh = np.flatnonzero((t_count > 0) & (rng.random(n_hh) < 0.05))
    cw_acc = tax_acc[t_start[cw_hh] + np.floor(rng.random(len(cw_hh)) * t_count[cw_hh]).astype(np.int64)]
    cw_amt = np.maximum(np.round(acc_total[cw_acc] * rng.uniform(0.015, 0.095, size=len(cw_acc)), -2), 100.0)
    rows_hh.append(cw_hh), rows_acc.append(cw_acc), rows_amt.append(cw_amt)
    rows_type.append(np.full(len(cw_hh), "cash_withdrawal", dtype=object))
    # Charitable gifts: from a taxable account holding long-term appreciated lots, below their value.
    elig = np.flatnonzero(taxable & (acc_ltav >= 1_000))
    e_start, e_count = _starts(acc_hh[elig], n_hh)
    cg_hh = np.flatnonzero((e_count > 0) & (rng.random(n_hh) < 0.05))
    cg_acc = elig[e_start[cg_hh] + np.floor(rng.random(len(cg_hh)) * e_count[cg_hh]).astype(np.int64)]
    cg_amt = np.floor(acc_ltav[cg_acc] * rng.uniform(0.1, 0.6, size=len(cg_acc)) / 100.0) * 100.0
    rows_hh.append(cg_hh), rows_acc.append(cg_acc), rows_amt.append(cg_amt)
    rows_type.append(np.full(len(cg_hh), "charitable_gift", dtype=object))
    hh = np.concatenate(rows_hh)
    acc = np.concatenate(rows_acc)
    typ = np.concatenate(rows_type)
    amt = np.concatenate(rows_amt)
    o = np.lexsort((typ.astype(str), hh))
    return pd.DataFrame(
        {
            "request_id": _ids("REQ", np.arange(1, len(o) + 1), 5),
            "household_id": hh_ids[hh[o]],
            "account_id": acc_ids[acc[o]],
            "request_type": typ[o],
            "amount": amt[o],
        }
    )


def _lifecycle_requests(
    rng: np.random.Generator,
    as_of64: np.datetime64,
    acc_hh: np.ndarray,
    taxable: np.ndarray,
    acc_total: np.ndarray,
    l_acc: np.ndarray,
    l_qty: np.ndarray,
    l_basis: np.ndarray,
    l_price: np.ndarray,
    hh_ids: np.ndarray,
    first_request: int,
) -> pd.DataFrame:
    """Life-cycle requests of the daily run (docs/lifecycle.md): household-level cash withdrawals
    (3% of households with a taxable and another account, at least one: 2-6% of the household, the optimizer
    chooses the accounts) and forced loss harvests (3%, at least one, of households with at least $1,000 of
    unrealized losses in taxable accounts: a third to two thirds of them, at most 2% of the household,
    held 45 days)."""
    n_hh = len(hh_ids)
    accounts = np.bincount(acc_hh, minlength=n_hh)
    has_taxable = np.bincount(acc_hh, weights=taxable.astype(float), minlength=n_hh) > 0
    hh_value = np.bincount(acc_hh, weights=acc_total, minlength=n_hh)
    def at_least_one(eligible: np.ndarray, share: float) -> np.ndarray:
        """A share of the eligible households, and at least one when any is (small firms too)."""
        draw = rng.random(n_hh)
        picked = np.flatnonzero(eligible & (draw < share))
        if not len(picked) and eligible.any():
            picked = np.flatnonzero(eligible)[[int(np.argmin(np.where(eligible, draw, np.inf)[eligible]))]]
        return picked

    cw = at_least_one(has_taxable & (accounts >= 2), 0.03)
    cw_amt = np.maximum(np.round(hh_value[cw] * rng.uniform(0.02, 0.06, size=len(cw)), -2), 100.0)
    loss = np.where(taxable[l_acc], np.maximum(l_basis - l_qty * l_price, 0.0), 0.0)
    hh_loss = np.bincount(acc_hh[l_acc], weights=loss, minlength=n_hh)
    tl = at_least_one(hh_loss >= 1_000.0, 0.03)
    tl_amt = np.minimum(hh_loss[tl] * rng.uniform(0.33, 0.67, size=len(tl)), 0.02 * hh_value[tl])  # at most 2%
    tl_amt = np.maximum(np.floor(tl_amt / 100.0) * 100.0, 100.0)
    hh = np.concatenate([cw, tl])
    o = np.lexsort((np.r_[np.zeros(len(cw)), np.ones(len(tl))], hh))
    frame = pd.DataFrame({
        "request_id": _ids("REQ", np.arange(first_request + 1, first_request + 1 + len(hh)), 5),
        "household_id": hh_ids[hh[o]],
        "account_id": None,
        "request_type": np.r_[np.full(len(cw), "cash_withdrawal", dtype=object),
                              np.full(len(tl), "tax_loss_harvest", dtype=object)][o],
        "amount": np.r_[cw_amt, tl_amt][o],
        "account_choice": np.r_[np.full(len(cw), "household", dtype=object), np.full(len(tl), None, dtype=object)][o],
        "eligible_accounts": None,
        "hold_until": np.r_[np.full(len(cw), np.datetime64("NaT"), dtype="datetime64[D]"),
                            np.full(len(tl), as_of64 + np.timedelta64(45, "D"))][o],
    })
    return frame


def _account_instructions(
    rng: np.random.Generator,
    acc_hh: np.ndarray,
    taxable: np.ndarray,
    acc_cash: np.ndarray,
    acc_total: np.ndarray,
    legacy_acc: np.ndarray,
    hh_ids: np.ndarray,
    acc_ids: np.ndarray,
    uni: Universe,
    p_acc: np.ndarray,
    p_sec: np.ndarray,
    pos_start: np.ndarray,
    pos_count: np.ndarray,
    first_request: int,
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Account master instructions (cash minimums, locks, placement preferences), household settings
    (optimizer overrides), never_sell / never_hold restrictions and transition requests: each on a
    small share of the firm, so the daily run exercises every rule without dominating it."""
    n_a, n_hh = len(acc_ids), len(hh_ids)
    # cash minimums on 10% of accounts: around today's cash (some above it: a cash need today)
    has_min = rng.random(n_a) < 0.10
    cash_minimum = np.where(has_min, np.maximum(100.0, np.round(acc_cash * rng.uniform(0.5, 1.4, n_a), -2)), np.nan)
    cash_minimum = np.where(has_min, np.minimum(cash_minimum, np.round(0.05 * acc_total, -2)), np.nan)
    locked = rng.random(n_a) < 0.01
    preferred = np.where(~taxable & (rng.random(n_a) < 0.3), "us_bond", None).astype(object)
    draw = rng.random(n_hh)
    risk_aversion = np.where(draw < 0.05, 2.0, np.where(draw < 0.10, 10.0, np.nan))
    tax_weight = np.where(rng.random(n_hh) < 0.03, 0.5, np.nan)
    te_cap = np.where(rng.random(n_hh) < 0.03, 0.02, np.nan)
    # per-household harvest policy: a child stream, so the draws below are what they were before it
    (rng_harvest,) = rng.spawn(1)
    harvest_draw = rng_harvest.random(n_hh)
    harvest_start = np.where(harvest_draw < 0.05, 0.10, np.where(harvest_draw < 0.10, 0.30, np.nan))
    columns = {
        "cash_minimum": cash_minimum,
        "trading_locked": locked,
        "preferred_asset_classes": preferred,
        "risk_aversion": risk_aversion[acc_hh],
        "tax_weight": tax_weight[acc_hh],
        "trading_cost_bps": np.full(n_a, np.nan),
        "tracking_error_cap": te_cap[acc_hh],
        "harvest_threshold_start": harvest_start[acc_hh],
        "harvest_threshold_end": np.full(n_a, np.nan),
    }
    # never_sell (3% of accounts) and never_hold (2%) on a stock the account holds; not on locks
    rows = []
    for kind, share in (("never_sell_security", 0.03), ("never_hold_security", 0.02)):
        picked = np.flatnonzero((rng.random(n_a) < share) & (pos_count > 0) & ~locked)
        pick = pos_start[picked] + np.floor(rng.random(len(picked)) * pos_count[picked]).astype(np.int64)
        for a, sec in zip(picked, p_sec[pick]):
            if uni.is_stock[sec]:
                rows.append((acc_ids[a], kind, uni.ids[sec]))
    restrictions = pd.DataFrame(rows, columns=["account_id", "restriction_type", "value"])
    # transitions: 30% of households holding legacy positions, a tax budget of 0.5% of the account
    legacy = np.flatnonzero(legacy_acc & taxable & (rng.random(n_a) < 0.3))
    legacy = legacy[np.unique(acc_hh[legacy], return_index=True)[1]]  # one per household
    transitions = pd.DataFrame({
        "request_id": _ids("REQ", np.arange(first_request + 1, first_request + 1 + len(legacy)), 5),
        "household_id": hh_ids[acc_hh[legacy]],
        "account_id": acc_ids[legacy],
        "request_type": "transition",
        "amount": np.maximum(100.0, np.round(0.005 * acc_total[legacy], -2)),
    })
    return columns, restrictions, transitions
