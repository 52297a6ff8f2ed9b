"""Issue 5, second pass: risk model + tracking error, drift bands, losses the household cannot use.

Hand-computed optima, same conventions as tests/test_optimization.py: prices 100, rates st 40.8% /
lt 23.8%, drift penalty 0.01 / 0.05 from 1% / 0.25 from 5%, trading cost 5 bp per side.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pyomo.environ as pyo
import pytest

from optimization import (
    OptimizerSettings,
    RiskModel,
    build_household_model,
    estimate_risk_model,
    household_problems_from_marts,
    household_standard_form,
    optimize_households,
    solve_household_model,
)
from optimization.extract import extract_quantities
from optimization.risk import HouseholdRisk, synthetic_price_history
from optimization.testing import MartBuilder

AS_OF = dt.date(2026, 3, 2)
LONG_AGO = dt.date(2023, 1, 10)
RECENT = AS_OF - dt.timedelta(days=100)
# No sector penalty, and no buying above target as a harvest substitute (substitute_room; its own
# tests are in tests/test_optimization_rules.py): each rule here alone, solvable by hand.
NO_SECTOR = dict(sector_drift_penalty=0.0, sector_drift_penalty_steps=((0.02, 0.0), (0.05, 0.0)), substitute_room=0.0,
                 asset_class_drift_penalty_steps=((0.01, 0.0), (0.05, 0.0)))
NO_BANDS = dict(drift_band_absolute=0.0, drift_band_relative=0.0, drift_band_total=0.0)


def run(builder, settings=OptimizerSettings(), risk_model=None):
    problems = household_problems_from_marts(builder.frames(), AS_OF, settings, risk_model=risk_model)
    return optimize_households(problems, settings)


def rows(trades):
    return [
        (r.account_id, r.side, r.security_id, None if pd.isna(r.lot_id) else r.lot_id, round(r.quantity, 6), r.reason)
        for r in trades.itertuples()
    ]


def two_stock_risk(specific=(0.16, 0.16)) -> RiskModel:
    """One market factor (20% vol), both stocks beta 1: a long-short active position has no
    factor risk, so TE^2 = d_A a_A^2 + d_B a_B^2."""
    return RiskModel(
        security_ids=("AAA", "BBB"), bucket=("Information Technology",) * 2, factor_names=("market",),
        exposures=np.array([[1.0], [1.0]]), factor_cov=np.array([[0.04]]), specific_var=np.array(specific),
        observations=np.array([500, 500]),
    )


def two_stocks(aaa_lots, bbb_lots, cash=0.0, **household) -> MartBuilder:
    b = MartBuilder(AS_OF).security("AAA", 100.0).security("BBB", 100.0)
    b.household("H1", **household).account("T1", "H1", taxable=True, fractional=True, cash=cash)
    b.target("H1", "AAA", 0.5).target("H1", "BBB", 0.5).target("H1", "CASH", 0.0)
    for lot_id, qty, cost, acquired in aaa_lots:
        b.lot(lot_id, "T1", "AAA", qty, cost, acquired)
    for lot_id, qty, cost, acquired in bbb_lots:
        b.lot(lot_id, "T1", "BBB", qty, cost, acquired)
    return b


# ------------------------------------------------------------------------------------------------
# risk model


def test_tracking_error_formula_by_hand():
    # a = (+10%, -10%), one factor with both betas 1: factor exposure 0, TE^2 = 0.09 x 0.01 + 0.16 x 0.01
    risk = HouseholdRisk(("market",), np.array([[1.0], [1.0]]), np.array([[0.04]]), np.array([0.09, 0.16]))
    assert math.isclose(risk.tracking_error(np.array([0.1, -0.1])), 0.05)
    # a = (+10%, 0): (0.1)^2 x 0.04 + 0.09 x 0.01 = 0.0013
    assert math.isclose(risk.tracking_error(np.array([0.1, 0.0])), math.sqrt(0.0013))


def test_estimate_risk_model_recovers_the_simulated_structure():
    ids = [f"S{i:02d}" for i in range(40)]
    sectors = {s: ("Tech", "Energy", "Health", "Banks")[i % 4] for i, s in enumerate(ids)}
    history = synthetic_price_history(ids, sectors, days=750, seed=5)  # market 16%, sector 10%, idio 20-35%
    history = history[~((history.security_id == "S39") & (history.price_date < "2026-01-01"))]  # new listing
    sec_frame = pd.DataFrame({"security_id": ids, "gics_sector": [sectors[s] for s in ids], "asset_class": "us_equity"})
    model = estimate_risk_model(history.sample(frac=1.0, random_state=1), sec_frame)  # row order irrelevant
    assert model.factor_names == ("market", "sector:Banks", "sector:Energy", "sector:Health", "sector:Tech",
                                  "style:volatility")
    vols = np.sqrt(np.diag(model.factor_cov))
    assert 0.13 < vols[0] < 0.19 and all(0.07 < v < 0.13 for v in vols[1:5])
    # the style factor is orthogonal to the others: every beta and sector loading is what it is without it
    plain = estimate_risk_model(history, sec_frame, style_factors=False)
    assert plain.factor_names == model.factor_names[:-1]
    complete = np.array([s != "S39" for s in ids])
    np.testing.assert_allclose(model.exposures[complete, :-1], plain.exposures[complete], atol=1e-9)
    assert (model.specific_var[complete] <= plain.specific_var[complete] * (1 + 2 / 750)).all()  # one dof less
    fitted = model.observations > 0
    assert not fitted[ids.index("S39")] and fitted.sum() == 39  # ~40 returns < 60: the prior
    assert 0.9 < model.exposures[fitted, 0].mean() < 1.1
    specific_vol = np.sqrt(model.specific_var[fitted])
    assert specific_vol.min() > 0.17 and specific_vol.max() < 0.38
    # the new listing: beta 1, sector 1, its sector's median specific variance
    j = ids.index("S39")
    assert model.exposures[j, 0] == 1.0 and model.exposures[j, model.factor_names.index("sector:Banks")] == 1.0
    banks = [i for i, s in enumerate(ids) if sectors[s] == "Banks" and fitted[i]]
    assert math.isclose(model.specific_var[j], float(np.median(model.specific_var[banks])))
    # a security the model never saw: same prior, and the household says so
    hr = model.household_risk(["S00", "NEW"], ["Tech", "Tech"])
    assert hr.unmodelled == ("NEW",) and hr.factor_names == ("market", "sector:Tech", "style:volatility")


def test_a_volatility_style_the_prices_carry_is_found_and_priced_in_tracking_error():
    """Planted: the most volatile names load +1 on a hidden 6%/yr factor, the calmest -1 (a
    low-volatility tilt is short it). The model finds it (exposures with the planted sign) and a
    low-volatility tilt's tracking error is higher with it than market + sector alone say."""
    rng = np.random.default_rng(11)
    ids = [f"S{i:02d}" for i in range(60)]
    sectors = {s: ("Tech", "Energy", "Health")[i % 3] for i, s in enumerate(ids)}
    days = 750
    idio = np.linspace(0.15, 0.40, 60)[rng.permutation(60)]
    load = np.where(idio > np.quantile(idio, 2 / 3), 1.0, np.where(idio < np.quantile(idio, 1 / 3), -1.0, 0.0))
    market = rng.normal(0.0003, 0.16 / np.sqrt(252), days)
    hidden = rng.normal(0.0, 0.06 / np.sqrt(252), days)
    r = market[:, None] + hidden[:, None] * load + rng.normal(0, 1, (days, 60)) * idio / np.sqrt(252)
    closes = 50.0 * np.exp(np.vstack([np.zeros(60), np.cumsum(r, axis=0)]))
    dates = pd.bdate_range(end="2026-03-02", periods=days + 1)
    history = pd.DataFrame({"security_id": np.tile(np.array(ids, dtype=object), days + 1),
                            "price_date": np.repeat(dates.to_numpy(), 60), "close": closes.ravel()})
    model = estimate_risk_model(history, sectors)
    plain = estimate_risk_model(history, sectors, style_factors=False)
    v = model.exposures[:, model.factor_names.index("style:volatility")]
    planted = load != 0
    assert (np.sign(v[planted]) == load[planted]).mean() > 0.9
    # a low-volatility tilt: +1% in each calm name, -1% in each volatile one
    active = -0.01 * load
    te = model.household_risk(ids, [sectors[s] for s in ids]).tracking_error(active)
    te_plain = plain.household_risk(ids, [sectors[s] for s in ids]).tracking_error(active)
    assert te > te_plain
    assert "volatility style factor" in model.method


