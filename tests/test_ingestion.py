"""Exactly-once ingestion: the ledger by content hash, the immutable archive, supersession, safe names,
the arrival sensor and the fallback schedule, over a folder and over a real S3 server (moto, loopback)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from custodian.layout import ALL_LAYOUTS, OPEN_LOTS
from custodian.load import load_landing_day
from custodian.stores import LocalFileStore, S3FileStore, UnsafeKey, safe_key, safe_name
from orchestration.defs.ingest.schedules import daily_run_fallback, previous_business_day
from orchestration.defs.ingest.sensors import custodian_file_arrivals, decide
from orchestration.lib.stores import LocalFolderStore, S3BucketStore

AS_OF = dt.date(2026, 11, 20)
DAY = AS_OF.isoformat()
LOTS = f"open_lots_{AS_OF:%Y%m%d}.csv"
ACCOUNTS = f"accounts_{AS_OF:%Y%m%d}.csv"
LOTS_V1 = (",".join(OPEN_LOTS.column_names) + "\n"
           "A1,L1,AAA,10,1000,2024-01-02,2024-01-02,0,true\n"
           "A1,L2,BBB,5,500,2024-01-02,2024-01-02,0,true\n").encode()
LOTS_V2 = LOTS_V1 + b"A2,L3,AAA,7,700,2024-03-04,2024-03-04,0,true\n"  # the custodian's correction


class Day:
    """A landing folder, an archive, an outputs folder and a warehouse for one test."""

    def __init__(self, root: Path):
        self.root = root
        self.landing = LocalFileStore(root / "landing")
        self.archive = LocalFileStore(root / "archive")
        self.outputs = LocalFileStore(root / "outputs")
        self.con = duckdb.connect(str(root / "w.duckdb"))

    def deliver(self, name: str, content: bytes) -> None:
        path = self.root / "landing" / DAY / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        later = path.stat().st_mtime + len(os.listdir(path.parent))  # delivery order = modification time
        os.utime(path, (later, later))

    def load(self):
        return load_landing_day(self.landing, self.con, AS_OF, archive_store=self.archive, quarantine_store=self.outputs)

    def one(self, sql: str, *params):
        return self.con.execute(sql, list(params)).fetchall()

    def counts(self) -> dict[str, int]:
        tables = [layout.entity for layout in ALL_LAYOUTS] + ["quarantine", "ingested_files"]
        return {t: self.one(f"select count(*) from raw.{t} where as_of_date = ?", AS_OF)[0][0] for t in tables}


@pytest.fixture
def day(tmp_path):
    d = Day(tmp_path)
    yield d
    d.con.close()


def test_the_same_file_delivered_twice_even_renamed_is_recorded_and_skipped(day):
    day.deliver(LOTS, LOTS_V1)
    day.load()
    day.deliver("open_lots_20261120 (resent).csv", LOTS_V1)
    loaded = day.load()
    ledger = day.one("select landing_key, status, duplicate_of from raw.file_ledger order by delivery_seq")
    assert ledger == [(f"{DAY}/{LOTS}", "accepted", None),
                      (f"{DAY}/open_lots_20261120 (resent).csv", "duplicate", f"{DAY}/{LOTS}")]
    assert day.one("select count(*) from raw.open_lots") == [(2,)]
    assert day.one("select source_file from raw.ingested_files where entity = 'open_lots'") == [(LOTS,)]
    assert len(loaded.new_deliveries) == 1 and loaded.entities["open_lots"].superseded == []


def test_a_corrected_file_supersedes_the_earlier_one_and_both_are_kept(day):
    day.deliver(LOTS, LOTS_V1)
    first = day.load()
    day.deliver("open_lots_20261120_corrected.csv", LOTS_V2)
    second = day.load()
    assert day.one("select lot_id from raw.open_lots order by lot_id") == [("L1",), ("L2",), ("L3",)]
    assert day.one("select distinct source_file from raw.open_lots") == [("open_lots_20261120_corrected.csv",)]
    assert second.entities["open_lots"].superseded == [f"{DAY}/{LOTS}"]
    # both deliveries are in the ledger and in the archive, byte for byte
    shas = [r[0] for r in day.one("select file_sha256 from raw.file_ledger where status = 'accepted' order by delivery_seq")]
    assert shas == [first.entities["open_lots"].file_sha256, second.entities["open_lots"].file_sha256]
    assert day.archive.read_bytes(f"{DAY}/{shas[0]}/{LOTS}") == LOTS_V1
    assert day.archive.read_bytes(f"{DAY}/{shas[1]}/open_lots_20261120_corrected.csv") == LOTS_V2


def test_a_file_overwritten_in_place_by_a_correction_keeps_the_original_in_the_archive(day):
    day.deliver(LOTS, LOTS_V1)
    day.load()
    day.deliver(LOTS, LOTS_V2)  # same name, new content
    day.load()
    assert day.one("select count(*) from raw.open_lots") == [(3,)]
    assert day.one("select count(*), count(distinct file_sha256) from raw.file_ledger") == [(2, 2)]
    archived = sorted(p.read_bytes() for p in (day.root / "archive" / DAY).rglob("*.csv"))
    assert archived == sorted([LOTS_V1, LOTS_V2])
    # the original re-sent after the correction is a duplicate: the correction stays in force
    day.deliver("open_lots_20261120_again.csv", LOTS_V1)
    day.load()
    assert day.one("select count(*) from raw.open_lots") == [(3,)]


def test_reloading_a_day_is_idempotent_even_after_the_landing_files_are_gone(day):
    day.deliver(ACCOUNTS, b"garbage header\n")
    day.deliver(LOTS, LOTS_V1 + b"A3,L9,AAA,x,1,2024-01-02,2024-01-02,0,true\n")
    day.load()
    before, ledger = day.counts(), day.one("select * from raw.file_ledger order by delivery_seq")
    quarantine = day.one("select * exclude (as_of_date) from raw.quarantine order by source_file, source_line")
    day.load()
    assert day.counts() == before
    shutil.rmtree(day.root / "landing" / DAY)  # the archive, not landing, is what a reload reads
    day.load()
    assert day.counts() == before
    assert day.one("select * from raw.file_ledger order by delivery_seq") == ledger
    assert day.one("select * exclude (as_of_date) from raw.quarantine order by source_file, source_line") == quarantine


def test_raw_files_are_archived_read_only_before_parsing_and_never_replaced(day):
    day.deliver(LOTS, b"\xff\xfe not even text")
    loaded = day.load()
    assert loaded.entities["open_lots"].rejected_whole
    archived = Path(loaded.entities["open_lots"].archive_uri)
    assert archived.read_bytes() == b"\xff\xfe not even text"
    assert not archived.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    key = str(archived.relative_to((day.root / "archive").resolve()))
    day.archive.write_new(key, b"something else")
    assert archived.read_bytes() == b"\xff\xfe not even text"
    # the whole-file reject lands in quarantine: the file itself and the reason
    assert (day.root / "outputs" / DAY / LOTS).read_bytes() == b"\xff\xfe not even text"
    assert "not UTF-8" in (day.root / "outputs" / DAY / "open_lots_20261120.rejected.csv").read_text()


def test_an_outside_name_never_builds_a_path_outside_the_data_directory(day, tmp_path):
    for key in ["../escape.csv", "/etc/passwd", f"{DAY}/../../escape.csv", "a\\..\\b", "x\0y"]:
        with pytest.raises(UnsafeKey):
            safe_key(key)
        with pytest.raises(UnsafeKey):
            day.landing.read_bytes(key)
        with pytest.raises(UnsafeKey):
            day.outputs.write_bytes(key, b"x")
    assert safe_name("../../etc/pass wd;rm.csv") == "pass_wd_rm.csv" and safe_name("..") == "unnamed"
    # a symlink in the landing folder that points outside is recorded as rejected, never read
    secret = tmp_path / "secret.csv"
    secret.write_bytes(LOTS_V1)
    (day.root / "landing" / DAY).mkdir(parents=True)
    (day.root / "landing" / DAY / LOTS).symlink_to(secret)
    day.load()
    assert day.one("select status, reason like '%outside%' from raw.file_ledger") == [("rejected", True)]
    assert day.one("select count(*) from raw.open_lots") == [(0,)]
    assert not list((day.root / "archive").rglob("*.csv"))


# --- the arrival sensor and the fallback schedule ------------------------------------------------

def _tick(store_resource, cursor=None):
    context = dg.build_sensor_context(cursor=cursor, resources={"landing": store_resource})
    result = custodian_file_arrivals(context)
    return result, context.cursor if result.cursor is None else result.cursor


def test_the_sensor_launches_once_per_delivered_file_set(day):
    landing = LocalFolderStore(root=str(day.root / "landing"))
    day.deliver(LOTS, LOTS_V1)
    result, cursor = _tick(landing)
    assert not result.run_requests  # first sighting: wait a tick for the delivery to settle
    day.deliver(ACCOUNTS, b"account_id\n")  # the set grew: still settling
    result, cursor = _tick(landing, cursor)
    assert not result.run_requests
    result, cursor = _tick(landing, cursor)
    [request] = result.run_requests
    assert request.partition_key == DAY and request.run_key.startswith(f"{DAY}:")
    result, cursor = _tick(landing, cursor)
    assert not result.run_requests  # same set: no second run
    day.deliver("copy of open_lots.csv", LOTS_V1)  # a renamed copy is the same file set
    for _ in range(2):
        result, cursor = _tick(landing, cursor)
        assert not result.run_requests
    day.deliver("open_lots_20261120_corrected.csv", LOTS_V2)  # a correction is a new set
    result, cursor = _tick(landing, cursor)
    result, cursor = _tick(landing, cursor)
    [again] = result.run_requests
    assert again.partition_key == DAY and again.run_key != request.run_key


def test_the_sensor_decision_is_a_pure_function_of_fingerprints_and_cursor():
    launch, cursor = decide({DAY: "f1", "2026-11-19": "g1"}, None)
    assert launch == []
    launch, cursor = decide({DAY: "f1", "2026-11-19": "g2"}, cursor)
    assert launch == [(DAY, "f1")]
    launch, cursor = decide({DAY: "f1", "2026-11-19": "g2"}, cursor)
    assert launch == [("2026-11-19", "g2")]
    assert decide({DAY: "f1", "2026-11-19": "g2"}, cursor)[0] == []


def test_the_fallback_schedule_runs_the_previous_business_day_unless_it_already_ran():
    assert previous_business_day(dt.date(2026, 11, 23)) == dt.date(2026, 11, 20)  # Monday -> Friday
    with dg.instance_for_test() as instance:
        monday = dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.timezone.utc)
        request = daily_run_fallback(dg.build_schedule_context(instance=instance, scheduled_execution_time=monday))
        assert request.partition_key == DAY and request.run_key == f"fallback:{DAY}"
        job = dg.define_asset_job("daily_run")
        defs = dg.Definitions(assets=[_noop], jobs=[job])
        defs.resolve_job_def("daily_run").execute_in_process(instance=instance, partition_key=DAY)
        skipped = daily_run_fallback(dg.build_schedule_context(instance=instance, scheduled_execution_time=monday))
        assert isinstance(skipped, dg.SkipReason) and DAY in skipped.skip_message


@dg.asset(partitions_def=dg.DailyPartitionsDefinition(start_date="2026-01-01"))
def _noop() -> None:
    return None


def test_the_code_location_shows_the_sensor_and_the_schedule():
    from orchestration.definitions import defs

    definitions = defs()
    assert definitions.resolve_sensor_def("custodian_file_arrivals").job_name == "daily_run"
    assert definitions.resolve_schedule_def("daily_run_fallback").job_name == "daily_run"


# --- S3 on a real S3-compatible server (moto, loopback) -------------------------------------------



@pytest.fixture
def s3(s3_server, monkeypatch, request):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    name = request.node.name.replace("_", "-")[:40].strip("-").lower()

    def make(prefix: str, sse: str | None = None) -> S3FileStore:
        store = S3FileStore(f"{name}-{prefix}", prefix="firm", endpoint_url=s3_server, region_name="us-east-1",
                            server_side_encryption=sse)
        store.client().create_bucket(Bucket=store.bucket)
        return store

    return make


def _upload_in_parts(store: S3FileStore, key: str, content: bytes, part_size: int = 5 * 1024 * 1024) -> None:
    """A custodian's multipart upload: parts of 5 MiB (S3's minimum), then complete."""
    client, full = store.client(), store._key(key)
    upload = client.create_multipart_upload(Bucket=store.bucket, Key=full)
    parts = []
    for number, start in enumerate(range(0, len(content), part_size), start=1):
        part = client.upload_part(Bucket=store.bucket, Key=full, UploadId=upload["UploadId"], PartNumber=number,
                                  Body=content[start:start + part_size])
        parts.append({"ETag": part["ETag"], "PartNumber": number})
    assert len(parts) >= 2
    client.complete_multipart_upload(Bucket=store.bucket, Key=full, UploadId=upload["UploadId"],
                                     MultipartUpload={"Parts": parts})


@pytest.fixture(scope="module")
def firm(tmp_path_factory) -> Path:
    from synthetic import write_synthetic_firm

    landing = tmp_path_factory.mktemp("firm")
    write_synthetic_firm(landing, AS_OF, households=4, seed=5)
    return landing / DAY


def test_a_full_day_ingests_from_s3_like_from_a_folder(s3, firm, tmp_path):
    landing, archive = s3("landing"), s3("archive", sse="AES256")
    for path in sorted(firm.iterdir()):
        if path.stat().st_size > 5 * 1024 * 1024:
            _upload_in_parts(landing, f"{DAY}/{path.name}", path.read_bytes())
        else:
            landing.write_bytes(f"{DAY}/{path.name}", path.read_bytes())
    multipart = [o for o in landing.list_objects(DAY) if "-" in o.etag]
    assert [o.key for o in multipart] == [f"{DAY}/price_history_20261120.csv"]

    s3_con = duckdb.connect(str(tmp_path / "s3.duckdb"))
    from_s3 = load_landing_day(landing, s3_con, AS_OF, archive_store=archive)
    folder_con = duckdb.connect(str(tmp_path / "folder.duckdb"))
    from_folder = load_landing_day(LocalFileStore(firm.parent), folder_con, AS_OF,
                                   archive_store=LocalFileStore(tmp_path / "archive"))
    for layout in ALL_LAYOUTS:
        s3_rows = s3_con.execute(f"select * exclude (source_line) from raw.{layout.entity} order by all").fetchall()
        assert s3_rows == folder_con.execute(
            f"select * exclude (source_line) from raw.{layout.entity} order by all").fetchall(), layout.entity
        assert from_s3.entities[layout.entity].rows_loaded > 0 or layout.entity in ("requests", "restrictions")
        assert from_s3.entities[layout.entity].file_sha256 == from_folder.entities[layout.entity].file_sha256
    assert s3_con.execute("select count(*) from raw.quarantine where scope <> 'file'").fetchone()[0] == 0
    # the archive is S3 too: server-side encrypted, the large file written in parts, same bytes
    history = from_s3.entities["price_history"]
    key = history.archive_uri.removeprefix(f"s3://{archive.bucket}/")
    head = archive.client().head_object(Bucket=archive.bucket, Key=key)
    assert head["ServerSideEncryption"] == "AES256" and "-" in head["ETag"]
    assert archive.read_bytes(key.removeprefix("firm/")) == (firm / "price_history_20261120.csv").read_bytes()
    # a renamed re-delivery uploaded in parts has another ETag but the same content: a duplicate
    _upload_in_parts(landing, f"{DAY}/price_history_resent.csv", (firm / "price_history_20261120.csv").read_bytes(),
                     part_size=6 * 1024 * 1024)
    again = load_landing_day(landing, s3_con, AS_OF, archive_store=archive)
    assert again.new_deliveries["status"].tolist() == ["duplicate"]
    assert s3_con.execute("select count(*) from raw.price_history").fetchone()[0] == history.rows_loaded


def test_the_sensor_sees_s3_deliveries_and_a_many_object_listing(s3):
    landing = s3("landing")
    resource = S3BucketStore(bucket=landing.bucket, prefix="firm", endpoint_url=landing.endpoint_url,
                             region_name="us-east-1")
    for i in range(1003):  # more than one listing page (1000 keys)
        landing.write_bytes(f"2026-11-19/part_{i:04d}.csv", f"{i}\n".encode())
    landing.write_bytes(f"{DAY}/{LOTS}", LOTS_V1)
    with pytest.raises(UnsafeKey):  # the store refuses such keys itself
        landing.write_bytes("../../outside.csv", b"x")
    assert len(landing.list_objects("2026-11-19")) == 1003
    result, cursor = _tick(resource)
    result, cursor = _tick(resource, cursor)
    assert sorted(r.partition_key for r in result.run_requests) == ["2026-11-19", DAY]
    landing.write_bytes(f"{DAY}/open_lots_20261120_corrected.csv", LOTS_V2)
    result, cursor = _tick(resource, cursor)
    result, cursor = _tick(resource, cursor)
    assert [r.partition_key for r in result.run_requests] == [DAY]


def test_an_s3_object_named_to_escape_is_recorded_and_never_read(s3, tmp_path):
    landing = s3("landing")
    raw_key = f"firm/{DAY}/../../../escape.csv"
    landing.client().put_object(Bucket=landing.bucket, Key=raw_key, Body=LOTS_V1)
    landing.client().put_object(Bucket=landing.bucket, Key=f"firm/{DAY}/{LOTS}", Body=LOTS_V1)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    archive_root = tmp_path / "data" / "archive"
    load_landing_day(landing, con, AS_OF, archive_store=LocalFileStore(archive_root),
                     quarantine_store=LocalFileStore(tmp_path / "data" / "outputs"))
    statuses = dict(con.execute("select landing_key, status from raw.file_ledger").fetchall())
    assert statuses == {f"{DAY}/../../../escape.csv": "rejected", f"{DAY}/{LOTS}": "accepted"}
    assert con.execute("select count(*) from raw.open_lots").fetchone()[0] == 2
    written = {p.resolve() for p in tmp_path.rglob("*") if p.is_file()}
    assert all((tmp_path / "data").resolve() in p.parents or p.name.startswith("w.duckdb") for p in written)


def test_a_misnamed_file_resent_under_its_proper_name_is_loaded(day):
    day.deliver("open_lots_20261119.csv", LOTS_V1)  # wrong date in the name: rejected, not loaded
    day.load()
    day.deliver(LOTS, LOTS_V1)
    day.load()
    assert day.one("select file_name, status from raw.file_ledger order by delivery_seq") == [
        ("open_lots_20261119.csv", "rejected"), (LOTS, "accepted")]
    assert day.one("select count(*) from raw.open_lots") == [(2,)]
