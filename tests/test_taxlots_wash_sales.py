"""Wash sales across the household (IRC 1091), on the tax-rules.md vectors and the rules around them."""

from __future__ import annotations

from decimal import Decimal

from taxlots import Account, Security, Transaction, replay, replay_both_views
from tests.taxlots_helpers import D, buy, day, lot, realized, sell

IRA = Account("IRA1", "traditional_ira")
ROTH = Account("ROTH1", "roth_ira")


def test_ws1_repurchase_within_30_days_disallows_the_loss_and_tacks_the_holding_period():
    result = replay([
        buy("B1", "A", "2026-01-02", "X", 100, 1000),
        sell("S1", "A", "2026-03-02", "X", 100, 750),
        buy("B2", "A", "2026-03-20", "X", 100, 800),
    ])
    (sold,) = realized(result, "S1")
    assert sold.gain == D(-250) and sold.disallowed_loss == D(250) and sold.reportable_gain == 0
    new = lot(result, "A", "B2")
    assert new.basis == D(1050) and new.wash_sale_adjustment == D(250)
    # held 59 days before the sale: the replacement's holding period starts 59 days before its purchase
    assert new.adjusted_acquired_date == day("2026-01-20")
    assert new.source_lot_ids == ("B1",)


def test_ws2_purchases_before_the_sale_replace_in_acquisition_order_across_the_year_end():
    result = replay([
        buy("SEP", "A", "2009-09-24", "M", 100, 5000),
        buy("DEC18", "A", "2009-12-18", "M", 50, 2750),
        buy("DEC28", "A", "2009-12-28", "M", 25, 1125),
        sell("S1", "A", "2010-01-07", "M", 100, 4000, lot="SEP"),
    ])
    (sold,) = realized(result, "S1")
    assert sold.gain == D(-1000)
    assert sold.disallowed_loss == D(750) and sold.reportable_gain == D(-250)
    assert lot(result, "A", "DEC18").basis == D(3250)
    assert lot(result, "A", "DEC28").basis == D(1375)


def test_ws4_replacement_basis_is_its_cost_plus_the_disallowed_loss():
    result = replay([buy("B1", "A", "2025-10-01", "X", 1, 100), sell("S1", "A", "2026-01-15", "X", 1, 80),
                     buy("B2", "A", "2026-02-01", "X", 1, 90)])
    assert lot(result, "A", "B2").basis == D(110)


def test_ws5_cheaper_replacement_still_carries_the_whole_disallowed_loss():
    result = replay([buy("B1", "A", "2025-10-01", "X", 1, 100), sell("S1", "A", "2026-01-15", "X", 1, 80),
                     buy("B2", "A", "2026-02-01", "X", 1, 70)])
    assert lot(result, "A", "B2").basis == D(90)


def test_ws6_ira_replacement_disallows_the_loss_permanently_without_basis_increase():
    result = replay([buy("B1", "A", "2026-01-05", "X", 100, 1000), sell("S1", "A", "2026-06-01", "X", 100, 600),
                     buy("B2", "IRA1", "2026-06-02", "X", 100, 610)], accounts=[IRA])
    (sold,) = realized(result, "S1")
    assert sold.disallowed_loss == D(400) and sold.permanently_disallowed == D(400)
    assert sold.reportable_gain == 0
    ira_lot = lot(result, "IRA1", "B2")
    assert ira_lot.basis == D(610) and ira_lot.wash_sale_adjustment == 0
    assert sold.wash_links[0].permanent


def test_roth_replacement_is_permanent_too():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), sell("S1", "A", "2026-06-01", "X", 10, 600),
                     buy("B2", "ROTH1", "2026-05-20", "X", 10, 610)], accounts=[ROTH])
    assert realized(result, "S1")[0].permanently_disallowed == D(400)
    assert lot(result, "ROTH1", "B2").basis == D(610)


def test_ws9_partial_replacement_disallows_only_that_fraction():
    result = replay([buy("B1", "A", "2026-01-05", "X", 100, 5000), sell("S1", "A", "2026-06-01", "X", 100, 4000),
                     buy("B2", "A", "2026-06-10", "X", 50, 1000)])
    (sold,) = realized(result, "S1")
    assert sold.disallowed_loss == D(500) and sold.reportable_gain == D(-500)
    new = lot(result, "A", "B2")
    assert new.basis == D(1500) and new.basis_per_share == D(30)


