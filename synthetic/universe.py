"""The synthetic security universe, its daily price path and the model portfolios.

Everything here is drawn from the numpy Generator handed in; nothing depends on the number of
households, so two firms with the same seed and as-of date share one market.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

CASH = "CASH"

# GICS sectors -> (number of companies, industries). Real GICS names; company counts add up to 499
# companies, one of which (Communication Services) has two share classes: 500 stock securities.
SECTORS: dict[str, tuple[int, tuple[str, ...]]] = {
    "Information Technology": (
        70,
        (
            "Software",
            "Semiconductors & Semiconductor Equipment",
            "Technology Hardware, Storage & Peripherals",
            "IT Services",
            "Communications Equipment",
        ),
    ),
    "Health Care": (
        60,
        (
            "Pharmaceuticals",
            "Biotechnology",
            "Health Care Equipment & Supplies",
            "Health Care Providers & Services",
            "Life Sciences Tools & Services",
        ),
    ),
    "Financials": (70, ("Banks", "Capital Markets", "Insurance", "Financial Services", "Consumer Finance")),
    "Consumer Discretionary": (
        50,
        (
            "Automobiles",
            "Hotels, Restaurants & Leisure",
            "Specialty Retail",
            "Textiles, Apparel & Luxury Goods",
            "Broadline Retail",
        ),
    ),
    "Industrials": (
        75,
        ("Aerospace & Defense", "Building Products", "Machinery", "Electrical Equipment", "Ground Transportation"),
    ),
    "Communication Services": (
        26,
        (
            "Interactive Media & Services",
            "Entertainment",
            "Media",
            "Diversified Telecommunication Services",
            "Wireless Telecommunication Services",
        ),
    ),
    "Consumer Staples": (
        38,
        ("Beverages", "Food Products", "Household Products", "Consumer Staples Distribution & Retail"),
    ),
    "Energy": (22, ("Energy Equipment & Services", "Oil, Gas & Consumable Fuels")),
    "Utilities": (
        30,
        (
            "Electric Utilities",
            "Multi-Utilities",
            "Gas Utilities",
            "Water Utilities",
            "Independent Power and Renewable Electricity Producers",
        ),
    ),
    "Real Estate": (
        30,
        (
            "Specialized REITs",
            "Residential REITs",
            "Retail REITs",
            "Industrial REITs",
            "Real Estate Management & Development",
        ),
    ),
    "Materials": (
        28,
        ("Chemicals", "Construction Materials", "Containers & Packaging", "Metals & Mining", "Paper & Forest Products"),
    ),
}
SECTOR_NAMES = tuple(SECTORS)
SECTOR_WORD = {
    "Information Technology": ("Systems", "Technologies", "Micro", "Software", "Networks"),
    "Health Care": ("Therapeutics", "Health", "Biosciences", "Medical", "Pharma"),
    "Financials": ("Financial", "Bancorp", "Capital", "Insurance", "Trust"),
    "Consumer Discretionary": ("Brands", "Motors", "Retail", "Resorts", "Apparel"),
    "Industrials": ("Industries", "Aerospace", "Machinery", "Logistics", "Electric"),
    "Communication Services": ("Media", "Communications", "Interactive", "Entertainment", "Telecom"),
    "Consumer Staples": ("Foods", "Beverage", "Consumer", "Markets", "Household"),
    "Energy": ("Energy", "Petroleum", "Resources", "Oilfield", "Midstream"),
    "Utilities": ("Power", "Utilities", "Electric", "Gas", "Water"),
    "Real Estate": ("Realty", "Properties", "REIT", "Land", "Residential"),
    "Materials": ("Materials", "Chemical", "Mining", "Packaging", "Metals"),
}
_NAME_HEADS = (
    "Al", "Bel", "Cor", "Dyn", "Ev", "Fal", "Gal", "Hal", "Ion", "Jen", "Kel", "Lum", "Mer", "Nov", "Or", "Pin",
    "Quan", "Ryl", "Sol", "Tor", "Ul", "Ver", "Wex", "Xan", "Yor", "Zen", "Ast", "Bri", "Cal", "Dor",
)  # fmt: skip
_NAME_TAILS = ("ar", "ex", "ia", "on", "ix", "era", "ant", "ora", "is", "ent", "ova", "yn", "ium", "ath")
_NAME_SUFFIXES = ("Inc", "Corp", "Holdings", "Group", "Co", "Ltd")

SP500_GROUP = "SP500_INDEX"


@dataclass(frozen=True)
class Fund:
    ticker: str
    description: str
    security_type: str  # etf | mutual_fund
    asset_class: str
    identical_group: str | None  # None: its own id
    # return model: loadings on (sp500 index, market factor, bond factor, intl factor), noise vol, yearly drag
    load_index: float = 0.0
    load_market: float = 0.0
    load_bond: float = 0.0
    load_intl: float = 0.0
    noise_vol: float = 0.005
    drag: float = 0.0005
    dividend_yield: float = 0.015


FUNDS: tuple[Fund, ...] = (
    Fund("SPYV", "Keystone S&P 500 ETF", "etf", "us_equity", SP500_GROUP, load_index=1.0, noise_vol=0.003, drag=0.0009, dividend_yield=0.013),
    Fund("IVVX", "Meridian Core S&P 500 ETF", "etf", "us_equity", SP500_GROUP, load_index=1.0, noise_vol=0.004, drag=0.0003, dividend_yield=0.013),
    Fund("TMKT", "Northfield Total Stock Market ETF", "etf", "us_equity", None, load_index=0.92, load_market=0.1, noise_vol=0.02, drag=0.0003, dividend_yield=0.014),
    Fund("INTX", "Northfield Total International Stock ETF", "etf", "intl_equity", None, load_market=0.7, load_intl=1.0, noise_vol=0.02, drag=0.0008, dividend_yield=0.03),
    Fund("BNDA", "Keystone Core Aggregate Bond ETF", "etf", "us_bond", None, load_bond=1.0, noise_vol=0.006, drag=0.0004, dividend_yield=0.038),
    Fund("BNDC", "Meridian Investment Grade Corporate Bond ETF", "etf", "us_bond", None, load_bond=1.2, load_market=0.06, noise_vol=0.01, drag=0.0006, dividend_yield=0.046),
    Fund("BNDS", "Northfield Short-Term Treasury ETF", "etf", "us_bond", None, load_bond=0.35, noise_vol=0.003, drag=0.0004, dividend_yield=0.042),
    Fund("EQIDX", "Bayview Equity Index Fund Admiral Shares", "mutual_fund", "us_equity", None, load_index=0.95, load_market=0.05, noise_vol=0.015, drag=0.0005, dividend_yield=0.017),
    Fund("BDIDX", "Bayview Total Bond Market Index Fund", "mutual_fund", "us_bond", None, load_bond=1.0, noise_vol=0.005, drag=0.0005, dividend_yield=0.037),
)  # fmt: skip

# Model portfolios built from funds (weights sum to 1 with CASH). SP500_DI and the blends are built in code.
MODEL_NAMES = {
    "SP500_DI": "S&P 500 Direct Index",
    "ETF_60_40": "ETF Balanced 60/40",
    "BOND_CORE": "Core Bond",
    "INDEX_FUNDS_70_30": "Index Funds 70/30",
    "BLEND_80_20": "Direct Index 80 / Core Bond 20",
    "BLEND_DI_ETF": "Direct Index 50 / ETF Balanced 50",
}
FUND_MODELS: dict[str, tuple[tuple[str, float], ...]] = {
    "ETF_60_40": (
        ("SPYV", 0.30), ("TMKT", 0.15), ("INTX", 0.15), ("BNDA", 0.18), ("BNDC", 0.08), ("BNDS", 0.04),
        ("BDIDX", 0.08), (CASH, 0.02),
    ),
    "BOND_CORE": (("BNDA", 0.45), ("BNDC", 0.20), ("BNDS", 0.15), ("BDIDX", 0.18), (CASH, 0.02)),
    "INDEX_FUNDS_70_30": (("EQIDX", 0.55), ("INTX", 0.15), ("BDIDX", 0.28), (CASH, 0.02)),
}  # fmt: skip
BLEND_MODELS: dict[str, tuple[tuple[str, float], ...]] = {
    "BLEND_80_20": (("SP500_DI", 0.8), ("BOND_CORE", 0.2)),
    "BLEND_DI_ETF": (("SP500_DI", 0.5), ("ETF_60_40", 0.5)),
}
# Factor-tilted direct indexes: the S&P 500 direct index re-weighted toward a style. Weight of stock i
# proportional to cap_weight_i * exp(TILT_STRENGTH * z_i), z the cross-sectional z-score (clipped to
# +-TILT_CLIP) of the style's characteristic on the as-of date (style_scores): dividend yield for
# value, minus the trailing one-year volatility of daily log returns for low volatility.
TILTED_MODELS = {"SP500_VALUE_DI": "value", "SP500_LOWVOL_DI": "low_volatility"}
TILT_STRENGTH = 0.5
TILT_CLIP = 2.5
MODEL_NAMES |= {
    "SP500_VALUE_DI": "S&P 500 Direct Index, Value Tilt",
    "SP500_LOWVOL_DI": "S&P 500 Direct Index, Low Volatility Tilt",
}
MODEL_IDS = ("SP500_DI", "BLEND_80_20", "BLEND_DI_ETF", "ETF_60_40", "INDEX_FUNDS_70_30", "BOND_CORE",
             *TILTED_MODELS)
DI_CASH_WEIGHT = 0.01
WEIGHT_DECIMALS = 10

_LETTERS = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
_CUSIP_CHARS = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O, as issued


def cusip_check_digit(body: str) -> str:
    """The standard CUSIP check digit of an 8-character body."""
    total = 0
    for i, ch in enumerate(body):
        v = int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10
        if i % 2 == 1:
            v *= 2
        total += v // 10 + v % 10
    return str((10 - total % 10) % 10)


@dataclass
class Universe:
    """Securities in internal order (stocks, then funds). Arrays are aligned with ``frame``."""

    frame: pd.DataFrame  # the security_master columns, internal order
    ids: np.ndarray  # security_id per internal index (object)
    is_stock: np.ndarray
    sector_code: np.ndarray  # -1 for funds
    market_cap: np.ndarray  # stocks only meaningful
    dividend_yield: np.ndarray
    group_code: np.ndarray  # identical group as an integer code
    index_of: dict[str, int]


def _tickers(rng: np.random.Generator, n: int, reserved: set[str]) -> list[str]:
    out: list[str] = []
    seen = set(reserved)
    while len(out) < n:
        lengths = rng.choice([2, 3, 4, 5], size=2 * n, p=[0.04, 0.46, 0.45, 0.05])
        letters = rng.integers(0, 26, size=(2 * n, 5))
        for length, row in zip(lengths.tolist(), letters):
            t = "".join(_LETTERS[row[:length]])
            if t not in seen:
                seen.add(t)
                out.append(t)
                if len(out) == n:
                    break
    return out


def build_universe(rng: np.random.Generator) -> Universe:
    fund_tickers = {f.ticker for f in FUNDS}
    reserved = {CASH} | fund_tickers
    # The dual-class company: a three-letter stem with class A and class C tickers.
    while True:
        stem = "".join(_LETTERS[rng.integers(0, 26, size=3)])
        pair = (stem + "A", stem + "C")
        if not (set(pair) & reserved):
            break
    reserved |= set(pair)
    n_companies = sum(count for count, _ in SECTORS.values())
    tickers = _tickers(rng, n_companies - 1, reserved)

    sector_code = np.repeat(np.arange(len(SECTOR_NAMES)), [SECTORS[s][0] for s in SECTOR_NAMES])
    industry = []
    for code in range(len(SECTOR_NAMES)):
        inds = SECTORS[SECTOR_NAMES[code]][1]
        count = SECTORS[SECTOR_NAMES[code]][0]
        industry.extend(np.array(inds, dtype=object)[rng.integers(0, len(inds), size=count)].tolist())
    # Company names.
    heads = rng.integers(0, len(_NAME_HEADS), size=n_companies)
    tails = rng.integers(0, len(_NAME_TAILS), size=n_companies)
    words = rng.integers(0, 5, size=n_companies)
    sufs = rng.integers(0, len(_NAME_SUFFIXES), size=n_companies)
    names = [
        f"{_NAME_HEADS[h]}{_NAME_TAILS[t]} {SECTOR_WORD[SECTOR_NAMES[s]][w]} {_NAME_SUFFIXES[x]}"
        for h, t, w, x, s in zip(heads.tolist(), tails.tolist(), words.tolist(), sufs.tolist(), sector_code.tolist())
    ]
    # Market caps (USD): heavy-tailed, lognormal.
    caps = np.exp(rng.normal(np.log(3.5e10), 1.3, size=n_companies))
    yields = np.where(rng.random(n_companies) < 0.62, rng.uniform(0.004, 0.045, size=n_companies), 0.0)

    # The dual-class company is the first Communication Services company; it becomes two securities.
    dual = int(np.flatnonzero(sector_code == SECTOR_NAMES.index("Communication Services"))[0])
    industry[dual] = "Interactive Media & Services"
    names[dual] = f"{stem.capitalize()}le Interactive Holdings"
    tickers.insert(dual, pair[0])
    rows_ticker = list(tickers)
    rows_ticker.insert(dual + 1, pair[1])
    expand = np.insert(np.arange(n_companies), dual + 1, dual)  # company index per stock security
    split = np.ones(len(expand))
    split[dual], split[dual + 1] = 0.55, 0.45
    stock_caps = caps[expand] * split
    stock_names = [names[c] for c in expand.tolist()]
    stock_names[dual] += " Class A"
    stock_names[dual + 1] += " Class C"
    n_stocks = len(expand)

    n = n_stocks + len(FUNDS)
    ids = np.array(rows_ticker + [f.ticker for f in FUNDS], dtype=object)
    # CUSIPs: 6-char issuer (shared by the two share classes), 2-char issue, check digit.
    cusips: list[str] = []
    used: set[str] = set()
    issuers = rng.integers(0, len(_CUSIP_CHARS), size=(n + 50, 6))
    issuer_iter = iter(issuers)
    dual_issuer = None
    for i in range(n):
        if i == dual + 1:
            body = dual_issuer + "20"
        else:
            while True:
                issuer = "".join(_CUSIP_CHARS[k] for k in next(issuer_iter))
                if issuer[0] == "0":
                    continue
                body = issuer + ("10" if i < n_stocks else "50")
                if body not in used:
                    break
            if i == dual:
                dual_issuer = issuer
        used.add(body)
        cusips.append(body + cusip_check_digit(body))

    sectors = [SECTOR_NAMES[s] for s in sector_code[expand].tolist()]
    frame = pd.DataFrame(
        {
            "security_id": ids,
            "ticker": ids,
            "cusip": np.array(cusips, dtype=object),
            "description": np.array(stock_names + [f.description for f in FUNDS], dtype=object),
            "security_type": np.array(["equity"] * n_stocks + [f.security_type for f in FUNDS], dtype=object),
            "asset_class": np.array(["us_equity"] * n_stocks + [f.asset_class for f in FUNDS], dtype=object),
            "gics_sector": np.array(sectors + [None] * len(FUNDS), dtype=object),
            "gics_industry": np.array([industry[c] for c in expand.tolist()] + [None] * len(FUNDS), dtype=object),
            "identical_group": np.array(
                [pair[0] if i in (dual, dual + 1) else t for i, t in enumerate(rows_ticker)]
                + [f.identical_group or f.ticker for f in FUNDS],
                dtype=object,
            ),
        }
    )
    # The share-class group is named after the company, not one ticker.
    frame.loc[[dual, dual + 1], "identical_group"] = f"{stem}_SHARE_CLASSES"
    groups = frame["identical_group"].to_numpy(dtype=object)
    _, group_code = np.unique(groups, return_inverse=True)
    is_stock = np.zeros(n, dtype=bool)
    is_stock[:n_stocks] = True
    return Universe(
        frame=frame,
        ids=ids,
        is_stock=is_stock,
        sector_code=np.concatenate([sector_code[expand], np.full(len(FUNDS), -1)]),
        market_cap=np.concatenate([stock_caps, np.zeros(len(FUNDS))]),
        dividend_yield=np.concatenate([yields[expand], [f.dividend_yield for f in FUNDS]]),
        group_code=group_code.astype(np.int64),
        index_of={s: i for i, s in enumerate(ids.tolist())},
    )


def simulate_prices(rng: np.random.Generator, uni: Universe, n_days: int, di_weights: np.ndarray) -> np.ndarray:
    """Daily closes (n_days x securities), rounded to 4 decimals, from a factor model of log returns.

    Stocks: beta * market + sector + idiosyncratic (+ a small per-stock drift). The S&P 500 index is the
    cap-weighted (direct-index weights) average of the stocks; funds load on the index, the market,
    a bond factor and an international factor, plus small tracking noise and their expense drag.
    """
    dt_ = 1.0 / 252.0
    n = len(uni.ids)
    n_stocks = int(uni.is_stock.sum())
    # Factor paths keep their random shape, but their realised drift over the whole path is drawn from
    # a sensible range (a seed never produces a six-year bear market that leaves every lot at a loss).
    def factor(vol: float, drift_lo: float, drift_hi: float) -> np.ndarray:
        noise = rng.normal(0.0, vol * np.sqrt(dt_), size=n_days)
        return noise - noise.mean() + rng.uniform(drift_lo, drift_hi) * dt_

    market = factor(0.16, 0.06, 0.11)
    bond = factor(0.05, 0.01, 0.035)
    intl = factor(0.12, -0.02, 0.03)
    sector = rng.normal(0.0, 0.10 * np.sqrt(dt_), size=(n_days, len(SECTOR_NAMES)))
    beta = rng.uniform(0.7, 1.3, size=n_stocks)
    idio_vol = rng.uniform(0.15, 0.36, size=n_stocks)
    alpha = rng.normal(0.0, 0.04, size=n_stocks) - 0.25 * idio_vol**2
    idio = rng.standard_normal(size=(n_days, n_stocks)) * (idio_vol * np.sqrt(dt_))
    ret = np.empty((n_days, n), dtype=np.float64)
    ret[:, :n_stocks] = market[:, None] * beta + sector[:, uni.sector_code[:n_stocks]] + idio + alpha * dt_
    # The index: constant-weight (as-of cap weights) arithmetic average of stock returns.
    index = np.log1p(np.expm1(ret[:, :n_stocks]) @ di_weights)
    noise = rng.standard_normal(size=(n_days, len(FUNDS)))
    for j, f in enumerate(FUNDS):
        ret[:, n_stocks + j] = (
            f.load_index * index
            + f.load_market * market
            + f.load_bond * bond
            + f.load_intl * intl
            + noise[:, j] * f.noise_vol * np.sqrt(dt_)
            - f.drag * dt_
        )
    ret[0, :] = 0.0
    start = np.exp(rng.uniform(np.log(20.0), np.log(400.0), size=n))
    prices = start * np.exp(np.cumsum(ret, axis=0))
    return np.maximum(np.round(prices, 4), 0.01)


def direct_index_units(uni: Universe, tilt: np.ndarray | None = None) -> np.ndarray:
    """Stock weights of SP500_DI in units of 1e-10 (integers), summing to (1 - cash) exactly; with
    ``tilt`` (one style score per stock, style_scores), the factor-tilted variant of it."""
    total = round((1.0 - DI_CASH_WEIGHT) * 10**WEIGHT_DECIMALS)
    caps = uni.market_cap[uni.is_stock].astype(float)
    if tilt is not None:
        caps = caps * np.exp(TILT_STRENGTH * tilt_z(tilt))
    raw = caps / caps.sum() * total
    units = np.floor(raw).astype(np.int64)
    short = int(total - units.sum())
    # Largest remainders get the missing units (stable order on ties).
    order = np.lexsort((np.arange(len(raw)), -(raw - units)))
    units[order[:short]] += 1
    return units


def tilt_z(score: np.ndarray) -> np.ndarray:
    """Cross-sectional z-score of a style characteristic, clipped to +-TILT_CLIP."""
    sd = score.std()
    z = (score - score.mean()) / sd if sd > 0 else np.zeros_like(score)
    return np.clip(z, -TILT_CLIP, TILT_CLIP)


def style_scores(uni: Universe, prices: np.ndarray, last: int) -> dict[str, np.ndarray]:
    """Per stock, the characteristic each tilted model leans toward (higher = more weight), from
    what the firm knows on the as-of date (row ``last`` of the daily closes)."""
    stocks = uni.is_stock
    window = np.log(prices[max(0, last - 252): last + 1, stocks])
    volatility = np.diff(window, axis=0).std(axis=0) * np.sqrt(252.0)
    return {"value": uni.dividend_yield[stocks].astype(float), "low_volatility": -volatility}


def business_days(start: dt.date, end: dt.date) -> np.ndarray:
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + 1)
    return days[np.is_busday(days)]
