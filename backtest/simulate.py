"""The day loop: one simulated taxable account, its lots kept by the tax-lot engine, its trades
decided by a policy (the production household optimizer, buy-and-hold, an ETF pair swap, ad-hoc
rebalancing).

Deterministic: no clock, no unseeded randomness, lots and securities sorted by id.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.book import LotBook
from backtest.prices import PriceHistory
from optimization import OptimizerSettings, estimate_risk_model, optimize_household
from optimization.data import AccountData, HouseholdProblem, LotTable
from taxlots import Security

ACCOUNT = "TAXABLE"
WASH_WINDOW_DAYS = 30
# substitutes above target on (the optimizer's default is off): a harvested name is replaced the same day
BACKTEST_SETTINGS = OptimizerSettings(max_branch_nodes=20, substitute_room=0.01)


@dataclass(frozen=True)
class AccountConfig:
    """What is simulated: money, taxes, costs and the wash-sale rule (policy-independent)."""

    initial_cash: float = 1_000_000.0
    st_rate: float = 0.35
    lt_rate: float = 0.15
    trading_cost_bps: float = 5.0  # per side, charged in the trade amounts (buy cost, sale proceeds)
    wash_sale_rule: bool = True
    monthly_flow: float = 0.0  # > 0 contribution, < 0 withdrawal, first trading day of each month
    cash_target: float = 0.005
    legacy_lots: tuple[tuple[str, float, float, dt.date], ...] = ()  # (ticker, shares, cost per share, acquired)


@dataclass
class DayContext:
    t: int
    day: dt.date
    price: np.ndarray  # today's close, NaN where not traded (ffilled values are in `value_price`)
    tradeable: np.ndarray  # bool
    members: np.ndarray  # bool mask: index members today
    cash: float
    flow: float  # today's contribution (> 0) or withdrawal (< 0)
    first_day: bool
    members_changed: bool


@dataclass
class Trade:
    side: str  # 'sell' | 'buy'
    ticker: str
    quantity: float
    lot_id: str = ""  # sells: the engine lot relieved ('' = FIFO)
    reason: str = "rebalance"


@dataclass
class RunResult:
    name: str
    daily: pd.DataFrame  # one row per day
    realized: pd.DataFrame  # one row per realized lot (engine)
    trades: pd.DataFrame
    solves: int = 0
    solver_failures: int = 0  # days the optimizer did not end optimal (the account then holds)
    solve_seconds: float = 0.0
    wall_seconds: float = 0.0
    validated_lots: int = -1  # realized lots checked against a fresh taxlots.replay (-1: not checked)


class Account:
    """State of the simulated account: the engine's lot book, cash and wash-sale bookkeeping."""

    def __init__(self, prices: PriceHistory, config: AccountConfig, groups: dict[str, str] | None = None):
        self.prices = prices
        self.config = config
        self.index = {t: i for i, t in enumerate(prices.tickers)}
        groups = groups or {}
        securities = {t: Security(t, groups.get(t, t), "equity") for t in prices.tickers}
        self.group = [groups.get(t, t) for t in prices.tickers]
        self.book = LotBook([ACCOUNT], securities, wash_sale_rule=config.wash_sale_rule)
        self.cash = float(config.initial_cash)
        self.last_loss_sale: dict[str, dt.date] = {}  # identical group -> last loss-sale date
        self.purchases: dict[str, list[tuple[dt.date, str]]] = {}  # group -> [(date, root lot id)]
        self.trade_rows: list[tuple] = []
        self._lots_cache = None
        self._ytd_key = None
        self._ytd = (0.0, 0.0)
        self._year_start: dict[int, int] = {}

    @property
    def tc(self) -> float:
        return self.config.trading_cost_bps / 1e4

    def lots(self) -> dict[str, np.ndarray]:
        if self._lots_cache is None:
            self._lots_cache = self.book.lot_arrays(self.index)
        return self._lots_cache

    def holdings(self) -> np.ndarray:
        lots = self.lots()
        return np.bincount(lots["security"], weights=lots["quantity"], minlength=len(self.index)).astype(float)

    # -- wash-sale windows (the marts' convention, docs/tax-conventions.md) ------------------------
    def no_buy_groups(self, day: dt.date) -> frozenset[str]:
        if not self.config.wash_sale_rule:
            return frozenset()
        return frozenset(g for g, d in self.last_loss_sale.items() if (day - d).days <= WASH_WINDOW_DAYS)

    def no_loss_sale(self, day: dt.date, lots: dict[str, np.ndarray]) -> np.ndarray:
        """A lot may not be sold at a loss while another purchase of its group is inside the window."""
        out = np.zeros(len(lots["lot_id"]), dtype=bool)
        if not self.config.wash_sale_rule:
            return out
        recent = {}
        for g, buys in self.purchases.items():
            live = [(d, lot) for d, lot in buys if (day - d).days <= WASH_WINDOW_DAYS]
            self.purchases[g] = live
            if live:
                recent[g] = {lot for _, lot in live}
        if not recent:
            return out
        for i, (s, lot_id) in enumerate(zip(lots["security"], lots["lot_id"])):
            roots = recent.get(self.group[s])
            if roots and (roots - {lot_id.split(".")[0]}):
                out[i] = True
        return out

    # -- trades through the engine ----------------------------------------------------------------
    def execute(self, day: dt.date, trades: list[Trade], price: np.ndarray) -> list:
        tc = self.tc
        txns = []
        # pieces of a lot (ids with a '.') before their parent: a spec sale of the parent id
        # matches the parent and its open pieces (parent first), so selling a piece after its
        # parent could find it already taken
        trades = sorted(trades, key=lambda tr: (tr.side != "sell", "." not in tr.lot_id))
        for tr in trades:
            p = float(price[self.index[tr.ticker]])
            q = round(tr.quantity, 4)
            if q <= 0:
                continue
            if tr.side == "sell":
                txns.append(self.book.sell(day, ACCOUNT, tr.ticker, q, q * p * (1 - tc), tr.lot_id))
                self.cash += q * p * (1 - tc)
            else:
                t = self.book.buy(day, ACCOUNT, tr.ticker, q, q * p * (1 + tc))
                txns.append(t)
                self.cash -= q * p * (1 + tc)
                self.purchases.setdefault(self.group[self.index[tr.ticker]], []).append((day, t.lot_id))
            self.trade_rows.append((day, tr.side, tr.ticker, q, p, tr.lot_id, tr.reason))
        realized = self.book.apply_day(txns)
        for r in realized:
            if r.gain < 0:
                self.last_loss_sale[self.group[self.index[r.security_id]]] = day
        self._lots_cache = None
        return realized

    # -- tax ---------------------------------------------------------------------------------------
    def realized_ytd(self, year: int) -> tuple[float, float]:
        """This year's reportable ST and LT gains. A later purchase can still disallow an earlier
        loss (it becomes its replacement), so this is recomputed whenever a trade happened; the
        sales of earlier years are skipped (the realized list is in sale order)."""
        key = (year, len(self.book.transactions))
        if self._ytd_key == key:
            return self._ytd
        realized = self.book.realized
        start = self._year_start.get(year)
        if start is None:
            start = next((i for i, r in enumerate(realized) if r.sale_date.year >= year), len(realized))
            self._year_start = {year: start}
        st = lt = 0
        for r in realized[start:]:
            if r.term == "short":
                st += r.reportable_gain
            else:
                lt += r.reportable_gain
        self._ytd_key, self._ytd = key, (float(st), float(lt))
        return self._ytd


