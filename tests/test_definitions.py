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


def test_the_optimizer_is_a_fan_out_over_household_shards_with_one_duckdb_writer():
    """household_trades is one asset backed by plan -> solve shards (dynamic) -> one writer; only the
    plan and the writer touch DuckDB, and both are in the duckdb_writer pool."""
    from orchestration.definitions import defs

    definitions = defs()
    graph = definitions.resolve_assets_def(dg.AssetKey(["household_trades"])).node_def
    ops = {op.name: op for op in graph.iterate_op_defs()}
    assert set(ops) == {"plan_household_shards", "solve_household_shard", "write_household_trades"}
    assert ops["plan_household_shards"].output_def_named("shards").is_dynamic
    assert ops["plan_household_shards"].pool == ops["write_household_trades"].pool == "duckdb_writer"
    assert "duckdb" not in ops["solve_household_shard"].required_resource_keys
    assert ops["solve_household_shard"].pool is None
    daily = definitions.resolve_job_def("daily_run")
    assert daily.partitions_def.get_partition_keys_in_range(dg.PartitionKeyRange("2025-12-24", "2025-12-29")) == [
        "2025-12-24", "2025-12-26", "2025-12-29"]
