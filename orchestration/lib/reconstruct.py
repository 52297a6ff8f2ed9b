"""Module-level job factories, for executors that run steps in other processes.

``execute_in_process`` ignores a job's executor; ``dagster.execute_job`` needs a reconstructable job,
i.e. one a child process can import by name. A spawned child re-imports the code location (dagster,
pandas, Pyomo, the dbt manifest: several seconds per step); the multiprocess executor therefore
starts its steps from a forkserver that has imported this module and built the definitions once
(``orchestration.lib.forkserver_preload``): a forked step finds them here, already built.

multiprocessing starts one forkserver per process and keeps it: its steps see the environment
(SLEEVELESS_HOME, the DuckDB path, ...) and the definitions of the moment it started. A process
that launches runs itself (``sleeveless run-day``, tests) calls ``fresh_forkserver()`` before each
run, so that run's steps fork from a server with this run's environment. (Dagster's run launcher
starts every run in a new process: nothing to do there.)
"""

import functools
from multiprocessing import forkserver

import dagster as dg


@functools.cache
def _definitions() -> dg.Definitions:
    from orchestration.definitions import defs

    return defs()


def daily_run_job() -> dg.JobDefinition:
    return _definitions().resolve_job_def("daily_run")


def optimize_day_job() -> dg.JobDefinition:
    return _definitions().resolve_job_def("optimize_day")


def fresh_forkserver(warm: bool = False) -> None:
    """Stop this process's forkserver, if it started one; the next multiprocess run starts a new one
    with the current environment and definitions.

    ``warm``: start that one now, with the preload the multiprocess executor asks for. It loads the code
    location (about 6 s) in its own process while this one creates the run and builds its execution
    plan; the executor finds it running and forks the first step from it instead of starting it then
    (CPython's forkserver.ensure_running keeps a live server whatever preload is asked for later)."""
    stop = getattr(getattr(forkserver, "_forkserver", None), "_stop", None)  # CPython's own, since 3.8
    if stop is not None:
        stop()
    if warm:
        from orchestration.defs.jobs import FORKSERVER_PRELOAD
        from orchestration.lib.dbt import ensure_manifest

        ensure_manifest()  # a stale manifest is parsed here, once, not by the server and this process at once
        forkserver.set_forkserver_preload(["dagster._core.executor.multiprocess", FORKSERVER_PRELOAD])
        forkserver.ensure_running()
