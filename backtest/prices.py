"""Price histories for the backtest: a folder of per-ticker CSVs (with the optional monthly index
membership and a GICS sector list), or seeded simulated prices when no folder is given.

Nothing is copied: the folder is read where it lies. Tickers are matched across files by a
normalised symbol (upper case, letters and digits only: BRK_B, BRK.B and BRKB are one name).
"""

from __future__ import annotations

import ast
import datetime as dt
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

UNKNOWN_SECTOR = "Unknown"
SIM_SECTORS = ("Information Technology", "Health Care", "Financials", "Consumer Discretionary",
               "Communication Services", "Industrials", "Consumer Staples", "Energy", "Utilities",
               "Real Estate", "Materials")


def normalise_symbol(symbol: str) -> str:
    """BRK_B / BRK.B / BRKB / 'AAPL*' (membership file footnote marks) -> one key."""
    return re.sub(r"[^A-Z0-9]", "", str(symbol).upper())


@dataclass(frozen=True, eq=False)
class PriceHistory:
    dates: np.ndarray  # datetime64[D], trading days, increasing
    tickers: tuple[str, ...]
    close: np.ndarray  # len(dates) x len(tickers); NaN where the ticker has no price that day
    sector: tuple[str, ...]  # GICS sector per ticker; UNKNOWN_SECTOR when not in the sector list
    membership_dates: np.ndarray | None = None  # datetime64[D], increasing
    membership: tuple[tuple[int, ...], ...] | None = None  # ticker indices held that month, file order
    source: str = "simulated"
    caveats: tuple[str, ...] = ()

    def day_index(self, day) -> int:
        """First trading day on or after `day`."""
        i = int(np.searchsorted(self.dates, np.datetime64(day, "D")))
        if i >= len(self.dates):
            raise ValueError(f"{day} is after the last price date {self.dates[-1]}")
        return i

    def members(self, t: int) -> np.ndarray:
        """Bool mask of the index members on day t (every ticker with a price when there is no
        membership file), restricted to tickers priced that day."""
        priced = np.isfinite(self.close[t])
        if self.membership is None:
            return priced
        k = int(np.searchsorted(self.membership_dates, self.dates[t], side="right")) - 1
        if k < 0:
            return priced
        mask = np.zeros(len(self.tickers), dtype=bool)
        mask[list(self.membership[k])] = True
        return mask & priced

    def last_priced_day(self) -> np.ndarray:
        """Per ticker, the index of its last priced day (-1: never priced)."""
        finite = np.isfinite(self.close)
        last = len(self.dates) - 1 - np.argmax(finite[::-1], axis=0)
        return np.where(finite.any(axis=0), last, -1)

    def select(self, columns) -> "PriceHistory":
        """The same history restricted to some tickers (membership re-indexed)."""
        columns = list(columns)
        new_index = {old: new for new, old in enumerate(columns)}
        membership = None
        if self.membership is not None:
            membership = tuple(tuple(new_index[i] for i in m if i in new_index) for m in self.membership)
        return replace(self, tickers=tuple(self.tickers[i] for i in columns), close=self.close[:, columns],
                       sector=tuple(self.sector[i] for i in columns), membership=membership)

    def between(self, start=None, end=None) -> "PriceHistory":
        lo = 0 if start is None else self.day_index(start)
        hi = len(self.dates) if end is None else int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        return replace(self, dates=self.dates[lo:hi], close=self.close[lo:hi])


# ------------------------------------------------------------------------------------------------
# reading a folder


def read_price_csv(path: Path) -> pd.Series:
    """Close by date from one <TICKER>.csv (date, open, high, low, close, volume). Dates are ISO or
    M/D/YYYY (a few files of the S&P 500 set use the latter)."""
    frame = pd.read_csv(path, usecols=["date", "close"], dtype={"date": str})
    dates = frame["date"].str.strip()
    iso = pd.to_datetime(dates, format="%Y-%m-%d", errors="coerce")
    us = pd.to_datetime(dates, format="%m/%d/%Y", errors="coerce")
    parsed = iso.fillna(us)
    bad = parsed.isna()
    if bad.any():
        raise ValueError(f"{path.name}: unreadable dates such as {dates[bad].iloc[0]!r}")
    close = pd.to_numeric(frame["close"], errors="coerce")
    series = pd.Series(close.to_numpy(float), index=parsed.to_numpy("datetime64[D]"))
    series = series[np.isfinite(series.to_numpy()) & (series.to_numpy() > 0)]
    return series[~series.index.duplicated(keep="last")].sort_index()


def read_membership(path: Path) -> list[tuple[np.datetime64, list[str]]]:
    """index_membership_monthly.csv: no header; date, then a Python-list string of tickers."""
    rows = []
    frame = pd.read_csv(path, header=None, names=["date", "tickers"], dtype=str)
    for day, text in zip(frame["date"], frame["tickers"]):
        members = ast.literal_eval(text)
        rows.append((np.datetime64(pd.Timestamp(day.strip()).date(), "D"), [normalise_symbol(m) for m in members]))
    rows.sort(key=lambda r: r[0])
    return rows


