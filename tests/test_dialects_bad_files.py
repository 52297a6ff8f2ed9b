"""A corpus of broken custodian dialect files, per dialect: each defect gives a message naming file,
line and field, lands in quarantine (raw.quarantine and outputs/quarantine/<date>/), and the rest
of the day still loads. Structural faults reject the whole file; lots that do not add up to their
position show in the reconciliation report."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from custodian.dialects import DIALECTS
from custodian.dialects.pershing import check_digit
from custodian.dialects.spec import LEADING, SIGN_BYTE, Dialect, RecordLayout
from custodian.load import load_landing_day
from custodian.parse import reject_message
from custodian.stores import LocalFileStore

AS_OF = dt.date(2026, 11, 20)
DAY = AS_OF.isoformat()


@pytest.fixture(scope="module")
def good_day(tmp_path_factory) -> Path:
    from synthetic import write_synthetic_firm

    landing = tmp_path_factory.mktemp("good")
    write_synthetic_firm(landing, AS_OF, households=2, seed=3, dialects=True)
    (landing / DAY / f"price_history_{AS_OF:%Y%m%d}.csv").unlink()  # 10 MB no case here needs
    return landing / DAY


# --- editing a dialect file through its layout -------------------------------------------------------


@dataclass
class DialectFile:
    dialect: Dialect
    record: RecordLayout
    path: Path

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def framed(self) -> bool:
        return self.dialect.framing != "delimited"

    def lines(self) -> list[bytes]:
        return self.path.read_bytes().split(b"\n")[:-1]

    def write(self, lines: list[bytes], end: bytes = b"\n") -> None:
        self.path.write_bytes(b"\n".join(lines) + end)

    def detail_line(self, i: int) -> int:
        """Physical line number of the i-th detail record (0-based)."""
        return i + (2 if self.framed else 1)

    def get(self, line: int, field: str) -> str:
        text = self.lines()[line - 1].decode()
        f = self.record.field(field)
        return text[f.start:f.end].strip() if self.framed else text.split(",")[self.record.field_names.index(field)]

    def set(self, line: int, field: str, raw: str) -> None:
        """Put ``raw`` (the field's whole text, sign byte included) into one record."""
        lines = self.lines()
        text = lines[line - 1].decode()
        f = self.record.field(field)
        if self.framed:
            text = text[:f.start] + raw.ljust(f.end - f.start)[: f.end - f.start] + text[f.end:]
        else:
            cells = text.split(",")
            cells[self.record.field_names.index(field)] = raw
            text = ",".join(cells)
        lines[line - 1] = text.encode()
        self.write(lines)

    def drop_details(self, keep) -> None:
        """Keep the detail records for which keep(text) is true; the trailer count follows."""
        lines = self.lines()
        if not self.framed:
            self.write([x for x in lines if keep(x.decode())])
            return
        details = [x for x in lines[1:-1] if keep(x.decode())]
        trailer = lines[-1].decode()
        count = f"{len(details):010d}"
        trailer = trailer[:21] + count + trailer[31:] if self.dialect.framing == "htd" else \
            trailer.replace(trailer.split("TOTAL DETAIL RECORDS: ")[1][:10], count)
        self.write([lines[0]] + details + [trailer.encode()])


def dialect_file(folder: Path, dialect: Dialect, kind: str) -> DialectFile:
    candidates = [r for r in dialect.records if r.kind.startswith(kind)]
    files = [DialectFile(dialect, r, folder / dialect.file_name(r, AS_OF)) for r in candidates]
    return max(files, key=lambda f: len(f.lines()))  # Schwab: the larger of .ULT and .ULN


def number(f: DialectFile, field: str, text: str) -> str:
    """A field's raw text for a number given as digits with a sign ('-12' -> '-0000012')."""
    spec = f.record.field(field)
    negative, digits = text.startswith("-"), text.lstrip("-")
    if not f.framed:
        return text
    if spec.sign == LEADING:
        return ("-" if negative else "+") + digits.rjust(spec.width - 1, "0")
    if spec.sign == SIGN_BYTE:
        return digits.rjust(spec.width, "0") + ("-" if negative else "+")
    return digits.rjust(spec.width, "0")


def date_text(f: DialectFile, month: int, day: int, year: int = 2026) -> str:
    return f"{month:02d}/{day:02d}/{year}" if not f.framed else f"{year}{month:02d}{day:02d}"


def lot_quantity_field(f: DialectFile) -> str:
    return next(x.name for x in f.record.fields if x.canonical == "quantity")


def lot_id_field(f: DialectFile) -> str:
    return next(x.name for x in f.record.fields if x.canonical == "lot_id")


# --- the corpus: each case edits the good day and says what must be quarantined -------------------------
# (file, line, field, error fragment, scope); line None: the file's last line


def truncated(folder, dialect):
    f = dialect_file(folder, dialect, "open_lots")
    lines = f.lines()
    f.write(lines[:-2] + [lines[-2][:20]], end=b"")
    return f.name, len(lines) - 1, "<trailer>" if f.framed else "<record>", "truncated", "file" if f.framed else "line"


def trailer_count_mismatch(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    f.drop_details(lambda text: True)
    lines = f.lines()
    f.write(lines[:2] + lines[3:])  # one detail record lost, the trailer still counts it
    return f.name, len(lines) - 1, "<trailer>", "does not match", "file"


def wrong_record_width(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    lines = f.lines()
    line = f.detail_line(1)
    lines[line - 1] = lines[line - 1] + (b",EXTRA" if not f.framed else b"")
    if f.framed:
        lines[line - 1] = lines[line - 1][:40] + b" " + lines[line - 1][40:]
    f.write(lines)
    return f.name, line, "<record>", "found 7" if not f.framed else f"record is {f.dialect.record_width + 1} bytes", "line"


def wrong_delimiter(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    f.write([x.replace(b",", b";") for x in f.lines()])
    return f.name, 1, "<header>", "wrong delimiter", "file"


def non_utf8(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    lines = f.lines()
    line = f.detail_line(2)
    lines[line - 1] = lines[line - 1][:-3] + b"\xff" + lines[line - 1][-2:]
    f.write(lines)
    return f.name, line, "<encoding>", "not UTF-8", "line"


def impossible_date(folder, dialect):
    f = dialect_file(folder, dialect, "open_lots")
    field = next(x.name for x in f.record.fields if x.canonical == "acquired_date")
    f.set(f.detail_line(1), field, date_text(f, 2, 30))
    return f.name, f.detail_line(1), field, "not a date", "line"


def other_date_format(folder, dialect):
    f = dialect_file(folder, dialect, "open_lots")
    field = next(x.name for x in f.record.fields if x.canonical == "adjusted_acquired_date")
    f.set(f.detail_line(2), field, "2026-02-03" if not f.framed else "02/03/26")
    return f.name, f.detail_line(2), field, "not a date", "line"


def negative_quantity(folder, dialect):
    f = dialect_file(folder, dialect, "open_lots")
    field = lot_quantity_field(f)
    f.set(f.detail_line(0), field, number(f, field, "-1000000" if f.framed else "-1.000000"))
    return f.name, f.detail_line(0), field, "below the minimum 0", "line"


def non_numeric_quantity(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    field = lot_quantity_field(f)
    f.set(f.detail_line(1), field, number(f, field, "12AB"))
    return f.name, f.detail_line(1), field, "not a number", "line"


def duplicate_lot_id(folder, dialect):
    f = dialect_file(folder, dialect, "open_lots")
    field = lot_id_field(f)
    f.set(f.detail_line(2), field, f.get(f.detail_line(1), field))
    return f.name, f.detail_line(1), field, f"on lines {f.detail_line(1)}, {f.detail_line(2)}", "line"


def security_missing(folder, dialect):
    positions = dialect_file(folder, dialect, "positions")
    cusip = positions.get(positions.detail_line(0), "cusip")
    securities = dialect_file(folder, dialect, "securities")
    securities.drop_details(lambda text: cusip not in text)
    return positions.name, positions.detail_line(0), "cusip", "security not in the", "line"


def price_zero(folder, dialect):
    positions = dialect_file(folder, dialect, "positions")
    cusip = positions.get(positions.detail_line(0), "cusip")
    securities = dialect_file(folder, dialect, "securities")
    line = next(i for i, x in enumerate(securities.lines(), start=1) if cusip.encode() in x)
    securities.set(line, "close_price", number(securities, "close_price", "0" if securities.framed else "0.0000"))
    return securities.name, line, "close_price", "must be > 0", "line"


def price_zero_holds_the_position(folder, dialect):
    price_zero(folder, dialect)
    positions = dialect_file(folder, dialect, "positions")
    return positions.name, positions.detail_line(0), "cusip", "its record was rejected", "line"


def empty_file(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    f.path.write_bytes(b"")
    return f.name, 1, "<header>", "empty file", "file"


def wrong_as_of_date(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    lines = f.lines()
    if f.framed:
        lines[0] = lines[0].replace(b"20261120", b"20261119").replace(b"11/20/2026", b"11/19/2026")
        f.write(lines)
    else:
        f.write([x.replace(b"11/20/2026", b"11/19/2026", 1) for x in lines])
    return f.name, 1, "<header>", "as-of date" if f.framed else "business date 11/19/2026", "file"


def unknown_account(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    unknown = {"schwab": "49999999", "fidelity": "Z69999999",
               "pershing": f"5LV99999{check_digit('5LV', '99999')}1"}[dialect.custodian]
    f.set(f.detail_line(0), "account_number", unknown)
    return f.name, f.detail_line(0), "account_number", "unknown account", "unknown_account"


def bad_check_digit(folder, dialect):
    f = dialect_file(folder, dialect, "positions")
    number_ = f.get(f.detail_line(0), "account_number")
    wrong = str((int(number_[8]) + 1) % 10)
    f.set(f.detail_line(0), "account_number", number_[:8] + wrong + number_[9:])
    return f.name, f.detail_line(0), "account_number", "check digit", "line"


def account_master_line_rejected(folder, dialect):
    positions = dialect_file(folder, dialect, "positions")
    account = positions.get(positions.detail_line(0), "account_number")
    master = dialect_file(folder, dialect, "accounts")
    line = next(i for i, x in enumerate(master.lines(), start=1) if account.encode() in x)
    master.set(line, "registration_code", "XXX")
    return positions.name, positions.detail_line(0), "account_number", "account master line of this account was rejected", "line"


def account_master_line_rejected_names_its_field(folder, dialect):
    positions = dialect_file(folder, dialect, "positions")
    account = positions.get(positions.detail_line(0), "account_number")
    master = dialect_file(folder, dialect, "accounts")
    line = next(i for i, x in enumerate(master.lines(), start=1) if account.encode() in x)
    master.set(line, "registration_code", "XXX")
    return master.name, line, "registration_code", "not one of the codes", "line"


def firm_reference_unknown(folder, dialect):
    positions = dialect_file(folder, dialect, "positions")
    account = positions.get(positions.detail_line(0), "account_number")
    master = dialect_file(folder, dialect, "accounts")
    line = next(i for i, x in enumerate(master.lines(), start=1) if account.encode() in x)
    master.set(line, "firm_reference", "ACC999999")
    return positions.name, positions.detail_line(0), "account_id", "in no accounts file of the day", "unknown_account"


FIXED_ONLY = {trailer_count_mismatch}
DELIMITED_ONLY = {wrong_delimiter}
PERSHING_ONLY = {bad_check_digit}
CASES = [truncated, trailer_count_mismatch, wrong_record_width, wrong_delimiter, non_utf8, impossible_date,
         other_date_format, negative_quantity, non_numeric_quantity, duplicate_lot_id, security_missing, price_zero,
         price_zero_holds_the_position, empty_file, wrong_as_of_date, unknown_account, bad_check_digit,
         account_master_line_rejected, account_master_line_rejected_names_its_field, firm_reference_unknown]
PARAMS = [pytest.param(d, case, id=f"{d.custodian}-{case.__name__}") for d in DIALECTS for case in CASES
          if not (case in FIXED_ONLY and d.framing == "delimited") and not (case in DELIMITED_ONLY and d.framing != "delimited")
          and not (case in PERSHING_ONLY and d.custodian != "pershing")]


def _load(folder: Path, home: Path):
    con = duckdb.connect(str(home / "w.duckdb"))
    day = load_landing_day(LocalFileStore(folder.parent), con, AS_OF, archive_store=LocalFileStore(home / "archive"),
                           quarantine_store=LocalFileStore(home / "quarantine"),
                           reconciliation_store=LocalFileStore(home / "reconciliation"))
    return con, day


@pytest.mark.parametrize("dialect,case", PARAMS)
def test_bad_dialect_file_is_quarantined_naming_file_line_and_field(dialect, case, good_day, tmp_path):
    folder = tmp_path / "landing" / DAY
    shutil.copytree(good_day, folder)
    name, line, field, fragment, scope = case(folder, dialect)
    con, day = _load(folder, tmp_path)
    found = day.quarantine[(day.quarantine["source_file"] == name) & (day.quarantine["source_line"] == line)
                           & (day.quarantine["field"] == field)]
    assert len(found), day.quarantine[["source_file", "source_line", "field", "error"]].to_string()
    reject = found.iloc[0].to_dict()
    assert fragment in reject["error"] and reject["scope"] == scope
    message = reject_message(reject)
    assert message.startswith(f"{name} line {line} field {field}: ")
    stored = con.execute("select count(*) from raw.quarantine where source_file = ? and source_line = ? and field = ?",
                         [name, line, field]).fetchone()[0]
    assert stored >= 1
    rejected = pd.read_csv(tmp_path / "quarantine" / DAY / f"{name}.rejected.csv", dtype=str)
    assert ((rejected["source_line"] == str(line)) & (rejected["field"] == field)).any()
    if scope == "file":
        assert (tmp_path / "quarantine" / DAY / name).read_bytes() == (folder / name).read_bytes()
    # the rest of the day still loads: the other custodians' lots are there
    others = [d.custodian for d in DIALECTS if d is not dialect]
    for other in others:
        assert con.execute(f"select count(*) from raw.{other}_transactions").fetchone()[0] > 0
    # raw files are never modified: the archive holds exactly the delivered bytes
    archived = con.execute("select archive_uri from raw.file_ledger where file_name = ?", [name]).fetchone()[0]
    assert Path(archived).read_bytes() == (folder / name).read_bytes()


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.custodian for d in DIALECTS])
def test_lots_not_adding_up_to_the_position_show_in_the_reconciliation(dialect, good_day, tmp_path):
    folder = tmp_path / "landing" / DAY
    shutil.copytree(good_day, folder)
    lots = dialect_file(folder, dialect, "open_lots")
    field = lot_quantity_field(lots)
    account = lots.get(lots.detail_line(0), "account_number")
    held = lots.get(lots.detail_line(0), field)
    more = str(int(held.strip("+-")) + 10**6) if lots.framed else f"{float(held) + 1:.6f}"  # one share more
    lots.set(lots.detail_line(0), field, number(lots, field, more))
    con, day = _load(folder, tmp_path)
    found = day.reconciliation[(day.reconciliation["check_name"] == "lots_vs_position")]
    assert len(found) == 1, day.reconciliation.to_string()
    row = found.iloc[0]
    assert row["account_number"] == account and row["custodian"] == dialect.custodian
    assert row["difference"] == pytest.approx(-1.0)
    positions = dialect_file(folder, dialect, "positions")
    assert row["source_file"] == positions.name and positions.get(int(row["source_line"]), "account_number") == account
    report = pd.read_csv(tmp_path / "reconciliation" / DAY / f"reconciliation_{AS_OF:%Y%m%d}.csv", dtype=str)
    assert (report["check_name"] == "lots_vs_position").sum() == 1
    stored = con.execute("select count(*) from raw.reconciliation where check_name = 'lots_vs_position'").fetchone()[0]
    assert stored == 1


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.custodian for d in DIALECTS])
def test_market_value_off_from_quantity_times_price_shows_in_the_reconciliation(dialect, good_day, tmp_path):
    folder = tmp_path / "landing" / DAY
    shutil.copytree(good_day, folder)
    positions = dialect_file(folder, dialect, "positions")
    line = positions.detail_line(1)
    positions.set(line, "market_value", number(positions, "market_value", "123" if positions.framed else "1.23"))
    con, day = _load(folder, tmp_path)
    found = day.reconciliation[day.reconciliation["check_name"] == "position_market_value"]
    assert found["source_line"].tolist() == [line] and found["source_file"].tolist() == [positions.name]


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.custodian for d in DIALECTS])
def test_missing_account_master_holds_back_the_family(dialect, good_day, tmp_path):
    folder = tmp_path / "landing" / DAY
    shutil.copytree(good_day, folder)
    master = dialect_file(folder, dialect, "accounts")
    master.path.unlink()
    con, day = _load(folder, tmp_path)
    q = day.quarantine
    assert ((q["source_file"] == master.name) & (q["source_line"] == 0) & q["error"].str.contains("no ")).any()
    held = q[q["error"].str.contains("account master of the day is missing")]
    assert set(held["scope"]) == {"file"} and held["account_id"].isna().all()
    assert con.execute(f"select count(*) from raw.positions where source_file like '{dialect.file_name(dialect.by_kind('positions'), AS_OF)[:6]}%'").fetchone()[0] == 0
