"""The gates' narrow reads (orchestration/defs/quality/reads.py) give the outcomes of reading everything:
same failures, same rows, same held households, on a small warehouse with bad rows injected."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest

from expectations import suites
from orchestration.defs.quality import reads
from orchestration.defs.quality.assets import household_suite_outcomes
from orchestration.defs.quality.resources import QualityGates

AS_OF = dt.date(2026, 11, 20)

WAREHOUSE = """
create schema raw; create schema optimizer;
create table main.dim_accounts as select * from (values
    ('A1', 'H1', 0.0, false), ('A2', 'H1', 0.0, false), ('A3', 'H2', 50.0, false), ('A4', 'H3', 0.0, true),
    ('A5', null, 0.0, false)) t(account_id, household_id, cash_minimum, trading_locked);
create table main.fct_lots as select * from (values
    ('L1', 'A1', 'H1', 'AAA', 10.0, 1000.0, date '2024-01-02'),
    ('L2', 'A1', 'H1', 'BBB', 5.0, 400.0, date '2026-11-10'),
    ('L3', 'A2', 'H1', 'AAA', 3.0, 330.0, date '2026-11-12'),
    ('L4', 'A3', 'H2', 'AAA', 0.0, 10.0, date '2025-06-30'),
    ('L5', 'A3', 'H2', 'CCC', 2.0, 90.0, date '2026-11-25'),
    ('L5', 'A4', 'H3', 'CCC', 2.0, -1.0, date '2026-11-15'),
    ('L6', 'A4', 'H3', 'AAA', 1.0, 100.0, null)
) t(lot_id, account_id, household_id, security_id, quantity, cost_basis, acquired_date);
create table main.fct_positions as select * from (values
    ('H1', 'A1', 'AAA', 10.0, 10.0), ('H1', 'A1', 'BBB', 5.0, 5.0), ('H2', 'A3', 'CCC', 2.0, 1.0)
) t(household_id, account_id, security_id, quantity, lot_quantity);
create table main.fct_household_targets as select * from (values
    ('H1', 'AAA', 0.6), ('H1', 'CASH', 0.4), ('H2', 'AAA', 0.7), ('H3', 'AAA', 1.0)
) t(household_id, security_id, target_weight);
create table raw.positions as select * from (values
    ('A1', 'AAA', 10.0, 'POS.CSV', 1), ('A3', null, 2.0, 'POS.CSV', 2), ('A4', 'AAA', -1.0, 'POS.CSV', 3)
) t(account_id, security_id, quantity, source_file, source_line);
alter table raw.positions add column as_of_date date default date '2026-11-20';
create table raw.open_lots as select * from (values
    ('A1', 'L1', 10.0, 1000.0, date '2024-01-02', 'LOT.CSV', 1),
    ('A1', 'L1', 10.0, 1000.0, date '2024-01-02', 'LOT.CSV', 2),
    ('A3', 'L5', 2.0, 90.0, date '2026-11-25', 'LOT.CSV', 3)
) t(account_id, lot_id, quantity, cost_basis, acquired_date, source_file, source_line);
alter table raw.open_lots add column as_of_date date default date '2026-11-20';
create table raw.transactions as select * from (values
    ('T1', 'A1', 'BBB', 'buy', date '2026-11-10', date '2026-11-11', 'TRN.CSV', 1),
    ('T2', 'A2', 'AAA', 'sell', date '2026-11-12', date '2026-11-10', 'TRN.CSV', 2),
    ('T3', 'A4', 'CCC', 'reinvest', date '2026-11-15', date '2026-11-17', 'TRN.CSV', 3),
    ('T4', 'A3', 'AAA', null, date '2026-11-22', date '2026-11-23', 'TRN.CSV', 4),
    ('T5', 'A1', 'AAA', 'buy', date '2025-01-02', date '2025-01-03', 'TRN.CSV', 5)
) t(transaction_id, account_id, security_id, transaction_type, trade_date, settle_date, source_file, source_line);
alter table raw.transactions add column as_of_date date default date '2026-11-20';
create table optimizer.trades as select * from (values
    ('H1', 'A1', 'AAA', 'sell', 12.0, 1200.0, 'L1', -50.0),
    ('H1', 'A2', 'AAA', 'sell', 1.0, 100.0, 'L3', 5.0),
    ('H2', 'A3', 'CCC', 'gift', 1.0, 90.0, 'L5', 0.0),
    ('H2', 'A3', 'AAA', 'buy', 3.0, 300.0, null, null)
) t(household_id, account_id, security_id, side, quantity, trade_value, lot_id, realized_gain);
alter table optimizer.trades add column as_of_date date default date '2026-11-20';
"""


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute(WAREHOUSE)
    yield connection
    connection.close()


def _everything(con, schema: str, table: str) -> pd.DataFrame:
    return con.execute(f"select * from {schema}.{table}").df()


def _outcomes_reading_everything(con, gates: QualityGates) -> list:
    """The household suites as the asset ran them before its reads were narrowed: every table whole."""
    lots, accounts = _everything(con, "main", "fct_lots"), _everything(con, "main", "dim_accounts")
    raw = {entity: _everything(con, "raw", entity) for entity in ("positions", "open_lots", "transactions")}
    return [
        suites.check_lots(lots, AS_OF),
        suites.check_lots_reconcile(_everything(con, "main", "fct_positions")),
        suites.check_accounts(accounts),
        suites.check_targets(_everything(con, "main", "fct_household_targets"), accounts,
                             tolerance=gates.target_weight_tolerance),
        suites.check_account_history_covers_recent_lots(lots, raw["transactions"], AS_OF,
                                                        days=gates.wash_sale_history_days),
        *suites.check_raw_custodian_rows(raw, accounts.set_index("account_id")["household_id"], AS_OF),
    ]


def _facts(outcome) -> str:
    """What a gate reports of a suite, as text (a null household is NaN, which equals nothing)."""
    return repr((outcome.suite, outcome.success, outcome.row_count, outcome.evaluated,
                 [(f.expectation, f.column, f.unexpected_count, f.unexpected_percent, f.sample, f.rows)
                  for f in outcome.failed]))


def test_the_household_suites_on_narrow_reads_fail_and_hold_exactly_as_on_whole_tables(con, tmp_path):
    gates = QualityGates(data_docs_dir=str(tmp_path))
    narrow = list(household_suite_outcomes(con, AS_OF, gates))
    whole = _outcomes_reading_everything(con, gates)
    assert [_facts(o) for o in narrow] == [_facts(o) for o in whole]
    assert sum(len(o.failed) for o in narrow) >= 10  # the injected rows fail every suite but accounts' uniqueness
    pd.testing.assert_frame_equal(suites.household_holds(narrow), suites.household_holds(whole))
    assert suites.unattributed_failures(narrow) == suites.unattributed_failures(whole)


def test_the_trade_gate_reads_few_lots_and_judges_the_trades_as_with_every_lot(con):
    lots = reads.trade_gate_lots(con, AS_OF)
    assert list(lots["lot_id"]) == ["L1", "L3", "L4", "L5", "L5"]  # relieved, or an account's first lot
    trades = reads.trade_gate_trades(con, AS_OF)
    empty = pd.DataFrame({"account_id": [], "security_id": [], "household_id": [], "identical_group": [],
                          "window_type": [], "request_type": [], "amount": [], "restriction_type": []})
    securities = pd.DataFrame({"security_id": ["AAA", "BBB", "CCC"], "identical_group": ["AAA", "BBB", "CCC"]})
    cash = pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"], "household_id": ["H1", "H1", "H2", "H3"],
                         "cash": [0.0, 0.0, 10.0, 0.0]})
    accounts = _everything(con, "main", "dim_accounts")
    narrow = suites.trade_safety_frame(trades, lots, cash, empty, empty, empty, securities, empty, accounts)
    whole = suites.trade_safety_frame(_everything(con, "optimizer", "trades").drop(columns="as_of_date"),
                                      _everything(con, "main", "fct_lots"), cash, empty, empty, empty, securities,
                                      empty, accounts)
    for name in whole:
        pd.testing.assert_frame_equal(narrow[name], whole[name])
    outcomes = suites.check_trades(narrow, max_turnover=2.0, household_values=10_000.0)
    assert not {o.suite: o for o in outcomes}["trades_relieve_existing_lots"].success


def test_read_frame_is_what_duckdb_df_returns_chunk_by_chunk(con, monkeypatch):
    from orchestration.lib import warehouse

    monkeypatch.setattr(warehouse, "VECTORS_PER_CHUNK", 1)  # 2,048 rows a chunk
    query = ("select i, case when i < 3000 then null else 'x' || i end as text, "
             "case when i % 1000 = 0 then null else i end as maybe, date '2026-11-20' + (i % 9)::int as day "
             "from range(5000) r(i)")
    pd.testing.assert_frame_equal(warehouse.read_frame(con, query), con.execute(query).df())
    empty = query + " where i < 0"
    pd.testing.assert_frame_equal(warehouse.read_frame(con, empty), con.execute(empty).df())


def test_a_validation_leaves_no_frame_behind_in_the_gx_engine():
    from expectations.runner import _context

    suites.check_accounts(pd.DataFrame({"account_id": ["A1"], "household_id": ["H1"]}))
    engine = _context().data_sources.get("frames").get_execution_engine()
    assert engine.batch_manager.batch_data_cache == {} and not engine.batch_manager.batch_cache