# ------------------------------------------------------------------------------------------------
# policies


class Policy:
    name = "policy"

    def trades(self, account: Account, ctx: DayContext) -> list[Trade]:
        raise NotImplementedError


def equal_weight_target(members: np.ndarray, cash_target: float) -> np.ndarray:
    """The model: equal weights over today's index members (no market caps in the data)."""
    w = np.zeros(len(members))
    n = int(members.sum())
    if n:
        w[members] = (1.0 - cash_target) / n
    return w


def selling_cost_basis(lots, tc: float) -> np.ndarray:
    """Cost per share as the optimizer must see it: the price at which a sale breaks even after
    its trading cost, basis / (1 - tc). With the plain basis per share a lot sold a hair above
    cost is a 'gain' for the optimizer (no wash window applies) but a loss for the engine
    (proceeds are net of cost), and the engine then washes it against the same day's or the
    last 30 days' purchases, re-splitting lots the optimizer's plan names."""
    return lots["basis"] / lots["quantity"] / (1.0 - tc)


def optimizer_ytd(st: float, lt: float, offset: float) -> tuple[float, float]:
    """Work-around for optimization/model.py `unusable_loss_beyond_offset`: its lower bound
    -(YTD net) - offset is positive once this year's net loss passes the $3,000 offset, and with
    `unusable <= losses sold today` that FORCES a loss sale of at least that size every day (or
    makes the model infeasible when no loss lot is sellable). The right bound is
    -max(0, YTD net + offset) (nothing more can be absorbed). Passing a YTD net of no less than
    -offset gives exactly that bound; the field is used nowhere else."""
    total = st + lt
    if total >= -offset:
        return st, lt
    return st * (-offset / total), lt * (-offset / total)