def read_sectors(path: Path) -> dict[str, str]:
    """gics_constituents.csv: Symbol, ..., GICS Sector -> {normalised symbol: sector}."""
    frame = pd.read_csv(path, dtype=str)
    return {normalise_symbol(s): sector for s, sector in zip(frame["Symbol"], frame["GICS Sector"])}


def read_price_folder(
    prices_dir: str | Path,
    membership_file: str | Path | None = None,
    sectors_file: str | Path | None = None,
    start=None,
    end=None,
    tickers=None,
) -> PriceHistory:
    """Every <TICKER>.csv of `prices_dir` (tickers.csv skipped) as one aligned close matrix on the
    union of their dates; optional monthly membership and GICS sectors (tickers with no sector ->
    "Unknown")."""
    prices_dir = Path(prices_dir)
    files = sorted(p for p in prices_dir.glob("*.csv") if p.stem.lower() != "tickers")
    if tickers is not None:
        wanted = {normalise_symbol(t) for t in tickers}
        files = [p for p in files if normalise_symbol(p.stem) in wanted]
    if not files:
        raise FileNotFoundError(f"no <TICKER>.csv files in {prices_dir}")
    series = {}
    for p in files:
        s = read_price_csv(p)
        if start is not None:
            s = s[s.index >= np.datetime64(start, "D")]
        if end is not None:
            s = s[s.index <= np.datetime64(end, "D")]
        if len(s):
            series[p.stem] = s
    frame = pd.DataFrame(series).sort_index()
    tickers = tuple(frame.columns)
    keys = [normalise_symbol(t) for t in tickers]
    sectors = read_sectors(Path(sectors_file)) if sectors_file else {}
    sector = tuple(sectors.get(k, UNKNOWN_SECTOR) for k in keys)
    caveats = [
        "prices are split- and dividend-adjusted closes: lot basis, gains and losses are in adjusted terms "
        "(dividends are folded into the price path, not paid out, so no dividend tax and no reinvestment lots)",
    ]
    if sectors_file:
        unknown = sum(1 for s in sector if s == UNKNOWN_SECTOR)
        caveats.append(f"sectors from today's GICS list: {unknown} of {len(tickers)} tickers (mostly delisted) "
                       f"have none and are grouped as '{UNKNOWN_SECTOR}'")
    membership_dates = membership = None
    if membership_file:
        index = {k: i for i, k in enumerate(keys)}
        rows = read_membership(Path(membership_file))
        membership_dates = np.array([d for d, _ in rows], dtype="datetime64[D]")
        membership = tuple(tuple(dict.fromkeys(index[m] for m in members if m in index)) for _, members in rows)
        caveats.append("index membership is monthly (an ETF's holdings); members without a price file are skipped")
    else:
        caveats.append("no membership file: every ticker with a price that day is in the universe "
                       "(survivorship bias if the folder holds only today's survivors)")
    return PriceHistory(
        dates=frame.index.to_numpy("datetime64[D]"), tickers=tickers, close=frame.to_numpy(float), sector=sector,
        membership_dates=membership_dates, membership=membership, source=str(prices_dir), caveats=tuple(caveats),
    )


# ------------------------------------------------------------------------------------------------
# simulated prices


def business_days(start: dt.date, count: int) -> np.ndarray:
    days = np.busday_offset(np.datetime64(start, "D"), np.arange(count), roll="forward")
    return days.astype("datetime64[D]")


def simulated_prices(
    n_securities: int = 100,
    n_days: int = 252,
    seed: int = 0,
    start: dt.date = dt.date(2020, 1, 1),
    market_drift: float = 0.07,
    market_vol: float = 0.16,
    sector_vol: float = 0.08,
    specific_vol: float = 0.25,
) -> PriceHistory:
    """Seeded market + sector + idiosyncratic log-normal daily prices (annual parameters), every
    ticker priced every day, no membership changes. Deterministic from the arguments."""
    rng = np.random.default_rng(seed)
    dt_year = 1.0 / 252
    n_sectors = min(len(SIM_SECTORS), max(1, n_securities))
    sector_of = np.arange(n_securities) % n_sectors
    market = rng.normal((market_drift - 0.5 * market_vol**2) * dt_year, market_vol * math.sqrt(dt_year), n_days)
    sectors = rng.normal(0.0, sector_vol * math.sqrt(dt_year), (n_days, n_sectors))
    specific = rng.normal(-0.5 * (specific_vol**2 + sector_vol**2) * dt_year, specific_vol * math.sqrt(dt_year),
                          (n_days, n_securities))
    log_returns = market[:, None] + sectors[:, sector_of] + specific
    log_returns[0] = 0.0
    start_price = np.round(np.exp(rng.normal(4.0, 0.6, n_securities)), 2)
    close = start_price * np.exp(np.cumsum(log_returns, axis=0))
    return PriceHistory(
        dates=business_days(start, n_days), tickers=tuple(f"S{i:03d}" for i in range(n_securities)), close=close,
        sector=tuple(SIM_SECTORS[k] for k in sector_of), source=f"simulated (seed {seed})",
        caveats=(f"simulated prices (seed {seed}): market drift {market_drift:.0%}, vol {market_vol:.0%}, "
                 f"sector vol {sector_vol:.0%}, specific vol {specific_vol:.0%}; no delistings, no dividends",),
    )
