"""Orders in each custodian's upload dialect, read back by independent readers (csv module and
fixed-width slicing written here, not the writer's code): the same orders and lots come back."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest

from delivery.orders import render_order_files
from delivery.upload_dialects import PERSHING_RECORD_LENGTH

AS_OF = dt.date(2026, 11, 20)
COLUMNS = ["household_id", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
           "acquired_date", "cost_basis_relieved", "realized_gain", "holding_term", "estimated_tax", "reason"]


@pytest.fixture
def firm():
    accounts = pd.DataFrame({
        "account_id": ["ACC1", "ACC2", "ACC3", "ACC4"],
        "custodian": ["schwab", "fidelity", "pershing", "pershing"],
        "custodian_account_number": ["12345678", "Z23456789", "1AB123457C", "1AB765432I"],
    })
    securities = pd.DataFrame({"security_id": ["AAA", "BBB"], "ticker": ["AAA", "BBB"], "cusip": ["000000AA1", "000000BB2"]})
    sell = lambda a, q, lot, acq, basis: ("H", a, "AAA", "sell", q, 100.0, 100.0 * q, lot, acq, basis, 100.0 * q - basis, "long", 0.0, "rebalance")  # noqa: E731
    buy = lambda a, q: ("H", a, "BBB", "buy", q, 50.0, 50.0 * q, None, None, None, None, None, None, "rebalance")  # noqa: E731
    trades = pd.DataFrame([
        sell("ACC1", 4.0, "L1", "2020-03-02", 200.0), sell("ACC1", 1.5, "L2", "2024-01-05", 180.0), buy("ACC1", 3.0),
        sell("ACC2", 2.125, "F1", "2019-07-01", 150.0), buy("ACC2", 0.5),
        sell("ACC3", 10.0, "P1", "2018-02-28", 700.0), sell("ACC3", 2.5, "P2", "2025-12-01", 300.0), buy("ACC4", 7.0),
    ], columns=COLUMNS)
    return trades, accounts, securities


def _rows(content: bytes) -> list[dict]:
    assert b"\r\n" in content and content.isascii()
    return list(csv.DictReader(io.StringIO(content.decode("ascii"), newline="")))


def test_every_custodian_gets_its_own_upload_files_and_a_rerun_writes_the_same_bytes(firm):
    trades, accounts, securities = firm
    first = render_order_files(trades, accounts, securities, AS_OF)
    again = render_order_files(trades.sample(frac=1.0, random_state=5), accounts, securities, AS_OF)
    assert first == again
    uploads = sorted(name for name in first if "_upload/" in name)
    assert uploads == [
        "fidelity_upload/AllocationLog_20261120.csv", "fidelity_upload/BlockOrderLog_20261120.csv",
        "fidelity_upload/FIDELITY_ORDER_IMPORT_20261120.csv", "fidelity_upload/FIDELITY_SPECIFIC_SHARES_20261120.csv",
        "pershing_upload/PERSHING_TRADE_INSTRUCTIONS_20261120.txt",
        "schwab_upload/SCHWAB_LOT_INSTRUCTIONS_20261120.csv", "schwab_upload/SCHWAB_TRADE_UPLOAD_20261120.csv",
    ]


def test_schwab_trade_upload_is_position_level_and_the_lot_file_names_each_lot(firm):
    files = render_order_files(*firm[:2], firm[2], AS_OF)
    trades = _rows(files["schwab_upload/SCHWAB_TRADE_UPLOAD_20261120.csv"])
    assert [(r["Account Number"], r["Action"], r["Quantity"], r["Symbol"]) for r in trades] == [
        ("12345678", "Sell", "5.5", "AAA"), ("12345678", "Buy", "3", "BBB")]
    lots = _rows(files["schwab_upload/SCHWAB_LOT_INSTRUCTIONS_20261120.csv"])
    sell_ref = trades[0]["Reference"]
    assert [(r["Reference"], r["Lot Method"], r["Acquired Date"], r["Lot Quantity"], r["Unit Cost"]) for r in lots] == [
        (sell_ref, "VSP", "03/02/2020", "4", "50.00000"), (sell_ref, "VSP", "01/05/2024", "1.5", "120.00000")]
    assert sum(float(r["Lot Quantity"]) for r in lots) == float(trades[0]["Quantity"])


def test_fidelity_order_import_blocks_and_allocations_read_back(firm):
    files = render_order_files(*firm[:2], firm[2], AS_OF)
    orders = _rows(files["fidelity_upload/FIDELITY_ORDER_IMPORT_20261120.csv"])
    assert list(orders[0]) == ["Account Number", "Account Type", "Order Action", "Quantity", "Symbol", "Price Type",
                               "Time in Force", "Stop/Limit Price"]
    assert [(r["Account Number"], r["Account Type"], r["Order Action"], r["Quantity"], r["Symbol"]) for r in orders] == [
        ("Z23456789", "1", "Sell", "2.125", "AAA"), ("Z23456789", "1", "Buy", "0.5", "BBB")]
    lots = _rows(files["fidelity_upload/FIDELITY_SPECIFIC_SHARES_20261120.csv"])
    assert [(r["Open Lot Identifier"], r["Quantity"], r["Acquired Date"]) for r in lots] == [("F1", "2.125", "07/01/2019")]
    blocks = _rows(files["fidelity_upload/BlockOrderLog_20261120.csv"])
    allocations = _rows(files["fidelity_upload/AllocationLog_20261120.csv"])
    for block in blocks:
        mine = [a for a in allocations if a["Block Id"] == block["Block Id"]]
        assert sum(float(a["Quantity"]) for a in mine) == pytest.approx(float(block["Quantity"]))
        assert len(mine) == int(block["Accounts"])


def test_fidelity_refuses_a_quantity_finer_than_three_decimals(firm):
    trades, accounts, securities = firm
    trades.loc[trades["account_id"] == "ACC2", "quantity"] = 0.1234
    with pytest.raises(ValueError, match="at most 3 decimals"):
        render_order_files(trades, accounts, securities, AS_OF)


def _pershing_records(content: bytes) -> list[str]:
    lines = content.decode("ascii").split("\n")
    assert lines[-1] == ""
    lines = lines[:-1]
    assert all(len(line) == PERSHING_RECORD_LENGTH for line in lines)
    return lines


def _implied(text: str, sign: str) -> float:
    assert text.isdigit() and sign in "+-"
    return (-1 if sign == "-" else 1) * int(text) / 10**5


def test_pershing_fixed_width_file_reads_back_with_its_trailer_count_and_lots(firm):
    files = render_order_files(*firm[:2], firm[2], AS_OF)
    records = _pershing_records(files["pershing_upload/PERSHING_TRADE_INSTRUCTIONS_20261120.txt"])
    header, *details, trailer = records
    assert header.startswith("BOF      PERSHING TRADE INSTRUCTIONS DATA OF 11/20/2026") and header[-1] == "A"
    assert trailer.startswith("EOF      PERSHING") and trailer[-1] == "Z"
    assert int(trailer.split("TOTAL DETAIL RECORDS:")[1].strip()[:10]) == len(details)
    assert all(d[-1] == "X" and d[:2] == "OR" for d in details)
    assert [int(d[3:11]) for d in details] == list(range(1, len(details) + 1))
    orders = [d for d in details if d[2] == "A"]
    read = [(d[11:21], d[21:30], d[30], _implied(d[31:49], d[49]), d[50:59].strip()) for d in orders]
    assert read == [("1AB123457C", "000000AA1", "S", 12.5, "AAA"), ("1AB765432I", "000000BB2", "B", 7.0, "BBB")]
    # the lot records of the sell follow it and add up to it
    sell_at = details.index(orders[0])
    lots = [d for d in details[sell_at + 1:] if d[2] == "B"]
    assert [(d[30:38], _implied(d[38:56], d[56]), d[57:87].strip()) for d in lots] == [
        ("20180228", 10.0, "P1"), ("20251201", 2.5, "P2")]