def trades_from_rows(rows: list[tuple]) -> list[Trade]:
    """Optimizer trade rows (optimization.TRADE_COLUMNS order) -> Trades."""
    out = []
    for row in rows:
        _, _, security_id, side, quantity, _, _, lot_id, *_rest, reason = row
        if side == "sell":
            out.append(Trade("sell", security_id, float(quantity), str(lot_id), reason))
        elif side == "buy":
            out.append(Trade("buy", security_id, float(quantity), "", reason))
    return out


class OptimizerPolicy(Policy):
    """The production household optimizer (optimization.optimize_household), on schedule days.

    `schedule`: 'daily' (every day), 'weekly' (first trading day of the week), 'monthly' (first
    trading day of the month), 'year_end' (the
    first trading day on or after December 15), 'never' (buy and hold: only the first day and cash
    flows), or a set of day indices. On a schedule day the optimizer is only called when it could
    trade: a lot whose loss is worth more than the sale's trading cost (not blocked by a wash
    window), drift outside the bands, a cash flow, an index change or the first day; otherwise, with
    drift inside the bands and no loss worth harvesting, the optimizer's objective makes no trade
    pay (optimization/README.md "Drift bands"), so the solve is skipped.
    """

    def __init__(self, name: str, schedule="daily", settings: OptimizerSettings | None = None,
                 risk_model: bool = True, tax_budget_per_year: float | None = None, harvest: bool = True,
                 screen: str = "material"):
        self.name = name
        self.schedule = schedule
        # The production LP branch-and-bound, handing over to HiGHS's MIP after 20 nodes instead
        # of 500: on freshly bought 500-name portfolios (hundreds of near-tied wash-sale switches)
        # the tree hit 500 nodes and the 10 s limit, where HiGHS's MIP solved the same problem to
        # the same objective in 0.2 s; on ordinary days the tree is 20% faster than HiGHS alone.
        self.settings = settings or BACKTEST_SETTINGS
        self.use_risk_model = risk_model
        self.tax_budget_per_year = tax_budget_per_year
        self.harvest = harvest
        if screen not in ("exact", "material"):
            raise ValueError("screen must be 'exact' or 'material'")
        self.screen = screen
        self.risk_month = None
        self.risk = None
        self.solves = 0
        self.solve_seconds = 0.0
        self.triggers: dict[str, int] = {}  # why the optimizer was (or was not: 'none') called
        self.failures = 0  # solves that did not end optimal (no trades that day)

    # schedule ------------------------------------------------------------------------------------
    def is_schedule_day(self, account: Account, ctx: DayContext) -> bool:
        if ctx.first_day or ctx.flow != 0.0:
            return True
        s = self.schedule
        if s == "daily":
            return True
        if s == "never":
            return False
        if s == "weekly":
            prev = account.prices.dates[ctx.t - 1].astype(object)
            return prev.isocalendar()[:2] != ctx.day.isocalendar()[:2]
        if s == "monthly":
            prev = account.prices.dates[ctx.t - 1].astype(object)
            return prev.month != ctx.day.month
        if s == "year_end":
            prev = account.prices.dates[ctx.t - 1].astype(object)
            mark = dt.date(ctx.day.year, 12, 15)
            return prev < mark <= ctx.day
        return ctx.t in s

    def _risk_model(self, account: Account, ctx: DayContext):
        """Re-estimated monthly from the trailing 252 trading days (no look-ahead)."""
        month = (ctx.day.year, ctx.day.month)
        if self.risk_month != month:
            prices = account.prices
            lo = max(0, ctx.t - 252)
            close = prices.close[lo:ctx.t + 1]
            cols = np.flatnonzero(np.isfinite(close).sum(axis=0) >= 61)
            if len(cols) >= 3 and ctx.t - lo >= 61:
                frame = pd.DataFrame(close[:, cols], index=prices.dates[lo:ctx.t + 1],
                                     columns=[prices.tickers[c] for c in cols])
                long = frame.stack().rename("close").reset_index()
                long.columns = ["price_date", "security_id", "close"]
                sectors = {prices.tickers[c]: prices.sector[c] for c in cols}
                self.risk = estimate_risk_model(long, sectors)
            else:
                self.risk = None
            self.risk_month = month
        return self.risk

    # screen --------------------------------------------------------------------------------------
    def could_trade(self, account: Account, ctx: DayContext, target: np.ndarray, lots, blocked) -> bool:
        reason = self._trigger(account, ctx, target, lots, blocked)
        self.triggers[reason] = self.triggers.get(reason, 0) + 1
        return reason != "none"

    def _trigger(self, account: Account, ctx: DayContext, target: np.ndarray, lots, blocked) -> str:
        if ctx.first_day or ctx.flow != 0.0:
            return "first day or cash flow"
        if ctx.members_changed:
            return "index change"
        cfg, st = account.config, self.settings
        price = np.where(ctx.tradeable, ctx.price, np.nan)
        values = account.holdings() * np.nan_to_num(price)
        total = values.sum() + ctx.cash
        if total <= 0:
            return "none"
        weights = values / total
        if len(lots["lot_id"]) and self.harvest:
            # Inside the bands a sale pays its trading cost, and unless the security is overweight
            # (selling down to target is free there) at least the first drift tier on the
            # underweight it creates: a loss worth less than that is never harvested.
            # screen 'exact' honours the overweight exception (a solve nearly every day on 500
            # names); 'material' (default) asks every lot to clear trading cost + the first drift
            # tier, so sell-downs of overweight loss lots worth less wait for the next solve day.
            p = price[lots["security"]]
            cps = selling_cost_basis(lots, account.tc)
            rate = np.where(lots["long_term"] <= np.datetime64(ctx.day, "D"), cfg.lt_rate, cfg.st_rate)
            if self.screen == "exact":
                overweight = (weights > target)[lots["security"]]
                hurdle = account.tc + np.where(overweight, 0.0, st.drift_penalty)
            else:
                hurdle = np.full(len(p), account.tc + st.drift_penalty)
            worth = (cps - p) * rate > hurdle * p
            if np.any(worth & ~blocked & np.isfinite(p)):
                return "harvest candidate"
        dev = np.abs(weights - target)
        cash_dev = abs(ctx.cash / total - cfg.cash_target)
        band = np.maximum(st.drift_band_absolute, st.drift_band_relative * target)
        drift = 0.5 * (dev.sum() + cash_dev)
        outside = bool(np.any(dev > band) or cash_dev > max(st.drift_band_absolute, st.drift_band_relative * cfg.cash_target)
                       or drift > st.drift_band_total)
        return "drift outside bands" if outside else "none"

    # problem -------------------------------------------------------------------------------------
    def problem(self, account: Account, ctx: DayContext, target: np.ndarray, lots, blocked) -> HouseholdProblem:
        cfg, prices = account.config, account.prices
        held = np.zeros(len(prices.tickers), dtype=bool)
        held[lots["security"]] = True
        universe = np.flatnonzero((held | (target > 0)) & ctx.tradeable)  # tickers sorted == ids sorted
        order = np.argsort([prices.tickers[i] for i in universe], kind="stable")
        universe = universe[order]
        pos = {int(g): j for j, g in enumerate(universe)}
        keep = np.array([int(s) in pos for s in lots["security"]], dtype=bool)
        sec = np.array([pos[int(s)] for s in lots["security"][keep]], dtype=np.int64)
        as_of64 = np.datetime64(ctx.day, "D")
        long_term = lots["long_term"][keep]
        days_to_lt = (long_term - as_of64).astype(np.int64)
        days_to_lt = np.where(lots["always_long"][keep], -1, days_to_lt)
        lot_table = LotTable(
            lot_id=tuple(lots["lot_id"][keep]), account=np.zeros(len(sec), dtype=np.int64), security=sec,
            quantity=lots["quantity"][keep], cost_per_share=selling_cost_basis(lots, account.tc)[keep],
            acquired_date=lots["acquired"][keep], long_term_date=np.where(lots["always_long"][keep], as_of64, long_term),
            is_long_term=days_to_lt <= 0, days_to_long_term=days_to_lt, no_loss_sale=blocked[keep],
        )
        budget = None
        if self.tax_budget_per_year is not None:
            st, lt = account.realized_ytd(ctx.day.year)
            budget = max(0.0, self.tax_budget_per_year - max(0.0, st * cfg.st_rate + lt * cfg.lt_rate))
        st_ytd, lt_ytd = optimizer_ytd(*account.realized_ytd(ctx.day.year), self.settings.ordinary_loss_offset)
        tw = target[universe]
        security_ids = tuple(prices.tickers[i] for i in universe)
        bucket = tuple(prices.sector[i] for i in universe)
        risk = None
        if self.use_risk_model:
            model = self._risk_model(account, ctx)
            if model is not None:
                risk = model.household_risk(security_ids, bucket)
        withdrawal = -ctx.flow if ctx.flow < 0 else 0.0
        return HouseholdProblem(
            household_id="BT", as_of=ctx.day, st_rate=cfg.st_rate if self.harvest else 0.0,
            lt_rate=cfg.lt_rate if self.harvest else 0.0, tax_budget_remaining=budget,
            accounts=(AccountData(ACCOUNT, True, True, max(0.0, ctx.cash), withdrawal=withdrawal),),
            security_ids=security_ids, price=ctx.price[universe].astype(float), bucket=bucket,
            identical_group=tuple(account.group[i] for i in universe), target_weight=tw,
            cash_target_weight=1.0 - float(tw.sum()), no_buy_groups=account.no_buy_groups(ctx.day), lots=lot_table,
            realized_st_gain_ytd=st_ytd, realized_lt_gain_ytd=lt_ytd, risk=risk,
        )

    def trades(self, account: Account, ctx: DayContext) -> list[Trade]:
        if not self.is_schedule_day(account, ctx):
            return []
        target = equal_weight_target(ctx.members, account.config.cash_target)
        lots = account.lots()
        blocked = account.no_loss_sale(ctx.day, lots)
        if not self.could_trade(account, ctx, target, lots, blocked):
            return []
        problem = self.problem(account, ctx, target, lots, blocked)
        t0 = time.perf_counter()
        rows, outcome = optimize_household(problem, self.settings)
        self.solve_seconds += time.perf_counter() - t0
        self.solves += 1
        if outcome["status"] != "optimal":
            self.failures += 1
            print(f"[backtest] {ctx.day}: optimizer {outcome['status']}: {outcome['message']}", file=sys.stderr)
        return trades_from_rows(rows)


