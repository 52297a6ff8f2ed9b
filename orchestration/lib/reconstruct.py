"""Module-level job factories, for executors that run steps in other processes.

``execute_in_process`` ignores a job's executor; ``dagster.execute_job`` needs a reconstructable job,
i.e. one a child process can import by name. A spawned child re-imports the code location (dagster,
pandas, Pyomo, the dbt manifest: several seconds per step); the multiprocess executor therefore
starts its steps from a forkserver that has imported this module and built the definitions once
(``orchestration.lib.forkserver_preload``): a forked step finds them here, already built.
"""

import functools

import dagster as dg


@functools.cache
def _definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def daily_run_job() -> dg.JobDefinition:
    return _definitions().resolve_job_def("daily_run")


def optimize_day_job() -> dg.JobDefinition:
    return _definitions().resolve_job_def("optimize_day")
