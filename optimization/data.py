"""Plain data for one household's rebalance: marts in, frozen HouseholdProblem out.

household_problems_from_marts is pure (no I/O) and deterministic: households, accounts,
securities and lots are sorted by id. Value problems (a NaN price, a target with no price) are NOT
raised here: they are recorded by HouseholdProblem.validate() so that optimize_households can turn
one broken household into an 'error' outcome while the others trade.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optimization.settings import HOUSEHOLD_OVERRIDABLE, OptimizerSettings

if TYPE_CHECKING:
    from optimization.risk import HouseholdRisk, RiskModel  # noqa: F401

CASH = "CASH"  # the cash sentinel of the custodian layout (positions, targets)
CASH_BUCKET = "cash"
UNCLASSIFIED_BUCKET = "unclassified"

REQUIRED_FRAMES = (
    "dim_securities",
    "dim_accounts",
    "dim_households",
    "fct_lots",
    "fct_positions",
    "fct_account_cash",
    "fct_household_targets",
    "fct_wash_sale_windows",
    "fct_buy_restrictions",
    "fct_requests",
    "fct_household_readiness",
)
# Optional: frames and columns read when present (older warehouses and test builders lack them).
#   fct_trading_restrictions: account_id, security_id, restriction_type (TRADING_RESTRICTIONS)
#   dim_accounts: cash_minimum, trading_locked, preferred_asset_classes ('us_bond;intl_equity')
#   dim_households: the OptimizerSettings knobs in HOUSEHOLD_OVERRIDABLE (blank: firm default)
OPTIONAL_FRAMES = ("fct_trading_restrictions",)
NEVER_SELL, NEVER_HOLD = "never_sell_security", "never_hold_security"
TRADING_RESTRICTIONS = (NEVER_SELL, NEVER_HOLD)


def sum_by(index: np.ndarray, weights: np.ndarray, minlength: int) -> np.ndarray:
    """np.bincount with weights, always float (numpy returns int64 for empty input)."""
    return np.bincount(index, weights=weights, minlength=minlength).astype(float)


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class AccountData:
    account_id: str
    taxable: bool
    fractional_allowed: bool
    cash: float
    withdrawal: float = 0.0  # requested cash_withdrawal total, USD
    gift_amount: float = 0.0  # requested charitable_gift total, USD
    restricted: frozenset[str] = frozenset()  # never bought here (fct_buy_restrictions, never_hold)
    never_sell: frozenset[str] = frozenset()  # securities whose lots here are never sold or given
    never_hold: frozenset[str] = frozenset()  # securities whose lots here are all sold today
    cash_minimum: float = 0.0  # cash_after >= this (and >= 0)
    locked: bool = False  # no trade at all in this account (its holdings still count)
    preferred_asset_classes: frozenset[str] = frozenset()  # placement preference (asset location)
    registration: str = ""  # individual, joint, traditional_ira, roth_ira (dim_accounts); "" unknown


@dataclass(frozen=True, eq=False)
class LotTable:
    """Open lots, one entry per lot, sorted by (account, security, lot_id)."""

    lot_id: tuple[str, ...]
    account: np.ndarray  # int index into HouseholdProblem.accounts
    security: np.ndarray  # int index into HouseholdProblem.security_ids
    quantity: np.ndarray
    cost_per_share: np.ndarray
    acquired_date: np.ndarray  # datetime64[D]
    long_term_date: np.ndarray  # datetime64[D]
    is_long_term: np.ndarray  # bool, as of the problem's as_of (as_of >= long_term_date)
    days_to_long_term: np.ndarray  # int, <= 0 once long-term
    no_loss_sale: np.ndarray  # bool: an active no_loss_sale window covers it (not its exempt lot)
    # shares that must be sold today (a tax_loss_harvest request: the sell column's lower bound);
    # None: nothing forced
    sell_minimum: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.lot_id)

    @staticmethod
    def empty() -> "LotTable":
        z = np.zeros(0)
        return LotTable(
            (), z.astype(int), z.astype(int), z, z,
            z.astype("datetime64[D]"), z.astype("datetime64[D]"), z.astype(bool), z.astype(int), z.astype(bool),
        )


@dataclass(frozen=True, eq=False)
class HouseholdProblem:
    household_id: str
    as_of: dt.date
    st_rate: float = 0.0
    lt_rate: float = 0.0
    tax_budget_remaining: float | None = None  # None: no budget row
    accounts: tuple[AccountData, ...] = ()
    security_ids: tuple[str, ...] = ()  # sorted, CASH excluded
    price: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bucket: tuple[str, ...] = ()  # GICS sector; funds: asset class
    identical_group: tuple[str, ...] = ()
    target_weight: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cash_target_weight: float = 0.0
    no_buy_groups: frozenset[str] = frozenset()  # identical groups with an active no_buy window
    lots: LotTable = field(default_factory=LotTable.empty)
    notes: tuple[str, ...] = ()  # facts for the outcome message (ignored requests, ...)
    error: str | None = None  # set when the marts could not even be assembled
    realized_st_gain_ytd: float = 0.0  # net realized this year before today (dim_households)
    realized_lt_gain_ytd: float = 0.0
    risk: "HouseholdRisk | None" = None  # risk model rows for security_ids; None: no tracking error
    asset_class: tuple[str, ...] = ()  # per security_id (asset location); empty: unknown
    overrides: tuple[tuple[str, float], ...] = ()  # per-household settings (HOUSEHOLD_OVERRIDABLE)
    # tax rate of a traditional-IRA distribution (ordinary income: dim_households.ordinary_rate, else
    # st_rate - niit_rate); None: st_rate
    ordinary_rate: float | None = None

    # ----------------------------------------------------------------------------------------
    @property
    def total_cash(self) -> float:
        return float(sum(a.cash for a in self.accounts))

    @property
    def holding_values(self) -> np.ndarray:
        """Market value per security, summed over all accounts (the sleeveless view)."""
        values = self.lots.quantity * self.price[self.lots.security]
        return sum_by(self.lots.security, weights=values, minlength=len(self.security_ids))

    @property
    def market_value(self) -> float:
        return float(self.holding_values.sum()) + self.total_cash

    def validate(self) -> None:
        """Raise ValueError when the data cannot be optimized (reported as status 'error')."""
        if self.error:
            raise ValueError(self.error)
        bad = [s for s, p in zip(self.security_ids, self.price) if not (math.isfinite(p) and p > 0)]
        if bad:
            raise ValueError(f"invalid price for {', '.join(bad[:5])}")
        lots = self.lots
        for name in ("quantity", "cost_per_share"):
            values = getattr(lots, name)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"lot {name} missing or negative")
        if np.isnat(lots.long_term_date).any():
            raise ValueError("lot long_term_date missing")
        for a in self.accounts:
            if not all(math.isfinite(x) for x in (a.cash, a.withdrawal, a.gift_amount, a.cash_minimum)):
                raise ValueError(f"account {a.account_id}: cash, cash minimum or request amount missing")
            conflict = sorted(a.never_hold & a.never_sell) + (sorted(a.never_hold) if a.locked else [])
            if conflict:
                raise ValueError(
                    f"account {a.account_id}: never_hold {', '.join(conflict)} conflicts with never_sell or a lock"
                )
        if not all(math.isfinite(x) for x in (self.st_rate, self.lt_rate)):
            raise ValueError("household tax rates missing")
        if not np.all(np.isfinite(self.target_weight)) or not math.isfinite(self.cash_target_weight):
            raise ValueError("target weight missing")
        if not self.accounts:
            raise ValueError("household has no accounts")
        if self.lots.sell_minimum is not None and np.any(self.lots.sell_minimum > self.lots.quantity + 1e-9):
            raise ValueError("a forced sale exceeds its lot's quantity")


# --------------------------------------------------------------------------------------------
# marts -> problems


def _bool(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "t", "1", "yes")
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return bool(value)


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _days(series) -> np.ndarray:
    return pd.to_datetime(pd.Series(series), errors="coerce").to_numpy(dtype="datetime64[D]")


def _keys(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as an object array of str (None for missing), whatever the frame's dtypes."""
    if column not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    values = frame[column].astype(object).to_numpy()
    return np.array([_text(v) for v in values], dtype=object)


