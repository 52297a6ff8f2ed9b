"""python -m backtest <experiment> [options]: one command per experiment; a table on stdout (beside
the published figure), a CSV and a PNG under --out, progress on stderr."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from backtest import experiments as ex
from backtest.prices import PriceHistory, read_price_folder, simulated_prices
from backtest.report import PUBLISHED, bar_chart, box_chart, format_table, write_csv
from backtest.simulate import AccountConfig, OptimizerPolicy, run_account

EXPERIMENTS = ("etf-vs-direct", "year-round", "tax-alpha", "transition", "dispersion", "speed")


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m backtest", description=__doc__)
    ap.add_argument("experiment", choices=EXPERIMENTS)
    ap.add_argument("--prices", help="a price set folder (with prices/<TICKER>.csv) or the prices folder itself; "
                                     "absent: seeded simulated prices")
    ap.add_argument("--membership", help="monthly index membership CSV (default: <set>/index_membership_monthly.csv if present)")
    ap.add_argument("--sectors", help="GICS list CSV (default: <set>/../gics_constituents.csv if present)")
    ap.add_argument("--start", type=dt.date.fromisoformat, help="first window start (default: first price date)")
    ap.add_argument("--end", type=dt.date.fromisoformat, help="last date used")
    ap.add_argument("--universe", type=int, default=0, help="keep the N first index members at --start (IVV weight order); 0: all")
    ap.add_argument("--years", type=float, default=1.0, help="window length in years")
    ap.add_argument("--step-months", type=int, default=12, help="months between window starts")
    ap.add_argument("--windows", type=int, default=0, help="at most this many windows (0: all that fit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="data/backtest", help="folder for <experiment>.csv and .png")
    ap.add_argument("--cash", type=float, default=1_000_000.0)
    ap.add_argument("--st-rate", type=float, default=0.35)
    ap.add_argument("--lt-rate", type=float, default=0.15)
    ap.add_argument("--cost-bps", type=float, default=5.0, help="trading cost per side")
    ap.add_argument("--no-wash-sale", action="store_true", help="turn the wash-sale rule off (tax-alpha runs both)")
    ap.add_argument("--monthly-flow", type=float, default=0.0, help="> 0 contribution, < 0 withdrawal, monthly")
    ap.add_argument("--no-risk-model", action="store_true", help="no tracking-error term (faster solves)")
    ap.add_argument("--sim-securities", type=int, default=100)
    ap.add_argument("--sim-years", type=float, default=3.0)
    ap.add_argument("--etf-hurdle", type=float, default=0.0, help="ETF swap: extra loss per dollar required")
    ap.add_argument("--legacy-names", type=int, default=20)
    ap.add_argument("--tax-budget", type=float, default=0.01, help="transition: annual tax budget, fraction of value")
    ap.add_argument("--accounts", type=int, default=10, help="dispersion: accounts per window")
    ap.add_argument("--schedule", default="daily", choices=("daily", "weekly", "monthly"),
                    help="speed: how often the optimizer may trade (daily evaluation either way for delistings)")
    return ap.parse_args(argv)


# ------------------------------------------------------------------------------------------------
# inputs


def load_prices(args) -> PriceHistory:
    if not args.prices:
        days = int(round(252 * args.sim_years))
        return simulated_prices(args.sim_securities, days, seed=args.seed)
    root = Path(args.prices)
    prices_dir = root / "prices" if (root / "prices").is_dir() else root
    set_dir = prices_dir.parent
    membership = args.membership or (set_dir / "index_membership_monthly.csv")
    sectors = args.sectors or next((p for p in (set_dir / "gics_constituents.csv", set_dir.parent / "gics_constituents.csv")
                                    if p.exists()), None)
    ex.say(f"reading {prices_dir}")
    prices = read_price_folder(prices_dir, membership if Path(membership).exists() else None, sectors,
                               start=None, end=args.end)
    prices = well_covered(prices)
    if args.universe:
        t0 = prices.day_index(args.start) if args.start else 0
        prices = universe_at(prices, t0, args.universe)
    return prices


def well_covered(prices: PriceHistory, share: float = 0.8) -> PriceHistory:
    """Drop leading and trailing days on which fewer than `share` of the best-covered day's tickers
    have a price (the S&P set has one ticker alone for its first month and its last day; a name
    whose file ends on the set's last full day is not a delisting)."""
    count = np.isfinite(prices.close).sum(axis=1)
    good = np.flatnonzero(count >= share * count.max())
    return prices.between(prices.dates[good[0]], prices.dates[good[-1]])


def universe_at(prices: PriceHistory, t0: int, n: int) -> PriceHistory:
    """The n first members on day t0 in the membership file's order (IVV weight order in recent
    years), or the first n priced tickers by name without a membership file."""
    members = prices.members(t0)
    if prices.membership is not None:
        k = int(np.searchsorted(prices.membership_dates, prices.dates[t0], side="right")) - 1
        ordered = [i for i in prices.membership[max(k, 0)] if members[i]]
    else:
        ordered = [i for i in np.argsort(prices.tickers) if members[i]]
    keep = sorted(ordered[:n])
    out = prices.select(keep)
    return replace(out, caveats=out.caveats + (
        f"universe: the {len(keep)} first index members on {prices.dates[t0]} in the membership file's order, "
        "followed while they stay members (names joining later are not added)",))


def config_from(args) -> AccountConfig:
    return AccountConfig(initial_cash=args.cash, st_rate=args.st_rate, lt_rate=args.lt_rate,
                         trading_cost_bps=args.cost_bps, wash_sale_rule=not args.no_wash_sale,
                         monthly_flow=args.monthly_flow)


def windows_from(args, prices: PriceHistory, years: float | None = None):
    return ex.rolling_windows(prices, args.start, years or args.years, args.step_months, args.windows or None)


COMMON_CAVEATS = (
    "model: equal weights over the index members (the data has no market caps); the ETF is the same "
    "equal-weight index, so the comparison is like for like",
    "tax valued as in Chaudhuri, Burnham & Lo: flat ST/LT rates on each year's net result, losses assumed "
    "usable against gains outside the portfolio, tax saved not reinvested",
    "every trade goes through the tax-lot engine (taxlots): wash sales household-wide, basis adjusted; "
    "the optimizer sees the marts' wash windows (no_buy after a loss sale, no_loss_sale after a buy)",
)


# ------------------------------------------------------------------------------------------------
# experiments


def run(args) -> tuple[pd.DataFrame, pd.DataFrame, PriceHistory]:
    cfg = config_from(args)
    risk = not args.no_risk_model
    out = Path(args.out)
    name = args.experiment
    if name == "etf-vs-direct":
        if args.prices:
            prices = load_prices(args)
            table = ex.etf_vs_direct(prices, windows_from(args, prices), cfg, args.seed, risk, args.etf_hurdle)
        else:
            parts = []
            n = args.windows or 2
            for k in range(n):
                drift = 0.15 if k % 2 == 0 else -0.15
                prices = simulated_prices(args.sim_securities, 252, seed=args.seed + k, market_drift=drift)
                w = ex.Window(prices.dates[0].astype(object), prices.dates[-1].astype(object),
                              f"simulated seed {args.seed + k}, drift {drift:+.0%}")
                parts.append(ex.etf_vs_direct(prices, [w], cfg, args.seed + k, risk, args.etf_hurdle))
            table = pd.concat(parts, ignore_index=True)
        summary = ex.summarise_etf_vs_direct(table)
        bar_chart(out / f"{name}.png", [f"{r.start}" for r in table.itertuples()],
                  {"direct index": list(table.di_harvested_pct * 100), "ETF pair swap": list(table.etf_harvested_pct * 100)},
                  "Losses harvested in one year (% of start value)", "% of start value")
        return table, summary, prices
    prices = load_prices(args)
    if name == "year-round":
        table = ex.year_round_vs_year_end(prices, windows_from(args, prices), cfg, risk)
        summary = pd.DataFrame([dict(
            windows=len(table),
            daily_bp_per_year=table.daily_tax_saved_bp_per_year.mean(),
            year_end_bp_per_year=table.year_end_tax_saved_bp_per_year.mean(),
            daily_harvested=table.daily_harvested.sum(), year_end_harvested=table.year_end_harvested.sum(),
            more_effective_pct=100 * (table.daily_tax_saved_bp_per_year.mean() / table.year_end_tax_saved_bp_per_year.mean() - 1),
        )])
        bar_chart(out / f"{name}.png", list(table.start),
                  {"year-round (daily)": list(table.daily_tax_saved_bp_per_year),
                   "year-end only": list(table.year_end_tax_saved_bp_per_year)},
                  "Tax saved by harvesting (bp of start value per year)", "bp / year")
        return table, summary, prices
    if name == "tax-alpha":
        table = ex.tax_alpha(prices, windows_from(args, prices), cfg, risk)
        cols = [c for c in table.columns if c.endswith("_per_year")]
        summary = ex.distribution(table, cols)
        box_chart(out / f"{name}.png", {
            "wash rule on": list(100 * table.wash_on_tax_alpha_per_year),
            "wash rule off": list(100 * table.wash_off_tax_alpha_per_year),
            "on: tax only": list(100 * table.wash_on_tax_benefit_per_year),
            "off: tax only": list(100 * table.wash_off_tax_benefit_per_year),
        }, f"Tax alpha per year over {len(table)} start dates (%)", "% per year")
        return table, summary, prices
    if name == "transition":
        table = ex.legacy_transition(prices, windows_from(args, prices), cfg, args.legacy_names, args.seed,
                                     args.tax_budget, risk)
        cols = ["liquidate_tax_paid", "budgeted_tax_paid", "liquidate_mean_drift", "budgeted_mean_drift",
                "liquidate_drift_end", "budgeted_drift_end", "liquidate_after_tax_liquidation",
                "budgeted_after_tax_liquidation"]
        summary = ex.distribution(table, cols)
        bar_chart(out / f"{name}.png", list(table.start),
                  {"liquidate: tax paid": list(table.liquidate_tax_paid), "budgeted: tax paid": list(table.budgeted_tax_paid)},
                  "Tax paid in the transition window ($)", "$")
        return table, summary, prices
    if name == "dispersion":
        table = ex.dispersion(prices, windows_from(args, prices), cfg, args.accounts, args.seed, risk_model=False)
        summary = ex.summarise_dispersion(table)
        box_chart(out / f"{name}.png", {
            "systematic (optimizer monthly)": list(100 * table[table.policy == "systematic"].pre_tax_return),
            "ad hoc": list(100 * table[table.policy == "ad_hoc"].pre_tax_return),
        }, "One-year returns of accounts on one model (%)", "% return")
        return table, summary, prices
    if name == "speed":
        return speed(args, cfg, prices) + (prices,)
    raise SystemExit(f"unknown experiment {name}")


def speed(args, cfg, prices) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One account, daily, over the whole range: wall time, solves, time in the optimizer."""
    t0 = time.perf_counter()
    r = run_account(prices, OptimizerPolicy("direct_index", schedule=args.schedule, risk_model=not args.no_risk_model), cfg, args.start,
                    args.end, validate="fast", progress="speed")
    wall = time.perf_counter() - t0
    s = ex.run_summary(r, cfg)
    days = len(r.daily)
    table = pd.DataFrame([dict(days=days, securities=len(prices.tickers), schedule=args.schedule, solves=r.solves,
                               solver_failures=r.solver_failures,
                               optimizer_seconds=round(r.solve_seconds, 1), wall_seconds=round(wall, 1),
                               final_lots=int(r.daily["lots"].iloc[-1]), realized_lots=len(r.realized),
                               validated_lots=r.validated_lots, harvested_loss=s["harvested_loss"],
                               pre_tax_return=s["pre_tax_return"])])
    bar_chart(Path(args.out) / "speed.png", ["optimizer", "rest"],
              {"seconds": [r.solve_seconds, wall - r.solve_seconds]}, "Backtest wall time", "seconds")
    return table, table.drop(columns=["wall_seconds", "optimizer_seconds"])


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    table, summary, prices = run(args)
    out = Path(args.out)
    write_csv(table, out / f"{args.experiment}.csv")
    write_csv(summary, out / f"{args.experiment}_summary.csv")
    print(f"== {args.experiment} ({prices.source}) ==")
    print(format_table(table))
    print()
    print(format_table(summary))
    if args.experiment in PUBLISHED:
        print(f"\npublished: {PUBLISHED[args.experiment]}")
    print("\ncaveats:")
    for c in prices.caveats + COMMON_CAVEATS:
        print(f"- {c}")
    print(f"\nwrote {out / (args.experiment + '.csv')}, {out / (args.experiment + '_summary.csv')}, "
          f"{out / (args.experiment + '.png')}")
    ex.say(f"{args.experiment}: {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
