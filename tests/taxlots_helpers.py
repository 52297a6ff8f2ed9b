"""Small builders for the tax-lot engine tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from taxlots import Transaction

D = Decimal


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def buy(tid, account, date, security, quantity, amount, lot=None, kind="buy"):
    return Transaction(tid, account, day(date), kind, security, D(quantity), D(amount), lot_id=lot or tid)


def sell(tid, account, date, security, quantity, proceeds, lot="", method=""):
    return Transaction(tid, account, day(date), "sell", security, D(quantity), D(proceeds), lot_id=lot, method=method)


def lot(result, account, lot_id):
    matches = [x for x in result.open_lots if x.account_id == account and x.lot_id == lot_id]
    assert len(matches) == 1, [(x.account_id, x.lot_id) for x in result.open_lots]
    return matches[0]


def realized(result, sale_id):
    rows = [r for r in result.realized if r.sale_transaction_id == sale_id]
    assert rows, f"no realized lot for {sale_id}"
    return rows
