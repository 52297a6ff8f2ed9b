"""Lot relief: which open lots a sale takes, by method (Reg. 1.1012-1(c); average cost 1.1012-1(e))."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from taxlots.holding import holding_term
from taxlots.model import Lot


def fifo_order(lots: list[Lot]) -> list[Lot]:
    """First in, first out: oldest acquisition first (the default when lots are not identified)."""
    return sorted(lots, key=lambda lot: (lot.acquired_date, lot.seq, lot.lot_id))


def lifo_order(lots: list[Lot]) -> list[Lot]:
    """Last in, first out."""
    return sorted(lots, key=lambda lot: (lot.acquired_date, lot.seq, lot.lot_id), reverse=True)


def hifo_order(lots: list[Lot]) -> list[Lot]:
    """Highest basis per share first; FIFO among equals."""
    return sorted(fifo_order(lots), key=lambda lot: -lot.basis_per_share)


def tax_min_order(lots: list[Lot], price: Decimal, sale_date: dt.date) -> list[Lot]:
    """Schwab Tax Lot Optimizer order: ST losses (largest first), LT losses (largest first), ST at zero
    gain, LT at zero gain, LT gains (smallest first), ST gains (smallest first); per share, FIFO on ties."""

    def key(lot: Lot):
        gain = price - lot.basis_per_share
        short = holding_term(lot.adjusted_acquired_date, sale_date, lot.always_long_term) == "short"
        if gain < 0:
            return (0 if short else 1, gain)
        if gain == 0:
            return (2 if short else 3, gain)
        return (5 if short else 4, gain)

    return sorted(fifo_order(lots), key=key)


def relief_order(method: str, lots: list[Lot], price: Decimal, sale_date: dt.date) -> list[Lot]:
    if method in ("fifo", "average"):
        return fifo_order(lots)
    if method == "lifo":
        return lifo_order(lots)
    if method == "hifo":
        return hifo_order(lots)
    if method == "tax_min":
        return tax_min_order(lots, price, sale_date)
    raise ValueError(f"unknown relief method {method!r}")


def average_basis(lots: list[Lot]) -> None:
    """Average cost (mutual funds): every share in the account's pool carries the pool's average basis.
    Total basis is conserved exactly (the last lot takes the rounding remainder)."""
    quantity = sum((lot.quantity for lot in lots), Decimal(0))
    if not quantity:
        return
    total = sum((lot.basis for lot in lots), Decimal(0))
    adjustment = sum((lot.wash_sale_adjustment for lot in lots), Decimal(0))
    left, left_adj = total, adjustment
    for i, lot in enumerate(lots):
        if i == len(lots) - 1:
            lot.basis, lot.wash_sale_adjustment = left, left_adj
        else:
            lot.basis = total * lot.quantity / quantity
            lot.wash_sale_adjustment = adjustment * lot.quantity / quantity
            left -= lot.basis
            left_adj -= lot.wash_sale_adjustment
