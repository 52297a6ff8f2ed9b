"""Netting, the ordinary offset, carryforwards and tax from the rate seeds (tax-rules.md 4, 5, 6)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from taxlots import (
    HouseholdYear,
    RateTables,
    estimate_household_tax,
    marginal_rates,
    net_capital_gains,
    net_investment_income_tax,
    realized_by_term,
    replay,
    tax_on_long_term_gains,
)
from taxlots.charity import charitable_deduction, gain_tax_avoided
from tests.taxlots_helpers import D, buy, sell


@pytest.fixture(scope="module")
def tables():
    return RateTables.from_seeds()


def test_cl1_a_net_short_term_loss_offsets_3000_and_carries_the_rest_as_short_term():
    n = net_capital_gains(D(5000) - D(12000), D(3000) - D(1000))
    assert n.net == D(-5000) and n.ordinary_offset == D(3000)
    assert n.carryforward_short_term == D(2000) and n.carryforward_long_term == 0


def test_cl2_the_short_term_loss_is_used_first_against_ordinary_income():
    n = net_capital_gains(D(-1000), D(-6000))
    assert (n.offset_from_short_term, n.offset_from_long_term) == (D(1000), D(2000))
    assert n.carryforward_long_term == D(4000) and n.carryforward_short_term == 0


def test_cl3_married_filing_separately_offsets_only_1500():
    n = net_capital_gains(D(0), D(-10000), "married_separate")
    assert n.ordinary_offset == D(1500) and n.carryforward_long_term == D(8500)


def test_cl4_a_net_loss_under_the_limit_is_deducted_in_full():
    n = net_capital_gains(D(-2000), D(0))
    assert n.ordinary_offset == D(2000) and n.carryforward_short_term == n.carryforward_long_term == 0


def test_carryforwards_keep_their_character_next_year():
    n = net_capital_gains(D(1000), D(5000), carryforward_short_term=D(2000), carryforward_long_term=D(1000))
    # ST -1,000 nets against LT +4,000: 3,000 of net long-term gain
    assert n.taxable_long_term == D(3000) and n.taxable_short_term == 0


def test_rt1_long_term_gain_stacks_on_ordinary_income_across_the_zero_band_top(tables):
    assert tax_on_long_term_gains(D(40000), D(20000), tables.ltcg_bands(2025, "single")) == Decimal("1747.50")


def test_rt2_2026_married_joint(tables):
    assert tax_on_long_term_gains(D(90000), D(50000), tables.ltcg_bands(2026, "married_joint")) == Decimal("6165.00")


def test_rt3_income_above_the_15_percent_band_pays_20_percent(tables):
    assert tax_on_long_term_gains(D(600000), D(100000), tables.ltcg_bands(2025, "single")) == D(20000)


def test_rt5_niit_on_all_investment_income_when_magi_is_far_above_the_threshold(tables):
    threshold, rate = tables.niit_threshold(2026, "married_joint")
    assert net_investment_income_tax(D(400000), D(125000), threshold, rate) == D(4750)


def test_rt6_niit_limited_to_magi_above_the_threshold(tables):
    threshold, rate = tables.niit_threshold(2026, "married_joint")
    assert net_investment_income_tax(D(300000), D(125000), threshold, rate) == D(1900)


def test_ch1_long_term_gift_avoids_the_gain_tax_at_top_rates():
    assert gain_tax_avoided(D(10000), D(2000), "long", D("0.20") + D("0.038")) == D(1904)
    assert charitable_deduction(D(10000), D(2000), "long") == D(10000)


def test_ch2_short_term_gift_deduction_is_limited_to_basis():
    assert charitable_deduction(D(10000), D(2000), "short") == D(2000)
    assert gain_tax_avoided(D(10000), D(2000), "short", D("0.238")) == 0


def test_rates_come_from_the_row_effective_for_the_year(tables):
    assert tables.ordinary_brackets(2026, "single")[0].top == D(12400)
    assert tables.ordinary_brackets(2030, "single")[0].top == D(12400)  # latest rows carry forward
    assert tables.ordinary_brackets(2019, "single")[0].top == D(11925)  # before the first: earliest rows


def test_household_tax_adds_federal_niit_and_state_and_isolates_the_gains(tables):
    h = HouseholdYear(2026, "married_joint", "TX", D(90000), long_term_gain=D(50000))
    est = estimate_household_tax(tables, h)
    assert est.federal_long_term_tax == Decimal("6165.00") and est.niit == 0 and est.state_tax == 0
    assert est.capital_gains_tax == Decimal("6165.00")


def test_a_net_loss_lowers_the_tax_through_the_ordinary_offset(tables):
    h = HouseholdYear(2026, "single", "TX", D(100000), short_term_gain=D(-5000))
    est = estimate_household_tax(tables, h)
    assert est.ordinary_taxable_income == D(97000) and est.netting.carryforward_short_term == D(2000)
    assert est.capital_gains_tax == D(-660)  # 3,000 at 22%


def test_marginal_rates_match_the_dim_households_convention(tables):
    rates = marginal_rates(tables, 2026, "married_joint", "CA", D(300000))
    assert rates.short_term == Decimal("0.24") + Decimal("0.038") + Decimal("0.133")
    assert rates.long_term == Decimal("0.15") + Decimal("0.038") + Decimal("0.133")


def test_schedule_d_counts_taxable_accounts_and_excludes_disallowed_losses():
    result = replay([buy("B1", "A", "2026-01-05", "X", 100, 5000), sell("S1", "A", "2026-06-01", "X", 100, 4000),
                     buy("B2", "A", "2026-06-10", "X", 50, 1000)])
    assert realized_by_term(result.realized, 2026) == (D(-500), D(0))
