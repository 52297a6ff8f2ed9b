"""A household as plain tables (the CSV set of a what-if), its marts, and the household after trades.

The CSV set (one folder, documented in docs/lifecycle.md):
- household.csv: household_id, as_of, st_rate, lt_rate, [ordinary_rate], [tax_budget],
  [realized_st_gain_ytd], [realized_lt_gain_ytd]
- accounts.csv: account_id, taxable, [registration], [fractional_allowed], [cash]
- lots.csv: lot_id, account_id, security_id, quantity, cost_per_share, acquired_date
- targets.csv: security_id, target_weight (CASH allowed; the rest of 1 is cash)
- prices.csv: security_id, price, [gics_sector], [gics_industry], [asset_class], [identical_group],
  [security_type]
- optional windows.csv: identical_group, window_type (no_buy|no_loss_sale), window_start,
  [window_end], [exempt_lot_id]; restrictions.csv: account_id, security_id

Everything here is pure except `read_household` / `write_household` (the edges).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimization.data import CASH
from optimization.testing import MartBuilder

ACCOUNT_COLUMNS = ["account_id", "taxable", "registration", "fractional_allowed", "cash"]
OPTIONAL_ACCOUNT_COLUMNS = ["preferred_asset_classes"]  # 'us_bond;reit' (asset location)
LOT_COLUMNS = ["lot_id", "account_id", "security_id", "quantity", "cost_per_share", "acquired_date"]
TARGET_COLUMNS = ["security_id", "target_weight"]
PRICE_COLUMNS = ["security_id", "price", "gics_sector", "gics_industry", "asset_class", "identical_group",
                 "security_type", "income_yield"]
WINDOW_COLUMNS = ["identical_group", "window_type", "window_start", "window_end", "exempt_lot_id"]
RESTRICTION_COLUMNS = ["account_id", "security_id"]
WASH_WINDOW_DAYS = 30  # the window runs 30 days after the sale or purchase (docs/tax-conventions.md)


@dataclass(frozen=True)
class Request:
    """One request of the canonical requests file (cash_withdrawal, charitable_gift)."""

    account_id: str
    request_type: str
    amount: float


@dataclass(frozen=True, eq=False)
class Household:
    household_id: str
    as_of: dt.date
    st_rate: float
    lt_rate: float
    accounts: pd.DataFrame
    lots: pd.DataFrame
    targets: pd.DataFrame
    securities: pd.DataFrame
    ordinary_rate: float | None = None  # IRA distributions; default st_rate (no NIIT on them: set it)
    tax_budget: float | None = None  # remaining tax budget of the year, USD; None: no budget
    realized_st_gain_ytd: float = 0.0
    realized_lt_gain_ytd: float = 0.0
    windows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WINDOW_COLUMNS))
    restrictions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=RESTRICTION_COLUMNS))

    # ---------------------------------------------------------------------------------------
    @property
    def income_rate(self) -> float:
        return self.st_rate if self.ordinary_rate is None else float(self.ordinary_rate)

    @property
    def price(self) -> pd.Series:
        return self.securities.set_index("security_id")["price"].astype(float)

    def lot_values(self) -> pd.Series:
        return self.lots["quantity"] * self.lots["security_id"].map(self.price)

    @property
    def market_value(self) -> float:
        return float(self.lot_values().sum() + self.accounts["cash"].sum())

    def account(self, account_id: str) -> pd.Series:
        return self.accounts.set_index("account_id").loc[account_id]

    def is_taxable(self, account_id: str) -> bool:
        return bool(self.account(account_id)["taxable"])

    def is_traditional_ira(self, account_id: str) -> bool:
        row = self.account(account_id)
        return (not bool(row["taxable"])) and str(row.get("registration", "")) != "roth_ira"

    def security_attr(self, column: str) -> pd.Series:
        return self.securities.set_index("security_id")[column]

    # ---------------------------------------------------------------------------------------
    def mart_frames(self, requests: tuple[Request, ...] = ()) -> dict[str, pd.DataFrame]:
        """The 11 marts of docs/marts.md for this household (optimization.testing.MartBuilder)."""
        b = MartBuilder(self.as_of)
        for s in self.securities.itertuples(index=False):
            b.security(s.security_id, float(s.price), sector=_text(s.gics_sector), group=_text(s.identical_group),
                       asset_class=_text(s.asset_class) or "us_equity", security_type=_text(s.security_type) or "equity")
        budget = None if self.tax_budget is None else float(self.tax_budget)
        b.household(self.household_id, st_rate=self.st_rate, lt_rate=self.lt_rate, tax_budget_remaining=budget,
                    realized_st_gain_ytd=self.realized_st_gain_ytd, realized_lt_gain_ytd=self.realized_lt_gain_ytd)
        for a in self.accounts.itertuples(index=False):
            b.account(a.account_id, self.household_id, taxable=bool(a.taxable), fractional=bool(a.fractional_allowed),
                      cash=float(a.cash), registration=_text(a.registration))
        for lot in self.lots.itertuples(index=False):
            if lot.quantity > 1e-9:
                b.lot(lot.lot_id, lot.account_id, lot.security_id, float(lot.quantity), float(lot.cost_per_share),
                      _date(lot.acquired_date))
        for t in self.targets.itertuples(index=False):
            b.target(self.household_id, t.security_id, float(t.target_weight))
        for w in self.windows.itertuples(index=False):
            b.window(self.household_id, w.identical_group, w.window_type, _date(w.window_start),
                     exempt_lot_id=_text(w.exempt_lot_id))
            if _text(getattr(w, "window_end", None)):
                b.rows["fct_wash_sale_windows"][-1]["window_end"] = _date(w.window_end)
        for r in self.restrictions.itertuples(index=False):
            b.restriction(r.account_id, r.security_id)
        for k, r in enumerate(requests):
            b.request(f"{self.household_id}-LC{k + 1}", self.household_id, r.account_id, r.request_type, r.amount)
        frames = b.frames()
        if "preferred_asset_classes" in self.accounts:  # asset location (optimizer placement hook)
            preferred = self.accounts.set_index("account_id")["preferred_asset_classes"]
            frames["dim_accounts"]["preferred_asset_classes"] = frames["dim_accounts"]["account_id"].map(preferred)
        industry = self.security_attr("gics_industry")
        frames["dim_securities"]["gics_industry"] = frames["dim_securities"]["security_id"].map(industry)
        return frames


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _date(value) -> dt.date:
    return pd.Timestamp(value).date()


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes", "y")
    return bool(value) if not pd.isna(value) else False


def normalise(
    household_id: str, as_of: dt.date, st_rate: float, lt_rate: float, accounts: pd.DataFrame, lots: pd.DataFrame,
    targets: pd.DataFrame, securities: pd.DataFrame, **kwargs,
) -> Household:
    """A Household with every optional column filled and typed (the one constructor to use)."""
    accounts = accounts.copy()
    if "registration" not in accounts:
        accounts["registration"] = None
    accounts["taxable"] = accounts["taxable"].map(_bool)
    accounts["registration"] = [
        _text(r) or ("joint" if t else "traditional_ira") for r, t in zip(accounts["registration"], accounts["taxable"])
    ]
    accounts["fractional_allowed"] = accounts["fractional_allowed"].map(_bool) if "fractional_allowed" in accounts else True
    accounts["cash"] = pd.to_numeric(accounts["cash"], errors="coerce").fillna(0.0) if "cash" in accounts else 0.0
    lots = lots.copy()
    lots["quantity"] = lots["quantity"].astype(float)
    lots["cost_per_share"] = lots["cost_per_share"].astype(float)
    lots["acquired_date"] = pd.to_datetime(lots["acquired_date"]).dt.date
    securities = securities.copy()
    for col in PRICE_COLUMNS:
        if col not in securities:
            securities[col] = None
    securities["price"] = securities["price"].astype(float)
    securities["income_yield"] = pd.to_numeric(securities["income_yield"], errors="coerce")
    securities["identical_group"] = [_text(g) or s for g, s in zip(securities["identical_group"], securities["security_id"])]
    windows = kwargs.pop("windows", None)
    if windows is None:
        windows = pd.DataFrame(columns=WINDOW_COLUMNS)
    windows = windows.copy()
    for col in WINDOW_COLUMNS:
        if col not in windows:
            windows[col] = None
    restrictions = kwargs.pop("restrictions", None)
    if restrictions is None:
        restrictions = pd.DataFrame(columns=RESTRICTION_COLUMNS)
    return Household(
        household_id=household_id, as_of=as_of, st_rate=float(st_rate), lt_rate=float(lt_rate),
        accounts=accounts[ACCOUNT_COLUMNS + [c for c in OPTIONAL_ACCOUNT_COLUMNS if c in accounts]]
        .sort_values("account_id").reset_index(drop=True),
        lots=lots[LOT_COLUMNS].sort_values(["account_id", "security_id", "lot_id"]).reset_index(drop=True),
        targets=targets[TARGET_COLUMNS].copy(),
        securities=securities[PRICE_COLUMNS].sort_values("security_id").reset_index(drop=True),
        windows=windows[WINDOW_COLUMNS], restrictions=restrictions[RESTRICTION_COLUMNS].copy(), **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# edges: the CSV set


def read_household(folder: str | Path) -> Household:
    folder = Path(folder)
    head = pd.read_csv(folder / "household.csv").iloc[0]

    def opt(name):
        return None if name not in head or pd.isna(head[name]) else float(head[name])

    optional = {}
    for name in ("windows", "restrictions"):
        path = folder / f"{name}.csv"
        if path.exists():
            optional[name] = pd.read_csv(path, dtype=str).replace({np.nan: None})
    return normalise(
        str(head["household_id"]), pd.Timestamp(head["as_of"]).date(), float(head["st_rate"]), float(head["lt_rate"]),
        pd.read_csv(folder / "accounts.csv"), pd.read_csv(folder / "lots.csv", dtype={"lot_id": str}),
        pd.read_csv(folder / "targets.csv"), pd.read_csv(folder / "prices.csv"),
        ordinary_rate=opt("ordinary_rate"), tax_budget=opt("tax_budget"),
        realized_st_gain_ytd=opt("realized_st_gain_ytd") or 0.0, realized_lt_gain_ytd=opt("realized_lt_gain_ytd") or 0.0,
        **optional,
    )


def write_household(household: Household, folder: str | Path) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([dict(
        household_id=household.household_id, as_of=household.as_of.isoformat(), st_rate=household.st_rate,
        lt_rate=household.lt_rate, ordinary_rate=household.ordinary_rate, tax_budget=household.tax_budget,
        realized_st_gain_ytd=household.realized_st_gain_ytd, realized_lt_gain_ytd=household.realized_lt_gain_ytd,
    )]).to_csv(folder / "household.csv", index=False)
    household.accounts.to_csv(folder / "accounts.csv", index=False)
    household.lots.to_csv(folder / "lots.csv", index=False)
    household.targets.to_csv(folder / "targets.csv", index=False)
    household.securities.to_csv(folder / "prices.csv", index=False)
    if len(household.windows):
        household.windows.to_csv(folder / "windows.csv", index=False)
    if len(household.restrictions):
        household.restrictions.to_csv(folder / "restrictions.csv", index=False)
    return folder


# ---------------------------------------------------------------------------------------------
# the household after trades (multi-year plans, harvest simulations)


def apply_trades(household: Household, trades: pd.DataFrame, requests: tuple[Request, ...] = ()) -> Household:
    """The household after `trades` (TRADE_COLUMNS) and `requests` on its as_of date.

    Sells and gifts relieve the named lots; each buy opens a lot at the price on as_of; account
    cash moves by proceeds - purchases - withdrawals; realized gains of taxable accounts add to
    the year to date; loss sales open no_buy windows and buys open no_loss_sale windows on their
    identical group (30 days), as the marts would the next day.
    """
    lots = household.lots.copy()
    cash = household.accounts.set_index("account_id")["cash"].astype(float).copy()
    relieved = trades[trades["side"].isin(["sell", "gift"])].groupby("lot_id")["quantity"].sum()
    lots["quantity"] = lots["quantity"] - lots["lot_id"].map(relieved).fillna(0.0)
    lots = lots[lots["quantity"] > 1e-9]
    sells = trades[trades["side"] == "sell"]
    buys = trades[trades["side"] == "buy"]
    cash = cash.add(sells.groupby("account_id")["trade_value"].sum(), fill_value=0.0)
    cash = cash.sub(buys.groupby("account_id")["trade_value"].sum(), fill_value=0.0)
    for r in requests:
        if r.request_type == "cash_withdrawal":
            cash[r.account_id] -= r.amount
    stamp = household.as_of.strftime("%Y%m%d")
    new_lots = pd.DataFrame({
        "lot_id": [f"{a}-{s}-{stamp}-B" for a, s in zip(buys["account_id"], buys["security_id"])],
        "account_id": buys["account_id"].to_numpy(), "security_id": buys["security_id"].to_numpy(),
        "quantity": buys["quantity"].astype(float).to_numpy(), "cost_per_share": buys["price"].astype(float).to_numpy(),
        "acquired_date": [household.as_of] * len(buys),
    })
    lots = pd.concat([lots, new_lots], ignore_index=True) if len(new_lots) else lots
    taxable = set(household.accounts.loc[household.accounts["taxable"], "account_id"])
    in_taxable = sells[sells["account_id"].isin(taxable)]
    st = float(in_taxable.loc[in_taxable["holding_term"] == "short", "realized_gain"].sum())
    lt = float(in_taxable.loc[in_taxable["holding_term"] == "long", "realized_gain"].sum())
    group = household.security_attr("identical_group")
    windows = [household.windows]
    loss_groups = sorted(set(sells.loc[sells["realized_gain"] < 0, "security_id"].map(group)))
    buy_groups = sorted(set(buys["security_id"].map(group)))
    new_windows = [dict(identical_group=g, window_type="no_buy", window_start=household.as_of,
                        window_end=household.as_of + dt.timedelta(days=WASH_WINDOW_DAYS), exempt_lot_id=None)
                   for g in loss_groups]
    new_windows += [dict(identical_group=g, window_type="no_loss_sale", window_start=household.as_of,
                         window_end=household.as_of + dt.timedelta(days=WASH_WINDOW_DAYS), exempt_lot_id=None)
                    for g in buy_groups]
    if new_windows:
        windows.append(pd.DataFrame(new_windows, columns=WINDOW_COLUMNS))
    accounts = household.accounts.copy()
    accounts["cash"] = accounts["account_id"].map(cash).astype(float)
    budget = household.tax_budget
    if budget is not None:
        budget = budget - float(trades.loc[trades["side"] == "sell", "estimated_tax"].fillna(0.0).sum())
    return replace(
        household, lots=lots.sort_values(["account_id", "security_id", "lot_id"]).reset_index(drop=True),
        accounts=accounts, windows=pd.concat(windows, ignore_index=True) if len(windows) > 1 else household.windows,
        realized_st_gain_ytd=household.realized_st_gain_ytd + st, realized_lt_gain_ytd=household.realized_lt_gain_ytd + lt,
        tax_budget=budget,
    )


def move_to(household: Household, as_of: dt.date, prices: pd.Series | None = None, new_year_budget: float | None = None) -> Household:
    """The same household on a later date: new prices (optional); a new calendar year resets the
    year-to-date realized gains and (when given) the tax budget; expired windows are dropped."""
    securities = household.securities.copy()
    if prices is not None:
        securities["price"] = securities["security_id"].map(prices).fillna(securities["price"]).astype(float)
    new_year = as_of.year != household.as_of.year
    windows = household.windows
    if len(windows):
        end = pd.to_datetime(windows["window_end"].where(windows["window_end"].notna(),
                                                         pd.to_datetime(windows["window_start"]) + pd.Timedelta(days=WASH_WINDOW_DAYS)))
        windows = windows[end.dt.date >= as_of].reset_index(drop=True)
    return replace(
        household, as_of=as_of, securities=securities, windows=windows,
        realized_st_gain_ytd=0.0 if new_year else household.realized_st_gain_ytd,
        realized_lt_gain_ytd=0.0 if new_year else household.realized_lt_gain_ytd,
        tax_budget=(new_year_budget if new_year_budget is not None else household.tax_budget) if new_year else household.tax_budget,
    )


def cash_target(targets: pd.DataFrame) -> float:
    rows = targets[targets["security_id"] == CASH]
    return float(rows["target_weight"].sum()) if len(rows) else max(0.0, 1.0 - float(targets["target_weight"].sum()))


def household_from_marts(frames: dict[str, pd.DataFrame], household_id: str, as_of: dt.date) -> Household:
    """The Household of one household of the marts (docs/marts.md): the daily run's view."""
    hh = frames["dim_households"].set_index("household_id").loc[household_id]
    accounts = frames["dim_accounts"][frames["dim_accounts"]["household_id"] == household_id]
    cash = frames["fct_account_cash"].groupby("account_id")["cash"].sum()
    accounts = accounts.assign(cash=accounts["account_id"].map(cash).fillna(0.0))
    lots = frames["fct_lots"][frames["fct_lots"]["household_id"] == household_id].copy()
    lots["lot_id"] = lots["lot_id"].astype(str)
    targets = frames["fct_household_targets"][frames["fct_household_targets"]["household_id"] == household_id]
    held = set(lots["security_id"]) | set(targets["security_id"])
    securities = frames["dim_securities"][frames["dim_securities"]["security_id"].isin(held)]
    windows = frames["fct_wash_sale_windows"]
    windows = windows[windows["household_id"] == household_id]
    restrictions = frames["fct_buy_restrictions"][frames["fct_buy_restrictions"]["account_id"].isin(set(accounts["account_id"]))]

    def number(name):
        value = hh.get(name)
        return None if value is None or pd.isna(value) else float(value)

    return normalise(
        household_id, as_of, float(hh["st_rate"]), float(hh["lt_rate"]), accounts, lots, targets, securities,
        tax_budget=number("tax_budget_remaining"), realized_st_gain_ytd=number("realized_st_gain_ytd") or 0.0,
        realized_lt_gain_ytd=number("realized_lt_gain_ytd") or 0.0, windows=windows, restrictions=restrictions,
    )
