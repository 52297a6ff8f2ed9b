"""The optimizer's fan-out knobs and where shards travel between steps.

Shards (inputs) and shard results go through ``shard_io_manager``: pickles under
``$SLEEVELESS_HOME/shards/<run id>/`` (override: ``SLEEVELESS_SHARDS_DIR``). Under the k8s executor
every pod must see that folder (a ReadWriteMany volume mounted at the same path, see
deploy/k8s/daily_run_k8s.yaml), or ``SLEEVELESS_SHARDS_DIR=s3://bucket/prefix`` puts them in S3.
The collecting step deletes its run's folder once the day is written.
"""

from __future__ import annotations

import os
from typing import Optional

import dagster as dg

from orchestration.lib.home import Home


class OptimizerFanOut(dg.ConfigurableResource):
    """How the household optimization is split. Per run: ``resources.optimizer_fanout.config``."""

    shards: int = 4
    """Shards to split the ready households into (solve steps that may run in parallel)."""
    min_households_per_shard: int = 25
    """Fewer shards when there are not this many households per shard (a step's start-up costs seconds)."""
    max_households_per_shard: int = 500
    """More shards when there would be more households per shard: a larger firm gets more shards of
    the same size (more workers, the same memory per worker), not larger ones. 0: no maximum."""
    time_limit_seconds: float = 10.0
    """HiGHS time limit per household; a household that reaches it gets no trades, its shard goes on."""
    warm_start: bool = True
    """Start each household's root LP from its basis of the previous as-of date (optimizer.household_bases)."""
    harvest_threshold_start: Optional[float] = 0.20
    """Year-round harvesting: a taxable loss lot is harvested only when its loss is at least this share
    of its basis on January 1, tightening linearly to ``harvest_threshold_end`` by December 1
    (optimization/policies.py, docs/lifecycle.md); per household, dim_households columns of the same
    name override it. None: no threshold (any loss worth its drift and trading cost)."""
    harvest_threshold_end: float = 0.05
    """The threshold from December 1 to the year's end (share of basis)."""


def shards_location(home: Home) -> str:
    return os.environ.get("SLEEVELESS_SHARDS_DIR") or str(home.root / "shards")


def shard_io_manager_for(location: str):
    if location.startswith("s3://"):
        from dagster_aws.s3 import S3PickleIOManager, S3Resource

        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        return S3PickleIOManager(
            s3_resource=S3Resource(endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None),
            s3_bucket=bucket, s3_prefix=prefix or "shards",
        )
    return dg.FilesystemIOManager(base_dir=location)


@dg.definitions
def resources() -> dg.Definitions:
    # SLEEVELESS_SOLVER_TIME_LIMIT: the per-household limit without editing run config (a loaded machine,
    # a test that compares two runs and must not have one of them stop a household at the limit).
    time_limit = float(os.environ.get("SLEEVELESS_SOLVER_TIME_LIMIT", "10"))
    return dg.Definitions(resources={
        "optimizer_fanout": OptimizerFanOut(time_limit_seconds=time_limit),
        "shard_io_manager": shard_io_manager_for(shards_location(Home.from_env())),
    })
