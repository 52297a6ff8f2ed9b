"""The canonical custodian file layout: one CSV per entity per as-of date.

Every landing file is ``<landing>/<YYYY-MM-DD>/<entity>_<YYYYMMDD>.csv`` with a header row, comma
separated, UTF-8, ISO dates (YYYY-MM-DD), booleans ``true``/``false``, decimals with a dot and no
thousands separators. Custodian dialects (custodian.dialects: Schwab-, Fidelity-, Pershing-like) are
translated into this layout at ingestion; everything downstream reads only this layout (through the
``raw`` tables that ingestion loads).

This module is the single source of truth for the layout: the synthetic generator writes it, the
ingestion parser validates against it, and docs/canonical-layout.md describes it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

# Column kinds understood by the parser (custodian.parse) and mapped to DuckDB types.
DUCKDB_TYPES = {
    "text": "VARCHAR",
    "decimal": "DOUBLE",
    "integer": "BIGINT",
    "date": "DATE",
    "boolean": "BOOLEAN",
}

# Sentinel security id for cash balances in positions.
CASH = "CASH"


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # one of DUCKDB_TYPES
    required: bool = True  # a blank value is an error when required
    choices: tuple[str, ...] = ()  # allowed values for text columns, when constrained
    minimum: float | None = None  # inclusive lower bound for numbers
    maximum: float | None = None  # inclusive upper bound for numbers
    description: str = ""
    # A column added to a layout after files were already being delivered: a file whose header
    # leaves it out (at its place) is still the layout, with the column blank on every row.
    may_be_absent: bool = False


@dataclass(frozen=True)
class FileLayout:
    entity: str  # also the raw table name: raw.<entity>
    description: str
    columns: tuple[Column, ...]
    account_column: str | None = "account_id"  # lets a bad row be tied to one account
    unique_key: tuple[str, ...] = ()  # columns no two lines of one file may share (every such line is rejected)
    # rules across columns of one row: row (dict of parsed values, None when blank) -> [(field, error)];
    # the parser rejects the line on the first error
    row_rules: "Callable[[dict], list[tuple[str, str]]] | None" = None

    def file_name(self, as_of: dt.date) -> str:
        return f"{self.entity}_{as_of:%Y%m%d}.csv"

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def columns_for_header(self, header: list[str]) -> list[str]:
        """The layout's columns a file with this header carries: all of them, less the ones that
        may be absent and are."""
        got = {h.strip() for h in header}
        return [c.name for c in self.columns if not c.may_be_absent or c.name in got]


SECURITY_TYPES = ("equity", "etf", "mutual_fund")
ASSET_CLASSES = ("us_equity", "intl_equity", "us_bond", "cash")
REGISTRATIONS = ("individual", "joint", "traditional_ira", "roth_ira")
OWNER_ROLES = ("primary", "spouse", "joint")
CUSTODIANS = ("schwab", "fidelity", "pershing")
FILING_STATUSES = ("single", "married_joint", "married_separate", "head_of_household")
TRANSACTION_TYPES = ("buy", "sell", "dividend", "reinvest", "deposit", "withdrawal", "fee")
RESTRICTION_TYPES = ("never_buy_security", "exclude_sector", "never_sell_security", "never_hold_security")
REQUEST_TYPES = ("cash_withdrawal", "charitable_gift", "transition", "tax_loss_harvest")
ACCOUNT_CHOICES = ("named", "household")  # cash_withdrawal: the named account pays, or the optimizer chooses
MODEL_COMPONENT_TYPES = ("security", "model")

SECURITY_MASTER = FileLayout(
    unique_key=("security_id",),
    entity="security_master",
    description="Every security the firm holds or targets, with its classification.",
    account_column=None,
    columns=(
        Column("security_id", "text", description="Firm-wide security identifier (the ticker here)."),
        Column("ticker", "text"),
        Column("cusip", "text"),
        Column("description", "text"),
        Column("security_type", "text", choices=SECURITY_TYPES),
        Column("asset_class", "text", choices=ASSET_CLASSES),
        Column("gics_sector", "text", required=False, description="Blank for funds."),
        Column("gics_industry", "text", required=False),
        Column(
            "identical_group",
            "text",
            description="Substantially identical group for wash sales (share classes, ETFs on the same index); "
            "a security alone in its group carries its own id.",
        ),
    ),
)

PRICES = FileLayout(
    unique_key=("security_id",),
    entity="prices",
    description="Closing price of every security on the as-of date.",
    account_column=None,
    columns=(
        Column("security_id", "text"),
        Column("price_date", "date"),
        Column("close", "decimal", minimum=0.0, description="Must be > 0; 0 is rejected by the quality gates."),
    ),
)

PRICE_HISTORY = FileLayout(
    entity="price_history",
    description="Daily closes for the trailing history (risk model, backtests); same columns as prices.",
    account_column=None,
    columns=PRICES.columns,
)

ACCOUNTS = FileLayout(
    unique_key=("account_id",),
    entity="accounts",
    description="Account master: one row per account with its household, registration, model and tax profile "
    "(household fields repeat on every account of the household).",
    columns=(
        Column("account_id", "text"),
        Column("household_id", "text"),
        Column("owner_role", "text", choices=OWNER_ROLES),
        Column("registration", "text", choices=REGISTRATIONS),
        Column("taxable", "boolean"),
        Column("custodian", "text", choices=CUSTODIANS),
        Column("fractional_allowed", "boolean"),
        Column("model_id", "text", description="The household's target model (same on every account)."),
        Column("filing_status", "text", choices=FILING_STATUSES),
        Column("state", "text", description="Two-letter state of residence."),
        Column("ordinary_income", "decimal", minimum=0.0, description="Household taxable ordinary income, USD/yr."),
        Column("advisory_fee_bps", "decimal", minimum=0.0),
        Column("annual_tax_budget", "decimal", minimum=0.0, description="Net capital gains tax the household accepts this year, USD."),
        Column("cash_minimum", "decimal", required=False, minimum=0.0, may_be_absent=True,
               description="Cash the account always keeps, USD (blank: 0)."),
        Column("trading_locked", "boolean", required=False, may_be_absent=True,
               description="true: no trade at all in this account today (its holdings still count)."),
        Column("preferred_asset_classes", "text", required=False, may_be_absent=True,
               description="';'-separated asset classes this account should hold first (asset location)."),
        Column("risk_aversion", "decimal", required=False, minimum=0.0, may_be_absent=True,
               description="Household override of the optimizer's risk aversion (blank: firm default)."),
        Column("tax_weight", "decimal", required=False, minimum=0.0, may_be_absent=True,
               description="Household override: weight on taxes (0: tax-blind; blank: 1)."),
        Column("trading_cost_bps", "decimal", required=False, minimum=0.0, may_be_absent=True,
               description="Household override of the trading cost per side, bp."),
        Column("tracking_error_cap", "decimal", required=False, minimum=0.0, may_be_absent=True,
               description="Household cap on ex-ante tracking error, annualised (0.01 = 1%; blank: none)."),
        Column("harvest_threshold_start", "decimal", required=False, minimum=0.0, maximum=1.0, may_be_absent=True,
               description="Household override: share of basis a loss needs on January 1 to be harvested "
                           "(0.20: price at most 80% of basis; blank: firm default)."),
        Column("harvest_threshold_end", "decimal", required=False, minimum=0.0, maximum=1.0, may_be_absent=True,
               description="Household override: that share from December 1 (blank: firm default, 0.05)."),
    ),
)

POSITIONS = FileLayout(
    entity="positions",
    description="Settled holdings per account and security; cash as security_id CASH with quantity in USD.",
    columns=(
        Column("account_id", "text"),
        Column("security_id", "text"),
        Column("quantity", "decimal"),
    ),
)

OPEN_LOTS = FileLayout(
    unique_key=("lot_id",),
    entity="open_lots",
    description="Open tax lots; cost_basis is total USD and already wash-sale adjusted.",
    columns=(
        Column("account_id", "text"),
        Column("lot_id", "text"),
        Column("security_id", "text"),
        Column("quantity", "decimal", minimum=0.0),
        Column("cost_basis", "decimal", minimum=0.0),
        Column("acquired_date", "date"),
        Column("adjusted_acquired_date", "date", description="Holding-period start after wash-sale tacking."),
        Column("wash_sale_adjustment", "decimal", minimum=0.0, description="Disallowed loss added to basis, USD."),
        Column("covered", "boolean"),
    ),
)

TRANSACTIONS = FileLayout(
    unique_key=("transaction_id",),
    entity="transactions",
    description="Activity year to date (at least the last 30 calendar days for wash-sale windows).",
    columns=(
        Column("transaction_id", "text"),
        Column("account_id", "text"),
        Column("trade_date", "date"),
        Column("settle_date", "date"),
        Column("transaction_type", "text", choices=TRANSACTION_TYPES),
        Column("security_id", "text", required=False, description="Blank for cash-only activity."),
        Column("quantity", "decimal", required=False),
        Column("price", "decimal", required=False),
        Column("amount", "decimal", description="Signed cash effect on the account, USD."),
        Column("lot_id", "text", required=False, description="Lot created (buy, reinvest) or relieved (sell)."),
        Column("realized_gain", "decimal", required=False, description="Sells: proceeds minus basis, USD."),
        Column("holding_term", "text", required=False, choices=("short", "long"), description="Sells: short or long term."),
    ),
)

MODELS = FileLayout(
    entity="models",
    description="Model portfolios: security weights, or blends of other models (one level).",
    account_column=None,
    columns=(
        Column("model_id", "text"),
        Column("model_version", "text"),
        Column("model_name", "text"),
        Column("component_type", "text", choices=MODEL_COMPONENT_TYPES),
        Column("component_id", "text", description="A security_id (CASH allowed) or a model_id."),
        Column("weight", "decimal", minimum=0.0),
    ),
)

RESTRICTIONS = FileLayout(
    entity="restrictions",
    description="Per-account restrictions: never buy a security, exclude a GICS sector, never sell a security "
    "(its lots stay), never hold a security (sell it all today, never buy it).",
    columns=(
        Column("account_id", "text"),
        Column("restriction_type", "text", choices=RESTRICTION_TYPES),
        Column("value", "text", description="A security_id or a GICS sector name."),
    ),
)

def request_row_errors(row: dict) -> list[tuple[str, str]]:
    """(field, error) for a requests row whose columns are each valid but do not fit together
    (custodian.parse rejects the line naming the field). `row`: the parsed values, None when blank."""
    kind, account = row.get("request_type"), row.get("account_id")
    errors = []
    if kind == "charitable_gift" and not account:
        errors.append(("account_id", "required for charitable_gift"))
    if kind == "tax_loss_harvest" and row.get("hold_until") is None:
        errors.append(("hold_until", "required for tax_loss_harvest"))
    if row.get("account_choice") == "named" and not account:
        errors.append(("account_id", "required when account_choice is named"))
    if row.get("account_choice") is not None and kind != "cash_withdrawal":
        errors.append(("account_choice", "only for cash_withdrawal"))
    if row.get("eligible_accounts") is not None and not (kind == "cash_withdrawal" and (
            row.get("account_choice") == "household" or not account)):
        errors.append(("eligible_accounts", "only for a household cash_withdrawal"))
    if row.get("hold_until") is not None and kind != "tax_loss_harvest":
        errors.append(("hold_until", "only for tax_loss_harvest"))
    return errors


REQUESTS = FileLayout(
    unique_key=("request_id",),
    entity="requests",
    description="Advisor requests for this day: cash withdrawals (from a named account, or from the "
    "household with the accounts chosen by the optimizer), charitable gifts of securities, transitions of a "
    "legacy portfolio (amount: the tax budget for the day) and forced loss harvests held until a date. "
    "A line whose columns do not fit its request_type is rejected naming the field: charitable_gift needs "
    "account_id; tax_loss_harvest needs hold_until, which no other type may carry; account_choice is for "
    "cash_withdrawal only (named needs account_id); eligible_accounts for a household cash_withdrawal only.",
    account_column="account_id",
    row_rules=request_row_errors,
    columns=(
        Column("request_id", "text"),
        Column("household_id", "text"),
        Column("account_id", "text", required=False,
               description="The account the cash or gift comes from. Blank: the household (a cash_withdrawal "
               "whose accounts the optimizer chooses; a tax_loss_harvest over every taxable account). "
               "Required for charitable_gift."),
        Column("request_type", "text", choices=REQUEST_TYPES),
        Column("amount", "decimal", minimum=0.0,
               description="USD to raise or to give; transition: tax budget; tax_loss_harvest: USD of losses."),
        Column("account_choice", "text", required=False, choices=ACCOUNT_CHOICES, may_be_absent=True,
               description="cash_withdrawal: named (default when account_id is set) or household (the optimizer "
               "chooses the paying accounts; account_id, if set, is the client's account for the tax-naive "
               "comparison)."),
        Column("eligible_accounts", "text", required=False, may_be_absent=True,
               description="cash_withdrawal with account_choice household: ';'-separated accounts that may pay "
               "(default: every unlocked account but Roth IRAs)."),
        Column("hold_until", "date", required=False, may_be_absent=True,
               description="tax_loss_harvest: no repurchase of the harvested identical groups before this date "
               "(substitutes allowed). Required for tax_loss_harvest."),
    ),
)



ALL_LAYOUTS: tuple[FileLayout, ...] = (
    SECURITY_MASTER,
    PRICES,
    PRICE_HISTORY,
    ACCOUNTS,
    POSITIONS,
    OPEN_LOTS,
    TRANSACTIONS,
    MODELS,
    RESTRICTIONS,
    REQUESTS,
)

LAYOUTS_BY_ENTITY = {layout.entity: layout for layout in ALL_LAYOUTS}

# Lineage columns every raw table carries next to the layout's own columns.
LINEAGE_COLUMNS = (
    ("as_of_date", "DATE"),
    ("source_file", "VARCHAR"),
    ("source_line", "BIGINT"),
    ("file_sha256", "VARCHAR"),
)


def landing_folder_name(as_of: dt.date) -> str:
    return as_of.isoformat()
