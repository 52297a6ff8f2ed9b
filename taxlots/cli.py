"""`sleeveless tax replay` and `sleeveless tax estimate` (wired into sleeveless/cli.py)."""

from __future__ import annotations

import argparse
import csv
import json
from decimal import Decimal
from pathlib import Path

from taxlots.csvio import OPEN_LOT_COLUMNS, REALIZED_COLUMNS, open_lot_row, read_securities, read_transactions, \
    realized_row, write_replay
from taxlots.model import ZERO
from taxlots.rates import HouseholdYear, RateTables, estimate_household_tax, marginal_rates
from taxlots.views import replay_both_views


def add_tax_parser(sub) -> None:
    tax = sub.add_parser("tax", help="tax-lot engine: replay a history into lots; estimate a household's tax")
    tax_sub = tax.add_subparsers(dest="tax_command", required=True)
    r = tax_sub.add_parser("replay", help="replay transactions into open and realized lots (docs/tax-engine.md)")
    r.add_argument("transactions", help="transactions CSV")
    r.add_argument("--securities", help="security master CSV (security_id, identical_group, security_type)")
    r.add_argument("--out", help="folder for the CSV outputs (default: <transactions>_replay next to the input)")
    e = tax_sub.add_parser("estimate", help="a household's tax for a year from realized gains and income")
    e.add_argument("--year", type=int, required=True)
    e.add_argument("--filing-status", required=True,
                   choices=("single", "married_joint", "married_separate", "head_of_household"))
    e.add_argument("--state", required=True, help="two-letter state of residence")
    e.add_argument("--ordinary-income", type=Decimal, required=True, help="taxable ordinary income, USD")
    e.add_argument("--realized", help="realized_lots.csv from `tax replay` (gains of --year, taxable accounts)")
    e.add_argument("--short-term", type=Decimal, default=ZERO, help="net short-term gain, added to --realized")
    e.add_argument("--long-term", type=Decimal, default=ZERO, help="net long-term gain, added to --realized")
    e.add_argument("--carryforward-short-term", type=Decimal, default=ZERO, help="ST loss carried in (positive)")
    e.add_argument("--carryforward-long-term", type=Decimal, default=ZERO, help="LT loss carried in (positive)")
    e.add_argument("--investment-income", type=Decimal, default=ZERO,
                   help="interest and dividends inside --ordinary-income, for NIIT")
    e.add_argument("--seeds", help="folder with the tax rate CSVs (default: transforms/seeds)")


def _table(title: str, columns, rows: list[dict]) -> None:
    print(f"\n{title} ({len(rows)})")
    if not rows:
        return
    widths = {c: max(len(c), *(len(row[c]) for row in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(row[c].ljust(widths[c]) for c in columns))


def cmd_replay(args) -> int:
    transactions, accounts = read_transactions(args.transactions)
    securities = read_securities(args.securities) if args.securities else {}
    household, custodian, differences = replay_both_views(transactions, accounts, securities)
    source = Path(args.transactions)
    out = Path(args.out) if args.out else source.with_name(f"{source.stem}_replay")
    shown_open = [c for c in OPEN_LOT_COLUMNS if c not in ("root_lot_id", "origin")]
    shown_realized = [c for c in REALIZED_COLUMNS if c not in ("taxable", "permanently_disallowed")]
    _table("Open lots", shown_open, [open_lot_row(lot) for lot in household.open_lots])
    _table("Realized lots", shown_realized, [realized_row(r) for r in household.realized])
    print(f"\nHousehold view vs custodian view: {len(differences)} difference(s)")
    for d in differences:
        print(f"  {d.kind} {d.account_id} {d.lot_id} {d.sale_transaction_id}: household {d.household:.2f}, "
              f"custodian {d.custodian:.2f} ({d.reason})")
    paths = write_replay(out, household, custodian, differences)
    print("\nWrote " + ", ".join(str(p) for p in paths))
    return 0


def _realized_gains(path: str, year: int) -> tuple[Decimal, Decimal]:
    st = lt = ZERO
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["taxable"] == "true" and row["sale_date"][:4] == str(year):
                if row["term"] == "short":
                    st += Decimal(row["reportable_gain"])
                else:
                    lt += Decimal(row["reportable_gain"])
    return st, lt


def cmd_estimate(args) -> int:
    tables = RateTables.from_seeds(args.seeds)
    st, lt = _realized_gains(args.realized, args.year) if args.realized else (ZERO, ZERO)
    household = HouseholdYear(args.year, args.filing_status, args.state.upper(), args.ordinary_income,
                              st + args.short_term, lt + args.long_term, args.carryforward_short_term,
                              args.carryforward_long_term, args.investment_income)
    estimate = estimate_household_tax(tables, household)
    rates = marginal_rates(tables, args.year, args.filing_status, args.state, args.ordinary_income)
    result = {k: (f"{v.quantize(Decimal('0.01'))}" if isinstance(v, Decimal) else v)
              for k, v in estimate.as_dict().items()}
    result["marginal_short_term_rate"] = f"{rates.short_term}"
    result["marginal_long_term_rate"] = f"{rates.long_term}"
    print(json.dumps(result, indent=2))
    return 0


def cmd_tax(args: argparse.Namespace) -> int:
    return {"replay": cmd_replay, "estimate": cmd_estimate}[args.tax_command](args)
