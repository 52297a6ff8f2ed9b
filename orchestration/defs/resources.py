"""Resources, chosen by the environment (see orchestration/lib/home.py), never inside assets."""

import sys
from pathlib import Path

import dagster as dg
from dagster_duckdb import DuckDBResource

from orchestration.lib.dbt import SleevelessDbtCliResource, transforms_project
from orchestration.lib.home import Home
from orchestration.lib.stores import store_resource_for


@dg.definitions
def resources() -> dg.Definitions:
    home = Home.from_env()
    home.export()
    return dg.Definitions(
        resources={
            "landing": store_resource_for(home.landing),
            "outputs": store_resource_for(home.outputs),
            "duckdb": DuckDBResource(database=str(home.duckdb_path)),
            # dagster-dbt does not install dbt: use the one in this virtual environment.
            "dbt": SleevelessDbtCliResource(
                project_dir=transforms_project, dbt_executable=str(Path(sys.executable).parent / "dbt")
            ),
        }
    )
