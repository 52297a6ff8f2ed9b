"""Module-level job factories, for executors that run steps in other processes.

``execute_in_process`` ignores a job's executor; ``dagster.execute_job`` needs a reconstructable job,
i.e. one a child process can import by name. Each child re-imports the code location.
"""

import dagster as dg


def daily_run_job() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs().resolve_job_def("daily_run")


def optimize_day_job() -> dg.JobDefinition:
    from orchestration.definitions import defs

    return defs().resolve_job_def("optimize_day")
