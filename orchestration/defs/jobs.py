"""The jobs, and which executor runs them (chosen by the environment, never inside an asset).

``SLEEVELESS_EXECUTOR``:
  in_process    (default; ``sleeveless run-day``, ``make demo``): one process, so one DuckDB user at a
                time by construction; the optimizer's shards run one after the other.
  multiprocess  one process per step, at most ``SLEEVELESS_WORKERS`` (default 2) at once, forked from a
                forkserver that loaded the code location once; DuckDB steps are in the
                ``duckdb_writer`` pool, limit 1 (the dagster.yaml `sleeveless` writes).
  k8s           dagster-k8s's k8s_job_executor: one pod per step, configured by
                deploy/k8s/daily_run_k8s.yaml (docs/scale.md).
"""

import os
from pathlib import Path

import dagster as dg
import yaml

from orchestration.defs.partitions import as_of_dates
from orchestration.lib.home import PROJECT_ROOT

K8S_EXECUTOR_CONFIG = PROJECT_ROOT / "deploy" / "k8s" / "daily_run_k8s.yaml"
FORKSERVER_PRELOAD = "orchestration.lib.forkserver_preload"


def k8s_executor_config(path: Path = K8S_EXECUTOR_CONFIG) -> dict:
    """The ``execution.config`` block of the production run config (k8s_job_executor's schema)."""
    return yaml.safe_load(path.read_text())["execution"]["config"]


def executor_for(name: str | None = None, workers: int | None = None) -> dg.ExecutorDefinition:
    name = name or os.environ.get("SLEEVELESS_EXECUTOR", "in_process")
    workers = workers or int(os.environ.get("SLEEVELESS_WORKERS", "2"))
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        # steps fork from a server that built the definitions once (orchestration/lib/forkserver_preload.py)
        return dg.multiprocess_executor.configured(
            {"max_concurrent": workers, "start_method": {"forkserver": {"preload_modules": [FORKSERVER_PRELOAD]}}},
            name="multiprocess",
        )
    if name == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_executor_config(), name="k8s")
    raise ValueError(f"SLEEVELESS_EXECUTOR must be in_process, multiprocess or k8s, not {name!r}")


# The whole day: ingest -> dbt -> GX gates -> optimizer -> trade gate -> orders and reports.
daily_run = dg.define_asset_job(
    "daily_run", selection=dg.AssetSelection.all(), partitions_def=as_of_dates, executor_def=executor_for(),
)

# The optimizer and the trade gate after it (household_trade_holds, check trades_are_safe), shards in
# parallel processes: re-optimize a day after a hold is cleared (then deliver with daily_run), or
# measure the fan-out (bench/bench_firm_scale.py). Its DuckDB steps run one after the other by the
# graph's shape (plan -> shards -> write -> trade gate), so no pool limit is needed.
OPTIMIZE_DAY = dg.AssetSelection.assets("household_trades").downstream(depth=1) - dg.AssetSelection.groups("deliver")
optimize_day = dg.define_asset_job(
    "optimize_day", selection=OPTIMIZE_DAY, partitions_def=as_of_dates,
    executor_def=executor_for("k8s") if os.environ.get("SLEEVELESS_EXECUTOR") == "k8s" else executor_for("multiprocess"),
)