def test_without_a_risk_model_tracking_error_columns_are_nan_and_with_one_they_match_the_hand_value():
    b = two_stocks([("A1", 60, 100.0, LONG_AGO)], [("B1", 40, 100.0, LONG_AGO)])
    _, outcomes = run(b)
    assert outcomes.tracking_error_before.isna().all() and outcomes.tracking_error_after.isna().all()
    # a = (+10%, -10%), d = 0.16 each: TE = sqrt(2 x 0.16 x 0.01) = 5.657%; zero-gain lots: it
    # rebalances fully, TE after 0
    trades, outcomes = run(b, risk_model=two_stock_risk())
    assert math.isclose(outcomes.tracking_error_before[0], math.sqrt(2 * 0.16 * 0.01))
    assert math.isclose(outcomes.tracking_error_after[0], 0.0, abs_tol=1e-9)
    assert rows(trades) == [("T1", "buy", "BBB", None, 10.0, "rebalance"), ("T1", "sell", "AAA", "A1", 10.0, "rebalance")]


def test_tracking_error_term_sells_a_short_term_gain_the_drift_penalty_alone_defers():
    # AAA 2% over with a 50% ST gain: 0.204 tax + 0.001 trading per dollar moved > 2 x 0.05 drift
    # benefit: deferred without a risk model (tests/test_optimization.py). With d = 0.16 and
    # risk_aversion 20, the secant slope of a^2 on [1%, 2%] is 0.03, so each dollar moved between
    # 2% and 1% also saves 2 x 20 x 0.16 x 0.03 = 0.192: 0.292 > 0.205, sell down to 1% ($100).
    # Below 1%: 2 x 20 x 0.16 x 0.015 + 2 x 0.01 = 0.116 < 0.205: stop. TE 1.131% -> 0.566%.
    b = two_stocks([("A1", 52, 50.0, RECENT)], [("B1", 48, 100.0, LONG_AGO)])
    settings = OptimizerSettings(risk_aversion=20.0)
    trades, outcomes = run(b, settings)
    assert trades.empty
    trades, outcomes = run(b, settings, risk_model=two_stock_risk())
    assert rows(trades) == [("T1", "buy", "BBB", None, 1.0, "rebalance"), ("T1", "sell", "AAA", "A1", 1.0, "rebalance")]
    assert math.isclose(outcomes.tracking_error_before[0], math.sqrt(2 * 0.16 * 0.02**2))
    assert math.isclose(outcomes.tracking_error_after[0], math.sqrt(2 * 0.16 * 0.01**2))


