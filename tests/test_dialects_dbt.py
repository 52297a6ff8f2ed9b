"""A multi-custodian firm (Schwab, Fidelity and Pershing dialects) through the loader and `dbt build`:
the marts hold exactly the firm's lots and positions, every lot traces to its dialect file and line,
every account reconciles and every household is ready. The translation to the canonical columns is
the loader's (custodian/dialects/translate.py); dbt reads the canonical raw tables unchanged."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from custodian.load import load_landing_day
from custodian.stores import LocalFileStore

REPO = Path(__file__).resolve().parents[1]
DBT = Path(sys.executable).with_name("dbt")
AS_OF = dt.date(2026, 11, 20)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    from synthetic import generate_firm, write_firm

    firm = generate_firm(AS_OF, households=3, seed=2)
    root = tmp_path_factory.mktemp("dialects_dbt")
    folder = write_firm(firm, root / "landing", dialects=True)
    assert not (folder / f"open_lots_{AS_OF:%Y%m%d}.csv").exists()
    path = root / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        day = load_landing_day(LocalFileStore(root / "landing"), con, AS_OF, archive_store=LocalFileStore(root / "archive"))
    assert day.quarantine.empty, day.quarantine.head().to_dict("records")
    env = {**os.environ, "SLEEVELESS_DUCKDB_PATH": str(path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = Path(os.environ.get("DBT_TARGET_PATH", root / "target")) / "dialects_dbt"
    result = subprocess.run(
        [str(DBT), "build", "--vars", f"{{as_of_date: '{AS_OF.isoformat()}'}}", "--project-dir", str(REPO / "transforms"),
         "--profiles-dir", str(REPO / "transforms"), "--target-path", str(target), "--log-path", str(target / "logs")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    con = duckdb.connect(str(path), read_only=True)
    yield firm, con
    con.close()


def test_marts_hold_the_firms_lots_with_lineage_to_the_dialect_files(warehouse):
    firm, con = warehouse
    lots = con.execute("select lot_id, account_id, security_id, quantity, source_file, source_line from fct_lots").df()
    assert sorted(lots["lot_id"]) == sorted(firm.open_lots["lot_id"].astype(str))
    custodian_of = dict(zip(firm.accounts["account_id"].astype(str), firm.accounts["custodian"].astype(str)))
    prefix = {"schwab": "CRS", "fidelity": "001_SLV_TLAOPENFULL", "pershing": "PSH_GLOT"}
    assert all(f.startswith(prefix[custodian_of[a]]) for a, f in zip(lots["account_id"], lots["source_file"]))
    first = 2 if not lots["source_file"].iloc[0].startswith("CRS") else 1
    assert lots["source_line"].min() >= 1 and (lots["source_line"] >= first).all()


def test_positions_reconcile_and_every_household_is_ready(warehouse):
    firm, con = warehouse
    positions = con.execute("select account_id, security_id, quantity, reconciles from fct_positions").df()
    assert positions["reconciles"].all()
    held = firm.positions[firm.positions["security_id"].astype(str) != "CASH"]
    assert len(positions) == len(held)
    cash = con.execute("select account_id, cash from fct_account_cash order by account_id").df()
    expected = firm.positions[firm.positions["security_id"].astype(str) == "CASH"].assign(
        account_id=lambda f: f["account_id"].astype(str)).sort_values("account_id")
    assert cash["cash"].round(2).tolist() == expected["quantity"].round(2).tolist()
    readiness = con.execute("select household_id, is_ready, hold_reasons from fct_household_readiness").df()
    assert readiness["is_ready"].all(), readiness.to_string()


def test_custodian_of_each_account_is_the_one_whose_files_carried_it(warehouse):
    firm, con = warehouse
    accounts = con.execute("select account_id, custodian from dim_accounts").df()
    native = pd.concat([
        con.execute(f"select firm_reference as account_id, '{c}' as delivered_by from raw.{c}_accounts").df()
        for c in ("schwab", "fidelity", "pershing")
    ])
    both = accounts.merge(native, on="account_id")
    assert len(both) == len(accounts) and (both["custodian"] == both["delivered_by"]).all()


def test_dim_accounts_carries_each_custodians_own_account_number(warehouse):
    from synthetic.dialects import account_numbers

    firm, con = warehouse
    dim = con.execute("select account_id, custodian, custodian_account_number from dim_accounts").df()
    expected = {}
    for custodian, accounts in firm.accounts.groupby(firm.accounts["custodian"].astype(str)):
        expected.update(zip(accounts["account_id"].astype(str), account_numbers(accounts, custodian)))
    assert dict(zip(dim["account_id"], dim["custodian_account_number"])) == expected


@pytest.mark.parametrize("custodian", ["schwab", "fidelity", "pershing"])
def test_custodian_staging_maps_native_codes_to_the_canonical_columns(warehouse, custodian):
    from custodian.dialects import DIALECTS_BY_CUSTODIAN

    firm, con = warehouse
    columns = [c[0] for c in con.execute(f"describe stg_{custodian}__accounts").fetchall()]
    assert columns[:5] == ["account_id", "custodian_account_number", "custodian", "registration", "taxable"]
    staged = con.execute(f"select account_id, custodian, registration, taxable from stg_{custodian}__accounts").df()
    firm_accounts = firm.accounts[firm.accounts["custodian"].astype(str) == custodian]
    truth = firm_accounts.assign(account_id=firm_accounts["account_id"].astype(str))[["account_id", "registration", "taxable"]]
    both = truth.merge(staged, on="account_id", suffixes=("_firm", "_custodian"))
    assert len(both) == len(truth) > 0
    assert (both["registration_firm"].astype(str) == both["registration_custodian"]).all()
    assert (both["taxable_firm"].astype(bool) == both["taxable_custodian"].astype(bool)).all()
    # every native code of the layout is decoded by the SQL (codes the synthetic firm does not use included)
    sql = (REPO / "transforms" / "models" / "staging" / custodian / f"stg_{custodian}__accounts.sql").read_text()
    for native, canonical in DIALECTS_BY_CUSTODIAN[custodian].by_kind("accounts").field("registration_code").codes:
        assert f"when '{native}' then '{canonical}'" in sql


def test_an_account_master_that_does_not_reach_staging_stops_the_build(warehouse, tmp_path):
    """The guard behind dialect_source (transforms/macros/dialect_source.sql): if a staging model is
    ever compiled from the empty fallback while the custodian's raw account master exists (dbt's
    relation-cache race under several threads did that once at 10,000 households), the singular test
    assert_custodian_account_masters_reach_staging fails, naming the custodian, and dbt build skips
    the marts: no upload file goes out with the firm's ids for Schwab's account numbers."""
    import shutil

    firm, con = warehouse
    database = con.execute("select database_name from duckdb_databases() where not internal").fetchone()[0]
    path = con.execute("select path from duckdb_databases() where database_name = ?", [database]).fetchone()[0]
    copy = tmp_path / "w.duckdb"
    shutil.copy(path, copy)
    with duckdb.connect(str(copy)) as writer:  # what the race compiled: the fallback, not raw.schwab_accounts
        writer.execute("create table main.no_schwab_accounts as select * from main.stg_schwab__accounts where false")
        writer.execute("create or replace view main.stg_schwab__accounts as select * from main.no_schwab_accounts")
        assert writer.execute("select count(*) from raw.schwab_accounts").fetchone()[0] > 0
    env = {**os.environ, "SLEEVELESS_DUCKDB_PATH": str(copy), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    target = Path(os.environ.get("DBT_TARGET_PATH", tmp_path / "target")) / "dialects_dbt_guard"
    result = subprocess.run(
        [str(DBT), "test", "--select", "assert_custodian_account_masters_reach_staging",
         "--vars", f"{{as_of_date: '{AS_OF.isoformat()}'}}", "--project-dir", str(REPO / "transforms"),
         "--profiles-dir", str(REPO / "transforms"), "--target-path", str(target), "--log-path", str(target / "logs")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode != 0, result.stdout[-3000:]
    assert "assert_custodian_account_masters_reach_staging" in result.stdout and "Got 1 result" in result.stdout, \
        result.stdout[-3000:]
