"""Pershing-like NetX360 standard files: fixed width (750 bytes), BOF header, EOF trailer.

Modeled on Pershing's standard file layouts (../shared/reference/custodian-formats.md). Header
``BOF      PERSHING <code> <title> DATA OF MM/DD/CCYY`` (last byte A), trailer
``EOF      PERSHING <code> TOTAL DETAIL RECORDS: nnnnnnnnnn`` (last byte Z); the count must match.
Each detail record starts with a 2-character transaction code, the record indicator A and an
8-digit sequence number, and ends with X. Numbers are digits with implied decimals followed by a
sign byte ('+', '-' or blank); dates CCYYMMDD. Account numbers are composite: office (3) + base (5)
+ check digit (1) + type (1), kept as delivered. GCUS follows the published offsets: account
[11,21), CUSIP [21,30), trade-date quantity [73,91) sign 91, settlement-date quantity [92,110)
sign 110, symbol [434,443), market value [664,682) sign 682.
"""

import pandas as pd

from custodian.dialects.spec import SIGN_BYTE, Dialect, Field, RecordLayout

C = "pershing"
WIDTH = 750


def check_digit(office: str, base: str) -> str:
    """Luhn check digit over the office and base of a composite account number (letters count by ord % 10)."""
    digits = [int(ch) if ch.isdigit() else ord(ch) % 10 for ch in office + base]
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def valid_account_numbers(numbers: pd.Series) -> pd.Series:
    """Composite numbers of 10 characters whose check digit (byte 8) matches office + base."""
    def valid(number: str) -> bool:
        return (len(number) == 10 and number[3:8].isdigit() and number[8].isdigit()
                and check_digit(number[:3], number[3:8]) == number[8])
    return numbers.map(valid)


def _account():
    return Field("account_number", "text", start=11, width=10,
                 check=(valid_account_numbers, "check digit does not match office + base (Luhn)"),
                 description="Composite: office (3) + base (5) + check digit (1, Luhn) + type (1).")


def _signed(name, start, width, decimals, canonical=None, **kw):
    return Field(name, "decimal", start=start, width=width, decimals=decimals, sign=SIGN_BYTE, canonical=canonical, **kw)


def _date(name, start, canonical=None, required=True):
    return Field(name, "date", start=start, width=8, canonical=canonical, required=required)


TRANSACTION_CODES = (("BUY", "buy"), ("SEL", "sell"), ("DIV", "dividend"), ("DRP", "reinvest"),
                     ("DEP", "deposit"), ("WDL", "withdrawal"), ("FEE", "fee"))

PERSHING = Dialect(
    custodian=C,
    framing="bof_eof",
    record_width=WIDTH,
    file_template="PSH_{code}_{date}.DAT",
    name_pattern=r"^PSH_(?P<code>[A-Z]{4})_(?P<date>\d{8})\.DAT$",
    description="Pershing-like standard files: fixed width (750 bytes), BOF/EOF, sign bytes, implied decimals.",
    notes=(
        "BOF record: `BOF      PERSHING ` at [0,18), file code at [18,22), title, `DATA OF MM/DD/CCYY`; last byte A.",
        "EOF record: `EOF      PERSHING `, file code, `TOTAL DETAIL RECORDS: ` and a 10-digit count; last byte Z.",
        "Detail records: transaction code at [0,2), record indicator A at 2, sequence number at [3,11), last byte X.",
        "A file without an EOF record (truncated), an EOF count other than the detail records read, or a BOF "
        "for another file or date is rejected whole; a detail record of another width or last byte is rejected.",
    ),
    records=(
        RecordLayout(C, "accounts", "ACCT", "Account master.", (
            _account(),
            Field("firm_reference", "text", start=21, width=20, description="The firm's account id (short name)."),
            Field("registration_code", "code", start=41, width=3,
                  codes=(("IND", "individual"), ("JTW", "joint"), ("TRD", "traditional_ira"), ("RTH", "roth_ira"))),
            Field("tax_code", "code", start=44, width=1, codes=(("T", "taxable"), ("Q", "qualified"))),
        ), unique_key=("account_number",), security_field=None),
        RecordLayout(C, "securities", "ISCA", "Security master with closing price.", (
            Field("cusip", "text", start=11, width=9),
            Field("symbol", "text", start=20, width=9),
            Field("description", "text", start=29, width=50),
            Field("security_type_code", "code", start=79, width=1, codes=(("1", "equity"), ("2", "etf"), ("3", "mutual_fund"))),
            Field("close_price", "decimal", start=80, width=18, decimals=4, positive=True, description="Must be > 0."),
            _date("price_date", 98),
        ), account_field=None, security_field=None, unique_key=("cusip",)),
        RecordLayout(C, "positions", "GCUS", "Positions: trade-date and settlement-date quantities, market value.", (
            _account(),
            Field("cusip", "text", start=21, width=9),
            _signed("trade_date_quantity", 73, 18, 6),
            _signed("settlement_date_quantity", 92, 18, 6, canonical="quantity"),
            Field("symbol", "text", start=434, width=9, required=False),
            _signed("market_value", 664, 18, 2),
        ), entity="positions", unique_key=("account_number", "cusip")),
        RecordLayout(C, "balances", "GMNY", "Money balances: the canonical CASH position.", (
            _account(),
            _signed("cash_balance", 21, 18, 2, canonical="quantity"),
        ), entity="positions", security_field=None, constants=(("security_id", "CASH"),), unique_key=("account_number",)),
        RecordLayout(C, "open_lots", "GLOT", "Open tax lots (cost basis, wash-sale adjusted).", (
            _account(),
            Field("cusip", "text", start=21, width=9),
            Field("lot_id", "text", start=30, width=20, canonical="lot_id"),
            _signed("quantity", 50, 18, 6, canonical="quantity", minimum=0.0),
            _signed("cost_basis", 69, 18, 2, canonical="cost_basis", minimum=0.0),
            _date("acquired_date", 88, "acquired_date"),
            _date("adjusted_acquired_date", 96, "adjusted_acquired_date"),
            _signed("wash_sale_adjustment", 104, 18, 2, canonical="wash_sale_adjustment", minimum=0.0),
            Field("covered_code", "code", start=123, width=1, codes=(("Y", True), ("N", False)), canonical="covered"),
        ), entity="open_lots", unique_key=("lot_id",)),
        RecordLayout(C, "transactions", "GACT", "Activity year to date.", (
            _account(),
            Field("transaction_id", "text", start=21, width=20, canonical="transaction_id"),
            _date("trade_date", 41, "trade_date"),
            _date("settle_date", 49, "settle_date"),
            Field("transaction_code", "code", start=57, width=3, codes=TRANSACTION_CODES, canonical="transaction_type"),
            Field("cusip", "text", start=60, width=9, required=False),
            _signed("quantity", 69, 18, 6, canonical="quantity", required=False),
            Field("price", "decimal", start=88, width=18, decimals=4, canonical="price", required=False),
            _signed("amount", 106, 18, 2, canonical="amount"),
            Field("lot_id", "text", start=125, width=20, canonical="lot_id", required=False),
            _signed("realized_gain", 145, 18, 2, canonical="realized_gain", required=False),
            Field("holding_term_code", "code", start=164, width=1, codes=(("S", "short"), ("L", "long")),
                  canonical="holding_term", required=False),
        ), entity="transactions", unique_key=("transaction_id",)),
    ),
)