def test_risk_aversion_is_a_mutable_param_and_the_rows_carry_business_names():
    b = two_stocks([("A1", 52, 50.0, RECENT)], [("B1", 48, 100.0, LONG_AGO)])
    settings = OptimizerSettings(risk_aversion=20.0)
    (problem,) = household_problems_from_marts(b.frames(), AS_OF, settings, risk_model=two_stock_risk())
    model = build_household_model(problem, settings, household_standard_form(problem, settings))
    assert isinstance(model.factor_exposure_definition, pyo.Constraint)
    assert isinstance(model.factor_risk_definition, pyo.Constraint)
    assert solve_household_model(model, settings).status.value == "optimal"
    assert math.isclose(extract_quantities(model).sell.sum(), 1.0)
    model.risk_aversion = 0.0  # scenario: no rebuild
    assert solve_household_model(model, settings).status.value == "optimal"
    assert math.isclose(extract_quantities(model).sell.sum(), 0.0, abs_tol=1e-9)


# ------------------------------------------------------------------------------------------------
# drift bands


def test_household_inside_its_bands_does_not_trade_and_outside_them_rebalances():
    # AAA 50.5% / BBB 49.5%: 0.5% from target (< 1% band), drift 0.5% (< 2%). Zero-gain lots:
    # without bands moving $50 earns 2 x 0.01 > 0.001 trading; inside, today's drift is free.
    b = two_stocks([("A1", 50.5, 100.0, LONG_AGO)], [("B1", 49.5, 100.0, LONG_AGO)])
    trades, outcomes = run(b, OptimizerSettings(**NO_SECTOR))
    assert trades.empty and outcomes.status.tolist() == ["optimal"]
    assert "inside drift bands" in outcomes.message[0]
    trades, _ = run(b, OptimizerSettings(**NO_SECTOR, **NO_BANDS))
    assert rows(trades) == [("T1", "buy", "BBB", None, 0.5, "rebalance"), ("T1", "sell", "AAA", "A1", 0.5, "rebalance")]
    # a tighter band (0.25%) puts the same household outside: it rebalances
    trades, _ = run(b, OptimizerSettings(**NO_SECTOR, drift_band_absolute=0.0025))
    assert len(trades) == 2


