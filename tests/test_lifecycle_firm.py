"""Life-cycle stages on generated households (optimization.testing's direct-index household and
lifecycle.generate's legacy portfolios): invariants that must hold whatever the numbers are, and
the command line end to end on the example CSV set."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimization import OptimizerSettings
from optimization.testing import synthetic_frames

from lifecycle.__main__ import main
from lifecycle.generate import legacy_household, universe
from lifecycle.gift import plan_gift
from lifecycle.harvest import blocked_groups, plan_harvest
from lifecycle.household import Request, household_from_marts, read_household
from lifecycle.plans import household_problem
from lifecycle.transition import TransitionPolicy, multi_year_plan, one_year
from lifecycle.withdrawal import plan_withdrawal

AS_OF = dt.date(2026, 3, 2)
EXAMPLE = Path(__file__).resolve().parents[1] / "lifecycle" / "examples" / "household"


@pytest.fixture(scope="module")
def firm_household():
    frames = synthetic_frames(1, as_of=AS_OF, n_securities=60, n_lots=240)
    return household_from_marts(frames, "H0000", AS_OF)


def check_invariants(household, plan, requests=(), extra_blocked=frozenset()):
    t = plan.trades
    assert plan.status == "optimal", plan.message
    group = household.security_attr("identical_group")
    lots = household.lots.set_index("lot_id")
    price = household.price
    sold = t[t["side"] == "sell"]
    bought = t[t["side"] == "buy"]
    # no same-day wash sale: no identical group both sold at a loss and bought today
    loss_groups = set(sold.loc[sold["realized_gain"] < -1e-9, "security_id"].map(group))
    assert not (loss_groups & set(bought["security_id"].map(group)))
    # nothing bought inside an active no_buy window (or a hold)
    assert not (set(bought["security_id"].map(group)) & (blocked_groups(household) | set(extra_blocked)))
    # no loss sale of a lot a recent purchase closed (no_loss_sale window)
    problem = household_problem(household, requests)
    closed = {lot for lot, c, s, cps in zip(problem.lots.lot_id, problem.lots.no_loss_sale, problem.lots.security,
                                            problem.lots.cost_per_share) if c and problem.price[s] < cps}
    assert not (closed & set(sold["lot_id"]))
    # a lot is never relieved beyond its quantity
    relieved = t[t["side"].isin(["sell", "gift"])].groupby("lot_id")["quantity"].sum()
    assert (relieved <= lots.loc[relieved.index, "quantity"] + 1e-9).all()
    # no negative cash in any account after trades and withdrawals
    cash = household.accounts.set_index("account_id")["cash"].astype(float)
    cash = cash.add(sold.groupby("account_id")["trade_value"].sum(), fill_value=0.0)
    cash = cash.sub(bought.groupby("account_id")["trade_value"].sum(), fill_value=0.0)
    for r in requests:
        if r.request_type == "cash_withdrawal":
            cash[r.account_id] -= r.amount
    assert (cash >= -0.01).all(), cash
    # gifts: long-term, appreciated, taxable
    for g in t[t["side"] == "gift"].itertuples():
        assert g.holding_term == "long" and household.is_taxable(g.account_id)
        assert price[g.security_id] > lots.loc[g.lot_id, "cost_per_share"]
    return cash


def test_withdrawal_on_a_generated_household(firm_household):
    c = plan_withdrawal(firm_household, 40_000)
    best = c.detail.sort_values(["tax", "drift_after"]).iloc[0]
    requests = tuple(Request(col.removeprefix("share_"), "cash_withdrawal", round(40_000 * best[col], 2))
                     for col in c.detail.columns if col.startswith("share_") and best[col] > 0)
    check_invariants(firm_household, c.optimized, requests)
    assert c.optimized.tax == pytest.approx(c.detail["tax"].min(), abs=0.01)  # the cheapest split solved
    assert len(c.detail) == 5  # taxable and IRA (the Roth is not a candidate) on a 25% grid


def test_gift_on_a_generated_household(firm_household):
    c = plan_gift(firm_household, 20_000)
    check_invariants(firm_household, c.optimized)
    given = c.optimized.trades.query("side == 'gift'")["trade_value"].sum()
    assert given == pytest.approx(20_000, abs=5.0)
    assert c.optimized.gift_tax_avoided > 0


def test_harvest_on_a_generated_household(firm_household):
    until = AS_OF + dt.timedelta(days=60)
    c = plan_harvest(firm_household, forced_amount=5_000.0, hold_until=until)
    check_invariants(firm_household, c.optimized)
    losses = c.optimized.trades.query("side == 'sell' and realized_gain < 0")
    taxable = losses[[firm_household.is_taxable(a) for a in losses["account_id"]]]
    assert -taxable["realized_gain"].sum() >= 5_000 - 1e-6
    assert c.optimized.tax < c.naive.tax  # harvesting beats not harvesting on the same day
    assert (pd.to_datetime(c.detail["window_end"]).dt.date == until).all()


def test_multi_year_transitions_of_generated_legacy_portfolios_hold_the_invariants():
    u = universe(n_model=60, n_outside=20, seed=5)
    settings = OptimizerSettings()
    for seed in range(2):
        h = legacy_household(u, seed)
        policy = TransitionPolicy(budget_pct=0.01, years=2, price_seed=seed)
        plan, years = multi_year_plan(h, policy, settings, u.risk, u)
        assert (years["tax"] <= policy.budget(h) + 1.0).all(), years
        assert np.isfinite(years["tracking_error_after"]).all()
        # year 1 on its own satisfies every trade invariant
        year1 = one_year(h, policy.budget(h), replace(settings, tax_overrun_penalty=policy.hard_budget_penalty),
                         u.risk, (), "y1")
        check_invariants(h, year1)
        assert year1.tax == pytest.approx(years["tax"].iloc[0], abs=0.01)


def test_command_line_on_the_example_household(tmp_path, capsys):
    assert main(["withdrawal", "--household", str(EXAMPLE), "--amount", "20000", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Comparison" in out and "pro_rata_fifo" in out
    comparison = pd.read_csv(tmp_path / "comparison.csv")
    assert list(comparison["plan"]) == ["optimized", "pro_rata_fifo"]
    trades = pd.read_csv(tmp_path / "trades.csv")
    household = read_household(EXAMPLE)
    optimized = trades[trades["plan"] == "optimized"]
    cash = household.accounts.set_index("account_id")["cash"].sum()
    raised = optimized.query("side == 'sell'")["trade_value"].sum() - optimized.query("side == 'buy'")["trade_value"].sum()
    assert cash + raised >= 20_000 - 0.01


def test_csv_set_round_trip_and_marts_view_agree(tmp_path, firm_household):
    from lifecycle.household import write_household

    back = read_household(write_household(firm_household, tmp_path / "h"))
    assert back.market_value == pytest.approx(firm_household.market_value)
    assert list(back.lots["lot_id"]) == list(firm_household.lots["lot_id"])
    a, b = household_problem(firm_household), household_problem(back)
    assert a.security_ids == b.security_ids and a.no_buy_groups == b.no_buy_groups
    assert (a.lots.no_loss_sale == b.lots.no_loss_sale).all()


def test_a_simulated_year_of_harvesting_never_washes_across_days():
    from lifecycle.harvest import HarvestPolicy
    from lifecycle.harvest_year import simulate_year

    u = universe(n_model=24, n_outside=0, seed=2)
    steps, trades = simulate_year(u, 4, HarvestPolicy(), value=250_000.0, step_days=30)
    assert len(steps) == 13 and steps["losses"].sum() > 0
    # every step solved: harvested losses beyond the $3,000 offset earlier in the year must not
    # make later days infeasible (lifecycle.plans.offset_used_up)
    assert (steps["status"] == "optimal").all(), steps
    day = pd.to_datetime(trades["trade_date"])
    losses = trades[(trades["side"] == "sell") & (trades["realized_gain"] < -1e-9)]
    buys = trades[trades["side"] == "buy"]
    for sale in losses.itertuples():
        # the identical group of each security is itself here: no buy within 30 days either side
        near = buys[(buys["security_id"] == sale.security_id)
                    & ((day[buys.index] - pd.Timestamp(sale.trade_date)).abs() <= pd.Timedelta(days=30))]
        assert near.empty, (sale.security_id, sale.trade_date, near[["trade_date", "quantity"]])