def test_the_window_crosses_the_year_end():
    result = replay([buy("B1", "A", "2025-06-02", "X", 10, 1000), sell("S1", "A", "2025-12-20", "X", 10, 800),
                     buy("B2", "A", "2026-01-15", "X", 10, 820)])
    assert realized(result, "S1")[0].disallowed_loss == D(200)
    assert lot(result, "A", "B2").basis == D(1020)


def test_a_purchase_31_calendar_days_after_the_sale_is_not_a_replacement():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), sell("S1", "A", "2026-03-02", "X", 10, 800),
                     buy("B2", "A", "2026-04-02", "X", 10, 820), buy("B3", "A", "2026-04-01", "X", 1, 82)])
    assert realized(result, "S1")[0].disallowed_loss == D(20)  # only B3 (day 30) replaces one share
    assert lot(result, "A", "B2").basis == D(820)


def test_a_purchase_30_days_before_the_sale_counts_and_31_days_before_does_not():
    result = replay([buy("OLD", "A", "2026-01-01", "X", 10, 1000), buy("D31", "A", "2026-01-30", "X", 1, 100),
                     buy("D30", "A", "2026-01-31", "X", 1, 100), sell("S1", "A", "2026-03-02", "X", 10, 800, lot="OLD")])
    assert realized(result, "S1")[0].disallowed_loss == D(20)
    assert lot(result, "A", "D30").basis == D(120) and lot(result, "A", "D31").basis == D(100)


def test_a_gain_is_never_a_wash_sale():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), sell("S1", "A", "2026-03-02", "X", 10, 1200),
                     buy("B2", "A", "2026-03-05", "X", 10, 1190)])
    assert realized(result, "S1")[0].disallowed_loss == 0
    assert lot(result, "A", "B2").basis == D(1190)


def test_selling_part_of_a_lot_at_a_loss_while_keeping_the_rest_is_not_a_wash_sale():
    result = replay([buy("B1", "A", "2026-03-01", "X", 100, 10000), sell("S1", "A", "2026-03-10", "X", 40, 3600)])
    assert realized(result, "S1")[0].disallowed_loss == 0
    assert lot(result, "A", "B1").quantity == D(60) and lot(result, "A", "B1").basis == D(6000)


def test_the_spouse_account_replacement_is_a_wash_sale_in_the_household_but_not_for_the_custodian():
    txns = [buy("B1", "OWNER", "2026-01-05", "X", 10, 1000), sell("S1", "OWNER", "2026-06-01", "X", 10, 700),
            buy("B2", "SPOUSE", "2026-06-15", "X", 10, 720)]
    household, custodian, differences = replay_both_views(
        txns, [Account("OWNER", "individual"), Account("SPOUSE", "individual")])
    assert realized(household, "S1")[0].disallowed_loss == D(300)
    assert realized(custodian, "S1")[0].disallowed_loss == 0
    assert lot(household, "SPOUSE", "B2").basis == D(1020) and lot(custodian, "SPOUSE", "B2").basis == D(720)
    by_kind = {d.kind: d for d in differences}
    assert by_kind["disallowed_loss"].difference == D(300)
    assert "another household account SPOUSE" in by_kind["disallowed_loss"].reason
    assert by_kind["basis"].lot_id == "B2" and by_kind["basis"].difference == D(300)


def test_substantially_identical_etfs_on_the_same_index_are_replacements_by_configuration():
    securities = [Security("VOO", "SP500", "etf"), Security("IVV", "SP500", "etf"), Security("VTI", "", "etf")]
    txns = [buy("B1", "A", "2026-01-05", "VOO", 10, 5000), sell("S1", "A", "2026-06-01", "VOO", 10, 4500),
            buy("B2", "A", "2026-06-02", "IVV", 10, 4600), buy("B3", "A", "2026-06-02", "VTI", 10, 3000)]
    household, custodian, differences = replay_both_views(txns, securities=securities)
    assert lot(household, "A", "B2").basis == D(5100)
    assert lot(household, "A", "B3").basis == D(3000)  # a different index is not identical
    assert realized(custodian, "S1")[0].disallowed_loss == 0
    assert any("substantially identical IVV" in d.reason for d in differences)


