"""The engine's data: transactions in, lots and realized lots out. Plain dataclasses, Decimal money."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)

# Transaction kinds the replay understands.
ACQUISITIONS = ("buy", "reinvest")  # purchases: these can be wash-sale replacements
CARRIED_IN = ("transfer_in", "gift", "inherit")  # shares arriving with a basis, not purchases
KINDS = ACQUISITIONS + CARRIED_IN + ("sell", "split")
RELIEF_METHODS = ("spec", "fifo", "lifo", "hifo", "tax_min", "average")

# Registrations whose gains are not taxed and whose purchases make a wash-sale loss permanent (Rev. Rul. 2008-5).
TAX_DEFERRED = ("traditional_ira", "roth_ira")


@dataclass(frozen=True)
class Account:
    account_id: str
    registration: str = "individual"  # individual, joint, traditional_ira, roth_ira
    household_id: str = ""

    @property
    def taxable(self) -> bool:
        return self.registration not in TAX_DEFERRED


@dataclass(frozen=True)
class Security:
    security_id: str
    identical_group: str = ""  # substantially identical group (policy); blank = the security alone
    security_type: str = "equity"  # equity, etf, mutual_fund

    @property
    def group(self) -> str:
        return self.identical_group or self.security_id


@dataclass(frozen=True)
class Transaction:
    """One line of history. ``amount`` is total USD, always positive:
    buy/reinvest: cost including fees; sell: net proceeds; transfer_in/gift: the carried (donor's) basis;
    inherit: fair market value at death (the stepped-up basis)."""

    transaction_id: str
    account_id: str
    trade_date: dt.date
    kind: str
    security_id: str
    quantity: Decimal = ZERO
    amount: Decimal = ZERO
    lot_id: str = ""  # buy-like: the lot created (default: transaction_id); sell: the lot to relieve (spec-ID)
    method: str = ""  # sell: spec, fifo, lifo, hifo, tax_min, average (blank: spec if lot_id, average for mutual funds, else fifo)
    acquired_date: dt.date | None = None  # transfer_in / gift: the original acquisition date (tacked)
    fmv: Decimal | None = None  # gift: fair market value at the date of the gift (dual basis when below basis)
    ratio: Decimal | None = None  # split: new shares per old share (2 for a 2-for-1 split)


@dataclass(frozen=True)
class WashLink:
    """``shares`` loss shares of a sale matched to as many replacement shares."""

    sale_transaction_id: str
    sale_date: dt.date
    sold_lot_id: str
    sold_account_id: str
    sold_security_id: str
    replacement_lot_id: str
    replacement_account_id: str
    replacement_security_id: str
    replacement_date: dt.date
    shares: Decimal
    disallowed_loss: Decimal
    permanent: bool  # replacement in an IRA / Roth IRA: the loss is gone, no basis increase


@dataclass
class Lot:
    lot_id: str
    root_lot_id: str  # the lot as the client knows it (spec-ID refers to it); pieces split off share it
    account_id: str
    security_id: str
    quantity: Decimal
    basis: Decimal  # total USD, wash-sale adjusted
    acquired_date: dt.date  # original acquisition (transfers and gifts keep the donor's date)
    adjusted_acquired_date: dt.date  # holding-period start after tacking
    origin: str  # buy, reinvest, transfer_in, gift, inherit
    purchase_date: dt.date | None  # set for purchases only: the date that counts for the wash-sale window
    seq: int  # acquisition order in the replay (ties on a date)
    wash_sale_adjustment: Decimal = ZERO
    source_lot_ids: tuple[str, ...] = ()  # lots it came from (split-off parent, loss lots whose loss it carries)
    always_long_term: bool = False  # inherited (IRC 1223(9))
    gift_loss_basis: Decimal | None = None  # dual basis of a gift below basis: FMV at gift, for losses
    gift_date: dt.date | None = None
    is_replacement: bool = False  # these shares already absorbed loss shares
    wash_links: list[WashLink] = field(default_factory=list)

    @property
    def basis_per_share(self) -> Decimal:
        return self.basis / self.quantity if self.quantity else ZERO


@dataclass
class RealizedLot:
    sale_transaction_id: str
    account_id: str
    security_id: str
    lot_id: str
    root_lot_id: str
    quantity: Decimal
    acquired_date: dt.date
    adjusted_acquired_date: dt.date
    sale_date: dt.date
    proceeds: Decimal
    basis: Decimal
    term: str  # short / long
    taxable: bool
    disallowed_loss: Decimal = ZERO
    permanently_disallowed: Decimal = ZERO
    wash_links: list[WashLink] = field(default_factory=list)

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.basis

    @property
    def reportable_gain(self) -> Decimal:
        """The gain or allowed loss that goes on Schedule D (0 in an IRA)."""
        return self.gain + self.disallowed_loss if self.taxable else ZERO


@dataclass
class ReplayResult:
    view: str  # household or custodian
    open_lots: list[Lot]
    realized: list[RealizedLot]

    def open_quantity(self, account_id: str, security_id: str) -> Decimal:
        return sum((lot.quantity for lot in self.open_lots
                    if lot.account_id == account_id and lot.security_id == security_id), ZERO)
