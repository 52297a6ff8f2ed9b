"""A corpus of broken custodian files: each gives a message naming file, line and field, lands in
quarantine (raw.quarantine and outputs/quarantine/<date>/), and the rest of the day still loads; an
end-to-end run shows that households the defects do not touch still reach the optimizer."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from custodian.load import load_landing_day
from custodian.parse import reject_message
from custodian.stores import LocalFileStore

AS_OF = dt.date(2026, 11, 20)
DAY = AS_OF.isoformat()
YMD = f"{AS_OF:%Y%m%d}"


@pytest.fixture(scope="module")
def good_day(tmp_path_factory) -> Path:
    from synthetic import write_synthetic_firm

    landing = tmp_path_factory.mktemp("good")
    write_synthetic_firm(landing, AS_OF, households=3, seed=3)
    (landing / DAY / f"price_history_{YMD}.csv").unlink()  # 10 MB no case here needs (its absence is quarantined)
    return landing / DAY


def _lines(folder: Path, entity: str) -> list[bytes]:
    return (folder / f"{entity}_{YMD}.csv").read_bytes().splitlines(keepends=True)


def _write(folder: Path, entity: str, lines: list[bytes]) -> None:
    (folder / f"{entity}_{YMD}.csv").write_bytes(b"".join(lines))


def _set_field(folder: Path, entity: str, line: int, column: int, value: bytes) -> None:
    lines = _lines(folder, entity)
    cells = lines[line - 1].rstrip(b"\n").split(b",")
    cells[column] = value
    lines[line - 1] = b",".join(cells) + b"\n"
    _write(folder, entity, lines)


def truncated(folder):
    lines = _lines(folder, "open_lots")
    _write(folder, "open_lots", lines[:-1] + [lines[-1][:20]])
    return "open_lots", len(lines), "<row>", "truncated"


def missing_column(folder):
    lines = [b",".join(line.rstrip(b"\n").split(b",")[:2]) + b"\n" for line in _lines(folder, "positions")]
    _write(folder, "positions", lines)
    return "positions", 1, "<header>", "missing column(s) quantity"


def extra_column(folder):
    lines = _lines(folder, "open_lots")
    lines[2] = lines[2].rstrip(b"\n") + b",surprise\n"
    _write(folder, "open_lots", lines)
    return "open_lots", 3, "<row>", "expected 9 fields, found 10"


def wrong_delimiter(folder):
    _write(folder, "transactions", [line.replace(b",", b";") for line in _lines(folder, "transactions")])
    return "transactions", 1, "<header>", "wrong delimiter: the header is semicolon-separated"


def non_utf8(folder):
    _set_field(folder, "open_lots", 4, 1, b"L\xe9\xff")
    return "open_lots", 4, "<encoding>", "not UTF-8: byte 0xe9"


def impossible_date(folder):
    _set_field(folder, "open_lots", 2, 5, b"2024-02-30")
    return "open_lots", 2, "acquired_date", "not a date (YYYY-MM-DD)"


def other_date_format(folder):
    _set_field(folder, "transactions", 3, 2, b"11/02/2026")
    return "transactions", 3, "trade_date", "not a date (YYYY-MM-DD)"


def negative_quantity(folder):
    _set_field(folder, "open_lots", 2, 3, b"-5")
    return "open_lots", 2, "quantity", "below the minimum 0"


def harvest_threshold_above_one(folder):
    from custodian.layout import ACCOUNTS

    _set_field(folder, "accounts", 2, ACCOUNTS.column_names.index("harvest_threshold_start"), b"1.5")
    return "accounts", 2, "harvest_threshold_start", "above the maximum 1"


def non_numeric_quantity(folder):
    _set_field(folder, "positions", 2, 2, b"12x")
    return "positions", 2, "quantity", "not a number"


def empty_file(folder):
    _write(folder, "requests", [])
    return "requests", 1, "<header>", "empty file"


def wrong_as_of_date(folder):
    (folder / f"open_lots_{YMD}.csv").rename(folder / "open_lots_20261119.csv")
    return "open_lots_20261119.csv", 1, "<file>", "file for as-of date 20261119 delivered for 20261120"


def unknown_account(folder):
    _write(folder, "positions", _lines(folder, "positions") + [b"ZZ-404,CASH,100.00\n"])
    return "positions", len(_lines(folder, "positions")), "account_id", "unknown account"


def duplicate_lot_ids(folder):
    lot = _lines(folder, "open_lots")[1].split(b",")[1]
    _set_field(folder, "open_lots", 3, 1, lot)
    return "open_lots", 3, "lot_id", "duplicate lot_id: on lines 2, 3"


def price_for_another_day(folder):
    _set_field(folder, "prices", 2, 1, b"2026-11-19")
    return "prices", 2, "price_date", "not for the as-of date 2026-11-20"


CORPUS = [truncated, missing_column, extra_column, wrong_delimiter, non_utf8, impossible_date, other_date_format,
          negative_quantity, harvest_threshold_above_one, non_numeric_quantity, empty_file, wrong_as_of_date, unknown_account, duplicate_lot_ids,
          price_for_another_day]


@pytest.mark.parametrize("breaks", CORPUS, ids=[f.__name__ for f in CORPUS])
def test_a_broken_file_is_quarantined_naming_file_line_and_field(breaks, good_day, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(good_day, landing / DAY)
    entity, line, field, error = breaks(landing / DAY)
    file_name = entity if entity.endswith(".csv") else f"{entity}_{YMD}.csv"
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    day = load_landing_day(LocalFileStore(landing), con, AS_OF, archive_store=LocalFileStore(tmp_path / "archive"),
                           quarantine_store=LocalFileStore(tmp_path / "quarantine"))
    rows = day.quarantine[(day.quarantine["source_file"] == file_name) & (day.quarantine["source_line"] == line)
                          & (day.quarantine["field"] == field)]
    assert len(rows) == 1, day.quarantine[["source_file", "source_line", "field", "error"]].to_string()
    message = reject_message(rows.iloc[0].to_dict())
    assert message.startswith(f"{file_name} line {line} field {field}: ") and error in message, message
    stored = con.execute("select error from raw.quarantine where source_file = ? and source_line = ? and field = ?",
                         [file_name, line, field]).fetchall()
    assert len(stored) == 1 and error in stored[0][0]
    # the reason is in the quarantine folder too; a file rejected whole is copied there as it came
    rejected = (tmp_path / "quarantine" / DAY / f"{file_name.removesuffix('.csv')}.rejected.csv").read_text()
    assert error.split(":")[0] in rejected
    if field in ("<header>", "<file>"):
        assert (tmp_path / "quarantine" / DAY / file_name).read_bytes() == (
            (tmp_path / "archive").joinpath(*next((tmp_path / "archive").rglob(file_name)).parts[-3:]).read_bytes())
    # nothing else in the day was lost: every other file loaded whole
    clean = day.quarantine[day.quarantine["source_file"] != file_name]
    assert clean["field"].eq("<file>").all(), clean.to_string()  # only the file a rename made missing, if any
    for other, load in day.entities.items():
        if load.source_file and load.source_file != file_name:
            assert load.rows_quarantined == 0 and load.rows_loaded == len(_lines(good_day, other)) - 1, other


# --- end to end: the defects hold out only the households they touch --------------------------------

HOUSEHOLDS = 12


@pytest.fixture(scope="module")
def broken_day_run(tmp_path_factory):
    from synthetic import write_synthetic_firm

    root = tmp_path_factory.mktemp("broken_home")
    saved = {k: os.environ.get(k) for k in ("SLEEVELESS_HOME", "SLEEVELESS_DUCKDB_PATH", "DAGSTER_HOME")}
    os.environ["SLEEVELESS_HOME"] = str(root)
    os.environ.pop("SLEEVELESS_DUCKDB_PATH", None)
    try:
        from orchestration.lib.home import Home
        from sleeveless.cli import run_day

        home = Home.from_env()
        home.export()
        landing = Path(home.landing)
        write_synthetic_firm(landing, AS_OF, households=HOUSEHOLDS, seed=11)
        folder = landing / DAY
        accounts = pd.read_csv(folder / f"accounts_{YMD}.csv", dtype=str)
        lots = pd.read_csv(folder / f"open_lots_{YMD}.csv", dtype=str)
        # household of lot line 2: a duplicate lot id on line 3 (same account, so one household)
        first, second = lots.iloc[0], lots.iloc[1]
        assert first["account_id"] == second["account_id"]
        _set_field(folder, "open_lots", 3, 1, first["lot_id"].encode())
        duplicate_household = accounts.set_index("account_id").loc[first["account_id"], "household_id"]
        # another household: a transaction line with bytes that are not UTF-8
        tx = pd.read_csv(folder / f"transactions_{YMD}.csv", dtype=str)
        tx_accounts = tx["account_id"].map(accounts.set_index("account_id")["household_id"])
        tx_line = int((tx_accounts != duplicate_household).to_numpy().argmax()) + 2
        _set_field(folder, "transactions", tx_line, 0, b"T\xe9-bad")
        encoding_household = tx_accounts.iloc[tx_line - 2]
        # noise that must hold nobody: a position of an unknown account, a stray file of another day,
        # and a renamed copy of the lots file
        _write(folder, "positions", _lines(folder, "positions") + [b"ZZ-404,CASH,100.00\n"])
        yesterday = (folder / f"prices_{YMD}.csv").read_bytes().replace(b"2026-11-20", b"2026-11-19")
        (folder / "prices_20261119.csv").write_bytes(yesterday)
        shutil.copy(folder / f"open_lots_{YMD}.csv", folder / "open_lots_resent.csv")
        result, _ = run_day(home, AS_OF)
        with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
            outcomes = con.execute("select household_id, status, message from optimizer.household_outcomes "
                                   "where as_of_date = ?", [AS_OF]).df()
            quarantine = con.execute("select source_file, source_line, field, scope from raw.quarantine "
                                     "where as_of_date = ? order by all", [AS_OF]).fetchall()
            ledger = con.execute("select file_name, status from raw.file_ledger order by all").fetchall()
        yield {"result": result, "outcomes": outcomes, "quarantine": quarantine, "ledger": ledger,
               "held": {duplicate_household, encoding_household}}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_households_not_touched_by_bad_input_still_reach_the_optimizer(broken_day_run):
    run = broken_day_run
    assert run["result"].success
    outcomes = run["outcomes"].set_index("household_id")
    assert len(outcomes) == HOUSEHOLDS and len(run["held"]) == 2
    for household in run["held"]:
        assert outcomes.loc[household, "status"] == "held_out"
        assert "quarantined" in outcomes.loc[household, "message"]
    others = outcomes.drop(index=list(run["held"]))
    assert (others["status"] == "optimal").all(), others


def test_every_defect_of_the_broken_day_is_in_quarantine_or_the_ledger(broken_day_run):
    run = broken_day_run
    fields = {(f, field, scope) for f, _, field, scope in run["quarantine"]}
    assert (f"open_lots_{YMD}.csv", "lot_id", "line") in fields
    assert (f"transactions_{YMD}.csv", "<encoding>", "line") in fields
    assert (f"positions_{YMD}.csv", "account_id", "unknown_account") in fields
    assert ("prices_20261119.csv", "<file>", "stray") in fields
    assert ("open_lots_resent.csv", "duplicate") in run["ledger"]