def test_household_inside_its_bands_harvests_a_loss_above_the_threshold():
    # Same household, AAA's 50.5 shares split: A1 40.5 at cost 100, A2 10 ST at cost 150 (loss
    # 50/share: 0.408 x 0.5 = 0.204 per dollar sold). Inside the bands, selling s dollars of A2:
    # AAA's $50 overweight is free, then AAA under and cash over each cost 0.01 up to $100, 0.05
    # up to $500, 0.25 beyond; BBB is bought up to its $50 shortfall with the first proceeds.
    # Past s = 50: 0.0005 + 0.10 < 0.204 up to $500 under, 0.5 beyond: s = 550, 5.5 shares.
    b = two_stocks([("A1", 40.5, 100.0, LONG_AGO), ("A2", 10, 150.0, RECENT)], [("B1", 49.5, 100.0, LONG_AGO)])
    trades, outcomes = run(b, OptimizerSettings(**NO_SECTOR))
    assert "inside drift bands" in outcomes.message[0]
    # the harvest leaves AAA under target and its proceeds buy BBB in the same sector
    assert rows(trades) == [
        ("T1", "buy", "BBB", None, 0.5, "wash_sale_substitute"),
        ("T1", "sell", "AAA", "A2", 5.5, "tax_loss_harvest"),
    ]
    # a withdrawal inside the bands is raised (a cash need pays for trading), nothing more
    b2 = two_stocks([("A1", 50.5, 100.0, LONG_AGO)], [("B1", 49.5, 100.0, LONG_AGO)])
    b2.request("R1", "H1", "T1", "cash_withdrawal", 1000.0)
    trades, outcomes = run(b2, OptimizerSettings(**NO_SECTOR))
    assert outcomes.status.tolist() == ["optimal"]
    assert math.isclose(trades[trades.side == "sell"].trade_value.sum(), 1000.0)
    assert (trades.side == "sell").all()


# ------------------------------------------------------------------------------------------------
# losses the household cannot use this year


@pytest.mark.parametrize(
    "st_ytd, unusable_value, shares",
    [
        # no gains this year, $3,000 offset: every dollar of this loss is usable -> 5 shares
        (0.0, 0.5, 5.0),
        # YTD net -2,920: only $80 more of loss is usable (2 shares x $40). Shares 1-2 at full value
        # 0.1632 per dollar > 0.1005 (tier 2 + trading); past them 0.5 x 0.1632 = 0.0816 < 0.1005
        (-2920.0, 0.5, 2.0),
        # the same household valuing unusable losses at face value: 5 shares
        (-2920.0, 1.0, 5.0),
    ],
)
def test_losses_beyond_this_years_gains_and_the_ordinary_offset_are_worth_less(st_ytd, unusable_value, shares):
    # AAA and BBB at target ($5,000 each), AAA lot A2: 10 ST shares at cost 140 (loss $40/share,
    # 40% of price: 0.408 x 0.4 = 0.1632 per dollar). BBB is at target, so nothing is bought: each
    # dollar sold leaves AAA under and cash over, 2 x 0.01 up to $100, 2 x 0.05 up to $500, then
    # 2 x 0.25; plus 0.0005 trading. Full value: 0.1632 > 0.1005 -> sell to $500 (5 shares).
    b = two_stocks([("A1", 40, 100.0, LONG_AGO), ("A2", 10, 140.0, RECENT)], [("B1", 50, 100.0, LONG_AGO)],
                   realized_st_gain_ytd=st_ytd)
    settings = OptimizerSettings(**NO_SECTOR, **NO_BANDS, unusable_loss_value=unusable_value)
    trades, outcomes = run(b, settings)
    assert rows(trades) == [("T1", "sell", "AAA", "A2", shares, "tax_loss_harvest")]
    assert math.isclose(outcomes.estimated_tax[0], -shares * 40 * 0.408)  # reported at the true rate


def test_settings_reject_bad_risk_and_loss_knobs():
    with pytest.raises(ValueError):
        OptimizerSettings(unusable_loss_value=1.5)
    with pytest.raises(ValueError):
        OptimizerSettings(specific_risk_breakpoints=(0.01, 0.005))
    with pytest.raises(ValueError):
        OptimizerSettings(risk_linearization="exact")
    assert replace(OptimizerSettings(), risk_aversion=0.0).risk_aversion == 0.0


def test_factor_exposures_of_the_solved_model_are_those_of_the_trades_it_makes():
    # factor_exposure_definition is written with the trade columns (value after = held + buys -
    # sells - gifts); y must be B'(w_after - t) of the solution, switched (wash-sale) securities included
    from optimization import estimate_risk_model
    from optimization.extract import holdings_after
    from optimization.testing import synthetic_frames

    frames = synthetic_frames(2, n_securities=60, n_lots=400, n_accounts=2, as_of=AS_OF)
    sec = frames["dim_securities"]
    risk = estimate_risk_model(
        synthetic_price_history(sec.security_id.tolist(), dict(zip(sec.security_id, sec.gics_sector)), days=300, seed=2),
        sec,
    )
    settings = OptimizerSettings(risk_aversion=5.0)
    for problem in household_problems_from_marts(frames, AS_OF, settings, risk_model=risk):
        form = household_standard_form(problem, settings)
        model = build_household_model(problem, settings, form)
        assert solve_household_model(model, settings).status.value == "optimal"
        values, _ = holdings_after(problem, form.facts, extract_quantities(model))
        active = values - problem.target_weight * form.facts.value_after
        expected = problem.risk.exposures.T @ active / form.facts.value_after
        np.testing.assert_allclose([pyo.value(model.factor_exposure[f]) for f in model.FACTORS], expected,
                                   rtol=1e-6, atol=1e-9)
