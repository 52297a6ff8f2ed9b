"""Replay a household's history into open lots and realized lots, with wash sales in one pass.

Transactions are processed in a canonical order (trade date; on one date splits, then shares carried
in, then purchases, then sales; then account id; then file order), so the result does not depend on
the order accounts are listed in. A loss sale takes its replacement shares first from purchases
already made inside the window (held after the sale), in acquisition order; what is left waits up to
30 days for later purchases, loss sales in the order they happened.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Hashable, Iterable, Mapping

from taxlots.holding import holding_term, tacked_acquired_date
from taxlots.model import (
    ACQUISITIONS,
    CARRIED_IN,
    ZERO,
    Account,
    Lot,
    RealizedLot,
    ReplayResult,
    Security,
    Transaction,
    WashLink,
)
from taxlots.relief import average_basis, fifo_order, relief_order
from taxlots.wash import (
    SCOPES,
    can_replace,
    in_wash_sale_window,
    is_loss_subject_to_wash_sale,
    replacement_is_permanent,
    window_closed,
)

_KIND_RANK = {"split": 0, "transfer_in": 1, "gift": 1, "inherit": 1, "buy": 2, "reinvest": 2, "sell": 3}


def canonical_order(transactions: Iterable[Transaction]) -> list[Transaction]:
    indexed = list(enumerate(transactions))
    for _, t in indexed:
        if t.kind not in _KIND_RANK:
            raise ValueError(f"{t.transaction_id}: unknown transaction kind {t.kind!r}")
    indexed.sort(key=lambda it: (it[1].trade_date, _KIND_RANK[it[1].kind], it[1].account_id, it[0]))
    return [t for _, t in indexed]


def resolve_method(t: Transaction, security: Security) -> str:
    """Spec-ID when a lot is named; average cost for mutual funds; FIFO otherwise (Reg. 1.1012-1(c))."""
    if t.method:
        return t.method
    if t.lot_id:
        return "spec"
    return "average" if security.security_type == "mutual_fund" else "fifo"


def split_pro_rata(total: Decimal, parts: list[Decimal]) -> list[Decimal]:
    """Share a total in proportion to parts; the last takes the remainder, so the sum is exact."""
    whole = sum(parts, ZERO)
    out, left = [], total
    for i, part in enumerate(parts):
        share = left if i == len(parts) - 1 else (total * part / whole if whole else ZERO)
        out.append(share)
        left -= share
    return out


@dataclass
class _PendingLoss:
    realized: RealizedLot
    key: Hashable
    sale_date: dt.date
    sold_lot_id: str
    sold_root_lot_id: str
    sold_adjusted_acquired_date: dt.date
    shares_left: Decimal
    loss_left: Decimal
    sold_always_long_term: bool = False


class _Book:
    def __init__(self, accounts: Mapping[str, Account], securities: Mapping[str, Security], view: str):
        self.accounts = accounts
        self.securities = securities
        self.scope = SCOPES[view]
        self.view = view
        # Open lots in the order they were opened, and the same lots indexed by position (account,
        # security: what a sale relieves) and by wash-sale scope key (what can replace a loss). Dicts
        # by identity keep insertion order and drop a lot in O(1), so each index lists exactly the
        # lots a scan of all open lots would find, in the same order -- without the scan.
        self._open: dict[int, Lot] = {}
        self._by_position: dict[tuple[str, str], dict[int, Lot]] = defaultdict(dict)
        self._by_key: dict[Hashable, dict[int, Lot]] = defaultdict(dict)
        self._keys: dict[tuple[str, str], Hashable] = {}
        self.realized: list[RealizedLot] = []
        self.pending: list[_PendingLoss] = []
        self.seq = 0
        self.pieces: dict[tuple[str, str], int] = defaultdict(int)
        self.roots: set[tuple[str, str]] = set()  # (account, lot id) ever opened: lot ids are not reused
        households = {a.household_id for a in accounts.values()}
        self.default_household = households.pop() if len(households) == 1 else ""

    # -- lookups ---------------------------------------------------------------------------------
    def account(self, account_id: str) -> Account:
        """An account not described is a taxable account of the household (of the only one named)."""
        return self.accounts.get(account_id) or Account(account_id, household_id=self.default_household)

    def security(self, security_id: str) -> Security:
        return self.securities.get(security_id) or Security(security_id)

    def key(self, account_id: str, security_id: str) -> Hashable:
        return self.scope(self.account(account_id), self.security(security_id))

    def _key_of(self, account_id: str, security_id: str) -> Hashable:
        """The scope key of a position, memoized (a pure function of account and security)."""
        position = (account_id, security_id)
        found = self._keys.get(position)
        if found is None:
            found = self._keys[position] = self.key(account_id, security_id)
        return found

    # -- the open lots ---------------------------------------------------------------------------
    @property
    def lots(self) -> list[Lot]:
        """Every open lot (zero-quantity ones included until a sale relieves them), in opening order."""
        return list(self._open.values())

    def add_lot(self, lot: Lot) -> None:
        ident, position = id(lot), (lot.account_id, lot.security_id)
        key = self._keys.get(position)
        if key is None:
            key = self._key_of(*position)
        self._open[ident] = lot
        self._by_position[position][ident] = lot
        self._by_key[key][ident] = lot

    def remove_lot(self, lot: Lot) -> None:
        ident = id(lot)
        del self._open[ident]
        del self._by_position[(lot.account_id, lot.security_id)][ident]
        del self._by_key[self._key_of(lot.account_id, lot.security_id)][ident]

    def held(self, account_id: str, security_id: str) -> list[Lot]:
        """Open lots of one security in one account, in opening order."""
        return list(self._by_position.get((account_id, security_id), {}).values())

    def in_scope(self, key: Hashable) -> list[Lot]:
        """Open lots whose wash-sale scope key is ``key``, in opening order."""
        return list(self._by_key.get(key, {}).values())

    # -- lot surgery -----------------------------------------------------------------------------
    def split_lot(self, lot: Lot, quantity: Decimal) -> Lot:
        """Split ``quantity`` shares off ``lot`` into a new open lot (pro-rata basis); whole lot: itself."""
        if quantity >= lot.quantity:
            return lot
        self.pieces[(lot.account_id, lot.root_lot_id)] += 1
        fraction = quantity / lot.quantity
        piece = replace(
            lot,
            lot_id=f"{lot.root_lot_id}.{self.pieces[(lot.account_id, lot.root_lot_id)]}",
            quantity=quantity,
            basis=lot.basis * fraction,
            wash_sale_adjustment=lot.wash_sale_adjustment * fraction,
            gift_loss_basis=None if lot.gift_loss_basis is None else lot.gift_loss_basis * fraction,
            source_lot_ids=lot.source_lot_ids + (lot.lot_id,),
            wash_links=list(lot.wash_links),
        )
        lot.quantity -= quantity
        lot.basis -= piece.basis
        lot.wash_sale_adjustment -= piece.wash_sale_adjustment
        if lot.gift_loss_basis is not None:
            lot.gift_loss_basis -= piece.gift_loss_basis
        self.add_lot(piece)
        return piece

    def open_lot(self, t: Transaction, **fields) -> Lot:
        self.seq += 1
        lot_id = t.lot_id or t.transaction_id
        if (t.account_id, lot_id) in self.roots:
            raise ValueError(f"{t.transaction_id}: lot {lot_id} is already used in account {t.account_id}")
        self.roots.add((t.account_id, lot_id))
        lot = Lot(lot_id=lot_id, root_lot_id=lot_id, account_id=t.account_id, security_id=t.security_id,
                  quantity=t.quantity, basis=t.amount, origin=t.kind, seq=self.seq, **fields)
        self.add_lot(lot)
        return lot

    # -- transactions ----------------------------------------------------------------------------
    def apply(self, t: Transaction) -> None:
        self.pending = [p for p in self.pending if p.shares_left > 0 and not window_closed(p.sale_date, t.trade_date)]
        if t.kind in ACQUISITIONS:
            self.purchase(t)
        elif t.kind in CARRIED_IN:
            self.carry_in(t)
        elif t.kind == "sell":
            self.sell(t)
        elif t.kind == "split":
            self.stock_split(t)

    def purchase(self, t: Transaction) -> None:
        """A buy or a dividend reinvestment: a new lot, and a replacement for losses still waiting."""
        lot = self.open_lot(t, acquired_date=t.trade_date, adjusted_acquired_date=t.trade_date,
                            purchase_date=t.trade_date)
        key = self._key_of(t.account_id, t.security_id)
        for pending in self.pending:
            if lot.is_replacement:
                break
            if pending.key == key and pending.shares_left > 0 and in_wash_sale_window(t.trade_date, pending.sale_date):
                lot = self.wash(pending, lot)

    def carry_in(self, t: Transaction) -> None:
        """Transfer in (carried basis and date), gift (donor's basis and date, dual basis below FMV),
        inheritance (basis = FMV at death, long-term whatever the dates). None is a purchase."""
        if t.kind == "inherit":
            self.open_lot(t, acquired_date=t.acquired_date or t.trade_date,
                          adjusted_acquired_date=t.acquired_date or t.trade_date, purchase_date=None,
                          always_long_term=True)
            return
        acquired = t.acquired_date or t.trade_date
        gift_loss_basis = t.fmv if (t.kind == "gift" and t.fmv is not None and t.fmv < t.amount) else None
        self.open_lot(t, acquired_date=acquired, adjusted_acquired_date=acquired, purchase_date=None,
                      gift_loss_basis=gift_loss_basis, gift_date=t.trade_date if t.kind == "gift" else None)

    def stock_split(self, t: Transaction) -> None:
        """A split changes share counts, never basis or dates, in every account."""
        ratio = t.ratio
        if not ratio or ratio <= 0:
            raise ValueError(f"{t.transaction_id}: a split needs a positive ratio")
        for lot in self._open.values():
            if lot.security_id == t.security_id:
                lot.quantity *= ratio
        for pending in self.pending:
            if pending.realized.security_id == t.security_id:
                pending.shares_left *= ratio

    def sell(self, t: Transaction) -> None:
        security = self.security(t.security_id)
        method = resolve_method(t, security)
        held = self.held(t.account_id, t.security_id)
        if method == "spec":
            held = [lot for lot in held if t.lot_id in (lot.root_lot_id, lot.lot_id)]
        if method == "average":
            average_basis(fifo_order(held))
        if t.quantity <= 0:
            raise ValueError(f"{t.transaction_id}: a sale needs a positive quantity")
        price = t.amount / t.quantity
        relieved: list[tuple[str, Lot]] = []
        left = t.quantity
        for lot in relief_order("fifo" if method == "spec" else method, held, price, t.trade_date):
            if left <= 0:
                break
            take = min(left, lot.quantity)
            piece = self.split_lot(lot, take)
            relieved.append((lot.lot_id, piece))
            left -= take
        if left > 0:
            raise ValueError(f"{t.transaction_id}: sells {t.quantity} {t.security_id} in {t.account_id}"
                             f"{' lot ' + t.lot_id if method == 'spec' else ''}, {t.quantity - left} held")
        for _, piece in relieved:  # by identity: equal-looking lots may both be open
            self.remove_lot(piece)
        proceeds = split_pro_rata(t.amount, [piece.quantity for _, piece in relieved])
        account = self.account(t.account_id)
        for (parent_id, piece), piece_proceeds in zip(relieved, proceeds):
            realized = self.realize(t, account, parent_id, piece, piece_proceeds)
            self.realized.append(realized)
            if is_loss_subject_to_wash_sale(realized.gain, account):
                self.look_for_replacements(t, realized, piece)

    def realize(self, t: Transaction, account: Account, parent_id: str, piece: Lot, proceeds: Decimal) -> RealizedLot:
        basis, acquired, adjusted = piece.basis, piece.acquired_date, piece.adjusted_acquired_date
        if piece.gift_loss_basis is not None:  # dual basis of a gift (IRC 1015(a))
            if proceeds < piece.gift_loss_basis:
                basis = piece.gift_loss_basis
                adjusted = piece.gift_date or adjusted
            elif proceeds <= basis:
                basis = proceeds
        return RealizedLot(
            sale_transaction_id=t.transaction_id, account_id=t.account_id, security_id=t.security_id,
            lot_id=parent_id, root_lot_id=piece.root_lot_id, quantity=piece.quantity, acquired_date=acquired,
            adjusted_acquired_date=adjusted, sale_date=t.trade_date, proceeds=proceeds, basis=basis,
            term=holding_term(adjusted, t.trade_date, piece.always_long_term), taxable=account.taxable,
        )

    # -- wash sales ------------------------------------------------------------------------------
    def look_for_replacements(self, t: Transaction, realized: RealizedLot, sold: Lot) -> None:
        pending = _PendingLoss(
            realized=realized, key=self._key_of(t.account_id, t.security_id), sale_date=t.trade_date,
            sold_lot_id=realized.lot_id, sold_root_lot_id=sold.root_lot_id,
            sold_adjusted_acquired_date=realized.adjusted_acquired_date, shares_left=realized.quantity,
            loss_left=-realized.gain, sold_always_long_term=sold.always_long_term,
        )
        earlier = sorted(
            (lot for lot in self.in_scope(pending.key)
             if can_replace(lot, t.account_id, sold.root_lot_id)
             and in_wash_sale_window(lot.purchase_date, t.trade_date)),
            key=lambda lot: (lot.purchase_date, lot.seq, lot.lot_id),
        )
        for lot in earlier:
            if pending.shares_left <= 0:
                break
            self.wash(pending, lot)
        if pending.shares_left > 0:
            self.pending.append(pending)

    def wash(self, pending: _PendingLoss, lot: Lot) -> Lot:
        """Match loss shares to replacement shares of ``lot``; return what is left of the lot unmatched
        (or the matched lot itself when all of it was used)."""
        shares = min(pending.shares_left, lot.quantity)
        piece = self.split_lot(lot, shares)
        amount = pending.loss_left if shares == pending.shares_left else pending.loss_left * shares / pending.shares_left
        pending.shares_left -= shares
        pending.loss_left -= amount
        replacement_account = self.account(piece.account_id)
        permanent = replacement_is_permanent(replacement_account)
        realized = pending.realized
        link = WashLink(
            sale_transaction_id=realized.sale_transaction_id, sale_date=pending.sale_date,
            sold_lot_id=pending.sold_lot_id, sold_account_id=realized.account_id,
            sold_security_id=realized.security_id, replacement_lot_id=piece.lot_id,
            replacement_account_id=piece.account_id, replacement_security_id=piece.security_id,
            replacement_date=piece.purchase_date, shares=shares, disallowed_loss=amount, permanent=permanent,
        )
        realized.disallowed_loss += amount
        realized.wash_links.append(link)
        piece.is_replacement = True
        piece.wash_links.append(link)
        if pending.sold_lot_id not in piece.source_lot_ids:
            piece.source_lot_ids = piece.source_lot_ids + (pending.sold_lot_id,)
        if permanent:
            realized.permanently_disallowed += amount
        else:
            piece.basis += amount
            piece.wash_sale_adjustment += amount
            piece.adjusted_acquired_date = tacked_acquired_date(
                piece.purchase_date, pending.sale_date, pending.sold_adjusted_acquired_date)
            # an inherited lot's holding period is deemed over a year (IRC 1223(9)); tacking carries that
            piece.always_long_term = piece.always_long_term or pending.sold_always_long_term
        return lot


def _shallow_copy(lot: Lot) -> Lot:
    """copy.copy of a Lot (a plain dataclass), without copy's reduce protocol."""
    held = object.__new__(Lot)
    held.__dict__.update(lot.__dict__)
    return held


def replay(
    transactions: Iterable[Transaction],
    accounts: Mapping[str, Account] | Iterable[Account] = (),
    securities: Mapping[str, Security] | Iterable[Security] = (),
    view: str = "household",
    opening_lots: Iterable[Lot] = (),
    *,
    owns_opening_lots: bool = False,
) -> ReplayResult:
    """Open and realized lots of one household's history. ``view``: 'household' (the taxpayer: all
    accounts, identical groups) or 'custodian' (same account, same security). ``opening_lots``: lots
    held before the first transaction (copied, never modified), unless ``owns_opening_lots``: the
    caller built them for this replay alone and never reads them again, so the replay takes them as
    they are (the copy of every opening lot was a tenth of the daily run's replay)."""
    if not isinstance(accounts, Mapping):
        accounts = {a.account_id: a for a in accounts}
    if not isinstance(securities, Mapping):
        securities = {s.security_id: s for s in securities}
    book = _Book(accounts, securities, view)
    for lot in sorted(opening_lots, key=lambda lot: (lot.acquired_date, lot.account_id, lot.lot_id)):
        book.seq += 1
        held = lot if owns_opening_lots else _shallow_copy(lot)  # then the two fields the book owns
        held.seq, held.wash_links = book.seq, list(lot.wash_links)
        book.add_lot(held)
        book.roots.add((lot.account_id, lot.root_lot_id))
    for t in canonical_order(transactions):
        book.apply(t)
    open_lots = sorted((lot for lot in book._open.values() if lot.quantity > 0),
                       key=lambda lot: (lot.account_id, lot.security_id, lot.acquired_date, lot.seq, lot.lot_id))
    return ReplayResult(view=view, open_lots=open_lots, realized=book.realized)