class EtfPairSwapPolicy(Policy):
    """Hold one ETF; when its loss lots are worth harvesting, sell them and buy the partner ETF
    (another identical group), unless the partner is inside its own no-buy window. Harvest test per
    lot: rate x loss > round-trip trading cost + `hurdle` x lot value (default hurdle 0: every loss
    worth more than its trading cost, the most an ETF swap can harvest)."""

    def __init__(self, name: str, etf_a: str, etf_b: str, hurdle: float = 0.0):
        self.name, self.pair, self.hurdle = name, (etf_a, etf_b), hurdle

    def trades(self, account: Account, ctx: DayContext) -> list[Trade]:
        cfg, idx = account.config, account.index
        price = ctx.price
        if ctx.first_day or ctx.flow > 0:
            buy_into = self.pair[0] if ctx.first_day else self._held_or_first(account)
            spend = (ctx.cash - cfg.cash_target * self._value(account, ctx)) / (1 + account.tc)
            return [Trade("buy", buy_into, spend / price[idx[buy_into]])] if spend > 0 else []
        lots = account.lots()
        blocked = account.no_loss_sale(ctx.day, lots)
        no_buy = account.no_buy_groups(ctx.day)
        out: list[Trade] = []
        for k, etf in enumerate(self.pair):
            partner = self.pair[1 - k]
            if account.group[idx[partner]] in no_buy:
                continue
            p = price[idx[etf]]
            sel = (lots["security"] == idx[etf]) & ~blocked
            loss = lots["basis"] - lots["quantity"] * p
            rate = np.where(lots["long_term"] <= np.datetime64(ctx.day, "D"), cfg.lt_rate, cfg.st_rate)
            worth = sel & (loss * rate > (2 * account.tc + self.hurdle) * lots["quantity"] * p)
            if not worth.any():
                continue
            proceeds = 0.0
            for i in np.flatnonzero(worth):
                out.append(Trade("sell", etf, float(lots["quantity"][i]), str(lots["lot_id"][i]), "tax_loss_harvest"))
                proceeds += lots["quantity"][i] * p * (1 - account.tc)
            out.append(Trade("buy", partner, proceeds / (1 + account.tc) / price[idx[partner]], "", "wash_sale_substitute"))
            break
        if ctx.flow < 0:  # withdrawal: sell FIFO from the larger holding
            held = account.holdings()
            etf = max(self.pair, key=lambda e: held[idx[e]])
            out.append(Trade("sell", etf, min(held[idx[etf]], -ctx.flow / price[idx[etf]] / (1 - account.tc)), "", "cash_withdrawal"))
        return out

    def _held_or_first(self, account: Account) -> str:
        held = account.holdings()
        return max(self.pair, key=lambda e: (held[account.index[e]], e == self.pair[0]))

    @staticmethod
    def _value(account: Account, ctx: DayContext) -> float:
        return float(np.nansum(account.holdings() * ctx.price)) + ctx.cash


