"""Wash-sale rules (IRC 1091, Reg. 1.1091-1, Rev. Rul. 2008-5, Rev. Rul. 56-602) as small predicates."""

from __future__ import annotations

import datetime as dt
from typing import Callable, Hashable

from taxlots.model import Account, Lot, Security

WINDOW_DAYS = 30

# A scope says which shares can replace which: a key per (account, security).
Scope = Callable[[Account, Security], Hashable]


def household_scope(account: Account, security: Security) -> Hashable:
    """The taxpayer's view: every account of the household (owner, spouse, IRAs, Roth IRAs) and every
    security of the substantially identical group."""
    return (account.household_id, security.group)


def custodian_scope(account: Account, security: Security) -> Hashable:
    """The 1099-B view: same account, same security only."""
    return (account.account_id, security.security_id)


SCOPES: dict[str, Scope] = {"household": household_scope, "custodian": custodian_scope}


def in_wash_sale_window(purchase_date: dt.date, sale_date: dt.date) -> bool:
    """61 calendar days: 30 before the sale, the sale day, 30 after (crosses year ends)."""
    return abs((purchase_date - sale_date).days) <= WINDOW_DAYS


def window_closed(sale_date: dt.date, today: dt.date) -> bool:
    return (today - sale_date).days > WINDOW_DAYS


def is_loss_subject_to_wash_sale(gain, account: Account) -> bool:
    """Only losses, and only losses the taxpayer could deduct (a sale inside an IRA has no tax loss)."""
    return gain < 0 and account.taxable


def replacement_is_permanent(replacement_account: Account) -> bool:
    """Rev. Rul. 2008-5: an IRA / Roth IRA replacement disallows the loss for good, no basis increase."""
    return not replacement_account.taxable


def can_replace(candidate: Lot, sold_account_id: str, sold_root_lot_id: str) -> bool:
    """A purchased share not yet used as a replacement, and not a share of the lot sold (Rev. Rul. 56-602)."""
    if candidate.purchase_date is None or candidate.is_replacement:
        return False
    return not (candidate.account_id == sold_account_id and candidate.root_lot_id == sold_root_lot_id)
