"""Order files and the taxes-saved arithmetic, on hand-computed examples."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
import pytest

from delivery.lineage import order_lineage, order_lineage_by_account_range
from delivery.orders import order_lines, render_order_files
from delivery.taxes_saved import fifo_relief, taxes_saved_by_account, taxes_saved_by_account_in_ranges

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


def test_the_lineage_by_account_range_is_the_lineage_in_pieces(household):
    """One account per piece (a sell, a gift without an order, a buy with no lot): the pieces, in
    order, are the whole lineage's rows with its dtypes, so their CSVs are the file."""
    _, accounts, _, targets, _, _ = household
    accounts = pd.concat([accounts, accounts.assign(account_id=["B1", "BIRA"], household_id="H2")], ignore_index=True)
    targets = pd.concat([targets.assign(model_id="M", model_version="v1"),
                         targets.assign(household_id="H2", model_id="N", model_version="v2")], ignore_index=True)
    securities = pd.DataFrame({"security_id": ["AAA", "BBB"], "ticker": ["AAA", "BBB"], "cusip": ["000000AAA", "000000BBB"]})
    trades = _trades([
        ("H2", "B1", "AAA", "sell", 2.0, 100.0, 200.0, "L9", "2021-01-04", 90.0, 110.0, "long", 22.0, "rebalance"),
        ("H1", "A1", "AAA", "sell", 1.5, 100.0, 150.0, "L1", "2020-03-02", 75.0, 75.0, "long", 15.0, "rebalance"),
        ("H1", "IRA", "AAA", "gift", 1.0, 100.0, 100.0, "L3", "2019-01-02", 25.0, 75.0, "long", 0.0, "charitable_gift"),
        ("H2", "B1", "BBB", "buy", 3.0, 50.0, 150.0, None, None, None, None, None, None, "rebalance"),
    ]).assign(acquired_date=lambda f: pd.to_datetime(f["acquired_date"]))
    lots = pd.DataFrame({"lot_id": ["L1", "L3", "L9"], "source_file": ["lots.csv"] * 3, "source_line": [2, 4, 9],
                         "file_sha256": ["ab" * 32] * 3})
    prices = pd.DataFrame({"security_id": ["AAA"], "source_file": ["prices.csv"], "source_line": [3], "file_sha256": ["cd" * 32]})
    orders = order_lines(trades, accounts, securities, AS_OF)
    arguments = (trades, accounts, securities, lots, targets, prices, "run-1", AS_OF, orders)
    whole = order_lineage(*arguments)
    pieces = list(order_lineage_by_account_range(*arguments, accounts_per_range=1))
    assert len(pieces) == 3 and len(whole) == 4
    for piece in pieces:
        pd.testing.assert_series_equal(piece.dtypes, whole.dtypes)
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole, check_exact=True)


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


# --- wash sales, transitions, fees and dispersion in the taxes-saved report ---------------------

def _loss_household():
    """A1 holds AAA: L1 a 200 long-term gain lot (oldest), L4 a 300 short-term loss lot bought 10 days
    ago; AAA 100% of the household against a 50% target, so the naive side sells 10 of 20 shares."""
    lots = pd.DataFrame({
        "lot_id": ["L1", "L4"], "account_id": ["A1", "A1"], "household_id": ["H1", "H1"], "security_id": ["AAA", "AAA"],
        "quantity": [10.0, 10.0], "cost_basis": [800.0, 1300.0],
        "acquired_date": pd.to_datetime(["2020-03-02", "2026-11-10"]), "price": [100.0, 100.0], "is_long_term": [True, False],
    })
    accounts = pd.DataFrame({"account_id": ["A1"], "household_id": ["H1"], "registration": ["individual"], "taxable": [True]})
    households = pd.DataFrame({"household_id": ["H1"], "st_rate": [0.40], "lt_rate": [0.20], "advisory_fee_bps": [100.0]})
    targets = pd.DataFrame({"household_id": ["H1", "H1"], "model_id": ["M", "M"], "security_id": ["AAA", "CASH"],
                            "target_weight": [0.5, 0.5]})
    cash = pd.DataFrame({"account_id": ["A1"], "household_id": ["H1"], "cash": [0.0]})
    requests = pd.DataFrame(columns=["request_id", "household_id", "account_id", "request_type", "amount"])
    securities = pd.DataFrame({"security_id": ["AAA"], "identical_group": ["AAA"]})
    return lots, accounts, households, targets, cash, requests, securities


