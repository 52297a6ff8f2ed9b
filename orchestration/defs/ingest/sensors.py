"""A sensor that launches ``daily_run`` for an as-of date once per delivered file set.

It lists the landing store through the same FileStoreResource the ingest asset reads (a folder or
an S3 bucket/prefix: no branch here). A date's file set is fingerprinted by the content tags of its
files (S3 ETag; sha256 for a folder), so a renamed copy of a file already there changes nothing,
while a new or corrected file does. A fingerprint launches a run only once it has been seen
unchanged on two consecutive ticks (a delivery still arriving file by file launches one run, not
one per file). The cursor keeps, per date, the fingerprint launched and the one pending; the
run_key (date + fingerprint) makes Dagster itself refuse a second run for the same file set, even
after the cursor is lost. Whatever launches twice anyway is harmless: ingestion is exactly-once by
content hash (custodian/load.py).

Only business days are as-of partitions: a file set delivered under a weekend or NYSE-holiday date
folder is reported (a warning in the sensor log and in the tick's skip reason, with the reason),
never launched.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import defaultdict

import dagster as dg

from custodian.stores import FileStore
from orchestration.defs.partitions import is_as_of_partition
from orchestration.lib.calendar import why_not_business_day
from orchestration.lib.stores import FileStoreResource

# Only the most recent date folders are looked at each tick (a folder store hashes its files).
RECENT_DATES = 10


def _as_of_of(key: str) -> str | None:
    folder = key.split("/", 1)[0]
    try:
        return dt.date.fromisoformat(folder).isoformat() if "/" in key and len(folder) == 10 else None
    except ValueError:
        return None


def file_set_fingerprints(store: FileStore, recent: int = RECENT_DATES) -> dict[str, str]:
    """{as-of date: sha256 over the sorted distinct content tags of its files} for the latest dates."""
    dates = sorted({d for d in map(_as_of_of, store.list("")) if d})[-recent:]
    out = {}
    for date in dates:
        tags = sorted({obj.etag for obj in store.list_objects(date)})
        if tags:
            out[date] = hashlib.sha256("\n".join(tags).encode()).hexdigest()
    return out


def decide(fingerprints: dict[str, str], cursor: str | None) -> tuple[list[tuple[str, str]], str]:
    """The (date, fingerprint) pairs to launch now and the next cursor; pure, for tests."""
    state = json.loads(cursor) if cursor else {}
    launched, pending = defaultdict(str, state.get("launched", {})), dict(state.get("pending", {}))
    launch = []
    next_pending = {}
    for date, fingerprint in sorted(fingerprints.items()):
        if launched[date] == fingerprint:
            continue
        if pending.get(date) == fingerprint:
            launch.append((date, fingerprint))
            launched[date] = fingerprint
        else:
            next_pending[date] = fingerprint  # first sighting of this set: wait one tick for it to settle
    # forget dates that left the window, so the cursor stays small
    kept = {d: f for d, f in launched.items() if d in fingerprints and f}
    return launch, json.dumps({"launched": kept, "pending": next_pending}, sort_keys=True)


def not_launchable(date: str) -> str | None:
    """None when ``date`` is an as-of partition, else why not (a holiday, a weekend, out of range)."""
    if is_as_of_partition(date):
        return None
    return why_not_business_day(dt.date.fromisoformat(date)) or "outside the as-of partitions"


@dg.sensor(
    job_name="daily_run",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Launches daily_run for an as-of date once per delivered set of custodian files "
    "(landing folder or S3, through the landing resource).",
)
def custodian_file_arrivals(context: dg.SensorEvaluationContext, landing: FileStoreResource):
    fingerprints = file_set_fingerprints(landing.store())
    launch, cursor = decide(fingerprints, context.cursor)
    requests, reported = [], []
    for date, fingerprint in launch:
        reason = not_launchable(date)
        if reason:
            reported.append(f"{date} ({reason})")
            context.log.warning(f"custodian files under landing folder {date} not run: {reason}")
            continue
        requests.append(dg.RunRequest(
            run_key=f"{date}:{fingerprint[:16]}",
            partition_key=date,
            tags={"sleeveless/trigger": "custodian_file_arrivals", "sleeveless/file_set": fingerprint},
        ))
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=cursor)
    waiting = sorted(set(json.loads(cursor)["pending"]))
    message = f"waiting for {', '.join(waiting)} to settle" if waiting else "no new file set"
    if reported:
        message = f"file sets not run, not business days: {', '.join(reported)}; {message}"
    return dg.SensorResult(skip_reason=dg.SkipReason(message), cursor=cursor)