def _numbers(frame: pd.DataFrame, column: str, default: float = np.nan) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), default)
    return pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _bools(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return np.array([_bool(v) for v in frame[column].astype(object).to_numpy()], dtype=bool)


class _Slices:
    """Row ranges of arrays sorted by a key (households): computed once for all households."""

    def __init__(self, keys: np.ndarray):
        self.order = np.argsort(keys.astype(str), kind="stable") if len(keys) else np.zeros(0, dtype=np.int64)
        sorted_keys = keys[self.order].astype(str) if len(keys) else np.zeros(0, dtype=str)
        uniq, starts = np.unique(sorted_keys, return_index=True) if len(keys) else ([], [])
        ends = list(starts[1:]) + [len(sorted_keys)] if len(keys) else []
        self.ranges = {str(k): (int(b), int(e)) for k, b, e in zip(uniq, starts, ends)}

    def rows(self, key: str) -> np.ndarray:
        b, e = self.ranges.get(key, (0, 0))
        return self.order[b:e]


def household_problems_from_marts(
    frames: Mapping[str, pd.DataFrame],
    as_of: dt.date,
    settings: OptimizerSettings = OptimizerSettings(),
    risk_model: "RiskModel | None" = None,
) -> list[HouseholdProblem]:
    """One HouseholdProblem per ready household, sorted by household_id. Pure: no I/O.

    `risk_model` (optimization.risk.estimate_risk_model): when given, every problem carries its
    securities' rows of it (tracking error reported and priced); when None, no tracking error.

    Columns are normalised once for all households (vectorised), then sliced per household, so
    the cost grows with the number of lots, not households x lots.
    """
    missing = [name for name in REQUIRED_FRAMES if name not in frames]
    if missing:
        raise KeyError(f"missing mart frames: {missing}")
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    as_of64 = np.datetime64(as_of, "D")

    readiness = frames["fct_household_readiness"]
    ready = sorted({h for h, ok in zip(_keys(readiness, "household_id"), _bools(readiness, "is_ready")) if ok and h})

    hh = frames["dim_households"]
    hh_ids = _keys(hh, "household_id")
    override_values = {name: _numbers(hh, name) for name in HOUSEHOLD_OVERRIDABLE if name in hh.columns}
    hh_overrides = {
        h: tuple((name, float(v[i])) for name, v in override_values.items() if math.isfinite(v[i]))
        for i, h in enumerate(hh_ids)
    }
    hh_rates = {
        h: (st, lt, budget, st_ytd, lt_ytd)
        for h, st, lt, budget, st_ytd, lt_ytd in zip(
            hh_ids, _numbers(hh, "st_rate"), _numbers(hh, "lt_rate"), _numbers(hh, "tax_budget_remaining"),
            _numbers(hh, "realized_st_gain_ytd", 0.0), _numbers(hh, "realized_lt_gain_ytd", 0.0),
        )
    }
    # IRA distributions are ordinary income: no NIIT on them (st_rate includes it)
    ordinary = np.where(np.isfinite(_numbers(hh, "ordinary_rate")), _numbers(hh, "ordinary_rate"),
                        _numbers(hh, "st_rate") - np.nan_to_num(_numbers(hh, "niit_rate", 0.0), nan=0.0))
    hh_ordinary = {h: float(r) for h, r in zip(hh_ids, ordinary) if math.isfinite(r)}

    sec = frames["dim_securities"]
    sec_ids = _keys(sec, "security_id")
    sector, asset_class, group = _keys(sec, "gics_sector"), _keys(sec, "asset_class"), _keys(sec, "identical_group")
    sec_info = {
        sid: (p, sector[i] or asset_class[i] or UNCLASSIFIED_BUCKET, group[i] or sid, asset_class[i] or UNCLASSIFIED_BUCKET)
        for i, (sid, p) in enumerate(zip(sec_ids, _numbers(sec, "price")))
    }

    acc = frames["dim_accounts"]
    acc_cols = dict(
        id=_keys(acc, "account_id"), hh=_keys(acc, "household_id"),
        taxable=_bools(acc, "taxable"), fractional=_bools(acc, "fractional_allowed"),
        cash_minimum=np.nan_to_num(_numbers(acc, "cash_minimum", 0.0), nan=0.0), locked=_bools(acc, "trading_locked"),
        preferred=_keys(acc, "preferred_asset_classes"), registration=_keys(acc, "registration"),
    )
    acc_slices = _Slices(acc_cols["hh"])
    cash_frame = frames["fct_account_cash"]
    # sums with math.fsum: exactly rounded, so the same rows in any order give the same bits (the
    # warehouse's row order is not fixed, and LP ties must not depend on it)
    cash_parts: dict[str, list[float]] = {}
    for a, c in zip(_keys(cash_frame, "account_id"), _numbers(cash_frame, "cash")):
        cash_parts.setdefault(a, []).append(c)
    cash_by_account = {a: math.fsum(parts) for a, parts in cash_parts.items()}
    restrictions: dict[str, set[str]] = {}
    restr = frames["fct_buy_restrictions"]
    for a, s in zip(_keys(restr, "account_id"), _keys(restr, "security_id")):
        restrictions.setdefault(a, set()).add(s)
    trading: dict[tuple[str, str], set[str]] = {}
    if "fct_trading_restrictions" in frames:
        tr = frames["fct_trading_restrictions"]
        for a, s, kind in zip(_keys(tr, "account_id"), _keys(tr, "security_id"), _keys(tr, "restriction_type")):
            if kind not in TRADING_RESTRICTIONS:  # the mart's accepted_values test reports these
                continue
            trading.setdefault((a, kind), set()).add(s)

    lots = frames["fct_lots"]
    lot_cols = dict(
        hh=_keys(lots, "household_id"), account=_keys(lots, "account_id"), security=_keys(lots, "security_id"),
        lot=_keys(lots, "lot_id"), quantity=_numbers(lots, "quantity"), cps=_numbers(lots, "cost_per_share"),
        basis=_numbers(lots, "cost_basis"), price=_numbers(lots, "price"),
        acquired=_days(lots["acquired_date"]) if "acquired_date" in lots.columns else np.full(len(lots), np.datetime64("NaT"), "datetime64[D]"),
        long_term=_days(lots["long_term_date"]) if "long_term_date" in lots.columns else np.full(len(lots), np.datetime64("NaT"), "datetime64[D]"),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lot_cols["cps"] = np.where(np.isfinite(lot_cols["cps"]), lot_cols["cps"], lot_cols["basis"] / lot_cols["quantity"])
    lot_slices = _Slices(lot_cols["hh"])

    tgt = frames["fct_household_targets"]
    tgt_cols = dict(hh=_keys(tgt, "household_id"), security=_keys(tgt, "security_id"), weight=_numbers(tgt, "target_weight"))
    tgt_slices = _Slices(tgt_cols["hh"])

    win = frames["fct_wash_sale_windows"]
    win_cols = dict(
        hh=_keys(win, "household_id"), group=_keys(win, "identical_group"), kind=_keys(win, "window_type"),
        end=_days(win["window_end"]) if "window_end" in win.columns else np.zeros(0, "datetime64[D]"),
        start=_days(win["window_start"]) if "window_start" in win.columns else np.full(len(win), np.datetime64("NaT"), "datetime64[D]"),
        exempt=_keys(win, "exempt_lot_id"),
    )
    win_slices = _Slices(win_cols["hh"])

    req = frames["fct_requests"]
    req_cols = dict(
        hh=_keys(req, "household_id"), id=_keys(req, "request_id"), account=_keys(req, "account_id"),
        kind=_keys(req, "request_type"), amount=_numbers(req, "amount"),
        choice=_keys(req, "account_choice"), eligible=_keys(req, "eligible_accounts"),
        hold_until=_days(req["hold_until"]) if "hold_until" in req.columns else np.full(len(req), np.datetime64("NaT"), "datetime64[D]"),
        requested_on=_days(req["requested_on"]) if "requested_on" in req.columns else np.full(len(req), as_of64, "datetime64[D]"),
    )
    req_slices = _Slices(req_cols["hh"])

    def take(cols, rows):
        return {k: v[rows] for k, v in cols.items()}

    problems = []
    for household_id in ready:
        try:
            problem, events = _household_problem(
                household_id, as_of64, as_of, hh_rates, sec_info,
                take(acc_cols, acc_slices.rows(household_id)), cash_by_account, restrictions, trading,
                take(lot_cols, lot_slices.rows(household_id)), take(tgt_cols, tgt_slices.rows(household_id)),
                take(win_cols, win_slices.rows(household_id)), take(req_cols, req_slices.rows(household_id)),
            )
            problem = replace(problem, ordinary_rate=hh_ordinary.get(household_id),
                              overrides=hh_overrides.get(household_id, ()))
            problem = _apply_policies(problem, events, settings.with_overrides(problem.overrides))
            if risk_model is not None:
                risk = risk_model.household_risk(problem.security_ids, problem.bucket)
                notes = problem.notes
                if risk.unmodelled:
                    notes += (
                        f"risk model: no price history for {len(risk.unmodelled)} securities "
                        f"({', '.join(risk.unmodelled[:3])}...), prior exposures used",
                    )
                problem = replace(problem, risk=risk, notes=notes)
        except Exception as exc:  # noqa: BLE001 - one household's bad data must not stop the rest
            problem = HouseholdProblem(household_id, as_of, error=f"{type(exc).__name__}: {exc}")
        problems.append(problem)
    return problems


def _household_problem(
    household_id, as_of64, as_of, hh_rates, sec_info, acc, cash_by_account, restrictions, trading, lots, tgt, win, req,
) -> HouseholdProblem:
    if household_id not in hh_rates:
        raise KeyError(f"household {household_id} not in dim_households")
    st_rate, lt_rate, budget, st_ytd, lt_ytd = hh_rates[household_id]
    notes: list[str] = []

    # accounts and requests ----------------------------------------------------------------------
    order = np.argsort(acc["id"].astype(str), kind="stable")
    account_ids = [str(a) for a in acc["id"][order]]
    account_index = {a: i for i, a in enumerate(account_ids)}
    taxable = dict(zip(account_ids, acc["taxable"][order]))
    locked = dict(zip(account_ids, acc["locked"][order]))
    withdrawal = dict.fromkeys(account_ids, 0.0)
    transition_budget: float | None = None
    gift = dict.fromkeys(account_ids, 0.0)
    events: list[tuple] = []  # policy edits applied once the problem is built (_apply_policies)
    held_since: list[tuple[np.datetime64, np.datetime64]] = []  # (requested_on, hold_until) of earlier harvests
    for request_id, account_id, kind, amount, choice, eligible, hold_until, requested_on in sorted(
        zip(req["id"], req["account"], req["kind"], req["amount"], req["choice"], req["eligible"],
            req["hold_until"], req["requested_on"]),
        key=lambda r: str(r[0]),
    ):
        named = [a.strip() for a in (eligible or "").replace(",", ";").split(";") if a.strip()]
        if kind == "tax_loss_harvest":
            if np.isnat(hold_until) or hold_until < as_of64:
                if np.isnat(hold_until):
                    notes.append(f"request {request_id} ignored: a tax_loss_harvest needs hold_until")
                continue
            if not np.isnat(requested_on) and requested_on < as_of64:
                held_since.append((requested_on, hold_until))  # harvested earlier: the hold goes on
                continue
            if account_id is not None and account_id not in account_index:
                notes.append(f"request {request_id} ignored: account {account_id} not in household")
            elif math.isfinite(amount) and amount > 0:
                events.append(("tax_loss_harvest", request_id, float(amount), account_id,
                               pd.Timestamp(hold_until).date()))
            continue
        if not np.isnat(requested_on) and requested_on < as_of64:
            continue  # only harvest holds outlive their day
        if kind == "cash_withdrawal" and (choice == "household" or account_id is None):
            unknown = [a for a in named if a not in account_index]
            if unknown:
                notes.append(f"request {request_id}: eligible accounts {', '.join(unknown)} not in household")
            if math.isfinite(amount) and amount > 0:
                events.append(("household_withdrawal", request_id, float(amount),
                               [a for a in named if a in account_index] or None, account_id))
            continue
        if account_id not in account_index:
            notes.append(f"request {request_id} ignored: account {account_id} not in household")
        elif kind == "cash_withdrawal":
            withdrawal[account_id] += amount
        elif kind == "charitable_gift":
            if locked.get(account_id):
                notes.append(f"request {request_id} ignored: account {account_id} is locked")
            elif taxable[account_id]:
                gift[account_id] += amount
            else:
                notes.append(f"request {request_id} ignored: gifts come from taxable accounts only")
        elif kind == "transition":
            # onboarding a legacy portfolio: today's tax budget is the request's amount (dollars of
            # net tax), the tighter of it and the household's remaining annual budget
            if math.isfinite(amount) and amount >= 0:
                transition_budget = amount if transition_budget is None else min(transition_budget, amount)
                notes.append(f"transition {request_id}: tax budget {amount:.2f} today")
            else:
                notes.append(f"request {request_id} ignored: a transition needs a tax budget amount >= 0")
        else:
            notes.append(f"request {request_id} ignored: unknown type {kind}")
    if transition_budget is not None:
        budget = transition_budget if math.isnan(budget) else min(budget, transition_budget)
    accounts = tuple(
        AccountData(
            account_id=a,
            taxable=bool(acc["taxable"][i]),
            fractional_allowed=bool(acc["fractional"][i]),
            cash=cash_by_account.get(a, 0.0),
            withdrawal=withdrawal[a],
            gift_amount=gift[a],
            restricted=frozenset(restrictions.get(a, ())) | frozenset(trading.get((a, NEVER_HOLD), ())),
            never_sell=frozenset(trading.get((a, NEVER_SELL), ())),
            never_hold=frozenset(trading.get((a, NEVER_HOLD), ())),
            cash_minimum=float(acc["cash_minimum"][i]),
            locked=bool(acc["locked"][i]),
            preferred_asset_classes=frozenset(
                c.strip() for c in (acc["preferred"][i] or "").replace(",", ";").split(";") if c.strip()
            ),
            registration=acc["registration"][i] or "",
        )
        for a, i in zip(account_ids, order)
    )

    # targets --------------------------------------------------------------------------------------
    target_parts: dict[str, list[float]] = {}
    for s, w in zip(tgt["security"], tgt["weight"]):
        target_parts.setdefault(s, []).append(w)
    target = {s: math.fsum(parts) for s, parts in target_parts.items()}
    if not target:
        raise ValueError("no target model")
    cash_target = target.pop(CASH, None)
    if cash_target is None:
        cash_target = max(0.0, 1.0 - math.fsum(target.values()))
    total = math.fsum(target.values()) + cash_target
    if not abs(total - 1.0) <= 1e-3:  # also catches NaN
        raise ValueError(f"target weights sum to {total:.6f}, not 1")

    # lots, sorted by (account, security, lot) -----------------------------------------------------
    keep = np.array([a in account_index for a in lots["account"]], dtype=bool)
    lots = {k: v[keep] for k, v in lots.items()}
    lot_order = np.lexsort((lots["lot"].astype(str), lots["security"].astype(str), lots["account"].astype(str)))
    lots = {k: v[lot_order] for k, v in lots.items()}
    security_ids = tuple(sorted(set(target) | set(lots["security"].tolist())))
    security_index = {s: i for i, s in enumerate(security_ids)}

    price = np.full(len(security_ids), np.nan)
    bucket, group, asset_class = [], [], []
    for i, s in enumerate(security_ids):
        info = sec_info.get(s)
        if info is None:  # held but not in dim_securities: the lots' price, its own group
            bucket.append(UNCLASSIFIED_BUCKET)
            group.append(s)
            asset_class.append(UNCLASSIFIED_BUCKET)
        else:
            price[i] = info[0]
            bucket.append(info[1])
            group.append(info[2])
            asset_class.append(info[3])
    lot_security = np.array([security_index[s] for s in lots["security"]], dtype=np.int64)
    for i in np.unique(lot_security):
        if security_ids[i] not in sec_info:
            price[i] = lots["price"][lot_security == i][0]

    days_to_lt = (lots["long_term"] - as_of64).astype("timedelta64[D]").astype(np.int64)
    days_to_lt = np.where(np.isnat(lots["long_term"]), 0, days_to_lt)

    # wash-sale windows (household-wide, IRAs included) ------------------------------------------
    no_buy: set[str] = set()
    loss_sale_exempt: dict[str, list[str | None]] = {}
    for kind, g, start, end, exempt in zip(win["kind"], win["group"], win["start"], win["end"], win["exempt"]):
        # a tax_loss_harvest hold: the groups sold at a loss since the request stay closed to
        # buying until hold_until, past their 30-day window
        if kind == "no_buy" and not np.isnat(start) and any(start >= since and as_of64 <= until for since, until in held_since):
            no_buy.add(g)
            continue
        if np.isnat(end) or end < as_of64:
            continue
        if kind == "no_buy":
            no_buy.add(g)
        elif kind == "no_loss_sale":
            loss_sale_exempt.setdefault(g, []).append(exempt)
    if loss_sale_exempt:
        no_loss_sale = np.array(
            [any(ex != lot for ex in loss_sale_exempt.get(group[s], ())) for s, lot in zip(lot_security, lots["lot"])],
            dtype=bool,
        )
    else:
        no_loss_sale = np.zeros(len(lot_security), dtype=bool)

    lot_table = LotTable(
        lot_id=tuple(str(x) for x in lots["lot"]),
        account=_frozen(np.array([account_index[a] for a in lots["account"]], dtype=np.int64)),
        security=_frozen(lot_security),
        quantity=_frozen(lots["quantity"].astype(float)),
        cost_per_share=_frozen(lots["cps"].astype(float)),
        acquired_date=_frozen(lots["acquired"]),
        long_term_date=_frozen(lots["long_term"]),
        is_long_term=_frozen(days_to_lt <= 0),
        days_to_long_term=_frozen(days_to_lt),
        no_loss_sale=_frozen(no_loss_sale),
    )
    problem = HouseholdProblem(
        household_id=household_id,
        as_of=as_of,
        st_rate=float(st_rate),
        lt_rate=float(lt_rate),
        tax_budget_remaining=None if math.isnan(budget) else float(budget),
        accounts=accounts,
        security_ids=security_ids,
        price=_frozen(price),
        bucket=tuple(bucket),
        identical_group=tuple(group),
        target_weight=_frozen(np.array([target.get(s, 0.0) for s in security_ids], dtype=float)),
        cash_target_weight=float(cash_target),
        no_buy_groups=frozenset(no_buy),
        lots=lot_table,
        notes=tuple(notes),
        realized_st_gain_ytd=0.0 if math.isnan(st_ytd) else float(st_ytd),
        realized_lt_gain_ytd=0.0 if math.isnan(lt_ytd) else float(lt_ytd),
        asset_class=tuple(asset_class),
    )
    if held_since:
        problem = replace(problem, notes=problem.notes + (
            "tax_loss_harvest hold until " + ", ".join(sorted({str(u) for _, u in held_since})),))
    return problem, events


def _apply_policies(problem: HouseholdProblem, events: list[tuple], settings: OptimizerSettings) -> HouseholdProblem:
    """The requests and settings that edit the problem's inputs (optimization/policies.py), in
    order: forced harvests (their lots must be sold), the year-round harvest threshold (closes
    small losses, never a forced lot), household-level withdrawals (split over the accounts)."""
    from optimization import policies  # policies imports this module

    notes: list[str] = []
    for event in events:
        if event[0] == "tax_loss_harvest":
            _, request_id, amount, account_id, hold_until = event
            problem, _, more = policies.with_forced_harvest(
                problem, amount, hold_until, settings.fractional_quantum, account_id, label=f"tax_loss_harvest {request_id}")
            notes += more
    if settings.harvest_threshold_start is not None:
        threshold = policies.harvest_threshold(problem.as_of, settings.harvest_threshold_start,
                                               settings.harvest_threshold_end, settings.harvest_threshold_end_date)
        problem = policies.close_small_losses(problem, threshold, settings.harvest_threshold_band)
        notes.append(f"harvest threshold {threshold:.4f} of basis")
    for event in events:
        if event[0] == "household_withdrawal":
            _, request_id, amount, eligible, _named = event
            problem, _, more = policies.with_household_withdrawal(
                problem, amount, eligible, problem.ordinary_rate, label=f"cash_withdrawal {request_id}")
            notes += more
    return replace(problem, notes=problem.notes + tuple(notes)) if notes else problem
