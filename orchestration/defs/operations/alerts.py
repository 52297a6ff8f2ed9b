"""Run-failure alerts: a line in ``$SLEEVELESS_HOME/logs/alerts.log`` and, when a webhook is
configured (``SLEEVELESS_ALERT_WEBHOOK`` or the resource's ``webhook_url``), a JSON POST to it.

The sensor needs the Dagster daemon (``make dev`` runs it; production runs it). Account numbers in
error messages are masked before they leave the run (orchestration/lib/masking.py).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import urllib.request
from pathlib import Path

import dagster as dg

from orchestration.lib.home import Home
from orchestration.lib.masking import mask_text

MAX_ERROR_CHARS = 2000


class AlertSink(dg.ConfigurableResource):
    """Where run-failure alerts go. Empty values fall back to the environment."""

    log_path: str = ""
    """'' means $SLEEVELESS_HOME/logs/alerts.log."""
    webhook_url: str = ""
    """'' means $SLEEVELESS_ALERT_WEBHOOK; neither set: no POST."""
    timeout_seconds: float = 5.0

    def resolved_log_path(self) -> Path:
        return Path(self.log_path) if self.log_path else Home.from_env().root / "logs" / "alerts.log"

    def resolved_webhook(self) -> str:
        return self.webhook_url or os.environ.get("SLEEVELESS_ALERT_WEBHOOK", "")

    def send(self, alert: dict) -> dict:
        """Append the alert's line to the log, then POST it; returns what happened to each."""
        path = self.resolved_log_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(alert_line(alert) + "\n")
        sent = {"log": str(path), "webhook": None}
        url = self.resolved_webhook()
        if url:
            request = urllib.request.Request(
                url, data=json.dumps(alert, sort_keys=True).encode(), method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "sleeveless-alerts"},
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:  # noqa: S310
                    sent["webhook"] = response.status
            except OSError as error:  # the log line is the alert of record: a dead webhook must not hide it
                sent["webhook"] = f"failed: {error}"
                with path.open("a", encoding="utf-8") as log:
                    log.write(f"{alert['time']} ALERT-WEBHOOK-FAILED {url}: {error}\n")
        return sent


def failure_alert(job_name: str, run_id: str, partition: str | None, error: str, failed_steps: list[str],
                  when: dt.datetime | None = None) -> dict:
    """The alert's content (pure): what failed, which day, where to look. Account numbers masked."""
    return {
        "time": (when or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        "severity": "error",
        "source": "sleeveless",
        "job": job_name,
        "run_id": run_id,
        "as_of_date": partition,
        "failed_steps": failed_steps,
        "error": mask_text(error or "")[:MAX_ERROR_CHARS],
        "runbook": "docs/runbook.md",
    }


def alert_line(alert: dict) -> str:
    """One grep-able line: time, severity, job, day, run id, failed steps, the error's first line."""
    first = (alert["error"].strip().splitlines() or [""])[0][:300]
    steps = ",".join(alert["failed_steps"]) or "-"
    return (f"{alert['time']} {alert['severity'].upper()} job={alert['job']} as_of={alert['as_of_date'] or '-'} "
            f"run={alert['run_id']} steps={steps} error={first}")


def failed_steps(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], list[str]]:
    """(failed step keys, their error messages) from the run's event log."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    steps, errors = [], []
    for record in records:
        entry = record.event_log_entry
        steps.append(entry.step_key or "?")
        error = getattr(entry.dagster_event.event_specific_data, "error", None) if entry.dagster_event else None
        while error is not None and error.cause is not None:  # the user's exception, not Dagster's wrapper
            error = error.cause
        errors.append(f"{entry.step_key}: {error.message.strip() if error else entry.message}")
    return sorted(set(steps)), errors


@dg.run_failure_sensor(
    name="run_failure_alerts",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes a line to $SLEEVELESS_HOME/logs/alerts.log (and POSTs JSON to the alert webhook, "
    "if configured) for every failed run of this code location.",
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alert_sink: AlertSink):
    run = context.dagster_run
    steps, errors = failed_steps(context.instance, run.run_id)
    alert = failure_alert(
        run.job_name, run.run_id, run.tags.get("dagster/partition"),
        "\n".join(errors) or context.failure_event.message or "", steps,
    )
    sent = alert_sink.send(alert)
    context.log.info(f"alert for run {run.run_id}: {sent}")


@dg.definitions
def operations() -> dg.Definitions:
    return dg.Definitions(sensors=[run_failure_alerts], resources={"alert_sink": AlertSink()})
