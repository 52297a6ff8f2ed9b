"""Order files and the taxes-saved arithmetic, on hand-computed examples."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from delivery.orders import render_order_files
from delivery.taxes_saved import fifo_relief, taxes_saved_by_account

AS_OF = dt.date(2026, 11, 20)


@pytest.fixture
def household():
    lots = pd.DataFrame({
        "lot_id": ["L1", "L2", "L3"], "account_id": ["A1", "A1", "IRA"], "household_id": ["H1"] * 3,
        "security_id": ["AAA"] * 3, "quantity": [10.0, 10.0, 4.0], "cost_basis": [500.0, 1200.0, 100.0],
        "acquired_date": pd.to_datetime(["2020-03-02", "2026-06-01", "2019-01-02"]),
        "price": [100.0] * 3, "is_long_term": [True, False, True],
    })
    accounts = pd.DataFrame({"account_id": ["A1", "IRA"], "household_id": ["H1", "H1"],
                             "registration": ["individual", "traditional_ira"], "taxable": [True, False],
                             "custodian": ["schwab", "fidelity"]})
    households = pd.DataFrame({"household_id": ["H1"], "st_rate": [0.40], "lt_rate": [0.20], "advisory_fee_bps": [50.0]})
    # household value 2,400: target AAA 1,200 (50%), so 1,200 of AAA is over target
    targets = pd.DataFrame({"household_id": ["H1", "H1"], "security_id": ["AAA", "CASH"], "target_weight": [0.5, 0.5]})
    cash = pd.DataFrame({"account_id": ["A1", "IRA"], "household_id": ["H1", "H1"], "cash": [0.0, 0.0]})
    requests = pd.DataFrame(columns=["request_id", "household_id", "account_id", "request_type", "amount"])
    return lots, accounts, households, targets, cash, requests


def _trades(rows):
    columns = ["household_id", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
               "acquired_date", "cost_basis_relieved", "realized_gain", "holding_term", "estimated_tax", "reason"]
    return pd.DataFrame(rows, columns=columns)


def test_fifo_relieves_the_oldest_lot_first(household):
    lots = household[0]
    relieved = fifo_relief(lots, pd.DataFrame({"account_id": ["A1"], "security_id": ["AAA"], "quantity": [12.0]}))
    assert relieved[["lot_id", "sold"]].values.tolist() == [["L1", 10.0], ["L2", 2.0]]


def test_harvesting_the_loss_lot_instead_of_fifo_saves_and_defers_tax(household):
    lots, accounts, households, targets, cash, requests = household
    # Ours: sell the 10-share short-term loss lot L2 (loss 200) and 2 IRA shares (no tax).
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 10.0, 100.0, 1000.0, "L2", "2026-06-01", 1200.0, -200.0, "short", -80.0, "tax_loss_harvest"),
        ("H1", "IRA", "AAA", "sell", 2.0, 100.0, 200.0, "L3", "2019-01-02", 50.0, 150.0, "long", 0.0, "rebalance"),
    ])
    report = taxes_saved_by_account(trades, lots, accounts, households, targets, cash, requests).set_index("account_id")
    # Naive: 1,200 over target, pro rata by value: A1 holds 2,000 of 2,400 -> sells 1,000 = 10 shares FIFO = L1,
    # a 500 long-term gain at 20% = 100 of tax; the IRA sells 2 shares, no tax.
    a1 = report.loc["A1"]
    assert a1["naive_lt_gain"] == pytest.approx(500.0) and a1["naive_tax"] == pytest.approx(100.0)
    assert a1["actual_st_gain"] == pytest.approx(-200.0) and a1["actual_tax"] == pytest.approx(-80.0)
    assert a1["taxes_deferred"] == pytest.approx(100.0)
    assert a1["taxes_saved_loss_harvest"] == pytest.approx(80.0)
    assert a1["taxes_saved_st_to_lt"] == pytest.approx(0.0)
    assert a1["taxes_saved_or_deferred"] == pytest.approx(180.0)
    assert report.loc["IRA", "taxes_saved_or_deferred"] == pytest.approx(0.0)
    assert a1["advisory_fee_annual"] == pytest.approx(2000.0 * 0.005)


def test_waiting_for_long_term_counts_as_st_to_lt_conversion(household):
    lots, accounts, households, targets, cash, requests = household
    lots = lots.copy()
    lots.loc[0, ["cost_basis", "is_long_term"]] = [500.0, False]  # L1 is now a short-term gain lot
    trades = _trades([])
    report = taxes_saved_by_account(
        _trades([("H1", "IRA", "AAA", "sell", 0.0001, 100.0, 0.01, "L3", "2019-01-02", 0.0025, 0.0075, "long", 0.0, "rebalance")]),
        lots, accounts, households, targets, cash, requests,
    ).set_index("account_id")
    a1 = report.loc["A1"]
    # naive realizes 500 short-term at 40% = 200: 500 x (40% - 20%) = 100 conversion, the other 100 deferral
    assert a1["naive_tax"] == pytest.approx(200.0)
    assert a1["taxes_saved_st_to_lt"] == pytest.approx(100.0)
    assert a1["taxes_deferred"] == pytest.approx(100.0)
    assert trades.empty


def test_order_files_carry_lot_instructions_and_are_deterministic(household):
    _, accounts, _, _, _, _ = household
    securities = pd.DataFrame({"security_id": ["AAA", "BBB"], "ticker": ["AAA", "BBB"], "cusip": ["000000AAA", "000000BBB"]})
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 4.0, 100.0, 400.0, "L2", "2026-06-01", 480.0, -80.0, "short", -32.0, "tax_loss_harvest"),
        ("H1", "A1", "AAA", "sell", 1.5, 100.0, 150.0, "L1", "2020-03-02", 75.0, 75.0, "long", 15.0, "rebalance"),
        ("H1", "A1", "BBB", "buy", 3.0, 50.0, 150.0, None, None, None, None, None, None, "rebalance"),
    ])
    first = render_order_files(trades, accounts, securities, AS_OF)
    second = render_order_files(trades.sample(frac=1.0, random_state=3), accounts, securities, AS_OF)
    assert first == second
    assert sorted(first) == [
        "schwab_allocations_20261120.csv", "schwab_block_orders_20261120.csv", "schwab_fix44_orders_20261120.fix",
        "schwab_lot_instructions_20261120.csv", "schwab_orders_20261120.csv",
        "schwab_upload/SCHWAB_LOT_INSTRUCTIONS_20261120.csv", "schwab_upload/SCHWAB_TRADE_UPLOAD_20261120.csv",
    ]
    orders = pd.read_csv(io.BytesIO(first["schwab_orders_20261120.csv"]))
    assert orders[["side", "symbol", "quantity"]].values.tolist() == [["SELL", "AAA", 5.5], ["BUY", "BBB", 3.0]]
    lots = pd.read_csv(io.BytesIO(first["schwab_lot_instructions_20261120.csv"]))
    assert lots[["lot_id", "quantity"]].values.tolist() == [["L1", 1.5], ["L2", 4.0]]
    assert set(lots["order_id"]) == {orders.loc[0, "order_id"]}


def _read_fix(line: bytes) -> list[tuple[str, str]]:
    """An independent FIX reader: split on SOH, recompute BodyLength and CheckSum from the bytes."""
    fields = line.split(b"\x01")[:-1]
    pairs = [tuple(f.decode().split("=", 1)) for f in fields]
    assert pairs[0] == ("8", "FIX.4.4") and pairs[1][0] == "9" and pairs[-1][0] == "10"
    body_start = len(fields[0]) + len(fields[1]) + 2
    body_end = line.rindex(b"10=")
    assert body_end - body_start == int(pairs[1][1])
    assert sum(line[:body_end]) % 256 == int(pairs[-1][1])
    return pairs


def test_block_orders_allocate_across_accounts_and_read_back_as_fix():
    accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "custodian": ["pershing"] * 3})
    securities = pd.DataFrame({"security_id": ["AAA"], "ticker": ["AAA"], "cusip": ["000000AAA"]})
    trades = _trades([
        ("H1", "A1", "AAA", "buy", 3.0, 10.0, 30.0, None, None, None, None, None, None, "rebalance"),
        ("H2", "A2", "AAA", "buy", 2.5, 10.0, 25.0, None, None, None, None, None, None, "rebalance"),
        ("H3", "A3", "AAA", "sell", 1.0, 10.0, 10.0, "L9", "2020-01-02", 5.0, 5.0, "long", 1.0, "rebalance"),
    ])
    files = render_order_files(trades, accounts, securities, AS_OF)
    blocks = pd.read_csv(io.BytesIO(files["pershing_block_orders_20261120.csv"]))
    assert blocks[["side", "symbol", "quantity", "account_count"]].values.tolist() == [["SELL", "AAA", 1.0, 1], ["BUY", "AAA", 5.5, 2]]
    allocations = pd.read_csv(io.BytesIO(files["pershing_allocations_20261120.csv"]))
    buy_block = blocks.loc[blocks["side"] == "BUY", "block_id"].iloc[0]
    assert allocations.loc[allocations["block_id"] == buy_block, ["account_id", "quantity"]].values.tolist() == [["A1", 3.0], ["A2", 2.5]]
    messages = files["pershing_fix44_orders_20261120.fix"].splitlines()
    assert len(messages) == 2
    buy = dict()
    pairs = _read_fix(messages[1])
    for tag, value in pairs:
        buy.setdefault(tag, []).append(value)
    assert buy["35"] == ["D"] and buy["54"] == ["1"] and buy["38"] == ["5.5"] and buy["55"] == ["AAA"]
    assert buy["78"] == ["2"] and buy["79"] == ["A1", "A2"] and buy["80"] == ["3", "2.5"]
    assert buy["11"] == [buy_block]


def test_year_to_date_sums_this_years_run_days_only():
    from delivery.taxes_saved import YTD_COMPONENTS, year_to_date

    def day(date, saved):
        row = {"as_of_date": date, "household_id": "H1", "account_id": "A1"}
        row.update({c: 0.0 for c in YTD_COMPONENTS})
        row["taxes_saved_or_deferred"] = saved
        return row

    history = pd.DataFrame([day("2025-12-31", 99.0), day("2026-03-02", 10.0), day("2026-11-20", 5.5), day("2026-11-23", 7.0)])
    ytd = year_to_date(history, AS_OF)
    assert ytd[["account_id", "days_reported", "ytd_taxes_saved_or_deferred"]].values.tolist() == [["A1", 2, 15.5]]


def test_an_interrupted_write_leaves_no_file_behind(tmp_path, monkeypatch):
    import os

    from custodian.stores import LocalFileStore

    store = LocalFileStore(tmp_path)
    store.write_bytes("orders/a.csv", b"old\n")

    def crash(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        store.write_bytes("orders/a.csv", b"new content\n")
    assert (tmp_path / "orders" / "a.csv").read_bytes() == b"old\n"  # the old file, whole
    assert sorted(p.name for p in (tmp_path / "orders").iterdir()) == ["a.csv"]  # no partial file left
