"""The engine's CSV formats (docs/tax-engine.md): transactions in; open lots, realized lots, wash sales and
view differences out."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Iterable

from taxlots.model import KINDS, RELIEF_METHODS, Account, Lot, RealizedLot, Security, Transaction
from taxlots.views import ViewDifference

TRANSACTION_COLUMNS = ("transaction_id", "account_id", "trade_date", "kind", "security_id", "quantity", "amount")
OPTIONAL_COLUMNS = ("household_id", "registration", "lot_id", "method", "acquired_date", "fmv", "ratio")


def _decimal(row: dict, name: str, line: int) -> Decimal | None:
    value = (row.get(name) or "").strip()
    if not value:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ValueError(f"line {line}: {name} {value!r} is not a number") from None


def _date(row: dict, name: str, line: int) -> dt.date | None:
    value = (row.get(name) or "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"line {line}: {name} {value!r} is not a YYYY-MM-DD date") from None


def read_transactions(path: Path | str) -> tuple[list[Transaction], dict[str, Account]]:
    """Transactions and the accounts they name (registration and household from the first row that says)."""
    transactions: list[Transaction] = []
    accounts: dict[str, Account] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in TRANSACTION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: missing columns {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            kind = row["kind"].strip().lower()
            if kind not in KINDS:
                raise ValueError(f"line {line}: kind {kind!r} is not one of {', '.join(KINDS)}")
            method = (row.get("method") or "").strip().lower()
            if method and method not in RELIEF_METHODS:
                raise ValueError(f"line {line}: method {method!r} is not one of {', '.join(RELIEF_METHODS)}")
            account_id = row["account_id"].strip()
            known = accounts.get(account_id, Account(account_id))
            registration = known.registration if known.registration != "individual" else \
                ((row.get("registration") or "").strip() or "individual")
            household_id = known.household_id or (row.get("household_id") or "").strip()
            accounts[account_id] = Account(account_id, registration, household_id)
            trade_date = _date(row, "trade_date", line)
            if trade_date is None:
                raise ValueError(f"line {line}: trade_date is required")
            transactions.append(Transaction(
                transaction_id=row["transaction_id"].strip(), account_id=account_id, trade_date=trade_date,
                kind=kind, security_id=row["security_id"].strip(),
                quantity=_decimal(row, "quantity", line) or Decimal(0),
                amount=_decimal(row, "amount", line) or Decimal(0),
                lot_id=(row.get("lot_id") or "").strip(), method=method,
                acquired_date=_date(row, "acquired_date", line), fmv=_decimal(row, "fmv", line),
                ratio=_decimal(row, "ratio", line),
            ))
    named = {a.household_id for a in accounts.values() if a.household_id}
    if len(named) == 1:
        household_id = named.pop()
        accounts = {k: Account(a.account_id, a.registration, a.household_id or household_id)
                    for k, a in accounts.items()}
    return transactions, accounts


def read_securities(path: Path | str) -> dict[str, Security]:
    """A security master (security_id, identical_group, optional security_type)."""
    with open(path, newline="") as f:
        return {row["security_id"].strip(): Security(row["security_id"].strip(),
                                                     (row.get("identical_group") or "").strip(),
                                                     (row.get("security_type") or "equity").strip())
                for row in csv.DictReader(f)}


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.quantize(Decimal('0.000001')).normalize():f}"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return "|".join(str(v) for v in value)
    return str(value)


OPEN_LOT_COLUMNS = ("account_id", "lot_id", "root_lot_id", "security_id", "quantity", "basis", "acquired_date",
                    "adjusted_acquired_date", "wash_sale_adjustment", "origin", "source_lot_ids")
REALIZED_COLUMNS = ("sale_transaction_id", "account_id", "lot_id", "security_id", "quantity", "acquired_date",
                    "adjusted_acquired_date", "sale_date", "proceeds", "basis", "gain", "term", "taxable",
                    "disallowed_loss", "permanently_disallowed", "reportable_gain", "wash_sale_lots")
WASH_COLUMNS = ("sale_transaction_id", "sale_date", "sold_account_id", "sold_lot_id", "sold_security_id",
                "replacement_account_id", "replacement_lot_id", "replacement_security_id", "replacement_date",
                "shares", "disallowed_loss", "permanent")
DIFFERENCE_COLUMNS = ("kind", "account_id", "security_id", "lot_id", "sale_transaction_id", "household",
                      "custodian", "difference", "reason")


def open_lot_row(lot: Lot) -> dict:
    return {c: _fmt(getattr(lot, c)) for c in OPEN_LOT_COLUMNS}


def realized_row(r: RealizedLot) -> dict:
    row = {c: _fmt(getattr(r, c)) for c in REALIZED_COLUMNS if c != "wash_sale_lots"}
    row["wash_sale_lots"] = "|".join(f"{link.replacement_account_id}:{link.replacement_lot_id}" for link in r.wash_links)
    return row


def _write(path: Path, columns, rows: Iterable[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_replay(out: Path | str, household, custodian, differences: list[ViewDifference]) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "open_lots.csv": (OPEN_LOT_COLUMNS, [open_lot_row(lot) for lot in household.open_lots]),
        "realized_lots.csv": (REALIZED_COLUMNS, [realized_row(r) for r in household.realized]),
        "wash_sales.csv": (WASH_COLUMNS, [{c: _fmt(getattr(link, c)) for c in WASH_COLUMNS}
                                           for r in household.realized for link in r.wash_links]),
        "custodian_realized_lots.csv": (REALIZED_COLUMNS, [realized_row(r) for r in custodian.realized]),
        "view_differences.csv": (DIFFERENCE_COLUMNS, [
            {c: _fmt(d.difference if c == "difference" else getattr(d, c)) for c in DIFFERENCE_COLUMNS}
            for d in differences]),
    }
    for name, (columns, rows) in paths.items():
        _write(out / name, columns, rows)
    return [out / name for name in paths]