def test_a_naive_loss_sale_inside_a_wash_window_counts_as_a_wash_sale_loss_avoided():
    lots, accounts, households, targets, cash, requests, securities = _loss_household()
    # the naive side relieves FIFO: L1 (gain 200, LT) -- no loss, no wash sale
    lots = lots.iloc[::-1].reset_index(drop=True)
    lots.loc[lots["lot_id"] == "L4", "acquired_date"] = pd.Timestamp("2019-01-01")  # L4 now the oldest: FIFO sells it
    lots.loc[lots["lot_id"] == "L4", "is_long_term"] = True
    windows = pd.DataFrame({"household_id": ["H1"], "identical_group": ["AAA"], "window_type": ["no_loss_sale"],
                            "window_end": [pd.Timestamp("2026-12-10")], "exempt_lot_id": ["L9"]})
    # the optimizer keeps the loss lot inside the window (a token trade puts the household in scope)
    ours = _trades([("H1", "A1", "AAA", "sell", 0.001, 100.0, 0.1, "L1", "2020-03-02", 0.08, 0.02, "long", 0.004, "rebalance")])
    a1 = taxes_saved_by_account(ours, lots, accounts, households, targets, cash, requests,
                                securities=securities, wash_windows=windows, as_of=AS_OF).set_index("account_id").loc["A1"]
    # naive: 10 shares of L4, a 300 long-term loss at 20% = 60 it would count, but AAA was bought within
    # 30 days (the no_loss_sale window): disallowed. Its tax is then 0, not -60.
    assert a1["naive_lt_gain"] == pytest.approx(-300.0)
    assert a1["wash_sale_losses_avoided"] == pytest.approx(60.0)
    assert a1["naive_tax"] == pytest.approx(0.0)
    assert a1["taxes_saved_loss_harvest"] == pytest.approx(-60.0)  # the naive side's loss, as if allowed
    assert a1["taxes_saved_or_deferred"] == pytest.approx(-0.004, abs=1e-2)  # the two cancel: no harvest either side


def test_a_transitioning_household_is_compared_with_liquidation():
    lots, accounts, households, targets, cash, requests, securities = _loss_household()
    ours = _trades([("H1", "A1", "AAA", "sell", 10.0, 100.0, 1000.0, "L4", "2026-11-10", 1300.0, -300.0, "short", -120.0,
                     "tax_loss_harvest")])
    a1 = taxes_saved_by_account(ours, lots, accounts, households, targets, cash, requests, securities=securities,
                                as_of=AS_OF, transitioning=frozenset({"H1"})).set_index("account_id").loc["A1"]
    # liquidation sells both lots, +200 LT (40 tax) and -300 ST, then buys the model's AAA back the
    # same day: the ST loss is a wash sale (worth 120 to us, 0 to the naive side)
    assert a1["counterfactual"] == "liquidation"
    assert (a1["naive_lt_gain"], a1["naive_st_gain"]) == (pytest.approx(200.0), pytest.approx(-300.0))
    assert a1["naive_tax"] == pytest.approx(40.0)
    assert a1["wash_sale_losses_avoided"] == pytest.approx(120.0)
    assert a1["taxes_deferred"] == pytest.approx(40.0) and a1["taxes_saved_loss_harvest"] == pytest.approx(0.0)
    assert a1["taxes_saved_or_deferred"] == pytest.approx(160.0)


