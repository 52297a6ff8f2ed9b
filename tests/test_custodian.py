"""Ingestion: bad lines are quarantined with file, line and field; nothing is lost; reloads are idempotent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest

from custodian.layout import OPEN_LOTS, POSITIONS, PRICES
from custodian.layout_doc import render
from custodian.load import load_landing_day
from custodian.parse import parse_landing_file
from custodian.stores import LocalFileStore, S3FileStore

AS_OF = dt.date(2026, 11, 20)
LOTS_HEADER = ",".join(OPEN_LOTS.column_names)


def test_a_bad_lot_line_is_quarantined_naming_file_line_and_field():
    content = (
        f"{LOTS_HEADER}\n"
        "A1,L1,AAA,10,1000.00,2024-01-02,2024-01-02,0,true\n"
        "A2,L2,AAA,ten,1000.00,2024-01-02,2024-01-02,0,true\n"
        "A3,L3,AAA,5,500.00,2024-02-30,2024-01-02,0,true\n"
    ).encode()
    parsed = parse_landing_file(OPEN_LOTS, "open_lots_20261120.csv", content)
    assert list(parsed.rows["lot_id"]) == ["L1"]
    assert parsed.rows["quantity"].tolist() == [10.0]
    rejects = parsed.rejects.to_dict("records")
    assert [(r["source_line"], r["account_id"], r["field"], r["value"]) for r in rejects] == [
        (3, "A2", "quantity", "ten"),
        (4, "A3", "acquired_date", "2024-02-30"),
    ]
    assert rejects[0]["error"] == "not a number"
    assert rejects[0]["raw_line"].startswith("A2,L2,AAA,ten")


def test_a_file_with_the_wrong_header_is_rejected_whole():
    parsed = parse_landing_file(PRICES, "prices_20261120.csv", b"ticker,close\nAAA,10\n")
    assert parsed.rows.empty and parsed.rejected_whole
    assert parsed.rejects.iloc[0]["field"] == "<header>"
    assert "security_id,price_date,close" in parsed.rejects.iloc[0]["error"]


def test_a_short_row_and_a_bad_choice_are_rejected():
    content = b"account_id,security_id,quantity\nA1,AAA\nA2,BBB,3\n"
    parsed = parse_landing_file(POSITIONS, "positions_20261120.csv", content)
    assert parsed.rejects.iloc[0]["field"] == "<row>"
    assert parsed.rejects.iloc[0]["source_line"] == 2
    assert len(parsed.rows) == 1


def _land(root: Path, files: dict[str, str]) -> LocalFileStore:
    folder = root / AS_OF.isoformat()
    folder.mkdir(parents=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return LocalFileStore(root)


def test_reloading_a_day_is_idempotent_and_raw_files_are_untouched(tmp_path):
    lots = f"{LOTS_HEADER}\nA1,L1,AAA,10,1000,2024-01-02,2024-01-02,0,true\nA2,L2,AAA,x,1,2024-01-02,2024-01-02,0,true\n"
    store = _land(tmp_path / "landing", {"open_lots_20261120.csv": lots, "prices_20261120.csv": "security_id,price_date,close\nAAA,2026-11-20,12.5\n"})
    before = (tmp_path / "landing" / AS_OF.isoformat() / "open_lots_20261120.csv").read_bytes()
    quarantine = LocalFileStore(tmp_path / "quarantine")
    archive = LocalFileStore(tmp_path / "archive")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for _ in range(2):
        day = load_landing_day(store, con, AS_OF, archive_store=archive, quarantine_store=quarantine)
    assert con.execute("select count(*) from raw.open_lots").fetchone()[0] == 1
    assert con.execute("select source_line, field from raw.quarantine where scope = 'line'").fetchall() == [(3, "quantity")]
    # the eight files not delivered are each named in quarantine
    assert con.execute("select count(*) from raw.quarantine where field = '<file>'").fetchone()[0] == 8
    assert con.execute("select count(*) from raw.file_ledger").fetchone()[0] == 2
    assert con.execute("select count(*) from raw.ingested_files").fetchone()[0] == 2
    lineage = con.execute("select source_file, source_line, file_sha256 from raw.open_lots").fetchone()
    assert lineage[0] == "open_lots_20261120.csv" and lineage[1] == 2 and len(lineage[2]) == 64
    assert "accounts" in day.missing
    assert (tmp_path / "landing" / AS_OF.isoformat() / "open_lots_20261120.csv").read_bytes() == before
    rejected = (tmp_path / "quarantine" / AS_OF.isoformat() / "open_lots_20261120.rejected.csv").read_text()
    assert "quantity" in rejected and "A2,L2,AAA,x" in rejected


def test_canonical_layout_doc_is_in_sync_with_the_code():
    doc = Path(__file__).resolve().parents[1] / "docs" / "canonical-layout.md"
    assert doc.read_text() == render(), "run: python -m custodian.layout_doc > docs/canonical-layout.md"




def test_the_same_store_api_reads_and_writes_s3(s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    store = S3FileStore("landing", prefix="firm", endpoint_url=s3_server, region_name="us-east-1")
    store.client().create_bucket(Bucket="landing")
    for i in range(1005):  # more than one page of a listing
        store.write_bytes(f"2026-11-20/file_{i:04d}.csv", b"x\n")
    keys = store.list("2026-11-20")
    assert len(keys) == 1005 and keys[0] == "2026-11-20/file_0000.csv"
    objects = store.list_objects("2026-11-20")  # the sensor's view: keys with ETags, same pagination
    assert [o.key for o in objects] == keys and {o.etag for o in objects} == {objects[0].etag} and objects[0].size == 2
    assert store.list("2026-11-2") == []  # a prefix is a folder, not a string prefix
    assert store.read_bytes("2026-11-20/file_0007.csv") == b"x\n"
    assert store.exists("2026-11-20/file_0007.csv") and not store.exists("nope.csv")
    assert store.uri("a.csv") == "s3://landing/firm/a.csv"
