"""The Dagster code location loads, and its graph is the data flow the docs describe."""

from __future__ import annotations

import dagster as dg


def test_the_code_location_has_the_whole_daily_graph():
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    for expected in ["raw/open_lots", "raw/prices", "raw/quarantine", "stg_canonical__open_lots", "fct_lots",
                     "dim_households", "fct_wash_sale_windows", "household_trades", "order_files", "taxes_saved_report"]:
        assert expected in keys, expected
    # dbt sources are the ingestion assets: raw -> staging lineage is one graph
    assert dg.AssetKey(["raw", "open_lots"]) in graph.get(dg.AssetKey(["stg_canonical__open_lots"])).parent_keys
    assert dg.AssetKey(["household_trades"]) in graph.get(dg.AssetKey(["order_files"])).parent_keys
    # the trade gate sits between the optimizer and every output file
    assert dg.AssetKey(["household_trade_holds"]) in graph.get(dg.AssetKey(["order_files"])).parent_keys
    assert dg.AssetKey(["household_trade_holds"]) in graph.get(dg.AssetKey(["taxes_saved_report"])).parent_keys

    checks = {(k.asset_key.to_user_string(), k.name): graph.get_check_spec(k) for k in graph.asset_check_keys}
    gates = {
        ("dim_securities", "prices_fresh_and_positive"), ("fct_lots", "lots_are_sound"),
        ("dim_accounts", "every_account_in_one_household"), ("fct_household_targets", "targets_sum_to_one"),
        ("household_trade_holds", "trades_are_safe"),
    }
    assert gates <= set(checks)
    assert all(checks[g].blocking for g in gates)
    assert definitions.resolve_job_def("daily_run") is not None