def test_the_report_in_household_ranges_is_the_report_in_one_pass():
    """Three households (a wash window, a transition, a cash gift), listed out of household order,
    one household per range: the same frame, bit for bit."""
    lots, accounts, households, targets, cash, requests, securities = _loss_household()

    def renamed(frame: pd.DataFrame, n: int) -> pd.DataFrame:
        frame = frame.copy()
        for column in ("household_id", "account_id", "lot_id"):
            if column in frame.columns:
                frame[column] = frame[column].map(lambda v: f"{v}-{n}" if isinstance(v, str) else v)
        return frame

    def three(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.concat([renamed(frame, n) for n in (3, 1, 2)], ignore_index=True)

    lots = three(lots).assign(quantity=lambda f: f["quantity"] * [1, 1, 2, 2, 3, 3])
    requests = pd.DataFrame({"request_id": ["R1"], "household_id": ["H1-2"], "account_id": ["A1-2"],
                             "request_type": ["charitable_gift"], "amount": [500.0]})
    windows = pd.DataFrame({"household_id": ["H1-1"], "identical_group": ["AAA"], "window_type": ["no_loss_sale"],
                            "window_end": [pd.Timestamp("2026-12-10")], "exempt_lot_id": ["L9"]})
    trades = three(_trades([("H1", "A1", "AAA", "sell", 10.0, 100.0, 1000.0, "L4", "2026-11-10", 1300.0, -300.0,
                             "short", -120.0, "tax_loss_harvest")]))
    arguments = (trades, lots, three(accounts), three(households), three(targets), three(cash), requests)
    options = dict(securities=securities, wash_windows=windows, as_of=AS_OF, transitioning=frozenset({"H1-3"}))
    whole = taxes_saved_by_account(*arguments, **options)
    in_ranges = taxes_saved_by_account_in_ranges(*arguments, **options, households_per_range=1)
    assert len(whole) == 3 and set(whole["counterfactual"]) == {"liquidation", "pro_rata_fifo"}
    pd.testing.assert_frame_equal(in_ranges, whole, check_exact=True)


def test_fee_coverage_counts_accounts_whose_savings_this_year_beat_their_fee_so_far():
    from delivery.taxes_saved import fee_coverage

    ytd = pd.DataFrame({"household_id": ["H1", "H1", "H2"], "account_id": ["A1", "A2", "A3"],
                        "ytd_taxes_saved_or_deferred": [950.0, 10.0, 0.0]})
    by_account = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "advisory_fee_annual": [1000.0, 1000.0, 0.0]})
    # 2026-11-20 is day 324 of 365: a 1,000 fee so far is 887.67
    assert fee_coverage(ytd, by_account, AS_OF) == {
        "accounts_with_fee": 2, "accounts_saved_more_than_fee": 1, "share_saved_more_than_fee": 0.5}


def test_rebalancing_to_target_removes_the_return_dispersion_of_same_model_households():
    from delivery.taxes_saved import household_weights, return_dispersion

    lots = pd.DataFrame({"household_id": ["H1", "H2", "H2"], "security_id": ["AAA", "AAA", "BBB"],
                         "quantity": [20.0, 10.0, 10.0], "price": [100.0, 100.0, 100.0]})
    cash = pd.DataFrame({"household_id": ["H1", "H2"], "cash": [0.0, 0.0]})
    targets = pd.DataFrame({"household_id": ["H1", "H1", "H2", "H2"], "model_id": ["M"] * 4,
                            "security_id": ["AAA", "BBB"] * 2, "target_weight": [0.5] * 4})
    # H1 all AAA (+50% active AAA), H2 on target; over the year AAA +20%, BBB 0%
    history = pd.DataFrame({"security_id": ["AAA", "AAA", "BBB", "BBB"], "price_date": ["2025-11-20", "2026-11-20"] * 2,
                            "close": [100.0, 120.0, 100.0, 100.0]})
    trades = pd.DataFrame({"household_id": ["H1", "H1"], "security_id": ["AAA", "BBB"], "side": ["sell", "buy"],
                           "trade_value": [1000.0, 1000.0]})
    result = return_dispersion(
        {"before": household_weights(lots, cash), "after": household_weights(lots, cash, trades)}, targets, history,
    ).set_index("model_id").loc["M"]
    # active returns before: H1 +10% (0.5 x 20%), H2 0: std 5%; after both on target: 0
    assert result["households"] == 2
    assert result["active_return_dispersion_before_pct"] == pytest.approx(5.0)
    assert result["active_return_dispersion_after_pct"] == pytest.approx(0.0)


# --- the fast paths write what the plain pandas code wrote (issue 9: orders + reports at scale) -------


def test_csv_bytes_are_the_bytes_to_csv_writes(monkeypatch):
    import delivery.csvfile as csvfile
    from tests.test_delivery_csv_bytes import awkward_frame

    # quoting, missing values, floats, nullable ints, booleans, and dates only in some chunks
    # (to_csv decides the date format chunk by chunk)
    frame = awkward_frame()[["text", "b,c", "line", "flag", "when", 'mixed"']]
    for terminator in ["\n", "\r\n"]:
        assert csvfile.csv_text(frame, terminator) == frame.to_csv(index=False, lineterminator=terminator)
        for rare in (frame[["text"]], frame.iloc[:0]):  # one column, no rows: to_csv itself
            assert csvfile.csv_text(rare, terminator) == rare.to_csv(index=False, lineterminator=terminator)
    assert csvfile.csv_bytes(frame, "\r\n", "utf-8") == frame.to_csv(index=False, lineterminator="\r\n").encode()
    parts = list(csvfile.csv_parts(frame, "\n"))  # the header, then blocks of rows: together the file
    assert len(parts) > 1 and "".join(parts) == frame.to_csv(index=False, lineterminator="\n")
    monkeypatch.setattr(csvfile, "CELLS_PER_CHUNK", 12)  # 2 rows a chunk, as to_csv(chunksize=2)
    assert csvfile.csv_text(frame) == frame.to_csv(index=False, lineterminator="\n", chunksize=2)