class AdHocPolicy(Policy):
    """Ad-hoc rebalancing: on given days, trade a fraction of each holding's gap to target (no
    optimizer, no tax awareness: sales relieve FIFO)."""

    def __init__(self, name: str, days: dict[int, float]):
        self.name, self.days = name, days  # day index -> fraction of the drift corrected

    def trades(self, account: Account, ctx: DayContext) -> list[Trade]:
        cfg = account.config
        target = equal_weight_target(ctx.members, cfg.cash_target)
        if not ctx.first_day and ctx.t not in self.days:
            return []
        fraction = 1.0 if ctx.first_day else self.days[ctx.t]
        price = np.where(ctx.tradeable, ctx.price, np.nan)
        held = account.holdings()
        values = held * np.nan_to_num(price)
        total = values.sum() + ctx.cash
        gap = fraction * (target * total - values)
        out = []
        for i in np.flatnonzero(np.isfinite(price) & (np.abs(gap) > 25.0)):
            q = gap[i] / price[i]
            if q < 0:
                out.append(Trade("sell", account.prices.tickers[i], min(-q, held[i])))
            else:
                out.append(Trade("buy", account.prices.tickers[i], q / (1 + account.tc)))
        return out


# ------------------------------------------------------------------------------------------------
# the loop


def _unrealized(lots, price) -> float:
    if not len(lots["lot_id"]):
        return 0.0
    return float(np.nansum(lots["quantity"] * price[lots["security"]] - lots["basis"]))


