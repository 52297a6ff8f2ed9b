"""Schwab-like "Core" files: comma-delimited records, no header row, CRSyymmdd.<ext>.

Modeled on Schwab Advisor Services' daily files (../shared/reference/custodian-formats.md): .ACC
account master, .SEC security/price, .RPS positions (reconciliation), .BAL cash balances, .ULT / .ULN
open tax lots of taxable / non-taxable accounts, .TRN transactions. Every record starts with its
business date (MM/DD/YYYY); numbers carry an explicit decimal point and a leading '-' when negative.
The firm's account id travels as the account's advisor reference on .ACC.
"""

from custodian.dialects.spec import TEXT_SIGN, Dialect, Field, RecordLayout

DATE = "%m/%d/%Y"
C = "schwab"


def _date(name, canonical=None, required=True, description=""):
    return Field(name, "date", date_format=DATE, canonical=canonical, required=required, description=description)


BUSINESS_DATE = _date("business_date", description="Business date of the file; the first record's must be the as-of date.")
ACCOUNT = Field("account_number", "text", description="8-digit Schwab account number, as delivered.")
SYMBOL = Field("symbol", "text", required=False)
CUSIP = Field("cusip", "text", description="Translated to security_id through the day's .SEC file.")
QTY = dict(decimals=6, sign=TEXT_SIGN)
USD = dict(decimals=2, sign=TEXT_SIGN)

TRANSACTION_CODES = (("BY", "buy"), ("SL", "sell"), ("DV", "dividend"), ("RI", "reinvest"),
                     ("CD", "deposit"), ("CW", "withdrawal"), ("FE", "fee"))

LOT_FIELDS = (
    BUSINESS_DATE, ACCOUNT,
    Field("lot_id", "text", canonical="lot_id"),
    SYMBOL, CUSIP,
    Field("quantity", "decimal", minimum=0.0, canonical="quantity", **QTY),
    Field("cost_basis", "decimal", minimum=0.0, canonical="cost_basis", description="Total USD, wash-sale adjusted.", **USD),
    _date("acquired_date", "acquired_date"),
    _date("adjusted_acquired_date", "adjusted_acquired_date"),
    Field("wash_sale_adjustment", "decimal", minimum=0.0, canonical="wash_sale_adjustment", **USD),
    Field("covered_code", "code", codes=(("Y", True), ("N", False)), canonical="covered"),
)

SCHWAB = Dialect(
    custodian=C,
    framing="delimited",
    delimiter=",",
    file_template="CRS{date}.{code}",
    name_pattern=r"^CRS(?P<date>\d{6})\.(?P<code>[A-Z]{3})$",
    date_in_name="%y%m%d",
    description="Schwab-like Core files: comma-delimited, one record per line, no header, CRSyymmdd.<ext>.",
    notes=(
        "No header or trailer record: a last line without a line end is a truncated file (that line is rejected).",
        "Every record starts with the business date; a file whose first record is for another date is rejected whole.",
        "A file in another delimiter (semicolon, tab, pipe) is rejected whole.",
    ),
    records=(
        RecordLayout(C, "accounts", "ACC", "Account master: account number and the advisor's reference.", (
            BUSINESS_DATE, ACCOUNT,
            Field("firm_reference", "text", description="The firm's account id (advisor reference on the account)."),
            Field("registration_code", "code", codes=(("IND", "individual"), ("JNT", "joint"), ("IRA", "traditional_ira"),
                                                     ("ROTH", "roth_ira"))),
            Field("tax_status", "code", codes=(("T", "taxable"), ("Q", "qualified"))),
        ), unique_key=("account_number",), security_field=None),
        RecordLayout(C, "securities", "SEC", "Security master with the day's closing price.", (
            BUSINESS_DATE,
            Field("symbol", "text"),
            CUSIP,
            Field("description", "text"),
            Field("security_type_code", "code", codes=(("CS", "equity"), ("ETF", "etf"), ("MF", "mutual_fund"))),
            Field("close_price", "decimal", decimals=4, positive=True, description="Closing price; must be > 0."),
        ), account_field=None, security_field=None, unique_key=("cusip",)),
        RecordLayout(C, "positions", "RPS", "Settled positions per account and security (reconciliation file).", (
            BUSINESS_DATE, ACCOUNT, SYMBOL, CUSIP,
            Field("quantity", "decimal", canonical="quantity", **QTY),
            Field("market_value", "decimal", description="Quantity x the .SEC close, USD.", **USD),
        ), entity="positions", unique_key=("account_number", "cusip")),
        RecordLayout(C, "balances", "BAL", "Cash balance per account (the canonical CASH position).", (
            BUSINESS_DATE, ACCOUNT,
            Field("cash_balance", "decimal", canonical="quantity", **USD),
        ), entity="positions", security_field=None, constants=(("security_id", "CASH"),), unique_key=("account_number",)),
        RecordLayout(C, "open_lots_taxable", "ULT", "Open tax lots of taxable accounts.", LOT_FIELDS,
                     entity="open_lots", unique_key=("lot_id",)),
        RecordLayout(C, "open_lots_nontaxable", "ULN", "Open tax lots of non-taxable (retirement) accounts.", LOT_FIELDS,
                     entity="open_lots", unique_key=("lot_id",)),
        RecordLayout(C, "transactions", "TRN", "Activity year to date.", (
            BUSINESS_DATE,
            Field("transaction_id", "text", canonical="transaction_id"),
            ACCOUNT,
            _date("trade_date", "trade_date"),
            _date("settle_date", "settle_date"),
            Field("transaction_code", "code", codes=TRANSACTION_CODES, canonical="transaction_type"),
            SYMBOL,
            Field("cusip", "text", required=False, description="Blank for cash-only activity."),
            Field("quantity", "decimal", required=False, canonical="quantity", **QTY),
            Field("price", "decimal", required=False, decimals=4, sign=TEXT_SIGN, canonical="price"),
            Field("amount", "decimal", canonical="amount", description="Signed cash effect, USD.", **USD),
            Field("lot_id", "text", required=False, canonical="lot_id"),
            Field("realized_gain", "decimal", required=False, canonical="realized_gain", **USD),
            Field("holding_term_code", "code", required=False, codes=(("S", "short"), ("L", "long")), canonical="holding_term"),
        ), entity="transactions", unique_key=("transaction_id",)),
    ),
)
