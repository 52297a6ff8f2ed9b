"""Life-cycle events through the daily run's path: marts (fct_requests, settings) -> problems ->
optimizer -> trades -> taxes-saved report. Hand-checked answers (docs/lifecycle.md "In the daily run").

- a household-level cash_withdrawal: the accounts are chosen (optimization/policies.py), an IRA
  distribution priced at the ordinary rate;
- a tax_loss_harvest request: $X of losses sold today, the groups held out of buying until
  hold_until (also on later days, past their 30-day window);
- the year-round harvest threshold (OptimizerSettings.harvest_threshold_*);
- the requests file's validation (file, line, field);
- the taxes-saved report's comparison for a household withdrawal.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from custodian.layout import REQUESTS
from custodian.load import _unknown_accounts
from custodian.parse import parse_landing_file
from delivery.taxes_saved import taxes_saved_by_account
from optimization import OptimizerSettings, household_problems_from_marts, optimize_households
from optimization import policies
from optimization.testing import MartBuilder

AS_OF = dt.date(2026, 11, 20)
OLD = dt.date(2020, 1, 2)  # long-term
RECENT = dt.date(2026, 9, 1)  # short-term
# no drift price, no bands: only tax and trading cost decide (the hand-checks of tests/test_lifecycle.py)
TAX_ONLY = OptimizerSettings(drift_penalty=0.0, drift_penalty_steps=(), sector_drift_penalty=0.0,
                             sector_drift_penalty_steps=(), asset_class_drift_penalty_steps=(),
                             drift_band_absolute=0.0, drift_band_total=0.0)


def solve(builder: MartBuilder, settings: OptimizerSettings = TAX_ONLY, as_of: dt.date = AS_OF):
    problems = household_problems_from_marts(builder.frames(), as_of, settings)
    trades, outcomes = optimize_households(problems, settings)
    assert (outcomes["status"] == "optimal").all(), outcomes[["status", "message"]].to_dict("records")
    return problems, trades, outcomes


# ---------------------------------------------------------------------------------------------
# household-level withdrawal


def withdrawal_household(taxable_lots: list[tuple], amount: float, **request) -> MartBuilder:
    b = (MartBuilder(AS_OF).security("LOSS", 80.0).security("HIGH", 100.0).security("LOW", 100.0)
         .security("STG", 100.0).security("IRAX", 100.0)
         .household("H1", st_rate=0.408, lt_rate=0.238, ordinary_rate=0.37)
         .account("TAX", "H1", taxable=True, cash=0.0).account("IRA", "H1", taxable=False, cash=0.0)
         .lot("I1", "IRA", "IRAX", 300, 50.0, OLD))
    for lot in taxable_lots:
        b.lot(*lot)
    for sid, w in (("LOSS", 0.2), ("HIGH", 0.2), ("LOW", 0.2), ("STG", 0.2), ("IRAX", 0.2)):
        b.target("H1", sid, w)
    return b.request("R1", "H1", request.pop("account_id", None), "cash_withdrawal", amount, **request)


def test_household_withdrawal_comes_from_losses_then_high_basis_in_the_taxable_account():
    # 15,000: the 20/share LT loss lot (10,000), then 50 shares of the 95-basis lot (gain 5/share);
    # the IRA would cost 0.37 a dollar
    b = withdrawal_household([("L1", "TAX", "LOSS", 125, 100.0, OLD), ("L2", "TAX", "HIGH", 100, 95.0, OLD),
                              ("L3", "TAX", "LOW", 100, 20.0, OLD)], 15_000, account_choice="household")
    problems, trades, outcomes = solve(b)
    assert {a.account_id: a.withdrawal for a in problems[0].accounts} == {"IRA": 0.0, "TAX": 15_000.0}
    sells = trades[trades["side"] == "sell"].set_index("lot_id")
    assert set(sells.index) == {"L1", "L2"}
    assert sells.loc["L1", "quantity"] == pytest.approx(125) and sells.loc["L2", "quantity"] == pytest.approx(50)
    assert trades["estimated_tax"].sum() == pytest.approx(-2_500 * 0.238 + 250 * 0.238)  # -535.50
    assert "from the household: TAX 15,000.00" in outcomes["message"].iloc[0]


def test_household_withdrawal_comes_from_the_ira_when_every_taxable_dollar_is_a_95pct_short_term_gain():
    # taxable: 0.408 x 0.95 = 0.3876 of tax per dollar; IRA: 0.37 (ordinary income)
    lots = [("S1", "TAX", "STG", 100, 5.0, RECENT)]
    problems, trades, outcomes = solve(withdrawal_household(lots, 5_000))  # no account: the household
    assert {a.account_id: a.withdrawal for a in problems[0].accounts} == {"IRA": 5_000.0, "TAX": 0.0}
    sells = trades[trades["side"] == "sell"]
    assert list(sells["lot_id"]) == ["I1"] and sells["quantity"].iloc[0] == pytest.approx(50)
    assert set(sells["reason"]) == {"cash_withdrawal"}
    assert "IRA distribution taxed as ordinary income 1,850.00" in outcomes["message"].iloc[0]
    # the named eligible accounts win over the price: only TAX may pay
    problems, trades, _ = solve(withdrawal_household(lots, 5_000, account_choice="household", eligible_accounts="TAX"))
    assert {a.account_id: a.withdrawal for a in problems[0].accounts} == {"IRA": 0.0, "TAX": 5_000.0}
    assert list(trades.loc[trades["side"] == "sell", "lot_id"]) == ["S1"]


def test_a_household_withdrawal_that_drains_an_account_never_asks_it_for_a_fraction_of_a_cent_more():
    # Found on the demo firm (HH00097): the cheapest source is every lot of an account, worth
    # 233.3366; rounding its share of the split to the nearest cent asked for 233.34 and the
    # household was "infeasible before solve". Cents are rounded down per account; the missing
    # cent goes to the account with room (the IRA).
    b = withdrawal_household([], 1_000).security("ODD", 33.3338).lot("L9", "TAX", "ODD", 7, 50.0, OLD)
    problems, trades, outcomes = solve(b)
    assert {a.account_id: a.withdrawal for a in problems[0].accounts} == {"IRA": 766.67, "TAX": 233.33}
    sells = trades[trades["side"] == "sell"].set_index("lot_id")
    assert sells.loc["L9", "quantity"] == pytest.approx(7)  # the loss lot, all of it


def test_a_named_withdrawal_is_unchanged():
    lots = [("S1", "TAX", "STG", 100, 5.0, RECENT)]
    problems, trades, _ = solve(withdrawal_household(lots, 5_000, account_id="TAX"))
    assert {a.account_id: a.withdrawal for a in problems[0].accounts} == {"IRA": 0.0, "TAX": 5_000.0}


def test_withdrawal_split_spans_accounts_cheapest_dollar_first():
    # 12,000: 10,000 of loss lot (negative tax), 2,000 of the IRA (0.37) before the 95% ST gain (0.3876)
    b = withdrawal_household([("L1", "TAX", "LOSS", 125, 100.0, OLD), ("S1", "TAX", "STG", 100, 5.0, RECENT)], 12_000)
    problem = household_problems_from_marts(b.frames(), AS_OF, TAX_ONLY)[0]
    assert {a.account_id: a.withdrawal for a in problem.accounts} == {"IRA": 2_000.0, "TAX": 10_000.0}
    base = household_problems_from_marts(withdrawal_household([("L1", "TAX", "LOSS", 125, 100.0, OLD)], 0).frames(),
                                         AS_OF, TAX_ONLY)[0]
    assert policies.withdrawal_split(base, 10_500.333) == {"IRA": 500.33, "TAX": 10_000.0}  # cents
    assert policies.withdrawal_split(base, 10_000, eligible=["IRA"]) == {"IRA": 10_000.0}


# ---------------------------------------------------------------------------------------------
# forced harvest with a hold


def harvest_household(as_of: dt.date = AS_OF) -> MartBuilder:
    return (MartBuilder(as_of).security("AAA", 60.0, group="G_A").security("BBB", 90.0).security("CCC", 100.0)
            .household("H1").account("TAX", "H1", taxable=True, fractional=False, cash=0.0)
            .lot("A1", "TAX", "AAA", 100, 100.0, OLD)    # 40% loss, 40/share
            .lot("B1", "TAX", "BBB", 100, 100.0, OLD)    # 10% loss
            .lot("C1", "TAX", "CCC", 100, 50.0, OLD)     # gain
            .target("H1", "AAA", 0.25).target("H1", "BBB", 0.35).target("H1", "CCC", 0.40))


def test_tax_loss_harvest_sells_the_deepest_loss_first_in_whole_shares_and_holds_the_group():
    # 1,100 of losses: AAA first (40% of basis), 1,100 / 40 = 27.5 -> 28 whole shares (1,120)
    settings = OptimizerSettings(tax_weight=0.0)  # tax-blind: only the request harvests
    b = harvest_household().request("R1", "H1", None, "tax_loss_harvest", 1_100, hold_until=dt.date(2027, 2, 1))
    problems, trades, outcomes = solve(b, settings)
    assert "G_A" in problems[0].no_buy_groups
    sells = trades[trades["side"] == "sell"].set_index("lot_id")
    assert sells.loc["A1", "quantity"] == pytest.approx(28)
    assert sells.loc["A1", "realized_gain"] == pytest.approx(-1_120)
    assert sells.loc["A1", "reason"] == "tax_loss_harvest"
    assert "B1" not in sells.index
    assert not ((trades["side"] == "buy") & (trades["security_id"] == "AAA")).any()
    assert "G_A held out of buying until 2027-02-01" in outcomes["message"].iloc[0]


def test_the_hold_outlives_the_30_day_window_until_hold_until():
    day0 = dt.date(2026, 10, 1)
    later = day0 + dt.timedelta(days=40)  # the loss sale's no_buy window ended on day 30

    def builder(request: bool, hold_until=dt.date(2026, 12, 31)):
        b = (MartBuilder(later).security("AAA", 60.0, group="G_A").security("CCC", 100.0)
             .household("H1").account("TAX", "H1", taxable=True, cash=3_000.0)
             .lot("A1", "TAX", "AAA", 50, 100.0, OLD).lot("C1", "TAX", "CCC", 100, 50.0, OLD)
             .target("H1", "AAA", 0.5).target("H1", "CCC", 0.5)
             .window("H1", "G_A", "no_buy", day0))
        if request:
            b.request("R1", "H1", None, "tax_loss_harvest", 1_000, hold_until=hold_until, requested_on=day0)
        return b

    _, trades, _ = solve(builder(False), OptimizerSettings(), later)
    assert ((trades["side"] == "buy") & (trades["security_id"] == "AAA")).any()  # window over: buys back
    problems, trades, outcomes = solve(builder(True), OptimizerSettings(), later)
    assert "G_A" in problems[0].no_buy_groups
    assert not ((trades["side"] == "buy") & (trades["security_id"] == "AAA")).any()
    assert not (trades["side"] == "sell").any()  # an earlier day's request sells nothing today
    assert "tax_loss_harvest hold until 2026-12-31" in outcomes["message"].iloc[0]
    problems = household_problems_from_marts(builder(True, dt.date(2026, 11, 1)).frames(), later, OptimizerSettings())
    assert "G_A" not in problems[0].no_buy_groups  # the hold ended


# ---------------------------------------------------------------------------------------------
# year-round harvest threshold


def threshold_household(as_of: dt.date, **overrides) -> MartBuilder:
    return (MartBuilder(as_of).security("SMALL", 90.0).security("DEEP", 70.0).security("OVER", 90.0)
            .security("CORE", 100.0)
            .household("H1", **overrides).account("TAX", "H1", taxable=True, cash=0.0)
            .lot("S1", "TAX", "SMALL", 100, 100.0, OLD)   # 10% loss
            .lot("D1", "TAX", "DEEP", 100, 100.0, OLD)    # 30% loss
            .lot("O1", "TAX", "OVER", 300, 100.0, OLD)    # 10% loss, far over target
            .lot("C1", "TAX", "CORE", 300, 50.0, OLD)
            .target("H1", "SMALL", 0.15).target("H1", "DEEP", 0.15).target("H1", "OVER", 0.10).target("H1", "CORE", 0.60))


def test_threshold_tightens_through_the_year_and_closes_small_losses():
    july = dt.date(2026, 7, 2)
    # 0.20 on January 1 -> 0.05 on December 1: 0.20 - 0.15 x 182 / 334
    expected = 0.20 - 0.15 * 182 / 334
    assert policies.harvest_threshold(july, 0.20, 0.05) == pytest.approx(expected)
    assert policies.harvest_threshold(dt.date(2026, 12, 15), 0.20, 0.05) == 0.05
    settings = OptimizerSettings(harvest_threshold_start=0.20)
    problem = household_problems_from_marts(threshold_household(july).frames(), july, settings)[0]
    closed = dict(zip(problem.lots.lot_id, problem.lots.no_loss_sale))
    assert closed == {"C1": False, "D1": False, "O1": False, "S1": True}  # OVER is 1% over target: may trim
    assert f"harvest threshold {expected:.4f}" in problem.notes[-1]
    # December: 5% -> the 10% loss is a candidate again
    december = dt.date(2026, 12, 2)
    problem = household_problems_from_marts(threshold_household(december).frames(), december, settings)[0]
    assert not problem.lots.no_loss_sale.any()
    # off by default, and per household from dim_households
    assert not household_problems_from_marts(threshold_household(july).frames(), july)[0].lots.no_loss_sale.any()
    problem = household_problems_from_marts(
        threshold_household(july, harvest_threshold_start=0.05, harvest_threshold_end=0.05).frames(), july, settings)[0]
    assert not problem.lots.no_loss_sale.any()


def test_threshold_in_the_solve_keeps_the_small_loss():
    july = dt.date(2026, 7, 2)
    _, without, _ = solve(threshold_household(july), TAX_ONLY, july)
    assert "S1" in set(without["lot_id"])  # tax alone: every loss is worth selling
    settings = OptimizerSettings(**{**TAX_ONLY.__dict__, "harvest_threshold_start": 0.20})
    _, trades, _ = solve(threshold_household(july), settings, july)
    assert "S1" not in set(trades["lot_id"]) and "D1" in set(trades["lot_id"])


def test_a_forced_harvest_wins_over_the_threshold():
    july = dt.date(2026, 7, 2)
    b = threshold_household(july).request("R1", "H1", None, "tax_loss_harvest", 2_000, hold_until=dt.date(2026, 9, 1))
    settings = OptimizerSettings(harvest_threshold_start=0.20, tax_weight=0.0)
    problems, trades, _ = solve(b, settings, july)
    # DEEP first (30%): 2,000 / 30 = 66.667 shares (fractional account, 0.001)
    sells = trades[trades["side"] == "sell"].set_index("lot_id")
    assert sells.loc["D1", "quantity"] == pytest.approx(66.667, abs=1e-3)
    assert bool(dict(zip(problems[0].lots.lot_id, problems[0].lots.no_loss_sale))["S1"])


# ---------------------------------------------------------------------------------------------
# the requests file


def test_requests_file_validation_names_file_line_and_field():
    content = (
        "request_id,household_id,account_id,request_type,amount,account_choice,eligible_accounts,hold_until\n"
        "R1,H1,,cash_withdrawal,1000,household,TAX;IRA,\n"        # 2 ok
        "R2,H1,TAX,cash_withdrawal,1000,somewhere,,\n"            # 3 bad choice
        "R3,H1,,tax_loss_harvest,500,,,\n"                        # 4 no hold_until
        "R4,H1,,tax_loss_harvest,500,,,2027-13-01\n"              # 5 not a date
        "R5,H1,,charitable_gift,500,,,\n"                         # 6 gift without account
        "R6,H1,TAX,cash_withdrawal,5,,,2027-01-01\n"              # 7 hold on a withdrawal
        "R7,H1,,tax_loss_harvest,500,,,2027-01-31\n"              # 8 ok
        "R8,H1,TAX,charitable_gift,50,,TAX,\n"                    # 9 eligible on a gift
    ).encode()
    parsed = parse_landing_file(REQUESTS, "requests_20261120.csv", content)
    assert list(parsed.rows["request_id"]) == ["R1", "R7"]
    assert parsed.rows["hold_until"].iloc[1] == pd.Timestamp("2027-01-31")
    rejects = {r.source_line: (r.source_file, r.field, r.error) for r in parsed.rejects.itertuples()}
    assert rejects == {
        3: ("requests_20261120.csv", "account_choice", "not one of named, household"),
        4: ("requests_20261120.csv", "hold_until", "required for tax_loss_harvest"),
        5: ("requests_20261120.csv", "hold_until", "not a date (YYYY-MM-DD)"),
        6: ("requests_20261120.csv", "account_id", "required for charitable_gift"),
        7: ("requests_20261120.csv", "hold_until", "only for tax_loss_harvest"),
        9: ("requests_20261120.csv", "eligible_accounts", "only for a household cash_withdrawal"),
    }
    # the loader's unknown-account check leaves a household-level request (no account) alone
    kept, unknown = _unknown_accounts(parsed, {"TAX"})
    assert list(kept.rows["request_id"]) == ["R1", "R7"] and unknown.empty
    # a file of the old layout (5 columns) is still the layout
    old = parse_landing_file(REQUESTS, "requests_20261120.csv",
                             b"request_id,household_id,account_id,request_type,amount\nR1,H1,A1,cash_withdrawal,10\n")
    assert len(old.rows) == 1 and old.rejects.empty


# ---------------------------------------------------------------------------------------------
# the taxes-saved report


def test_taxes_saved_compares_a_household_withdrawal_with_the_taxable_account_paying_pro_rata():
    # ours: the IRA pays 5,000 (ordinary income 0.37 -> 1,850); naive: the taxable account pays,
    # 50 shares of the 95% ST gain lot: 4,750 x 0.408 = 1,938. Saved 88 (= 5,000 x (0.3876 - 0.37)).
    b = withdrawal_household([("S1", "TAX", "STG", 100, 5.0, RECENT)], 5_000)
    frames = b.frames()
    # nothing over target after the withdrawal but what the request sells
    _, trades, _ = solve(b)
    report = taxes_saved_by_account(
        trades, frames["fct_lots"], frames["dim_accounts"], frames["dim_households"], frames["fct_household_targets"],
        frames["fct_account_cash"], frames["fct_requests"], securities=frames["dim_securities"],
        wash_windows=frames["fct_wash_sale_windows"], as_of=AS_OF,
    ).set_index("account_id")
    assert report.loc["IRA", "actual_tax"] == pytest.approx(1_850.0)
    assert report.loc["IRA", "ordinary_income_tax_saved"] == pytest.approx(-1_850.0)
    assert report.loc["TAX", "naive_st_gain"] == pytest.approx(4_750.0)
    assert report.loc["TAX", "naive_tax"] == pytest.approx(1_938.0)
    assert report["taxes_saved_or_deferred"].sum() == pytest.approx(88.0)
    assert set(report["events"]) == {"cash_withdrawal:household"}


def test_the_what_if_runs_the_daily_split_in_one_solve():
    from dataclasses import replace as _replace

    from lifecycle.household import read_household
    from lifecycle.withdrawal import plan_withdrawal

    # a 1% ordinary rate: the IRA's free dollars come first, the rest from the joint account's cheapest lots
    household = _replace(read_household("lifecycle/examples/rebalanced"), ordinary_rate=0.01)
    c = plan_withdrawal(household, 50_000, method="split")
    assert len(c.detail) == 1 and c.detail["share_IRA"].iloc[0] + c.detail["share_JOINT"].iloc[0] == pytest.approx(1.0)
    assert 0 < c.detail["share_IRA"].iloc[0] < 0.25
    assert c.optimized.ordinary_income_tax == pytest.approx(0.01 * 50_000 * c.detail["share_IRA"].iloc[0], abs=0.01)
