"""The Dagster side of the quality gates: thresholds as configuration, what an operator sees in a
check's metadata, and how the household gate's holds reach the optimizer."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pandas as pd

from expectations.suites import check_accounts, check_lots_reconcile
from orchestration.defs.optimize.assets import apply_quality_holds, held_out_outcomes
from orchestration.defs.quality.checks import gate_result, household_gate_result
from orchestration.defs.quality.resources import QualityGates

AS_OF = dt.date(2026, 11, 20)


def _positions(bad_household: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({
        "household_id": ["H1", "H2"], "account_id": ["A1", "A2"], "security_id": ["AAA", "AAA"],
        "quantity": [10.0, 4.0], "lot_quantity": [10.0, 4.0],
    })
    if bad_household:
        frame.loc[frame["household_id"] == bad_household, "lot_quantity"] = 1.0
    return frame


def test_thresholds_have_defaults_and_data_docs_go_under_the_data_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("SLEEVELESS_HOME", str(tmp_path))
    gates = QualityGates()
    assert gates.max_price_age_days == 0 and gates.wash_sale_history_days == 30
    assert 0 < gates.max_unreconciled_account_share < 1 and 0 < gates.max_held_household_share < 1
    assert gates.docs_dir(AS_OF) == str(tmp_path.resolve() / "gx_data_docs" / "2026-11-20")
    assert QualityGates(data_docs_dir="/srv/docs").docs_dir(AS_OF) == "/srv/docs/2026-11-20"


def test_the_code_location_wires_the_gates_resource_and_the_household_gate():
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    firm = {("raw/ingested_files", "custodian_files_present"), ("fct_positions", "accounts_reconcile_within_threshold"),
            ("fct_wash_sale_windows", "transaction_history_covers_wash_sale_window"),
            ("household_quality_holds", "held_households_within_threshold")}
    assert firm <= set(checks) and all(checks[c].blocking for c in firm)
    assert dg.AssetKey(["household_quality_holds"]) in graph.get(dg.AssetKey(["household_trades"])).parent_keys
    assert isinstance(definitions.resources["quality_gates"], QualityGates)


def test_a_failed_gate_shows_the_expectation_its_unexpected_count_sample_rows_and_data_docs(tmp_path):
    outcome = check_lots_reconcile(_positions(bad_household="H2"), docs_dir=str(tmp_path))
    result = gate_result(outcome)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    table = result.metadata["failures"].value
    assert "expect_column_values_to_be_between" in table and "lot_minus_position" in table and "'H2'" in table
    detail = result.metadata["failed_detail"].value
    assert detail[0]["unexpected_count"] == 1 and detail[0]["sample_rows"][0]["account_id"] == "A2"
    assert result.metadata["data_docs"].value == (tmp_path / "index.html").as_uri()


def test_a_household_gate_passes_with_a_warning_when_every_failure_names_its_household():
    result = household_gate_result(check_lots_reconcile(_positions(bad_household="H2")))
    assert result.passed and result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata["households_to_hold"].value == 1
    assert "H2" in result.metadata["holds"].value


def test_a_household_gate_fails_the_firm_when_a_failure_names_no_household():
    result = household_gate_result(check_accounts(pd.DataFrame({"account_id": ["A1"], "household_id": [None]})))
    assert not result.passed
    assert "household_id" in result.metadata["unattributed_failures"].value


def test_gx_holds_hold_out_households_with_the_reason_recorded_after_the_marts_own():
    readiness = pd.DataFrame({
        "household_id": ["H1", "H2", "H3"], "is_ready": [True, False, True],
        "hold_reasons": ["", "no target model", ""],
    })
    holds = pd.DataFrame({"household_id": ["H2", "H3"], "reason": ["lots: a", "lots: b"], "failed_rows": [1, 1]})
    gated = apply_quality_holds(readiness, holds)
    assert list(gated["is_ready"]) == [True, False, False]
    assert list(gated["hold_reasons"]) == ["", "no target model; data quality: lots: a", "data quality: lots: b"]
    outcomes = held_out_outcomes(gated, ["household_id", "status", "message"])
    assert list(outcomes["household_id"]) == ["H2", "H3"] and (outcomes["status"] == "held_out").all()
    assert apply_quality_holds(readiness, holds.iloc[:0]) is readiness


def test_the_trade_gate_drops_a_held_households_trades_and_says_why_in_its_outcome():
    from orchestration.defs.deliver.assets import apply_trade_gate

    trades = pd.DataFrame({"household_id": ["H1", "H2", "H2"], "account_id": ["A1", "A2", "A2"],
                           "trade_value": [100.0, 50.0, 25.0]})
    outcomes = pd.DataFrame({"household_id": ["H1", "H2"], "status": ["optimal", "optimal"], "message": ["ok", None]})
    holds = pd.DataFrame({"household_id": ["H2"], "reason": ["trades_keep_cash_above_minimum: expect_column_values_to_be_between on cash_after"],
                          "failed_rows": [1]})
    kept, marked = apply_trade_gate(trades, outcomes, holds)
    assert kept["household_id"].tolist() == ["H1"]
    assert marked.set_index("household_id").loc["H2", "status"] == "held_at_trade_gate"
    assert "cash_after" in marked.set_index("household_id").loc["H2", "message"]
    assert marked.set_index("household_id").loc["H1", "status"] == "optimal"
    same, _ = apply_trade_gate(trades, outcomes, holds.iloc[0:0])
    assert len(same) == 3
