"""`python -m lifecycle <stage> ...`: a life-cycle what-if on one household (docs/lifecycle.md).

Prints the trade list of the optimized plan and the tax-naive alternative, their comparison
(tax, tax as % of value, turnover, drift and tracking error after) and the stage's detail table;
--out DIR also writes trades.csv, comparison.csv and detail.csv there.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from optimization import OptimizerSettings, estimate_risk_model

from lifecycle.household import read_household, write_household
from lifecycle.plans import EventComparison

TRADE_VIEW = ["plan", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
              "holding_term", "realized_gain", "estimated_tax", "reason"]
COMPARISON_VIEW = ["plan", "market_value", "st_gain", "lt_gain", "capital_gains_tax", "ordinary_income_tax", "tax",
                   "tax_pct_of_value", "gift_tax_avoided", "turnover", "drift_after", "tracking_error_after", "trade_count"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lifecycle", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="stage", required=True)

    def stage(name, help_text, household=True):
        s = sub.add_parser(name, help=help_text)
        if household:
            s.add_argument("--household", required=name != "transition", help="folder with the CSV set")
            s.add_argument("--as-of", type=dt.date.fromisoformat, help="override household.csv's as_of")
            s.add_argument("--price-history", help="CSV security_id, price_date, close: tracking error via the risk model")
        s.add_argument("--out", help="write trades.csv, comparison.csv, detail.csv here")
        return s

    s = stage("withdrawal", "raise cash at least tax, choosing accounts and lots")
    s.add_argument("--amount", type=float, required=True)
    s.add_argument("--from-account", help="the account the client named (naive side); default: first taxable")
    s.add_argument("--accounts", help="comma-separated accounts the optimized side may use (default: all but Roth)")
    s.add_argument("--step", type=float, default=0.25, help="split grid over accounts (default 0.25)")
    s.add_argument("--method", choices=("grid", "split"), default="grid",
                   help="grid: solve every split on the --step grid; split: the daily run's one-solve split "
                   "(optimization/policies.py withdrawal_split)")
    s = stage("gift", "give appreciated long-term lots to charity, then rebalance")
    s.add_argument("--amount", type=float, required=True)
    s.add_argument("--account", help="taxable account (default: first taxable)")
    s = stage("transition", "legacy portfolio into the model: liquidate / budgeted / multi-year")
    s.add_argument("--generated", type=int, help="use generated legacy household SEED (instead of --household)")
    s.add_argument("--budget-pct", type=float, default=0.01, help="tax budget as share of value (default 0.01)")
    s.add_argument("--tax-budget", type=float, help="tax budget in dollars (overrides --budget-pct)")
    s.add_argument("--years", type=int, default=5)
    s.add_argument("--must-sell", default="", help="comma-separated securities sold in full first")
    s.add_argument("--price-seed", type=int, help="multi-year: seeded price drift per year (default: same prices)")
    s = stage("transition-study", "the transition comparison on generated legacy portfolios", household=False)
    s.add_argument("--count", type=int, default=100)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--budget-pct", type=float, default=0.01)
    s.add_argument("--years", type=int, default=5)
    s.add_argument("--model-size", type=int, default=200)
    s.add_argument("--no-multi-year", action="store_true")
    s = stage("harvest", "year-round loss harvesting policy for one day")
    s.add_argument("--rule", choices=("threshold", "optimizer"), default="threshold")
    s.add_argument("--start", type=float, default=0.20, help="loss/basis threshold on January 1")
    s.add_argument("--end", type=float, default=0.05, help="... on December 1 and after")
    s.add_argument("--substitutes", help="CSV security_id, substitute_id")
    s.add_argument("--harvest-amount", type=float, default=0.0, help="forced harvest: dollars of losses")
    s.add_argument("--hold-until", type=dt.date.fromisoformat, help="forced harvest: hold the groups out until")
    s = stage("harvest-year", "year-round vs year-end-only harvesting over simulated years", household=False)
    s.add_argument("--seeds", type=int, default=8, help="price paths (one household each)")
    s.add_argument("--step-days", type=int, default=14)
    s.add_argument("--model-size", type=int, default=100)
    stage("short-to-long", "defer short-term gains about to turn long-term")
    stage("location", "asset location across taxable and IRA accounts")
    s = stage("rebalance", "today's plain rebalance; --write DIR saves the household after it, --days later")
    s.add_argument("--days", type=int, default=40, help="days to move on after the trades (wash windows end)")
    s.add_argument("--write", help="folder for the household after the rebalance (a CSV set)")
    s = sub.add_parser("generate-legacy", help="write a generated legacy household as a CSV set")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    return p


def _household(args):
    household = read_household(args.household)
    if args.as_of:
        household = replace(household, as_of=args.as_of)
    risk = None
    if getattr(args, "price_history", None):
        risk = estimate_risk_model(pd.read_csv(args.price_history), household.securities.set_index("security_id")["gics_sector"].to_dict())
    return household, risk


def show(comparison: EventComparison, out: str | None) -> None:
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.max_rows", 400)
    h = comparison.household
    print(f"{comparison.stage}: household {h.household_id} on {h.as_of}, value {h.market_value:,.2f}")
    trades = comparison.trades_frame()
    print("\nTrades")
    print(trades[TRADE_VIEW].round(4).to_string(index=False) if len(trades) else "(none)")
    print("\nComparison")
    print(comparison.comparison_frame()[COMPARISON_VIEW].round(6).to_string(index=False))
    print(f"\ntax saved vs {comparison.naive.name}: {comparison.tax_saved:,.2f}")
    if comparison.detail is not None and len(comparison.detail):
        print("\nDetail")
        print(comparison.detail.round(6).to_string(index=False))
    for note in comparison.notes:
        print(f"note: {note}")
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        trades.to_csv(folder / "trades.csv", index=False)
        comparison.comparison_frame().to_csv(folder / "comparison.csv", index=False)
        if comparison.detail is not None:
            comparison.detail.to_csv(folder / "detail.csv", index=False)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    settings = OptimizerSettings()
    started = time.perf_counter()
    if args.stage == "generate-legacy":
        from lifecycle.generate import legacy_household, universe

        print(write_household(legacy_household(universe(), args.seed), args.out))
        return 0
    if args.stage == "transition-study":
        from lifecycle.study import study_rows, summarise
        from lifecycle.transition import TransitionPolicy

        rows = study_rows(args.count, args.seed, TransitionPolicy(budget_pct=args.budget_pct, years=args.years),
                          settings, n_model=args.model_size, multi_year=not args.no_multi_year)
        summary = summarise(rows)
        pd.set_option("display.width", 250)
        pd.set_option("display.max_columns", 30)
        print(summary.round(4).T.to_string(header=False))
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            rows.to_csv(Path(args.out) / "study_rows.csv", index=False)
            summary.to_csv(Path(args.out) / "study_summary.csv", index=False)
        print(f"\n{args.count} households in {time.perf_counter() - started:.1f} s")
        return 0
    if args.stage == "harvest-year":
        from lifecycle.generate import universe
        from lifecycle.harvest_year import compare_policies

        rows = compare_policies(universe(n_model=args.model_size, n_outside=0, seed=1), range(args.seeds),
                                step_days=args.step_days)
        pd.set_option("display.width", 250)
        pd.set_option("display.max_columns", 30)
        print(rows.round(4).to_string(index=False))
        summary = rows.groupby("policy", sort=False)[["losses_harvested", "gains_realized", "tax", "tax_pct_of_start",
                                                      "turnover", "drift_after_mean"]].mean()
        print("\nMean over seeds")
        print(summary.round(4).to_string())
        ratio = (rows[rows["policy"] == "year_round"]["tax"].to_numpy() / rows[rows["policy"] == "year_end_only"]["tax"].to_numpy())
        print(f"\nyear-round tax benefit / year-end-only: mean {ratio.mean():.2f}, per seed {np.round(ratio, 2).tolist()}")
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            rows.to_csv(Path(args.out) / "harvest_year.csv", index=False)
        print(f"\n({time.perf_counter() - started:.1f} s)")
        return 0
    if args.stage == "withdrawal":
        from lifecycle.withdrawal import plan_withdrawal

        household, risk = _household(args)
        accounts = [a for a in (args.accounts or "").split(",") if a]
        comparison = plan_withdrawal(household, args.amount, args.from_account, accounts or None, args.step, settings, risk,
                                     method=args.method)
    elif args.stage == "gift":
        from lifecycle.gift import plan_gift

        household, risk = _household(args)
        comparison = plan_gift(household, args.amount, args.account, settings, risk)
    elif args.stage == "transition":
        from lifecycle.transition import TransitionPolicy, plan_transition

        universe_ = None
        if args.generated is not None:
            from lifecycle.generate import legacy_household, universe

            universe_ = universe()
            household, risk = legacy_household(universe_, args.generated), universe_.risk
        else:
            household, risk = _household(args)
        policy = TransitionPolicy(budget_pct=args.budget_pct, tax_budget=args.tax_budget, years=args.years,
                                  price_seed=args.price_seed, must_sell=tuple(s for s in args.must_sell.split(",") if s))
        comparison = plan_transition(household, policy, settings, risk, universe_)
    elif args.stage == "harvest":
        from lifecycle.harvest import HarvestPolicy, plan_harvest

        household, risk = _household(args)
        substitutes = pd.read_csv(args.substitutes) if args.substitutes else None
        comparison = plan_harvest(household, HarvestPolicy(start=args.start, end=args.end, rule=args.rule), settings, risk,
                                  substitutes, args.harvest_amount, args.hold_until)
    elif args.stage == "short-to-long":
        from lifecycle.short_to_long import plan_short_to_long

        household, risk = _household(args)
        comparison = plan_short_to_long(household, settings, risk)
    elif args.stage == "rebalance":
        from lifecycle.household import apply_trades, move_to
        from lifecycle.plans import optimize_plan

        household, risk = _household(args)
        plan = optimize_plan(household, (), settings, risk, name="rebalance")
        comparison = EventComparison("rebalance", household, plan, plan)
        if args.write:
            after = move_to(apply_trades(household, plan.trades), household.as_of + dt.timedelta(days=args.days))
            print(f"household after the rebalance, {args.days} days later: {write_household(after, args.write)}")
    elif args.stage == "location":
        from lifecycle.location import plan_location

        household, risk = _household(args)
        comparison = plan_location(household, settings, risk)
    else:  # pragma: no cover - argparse rejects it
        return 2
    show(comparison, args.out)
    print(f"\n({time.perf_counter() - started:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
