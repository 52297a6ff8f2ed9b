"""Charitable gifts of appreciated stock (IRC 170(e)): long-term lots are deducted at fair market value and
their embedded gain is never taxed; lots held one year or less are deducted at basis only."""

from __future__ import annotations

from decimal import Decimal

from taxlots.model import ZERO


def charitable_deduction(fmv: Decimal, basis: Decimal, term: str) -> Decimal:
    """FMV for a long-term lot; the lesser of basis and FMV for a short-term one."""
    return Decimal(fmv) if term == "long" else min(Decimal(basis), Decimal(fmv))


def gain_tax_avoided(fmv: Decimal, basis: Decimal, term: str, long_term_rate: Decimal) -> Decimal:
    """Tax the donor never pays on the embedded gain of a long-term lot (0 for short-term lots)."""
    if term != "long":
        return ZERO
    return max(ZERO, Decimal(fmv) - Decimal(basis)) * Decimal(long_term_rate)
