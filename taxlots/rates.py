"""Tax per household and year, from rate tables kept as data (the dbt seeds in transforms/seeds/).

Every table has an ``effective_tax_year``: a row applies from that year until a later row for the same
key; a year before the first row uses the earliest rows (docs/tax-conventions.md).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from taxlots.model import ZERO
from taxlots.netting import Netting, net_capital_gains

SEEDS_DIR = Path(__file__).resolve().parent.parent / "transforms" / "seeds"


@dataclass(frozen=True)
class Bracket:
    rate: Decimal
    floor: Decimal
    top: Decimal | None  # None: no top

    def portion(self, low: Decimal, high: Decimal) -> Decimal:
        """The part of [low, high) that falls inside this bracket."""
        top = high if self.top is None else min(high, self.top)
        return max(ZERO, top - max(low, self.floor))


def _dec(value: str) -> Decimal | None:
    return Decimal(value) if value not in ("", None) else None


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def effective_rows(rows: list[dict], year: int, **key) -> list[dict]:
    """The rows for ``key`` from the latest effective year <= ``year`` (else the earliest year)."""
    mine = [r for r in rows if all(r[k] == v for k, v in key.items())]
    if not mine:
        raise KeyError(f"no tax rates for {key}")
    years = sorted({int(r["effective_tax_year"]) for r in mine})
    chosen = max((y for y in years if y <= year), default=years[0])
    return [r for r in mine if int(r["effective_tax_year"]) == chosen]


@dataclass(frozen=True)
class RateTables:
    ordinary: list[dict] = field(repr=False)
    ltcg: list[dict] = field(repr=False)
    niit: list[dict] = field(repr=False)
    state: list[dict] = field(repr=False)

    @classmethod
    def from_seeds(cls, seeds_dir: Path | str | None = None) -> "RateTables":
        d = Path(seeds_dir) if seeds_dir else SEEDS_DIR
        return cls(
            ordinary=_read(d / "tax_federal_ordinary_brackets.csv"),
            ltcg=_read(d / "tax_federal_ltcg_brackets.csv"),
            niit=_read(d / "tax_niit_thresholds.csv"),
            state=_read(d / "tax_state_top_rates.csv"),
        )

    def _brackets(self, rows, year, filing_status) -> list[Bracket]:
        chosen = effective_rows(rows, year, filing_status=filing_status)
        return sorted((Bracket(Decimal(r["rate"]), Decimal(r["income_floor"]), _dec(r["income_top"])) for r in chosen),
                      key=lambda b: b.floor)

    def ordinary_brackets(self, year: int, filing_status: str) -> list[Bracket]:
        return self._brackets(self.ordinary, year, filing_status)

    def ltcg_bands(self, year: int, filing_status: str) -> list[Bracket]:
        return self._brackets(self.ltcg, year, filing_status)

    def niit_threshold(self, year: int, filing_status: str) -> tuple[Decimal, Decimal]:
        row = effective_rows(self.niit, year, filing_status=filing_status)[0]
        return Decimal(row["threshold"]), Decimal(row["rate"])

    def state_top_rate(self, year: int, state: str) -> Decimal:
        return Decimal(effective_rows(self.state, year, state=state.strip().upper())[0]["top_rate"])


def tax_on_ordinary_income(taxable_income: Decimal, brackets: list[Bracket]) -> Decimal:
    """Ordinary brackets: each rate on the income inside its bracket."""
    return sum((b.rate * b.portion(ZERO, Decimal(taxable_income)) for b in brackets), ZERO)


def tax_on_long_term_gains(ordinary_taxable_income: Decimal, long_term_gain: Decimal, bands: list[Bracket]) -> Decimal:
    """0/15/20% bands, the gain stacked on top of ordinary taxable income."""
    low = max(ZERO, Decimal(ordinary_taxable_income))
    high = low + max(ZERO, Decimal(long_term_gain))
    return sum((b.rate * b.portion(low, high) for b in bands), ZERO)


def net_investment_income_tax(magi: Decimal, net_investment_income: Decimal, threshold: Decimal,
                              rate: Decimal = Decimal("0.038")) -> Decimal:
    """IRC 1411: rate x the lesser of net investment income and MAGI over the threshold."""
    excess = max(ZERO, Decimal(magi) - threshold)
    return rate * max(ZERO, min(Decimal(net_investment_income), excess))


def bracket_rate_at(income: Decimal, brackets: list[Bracket]) -> Decimal:
    """The rate of the next dollar: brackets are half-open [floor, top)."""
    income = Decimal(income)
    for b in brackets:
        if income >= b.floor and (b.top is None or income < b.top):
            return b.rate
    return brackets[-1].rate


@dataclass(frozen=True)
class HouseholdYear:
    year: int
    filing_status: str
    state: str
    ordinary_income: Decimal  # taxable ordinary income before capital gains (also stands in for MAGI)
    short_term_gain: Decimal = ZERO  # net reportable ST gain of the year (losses negative)
    long_term_gain: Decimal = ZERO
    carryforward_short_term: Decimal = ZERO  # losses carried in, positive
    carryforward_long_term: Decimal = ZERO
    other_investment_income: Decimal = ZERO  # interest, dividends: already in ordinary_income, counted for NIIT


@dataclass(frozen=True)
class TaxEstimate:
    household: HouseholdYear
    netting: Netting
    ordinary_taxable_income: Decimal
    federal_ordinary_tax: Decimal
    federal_long_term_tax: Decimal
    niit: Decimal
    state_tax: Decimal
    total_tax: Decimal
    capital_gains_tax: Decimal  # total tax minus the tax with no gains this year (carryforwards kept)

    def as_dict(self) -> dict:
        n = self.netting
        return {
            "year": self.household.year, "filing_status": self.household.filing_status,
            "state": self.household.state, "ordinary_income": self.household.ordinary_income,
            "short_term_gain": self.household.short_term_gain, "long_term_gain": self.household.long_term_gain,
            "taxable_short_term": n.taxable_short_term, "taxable_long_term": n.taxable_long_term,
            "ordinary_offset": n.ordinary_offset, "carryforward_short_term": n.carryforward_short_term,
            "carryforward_long_term": n.carryforward_long_term,
            "ordinary_taxable_income": self.ordinary_taxable_income,
            "federal_ordinary_tax": self.federal_ordinary_tax, "federal_long_term_tax": self.federal_long_term_tax,
            "niit": self.niit, "state_tax": self.state_tax, "total_tax": self.total_tax,
            "capital_gains_tax": self.capital_gains_tax,
        }


def _tax(tables: RateTables, h: HouseholdYear) -> tuple[Netting, Decimal, Decimal, Decimal, Decimal, Decimal]:
    n = net_capital_gains(h.short_term_gain, h.long_term_gain, h.filing_status,
                          h.carryforward_short_term, h.carryforward_long_term)
    ordinary_taxable = max(ZERO, Decimal(h.ordinary_income) + n.taxable_short_term - n.ordinary_offset)
    ordinary_tax = tax_on_ordinary_income(ordinary_taxable, tables.ordinary_brackets(h.year, h.filing_status))
    lt_tax = tax_on_long_term_gains(ordinary_taxable, n.taxable_long_term, tables.ltcg_bands(h.year, h.filing_status))
    threshold, rate = tables.niit_threshold(h.year, h.filing_status)
    gains = n.taxable_short_term + n.taxable_long_term - n.ordinary_offset
    magi = Decimal(h.ordinary_income) + gains
    niit = net_investment_income_tax(magi, Decimal(h.other_investment_income) + gains, threshold, rate)
    state = tables.state_top_rate(h.year, h.state) * (ordinary_taxable + n.taxable_long_term)
    return n, ordinary_taxable, ordinary_tax, lt_tax, niit, state


def estimate_household_tax(tables: RateTables, h: HouseholdYear) -> TaxEstimate:
    """Federal ordinary + long-term + NIIT + state (top rate) for a household and year."""
    n, ordinary_taxable, ordinary_tax, lt_tax, niit, state = _tax(tables, h)
    total = ordinary_tax + lt_tax + niit + state
    base = _tax(tables, HouseholdYear(h.year, h.filing_status, h.state, h.ordinary_income, ZERO, ZERO,
                                      h.carryforward_short_term, h.carryforward_long_term,
                                      h.other_investment_income))
    return TaxEstimate(h, n, ordinary_taxable, ordinary_tax, lt_tax, niit, state, total,
                       capital_gains_tax=total - sum(base[2:], ZERO))


@dataclass(frozen=True)
class MarginalRates:
    federal_short_term: Decimal
    federal_long_term: Decimal
    niit: Decimal
    state: Decimal

    @property
    def short_term(self) -> Decimal:
        return self.federal_short_term + self.niit + self.state

    @property
    def long_term(self) -> Decimal:
        return self.federal_long_term + self.niit + self.state


def marginal_rates(tables: RateTables, year: int, filing_status: str, state: str, ordinary_income: Decimal) -> MarginalRates:
    """The optimizer's rates for the next dollar of gain, as dim_households computes them: the bracket
    and band containing ordinary income, NIIT when income is above the threshold, the state's top rate."""
    threshold, rate = tables.niit_threshold(year, filing_status)
    return MarginalRates(
        federal_short_term=bracket_rate_at(ordinary_income, tables.ordinary_brackets(year, filing_status)),
        federal_long_term=bracket_rate_at(ordinary_income, tables.ltcg_bands(year, filing_status)),
        niit=rate if Decimal(ordinary_income) > threshold else ZERO,
        state=tables.state_top_rate(year, state),
    )
