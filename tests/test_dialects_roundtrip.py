"""Custodian dialects: every record kind round-trips writer -> parser, a multi-custodian firm loads to
exactly the canonical rows its canonical files give, names are recognised, bytes are deterministic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from custodian.dialects import DIALECTS, recognize
from custodian.dialects.engine import encode_file, parse_dialect_file
from custodian.dialects.pershing import check_digit
from custodian.dialects.translate import canonical_coverage
from custodian.layout import LAYOUTS_BY_ENTITY
from custodian.load import classify, load_landing_day
from custodian.stores import LocalFileStore

AS_OF = dt.date(2026, 11, 20)
RECORDS = [(d, r) for d in DIALECTS for r in d.records]
IDS = [r.table for _, r in RECORDS]


@pytest.fixture(scope="module")
def firm():
    from synthetic import generate_firm

    return generate_firm(AS_OF, households=6, seed=5)


@pytest.fixture(scope="module")
def native(firm):
    from synthetic.dialects import native_tables

    return {c: native_tables(firm, c) for c in ("schwab", "fidelity", "pershing")}


def _same(left: pd.Series, right: pd.Series, kind: str) -> None:
    if kind == "decimal":
        np.testing.assert_allclose(left.to_numpy(dtype=float), right.to_numpy(dtype=float), atol=1e-9, equal_nan=True)
    elif kind == "date":
        assert (pd.to_datetime(left).fillna(pd.Timestamp(0)) == pd.to_datetime(right).fillna(pd.Timestamp(0))).all()
    else:
        norm = lambda s: s.astype(object).where(s.notna(), None).map(lambda v: None if v is None or v == "" else str(v))  # noqa: E731
        assert norm(left).tolist() == norm(right).tolist()


@pytest.mark.parametrize("dialect,record", RECORDS, ids=IDS)
def test_record_round_trips_writer_to_parser(dialect, record, native):
    frame = native[dialect.custodian][record.kind]
    assert len(frame), "the synthetic firm should give every record kind some rows"
    content = encode_file(dialect, record, frame, AS_OF)
    parsed = parse_dialect_file(dialect, record, dialect.file_name(record, AS_OF), content, AS_OF)
    assert parsed.rejects.empty, parsed.rejects.head().to_dict("records")
    assert len(parsed.rows) == len(frame)
    for f in record.fields:
        _same(parsed.rows[f.name].reset_index(drop=True), frame[f.name].reset_index(drop=True), f.kind)
    first_detail = 2 if dialect.framing != "delimited" else 1
    assert parsed.rows["source_line"].tolist() == list(range(first_detail, first_detail + len(frame)))


FIXED = [(d, r) for d, r in RECORDS if d.framing != "delimited"]


@pytest.mark.parametrize("dialect,record", FIXED, ids=[r.table for _, r in FIXED])
def test_fixed_width_fields_do_not_overlap_and_fit_the_record(dialect, record):
    taken = np.zeros(dialect.record_width, dtype=int)
    taken[:1 if dialect.framing == "htd" else 11] += 1  # record type / code + indicator + sequence
    if dialect.framing == "bof_eof":
        taken[-1] += 1  # the X byte
    for f in record.fields:
        assert f.end <= dialect.record_width, f.name
        taken[f.start:f.end] += 1
    assert taken.max() == 1, [f.name for f in record.fields]


@pytest.mark.parametrize("dialect,record", [(d, r) for d, r in RECORDS if r.entity], ids=[r.table for _, r in RECORDS if r.entity])
def test_every_canonical_column_of_the_entity_is_fed(dialect, record):
    assert set(LAYOUTS_BY_ENTITY[record.entity].column_names) <= canonical_coverage(record)


@pytest.mark.parametrize("dialect,record", RECORDS, ids=IDS)
def test_file_names_are_recognised_and_dated(dialect, record):
    name = dialect.file_name(record, AS_OF)
    assert recognize(name)[:2] == (dialect, record)
    assert classify(name, b"", AS_OF) == (record.table, None)
    other = dialect.file_name(record, AS_OF - dt.timedelta(days=1))
    kind, reason = classify(other, b"", AS_OF)
    assert kind == record.table and "20261119 delivered for 20261120" in reason


def test_pershing_check_digit_is_luhn():
    assert check_digit("", "7992739871") == "3"  # the textbook Luhn example
    assert check_digit("5LV", "00006") != check_digit("5LV", "00007")


def test_same_firm_gives_same_bytes(firm):
    from synthetic import generate_firm
    from synthetic.dialects import dialect_files

    again = generate_firm(AS_OF, households=6, seed=5)
    assert dialect_files(firm) == dialect_files(again)


def _load(landing: Path, home: Path):
    con = duckdb.connect(str(home / "w.duckdb"))
    day = load_landing_day(LocalFileStore(landing), con, AS_OF, archive_store=LocalFileStore(home / "archive"),
                           quarantine_store=LocalFileStore(home / "quarantine"),
                           reconciliation_store=LocalFileStore(home / "reconciliation"))
    return con, day


@pytest.fixture(scope="module")
def both_loads(firm, tmp_path_factory):
    from synthetic import write_firm

    out = {}
    for dialects in (False, True):
        root = tmp_path_factory.mktemp("dialects" if dialects else "canonical")
        folder = write_firm(firm, root / "landing", dialects=dialects)
        (folder / f"price_history_{AS_OF:%Y%m%d}.csv").unlink()
        out[dialects] = (root, *_load(root / "landing", root))
    return out


KEYS = {"positions": ["account_id", "security_id"], "open_lots": ["lot_id"], "transactions": ["transaction_id"]}


@pytest.mark.parametrize("entity", sorted(KEYS))
def test_multi_custodian_firm_loads_the_rows_its_canonical_files_give(both_loads, entity):
    columns = LAYOUTS_BY_ENTITY[entity].column_names
    frames = {d: con.execute(f"select {', '.join(columns)} from raw.{entity}").df().sort_values(KEYS[entity])
              .reset_index(drop=True) for d, (_, con, _) in both_loads.items()}
    assert len(frames[True]) == len(frames[False]) > 0
    for column in LAYOUTS_BY_ENTITY[entity].columns:
        _same(frames[True][column.name], frames[False][column.name], column.kind)


def test_multi_custodian_firm_loads_clean_with_lineage_to_the_dialect_files(both_loads, firm):
    root, con, day = both_loads[True]
    rejected = day.quarantine[day.quarantine["source_file"] != f"price_history_{AS_OF:%Y%m%d}.csv"]  # removed above
    assert rejected.empty, rejected.head().to_dict("records")
    assert day.reconciliation.empty
    lineage = con.execute("select source_file, min(source_line), count(*) from raw.open_lots group by 1 order by 1").fetchall()
    custodians = set(firm.accounts["custodian"].astype(str))
    assert {name for name, _, _ in lineage} == {n for n in ["CRS261120.ULT", "CRS261120.ULN", "001_SLV_TLAOPENFULL_20261120.DAT",
                                                             "PSH_GLOT_20261120.DAT"]
                                                 if any(n.startswith(p) for p, c in (("CRS", "schwab"), ("001", "fidelity"),
                                                                                      ("PSH", "pershing")) if c in custodians)}
    native = con.execute("select count(*) from raw.pershing_positions").fetchone()[0]
    assert native == con.execute("select count(*) from raw.positions where source_file like 'PSH_GCUS%'").fetchone()[0]
    composite = con.execute("select account_number from raw.pershing_positions limit 1").fetchone()[0]
    assert len(composite) == 10 and composite[:3] == "5LV" and composite[8] == check_digit("5LV", composite[3:8])
    entities = dict(con.execute("select entity, count(*) from raw.ingested_files group by 1").fetchall())
    assert entities["positions"] == 2 * len(custodians) and entities["open_lots"] >= len(custodians)
    assert (root / "reconciliation" / AS_OF.isoformat() / f"reconciliation_{AS_OF:%Y%m%d}.csv").is_file()


def test_reloading_the_day_gives_the_same_tables(both_loads):
    root, con, _ = both_loads[True]
    before = {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0]
              for t in ("positions", "open_lots", "transactions", "schwab_transactions", "fidelity_open_lots", "quarantine")}
    day = load_landing_day(LocalFileStore(root / "landing"), con, AS_OF, archive_store=LocalFileStore(root / "archive"))
    assert day.new_deliveries.empty
    assert before == {t: con.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in before}


@pytest.mark.parametrize("content", [
    b"a,b\r\n\r\n \t\x1c\r\nc,d\n", "x,\u3000\n\u3000\n\u200bq\n".encode(), b"last,line", b"\n\nq\n",
])
def test_lines_split_in_arrow_are_the_lines_split_one_by_one(content):
    """A UTF-8 file is split into lines in arrow; the same lines (and blank lines: what str.strip()
    empties) as decoding line by line, which stays for a file with a line that is not UTF-8."""
    from custodian.dialects.engine import _BLANK_LINE, _decode, _decode_line_by_line

    fast, rejects, ended = _decode("f", content)
    slow, _, _ = _decode_line_by_line("f", content, ended)
    assert rejects == [] and fast.tolist() == slow.tolist()
    assert fast.str.fullmatch(_BLANK_LINE).tolist() == [t.strip() == "" for t in slow]
