"""The engine's basis next to the custodian's for every open lot: a difference always comes with a reason."""

from __future__ import annotations

import pandas as pd
import pytest

from taxlots.pipeline import engine_lot_basis

ACCOUNTS = pd.DataFrame({"account_id": ["OWN", "SPO", "IRA"], "household_id": ["H1"] * 3,
                         "registration": ["individual", "individual", "traditional_ira"]})
SECURITIES = pd.DataFrame({"security_id": ["X", "Y"], "identical_group": ["X", "Y"], "security_type": ["equity"] * 2})


def lots(rows):
    return pd.DataFrame(rows, columns=["account_id", "lot_id", "security_id", "quantity", "cost_basis",
                                       "acquired_date", "adjusted_acquired_date", "wash_sale_adjustment"])


def txns(rows):
    return pd.DataFrame(rows, columns=["transaction_id", "account_id", "trade_date", "transaction_type", "security_id",
                                       "quantity", "amount", "lot_id", "realized_gain", "holding_term"])


def test_a_spouse_replacement_shows_as_a_basis_difference_with_its_reason():
    open_lots = lots([("OWN", "L1", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      ("SPO", "L2", "X", 10, 900.0, "2026-03-10", "2026-03-10", 0.0),
                      ("OWN", "L3", "Y", 1, 50.0, "2024-01-02", "2024-01-02", 0.0)])
    history = txns([("T1", "OWN", "2026-03-01", "sell", "X", 5, 400.0, "L1", -100.0, "long"),
                    ("T2", "SPO", "2026-03-10", "buy", "X", 10, -900.0, "L2", None, None),
                    ("T3", "OWN", "2026-03-11", "deposit", None, None, 1000.0, None, None, None)])
    out = engine_lot_basis(open_lots, history, ACCOUNTS, SECURITIES).set_index("lot_id")
    spouse = out.loc["L2"]
    assert spouse["engine_cost_basis"] == pytest.approx(1000.0) and spouse["basis_difference"] == pytest.approx(100.0)
    assert "household-wide wash sale" in spouse["basis_difference_reason"] and "T1" in spouse["basis_difference_reason"]
    assert out.loc["L1", "engine_quantity"] == 5 and out.loc["L1", "basis_difference"] == pytest.approx(0.0)
    assert pd.isna(out.loc["L1", "basis_difference_reason"]) and pd.isna(out.loc["L3", "basis_difference_reason"])


def test_a_custodian_adjustment_without_a_loss_in_the_history_is_named_not_overwritten():
    open_lots = lots([("OWN", "L9", "X", 2, 260.0, "2026-05-01", "2026-02-01", 60.0)])
    history = txns([("T1", "OWN", "2026-05-01", "buy", "X", 2, -200.0, "L9", None, None)])
    row = engine_lot_basis(open_lots, history, ACCOUNTS, SECURITIES).iloc[0]
    assert row["custodian_cost_basis"] == 260.0 and row["engine_cost_basis"] == 200.0
    assert "no loss sale in the history" in row["basis_difference_reason"]


def test_a_history_that_does_not_replay_holds_its_household_with_a_reason():
    open_lots = lots([("OWN", "L1", "X", 1, 100.0, "2026-01-02", "2026-01-02", 0.0)])
    history = txns([("T1", "OWN", "2026-01-02", "buy", "X", 1, -100.0, "L1", None, None),
                    ("T2", "OWN", "2026-02-02", "sell", "X", 3, 300.0, "L1", 0.0, "short")])
    row = engine_lot_basis(open_lots, history, ACCOUNTS, SECURITIES).iloc[0]
    assert row["basis_difference_reason"].startswith("history does not replay: T2")
    assert pd.isna(row["basis_difference"])


def test_a_lot_closed_in_the_history_gets_back_the_loss_the_custodian_already_disallowed():
    # 2 shares of a closed lot sold for 200 at a raw loss of 100; the custodian replaced 1 share, so it
    # reports realized_gain -50 and adds 50 to the replacement: the engine agrees to the cent
    open_lots = lots([("OWN", "R1", "X", 1, 140.0, "2026-03-10", "2025-12-10", 50.0)])
    history = txns([("T1", "OWN", "2026-03-01", "sell", "X", 2, 200.0, "GONE", -50.0, "short"),
                    ("T2", "OWN", "2026-03-10", "buy", "X", 1, -90.0, "R1", None, None)])
    row = engine_lot_basis(open_lots, history, ACCOUNTS, SECURITIES).iloc[0]
    assert row["engine_cost_basis"] == pytest.approx(140.0) and row["engine_wash_sale_adjustment"] == pytest.approx(50.0)
    assert pd.isna(row["basis_difference_reason"])


def test_the_households_year_counts_the_spouse_wash_sale_and_nets_to_the_offset():
    import datetime as dt

    from taxlots.pipeline import engine_books

    accounts = ACCOUNTS.assign(filing_status="married_joint")
    open_lots = lots([("OWN", "L1", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      ("SPO", "L2", "X", 5, 450.0, "2026-03-10", "2026-03-10", 0.0),
                      ("OWN", "L4", "Y", 10, 10_000.0, "2026-01-05", "2026-01-05", 0.0)])
    history = txns([("T1", "OWN", "2026-03-01", "sell", "X", 5, 400.0, "L1", -100.0, "long"),
                    ("T2", "SPO", "2026-03-10", "buy", "X", 5, -450.0, "L2", None, None),
                    ("T3", "OWN", "2026-01-05", "buy", "Y", 20, -20_000.0, "L4", None, None),
                    ("T4", "OWN", "2026-06-01", "sell", "Y", 10, 5_000.0, "L4", -5_000.0, "short")])
    _, households = engine_books(open_lots, history, accounts, SECURITIES, dt.date(2026, 11, 20))
    year = households.set_index("household_id").loc["H1"]
    # The X loss of 100 is disallowed: the spouse bought X 9 days later. The Y loss of 5,000 is allowed,
    # so the year nets to -5,000 short-term: 3,000 offsets ordinary income and 2,000 carries forward.
    assert year["engine_disallowed_loss_ytd"] == pytest.approx(100.0)
    assert year["engine_realized_st_gain_ytd"] == pytest.approx(-5_000.0)
    assert year["engine_realized_lt_gain_ytd"] == pytest.approx(0.0)
    assert year["engine_ordinary_offset"] == pytest.approx(3_000.0)
    assert year["engine_carryforward_short_term"] == pytest.approx(2_000.0)


def test_households_replayed_in_worker_processes_give_the_same_tables(monkeypatch):
    import datetime as dt

    from taxlots import fanout
    from taxlots.pipeline import engine_books

    monkeypatch.setattr(fanout, "MIN_HOUSEHOLDS_PER_WORKER", 1)
    accounts, open_rows, history_rows = [], [], []
    for h in range(5):  # a spouse wash sale, an allowed loss and a lot bought in the history, per household
        own, spouse, ira = f"OWN{h}", f"SPO{h}", f"IRA{h}"
        accounts += [(own, f"H{h}", "individual"), (spouse, f"H{h}", "individual"), (ira, f"H{h}", "traditional_ira")]
        open_rows += [(own, f"L1{h}", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      (spouse, f"L2{h}", "X", 10, 900.0 + h, "2026-03-10", "2026-03-10", 0.0),
                      (own, f"L3{h}", "Y", 1 + h, 50.0, "2024-01-02", "2024-01-02", 0.0)]
        history_rows += [(f"T1{h}", own, "2026-03-01", "sell", "X", 5, 400.0, f"L1{h}", -100.0, "long"),
                         (f"T2{h}", spouse, "2026-03-10", "buy", "X", 10, -900.0 - h, f"L2{h}", None, None),
                         (f"T3{h}", own, "2026-06-01", "sell", "Y", 1, 40.0, f"L3{h}", -10.0, "long")]
    open_rows.append(("NOBODY", "L9", "Y", 1, 10.0, "2024-01-02", "2024-01-02", 0.0))  # unknown account: household ''
    frames = (lots(open_rows), txns(history_rows),
              pd.DataFrame(accounts, columns=["account_id", "household_id", "registration"]), SECURITIES)
    one = engine_books(*frames, dt.date(2026, 11, 20))
    two = engine_books(*frames, dt.date(2026, 11, 20), workers=2)
    pd.testing.assert_frame_equal(one[0], two[0])
    pd.testing.assert_frame_equal(one[1], two[1])
    assert one[1]["engine_disallowed_loss_ytd"].sum() == pytest.approx(500.0)


def test_households_replayed_a_range_at_a_time_give_the_same_tables(monkeypatch):
    import datetime as dt

    from taxlots import pipeline

    accounts = pd.DataFrame([(f"A{h}", f"H{h}", "individual") for h in range(4)] + [("B0", "H0", "individual")],
                            columns=["account_id", "household_id", "registration"])
    open_lots = lots([(f"A{h}", f"L{h}", "X", 5, 500.0 + h, "2025-01-02", "2025-01-02", 0.0) for h in range(4)]
                     + [("B0", "LB", "X", 5, 450.0, "2026-03-10", "2026-03-10", 0.0),
                        ("NOBODY", "L9", "Y", 1, 10.0, "2024-01-02", "2024-01-02", 0.0)])
    history = txns([("T1", "A0", "2026-03-01", "sell", "X", 5, 400.0, "S1", -100.0, "long"),
                    ("T2", "B0", "2026-03-10", "buy", "X", 5, -450.0, "LB", None, None)])
    frames = (open_lots, history, accounts, SECURITIES, dt.date(2026, 11, 20))
    whole = pipeline.engine_books(*frames)
    monkeypatch.setattr(pipeline, "LOTS_PER_PART", 1)  # one household per range
    parts = pipeline.engine_books(*frames)
    pd.testing.assert_frame_equal(whole[0], parts[0])
    pd.testing.assert_frame_equal(whole[1], parts[1])
    assert whole[0]["basis_difference_reason"].notna().any()  # B0's buy replaces A0's loss: same household


def test_lots_the_history_never_reaches_come_out_exactly_as_a_full_replay_gives_them():
    """Lots of a group the history never trades skip the replay; every row equals the row of the replay
    with every lot in it: unreached lots (one with an odd basis, one of zero quantity, two sharing an id),
    a custodian lot a purchase names, the wash sale next to them, and a history that does not replay
    (every lot of the household then says so, reached or not)."""
    from taxlots.pipeline import _lot_rows, _plain, _records, household_inputs, replay_household

    securities = pd.concat([SECURITIES, pd.DataFrame({"security_id": ["Z", "Q"], "identical_group": ["Z", "Q"],
                                                      "security_type": ["equity"] * 2})])
    open_lots = lots([("OWN", "L1", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      ("SPO", "L2", "X", 10, 900.0, "2026-03-10", "2026-03-10", 0.0),
                      ("OWN", "L3", "Y", 1.5, 50.004, "2024-01-02", "2023-12-02", 12.345),
                      ("IRA", "L4", "Z", 0, 10.0, "2024-01-02", "2024-01-02", None),
                      ("OWN", "L5", "Z", 2, 20.0, "2024-01-02", "2024-01-02", 0.0),
                      ("OWN", "L5", "Q", 3, 30.0, "2024-02-02", "2024-02-02", 0.0)])
    history = txns([("T1", "OWN", "2026-03-01", "sell", "X", 5, 400.0, "L1", -100.0, "long"),
                    ("T2", "SPO", "2026-03-10", "buy", "X", 10, -900.0, "L2", None, None)])

    def rows_of_full_replay(lots_frame, history_frame):
        (household, lots_h, trades_h, accounts_h, security_map), = household_inputs(
            lots_frame, history_frame, ACCOUNTS, securities)
        result, error = replay_household(lots_h, trades_h, accounts_h, security_map)
        return _lot_rows(household, lots_h, result.open_lots if result else [], error)

    for lots_frame, history_frame in [
        (open_lots, history),
        (open_lots, pd.concat([history, txns([("T3", "OWN", "2026-04-01", "buy", "X", 1, -90.0, "L3", None, None)])])),
        (open_lots, pd.concat([history, txns([("T4", "OWN", "2026-04-02", "sell", "X", 30, 900.0, None, 0.0, "short")])])),
    ]:
        expected = pd.DataFrame(rows_of_full_replay(lots_frame, history_frame))
        got = engine_lot_basis(lots_frame, history_frame, ACCOUNTS, securities)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), expected[got.columns], check_exact=True)
    assert got["basis_difference_reason"].str.startswith("history does not replay").all()
    assert len(_records(_plain(open_lots))) == len(got)


def test_a_household_that_sold_everything_still_reports_its_year(monkeypatch):
    """No open lot left, but a realized year: its gains, losses and carryforward are the engine's to
    report (dim_households' engine columns), in one process, in worker processes and a range at a time."""
    import datetime as dt

    from taxlots import fanout, pipeline

    monkeypatch.setattr(fanout, "MIN_HOUSEHOLDS_PER_WORKER", 1)
    accounts = pd.DataFrame([("A1", "H1", "individual"), ("A2", "H2", "individual"), ("A3", "H3", "individual")],
                            columns=["account_id", "household_id", "registration"]).assign(filing_status="single")
    open_lots = lots([("A1", "L1", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      ("A3", "L3", "Y", 2, 100.0, "2024-01-02", "2024-01-02", 0.0)])
    # H2 sold its only lot (bought in the history) at a 4,000 short-term loss: nothing is open
    history = txns([("T1", "A2", "2026-01-05", "buy", "Y", 100, -10_000.0, "L2", None, None),
                    ("T2", "A2", "2026-06-01", "sell", "Y", 100, 6_000.0, "L2", -4_000.0, "short")])
    frames = (open_lots, history, accounts, SECURITIES, dt.date(2026, 11, 20))
    whole = pipeline.engine_books(*frames)
    year = whole[1].set_index("household_id")
    assert list(year.index) == ["H1", "H2", "H3"]
    assert year.loc["H2", "engine_realized_st_gain_ytd"] == pytest.approx(-4_000.0)
    assert year.loc["H2", "engine_ordinary_offset"] == pytest.approx(3_000.0)
    assert year.loc["H2", "engine_carryforward_short_term"] == pytest.approx(1_000.0)
    assert set(whole[0]["household_id"]) == {"H1", "H3"}  # lot rows only for lots
    processes = pipeline.engine_books(*frames, workers=2)
    pd.testing.assert_frame_equal(whole[0], processes[0])
    pd.testing.assert_frame_equal(whole[1], processes[1])
    monkeypatch.setattr(pipeline, "LOTS_PER_PART", 1)
    parts = pipeline.engine_books(*frames)
    pd.testing.assert_frame_equal(whole[0], parts[0])
    pd.testing.assert_frame_equal(whole[1], parts[1])


def test_the_custodian_view_is_replayed_only_when_a_sale_of_a_closed_lot_needs_it(monkeypatch):
    """The custodian view only supplies the replaced fraction of sales of lots closed before the history;
    a household without such a sale gets exactly the tables of replaying both views, and one with such
    a sale still gets the custodian's disallowed loss back (the closed lot GONE)."""
    import datetime as dt

    from taxlots import pipeline

    accounts = pd.DataFrame([("A1", "H1", "individual"), ("B1", "H1", "individual"), ("A2", "H2", "individual")],
                            columns=["account_id", "household_id", "registration"])
    open_lots = lots([("A1", "L1", "X", 5, 500.0, "2025-01-02", "2025-01-02", 0.0),
                      ("B1", "L2", "X", 10, 900.0, "2026-03-10", "2026-03-10", 0.0),
                      ("A2", "R1", "X", 1, 140.0, "2026-03-10", "2025-12-10", 50.0)])
    history = txns([("T1", "A1", "2026-03-01", "sell", "X", 5, 400.0, "L1", -100.0, "long"),  # still open: L1
                    ("T2", "B1", "2026-03-10", "buy", "X", 10, -900.0, "L2", None, None),
                    ("T3", "A2", "2026-03-01", "sell", "X", 2, 200.0, "GONE", -50.0, "short"),  # closed
                    ("T4", "A2", "2026-03-10", "buy", "X", 1, -90.0, "R1", None, None)])
    frames = (open_lots, history, accounts, SECURITIES, dt.date(2026, 11, 20))
    needs = {}
    original = pipeline.sells_lots_closed_before_history

    def recording(lots_h, trades_h):
        needs[trades_h[0].account_id] = original(lots_h, trades_h)
        return needs[trades_h[0].account_id]

    monkeypatch.setattr(pipeline, "sells_lots_closed_before_history", recording)
    skipped = pipeline.engine_books(*frames)
    assert needs == {"A1": False, "A2": True}
    monkeypatch.setattr(pipeline, "sells_lots_closed_before_history", lambda lots_h, trades_h: True)
    both_views = pipeline.engine_books(*frames)
    pd.testing.assert_frame_equal(skipped[0], both_views[0], check_exact=True)
    pd.testing.assert_frame_equal(skipped[1], both_views[1], check_exact=True)
    assert skipped[0].set_index("lot_id").loc["R1", "engine_cost_basis"] == pytest.approx(140.0)