def test_a_replacement_share_absorbs_at_most_one_loss_share():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), buy("B2", "A", "2026-01-06", "X", 10, 1000),
                     sell("S1", "A", "2026-06-01", "X", 10, 800, lot="B1"),
                     sell("S2", "A", "2026-06-02", "X", 10, 700, lot="B2"),
                     buy("B3", "A", "2026-06-10", "X", 10, 750)])
    # S1 happened first: it takes the 10 replacement shares; S2 finds none left
    assert realized(result, "S1")[0].disallowed_loss == D(200)
    assert realized(result, "S2")[0].disallowed_loss == 0
    assert lot(result, "A", "B3").basis == D(950)


def test_loss_sales_take_replacements_in_the_order_they_happened_and_shares_in_acquisition_order():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000),
                     sell("S1", "A", "2026-06-01", "X", 10, 800),
                     buy("R1", "B", "2026-06-05", "X", 4, 330), buy("R2", "A", "2026-06-08", "X", 10, 830)])
    links = realized(result, "S1")[0].wash_links
    assert [(link.replacement_lot_id, link.shares) for link in links] == [("R1", D(4)), ("R2.1", D(6))]
    assert lot(result, "A", "R2.1").basis == D(498) + D(120) and lot(result, "A", "R2").basis == D(332)


def test_a_dividend_reinvestment_inside_the_window_is_a_purchase():
    result = replay([buy("B1", "A", "2026-01-05", "X", 100, 10000), sell("S1", "A", "2026-06-01", "X", 50, 4000),
                     buy("DRIP", "A", "2026-06-15", "X", 2, 160, kind="reinvest")])
    assert realized(result, "S1")[0].disallowed_loss == D(40)
    assert lot(result, "A", "DRIP").basis == D(200)


def test_a_replacement_bought_before_the_loss_sale_tacks_the_days_the_sold_lot_was_held():
    result = replay([buy("OLD", "A", "2025-01-02", "X", 10, 1000), buy("NEW", "A", "2026-05-20", "X", 10, 700),
                     sell("S1", "A", "2026-06-01", "X", 10, 650, lot="OLD")])
    new = lot(result, "A", "NEW")
    assert new.basis == D(1050)
    assert new.adjusted_acquired_date == day("2026-05-20") - (day("2026-06-01") - day("2025-01-02"))


def test_a_loss_sale_inside_an_ira_is_no_wash_sale():
    result = replay([buy("B1", "IRA1", "2026-01-05", "X", 10, 1000), sell("S1", "IRA1", "2026-06-01", "X", 10, 800),
                     buy("B2", "A", "2026-06-05", "X", 10, 810)], accounts=[IRA])
    assert realized(result, "S1")[0].disallowed_loss == 0 and realized(result, "S1")[0].reportable_gain == 0
    assert lot(result, "A", "B2").basis == D(810)


def test_shares_sold_in_the_same_sale_are_not_replacements():
    result = replay([buy("OLD", "A", "2025-01-02", "X", 10, 1000), buy("NEW", "A", "2026-05-20", "X", 10, 900),
                     sell("S1", "A", "2026-06-01", "X", 20, 1600)])
    assert all(r.disallowed_loss == 0 for r in realized(result, "S1"))
    assert result.open_lots == []


def test_a_split_inside_the_window_scales_the_loss_shares_still_waiting():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), sell("S1", "A", "2026-06-01", "X", 10, 800),
                     Transaction("SPLIT", "A", day("2026-06-05"), "split", "X", ratio=D(2)),
                     buy("B2", "A", "2026-06-10", "X", 20, 820)])
    assert realized(result, "S1")[0].disallowed_loss == D(200)
    assert lot(result, "A", "B2").basis == D(1020)


def test_the_household_view_reports_the_permanent_ira_loss_the_custodian_misses():
    _, custodian, differences = replay_both_views(
        [buy("B1", "A", "2026-01-05", "X", 100, 1000), sell("S1", "A", "2026-06-01", "X", 100, 600),
         buy("B2", "IRA1", "2026-06-02", "X", 100, 610)], [IRA])
    assert realized(custodian, "S1")[0].disallowed_loss == 0
    (diff,) = differences
    assert diff.kind == "disallowed_loss" and diff.difference == D(400) and "permanently" in diff.reason
    assert Decimal(0) == sum(d.difference for d in differences if d.kind == "basis")


def test_an_account_not_described_belongs_to_the_household_named():
    result = replay([buy("B1", "A", "2026-01-05", "X", 10, 1000), sell("S1", "A", "2026-06-01", "X", 10, 700),
                     buy("B2", "NEW", "2026-06-15", "X", 10, 720)], accounts=[Account("A", "individual", "H1")])
    assert lot(result, "NEW", "B2").basis == D(1020)
