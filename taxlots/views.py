"""The taxpayer's view against the custodian's (1099-B: same account, same security): where they differ, and why."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from taxlots.model import ZERO, Account, ReplayResult, Security, Transaction, WashLink
from taxlots.replay import replay


@dataclass(frozen=True)
class ViewDifference:
    kind: str  # 'disallowed_loss' (a realized lot) or 'basis' (an open lot)
    account_id: str
    security_id: str
    lot_id: str  # the root lot
    sale_transaction_id: str  # blank for open lots
    household: Decimal
    custodian: Decimal
    reason: str

    @property
    def difference(self) -> Decimal:
        return self.household - self.custodian


def wash_link_reason(link: WashLink) -> str:
    """Why the household view sees a wash sale the custodian does not report."""
    if link.permanent:
        return f"replaced in IRA {link.replacement_account_id}: loss disallowed permanently (Rev. Rul. 2008-5)"
    if link.replacement_account_id != link.sold_account_id:
        return f"replaced in another household account {link.replacement_account_id}"
    if link.replacement_security_id != link.sold_security_id:
        return f"replaced with substantially identical {link.replacement_security_id}"
    return "replacement shares matched to a different loss household-wide"


def _household_only(links: Iterable[WashLink]) -> list[WashLink]:
    return [link for link in links
            if link.permanent or link.replacement_account_id != link.sold_account_id
            or link.replacement_security_id != link.sold_security_id]


def carried_loss_reason(link: WashLink) -> str:
    """Why an open lot's basis is higher in the household view: it carries a loss from elsewhere."""
    return (f"carries loss disallowed on sale {link.sale_transaction_id} of {link.sold_security_id} "
            f"in account {link.sold_account_id}")


def _reason(household_links, custodian_more: bool, open_lot: bool = False) -> str:
    describe = carried_loss_reason if open_lot else wash_link_reason
    reasons = sorted({describe(link) for link in _household_only(household_links)})
    if custodian_more:
        reasons.append("custodian matched replacement shares the household view gave to an earlier loss")
    return "; ".join(reasons) or "replacement shares matched to a different loss household-wide"


def compare_views(household: ReplayResult, custodian: ReplayResult) -> list[ViewDifference]:
    """Realized lots whose disallowed loss differs, open lots whose basis differs (by root lot)."""
    out: list[ViewDifference] = []

    def realized_totals(result: ReplayResult):
        totals: dict = defaultdict(lambda: [ZERO, []])
        for r in result.realized:
            entry = totals[(r.account_id, r.security_id, r.root_lot_id, r.sale_transaction_id)]
            entry[0] += r.disallowed_loss
            entry[1].extend(r.wash_links)
        return totals

    def open_totals(result: ReplayResult):
        totals: dict = defaultdict(lambda: [ZERO, []])
        for lot in result.open_lots:
            entry = totals[(lot.account_id, lot.security_id, lot.root_lot_id, "")]
            entry[0] += lot.basis
            entry[1].extend(lot.wash_links)
        return totals

    for kind, totals in (("disallowed_loss", realized_totals), ("basis", open_totals)):
        ours, theirs = totals(household), totals(custodian)
        for key in sorted(set(ours) | set(theirs)):
            mine, links = ours.get(key, (ZERO, []))
            other, _ = theirs.get(key, (ZERO, []))
            if abs(mine - other) > Decimal("0.005"):
                out.append(ViewDifference(kind, *key, household=mine, custodian=other,
                                          reason=_reason(links, other > mine, open_lot=kind == "basis")))
    return out


def replay_both_views(
    transactions: Iterable[Transaction],
    accounts: Mapping[str, Account] | Iterable[Account] = (),
    securities: Mapping[str, Security] | Iterable[Security] = (),
) -> tuple[ReplayResult, ReplayResult, list[ViewDifference]]:
    transactions = list(transactions)
    accounts, securities = list(accounts.values() if isinstance(accounts, Mapping) else accounts), \
        list(securities.values() if isinstance(securities, Mapping) else securities)
    household = replay(transactions, accounts, securities, view="household")
    custodian = replay(transactions, accounts, securities, view="custodian")
    return household, custodian, compare_views(household, custodian)