def _random_lots(seed: int = 11, n: int = 400) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    quantity = rng.uniform(0.001, 500.0, n)
    quantity[rng.integers(0, n, 5)] = np.nan
    return pd.DataFrame({
        "account_id": rng.choice([f"A{i:02d}" for i in range(30)], n), "household_id": "H",
        "security_id": rng.choice(["AAA", "BBB", "CCC", "DDD"], n),
        "quantity": quantity, "price": rng.uniform(1.0, 900.0, n),
    })


def test_account_values_are_the_per_account_sums_bit_for_bit():
    from delivery.taxes_saved import account_values

    lots = _random_lots()
    expected = lots.groupby("account_id").apply(lambda f: float((f["quantity"] * f["price"]).sum()), include_groups=False)
    assert account_values(lots).to_dict() == expected.to_dict()


def test_naive_buy_groups_are_the_under_target_securities_of_each_household():
    import numpy as np

    from delivery.taxes_saved import naive_buy_groups

    rng = np.random.default_rng(5)
    lots = _random_lots(seed=7).assign(household_id=lambda f: "H" + f["account_id"].str[-1])
    securities = pd.DataFrame({"security_id": ["AAA", "BBB", "CCC", "DDD", "EEE"],
                               "identical_group": ["G1", "G1", "G2", None, "G3"]})
    households = sorted(set(lots["household_id"])) + ["H_NO_LOTS"]
    targets = pd.DataFrame([(h, s, w) for h in households for s, w in
                            zip(["AAA", "CCC", "EEE", "ZZZ", "CASH"], rng.dirichlet(np.ones(5)))],
                           columns=["household_id", "security_id", "target_weight"])
    sold = lots.groupby(["account_id", "security_id"], as_index=False)["quantity"].sum().assign(quantity=lambda f: f["quantity"] / 3)
    cash = pd.DataFrame({"household_id": households[:3], "account_id": ["A00", "A01", "A02"], "cash": [1e4, 0.0, 5e5]})
    requests = pd.DataFrame({"household_id": [households[0]], "request_type": ["cash_withdrawal"], "amount": [2e4]})
    transitioning = frozenset([households[1]])
    # the reference: the original row-by-row loop
    group = securities.set_index("security_id")["identical_group"]
    held = lots.assign(value=lots["quantity"] * lots["price"])
    price = lots.groupby("security_id")["price"].first()
    sold_value = sold.assign(value=sold["quantity"] * sold["security_id"].map(price),
                             household_id=sold["account_id"].map(lots.drop_duplicates("account_id").set_index("account_id")["household_id"]))
    after = held.groupby(["household_id", "security_id"])["value"].sum().sub(
        sold_value.groupby(["household_id", "security_id"])["value"].sum(), fill_value=0.0)
    value_after = held.groupby("household_id")["value"].sum().add(cash.groupby("household_id")["cash"].sum(), fill_value=0.0).sub(
        requests.groupby("household_id")["amount"].sum(), fill_value=0.0)
    expected = set()
    for t in targets[(targets["target_weight"] > 0) & (targets["security_id"] != "CASH")].itertuples():
        if t.household_id in value_after.index and (
                t.household_id in transitioning
                or after.get((t.household_id, t.security_id), 0.0) < t.target_weight * value_after[t.household_id] - 1.0):
            expected.add((t.household_id, group.get(t.security_id, t.security_id)))
    got = naive_buy_groups(lots, targets, securities, sold, cash, requests, transitioning)
    assert {(h, None if g != g else g) for h, g in got} == {(h, None if g != g else g) for h, g in expected}
    assert expected


def test_household_page_totals_are_the_frame_sums_bit_for_bit():
    import numpy as np

    from delivery.html_report import TOTALS, _column_total

    rng = np.random.default_rng(3)
    accounts = pd.DataFrame(rng.normal(0.0, 1e5, (23, len(TOTALS))), columns=TOTALS)  # many accounts: pairwise sums
    accounts.iloc[4, 2] = np.nan
    assert {c: _column_total(accounts[c].to_numpy()) for c in TOTALS} == accounts[TOTALS].sum().to_dict()
