"""The five experiments of issue 10, each a pure function of (prices, options) -> result table.

Every figure is measured on the simulated account (backtest.simulate), whose trades are decided by
the production optimizer and whose lots, wash sales and realized gains are the tax-lot engine's.
Tax is valued the way Chaudhuri, Burnham & Lo (2020) value it: flat rates (ST `st_rate`, LT
`lt_rate`) on each year's net short- and long-term result, losses assumed usable against gains
outside the portfolio; tax saved is not reinvested.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from backtest.prices import PriceHistory
from backtest.simulate import (
    AccountConfig,
    AdHocPolicy,
    EtfPairSwapPolicy,
    OptimizerPolicy,
    RunResult,
    Trade,
    run_account,
)

ETF_A, ETF_B = "ETF_A", "ETF_B"


@dataclass(frozen=True)
class Window:
    start: dt.date
    end: dt.date
    label: str = ""


def say(message: str) -> None:
    print(f"[backtest] {message}", file=sys.stderr, flush=True)


def add_months(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.month - 1 + months, 12)
    return dt.date(day.year + y, m + 1, min(day.day, 28))


def rolling_windows(prices: PriceHistory, start: dt.date | None, years: float, step_months: int,
                    limit: int | None = None) -> list[Window]:
    """Windows of `years` starting every `step_months` from `start` while they fit in the data."""
    first = prices.dates[0].astype(object)
    last = prices.dates[-1].astype(object)
    day = max(start or first, first)
    out = []
    while True:
        end = add_months(day, int(round(12 * years)))
        if end > last + dt.timedelta(days=3):
            break
        out.append(Window(day, min(end, last)))
        day = add_months(day, step_months)
        if limit and len(out) >= limit:
            break
    return out


# ------------------------------------------------------------------------------------------------
# metrics


def tax_by_year(realized: pd.DataFrame, st_rate: float, lt_rate: float) -> float:
    """Flat-rate tax of the realized lots, netting ST and LT within each year (negative: saved)."""
    if realized.empty:
        return 0.0
    years = pd.to_datetime(realized["sale_date"]).dt.year
    total = 0.0
    for _, part in realized.groupby(years):
        st = part.loc[part["term"] == "short", "reportable_gain"].sum()
        lt = part.loc[part["term"] == "long", "reportable_gain"].sum()
        total += st * st_rate + lt * lt_rate
    return float(total)


def run_summary(r: RunResult, config: AccountConfig) -> dict:
    d = r.daily
    v0 = float(config.initial_cash) if not config.legacy_lots else float(d["value"].iloc[0])
    days = (d["date"].iloc[-1] - d["date"].iloc[0]).days
    years = max(days / 365.25, 1e-9)
    flows = float(d["flow"].sum())
    return dict(
        years=years,
        start_value=v0,
        end_value=float(d["value"].iloc[-1]),
        pre_tax_return=(float(d["value"].iloc[-1]) - flows) / v0 - 1.0,
        harvested_loss=float(d["harvested_loss"].sum()),
        disallowed_loss=float(d["disallowed_loss"].sum()),
        net_realized=float(r.realized["reportable_gain"].sum()) if len(r.realized) else 0.0,
        tax=tax_by_year(r.realized, config.st_rate, config.lt_rate),
        trades=int(d["trades"].sum()),
        solves=r.solves,
        solver_failures=r.solver_failures,
        mean_drift=float(d["drift"].mean()),
    )


def index_return(prices: PriceHistory, window: Window) -> float:
    """Equal-weight index return over the window (the model's own benchmark)."""
    a, b = prices.day_index(window.start), int(np.searchsorted(prices.dates, np.datetime64(window.end, "D"), side="right")) - 1
    level = equal_weight_index(prices)
    return float(level[b] / level[a] - 1.0)


def equal_weight_index(prices: PriceHistory) -> np.ndarray:
    """Daily level of the equal-weighted index of members (rebalanced daily)."""
    close = prices.close
    level = np.ones(len(prices.dates))
    for t in range(1, len(prices.dates)):
        m = prices.members(t - 1) & np.isfinite(close[t])
        r = close[t, m] / close[t - 1, m] - 1.0 if m.any() else np.zeros(1)
        level[t] = level[t - 1] * (1.0 + float(np.mean(r)))
    return level


def with_etf_pair(prices: PriceHistory, seed: int, tracking_error: float = 0.01) -> PriceHistory:
    """Two ETFs on the model's index: ETF_A = the equal-weight index itself, ETF_B = the same index
    plus seeded tracking noise (`tracking_error` annualised), a different identical group (a pair
    such as two providers' large-cap funds on different indices)."""
    level = 100.0 * equal_weight_index(prices)
    rng = np.random.default_rng(seed + 7919)
    noise = rng.normal(0.0, tracking_error / np.sqrt(252), len(level))
    noise[0] = 0.0
    level_b = level * np.exp(np.cumsum(noise))
    close = np.column_stack([prices.close, level, level_b])
    membership = prices.membership
    return replace(prices, tickers=prices.tickers + (ETF_A, ETF_B), close=close,
                   sector=prices.sector + ("ETF", "ETF"), membership=membership)


# ------------------------------------------------------------------------------------------------
# 1. direct index vs an ETF pair swap


def etf_vs_direct(prices: PriceHistory, windows: list[Window], config: AccountConfig, seed: int,
                  risk_model: bool = True, etf_hurdle: float = 0.0) -> pd.DataFrame:
    """Losses harvested in each window by the optimizer's direct index and by an ETF pair swap.
    The two ETF columns only exist in the ETF run's prices (with no membership file the direct
    index would otherwise count them as index members)."""
    etf_prices = with_etf_pair(prices, seed)
    rows = []
    for k, w in enumerate(windows):
        say(f"etf-vs-direct: window {k + 1}/{len(windows)} {w.start} .. {w.end}")
        di = run_account(prices, OptimizerPolicy("direct_index", risk_model=risk_model), config, w.start, w.end,
                         progress=f"direct index {w.start}")
        etf = run_account(etf_prices, EtfPairSwapPolicy("etf_pair_swap", ETF_A, ETF_B, etf_hurdle), config,
                          w.start, w.end)
        s_di, s_etf = run_summary(di, config), run_summary(etf, config)
        ret = index_return(prices, w)
        rows.append(dict(
            start=w.start, end=w.end, label=w.label, index_return=ret, market="up" if ret >= 0 else "down",
            di_harvested=s_di["harvested_loss"], etf_harvested=s_etf["harvested_loss"],
            di_harvested_pct=s_di["harvested_loss"] / s_di["start_value"],
            etf_harvested_pct=s_etf["harvested_loss"] / s_etf["start_value"],
            ratio=s_di["harvested_loss"] / s_etf["harvested_loss"] if s_etf["harvested_loss"] > 0 else np.inf,
            di_disallowed=s_di["disallowed_loss"], etf_disallowed=s_etf["disallowed_loss"],
            di_trades=s_di["trades"], etf_trades=s_etf["trades"], di_solves=s_di["solves"],
            di_solver_failures=s_di["solver_failures"],
        ))
    return pd.DataFrame(rows)


def summarise_etf_vs_direct(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for label, part in (("all", table), ("up", table[table.market == "up"]), ("down", table[table.market == "down"])):
        if part.empty:
            out.append(dict(market=label, windows=0, di_harvested=np.nan, etf_harvested=np.nan, ratio=np.nan))
            continue
        di, etf = part.di_harvested.sum(), part.etf_harvested.sum()
        out.append(dict(market=label, windows=len(part), di_harvested=di, etf_harvested=etf,
                        ratio=di / etf if etf > 0 else np.inf))
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------
# 2. year-round vs year-end-only harvesting


def year_round_vs_year_end(prices: PriceHistory, windows: list[Window], config: AccountConfig,
                           risk_model: bool = True) -> pd.DataFrame:
    rows = []
    for k, w in enumerate(windows):
        say(f"year-round-vs-year-end: window {k + 1}/{len(windows)} {w.start} .. {w.end}")
        res = {}
        for schedule in ("daily", "year_end"):
            r = run_account(prices, OptimizerPolicy(schedule, schedule=schedule, risk_model=risk_model), config,
                            w.start, w.end, progress=f"{schedule} {w.start}")
            res[schedule] = run_summary(r, config)
        d, y = res["daily"], res["year_end"]
        years = d["years"]
        rows.append(dict(
            start=w.start, end=w.end, years=years,
            daily_harvested=d["harvested_loss"], year_end_harvested=y["harvested_loss"],
            daily_tax_saved_bp_per_year=-1e4 * d["tax"] / d["start_value"] / years,
            year_end_tax_saved_bp_per_year=-1e4 * y["tax"] / y["start_value"] / years,
            daily_pre_tax_return=d["pre_tax_return"], year_end_pre_tax_return=y["pre_tax_return"],
            daily_solves=d["solves"], year_end_solves=y["solves"], daily_solver_failures=d["solver_failures"],
        ))
    table = pd.DataFrame(rows)
    table["more_effective_pct"] = 100.0 * (table.daily_tax_saved_bp_per_year / table.year_end_tax_saved_bp_per_year - 1.0)
    return table


# ------------------------------------------------------------------------------------------------
# 3. tax alpha of a harvested direct index vs buy-and-hold, wash-sale rule on and off


def tax_alpha(prices: PriceHistory, windows: list[Window], config: AccountConfig, risk_model: bool = True) -> pd.DataFrame:
    rows = []
    for k, w in enumerate(windows):
        say(f"tax-alpha: window {k + 1}/{len(windows)} {w.start} .. {w.end}")
        hold = run_summary(run_account(prices, OptimizerPolicy("buy_and_hold", schedule="never", risk_model=False),
                                       config, w.start, w.end), config)
        row = dict(start=w.start, end=w.end, years=hold["years"], index_return=index_return(prices, w),
                   hold_pre_tax_return=hold["pre_tax_return"])
        for rule in (True, False):
            cfg = replace(config, wash_sale_rule=rule)
            r = run_account(prices, OptimizerPolicy("harvest", risk_model=risk_model), cfg, w.start, w.end,
                            progress=f"harvest wash={'on' if rule else 'off'} {w.start}")
            s = run_summary(r, cfg)
            tag = "wash_on" if rule else "wash_off"
            years = s["years"]
            tax_benefit = (hold["tax"] - s["tax"]) / s["start_value"] / years
            return_gap = (s["end_value"] - hold["end_value"]) / s["start_value"] / years
            row.update({
                f"{tag}_harvested_pct": s["harvested_loss"] / s["start_value"],
                f"{tag}_disallowed": s["disallowed_loss"],
                f"{tag}_tax_benefit_per_year": tax_benefit,
                f"{tag}_pre_tax_gap_per_year": return_gap,
                f"{tag}_tax_alpha_per_year": tax_benefit + return_gap,
                f"{tag}_solver_failures": s["solver_failures"],
            })
        rows.append(row)
    return pd.DataFrame(rows)


def distribution(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    rows = []
    for c in columns:
        x = table[c].to_numpy(float)
        rows.append(dict(measure=c, n=len(x), mean=x.mean(), median=np.median(x), p10=np.percentile(x, 10),
                         p90=np.percentile(x, 90), min=x.min(), max=x.max()))
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# 4. legacy-portfolio transitions


class LiquidateThenOptimize(OptimizerPolicy):
    """Sell every lot on the first day (paying the tax), then run the optimizer from cash."""

    def __init__(self, name: str, **kwargs):
        super().__init__(name, **kwargs)
        self.liquidated = False

    def trades(self, account, ctx):
        if not self.liquidated:
            self.liquidated = True
            lots = account.lots()
            return [Trade("sell", account.prices.tickers[s], float(q), str(l), "liquidate")
                    for s, q, l in zip(lots["security"], lots["quantity"], lots["lot_id"])]
        if ctx.t == self._first_solve_day(account, ctx):
            ctx = replace(ctx, first_day=True)
        return super().trades(account, ctx)

    def _first_solve_day(self, account, ctx):
        if not hasattr(self, "_first"):
            self._first = ctx.t
        return self._first


def legacy_lots(prices: PriceHistory, names: int, value: float, seed: int, acquired_index: int = 0):
    """`names` index members of day `acquired_index` (seeded pick), equal value, bought that day."""
    rng = np.random.default_rng(seed)
    members = np.flatnonzero(prices.members(acquired_index))
    pick = np.sort(rng.choice(members, size=min(names, len(members)), replace=False))
    day = prices.dates[acquired_index].astype(object)
    out = []
    for i in pick:
        p = float(prices.close[acquired_index, i])
        out.append((prices.tickers[i], round(value / names / p, 4), p, day))
    return tuple(out)


def legacy_transition(prices: PriceHistory, windows: list[Window], config: AccountConfig, names: int, seed: int,
                      tax_budget: float, risk_model: bool = True) -> pd.DataFrame:
    """From a concentrated legacy portfolio (bought at the first price date) to the model at each
    window start: liquidate-and-buy vs the optimizer's annual tax budget."""
    rows = []
    for k, w in enumerate(windows):
        say(f"legacy-transition: window {k + 1}/{len(windows)} {w.start} .. {w.end}")
        lots = legacy_lots(prices, names, config.initial_cash, seed)
        cfg = replace(config, legacy_lots=lots, initial_cash=0.0)
        row = dict(start=w.start, end=w.end)
        for tag, policy in (
            ("liquidate", LiquidateThenOptimize("liquidate", risk_model=risk_model)),
            ("budgeted", OptimizerPolicy("budgeted", risk_model=risk_model,
                                         tax_budget_per_year=tax_budget * config.initial_cash)),
        ):
            r = run_account(prices, policy, cfg, w.start, w.end, progress=f"{tag} {w.start}")
            s = run_summary(r, cfg)
            d = r.daily
            unrealized = float(d["unrealized_gain"].iloc[-1])
            row.update({
                f"{tag}_start_value": s["start_value"],
                f"{tag}_tax_paid": s["tax"],  # negative: the losses realized saved tax
                f"{tag}_drift_start": float(d["drift"].iloc[0]),
                f"{tag}_drift_1m": float(d["drift"].iloc[min(len(d) - 1, 21)]),
                f"{tag}_drift_end": float(d["drift"].iloc[-1]),
                f"{tag}_mean_drift": s["mean_drift"],
                f"{tag}_end_value": s["end_value"],
                f"{tag}_deferred_gain_end": unrealized,
                # what the household keeps: end value minus tax paid (flat rates) minus the LT tax on
                # the gain still embedded at the end (if it were all sold then)
                f"{tag}_after_tax_liquidation": s["end_value"] - s["tax"] - max(0.0, unrealized) * config.lt_rate,
            })
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# 5. dispersion across accounts on one model


def drifted_start_lots(prices: PriceHistory, t0: int, value: float, rng: np.random.Generator, drift_sigma: float):
    """An account onboarded earlier: the model's names at weights drifted by a lognormal factor,
    basis = today's price (no embedded gain, so the comparison is about rebalancing, not tax)."""
    members = np.flatnonzero(prices.members(t0))
    w = rng.lognormal(0.0, drift_sigma, len(members))
    w = 0.995 * w / w.sum()
    day = prices.dates[t0].astype(object) - dt.timedelta(days=400)
    return tuple((prices.tickers[i], round(value * wi / prices.close[t0, i], 4), float(prices.close[t0, i]), day)
                 for i, wi in zip(members, w))


def dispersion(prices: PriceHistory, windows: list[Window], config: AccountConfig, accounts: int, seed: int,
               drift_sigma: float = 0.5, risk_model: bool = False) -> pd.DataFrame:
    """Return dispersion of `accounts` accounts on the same model: systematic (the optimizer on the
    first trading day of every month) vs ad hoc (1-3 random rebalance days a year, each correcting a
    random 30-100% of every holding's drift)."""
    rows = []
    for k, w in enumerate(windows):
        say(f"dispersion: window {k + 1}/{len(windows)} {w.start} .. {w.end}")
        t0 = prices.day_index(w.start)
        t1 = int(np.searchsorted(prices.dates, np.datetime64(w.end, "D"), side="right")) - 1
        rng = np.random.default_rng(seed * 1000 + k)
        for a in range(accounts):
            lots = drifted_start_lots(prices, t0, config.initial_cash, rng, drift_sigma)
            cfg = replace(config, legacy_lots=lots, initial_cash=0.005 * config.initial_cash)
            n_days = int(rng.integers(1, 4))
            days = sorted(rng.choice(np.arange(t0 + 1, t1 + 1), size=n_days, replace=False).tolist())
            adhoc_days = {int(d): float(rng.uniform(0.3, 1.0)) for d in days}
            for tag, policy in (
                ("systematic", OptimizerPolicy("systematic", schedule="monthly", risk_model=risk_model)),
                ("ad_hoc", AdHocPolicy("ad_hoc", adhoc_days)),
            ):
                r = run_account(prices, policy, cfg, w.start, w.end, validate="none")
                d = r.daily
                rows.append(dict(start=w.start, end=w.end, account=a, policy=tag,
                                 pre_tax_return=float(d["value"].iloc[-1] / d["value"].iloc[0] - 1.0),
                                 mean_drift=float(d["drift"].mean()), rebalance_days=len(adhoc_days) if tag == "ad_hoc" else r.solves))
    return pd.DataFrame(rows)


def summarise_dispersion(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for (start, end), part in table.groupby(["start", "end"], sort=True):
        sd = part.groupby("policy")["pre_tax_return"].std(ddof=1)
        rows.append(dict(start=start, end=end, accounts=int(part.account.nunique()),
                         systematic_sd=float(sd.get("systematic", np.nan)), ad_hoc_sd=float(sd.get("ad_hoc", np.nan)),
                         reduction_pct=100.0 * (1.0 - sd.get("systematic", np.nan) / sd.get("ad_hoc", np.nan))))
    return pd.DataFrame(rows)
