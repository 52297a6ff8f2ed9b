"""Mart frames for tests and benchmarks: a tiny builder and a realistic synthetic household.

Frames have the columns of docs/marts.md, so household_problems_from_marts sees exactly what the
Dagster asset passes it.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

MART_COLUMNS = {
    "dim_securities": ["security_id", "ticker", "cusip", "description", "security_type", "asset_class", "gics_sector",
                       "gics_industry", "identical_group", "price", "price_date"],
    "dim_accounts": ["account_id", "household_id", "owner_role", "registration", "taxable", "custodian",
                     "fractional_allowed", "model_id", "cash_minimum", "trading_locked", "preferred_asset_classes"],
    "dim_households": ["household_id", "filing_status", "state", "ordinary_income", "advisory_fee_bps",
                       "annual_tax_budget", "federal_st_rate", "federal_lt_rate", "niit_rate", "state_rate", "st_rate",
                       "lt_rate", "realized_st_gain_ytd", "realized_lt_gain_ytd", "tax_budget_remaining",
                       "account_count", "market_value", "cash", "risk_aversion", "tax_weight", "trading_cost_bps",
                       "tracking_error_cap", "harvest_threshold_start", "harvest_threshold_end"],
    "fct_lots": ["lot_id", "account_id", "household_id", "security_id", "identical_group", "quantity", "cost_basis",
                 "cost_per_share", "acquired_date", "adjusted_acquired_date", "long_term_date", "is_long_term", "price",
                 "market_value", "unrealized_gain", "taxable", "source_file", "source_line", "file_sha256"],
    "fct_positions": ["account_id", "household_id", "security_id", "quantity", "lot_quantity", "price", "market_value",
                      "reconciles"],
    "fct_account_cash": ["account_id", "household_id", "cash"],
    "fct_household_targets": ["household_id", "model_id", "model_version", "security_id", "target_weight"],
    "fct_wash_sale_windows": ["household_id", "identical_group", "window_type", "window_start", "window_end",
                              "source_transaction_id", "source_account_id", "exempt_lot_id"],
    "fct_buy_restrictions": ["account_id", "security_id", "reason"],
    "fct_trading_restrictions": ["account_id", "security_id", "restriction_type"],
    "fct_requests": ["request_id", "household_id", "account_id", "request_type", "amount", "account_choice",
                     "eligible_accounts", "hold_until", "requested_on"],
    "fct_household_readiness": ["household_id", "is_ready", "hold_reasons"],
}


def long_term_date(acquired: dt.date) -> dt.date:
    """adjusted_acquired_date + 1 year + 1 day (docs/marts.md); Feb 29 -> Mar 1."""
    try:
        plus_year = acquired.replace(year=acquired.year + 1)
    except ValueError:
        plus_year = acquired.replace(year=acquired.year + 1, month=3, day=1) - dt.timedelta(days=1)
    return plus_year + dt.timedelta(days=1)


class MartBuilder:
    """Hand-built mart rows: securities, households, accounts, lots, targets, windows, requests."""

    def __init__(self, as_of: dt.date):
        self.as_of = as_of
        self.rows: dict[str, list[dict]] = {name: [] for name in MART_COLUMNS}
        self._security: dict[str, dict] = {}
        self._account: dict[str, dict] = {}
        self._not_ready: dict[str, str] = {}

    def security(self, security_id, price, sector="Information Technology", group=None, asset_class="us_equity",
                 security_type="equity"):
        row = dict(security_id=security_id, ticker=security_id, cusip=f"C{security_id}", description=security_id,
                   security_type=security_type, asset_class=asset_class, gics_sector=sector, gics_industry=None,
                   identical_group=group or security_id, price=price, price_date=self.as_of)
        self._security[security_id] = row
        self.rows["dim_securities"].append(row)
        return self

    def household(self, household_id, st_rate=0.408, lt_rate=0.238, tax_budget_remaining=None,
                  realized_st_gain_ytd=0.0, realized_lt_gain_ytd=0.0, **overrides):
        """overrides: per-household settings (risk_aversion, tax_weight, trading_cost_bps, tracking_error_cap)."""
        self.rows["dim_households"].append(dict(
            household_id=household_id, filing_status="married_joint", state="CA", ordinary_income=500_000.0,
            advisory_fee_bps=50.0, annual_tax_budget=tax_budget_remaining, federal_st_rate=None, federal_lt_rate=None,
            niit_rate=None, state_rate=None, st_rate=st_rate, lt_rate=lt_rate, realized_st_gain_ytd=realized_st_gain_ytd,
            realized_lt_gain_ytd=realized_lt_gain_ytd, tax_budget_remaining=tax_budget_remaining, account_count=None,
            market_value=None, cash=None, **overrides,
        ))
        return self

    def account(self, account_id, household_id, taxable=True, fractional=True, cash=0.0, registration=None,
                cash_minimum=None, locked=False, preferred_asset_classes=None):
        row = dict(account_id=account_id, household_id=household_id, owner_role="primary",
                   registration=registration or ("joint" if taxable else "traditional_ira"), taxable=taxable,
                   custodian="schwab", fractional_allowed=fractional, model_id="M1", cash_minimum=cash_minimum,
                   trading_locked=locked, preferred_asset_classes=preferred_asset_classes)
        self._account[account_id] = row
        self.rows["dim_accounts"].append(row)
        self.rows["fct_account_cash"].append(dict(account_id=account_id, household_id=household_id, cash=float(cash)))
        return self

    def lot(self, lot_id, account_id, security_id, quantity, cost_per_share, acquired: dt.date):
        acc, sec = self._account[account_id], self._security[security_id]
        ltd = long_term_date(acquired)
        self.rows["fct_lots"].append(dict(
            lot_id=lot_id, account_id=account_id, household_id=acc["household_id"], security_id=security_id,
            identical_group=sec["identical_group"], quantity=float(quantity), cost_basis=quantity * cost_per_share,
            cost_per_share=float(cost_per_share), acquired_date=acquired, adjusted_acquired_date=acquired,
            long_term_date=ltd, is_long_term=self.as_of >= ltd, price=sec["price"],
            market_value=quantity * sec["price"], unrealized_gain=quantity * (sec["price"] - cost_per_share),
            taxable=acc["taxable"], source_file="lots.csv", source_line=len(self.rows["fct_lots"]) + 2,
            file_sha256="0" * 64,
        ))
        return self

    def target(self, household_id, security_id, weight):
        self.rows["fct_household_targets"].append(dict(household_id=household_id, model_id="M1", model_version="1",
                                                       security_id=security_id, target_weight=float(weight)))
        return self

    def window(self, household_id, group, window_type, start: dt.date, exempt_lot_id=None, account_id=None):
        self.rows["fct_wash_sale_windows"].append(dict(
            household_id=household_id, identical_group=group, window_type=window_type, window_start=start,
            window_end=start + dt.timedelta(days=30), source_transaction_id=f"T{len(self.rows['fct_wash_sale_windows'])}",
            source_account_id=account_id, exempt_lot_id=exempt_lot_id,
        ))
        return self

    def restriction(self, account_id, security_id, reason="never_buy_security"):
        self.rows["fct_buy_restrictions"].append(dict(account_id=account_id, security_id=security_id, reason=reason))
        return self

    def trading_restriction(self, account_id, security_id, restriction_type):
        """never_sell_security or never_hold_security for one account."""
        self.rows["fct_trading_restrictions"].append(
            dict(account_id=account_id, security_id=security_id, restriction_type=restriction_type))
        return self

    def request(self, request_id, household_id, account_id, request_type, amount, **columns):
        """columns: the optional request columns (account_choice, eligible_accounts, hold_until, requested_on)."""
        self.rows["fct_requests"].append(dict(request_id=request_id, household_id=household_id, account_id=account_id,
                                              request_type=request_type, amount=float(amount), **columns))
        return self

    def not_ready(self, household_id, reason="quarantined row"):
        self._not_ready[household_id] = reason
        return self

    def frames(self) -> dict[str, pd.DataFrame]:
        rows = dict(self.rows)
        positions: dict[tuple, dict] = {}
        for lot in rows["fct_lots"]:
            key = (lot["account_id"], lot["security_id"])
            pos = positions.setdefault(key, dict(account_id=key[0], household_id=lot["household_id"], security_id=key[1],
                                                 quantity=0.0, lot_quantity=0.0, price=lot["price"], market_value=0.0,
                                                 reconciles=True))
            pos["quantity"] += lot["quantity"]
            pos["lot_quantity"] += lot["quantity"]
            pos["market_value"] += lot["market_value"]
        rows["fct_positions"] = list(positions.values())
        rows["fct_household_readiness"] = [
            dict(household_id=h["household_id"], is_ready=h["household_id"] not in self._not_ready,
                 hold_reasons=self._not_ready.get(h["household_id"]))
            for h in rows["dim_households"]
        ]
        frames = {}
        for name, columns in MART_COLUMNS.items():
            # columns a test adds beyond the contract (dim_households knobs such as ordinary_rate) come last
            extra = sorted({k for row in rows.get(name, []) for k in row} - set(columns))
            columns = columns + extra
            frame = pd.DataFrame(rows.get(name, []), columns=columns)
            for col in columns:
                if col.endswith("_date") or col in ("window_start", "window_end", "hold_until", "requested_on"):
                    frame[col] = pd.to_datetime(frame[col])
            frames[name] = frame
        return frames


SECTORS = ("Information Technology", "Health Care", "Financials", "Consumer Discretionary", "Communication Services",
           "Industrials", "Consumer Staples", "Energy", "Utilities", "Real Estate", "Materials")


def synthetic_household_builder(
    builder: MartBuilder | None = None,
    household_id: str = "H0001",
    n_securities: int = 500,
    n_lots: int = 2500,
    n_accounts: int = 3,
    value: float = 5_000_000.0,
    seed: int = 0,
    as_of: dt.date = dt.date(2026, 3, 2),
) -> MartBuilder:
    """A direct-indexed household: cap-weighted 500-stock target, drifted holdings, ~1/3 loss lots,
    a taxable joint account, a traditional IRA and a Roth (whole shares in the IRA), a few active
    wash-sale windows, a restriction, a withdrawal and a charitable gift request."""
    rng = np.random.default_rng(seed)
    b = builder or MartBuilder(as_of)
    tickers = [f"S{i:03d}" for i in range(n_securities)]
    if not any(r["security_id"] == tickers[0] for r in b.rows["dim_securities"]):
        price_rng = np.random.default_rng(12345)  # shared universe: same prices for every household
        prices = np.round(np.exp(price_rng.normal(4.5, 0.8, n_securities)), 2)
        for i, t in enumerate(tickers):
            b.security(t, float(prices[i]), sector=SECTORS[i % len(SECTORS)])
    prices = {r["security_id"]: r["price"] for r in b.rows["dim_securities"]}
    caps = np.sort(np.random.default_rng(777).lognormal(0, 1.2, n_securities))[::-1]
    weights = 0.99 * caps / caps.sum()

    b.household(household_id, st_rate=0.408, lt_rate=0.238, tax_budget_remaining=float(rng.uniform(5e3, 5e4)))
    kinds = [("taxable", True, True), ("ira", False, False), ("roth", False, True)][:n_accounts]
    while len(kinds) < n_accounts:
        kinds.append((f"taxable{len(kinds)}", True, True))
    share = rng.dirichlet(np.full(n_accounts, 4.0))
    acc_ids = []
    for k, (name, taxable, fractional) in enumerate(kinds):
        a = f"{household_id}-{name}"
        acc_ids.append(a)
        b.account(a, household_id, taxable=taxable, fractional=fractional, cash=float(value * share[k] * 0.01),
                  registration="joint" if taxable else ("roth_ira" if name == "roth" else "traditional_ira"))
    for t, w in zip(tickers, weights):
        b.target(household_id, t, float(w))
    b.target(household_id, "CASH", 0.01)

    # holdings: every lot of a security gets a share of its drifted household value
    drifted = weights * rng.lognormal(0, 0.25, n_securities)
    drifted *= 0.99 / drifted.sum()
    extra = rng.choice(n_securities, max(0, n_lots - n_securities), p=weights / weights.sum())
    lot_sec = np.sort(np.concatenate([np.arange(min(n_lots, n_securities)), extra]))
    lot_share = rng.uniform(0.2, 1.0, n_lots)
    per_sec = np.bincount(lot_sec, weights=lot_share, minlength=n_securities)
    lot_value = value * drifted[lot_sec] * lot_share / per_sec[lot_sec]
    lot_acc = rng.choice(n_accounts, n_lots, p=share)
    for i in range(n_lots):
        t = tickers[lot_sec[i]]
        p = prices[t]
        qty = float(np.round(lot_value[i] / p, 0 if not kinds[lot_acc[i]][2] else 3)) or 1.0
        acquired = as_of - dt.timedelta(days=int(rng.integers(5, 1500)))
        cps = float(np.round(p * np.exp(rng.normal(-0.12, 0.25)), 2))
        b.lot(f"{household_id}-L{i:05d}", acc_ids[lot_acc[i]], t, qty, cps, acquired)

    taxable_acc = acc_ids[0]
    for t in rng.choice(tickers, 5, replace=False):
        b.window(household_id, t, "no_buy", as_of - dt.timedelta(days=10), account_id=taxable_acc)
    for t in rng.choice(tickers, 5, replace=False):
        b.window(household_id, t, "no_loss_sale", as_of - dt.timedelta(days=5), account_id=taxable_acc)
    b.restriction(taxable_acc, tickers[3])
    b.request(f"{household_id}-R1", household_id, taxable_acc, "cash_withdrawal", round(value * 0.004, 2))
    b.request(f"{household_id}-R2", household_id, taxable_acc, "charitable_gift", round(value * 0.002, 2))
    return b


def synthetic_frames(n_households: int = 1, as_of: dt.date = dt.date(2026, 3, 2), **kwargs) -> dict[str, pd.DataFrame]:
    b = MartBuilder(as_of)
    for h in range(n_households):
        synthetic_household_builder(b, household_id=f"H{h:04d}", seed=h, as_of=as_of, **kwargs)
    return b.frames()
