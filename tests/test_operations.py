"""Operations (issue 9): the business-day calendar and partitions, the sensor and schedule that feed
only valid partitions, account masking, run-failure alerts (to a real HTTP server on loopback) and
the code location's operational definitions (freshness, alert sensor, jobs)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import dagster as dg
import pytest

from orchestration.defs.ingest.schedules import daily_run_fallback
from orchestration.defs.ingest.sensors import custodian_file_arrivals
from orchestration.defs.operations.alerts import AlertSink, failure_alert, run_failure_alerts
from orchestration.defs.partitions import LAST_HOLIDAY_YEAR, as_of_dates, is_as_of_partition
from orchestration.lib.calendar import (
    business_days, easter_sunday, is_business_day, nyse_holidays, previous_business_day, why_not_business_day,
)
from orchestration.lib.masking import mask_account, mask_frame, mask_text
from orchestration.lib.stores import LocalFolderStore

D = dt.date

# NYSE's published full-day closures (nyse.com/markets/hours-calendars), the calendar's reference.
NYSE_CLOSED = {
    2024: ["01-01", "01-15", "02-19", "03-29", "05-27", "06-19", "07-04", "09-02", "11-28", "12-25"],
    2025: ["01-01", "01-09", "01-20", "02-17", "04-18", "05-26", "06-19", "07-04", "09-01", "11-27", "12-25"],
    2026: ["01-01", "01-19", "02-16", "04-03", "05-25", "06-19", "07-03", "09-07", "11-26", "12-25"],
    2027: ["01-01", "01-18", "02-15", "03-26", "05-31", "06-18", "07-05", "09-06", "11-25", "12-24"],
}


# --- the calendar ---------------------------------------------------------------------------------

@pytest.mark.parametrize("year", sorted(NYSE_CLOSED))
def test_the_holidays_are_the_exchanges_published_closures(year):
    assert sorted(d.isoformat() for d in nyse_holidays(year)) == [f"{year}-{md}" for md in NYSE_CLOSED[year]]


def test_weekend_observance_and_its_new_years_exception():
    assert nyse_holidays(2026)[D(2026, 7, 3)] == "Independence Day"  # July 4 on a Saturday: Friday
    assert nyse_holidays(2027)[D(2027, 7, 5)] == "Independence Day"  # on a Sunday: Monday
    assert nyse_holidays(2022)[D(2022, 12, 26)] == "Christmas Day"
    # New Year's Day on a Saturday is not observed: the year's last Friday trades
    assert is_business_day(D(2021, 12, 31)) and D(2021, 12, 31) not in nyse_holidays(2021)
    assert not any(name == "New Year's Day" for name in nyse_holidays(2022).values())
    assert D(2028, 1, 1).weekday() == 5 and is_business_day(D(2027, 12, 31))


def test_juneteenth_only_from_2022_and_good_friday_from_easter():
    assert is_business_day(D(2021, 6, 18)) and not is_business_day(D(2022, 6, 20))
    assert easter_sunday(2024) == D(2024, 3, 31) and easter_sunday(2026) == D(2026, 4, 5)
    assert easter_sunday(2038) == D(2038, 4, 25)  # the latest possible Easter
    assert why_not_business_day(D(2026, 4, 3)) == "NYSE holiday: Good Friday"
    assert why_not_business_day(D(2026, 11, 21)) == "Saturday"
    assert why_not_business_day(D(2026, 11, 20)) is None


def test_trading_day_counts_and_previous_business_day():
    assert len(business_days(D(2024, 1, 1), D(2024, 12, 31))) == 252
    assert len(business_days(D(2025, 1, 1), D(2025, 12, 31))) == 250
    assert previous_business_day(D(2026, 11, 27)) == D(2026, 11, 25)  # over Thanksgiving
    assert previous_business_day(D(2026, 1, 20)) == D(2026, 1, 16)  # over a weekend and MLK day
    assert previous_business_day(D(2026, 11, 23)) == D(2026, 11, 20)


# --- the partitions -------------------------------------------------------------------------------

def test_partitions_are_exactly_the_business_days_with_iso_keys():
    keys = as_of_dates.get_partition_keys(current_time=dt.datetime(2026, 11, 21, 12, tzinfo=dt.timezone.utc))
    assert keys == [d.isoformat() for d in business_days(D(2024, 1, 1), D(2026, 11, 20))]
    window = as_of_dates.get_partition_keys_in_range(dg.PartitionKeyRange("2025-11-25", "2025-12-01"))
    assert window == ["2025-11-25", "2025-11-26", "2025-11-28", "2025-12-01"]
    assert not is_as_of_partition("2025-11-27") and not is_as_of_partition("2025-11-29")
    assert is_as_of_partition("2025-11-28") and not is_as_of_partition("not a date")


def test_holiday_rules_reach_far_enough_ahead():
    # the exclusions are generated up to LAST_HOLIDAY_YEAR: raise it before this fails
    assert LAST_HOLIDAY_YEAR >= dt.date.today().year + 5


# --- the schedule and the sensor feed only business days ------------------------------------------

def _tick_schedule(when: dt.datetime):
    with dg.instance_for_test() as instance:
        return daily_run_fallback(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))


def test_the_fallback_schedule_runs_the_previous_business_day_over_holidays():
    after_thanksgiving = _tick_schedule(dt.datetime(2025, 11, 28, 7, 30, tzinfo=dt.timezone.utc))
    assert after_thanksgiving.partition_key == "2025-11-26"
    after_mlk = _tick_schedule(dt.datetime(2026, 1, 20, 7, 30, tzinfo=dt.timezone.utc))
    assert after_mlk.partition_key == "2026-01-16" and after_mlk.run_key == "fallback:2026-01-16"


def _deliver(root, date: str, name: str, content: bytes) -> None:
    folder = root / date
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content)


def _tick_sensor(landing, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"landing": landing})
    result = custodian_file_arrivals(context)
    return result, result.cursor


def test_a_file_set_for_a_holiday_is_reported_not_run(tmp_path):
    landing = LocalFolderStore(root=str(tmp_path))
    _deliver(tmp_path, "2025-11-26", "open_lots_20251126.csv", b"a\n1\n")
    _deliver(tmp_path, "2025-11-27", "open_lots_20251127.csv", b"a\n2\n")  # Thanksgiving
    _deliver(tmp_path, "2025-11-29", "open_lots_20251129.csv", b"a\n3\n")  # a Saturday
    result, cursor = _tick_sensor(landing)
    assert not result.run_requests  # settling
    result, cursor = _tick_sensor(landing, cursor)
    assert [r.partition_key for r in result.run_requests] == ["2025-11-26"]
    _deliver(tmp_path, "2025-11-27", "prices_20251127.csv", b"p\n1\n")  # more files for the holiday
    result, cursor = _tick_sensor(landing, cursor)
    result, cursor = _tick_sensor(landing, cursor)
    assert not result.run_requests
    assert "2025-11-27 (NYSE holiday: Thanksgiving Day)" in result.skip_reason.skip_message
    # reported once per file set, never launched
    result, cursor = _tick_sensor(landing, cursor)
    assert not result.run_requests and "Thanksgiving" not in result.skip_reason.skip_message


# --- masking --------------------------------------------------------------------------------------

def test_account_numbers_show_their_last_four_characters_only():
    assert mask_account("ACC000123") == "*****0123"
    assert mask_account("12345678") == "****5678"
    assert mask_account("123") == "***" and mask_account(None) == ""
    text = "quarantined open_lots line 6 account ACC000123: quantity '12x'; household HH0004 lot L000000017"
    assert mask_text(text) == (
        "quarantined open_lots line 6 account *****0123: quantity '12x'; household HH0004 lot L000000017")
    assert mask_text("Z12-345678 and 87654321 sold 1200 for $1234567.89") == "******5678 and ****4321 sold 1200 for $1234567.89"
    # known ids are masked whatever their shape
    assert mask_text("acct ab-9/77 failed", ["ab-9/77"]) == "acct ***9/77 failed"


def test_a_metadata_table_masks_account_columns_and_free_text():
    import pandas as pd

    frame = pd.DataFrame({"account_id": ["ACC000001"], "lot_id": ["L000000001"], "error": ["ACC000001: bad"]})
    masked = mask_frame(frame)
    assert masked.to_dict("records") == [{"account_id": "*****0001", "lot_id": "L000000001", "error": "*****0001: bad"}]
    assert frame.loc[0, "account_id"] == "ACC000001"  # the data itself is untouched


# --- run-failure alerts ---------------------------------------------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts", _Receiver.received
    server.shutdown()
    server.server_close()


@dg.op
def _fails():
    raise RuntimeError("custodian file for account ACC000042 unreadable")


@dg.job(partitions_def=dg.StaticPartitionsDefinition(["2026-11-20"]))
def _doomed():
    _fails()


def _failed_run_context(instance, sink):
    result = _doomed.execute_in_process(instance=instance, raise_on_error=False, partition_key="2026-11-20")
    assert not result.success
    return dg.build_run_status_sensor_context(
        sensor_name="run_failure_alerts", dagster_instance=instance, dagster_run=result.dagster_run,
        dagster_event=result.get_run_failure_event(), resources={"alert_sink": sink},
    ).for_run_failure(), result.run_id


def test_a_failed_run_writes_an_alert_line_and_posts_json_to_the_webhook(tmp_path, webhook):
    url, received = webhook
    log = tmp_path / "logs" / "alerts.log"
    with dg.instance_for_test() as instance:
        context, run_id = _failed_run_context(instance, AlertSink(log_path=str(log), webhook_url=url))
        run_failure_alerts(context)
    [line] = log.read_text().splitlines()
    assert f"run={run_id}" in line and "job=_doomed" in line and "as_of=2026-11-20" in line
    assert "steps=_fails" in line
    [(content_type, alert)] = received
    assert content_type == "application/json"
    assert alert["run_id"] == run_id and alert["as_of_date"] == "2026-11-20" and alert["failed_steps"] == ["_fails"]
    assert "ACC000042" not in json.dumps(alert) + line and "*****0042" in alert["error"]


def test_an_unreachable_webhook_still_leaves_the_alert_line(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("SLEEVELESS_HOME", str(tmp_path))
    monkeypatch.setenv("SLEEVELESS_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/")
    sink = AlertSink(timeout_seconds=2)
    sent = sink.send(failure_alert("daily_run", "r1", "2026-11-20", "boom", ["order_files"]))
    assert str(sent["webhook"]).startswith("failed")
    lines = (tmp_path / "logs" / "alerts.log").read_text().splitlines()
    assert lines[0].endswith("steps=order_files error=boom") and "ALERT-WEBHOOK-FAILED" in lines[1]


# --- the code location's operational definitions --------------------------------------------------

def test_freshness_alerts_and_jobs_are_in_the_code_location():
    from orchestration.definitions import WATCHED, defs

    definitions = defs()
    graph = definitions.resolve_asset_graph()
    fresh = {k for k in graph.get_all_asset_keys() if graph.get(k).freshness_policy is not None}
    assert fresh == set(WATCHED)
    assert definitions.resolve_sensor_def("run_failure_alerts").default_status == dg.DefaultSensorStatus.RUNNING
    assert definitions.resolve_job_def("daily_run").executor_def.name == "in_process"
    assert definitions.resolve_job_def("optimize_day").executor_def.name == "multiprocess"
    assert definitions.resolve_job_def("daily_run").partitions_def == as_of_dates


def test_the_runbook_names_every_check_and_stage():
    """docs/runbook.md tells the operator what to do for each check and stage the code location has."""
    from pathlib import Path

    from orchestration.definitions import defs

    runbook = (Path(__file__).parents[1] / "docs" / "runbook.md").read_text()
    graph = defs().resolve_asset_graph()
    dbt_tests = {k for a in graph.assets_defs if a.is_executable and a.node_def.name == "warehouse_models"
                 for k in a.check_keys}
    gx_checks = {k.name for k in graph.asset_check_keys if k not in dbt_tests}  # dbt tests: covered as a class
    assert {"trades_are_safe", "custodian_files_present", "lots_are_sound"} <= gx_checks
    assert all(f"`{name}`" in runbook for name in gx_checks), gx_checks
    for stage in ["custodian_files", "taxlots/engine_lot_basis", "warehouse_models", "household_quality_holds",
                  "household_trades.plan_household_shards", "household_trades.solve_household_shard",
                  "household_trades.write_household_trades", "order_files", "taxes_saved_report"]:
        assert f"`{stage}" in runbook, stage
