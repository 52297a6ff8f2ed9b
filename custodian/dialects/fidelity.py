"""Fidelity-like Wealthscape files: fixed width, H header / D detail / T trailer records.

Modeled on Wealthscape data feeds (../shared/reference/custodian-formats.md): ``###_*_<FILE>_<CCYYMMDD>.DAT``
streams NABASE (accounts), SECPRCD (security/price), POSITD (positions), ACCTBALD (balances),
TLAOPENFULL (open lots, weekly full; delivered daily here) and TRANSD (transactions). Every record is
200 bytes: the H record names the stream and the as-of date (CCYYMMDD), the T record the number of
D records. Numbers are digits with implied decimals and a leading sign byte ('+' or '-'); dates CCYYMMDD.
The TLAOPENFULL cost is unadjusted for wash sales: the canonical cost_basis is cost + wash_sale_adjustment.
Offsets below are 0-based; byte 0 of a detail record is 'D'.
"""

from custodian.dialects.spec import LEADING, Dialect, Field, RecordLayout

C = "fidelity"
WIDTH = 200


def _date(name, start, canonical=None, required=True, description=""):
    return Field(name, "date", start=start, width=8, canonical=canonical, required=required, description=description)


def _account(start=1):
    return Field("account_number", "text", start=start, width=9, description="9-character Fidelity account number.")


def _signed(name, start, width, decimals, canonical=None, **kw):
    return Field(name, "decimal", start=start, width=width, decimals=decimals, sign=LEADING, canonical=canonical, **kw)


TRANSACTION_CODES = (("BY", "buy"), ("SL", "sell"), ("DV", "dividend"), ("RD", "reinvest"),
                     ("DP", "deposit"), ("WD", "withdrawal"), ("FE", "fee"))

FIDELITY = Dialect(
    custodian=C,
    framing="htd",
    record_width=WIDTH,
    file_template="001_SLV_{code}_{date}.DAT",
    name_pattern=r"^\d{3}_[A-Za-z0-9]+_(?P<code>[A-Z]+)_(?P<date>\d{8})\.DAT$",
    description="Fidelity-like Wealthscape streams: fixed width (200 bytes), H header, D details, T trailer.",
    notes=(
        "H record: byte 0 'H', stream name at [1,21), as-of date CCYYMMDD at [21,29), custodian at [29,41).",
        "T record: byte 0 'T', stream name at [1,21), detail count (10 digits) at [21,31).",
        "A file without a T record (truncated), a T count other than the D records read, or an H record "
        "for another stream or date is rejected whole; a D record of another width is rejected.",
    ),
    records=(
        RecordLayout(C, "accounts", "NABASE", "Account base: account number and the advisor's reference.", (
            _account(),
            Field("firm_reference", "text", start=10, width=20, description="The firm's account id."),
            Field("registration_code", "code", start=30, width=4,
                  codes=(("INDV", "individual"), ("JTWR", "joint"), ("IRA", "traditional_ira"), ("ROTH", "roth_ira"))),
            Field("tax_status", "code", start=34, width=1, codes=(("T", "taxable"), ("R", "retirement"))),
        ), unique_key=("account_number",), security_field=None),
        RecordLayout(C, "securities", "SECPRCD", "Security master with closing price.", (
            Field("cusip", "text", start=1, width=9),
            Field("symbol", "text", start=10, width=12),
            Field("description", "text", start=22, width=50),
            Field("security_type_code", "code", start=72, width=2, codes=(("CS", "equity"), ("ET", "etf"), ("MF", "mutual_fund"))),
            Field("close_price", "decimal", start=74, width=15, decimals=4, positive=True, description="Must be > 0."),
            _date("price_date", 89),
        ), account_field=None, security_field=None, unique_key=("cusip",)),
        RecordLayout(C, "positions", "POSITD", "Positions (settled) per account and security.", (
            _account(),
            Field("cusip", "text", start=10, width=9),
            Field("long_short_code", "code", start=19, width=1, codes=(("L", "long"), ("S", "short"))),
            _signed("quantity", 20, 20, 6, canonical="quantity"),
            Field("closing_market_price", "decimal", start=40, width=15, decimals=4),
            _signed("market_value", 55, 20, 2),
        ), entity="positions", unique_key=("account_number", "cusip")),
        RecordLayout(C, "balances", "ACCTBALD", "Account balances: the core cash (canonical CASH position).", (
            _account(),
            _signed("cash_balance", 10, 18, 2, canonical="quantity"),
            _signed("total_market_value", 28, 20, 2, required=False),
        ), entity="positions", security_field=None, constants=(("security_id", "CASH"),), unique_key=("account_number",)),
        RecordLayout(C, "open_lots", "TLAOPENFULL", "Open tax lots, full file.", (
            _account(),
            Field("cusip", "text", start=10, width=9),
            Field("open_lot_identifier", "text", start=19, width=20, canonical="lot_id"),
            Field("long_short_code", "code", start=39, width=1, codes=(("L", "long"), ("S", "short"))),
            _signed("lot_quantity", 40, 20, 6, canonical="quantity", minimum=0.0),
            _signed("cost", 60, 18, 2, minimum=0.0, description="Unadjusted for wash sales."),
            _date("acquired_trade_date", 78, "acquired_date"),
            _date("acquired_settlement_date", 86, required=False),
            _date("adjusted_acquired_date", 94, "adjusted_acquired_date"),
            Field("wash_sale_indicator", "code", start=102, width=1, codes=(("W", "wash sale"), ("N", "none"))),
            _signed("wash_sale_adjustment", 103, 18, 2, canonical="wash_sale_adjustment", minimum=0.0),
            Field("covered_code", "code", start=121, width=1, codes=(("C", True), ("N", False)), canonical="covered"),
        ), entity="open_lots", unique_key=("open_lot_identifier",),
            derived=(("cost_basis", ("cost", "wash_sale_adjustment")),)),
        RecordLayout(C, "transactions", "TRANSD", "Activity year to date.", (
            _account(),
            Field("transaction_id", "text", start=10, width=20, canonical="transaction_id"),
            _date("trade_date", 30, "trade_date"),
            _date("settle_date", 38, "settle_date"),
            Field("transaction_code", "code", start=46, width=2, codes=TRANSACTION_CODES, canonical="transaction_type"),
            Field("cusip", "text", start=48, width=9, required=False),
            _signed("quantity", 57, 20, 6, canonical="quantity", required=False),
            Field("price", "decimal", start=77, width=15, decimals=4, canonical="price", required=False),
            _signed("amount", 92, 18, 2, canonical="amount"),
            Field("lot_id", "text", start=110, width=20, canonical="lot_id", required=False),
            _signed("realized_gain", 130, 18, 2, canonical="realized_gain", required=False),
            Field("holding_term_code", "code", start=148, width=1, codes=(("S", "short"), ("L", "long")),
                  canonical="holding_term", required=False),
        ), entity="transactions", unique_key=("transaction_id",)),
    ),
)
