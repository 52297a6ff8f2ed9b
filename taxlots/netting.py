"""Netting of capital gains and losses, the ordinary offset and carryforwards (IRC 1211(b), 1212(b), Sch. D)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

from taxlots.model import ZERO, RealizedLot

ORDINARY_OFFSET_LIMIT = {"married_separate": Decimal(1500)}
DEFAULT_ORDINARY_OFFSET_LIMIT = Decimal(3000)


def ordinary_offset_limit(filing_status: str) -> Decimal:
    """$3,000 of ordinary income a net capital loss may offset; $1,500 married filing separately."""
    return ORDINARY_OFFSET_LIMIT.get(filing_status, DEFAULT_ORDINARY_OFFSET_LIMIT)


@dataclass(frozen=True)
class Netting:
    short_term: Decimal  # this year's ST net (carryforward included), before cross-netting
    long_term: Decimal
    taxable_short_term: Decimal  # net ST gain taxed as ordinary income
    taxable_long_term: Decimal  # net capital gain taxed at the 0/15/20% rates
    ordinary_offset: Decimal  # net capital loss deducted from ordinary income
    offset_from_short_term: Decimal
    offset_from_long_term: Decimal
    carryforward_short_term: Decimal  # positive amounts of loss carried to next year
    carryforward_long_term: Decimal

    @property
    def net(self) -> Decimal:
        return self.short_term + self.long_term


def net_capital_gains(short_term: Decimal, long_term: Decimal, filing_status: str = "single",
                      carryforward_short_term: Decimal = ZERO, carryforward_long_term: Decimal = ZERO) -> Netting:
    """ST against ST and LT against LT (carryforwards keep their character), then the two results against
    each other; a net loss offsets up to the limit of ordinary income, ST loss first, the rest carries."""
    st = Decimal(short_term) - Decimal(carryforward_short_term)
    lt = Decimal(long_term) - Decimal(carryforward_long_term)
    limit = ordinary_offset_limit(filing_status)
    taxable_st = taxable_lt = ZERO
    st_loss = lt_loss = ZERO
    if st >= 0 and lt >= 0:
        taxable_st, taxable_lt = st, lt
    elif st < 0 and lt < 0:
        st_loss, lt_loss = -st, -lt
    elif st < 0:  # ST loss against LT gain
        if st + lt >= 0:
            taxable_lt = st + lt
        else:
            st_loss = -(st + lt)
    else:  # LT loss against ST gain
        if st + lt >= 0:
            taxable_st = st + lt
        else:
            lt_loss = -(st + lt)
    offset_st = min(st_loss, limit)
    offset_lt = min(lt_loss, limit - offset_st)
    return Netting(
        short_term=st, long_term=lt, taxable_short_term=taxable_st, taxable_long_term=taxable_lt,
        ordinary_offset=offset_st + offset_lt, offset_from_short_term=offset_st, offset_from_long_term=offset_lt,
        carryforward_short_term=st_loss - offset_st, carryforward_long_term=lt_loss - offset_lt,
    )


def realized_by_term(realized: Iterable[RealizedLot], year: int) -> tuple[Decimal, Decimal]:
    """Schedule D inputs of a year: reportable gains of taxable accounts (disallowed losses excluded)."""
    st = lt = ZERO
    for r in realized:
        if r.taxable and r.sale_date.year == year:
            if r.term == "short":
                st += r.reportable_gain
            else:
                lt += r.reportable_gain
    return st, lt
