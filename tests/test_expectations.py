"""Each GX suite passes on good data and fails, naming the expectation, on a crafted bad frame."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from expectations.suites import (
    check_accounts,
    check_custodian_files,
    check_lots,
    check_lots_reconcile,
    check_reconciliation_share,
    check_security_prices,
    check_targets,
    check_trades,
    check_transaction_history,
    household_holds,
    trade_safety_frame,
    unattributed_failures,
)

AS_OF = dt.date(2026, 11, 20)


def _failed(outcome) -> set[tuple[str, str | None]]:
    return {(f.expectation, f.column) for f in outcome.failed}


@pytest.fixture
def lots():
    return pd.DataFrame({
        "lot_id": ["L1", "L2", "L3"], "account_id": ["A1", "A1", "A2"], "household_id": ["H1", "H1", "H1"],
        "security_id": ["AAA", "BBB", "AAA"], "quantity": [10.0, 5.0, 3.0], "cost_basis": [1000.0, 400.0, 330.0],
        "acquired_date": pd.to_datetime(["2024-01-02", "2026-11-01", "2025-06-30"]),
    })


@pytest.fixture
def securities():
    return pd.DataFrame({
        "security_id": ["AAA", "BBB", "CCC", "CASH"], "price": [100.0, 80.0, 50.0, 1.0],
        "price_date": pd.to_datetime([AS_OF] * 4), "identical_group": ["AAA", "BBB", "CCC", "CASH"],
    })


@pytest.fixture
def targets():
    return pd.DataFrame({"household_id": ["H1"] * 3, "security_id": ["AAA", "CCC", "CASH"], "target_weight": [0.6, 0.39, 0.01]})


def test_good_data_passes_every_suite(lots, securities, targets):
    accounts = pd.DataFrame({"account_id": ["A1", "A2"], "household_id": ["H1", "H1"]})
    for outcome in (
        check_lots(lots, AS_OF),
        check_security_prices(securities, lots, targets, AS_OF),
        check_accounts(accounts),
        check_targets(targets, accounts),
    ):
        assert outcome.success, outcome.summary()


def test_a_lot_with_zero_shares_or_a_future_date_fails_the_lot_suite(lots):
    lots.loc[0, "quantity"] = 0.0
    lots.loc[1, "acquired_date"] = pd.Timestamp("2026-12-01")
    outcome = check_lots(lots, AS_OF)
    assert not outcome.success
    assert _failed(outcome) == {
        ("expect_column_values_to_be_between", "quantity"),
        ("expect_column_values_to_be_between", "days_since_acquired"),
    }
    assert all(f.unexpected_count == 1 for f in outcome.failed)


def test_a_stale_or_missing_price_fails_the_price_gate(lots, securities, targets):
    securities.loc[securities["security_id"] == "AAA", "price_date"] = pd.Timestamp("2026-11-19")
    securities = securities[securities["security_id"] != "CCC"]  # a target security with no price at all
    outcome = check_security_prices(securities, lots, targets, AS_OF)
    assert ("expect_column_values_to_not_be_null", "price") in _failed(outcome)
    assert ("expect_column_values_to_be_between", "price_age_days") in _failed(outcome)


def test_target_weights_that_do_not_sum_to_one_fail(targets):
    targets.loc[0, "target_weight"] = 0.5
    accounts = pd.DataFrame({"account_id": ["A1", "A3"], "household_id": ["H1", "H2"]})
    outcome = check_targets(targets, accounts)
    assert ("expect_column_values_to_be_between", "weight_sum") in _failed(outcome)
    assert ("expect_column_values_to_not_be_null", "weight_sum") in _failed(outcome)  # H2 has no target


def test_an_account_in_two_households_fails():
    outcome = check_accounts(pd.DataFrame({"account_id": ["A1", "A1"], "household_id": ["H1", "H2"]}))
    assert _failed(outcome) == {("expect_column_values_to_be_unique", "account_id")}


def _trades(rows):
    columns = ["household_id", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
               "realized_gain"]
    return pd.DataFrame(rows, columns=columns)


def test_unsafe_trades_fail_the_trade_gate(lots, securities):
    cash = pd.DataFrame({"account_id": ["A1", "A2"], "household_id": ["H1", "H1"], "cash": [100.0, 0.0]})
    restrictions = pd.DataFrame({"account_id": ["A2"], "security_id": ["CCC"], "reason": ["never_buy_security"]})
    windows = pd.DataFrame({"household_id": ["H1"], "identical_group": ["BBB"], "window_type": ["no_buy"]})
    requests = pd.DataFrame({"account_id": [], "request_type": [], "amount": []})
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 12.0, 100.0, 1200.0, "L1", -50.0),  # more than lot L1 holds
        ("H1", "A2", "CCC", "buy", 10.0, 50.0, 500.0, None, None),      # restricted, and no cash in A2
        ("H1", "A1", "BBB", "buy", 1.0, 80.0, 80.0, None, None),        # inside a no_buy window
        ("H1", "A1", "AAA", "buy", 1.0, 100.0, 100.0, None, None),      # same-day wash sale with the L1 loss
    ])
    frames = trade_safety_frame(trades, lots, cash, restrictions, windows, requests, securities)
    outcomes = {o.suite: o for o in check_trades(frames, max_turnover=2.0, household_values=10_000.0)}
    assert not outcomes["trades_relieve_existing_lots"].success
    assert _failed(outcomes["trades_respect_restrictions_and_wash_windows"]) == {
        ("expect_column_values_to_be_in_set", "restricted"),
        ("expect_column_values_to_be_in_set", "in_wash_window"),
        ("expect_column_values_to_be_in_set", "bought_after_loss_sale_today"),
    }
    assert not outcomes["trades_keep_cash_above_minimum"].success
    assert outcomes["trades"].success


def test_safe_trades_pass_the_trade_gate(lots, securities):
    cash = pd.DataFrame({"account_id": ["A1", "A2"], "household_id": ["H1", "H1"], "cash": [100.0, 0.0]})
    empty = pd.DataFrame({"account_id": [], "security_id": [], "household_id": [], "identical_group": [],
                          "window_type": [], "request_type": [], "amount": []})
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 10.0, 100.0, 1000.0, "L1", 0.0),
        ("H1", "A1", "CCC", "buy", 20.0, 50.0, 1000.0, None, None),
    ])
    frames = trade_safety_frame(trades, lots, cash, empty, empty, empty, securities)
    assert all(o.success for o in check_trades(frames, max_turnover=2.0, household_values=10_000.0))


def test_an_unsafe_trade_holds_only_its_household_at_the_trade_gate(lots, securities):
    from expectations.suites import household_holds, unattributed_failures

    # H1 sells a never_sell lot, H2 trades in a locked account and leaves A4 under its cash minimum,
    # H3 turns over 5x its value; H4 is clean.
    cash = pd.DataFrame({"account_id": ["A1", "A3", "A4", "A5", "A6"], "household_id": ["H1", "H2", "H2", "H3", "H4"],
                         "cash": [0.0, 0.0, 1000.0, 0.0, 100.0]})
    accounts = pd.DataFrame({"account_id": ["A1", "A3", "A4", "A5", "A6"], "household_id": ["H1", "H2", "H2", "H3", "H4"],
                             "cash_minimum": [0.0, 0.0, 900.0, 0.0, 0.0], "trading_locked": [False, True, False, False, False]})
    trading = pd.DataFrame({"account_id": ["A1"], "security_id": ["AAA"], "restriction_type": ["never_sell_security"]})
    empty = pd.DataFrame({"account_id": [], "security_id": [], "household_id": [], "identical_group": [],
                          "window_type": [], "request_type": [], "amount": []})
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 1.0, 100.0, 100.0, "L1", 0.0),
        ("H2", "A3", "CCC", "buy", 1.0, 50.0, 50.0, None, None),
        ("H2", "A4", "CCC", "buy", 4.0, 50.0, 200.0, None, None),
        ("H3", "A5", "AAA", "sell", 5.0, 100.0, 500.0, "L1", 0.0),
        ("H4", "A6", "CCC", "buy", 0.5, 50.0, 25.0, None, None),
    ])
    trades.loc[trades.household_id == "H4", "side"] = "buy"
    frames = trade_safety_frame(trades, lots, cash, empty, empty, empty, securities, trading, accounts)
    values = pd.Series({"H1": 10_000.0, "H2": 10_000.0, "H3": 100.0, "H4": 10_000.0})
    outcomes = check_trades(frames, max_turnover=2.0, household_values=values)
    holds = household_holds(outcomes).set_index("household_id")
    assert set(holds.index) == {"H1", "H2", "H3"}
    assert "never_sell" in holds.loc["H1", "reason"] and "minimum" in holds.loc["H2", "reason"]
    assert "turnover" in holds.loc["H3", "reason"]
    assert unattributed_failures(outcomes) == []


def test_trades_that_do_not_raise_a_household_withdrawal_hold_that_household(lots, securities):
    # H1 asks 1,000 from the household (no account: the optimizer chose the accounts) and its trades
    # raise 1,000 over its two accounts: safe. H2 asks 1,000 and raises 400: held.
    cash = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "household_id": ["H1", "H1", "H2"], "cash": [0.0] * 3})
    requests = pd.DataFrame({"household_id": ["H1", "H2"], "account_id": [None, ""],
                             "request_type": ["cash_withdrawal"] * 2, "amount": [1_000.0, 1_000.0]})
    empty = pd.DataFrame({c: pd.Series(dtype=str) for c in
                          ("account_id", "security_id", "household_id", "identical_group", "window_type")})
    trades = _trades([
        ("H1", "A1", "AAA", "sell", 6.0, 100.0, 600.0, "L1", 0.0),
        ("H1", "A2", "AAA", "sell", 4.0, 100.0, 400.0, "L1", 0.0),
        ("H2", "A3", "AAA", "sell", 4.0, 100.0, 400.0, "L1", 0.0),
    ])
    frames = trade_safety_frame(trades, lots, cash, empty, empty, requests, securities)
    outcomes = check_trades(frames, max_turnover=5.0, household_values=pd.Series({"H1": 10_000.0, "H2": 10_000.0}))
    by_suite = {o.suite: o for o in outcomes}
    assert not by_suite["trades_raise_household_withdrawals"].success
    from expectations.suites import household_holds

    holds = household_holds([by_suite["trades_raise_household_withdrawals"]])
    assert list(holds["household_id"]) == ["H2"]


# --- the suites behind the two-level gates (docs/quality.md) -------------------------------------


def _ledger(**missing):
    entities = ["security_master", "prices", "accounts", "positions", "open_lots", "transactions", "models"]
    return pd.DataFrame({
        "entity": entities,
        "source_file": [None if e in missing else f"{e}.csv" for e in entities],
        "rows_loaded": [0 if e in missing else 3 for e in entities],
    })


@pytest.fixture
def positions():
    return pd.DataFrame({
        "household_id": ["H1", "H1", "H2", "H3"], "account_id": ["A1", "A1", "A3", "A4"],
        "security_id": ["AAA", "BBB", "AAA", "AAA"], "quantity": [10.0, 5.0, 3.0, 1.0], "lot_quantity": [10.0, 5.0, 3.0, 1.0],
    })


def test_the_new_suites_pass_on_good_data(positions):
    transactions = pd.DataFrame({"trade_date": pd.to_datetime(["2026-01-05", "2026-11-19"])})
    for outcome in (
        check_custodian_files(_ledger(), AS_OF),
        check_lots_reconcile(positions),
        check_reconciliation_share(positions, max_share=0.1),
        check_transaction_history(transactions, AS_OF),
    ):
        assert outcome.success, outcome.summary()


def test_a_missing_price_file_fails_the_custodian_files_suite_naming_the_file():
    outcome = check_custodian_files(_ledger(prices=True), AS_OF)
    assert _failed(outcome) == {("expect_column_values_to_be_between", "files"),
                                ("expect_column_values_to_be_between", "rows_loaded")}
    assert all(f.unexpected_count == 1 and f.rows[0]["entity"] == "prices" for f in outcome.failed)


def test_lots_that_do_not_reconcile_fail_naming_the_household(positions):
    positions.loc[2, "lot_quantity"] = 2.0  # H2's lots hold one share fewer than its position
    outcome = check_lots_reconcile(positions)
    assert _failed(outcome) == {("expect_column_values_to_be_between", "lot_minus_position")}
    assert [(r["household_id"], r["account_id"]) for r in outcome.failed[0].rows] == [("H2", "A3")]


def test_more_than_the_configured_share_of_accounts_not_reconciling_fails_the_firm(positions):
    positions.loc[2, "lot_quantity"] = 2.0  # 1 of 3 accounts
    assert check_reconciliation_share(positions, max_share=0.5).success
    outcome = check_reconciliation_share(positions, max_share=0.25)
    assert _failed(outcome) == {("expect_column_values_to_be_between", "share_not_reconciling")}


def test_transaction_history_shorter_than_the_wash_sale_window_fails():
    short = pd.DataFrame({"trade_date": pd.to_datetime(["2026-11-01", "2026-11-19"])})  # 19 days
    assert _failed(check_transaction_history(short, AS_OF)) == {("expect_column_values_to_be_between", "history_days")}
    none = pd.DataFrame({"trade_date": pd.to_datetime([])})
    assert _failed(check_transaction_history(none, AS_OF)) == {("expect_column_values_to_not_be_null", "history_days")}
    future = pd.DataFrame({"trade_date": pd.to_datetime(["2026-01-05", "2026-11-21"])})
    assert _failed(check_transaction_history(future, AS_OF)) == {
        ("expect_column_values_to_be_between", "days_after_as_of")}


def test_household_failures_become_holds_with_reasons_and_the_rest_are_untouched(lots, targets):
    lots.loc[2, "household_id"] = "H2"
    lots.loc[2, "quantity"] = -1.0
    accounts = pd.DataFrame({"account_id": ["A1", "A2", "A3"], "household_id": ["H1", "H2", "H3"]})
    targets = pd.concat([targets, targets.assign(household_id="H2")], ignore_index=True)
    outcomes = [check_lots(lots, AS_OF), check_targets(targets, accounts)]  # H3 has no target
    holds = household_holds(outcomes)
    assert list(holds["household_id"]) == ["H2", "H3"]
    assert holds.set_index("household_id").loc["H2", "reason"] == "lots: expect_column_values_to_be_between on quantity"
    assert holds.set_index("household_id").loc["H3", "reason"] == (
        "household_targets: expect_column_values_to_not_be_null on weight_sum")
    assert unattributed_failures(outcomes) == []


def test_a_failure_that_names_no_household_is_unattributed():
    outcome = check_accounts(pd.DataFrame({"account_id": ["A1", "A2"], "household_id": ["H1", None]}))
    assert unattributed_failures([outcome]) == ["accounts: expect_column_values_to_not_be_null on household_id"]
    assert household_holds([outcome]).empty


def test_data_docs_are_rendered_into_the_given_folder(tmp_path, positions):
    positions.loc[0, "lot_quantity"] = 0.0
    outcome = check_lots_reconcile(positions, docs_dir=str(tmp_path / "2026-11-20"))
    assert outcome.docs_url == (tmp_path / "2026-11-20" / "index.html").as_uri()
    assert (tmp_path / "2026-11-20" / "index.html").exists()
    pages = list((tmp_path / "2026-11-20" / "validations").rglob("*.html"))
    assert pages and "lot_minus_position" in pages[0].read_text()
    # rendered by GX's page views whose templates are compiled once per process (expectations/data_docs.py)
    from expectations.data_docs import COMPILED_TEMPLATES

    assert COMPILED_TEMPLATES._code


def test_data_docs_built_once_per_step_still_index_every_validation(tmp_path, positions, lots):
    """A gate step renders each validation's page as it runs and the site's index once, when the step
    ends (expectations.runner.data_docs_built_once): the index lists both suites of the step."""
    from expectations.runner import data_docs_built_once
    from expectations.suites import check_lots

    docs = tmp_path / "2026-11-20"
    positions.loc[0, "lot_quantity"] = 0.0
    with data_docs_built_once(str(docs)):
        with data_docs_built_once(str(docs)):  # nested: the outer block writes the index
            reconcile = check_lots_reconcile(positions, docs_dir=str(docs))
        assert not (docs / "index.html").exists()
        lot_outcome = check_lots(lots, dt.date(2026, 11, 20), docs_dir=str(docs))
        assert not (docs / "index.html").exists()
    index = (docs / "index.html").read_text()
    assert reconcile.docs_url == lot_outcome.docs_url == (docs / "index.html").as_uri()
    pages = [p.read_text() for p in (docs / "validations").rglob("*.html")]
    assert len(pages) >= 2 and any("lot_minus_position" in page for page in pages)
    assert all(name in index for name in (reconcile.suite, lot_outcome.suite))


def test_an_account_whose_history_misses_a_recent_purchase_holds_its_household_only():
    from expectations.suites import check_account_history_covers_recent_lots, household_holds

    lots = pd.DataFrame({
        "household_id": ["H1", "H1", "H2"], "account_id": ["A1", "A1", "A2"], "lot_id": ["L1", "L2", "L3"],
        "security_id": ["AAA", "BBB", "AAA"],
        "acquired_date": pd.to_datetime(["2026-11-10", "2024-01-02", "2026-11-18"]),
    })
    transactions = pd.DataFrame({
        "account_id": ["A1", "A2"], "security_id": ["AAA", "AAA"], "transaction_type": ["buy", "dividend"],
        "trade_date": pd.to_datetime(["2026-11-10", "2026-11-18"]),
    })
    outcome = check_account_history_covers_recent_lots(lots, transactions, AS_OF)
    # L2 is old (outside the window), L1's buy is there, L3's purchase is missing (only a dividend)
    holds = household_holds([outcome])
    assert holds["household_id"].tolist() == ["H2"]
    assert "account_history_covers_recent_lots" in holds.loc[0, "reason"]


def test_raw_custodian_rows_name_the_file_and_line_of_a_bad_row_and_hold_only_its_household():
    from expectations.suites import check_raw_custodian_rows, household_holds

    household_of = pd.Series({"A1": "H1", "A2": "H2"})
    lots = pd.DataFrame({
        "account_id": ["A1", "A2", "A2"], "lot_id": ["L1", "L2", "L3"], "security_id": ["AAA"] * 3,
        "quantity": [10.0, 5.0, 5.0], "cost_basis": [100.0, 50.0, 50.0],
        "acquired_date": pd.to_datetime(["2026-01-02", "2026-11-25", "2025-01-02"]),  # L2 bought in the future
        "source_file": ["open_lots_20261120.csv"] * 3, "source_line": [2, 3, 4],
    })
    transactions = pd.DataFrame({
        "transaction_id": ["T1", "T2"], "account_id": ["A1", "A1"], "transaction_type": ["buy", "sell"],
        "trade_date": pd.to_datetime(["2026-11-02", "2026-11-03"]), "settle_date": pd.to_datetime(["2026-11-04", "2026-11-01"]),
        "source_file": ["transactions_20261120.csv"] * 2, "source_line": [2, 3],
    })
    outcomes = check_raw_custodian_rows({"open_lots": lots, "transactions": transactions}, household_of, AS_OF)
    by_suite = {o.suite: o for o in outcomes}
    bad_lot = by_suite["raw_open_lots"].failed[0].rows[0]
    assert (bad_lot["source_file"], bad_lot["source_line"], bad_lot["lot_id"]) == ("open_lots_20261120.csv", 3, "L2")
    bad_trade = by_suite["raw_transactions"].failed[0].rows[0]
    assert (bad_trade["source_line"], bad_trade["transaction_id"]) == (3, "T2")  # settles before its trade date
    assert set(household_holds(outcomes)["household_id"]) == {"H1", "H2"}
