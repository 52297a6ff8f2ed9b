"""The dbt project in transforms/: folder configs (parsed manifest) and an end-to-end build.

The end-to-end test writes a tiny raw layer by hand (two households, a blend model, a loss sale ten
days before the as-of date, a quarantined row) into a fresh DuckDB file, runs `dbt build` (models,
seeds, schema tests and unit tests) and checks the marts against hand-computed values. It does not
use the ingestion or the synthetic generator.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from custodian.layout import LAYOUTS_BY_ENTITY, ALL_LAYOUTS, DUCKDB_TYPES, LINEAGE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
TRANSFORMS = REPO / "transforms"
DBT = Path(sys.executable).with_name("dbt")
AS_OF = dt.date(2026, 11, 20)

MART_COLUMNS = {  # docs/marts.md, in order
    "dim_securities": "security_id, ticker, cusip, description, security_type, asset_class, gics_sector, gics_industry, identical_group, price, price_date",
    "dim_accounts": "account_id, household_id, owner_role, registration, taxable, custodian, fractional_allowed, model_id, custodian_account_number, cash_minimum, trading_locked, preferred_asset_classes",
    "dim_households": "household_id, filing_status, state, ordinary_income, advisory_fee_bps, annual_tax_budget, risk_aversion, tax_weight, trading_cost_bps, tracking_error_cap, harvest_threshold_start, harvest_threshold_end, federal_st_rate, federal_lt_rate, niit_rate, state_rate, st_rate, lt_rate, realized_st_gain_ytd, realized_lt_gain_ytd, tax_budget_remaining, account_count, market_value, cash, engine_realized_st_gain_ytd, engine_realized_lt_gain_ytd, engine_disallowed_loss_ytd, engine_net_capital_gain_ytd, engine_ordinary_offset, engine_carryforward_short_term, engine_carryforward_long_term",
    "fct_lots": "lot_id, account_id, household_id, security_id, identical_group, quantity, cost_basis, cost_per_share, acquired_date, adjusted_acquired_date, long_term_date, is_long_term, price, market_value, unrealized_gain, taxable, source_file, source_line, file_sha256, engine_cost_basis, basis_difference, basis_difference_reason",
    "fct_positions": "account_id, household_id, security_id, quantity, lot_quantity, price, market_value, reconciles",
    "fct_account_cash": "account_id, household_id, cash",
    "fct_household_targets": "household_id, model_id, model_version, security_id, target_weight",
    "fct_wash_sale_windows": "household_id, identical_group, window_type, window_start, window_end, source_transaction_id, source_account_id, exempt_lot_id",
    "fct_buy_restrictions": "account_id, security_id, reason",
    "fct_requests": "request_id, household_id, account_id, request_type, amount, account_choice, eligible_accounts, hold_until, requested_on",
    "fct_trading_restrictions": "account_id, household_id, security_id, restriction_type",
    "fct_household_readiness": "household_id, is_ready, hold_reasons",
}


def run_dbt(args: list[str], duckdb_path: Path, target_path: Path, as_of_env: str | None = None) -> subprocess.CompletedProcess:
    """Run the venv's dbt on transforms/ with its own target and log folders (no clobbering).

    as_of_env: the as-of date given the way Dagster gives it (env var SLEEVELESS_AS_OF_DATE).
    """
    env = {
        **{k: v for k, v in os.environ.items() if k != "SLEEVELESS_AS_OF_DATE"},
        "SLEEVELESS_DUCKDB_PATH": str(duckdb_path),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **({"SLEEVELESS_AS_OF_DATE": as_of_env} if as_of_env else {}),
    }
    cmd = [
        str(DBT),
        *args,
        "--project-dir", str(TRANSFORMS),
        "--profiles-dir", str(TRANSFORMS),
        "--target-path", str(target_path),
        "--log-path", str(target_path / "logs"),
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------------------- manifest


@pytest.fixture(scope="session")
def parsed_project(tmp_path_factory) -> Path:
    """A folder with `dbt parse` output in target/ (a later dbt call there can parse partially)."""
    tmp = tmp_path_factory.mktemp("dbt_parse")
    result = run_dbt(["parse"], tmp / "parse.duckdb", tmp / "target")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp


@pytest.fixture(scope="session")
def manifest(parsed_project) -> dict:
    return json.loads((parsed_project / "target" / "manifest.json").read_text())


def models_under(manifest: dict, folder: str) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["original_file_path"].startswith(f"models/{folder}/")
    ]


def test_marts_are_contracted_tables(manifest):
    marts = models_under(manifest, "marts")
    assert {m["name"] for m in marts} == set(MART_COLUMNS)
    for mart in marts:
        assert mart["config"]["materialized"] == "table", mart["name"]
        assert mart["config"]["contract"]["enforced"] is True, mart["name"]
        # the contract's columns are docs/marts.md's, in its order, each with a type
        assert list(mart["columns"]) == MART_COLUMNS[mart["name"]].split(", "), mart["name"]
        assert all(c["data_type"] for c in mart["columns"].values()), mart["name"]


def test_staging_models_are_views_and_the_only_source_readers(manifest):
    staging = models_under(manifest, "staging")
    # + quarantine, ingested_files, and the tax-lot engine's output (stg_taxlots__engine_lot_basis)
    # + each custodian dialect's account master (stg_<custodian>__accounts)
    assert len(staging) == len(ALL_LAYOUTS) + 4 + 3  # + the engine's household year
    for model in staging:
        assert model["config"]["materialized"] == "view", model["name"]
        assert model["name"].startswith(("stg_canonical__", "stg_taxlots__", "stg_schwab__", "stg_fidelity__",
                                         "stg_pershing__")), model["name"]
        assert len({tuple(source) for source in model["sources"]}) == 1, model["name"]
    for model in models_under(manifest, "intermediate") + models_under(manifest, "marts"):
        assert model["sources"] == [], f"{model['name']} reads a source; only staging may"
        assert model["config"]["materialized"] in {"view", "table"}, model["name"]
    # a config typo such as `+materialzied` would leave a key dbt does not know
    for model in models_under(manifest, ""):
        assert "materialzied" not in json.dumps(model["config"]), model["name"]


def test_sources_match_the_canonical_layout(manifest):
    sources = {s["name"]: s for s in manifest["sources"].values() if s["source_name"] == "raw"}
    lineage = [name for name, _ in LINEAGE_COLUMNS]
    for layout in ALL_LAYOUTS:
        source = sources[layout.entity]
        assert source["schema"] == "raw"
        assert list(source["columns"]) == layout.column_names + lineage, layout.entity
        for column in layout.columns:
            assert source["columns"][column.name]["data_type"] == DUCKDB_TYPES[column.kind].lower()
    assert {"quarantine", "ingested_files"} <= set(sources)
    account_level = {layout.entity for layout in ALL_LAYOUTS if layout.account_column}
    project_vars = yaml.safe_load((TRANSFORMS / "dbt_project.yml").read_text())["vars"]
    assert set(project_vars["account_level_entities"]) == account_level
    assert project_vars["as_of_date"] == "1900-01-01"


def test_every_mart_has_a_primary_key_test(manifest):
    tested: dict[str, set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or "test_metadata" not in node:
            continue
        model = node["attached_node"] and node["attached_node"].split(".")[-1]
        tested.setdefault(model, set()).add(node["test_metadata"]["name"])
    for mart in MART_COLUMNS:
        kinds = tested.get(mart, set())
        assert {"unique", "not_null"} <= kinds or "unique_combination_of_columns" in kinds, mart


# ------------------------------------------------------------------------------------- end to end

SECURITIES = [  # security_id, security_type, asset_class, gics_sector, identical_group, close
    ("VTI", "etf", "us_equity", None, "US_TOTAL", 300.0),
    ("ITOT", "etf", "us_equity", None, "US_TOTAL", 130.0),
    ("VXUS", "etf", "intl_equity", None, "VXUS", 65.0),
    ("BND", "etf", "us_bond", None, "BND", 72.5),
    ("AAPL", "equity", "us_equity", "Information Technology", "AAPL", 230.0),
    ("XOM", "equity", "us_equity", "Energy", "XOM", 110.0),
]

# household fields: filing_status, state, ordinary_income, advisory_fee_bps, annual_tax_budget, model
HOUSEHOLDS = {
    "H1": ("single", "TX", 40_000.0, 50.0, 5_000.0, "M_GROWTH"),
    "H2": ("married_joint", "CA", 300_000.0, 40.0, 10_000.0, "M_BLEND"),
}
ACCOUNTS = [  # account_id, household_id, owner_role, registration, taxable
    ("A1", "H1", "primary", "individual", True),
    ("A2", "H1", "primary", "roth_ira", False),
    ("A3", "H2", "joint", "joint", True),
    ("A4", "H2", "spouse", "traditional_ira", False),
]
MODELS = [  # model_id, model_version, component_type, component_id, weight
    ("M_EQ", "v1", "security", "VTI", 0.6),
    ("M_EQ", "v1", "security", "VXUS", 0.4),
    ("M_BOND", "v1", "security", "BND", 0.9),
    ("M_BOND", "v1", "security", "CASH", 0.1),
    ("M_BLEND", "v2", "model", "M_EQ", 0.7),
    ("M_BLEND", "v2", "model", "M_BOND", 0.3),
    ("M_GROWTH", "v1", "security", "VTI", 0.5),
    ("M_GROWTH", "v1", "security", "AAPL", 0.3),
    ("M_GROWTH", "v1", "security", "XOM", 0.15),
    ("M_GROWTH", "v1", "security", "CASH", 0.05),
]
POSITIONS = [
    ("A1", "VTI", 100.0),
    ("A1", "AAPL", 50.0),
    ("A1", "CASH", 1_000.0),
    ("A2", "VXUS", 200.0),
    ("A3", "ITOT", 80.0),
    ("A3", "BND", 100.0),
    ("A3", "CASH", 5_000.5),
    ("A4", "VTI", 10.0),  # lots hold 12.5: does not reconcile
]
LOTS = [  # account, lot, security, quantity, cost_basis, acquired, adjusted_acquired
    ("A1", "L1", "VTI", 60.0, 12_000.0, "2024-06-01", "2024-06-01"),
    ("A1", "L2", "VTI", 40.0, 11_000.0, "2026-11-15", "2026-11-15"),
    ("A1", "L3", "AAPL", 50.0, 5_000.0, "2025-11-20", "2025-11-20"),  # long-term from 2026-11-21
    ("A2", "L4", "VXUS", 200.0, 10_000.0, "2023-01-10", "2023-01-10"),
    ("A3", "L5", "ITOT", 80.0, 20_000.0, "2026-01-05", "2025-10-01"),  # tacked: long-term
    ("A3", "L6", "BND", 100.0, 7_500.0, "2022-03-01", "2022-03-01"),
    ("A4", "L7", "VTI", 12.0, 3_000.0, "2021-05-05", "2021-05-05"),
    ("A4", "L8", "VTI", 0.5, 150.0, "2026-10-21", "2026-10-21"),
]
TRANSACTIONS = [  # id, account, trade_date, type, security, quantity, price, amount, lot, gain, term
    ("T1", "A3", "2026-11-10", "sell", "VTI", 10.0, 290.0, 2_900.0, "L9", -1_500.0, "short"),
    ("T2", "A1", "2026-11-12", "sell", "XOM", 20.0, 110.0, 2_200.0, "L10", 800.0, "short"),
    ("T3", "A1", "2026-11-15", "buy", "VTI", 40.0, 275.0, -11_000.0, "L2", None, None),
    ("T4", "A1", "2026-03-01", "sell", "AAPL", 10.0, 250.0, 2_500.0, "L11", 2_000.0, "long"),
    ("T5", "A2", "2026-11-01", "sell", "VXUS", 10.0, 60.0, 600.0, "L12", -300.0, "short"),
    ("T6", "A3", "2026-09-01", "sell", "BND", 10.0, 70.0, 700.0, "L13", -200.0, "short"),
    ("T7", "A1", "2025-12-15", "sell", "VTI", 5.0, 280.0, 1_400.0, "L14", 999.0, "long"),
    ("T8", "A3", "2026-11-02", "dividend", None, None, None, 120.0, None, None, None),
    ("T9", "A4", "2026-10-21", "reinvest", "VTI", 0.5, 300.0, -150.0, "L8", None, None),
]


def create_raw_layer(con: duckdb.DuckDBPyConnection) -> None:
    """The raw schema as ingestion lays it out (custodian/layout.py + lineage), empty."""
    con.execute("create schema raw")
    lineage = [f"{name} {typ}" for name, typ in LINEAGE_COLUMNS]
    for layout in ALL_LAYOUTS:
        columns = [f"{c.name} {DUCKDB_TYPES[c.kind]}" for c in layout.columns] + lineage
        con.execute(f"create table raw.{layout.entity} ({', '.join(columns)})")
    con.execute(
        "create table raw.quarantine (as_of_date date, source_file varchar, source_line bigint,"
        " account_id varchar, field varchar, value varchar, error varchar, raw_line varchar)"
    )
    con.execute(
        "create table raw.ingested_files (as_of_date date, entity varchar, source_file varchar,"
        " file_sha256 varchar, rows_loaded bigint, rows_quarantined bigint)"
    )


def insert(con, entity: str, rows: list[tuple], as_of: dt.date = AS_OF) -> None:
    """Rows in layout column order; lineage is added (line 2 onwards, as after a header)."""
    source_file = f"landing/{as_of.isoformat()}/{entity}_{as_of:%Y%m%d}.csv"
    width = len(LAYOUTS_BY_ENTITY[entity].columns)  # columns a file may leave out come last: blank
    full = [(*row, *(None,) * (width - len(row)), as_of, source_file, line, f"sha-{entity}")
            for line, row in enumerate(rows, start=2)]
    placeholders = ", ".join("?" * len(full[0]))
    con.executemany(f"insert into raw.{entity} values ({placeholders})", full)
    con.execute(
        "insert into raw.ingested_files values (?, ?, ?, ?, ?, ?)",
        [as_of, entity, source_file, f"sha-{entity}", len(rows), 0],
    )


def load_fixture(con) -> None:
    create_raw_layer(con)
    insert(
        con,
        "security_master",
        [(s, s, f"CUSIP{s}", f"{s} description", t, a, g, None, grp) for s, t, a, g, grp, _ in SECURITIES],
    )
    insert(con, "prices", [(s, AS_OF, close) for s, *_, close in SECURITIES])
    insert(con, "price_history", [(s, AS_OF - dt.timedelta(days=1), close) for s, *_, close in SECURITIES])
    insert(
        con,
        "accounts",
        [
            (a, h, role, reg, taxable, "schwab", True, HOUSEHOLDS[h][5], *HOUSEHOLDS[h][:5])
            for a, h, role, reg, taxable in ACCOUNTS
        ],
    )
    insert(con, "positions", POSITIONS)
    insert(
        con,
        "open_lots",
        [(a, lot, s, q, basis, acq, adj, 0.0, True) for a, lot, s, q, basis, acq, adj in LOTS],
    )
    insert(
        con,
        "transactions",
        [(t, a, d, d, typ, s, q, p, amt, lot, g, term) for t, a, d, typ, s, q, p, amt, lot, g, term in TRANSACTIONS],
    )
    insert(con, "models", [(m, v, f"{m} name", ct, c, w) for m, v, ct, c, w in MODELS])
    insert(
        con,
        "restrictions",
        [
            ("A1", "never_buy_security", "XOM"),
            ("A1", "exclude_sector", "energy"),
            ("A3", "exclude_sector", "Information Technology"),
        ],
    )
    insert(con, "requests", [("R1", "H1", "A1", "cash_withdrawal", 2_500.0)])
    con.execute(
        "insert into raw.quarantine values (?, ?, 7, 'A3', 'quantity', 'abc', 'not a decimal', 'A3,MSFT,abc')",
        [AS_OF, f"landing/{AS_OF.isoformat()}/positions_{AS_OF:%Y%m%d}.csv"],
    )
    # another as-of date in the same raw tables: staging must ignore it
    yesterday = AS_OF - dt.timedelta(days=1)
    insert(
        con,
        "accounts",
        [("A9", "H9", "primary", "individual", True, "schwab", True, "M_EQ", "single", "TX", 1.0, 1.0, 1.0)],
        as_of=yesterday,
    )
    insert(con, "transactions", [("T99", "A1", "2026-11-18", "2026-11-18", "sell", "VTI", 1.0, 1.0, 1.0, "L1", -5.0, "short")], as_of=yesterday)
    con.execute(
        "insert into raw.quarantine values (?, 'x_20261119.csv', 2, 'A1', 'f', 'v', 'e', 'line')", [yesterday]
    )


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dbt_build")
    path = tmp / "sleeveless.duckdb"
    with duckdb.connect(str(path)) as con:
        load_fixture(con)
    result = run_dbt(["build", "--vars", f"{{as_of_date: {AS_OF.isoformat()}}}"], path, tmp / "target")
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-4000:]
    run_results = json.loads((tmp / "target" / "run_results.json").read_text())
    con = duckdb.connect(str(path), read_only=True)
    yield con, run_results
    con.close()


def rows(con, sql: str) -> list[dict]:
    cursor = con.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def test_build_passes_every_test_and_unit_test(warehouse):
    _, run_results = warehouse
    statuses = {r["unique_id"]: r["status"] for r in run_results["results"]}
    assert all(s in {"success", "pass"} for s in statuses.values()), {k: v for k, v in statuses.items() if v not in {"success", "pass"}}
    assert sum(uid.startswith("unit_test.") for uid in statuses) >= 5


def test_marts_have_the_contract_columns(warehouse):
    con, _ = warehouse
    for mart, columns in MART_COLUMNS.items():
        described = [r[0] for r in con.execute(f"describe main.{mart}").fetchall()]
        assert described == columns.split(", "), mart


def test_household_rates_and_budget(warehouse):
    con, _ = warehouse
    hh = {r["household_id"]: r for r in rows(con, "select * from main.dim_households")}
    assert set(hh) == {"H1", "H2"}  # H9 belongs to another as-of date
    h1, h2 = hh["H1"], hh["H2"]
    # single, 40k, TX: 12% bracket, 0% LT band, no NIIT, no state tax
    assert (h1["federal_st_rate"], h1["federal_lt_rate"], h1["niit_rate"], h1["state_rate"]) == (0.12, 0.0, 0.0, 0.0)
    assert (h1["st_rate"], h1["lt_rate"]) == (0.12, 0.0)
    # MFJ, 300k, CA: 24% bracket, 15% LT band, NIIT (over 250k), CA 13.3%
    assert (h2["federal_st_rate"], h2["federal_lt_rate"], h2["niit_rate"], h2["state_rate"]) == (0.24, 0.15, 0.038, 0.133)
    assert h2["st_rate"] == pytest.approx(0.411) and h2["lt_rate"] == pytest.approx(0.321)
    # H1 realized (taxable A1 only, this year): ST +800 (T2), LT +2000 (T4); T5 is in the Roth, T7 last year
    assert (h1["realized_st_gain_ytd"], h1["realized_lt_gain_ytd"]) == (800.0, 2_000.0)
    assert h1["tax_budget_remaining"] == pytest.approx(5_000 - 800 * 0.12)
    assert (h2["realized_st_gain_ytd"], h2["realized_lt_gain_ytd"]) == (-1_700.0, 0.0)
    assert h2["tax_budget_remaining"] == 10_000.0
    # market value includes cash
    assert h1["cash"] == 1_000.0 and h2["cash"] == 5_000.5
    assert h1["market_value"] == pytest.approx(100 * 300 + 50 * 230 + 200 * 65 + 1_000)
    assert h2["market_value"] == pytest.approx(80 * 130 + 100 * 72.5 + 10 * 300 + 5_000.5)
    assert (h1["account_count"], h2["account_count"]) == (2, 2)


def test_targets_expand_the_blend(warehouse):
    con, _ = warehouse
    targets = rows(con, "select * from main.fct_household_targets where household_id = 'H2'")
    assert {r["model_id"] for r in targets} == {"M_BLEND"} and {r["model_version"] for r in targets} == {"v2"}
    weights = {r["security_id"]: r["target_weight"] for r in targets}
    assert weights == pytest.approx({"VTI": 0.42, "VXUS": 0.28, "BND": 0.27, "CASH": 0.03})
    sums = dict(con.execute("select household_id, sum(target_weight) from main.fct_household_targets group by 1").fetchall())
    assert sums == pytest.approx({"H1": 1.0, "H2": 1.0})


def test_lots_holding_period_and_lineage(warehouse):
    con, _ = warehouse
    lots = {r["lot_id"]: r for r in rows(con, "select * from main.fct_lots")}
    assert lots["L3"]["long_term_date"] == dt.date(2026, 11, 21) and lots["L3"]["is_long_term"] is False
    assert lots["L5"]["long_term_date"] == dt.date(2026, 10, 2) and lots["L5"]["is_long_term"] is True
    assert lots["L2"]["is_long_term"] is False and lots["L1"]["is_long_term"] is True
    assert lots["L1"]["cost_per_share"] == 200.0 and lots["L1"]["unrealized_gain"] == 60 * 300 - 12_000
    assert lots["L4"]["taxable"] is False and lots["L4"]["household_id"] == "H1"
    assert lots["L5"]["identical_group"] == "US_TOTAL"
    assert lots["L1"]["source_file"].endswith("open_lots_20261120.csv") and lots["L1"]["source_line"] == 2
    assert lots["L1"]["file_sha256"] == "sha-open_lots"


def test_positions_and_cash(warehouse):
    con, _ = warehouse
    positions = {(r["account_id"], r["security_id"]): r for r in rows(con, "select * from main.fct_positions")}
    assert ("A1", "CASH") not in positions
    assert positions[("A1", "VTI")]["lot_quantity"] == 100.0 and positions[("A1", "VTI")]["reconciles"] is True
    assert positions[("A4", "VTI")]["reconciles"] is False and positions[("A4", "VTI")]["lot_quantity"] == 12.5
    cash = dict(con.execute("select account_id, cash from main.fct_account_cash").fetchall())
    assert cash == {"A1": 1_000.0, "A2": 0.0, "A3": 5_000.5, "A4": 0.0}
    cash_security = rows(con, "select * from main.dim_securities where security_id = 'CASH'")
    assert cash_security[0]["price"] == 1.0 and cash_security[0]["identical_group"] == "CASH"


def test_wash_sale_windows(warehouse):
    con, _ = warehouse
    windows = rows(con, "select * from main.fct_wash_sale_windows order by source_transaction_id")
    got = {
        w["source_transaction_id"]: (w["household_id"], w["identical_group"], w["window_type"], w["window_start"], w["window_end"], w["exempt_lot_id"])
        for w in windows
    }
    d = dt.date
    assert got == {
        # loss sale 10 days ago in H2's joint account: no buying the US_TOTAL group anywhere in H2
        "T1": ("H2", "US_TOTAL", "no_buy", d(2026, 11, 10), d(2026, 12, 10), None),
        # buy 5 days ago: no loss sale of other US_TOTAL lots in H1; the new lot is exempt
        "T3": ("H1", "US_TOTAL", "no_loss_sale", d(2026, 11, 15), d(2026, 12, 15), "L2"),
        # loss sale in the Roth IRA counts for the household
        "T5": ("H1", "VXUS", "no_buy", d(2026, 11, 1), d(2026, 12, 1), None),
        # reinvest is a purchase; its window ends today (inclusive)
        "T9": ("H2", "US_TOTAL", "no_loss_sale", d(2026, 10, 21), d(2026, 11, 20), "L8"),
    }  # T2/T4/T7 are gains, T6's window ended 2026-10-01, T99 is another as-of date


def test_buy_restrictions_and_requests(warehouse):
    con, _ = warehouse
    restrictions = {(r["account_id"], r["security_id"]): r["reason"] for r in rows(con, "select * from main.fct_buy_restrictions")}
    assert restrictions == {
        ("A1", "XOM"): "exclude_sector: Energy; never_buy_security",
        ("A3", "AAPL"): "exclude_sector: Information Technology",
    }
    assert rows(con, "select * from main.fct_requests") == [
        {"request_id": "R1", "household_id": "H1", "account_id": "A1", "request_type": "cash_withdrawal", "amount": 2_500.0,
         "account_choice": "named", "eligible_accounts": None, "hold_until": None, "requested_on": AS_OF}
    ]


def test_readiness(warehouse):
    con, _ = warehouse
    readiness = {r["household_id"]: (r["is_ready"], r["hold_reasons"]) for r in rows(con, "select * from main.fct_household_readiness")}
    assert readiness == {
        "H1": (True, ""),
        "H2": (False, "quarantined input rows; lots do not reconcile with positions"),
    }


def test_run_without_as_of_date_fails(manifest, parsed_project):
    """The placeholder default only serves `dbt parse`: a run without the var must not build empty marts."""
    target = parsed_project / "target"
    result = run_dbt(["run", "--select", "stg_canonical__accounts"], parsed_project / "parse.duckdb", target)
    assert result.returncode != 0
    assert "as_of_date" in result.stdout


def test_the_as_of_date_env_var_reaches_the_sql_without_a_new_parse(manifest, parsed_project):
    """Dagster passes the date as SLEEVELESS_AS_OF_DATE so that dbt reuses its saved parse
    (`--vars` changing every day made dbt re-parse the whole project); each day compiles its own date."""
    target = parsed_project / "target"
    compiled = target / "compiled" / "sleeveless" / "models" / "marts" / "fct_wash_sale_windows.sql"
    for as_of in ("2026-11-19", "2026-11-20"):
        result = run_dbt(["compile", "--select", "fct_wash_sale_windows"], parsed_project / "parse.duckdb", target, as_of_env=as_of)
        assert result.returncode == 0, result.stdout[-4000:]
        assert "Unable to do partial parsing" not in result.stdout
        assert f"window_end >= cast('{as_of}' as date)" in compiled.read_text()


def test_the_dbt_resource_skips_what_dagster_dbt_does_before_starting_dbt():
    """SleevelessDbtCliResource overrides two dagster-dbt internals; an upgrade that renames them must fail here."""
    from dagster_dbt import DbtCliResource

    from orchestration.lib.dbt import SleevelessDbtCliResource, transforms_project

    assert {"_cli_version", "_initialize_dbt_core_adapter"} <= set(vars(DbtCliResource))
    resource = SleevelessDbtCliResource(project_dir=transforms_project, dbt_executable=str(DBT))
    assert resource._cli_version.major == 1  # dbt Core, read from the package, no `dbt --version`
    assert resource._initialize_dbt_core_adapter([]) is None


# ------------------------------------------------------------------------------------ seed data


def read_seed(name: str) -> list[dict]:
    import csv

    with (TRANSFORMS / "seeds" / f"{name}.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def bracket_tops(name: str, year: int, status: str) -> list[float | None]:
    rows_ = [r for r in read_seed(name) if int(r["effective_tax_year"]) == year and r["filing_status"] == status]
    rows_.sort(key=lambda r: float(r["income_floor"]))
    return [float(r["income_top"]) if r["income_top"] else None for r in rows_]


def ltcg_tax(year: int, status: str, ordinary: float, gain: float) -> float:
    """Tax on a long-term gain stacked on top of ordinary income, from the seed bands."""
    tax = 0.0
    for r in read_seed("tax_federal_ltcg_brackets"):
        if int(r["effective_tax_year"]) != year or r["filing_status"] != status:
            continue
        lo, hi = float(r["income_floor"]), float(r["income_top"]) if r["income_top"] else float("inf")
        tax += max(0.0, min(ordinary + gain, hi) - max(ordinary, lo)) * float(r["rate"])
    return tax


def test_ordinary_brackets_match_tax_rules():
    # tax-rules.md section 6, 2026 tops (then 37%)
    assert bracket_tops("tax_federal_ordinary_brackets", 2026, "single") == [12_400, 50_400, 105_700, 201_775, 256_225, 640_600, None]
    mfj = [24_800, 100_800, 211_400, 403_550, 512_450, 768_700]
    assert bracket_tops("tax_federal_ordinary_brackets", 2026, "married_joint") == [*mfj, None]
    assert bracket_tops("tax_federal_ordinary_brackets", 2026, "married_separate") == [t / 2 for t in mfj] + [None]
    rates = sorted({float(r["rate"]) for r in read_seed("tax_federal_ordinary_brackets")})
    assert rates == [0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37]
    for year in (2025, 2026):
        for status in ("single", "married_joint", "married_separate", "head_of_household"):
            assert len(bracket_tops("tax_federal_ordinary_brackets", year, status)) == 7


def test_ltcg_bands_match_tax_rules_and_its_vectors():
    table = {  # tax-rules.md section 6: 0% top / 15% top
        2025: {"single": (48_350, 533_400), "married_joint": (96_700, 600_050), "head_of_household": (64_750, 566_700), "married_separate": (48_350, 300_000)},
        2026: {"single": (49_450, 545_500), "married_joint": (98_900, 613_700), "head_of_household": (66_200, 579_600), "married_separate": (49_450, 306_850)},
    }
    for year, statuses in table.items():
        for status, (zero_top, fifteen_top) in statuses.items():
            assert bracket_tops("tax_federal_ltcg_brackets", year, status) == [zero_top, fifteen_top, None]
    assert ltcg_tax(2025, "single", 40_000, 20_000) == pytest.approx(1_747.50)  # RT-1
    assert ltcg_tax(2026, "married_joint", 90_000, 50_000) == pytest.approx(6_165.00)  # RT-2
    assert ltcg_tax(2025, "single", 600_000, 100_000) == pytest.approx(20_000)  # RT-3


def test_niit_and_state_seeds():
    niit = {r["filing_status"]: (float(r["threshold"]), float(r["rate"])) for r in read_seed("tax_niit_thresholds")}
    assert niit == {
        "single": (200_000, 0.038),
        "head_of_household": (200_000, 0.038),
        "married_joint": (250_000, 0.038),
        "married_separate": (125_000, 0.038),
    }
    states = {r["state"]: float(r["top_rate"]) for r in read_seed("tax_state_top_rates")}
    assert len(states) == 51 and "DC" in states
    # the rates tax-rules.md states, exactly
    assert {s: states[s] for s in ("CA", "NY", "NJ", "OR", "MN", "MA", "IL", "PA")} == {
        "CA": 0.133, "NY": 0.109, "NJ": 0.1075, "OR": 0.099, "MN": 0.0985, "MA": 0.05, "IL": 0.0495, "PA": 0.0307,
    }
    assert all(states[s] == 0.0 for s in ("AK", "FL", "NV", "SD", "TN", "TX", "WY", "NH", "WA"))
    assert all(0.0 <= rate < 0.15 for rate in states.values())
