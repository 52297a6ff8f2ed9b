"""The simulated account's tax lots, kept by the production tax-lot engine (taxlots).

The engine's replay is a fold over transactions (`taxlots.replay._Book.apply`); re-running
`taxlots.replay` over the whole history every day would cost O(days^2), so the book keeps one
engine `_Book` and applies each day's trades to it, in the engine's canonical order. That is the
same code path `replay` runs; `validate_against_replay` replays the final trade log from scratch
through `taxlots.replay` and checks every realized lot matches (the backtest does it at the end of
every run with the wash-sale rule on).

Wash-sale rule off: the engine has no switch for it, so this book's `_Book` is built with
`look_for_replacements` made a no-op (a loss sale never waits for replacement shares). Basis and
holding periods are then exactly those of the trades, as if IRC 1091 did not exist.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np

from taxlots import Account, RealizedLot, Security, Transaction, replay
from taxlots.holding import long_term_date
from taxlots.replay import _Book, canonical_order

HOUSEHOLD = "BT"


def shares(x: float) -> Decimal:
    return Decimal(f"{x:.4f}")


def money(x: float) -> Decimal:
    return Decimal(f"{x:.6f}")


def fast_book(accounts, securities) -> _Book:
    """An engine `_Book` with a memo of the wash-sale scope key (a pure function of account and
    security; 4.4M calls on a 500-name year). The engine itself now removes relieved lots by
    identity (commit b9d8183); before that, `list.remove` compared Lot dataclasses field by
    field against every open lot, a quarter of a 500-name backtest."""
    book = _Book(accounts, securities, "household")
    scope_key = book.key
    memo: dict = {}

    def key(account_id, security_id):
        k = (account_id, security_id)
        if k not in memo:
            memo[k] = scope_key(account_id, security_id)
        return memo[k]

    book.key = key
    return book


class LotBook:
    """Open and realized lots of the simulated household, through the tax-lot engine."""

    def __init__(self, account_ids, securities: dict[str, Security], wash_sale_rule: bool = True):
        self.accounts = {a: Account(a, "individual", HOUSEHOLD) for a in account_ids}
        self.securities = securities
        self.wash_sale_rule = wash_sale_rule
        self._book = fast_book(self.accounts, securities)
        if not wash_sale_rule:
            self._book.look_for_replacements = lambda *args, **kwargs: None
        self.transactions: list[Transaction] = []
        self._seq = 0

    # -- trades ----------------------------------------------------------------------------------
    def next_id(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}{self._seq:07d}"

    def buy(self, day: dt.date, account_id: str, security_id: str, quantity: float, cost: float) -> Transaction:
        tid = self.next_id("B")
        return Transaction(tid, account_id, day, "buy", security_id, shares(quantity), money(cost), lot_id=tid)

    def sell(self, day: dt.date, account_id: str, security_id: str, quantity: float, proceeds: float,
             lot_id: str = "") -> Transaction:
        return Transaction(self.next_id("S"), account_id, day, "sell", security_id, shares(quantity), money(proceeds),
                           lot_id=lot_id, method="spec" if lot_id else "fifo")

    def apply_day(self, transactions: list[Transaction]) -> list[RealizedLot]:
        """Apply one day's trades (the engine's canonical order: buys before sells); return the
        realized lots they created."""
        before = len(self._book.realized)
        for t in canonical_order(transactions):
            self._book.apply(t)
            self.transactions.append(t)
        return self._book.realized[before:]

    # -- views -----------------------------------------------------------------------------------
    @property
    def realized(self) -> list[RealizedLot]:
        return self._book.realized

    def open_lots(self):
        return [lot for lot in self._book.lots if lot.quantity > 0]

    def lot_arrays(self, ticker_index: dict[str, int]) -> dict[str, np.ndarray]:
        """Open lots as float arrays (for the optimizer problem and valuation)."""
        lots = sorted(self.open_lots(), key=lambda lot: (lot.account_id, lot.security_id, lot.lot_id))
        n = len(lots)
        out = dict(
            lot_id=np.array([lot.lot_id for lot in lots], dtype=object),
            account=np.array([lot.account_id for lot in lots], dtype=object),
            security=np.fromiter((ticker_index[lot.security_id] for lot in lots), dtype=np.int64, count=n),
            quantity=np.fromiter((float(lot.quantity) for lot in lots), dtype=float, count=n),
            basis=np.fromiter((float(lot.basis) for lot in lots), dtype=float, count=n),
            acquired=np.array([lot.acquired_date for lot in lots], dtype="datetime64[D]"),
            long_term=np.array([long_term_date(lot.adjusted_acquired_date) for lot in lots], dtype="datetime64[D]"),
            always_long=np.array([lot.always_long_term for lot in lots], dtype=bool),
            purchase=np.array([lot.purchase_date or lot.acquired_date for lot in lots], dtype="datetime64[D]"),
        )
        return out

    def validate_against_replay(self, full: bool = True) -> int:
        """Replay the whole trade log from scratch and check the realized lots match the
        incremental book (gain, disallowed loss, term). `full`: through `taxlots.replay` itself;
        otherwise through a fresh `fast_book` (the same engine fold with the key memo).
        Returns the number of realized lots compared."""
        if not self.wash_sale_rule:
            raise ValueError("the engine's replay always applies the wash-sale rule")
        if full:
            fresh = replay(self.transactions, self.accounts, self.securities).realized
        else:
            book = fast_book(self.accounts, self.securities)
            for t in canonical_order(self.transactions):
                book.apply(t)
            fresh = book.realized
        mine = self._book.realized
        if len(fresh) != len(mine):
            raise AssertionError(f"replay has {len(fresh)} realized lots, the incremental book {len(mine)}")
        for a, b in zip(fresh, mine):
            if (a.sale_transaction_id, a.lot_id, a.gain, a.disallowed_loss, a.term) != (
                    b.sale_transaction_id, b.lot_id, b.gain, b.disallowed_loss, b.term):
                raise AssertionError(f"realized lot differs: replay {a} vs incremental {b}")
        return len(mine)
