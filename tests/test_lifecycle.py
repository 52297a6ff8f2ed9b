"""Life-cycle stages (lifecycle/): hand-checkable households with known answers.

Prices are 100 unless stated; rates st 40.8%, lt 23.8%, IRA distributions 37%. `TAX_ONLY` prices
no drift, so the lot choice follows tax alone and the expected trades can be worked out by hand.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import pandas as pd
import pytest

from optimization import OptimizerSettings
from optimization.extract import drift_before
from optimization.testing import long_term_date

from lifecycle.generate import legacy_household, universe
from lifecycle.gift import plan_gift
from lifecycle.harvest import HarvestPolicy, forced_harvest_shares, harvest_threshold, plan_harvest
from lifecycle.household import apply_trades, move_to, normalise
from lifecycle.location import plan_location
from lifecycle.naive import liquidation_plan, liquidation_tax
from lifecycle.plans import household_problem
from lifecycle.short_to_long import plan_short_to_long
from lifecycle.transition import TransitionPolicy, multi_year_plan, plan_transition
from lifecycle.withdrawal import plan_withdrawal, splits

AS_OF = dt.date(2026, 3, 2)
OLD = dt.date(2020, 1, 2)  # long-term
RECENT = dt.date(2025, 10, 1)  # short-term, 152 days old
LT, ST, ORD = 0.238, 0.408, 0.37
TAX_ONLY = OptimizerSettings(
    drift_penalty=0.0, drift_penalty_steps=((0.01, 0.0), (0.05, 0.0)),
    sector_drift_penalty=0.0, sector_drift_penalty_steps=((0.02, 0.0), (0.05, 0.0)),
)
LOT_COLUMNS = ["lot_id", "account_id", "security_id", "quantity", "cost_per_share", "acquired_date"]


def household(lots, accounts=(("TAX", True, 0.0),), targets=None, prices=None, as_of=AS_OF, **kwargs):
    lots = pd.DataFrame(lots, columns=LOT_COLUMNS)
    ids = sorted(set(lots["security_id"]) | set((targets or {}).keys()) - {"CASH"})
    prices = prices or {}
    securities = pd.DataFrame(dict(
        security_id=ids, price=[prices.get(s, 100.0) for s in ids],
        gics_sector=kwargs.pop("sectors", {}).get("all", None) or [f"sector-{s}" for s in ids],
    ))
    for col, values in kwargs.pop("security_columns", {}).items():
        securities[col] = securities["security_id"].map(values)
    targets = targets or {s: 1.0 / len(ids) for s in ids}
    acc = pd.DataFrame(accounts, columns=["account_id", "taxable", "cash"])
    acc["registration"] = ["joint" if t else "traditional_ira" for t in acc["taxable"]]
    return normalise("H1", as_of, ST, LT, acc, lots,
                     pd.DataFrame(dict(security_id=list(targets), target_weight=list(targets.values()))),
                     securities, ordinary_rate=ORD, **kwargs)


def sells(plan):
    t = plan.trades
    return dict(zip(t.loc[t["side"] == "sell", "lot_id"], t.loc[t["side"] == "sell", "quantity"]))


# ---------------------------------------------------------------------------------------------
# withdrawal


WITHDRAWAL_LOTS = [
    ("L-loss", "TAX", "AAA", 100, 120.0, OLD),  # LT loss 20/share
    ("L-hibasis", "TAX", "BBB", 100, 95.0, OLD),  # LT gain 5/share: 0.0119 tax per dollar
    ("L-lobasis", "TAX", "CCC", 100, 20.0, OLD),  # LT gain 80/share: 0.19 per dollar
    ("L-st", "TAX", "DDD", 100, 90.0, RECENT),  # ST gain 10/share: 0.0408 per dollar
    ("I-1", "IRA", "AAA", 100, 50.0, OLD),
    ("I-2", "IRA", "BBB", 100, 50.0, OLD),
]


def test_withdrawal_takes_the_loss_lot_then_the_high_basis_long_term_lot():
    h = household(WITHDRAWAL_LOTS, accounts=(("IRA", False, 0.0), ("TAX", True, 0.0)))
    c = plan_withdrawal(h, 15_000, pay_from="TAX", settings=TAX_ONLY)
    # 100 AAA (10,000, loss 2,000) then 50 BBB (5,000, gain 250); the IRA would cost 37%
    assert sells(c.optimized) == {"L-loss": 100.0, "L-hibasis": 50.0}
    assert c.optimized.tax == pytest.approx(-2000 * LT + 250 * LT, abs=0.01)
    assert c.optimized.ordinary_income_tax == 0.0
    # naive: 15,000 / 40,000 = 37.5% of every TAX position, oldest lot first
    assert c.naive.tax == pytest.approx((-750 + 187.5 + 3000) * LT + 375 * ST, abs=0.01)
    assert c.tax_saved == pytest.approx(c.naive.tax - c.optimized.tax)
    all_ira = c.detail[c.detail["share_IRA"] == 1.0]["tax"].iloc[0]
    assert all_ira >= 15_000 * ORD - 2000 * LT - 0.01  # the distribution's income tax is counted


def test_withdrawal_uses_the_ira_when_taxable_sales_cost_more_than_income_tax():
    # every taxable lot is a huge short-term gain: 95% of price x 40.8% = 0.39 > 0.37 per dollar
    lots = [("T-1", "TAX", "AAA", 200, 5.0, RECENT), ("I-1", "IRA", "BBB", 200, 100.0, OLD)]
    h = household(lots, accounts=(("IRA", False, 0.0), ("TAX", True, 0.0)))
    c = plan_withdrawal(h, 10_000, settings=TAX_ONLY)
    assert c.optimized.ordinary_income_tax == pytest.approx(10_000 * ORD)
    assert c.optimized.capital_gains_tax == pytest.approx(0.0)
    assert set(c.optimized.trades.loc[c.optimized.trades["side"] == "sell", "account_id"]) == {"IRA"}
    assert c.naive.tax == pytest.approx(100 * 95 * ST)  # naive pays from the taxable account


def test_splits_cover_the_grid():
    assert splits(2, 0.5) == [(1.0, 0.0), (0.5, 0.5), (0.0, 1.0)]
    assert all(math.isclose(sum(s), 1.0) for s in splits(3, 0.25)) and len(splits(3, 0.25)) == 15


# ---------------------------------------------------------------------------------------------
# gift

GIFT_LOTS = [
    ("L-loss", "TAX", "AAA", 100, 120.0, OLD),
    ("L-mid", "TAX", "BBB", 100, 60.0, OLD),  # LT gain 40%
    ("L-most", "TAX", "CCC", 100, 20.0, OLD),  # LT gain 80%: the most appreciated long-term lot
    ("L-st", "TAX", "DDD", 100, 5.0, RECENT),  # ST gain 95%: more appreciated, never given
]


def test_gift_takes_the_most_appreciated_long_term_lot_never_the_short_term_one():
    c = plan_gift(household(GIFT_LOTS), 5_000, settings=TAX_ONLY)
    gifts = c.optimized.trades[c.optimized.trades["side"] == "gift"]
    assert dict(zip(gifts["lot_id"], gifts["quantity"])) == {"L-most": 50.0}
    assert c.optimized.gift_tax_avoided == pytest.approx(50 * 80 * LT)
    assert "L-st" not in set(c.optimized.trades["lot_id"])
    # the cash gift raises 5,000 pro rata (12.5% of each position), FIFO
    assert c.naive.tax == pytest.approx((-250 + 500 + 1000) * LT + 1187.5 * ST)


def test_gift_larger_than_the_long_term_appreciated_value_gives_what_there_is():
    c = plan_gift(household(GIFT_LOTS), 50_000, settings=TAX_ONLY)
    gifts = c.optimized.trades[c.optimized.trades["side"] == "gift"]
    assert set(gifts["lot_id"]) == {"L-mid", "L-most"} and gifts["trade_value"].sum() == pytest.approx(20_000)


# ---------------------------------------------------------------------------------------------
# transition


def test_liquidation_tax_is_the_sum_of_gain_times_rate():
    lots = [("A", "TAX", "AAA", 10, 40.0, OLD), ("B", "TAX", "BBB", 20, 130.0, OLD), ("C", "TAX", "CCC", 5, 70.0, RECENT),
            ("I", "IRA", "AAA", 50, 1.0, OLD)]
    h = household(lots, accounts=(("IRA", False, 0.0), ("TAX", True, 0.0)))
    expected = 10 * 60 * LT - 20 * 30 * LT + 5 * 30 * ST  # the IRA lot realizes no tax
    assert liquidation_tax(h) == pytest.approx(expected)
    plan = liquidation_plan(h)
    assert plan.tax == pytest.approx(expected) and plan.turnover == pytest.approx(1.0)


@pytest.fixture(scope="module")
def legacy():
    u = universe(n_model=60, n_outside=20, seed=3)
    return u, [legacy_household(u, seed) for seed in range(3)]


def test_generated_liquidation_matches_lot_arithmetic(legacy):
    u, households = legacy
    for h in households:
        price = h.price
        rate = [LT_ if h.as_of >= long_term_date(d) else ST_
                for d, LT_, ST_ in zip(h.lots["acquired_date"], [h.lt_rate] * len(h.lots), [h.st_rate] * len(h.lots))]
        gain = (h.lots["security_id"].map(price) - h.lots["cost_per_share"]) * h.lots["quantity"]
        assert liquidation_tax(h) == pytest.approx(float((gain * rate).sum()))


def test_multi_year_plan_respects_the_annual_budget_every_year(legacy):
    u, households = legacy
    for h in households:
        policy = TransitionPolicy(budget_pct=0.005, years=3)
        plan, years = multi_year_plan(h, policy, OptimizerSettings(), u.risk, u)
        budget = policy.budget(h)
        assert len(years) >= 1 and len(years) <= 3
        assert (years["tax"] <= budget + 1.0).all(), years
        assert years["as_of"].is_monotonic_increasing
        # each year moves toward the model: drift after never above the legacy portfolio's drift
        assert (years["drift_after"] <= drift_before(household_problem(h)) + 1e-9).all()
        assert years["drift_after"].is_monotonic_decreasing or (years["drift_after"].diff().dropna() <= 1e-6).all()


def test_transition_keeps_turnover_below_liquidation_and_sells_must_sell_names(legacy):
    u, households = legacy
    h = households[0]
    held = sorted(set(h.lots["security_id"]))
    c = plan_transition(h, TransitionPolicy(budget_pct=0.0, must_sell=(held[0],)), OptimizerSettings(), u.risk, u,
                        multi_year=False)
    sold = c.optimized.trades[c.optimized.trades["side"] == "sell"].groupby("security_id")["quantity"].sum()
    assert sold.get(held[0], 0.0) == pytest.approx(h.lots.loc[h.lots["security_id"] == held[0], "quantity"].sum())
    assert c.optimized.turnover < c.naive.turnover == pytest.approx(1.0, abs=0.02)
    assert c.naive.tracking_error_after == 0.0 and not math.isnan(c.optimized.tracking_error_after)


# ---------------------------------------------------------------------------------------------
# year-round harvesting


def test_harvest_threshold_tightens_through_the_year():
    assert harvest_threshold(dt.date(2026, 1, 1)) == pytest.approx(0.20)
    assert harvest_threshold(dt.date(2026, 12, 1)) == pytest.approx(0.05)
    assert harvest_threshold(dt.date(2026, 12, 31)) == pytest.approx(0.05)
    mid = dt.date(2026, 1, 1) + dt.timedelta(days=(dt.date(2026, 12, 1) - dt.date(2026, 1, 1)).days // 2)
    assert harvest_threshold(mid) == pytest.approx(0.125, abs=0.001)


HARVEST_DAY = dt.date(2026, 6, 1)  # threshold 0.1322


def harvest_household(prices=None, as_of=HARVEST_DAY, small_swap=False):
    """AAA (20% loss) is 28% of the household, or 3% with `small_swap`."""
    other = 1300 if small_swap else 100
    lots = [("L-deep", "TAX", "AAA", 100, 100.0, dt.date(2025, 1, 2)),  # at 80: 20% loss
            ("L-shallow", "TAX", "CCC", other, 110.0, dt.date(2025, 1, 2)),  # at 99: 10% loss
            ("L-b", "TAX", "BBB", other, 100.0, dt.date(2025, 1, 2))]
    weights = {"AAA": 0.03, "BBB": 0.48, "CCC": 0.47} if small_swap else {"AAA": 0.28, "BBB": 0.35, "CCC": 0.35}
    sec = {"AAA": "IT/semis", "AAB": "IT/semis", "BBB": "HC/pharma", "CCC": "FIN/banks"}
    h = household(lots, accounts=(("TAX", True, 1000.0),), as_of=as_of,
                  targets={**weights, "CASH": 0.02},
                  prices={"AAA": 80.0, "AAB": 100.0, "CCC": 99.0, **(prices or {})},
                  security_columns={"gics_industry": sec})
    missing = {"AAB"} - set(h.securities["security_id"])
    if missing:
        extra = pd.DataFrame(dict(security_id=["AAB"], price=[(prices or {}).get("AAB", 100.0)], gics_sector=["sector-AAA"],
                                  gics_industry=["IT/semis"], identical_group=["AAB"]))
        h = replace(h, securities=pd.concat([h.securities, extra], ignore_index=True).sort_values("security_id"))
        h = replace(h, securities=h.securities.assign(gics_sector=h.securities["security_id"].map(
            {"AAA": "IT", "AAB": "IT", "BBB": "HC", "CCC": "FIN"})))
    return h


def test_harvest_takes_losses_past_the_threshold_and_buys_a_substitute():
    c = plan_harvest(harvest_household())
    sold = sells(c.optimized)
    assert sold.get("L-deep") == 100.0 and "L-shallow" not in sold  # 20% past 13.2%, 10% not
    buys = c.optimized.trades[c.optimized.trades["side"] == "buy"]
    assert "AAA" not in set(buys["security_id"]) and "AAB" in set(buys["security_id"])  # same industry
    assert c.optimized.tax == pytest.approx(-2000 * LT)
    assert c.naive.tax == 0.0 and c.tax_saved == pytest.approx(2000 * LT)
    # in December the threshold is 5%: the 10% lot goes too, once CCC has a substitute to hold
    # (no other name in its industry or sector: the rule leaves it alone)
    day = dt.date(2026, 12, 10)
    assert "L-shallow" not in sells(plan_harvest(harvest_household(as_of=day)).optimized)
    named = pd.DataFrame(dict(security_id=["CCC"], substitute_id=["BBB"]))
    december = plan_harvest(harvest_household(as_of=day), substitutes=named)
    assert {"L-deep", "L-shallow"} <= set(sells(december.optimized))


@pytest.mark.parametrize("substitute_price, returns", [(101.0, True), (160.0, False)])
def test_after_the_window_the_original_comes_back_only_when_it_pays(substitute_price, returns):
    h = harvest_household(small_swap=True)
    day1 = plan_harvest(h)
    assert sells(day1.optimized).get("L-deep") == 100.0
    later = move_to(apply_trades(h, day1.optimized.trades), HARVEST_DAY + dt.timedelta(days=35),
                    pd.Series({"AAB": substitute_price}))
    bought_sub = day1.optimized.trades.query("side == 'buy' and security_id == 'AAB'")["quantity"].sum()
    c = plan_harvest(later)
    t = c.optimized.trades
    sold_sub = t[(t["side"] == "sell") & (t["security_id"] == "AAB")]["quantity"].sum()
    bought_back = t[(t["side"] == "buy") & (t["security_id"] == "AAA")]["quantity"].sum()
    if returns:  # 1% short-term gain: 0.004 tax per dollar, less than the drift of a 3% swap
        assert sold_sub == pytest.approx(bought_sub, rel=0.02) and bought_back > 90
    else:  # gain 60 of 160: 0.153 tax per dollar sold, more than the 0.05 + 0.05 drift tiers give
        assert sold_sub == 0.0  # the substitute stays (spare cash may still buy some AAA)


def test_forced_harvest_takes_the_deepest_losses_first_and_holds_them_out():
    h = harvest_household()
    problem = household_problem(h)
    assert forced_harvest_shares(problem, 500.0) == {"L-deep": 25.0}  # 20 of loss per share
    until = dt.date(2026, 9, 1)
    c = plan_harvest(h, HarvestPolicy(rule="optimizer"), forced_amount=2_500.0, hold_until=until)
    sold = sells(c.optimized)
    assert sold["L-deep"] == 100.0 and sold["L-shallow"] >= 500.0 / 11.0  # 2,000 + 500 of losses
    assert set(c.detail["identical_group"]) == {"AAA", "CCC"} and set(c.detail["window_end"]) == {until}


# ---------------------------------------------------------------------------------------------
# short- to long-term


def test_short_term_gain_near_long_term_is_deferred():
    near, far = AS_OF - dt.timedelta(days=355), AS_OF - dt.timedelta(days=100)
    lots = [("A-near", "TAX", "XXX", 100, 90.0, near), ("B-far", "TAX", "XXX", 100, 89.0, far),
            ("L2", "TAX", "BBB", 100, 100.0, OLD), ("L3", "TAX", "CCC", 100, 100.0, OLD)]
    h = household(lots, targets={"XXX": 0.4, "BBB": 0.3, "CCC": 0.3})
    c = plan_short_to_long(h)
    # per share: A 10 x 0.408 + 0.05 x 10 = 4.58 with the deferral, 4.08 without; B 11 x 0.408 = 4.488
    assert set(sells(c.optimized)) == {"B-far"} and set(sells(c.naive)) == {"A-near"}
    row = c.detail.set_index("lot_id").loc["A-near"]
    assert row["days_to_long_term"] == 11 and row["saving_if_waited"] == pytest.approx(1000 * (ST - LT))
    # the naive plan sells 36 shares of A at 10/share short-term; the deferral keeps them
    assert row["shares_kept_to_long_term"] == 36 and row["conversion_value"] == pytest.approx(36 * 10 * (ST - LT))
    assert c.optimized.tax - c.naive.tax == pytest.approx(36 * (11 - 10) * ST)  # B's extra gain today
    assert c.others and c.others[0].name.endswith(str(long_term_date(near)))


# ---------------------------------------------------------------------------------------------
# asset location


def location_household():
    lots = [("T1", "TAX", "EQ1", 400, 30.0, dt.date(2015, 1, 2))]
    classes = {"EQ1": "us_equity", "BND": "us_bond", "MUNI": "muni_bond", "REIT": "us_equity"}
    h = household(lots, accounts=(("IRA", False, 30_000.0), ("TAX", True, 30_000.0)),
                  targets={"EQ1": 0.4, "BND": 0.3, "MUNI": 0.1, "REIT": 0.2}, security_columns={"asset_class": classes})
    return replace(h, securities=h.securities.assign(gics_sector=h.securities["security_id"].map(
        {"EQ1": "IT", "BND": None, "MUNI": None, "REIT": "Real Estate"})))


@pytest.mark.parametrize("use_hook", [None, False], ids=["optimizer_hook", "buy_restrictions"])
def test_location_puts_bonds_and_reits_in_the_ira_and_munis_in_taxable(use_hook):
    h = location_household()
    c = plan_location(h, use_hook=use_hook)
    t = c.optimized.trades
    ira_buys = set(t[(t["account_id"] == "IRA") & (t["side"] == "buy")]["security_id"])
    assert ira_buys <= {"BND", "REIT"} and ira_buys
    assert "MUNI" not in ira_buys
    assert c.optimized.tax == 0.0  # no taxable sale: the cash is enough
    detail = c.detail.set_index("plan")
    assert detail.loc["asset_location", "exempt_in_ira"] == 0.0 and detail.loc["sleeves", "exempt_in_ira"] > 0
    assert detail.loc["asset_location", "annual_income_tax"] < detail.loc["sleeves", "annual_income_tax"]
    # no churn: the next run (windows over) trades nothing
    after = move_to(apply_trades(h, t), AS_OF + dt.timedelta(days=40))
    assert plan_location(after, use_hook=use_hook).optimized.trades.empty
