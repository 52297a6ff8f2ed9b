"""The `sleeveless` command: generate a synthetic firm, run a day, or both (`demo`)."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path


def _home(args) -> "Home":
    os.environ["SLEEVELESS_HOME"] = str(Path(args.home).resolve())
    from orchestration.lib.home import Home

    home = Home.from_env()
    home.export()
    return home


def cmd_generate(args) -> dict:
    from synthetic import write_synthetic_firm

    home = _home(args)
    started = time.perf_counter()
    landing = Path(home.landing)
    # by default a firm over three custodians, each in its own dialect (--canonical: one layout)
    summary = write_synthetic_firm(landing, dt.date.fromisoformat(args.as_of), households=args.households, seed=args.seed,
                                   dialects=not getattr(args, "canonical", False))
    summary["seconds"] = round(time.perf_counter() - started, 2)
    print(f"generated {summary['households']} households, {summary['accounts']} accounts, {summary['lots']} lots "
          f"into {summary['folder']} in {summary['seconds']}s")
    return summary


# Steps in the duckdb_writer pool run one at a time across processes (SLEEVELESS_EXECUTOR=multiprocess:
# DuckDB takes one writer). The in-process default needs no limit: one process runs every step.
POOLS_CONFIG = "concurrency:\n  pools:\n    default_limit: 1\n"


def _instance(home):
    from dagster import DagsterInstance

    home.dagster_home.mkdir(parents=True, exist_ok=True)
    config = home.dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    if os.environ.get("SLEEVELESS_EXECUTOR") == "multiprocess" and "concurrency:" not in config.read_text():
        config.write_text(config.read_text() + POOLS_CONFIG)
    os.environ["DAGSTER_HOME"] = str(home.dagster_home)
    return DagsterInstance.get()


def run_day(home, as_of: dt.date, log_level: str = "WARNING"):
    """Materialize the whole daily graph for one as-of date; return (result, seconds per stage).

    The console shows warnings and errors only (quarantined lines, failed checks); every event is in
    the run's log in the Dagster UI whatever the level here.
    """
    from orchestration.definitions import defs

    instance = _instance(home)  # sets DAGSTER_HOME: before the forkserver starts, whose steps inherit it
    from orchestration.defs.jobs import executor_for

    if executor_for().name == "multiprocess":  # the daily_run job's executor, chosen by the environment
        from orchestration.lib.reconstruct import fresh_forkserver

        fresh_forkserver(warm=True)  # loads the code location for the steps while this process builds the run
    job = defs().resolve_job_def("daily_run")
    # dbt's own console output (which dagster-dbt echoes to stdout) goes to a log file unless verbose.
    log_path = home.root / "logs" / f"daily_run_{as_of.isoformat()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
    with open(log_path, "w") as log, contextlib.redirect_stdout(sys.stdout if log_level == "DEBUG" else log):
        if job.executor_def.name == "in_process":
            result = job.execute_in_process(
                instance=instance, partition_key=as_of.isoformat(), raise_on_error=False, run_config=run_config,
            )
        else:  # SLEEVELESS_EXECUTOR=multiprocess: steps in processes forked from a forkserver that loaded the job once
            from dagster import execute_job, reconstructable

            from orchestration.lib.reconstruct import daily_run_job

            with execute_job(reconstructable(daily_run_job), instance=instance, run_config=run_config,
                             tags={"dagster/partition": as_of.isoformat()}, raise_on_error=False) as result:
                result.all_events  # noqa: B018 - read while the result's instance is open
    stages: dict[str, float] = {}
    for stat in instance.get_run_step_stats(result.run_id):
        if stat.start_time and stat.end_time:
            stages[stat.step_key] = round(stat.end_time - stat.start_time, 2)
    return result, stages


def _summary(home, as_of: dt.date) -> dict:
    import duckdb

    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        one = lambda sql: con.execute(sql, [as_of]).fetchone()[0]  # noqa: E731
        summary = {
            "households": one("select count(distinct household_id) from raw.accounts where as_of_date = ?"),
            "accounts": one("select count(*) from raw.accounts where as_of_date = ?"),
            "lots": one("select count(*) from raw.open_lots where as_of_date = ?"),
            "quarantined_rows": one("select count(*) from raw.quarantine where as_of_date = ?"),
        }
        has_trades = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'optimizer' and table_name = 'trades'"
        ).fetchone()[0]
        if has_trades:
            summary["trades"] = one("select count(*) from optimizer.trades where as_of_date = ?")
            summary["estimated_tax_on_trades"] = round(
                one("select coalesce(sum(estimated_tax), 0) from optimizer.trades where as_of_date = ?"), 2
            )
            summary["household_outcomes"] = dict(
                con.execute(
                    "select status, count(*) from optimizer.household_outcomes where as_of_date = ? group by 1 order by 1",
                    [as_of],
                ).fetchall()
            )
    report = Path(home.outputs) / "reports" / as_of.isoformat() / f"firm_summary_{as_of:%Y%m%d}.json"
    if report.exists():
        firm = json.loads(report.read_text())
        summary["taxes_saved_or_deferred"] = firm["taxes_saved_or_deferred"]
        summary["naive_tax"] = firm["naive_tax"]
    return summary


def cmd_run_day(args) -> int:
    home = _home(args)
    as_of = dt.date.fromisoformat(args.as_of)
    started = time.perf_counter()
    result, stages = run_day(home, as_of, log_level="DEBUG" if args.verbose else "WARNING")
    elapsed = time.perf_counter() - started
    print(f"\nDaily run {as_of} ({'succeeded' if result.success else 'FAILED'}) in {elapsed:.1f}s, run id {result.run_id}")
    for step, seconds in stages.items():
        print(f"  {step:<45} {seconds:>8.2f}s")
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                print(f"  BLOCKED by check {evaluation.check_name} on {evaluation.asset_key.to_user_string()}: "
                      f"{evaluation.description}")
    summary = _summary(home, as_of)
    print("\nSummary:")
    for key, value in summary.items():
        print(f"  {key:<26} {value}")
    print("\nOutputs:")
    print(f"  orders      {home.outputs}/orders/{as_of.isoformat()}/")
    print(f"  reports     {home.outputs}/reports/{as_of.isoformat()}/")
    print(f"  quarantine  {home.outputs}/quarantine/{as_of.isoformat()}/")
    print(f"  warehouse   {home.duckdb_path}")
    print(f"  dbt log     {home.root / 'logs' / f'daily_run_{as_of.isoformat()}.log'}")
    print("\nBrowse this run in the Dagster UI: `make dev`, then open http://127.0.0.1:3000/runs")
    return 0 if result.success else 1


def cmd_audit(args) -> int:
    from sleeveless.audit import AuditError, run_audit, to_json

    home = _home(args)
    try:
        chain = run_audit(home, dt.date.fromisoformat(args.as_of), args.order_id, args.account)
    except AuditError as error:
        print(f"audit: {error}", file=sys.stderr)
        return 2
    text = to_json(chain)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote the audit chain of {len(chain['orders'])} order lines to {args.out}")
    else:
        print(text)
    return 0


def cmd_demo(args) -> int:
    cmd_generate(args)
    return cmd_run_day(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sleeveless", description=__doc__)
    parser.add_argument("--home", default=os.environ.get("SLEEVELESS_HOME", "data"), help="data directory")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, households=True):
        p.add_argument("--as-of", default="2026-11-20", help="as-of date (a business day), YYYY-MM-DD")
        p.add_argument("--home", default=argparse.SUPPRESS, help="data directory")
        p.add_argument("--verbose", action="store_true", help="print every Dagster event, not only warnings")
        if households:
            p.add_argument("--households", type=int, default=200)
            p.add_argument("--canonical", action="store_true",
                           help="write every file in the canonical layout instead of the custodians' dialects")
            p.add_argument("--seed", type=int, default=7)

    common(sub.add_parser("generate", help="write a synthetic firm's custodian files for one day"))
    common(sub.add_parser("run-day", help="run the daily pipeline for one as-of date"), households=False)
    common(sub.add_parser("demo", help="generate a synthetic firm, then run its day"))
    audit = sub.add_parser("audit", help="the chain from custodian rows to one order line or one account-day")
    common(audit, households=False)
    audit.add_argument("--order-id", help="an order id from the order files")
    audit.add_argument("--account", help="an account id: every order line of the account that day")
    audit.add_argument("--out", help="write the JSON here instead of printing it")
    from taxlots.cli import add_tax_parser, cmd_tax

    add_tax_parser(sub)
    # two packages with command lines of their own: everything after the word is theirs
    sub.add_parser("backtest", help="the backtester (python -m backtest; docs/backtest.md)", add_help=False)
    sub.add_parser("lifecycle", help="life-cycle what-ifs (python -m lifecycle; docs/lifecycle.md)", add_help=False)
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] == "backtest":
        from backtest.__main__ import main as backtest_main

        return backtest_main(words[1:])
    if words and words[0] == "lifecycle":
        from lifecycle.__main__ import main as lifecycle_main

        return lifecycle_main(words[1:])
    args = parser.parse_args(argv)
    if args.command == "tax":
        return cmd_tax(args)
    if args.command == "generate":
        cmd_generate(args)
        return 0
    return {"run-day": cmd_run_day, "demo": cmd_demo, "audit": cmd_audit}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