def run_account(prices: PriceHistory, policy: Policy, config: AccountConfig = AccountConfig(), start=None, end=None,
                groups: dict[str, str] | None = None, validate: str = "full", progress: str | None = None) -> RunResult:
    """Replay `policy` over `prices` from `start` to `end` (trading days, inclusive).

    `validate`: 'full' replays the final trade log through taxlots.replay and checks the realized
    lots (wash-sale rule on only), 'fast' through a fresh fast_book, 'none' skips it."""
    wall0 = time.perf_counter()
    t0 = 0 if start is None else prices.day_index(start)
    t1 = len(prices.dates) - 1 if end is None else int(np.searchsorted(prices.dates, np.datetime64(end, "D"), side="right")) - 1
    account = Account(prices, config, groups)
    close = prices.close
    last_priced = prices.last_priced_day()
    value_price = pd.DataFrame(close).ffill().to_numpy()
    first = prices.dates[t0].astype(object)
    if config.legacy_lots:
        legacy = [account.book.buy(acq, ACCOUNT, tk, q, q * cps) for tk, q, cps, acq in config.legacy_lots]
        account.book.apply_day(legacy)
        account._lots_cache = None
    rows = []
    prev_members = None
    last_report = time.perf_counter()
    for t in range(t0, t1 + 1):
        day = prices.dates[t].astype(object)
        price = close[t]
        tradeable = np.isfinite(price)
        members = prices.members(t)
        # delisted holdings: sold at their last price on their last day (or on the first day, for
        # a legacy holding whose prices ended before the run starts)
        held = account.holdings()
        gone = np.flatnonzero((held > 0) & (last_priced <= t) & (last_priced >= 0) & (t < len(prices.dates) - 1))
        if len(gone):
            lots = account.lots()
            gone_set = set(gone.tolist())
            forced = [Trade("sell", prices.tickers[s], float(q), str(l), "delisted")
                      for s, q, l in zip(lots["security"], lots["quantity"], lots["lot_id"]) if s in gone_set]
            account.execute(day, forced, value_price[t])
            tradeable = tradeable.copy()
            tradeable[gone] = False
            members = members & tradeable
        flow = 0.0
        if config.monthly_flow and t > t0 and prices.dates[t - 1].astype(object).month != day.month:
            flow = config.monthly_flow
            if flow > 0:
                account.cash += flow
        ctx = DayContext(t, day, np.where(tradeable, price, np.nan), tradeable, members, account.cash, flow,
                         t == t0, prev_members is not None and not np.array_equal(prev_members, members))
        trades = policy.trades(account, ctx)
        realized = account.execute(day, trades, price) if trades else []
        if flow < 0:
            account.cash += flow
        prev_members = members
        held = account.holdings()
        holding_values = np.nan_to_num(held * value_price[t])
        value = float(holding_values.sum()) + account.cash
        target = equal_weight_target(members, config.cash_target)
        drift = 0.5 * (np.abs(holding_values / value - target).sum() + abs(account.cash / value - config.cash_target))
        rows.append(dict(
            date=day, value=value, cash=account.cash, flow=flow, trades=len(trades), drift=float(drift),
            realized_gain=float(sum(r.reportable_gain for r in realized)),
            harvested_loss=float(-sum(r.gain + r.disallowed_loss for r in realized if r.gain + r.disallowed_loss < 0)),
            disallowed_loss=float(sum(r.disallowed_loss for r in realized)),
            lots=len(account.lots()["lot_id"]),
            unrealized_gain=_unrealized(account.lots(), value_price[t]),
        ))
        if progress and time.perf_counter() - last_report > 10:
            last_report = time.perf_counter()
            print(f"[backtest] {progress}: {day} ({t - t0 + 1}/{t1 - t0 + 1} days, value {value:,.0f})",
                  file=sys.stderr, flush=True)
    validated = -1
    if validate != "none" and config.wash_sale_rule:
        validated = account.book.validate_against_replay(full=validate == "full")
    realized = pd.DataFrame([dict(
        sale_date=r.sale_date, security_id=r.security_id, lot_id=r.lot_id, quantity=float(r.quantity),
        proceeds=float(r.proceeds), basis=float(r.basis), gain=float(r.gain), term=r.term,
        disallowed_loss=float(r.disallowed_loss), reportable_gain=float(r.reportable_gain),
    ) for r in account.book.realized], columns=["sale_date", "security_id", "lot_id", "quantity", "proceeds", "basis",
                                               "gain", "term", "disallowed_loss", "reportable_gain"])
    trades = pd.DataFrame(account.trade_rows, columns=["date", "side", "security_id", "quantity", "price", "lot_id", "reason"])
    return RunResult(
        name=policy.name, daily=pd.DataFrame(rows), realized=realized, trades=trades,
        solves=getattr(policy, "solves", 0), solver_failures=getattr(policy, "failures", 0), solve_seconds=getattr(policy, "solve_seconds", 0.0),
        wall_seconds=time.perf_counter() - wall0, validated_lots=validated,
    )
