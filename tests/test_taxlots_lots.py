"""Lot relief, holding periods, and shares that arrive with a basis (transfers, gifts, inheritance, splits)."""

from __future__ import annotations

from taxlots import Security, Transaction, holding_term, replay
from tests.taxlots_helpers import D, buy, day, lot, realized, sell

THREE_LOTS = [buy("L1", "A", "2024-01-02", "X", 10, 1000), buy("L2", "A", "2025-01-02", "X", 10, 1500),
              buy("L3", "A", "2026-03-02", "X", 10, 1200)]


def relieved(result, sale_id):
    return [(r.lot_id, r.quantity) for r in realized(result, sale_id)]


def test_held_exactly_one_year_is_short_term_and_one_day_more_is_long_term():
    assert holding_term(day("2005-01-01"), day("2006-01-01")) == "short"
    assert holding_term(day("2005-01-01"), day("2006-01-02")) == "long"


def test_a_lot_bought_on_february_29_is_long_term_from_march_1():
    assert holding_term(day("2024-02-29"), day("2025-02-28")) == "short"
    assert holding_term(day("2024-02-29"), day("2025-03-01")) == "long"


def test_unidentified_sales_relieve_fifo():
    result = replay(THREE_LOTS + [sell("S", "A", "2026-06-01", "X", 15, 1800)])
    assert relieved(result, "S") == [("L1", D(10)), ("L2", D(5))]
    assert lot(result, "A", "L2").quantity == D(5) and lot(result, "A", "L2").basis == D(750)


def test_lifo_relieves_the_newest_lot_first():
    result = replay(THREE_LOTS + [sell("S", "A", "2026-06-01", "X", 15, 1800, method="lifo")])
    assert relieved(result, "S") == [("L3", D(10)), ("L2", D(5))]


def test_hifo_relieves_the_highest_basis_per_share_first():
    result = replay(THREE_LOTS + [sell("S", "A", "2026-06-01", "X", 15, 1800, method="hifo")])
    assert relieved(result, "S") == [("L2", D(10)), ("L3", D(5))]


def test_specific_identification_relieves_the_named_lot():
    result = replay(THREE_LOTS + [sell("S", "A", "2026-06-01", "X", 5, 600, lot="L3")])
    assert relieved(result, "S") == [("L3", D(5))]
    (r,) = realized(result, "S")
    assert r.basis == D(600) and r.gain == 0 and r.term == "short"


def test_tax_minimizing_order_takes_short_term_losses_then_long_term_losses_then_smallest_gains():
    # price 130: L3 (ST, basis 120) gain 10/sh, L2 (LT, 150) loss 20/sh, L1 (LT, 100) gain 30/sh,
    # L4 (ST, basis 140) loss 10/sh
    lots = THREE_LOTS + [buy("L4", "A", "2026-04-01", "X", 10, 1400)]
    result = replay(lots + [sell("S", "A", "2026-06-01", "X", 40, 5200, method="tax_min")])
    assert [lot_id for lot_id, _ in relieved(result, "S")] == ["L4", "L2", "L1", "L3"]


def test_mutual_fund_shares_are_relieved_at_average_cost():
    fund = [Security("FUND", security_type="mutual_fund")]
    result = replay([buy("L1", "A", "2025-01-02", "FUND", 10, 100), buy("L2", "A", "2026-01-02", "FUND", 10, 300),
                     sell("S", "A", "2026-06-01", "FUND", 5, 120)], securities=fund)
    (r,) = realized(result, "S")
    assert r.lot_id == "L1" and r.basis == D(100) and r.gain == D(20) and r.term == "long"
    assert sum(x.basis for x in result.open_lots) == D(300)  # 400 of basis, 100 relieved


def test_a_transfer_in_keeps_the_carried_basis_and_acquisition_date():
    result = replay([Transaction("T1", "A", day("2026-02-01"), "transfer_in", "X", D(10), D(400),
                                 lot_id="T1", acquired_date=day("2020-05-05")),
                     sell("S", "A", "2026-03-01", "X", 10, 1000)])
    (r,) = realized(result, "S")
    assert r.basis == D(400) and r.term == "long"


def test_inherited_shares_take_the_stepped_up_basis_and_are_long_term_at_once():
    result = replay([Transaction("I1", "A", day("2026-02-01"), "inherit", "X", D(10), D(5000), lot_id="I1"),
                     sell("S", "A", "2026-03-01", "X", 10, 5200)])
    (r,) = realized(result, "S")
    assert r.basis == D(5000) and r.gain == D(200) and r.term == "long"


def test_a_gift_carries_the_donors_basis_and_holding_period():
    result = replay([Transaction("G1", "A", day("2026-02-01"), "gift", "X", D(10), D(300), lot_id="G1",
                                 acquired_date=day("2018-03-01"), fmv=D(900)),
                     sell("S", "A", "2026-03-01", "X", 10, 1000)])
    (r,) = realized(result, "S")
    assert r.basis == D(300) and r.term == "long"


def test_a_gift_below_the_donors_basis_uses_fair_market_value_for_a_loss_and_no_gain_in_between():
    gift = Transaction("G1", "A", day("2026-02-01"), "gift", "X", D(10), D(1000), lot_id="G1",
                       acquired_date=day("2018-03-01"), fmv=D(600))
    loss = replay([gift, sell("S", "A", "2026-03-01", "X", 10, 500)])
    (r,) = realized(loss, "S")
    assert r.basis == D(600) and r.gain == D(-100) and r.term == "short"  # loss basis: held from the gift
    between = replay([gift, sell("S", "A", "2026-03-01", "X", 10, 800)])
    assert realized(between, "S")[0].gain == 0
    above = replay([gift, sell("S", "A", "2026-03-01", "X", 10, 1100)])
    assert realized(above, "S")[0].gain == D(100) and realized(above, "S")[0].term == "long"


def test_a_split_multiplies_shares_and_keeps_basis_and_dates():
    result = replay([buy("L1", "A", "2025-01-02", "X", 10, 1000),
                     Transaction("SP", "A", day("2026-01-10"), "split", "X", ratio=D(3))])
    split = lot(result, "A", "L1")
    assert split.quantity == D(30) and split.basis == D(1000) and split.acquired_date == day("2025-01-02")


def test_selling_more_than_is_held_is_an_error_naming_the_transaction():
    import pytest

    with pytest.raises(ValueError, match="S9"):
        replay([buy("L1", "A", "2025-01-02", "X", 10, 1000), sell("S9", "A", "2026-01-10", "X", 11, 1000)])


def test_a_replacement_for_inherited_shares_sold_at_a_loss_is_long_term_too():
    result = replay([Transaction("I1", "A", day("2026-02-01"), "inherit", "X", D(10), D(5000), lot_id="I1"),
                     sell("S", "A", "2026-03-01", "X", 10, 4000), buy("B2", "A", "2026-03-05", "X", 10, 4100),
                     sell("S2", "A", "2026-04-01", "X", 10, 5200)])
    (again,) = realized(result, "S2")
    assert again.basis == D(5100) and again.term == "long"
