"""The engine on the warehouse's inputs: custodian open lots + year-to-date transactions -> the engine's
basis for every custodian lot, and the difference with a reason (never a silent overwrite).

Plain pandas in, pandas out, so a dbt Python model or a Dagster asset can call it unchanged:
``engine_lot_basis(raw open_lots, raw transactions, raw accounts, raw security_master)`` for one as-of date.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import Counter, defaultdict, namedtuple
from contextlib import contextmanager
from decimal import Decimal

import pandas as pd

from taxlots.model import ZERO, Account, Lot, Security, Transaction
from taxlots.netting import net_capital_gains, realized_by_term
from taxlots.replay import replay
from taxlots.views import _household_only, carried_loss_reason

LOT_BASIS_COLUMNS = [
    "account_id", "lot_id", "household_id", "security_id", "custodian_quantity", "engine_quantity",
    "custodian_cost_basis", "engine_cost_basis", "basis_difference", "custodian_wash_sale_adjustment",
    "engine_wash_sale_adjustment", "custodian_adjusted_acquired_date", "engine_adjusted_acquired_date",
    "basis_difference_reason",
]
LOT_BASIS_TEXT = ("account_id", "lot_id", "household_id", "security_id", "basis_difference_reason")
LOT_BASIS_DATES = ("custodian_adjusted_acquired_date", "engine_adjusted_acquired_date")
# The columns the engine reads from the raw tables (a caller reading the warehouse can read only these).
ENGINE_COLUMNS = {
    "open_lots": ("account_id", "lot_id", "security_id", "quantity", "cost_basis", "acquired_date",
                  "adjusted_acquired_date", "wash_sale_adjustment"),
    "transactions": ("transaction_id", "account_id", "trade_date", "transaction_type", "security_id", "quantity",
                     "amount", "lot_id", "realized_gain", "holding_term"),
    "accounts": ("account_id", "household_id", "registration", "filing_status"),
    "security_master": ("security_id", "identical_group", "security_type"),
}
LOTS_PER_PART = 50_000  # lots replayed at a time in one process (engine_books)
TOLERANCE = Decimal("0.02")  # two cents: the custodian rounds each adjustment and basis to the cent


def _d(value) -> Decimal:
    if value is None or value != value:  # None, NaN (pd.NA never reaches here: see _plain)
        return Decimal(0)
    return Decimal(str(value))


def _s(value) -> str:
    return value.strip() if isinstance(value, str) else ""


def _date(value) -> dt.date:
    if type(value) is dt.date:
        return value
    return pd.Timestamp(value).date()


DATE_COLUMNS = ("acquired_date", "adjusted_acquired_date", "trade_date", "settle_date")


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with plain Python values (str or None, float, datetime.date): the engine walks it
    row by row, and arrow-backed strings and Timestamps cost several times more per access."""
    out = {}
    for column in frame.columns:
        values = frame[column]
        if column in DATE_COLUMNS:
            days = pd.to_datetime(values, errors="coerce")  # a Series, same index
            dates = days.dt.date.astype(object)  # datetime.date, in C; NaT stays NaT until the where
            out[column] = dates.where(days.notna(), None)
        elif pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            out[column] = values.astype(float)
        else:
            obj = values.astype(object)
            out[column] = obj.where(values.notna(), None)
    return pd.DataFrame(out, index=frame.index)


def _records(rows) -> list:
    """A frame's rows as named tuples (what ``itertuples`` yields, built in one pass over whole columns
    instead of per call); a list of such rows passes through."""
    if not isinstance(rows, pd.DataFrame):
        return rows
    Row = namedtuple("Row", [str(c) for c in rows.columns], rename=True)
    return list(map(Row._make, zip(*(rows[c].tolist() for c in rows.columns))))


def opening_lots(open_lots, trades, replaced_fraction: dict[str, Decimal] | None = None) -> list[Lot]:
    """The lots held before the history starts: custodian open lots not bought in the history, plus the
    shares of them (or of lots since closed) that the history sells.

    A share sold from a lot still open costs the open lot's basis per share. A lot closed before the
    as-of date is known only from its sales: basis = proceeds - realized_gain / (1 - f), where
    realized_gain is the custodian's gain AFTER its own wash-sale disallowance and f the fraction of
    the sale's shares the custodian's view replaced (``replaced_fraction`` by sale transaction id).
    """
    replaced_fraction = replaced_fraction or {}
    open_lots, trades = _records(open_lots), _records(trades)
    bought = {(r.account_id, r.lot_id) for r in trades if r.transaction_type in ("buy", "reinvest")}
    still_open = {(r.account_id, r.lot_id): r for r in open_lots}
    sold: dict = {}
    for r in trades:
        if r.transaction_type == "sell" and isinstance(r.lot_id, str) and (r.account_id, r.lot_id) not in bought:
            quantity, proceeds, gain = abs(_d(r.quantity)), abs(_d(r.amount)), _d(r.realized_gain)
            lot = still_open.get((r.account_id, r.lot_id))
            if lot is not None and _d(lot.quantity):
                basis = _d(lot.cost_basis) / _d(lot.quantity) * quantity
            else:
                kept = 1 - replaced_fraction.get(r.transaction_id, Decimal(0))
                basis = proceeds - (gain / kept if kept > 0 else Decimal(0))
            entry = sold.setdefault((r.account_id, r.lot_id), {
                "quantity": Decimal(0), "basis": Decimal(0), "first_sale": _date(r.trade_date),
                "term": r.holding_term, "security_id": r.security_id})
            entry["quantity"] += quantity
            entry["basis"] += basis
            entry["first_sale"] = min(entry["first_sale"], _date(r.trade_date))
    lots = []
    for r in open_lots:
        key = (r.account_id, r.lot_id)
        if key in bought:
            continue
        extra = sold.pop(key, None)  # none: the lot's own figures plus zero, as a sum from zero gives them
        extra_quantity, extra_basis = (ZERO, ZERO) if extra is None else (extra["quantity"], extra["basis"])
        acquired = _date(r.acquired_date)
        lots.append(Lot(r.lot_id, r.lot_id, r.account_id, r.security_id, _d(r.quantity) + extra_quantity,
                        _d(r.cost_basis) + extra_basis, acquired, _date(r.adjusted_acquired_date), "opening",
                        acquired, 0, _d(r.wash_sale_adjustment)))
    for (account_id, lot_id), entry in sold.items():
        # closed before the as-of date: its date is a placeholder that keeps the custodian's holding
        # term, and it is not a wash-sale replacement
        days = 800 if entry["term"] == "long" else 1
        acquired = entry["first_sale"] - dt.timedelta(days=days)
        lots.append(Lot(lot_id, lot_id, account_id, entry["security_id"], entry["quantity"], entry["basis"],
                        acquired, acquired, "opening", purchase_date=None, seq=0))
    return lots


def replaced_fractions(result) -> dict[str, Decimal]:
    """Per sale: the fraction of its shares the (custodian-view) replay matched to replacements."""
    sold: dict = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for r in result.realized:
        sold[r.sale_transaction_id][0] += r.quantity
        sold[r.sale_transaction_id][1] += sum((link.shares for link in r.wash_links), Decimal(0))
    return {sale: replaced / quantity for sale, (quantity, replaced) in sold.items() if quantity}


def history(trades) -> list[Transaction]:
    out = []
    for r in _records(trades):
        kind = r.transaction_type
        lot_id = r.lot_id if isinstance(r.lot_id, str) else ""
        out.append(Transaction(r.transaction_id, r.account_id, _date(r.trade_date), kind, r.security_id,
                               abs(_d(r.quantity)), abs(_d(r.amount)), lot_id=lot_id,
                               method="spec" if kind == "sell" and lot_id else ""))
    return out


def _reason(engine_lots: list[Lot], custodian_adjustment: Decimal, engine_adjustment: Decimal,
            custodian_quantity: Decimal, engine_quantity: Decimal, error: str) -> str:
    if error:
        return f"history does not replay: {error}"
    if not engine_lots:
        return "lot not in the engine's replay of the history"
    reasons = []
    if engine_quantity != custodian_quantity:
        reasons.append(f"quantity differs: engine {engine_quantity}, custodian {custodian_quantity}")
    links = [link for lot in engine_lots for link in lot.wash_links]
    gap = abs(engine_adjustment - custodian_adjustment)
    if (links and custodian_adjustment > 0 and not _household_only(links)
            and gap <= max(Decimal(1), custodian_adjustment / 100)):
        reasons.append("rounding: the basis of a lot closed in the history is rebuilt from the custodian's "
                       "rounded proceeds and realized gain")
    elif engine_adjustment > custodian_adjustment:
        household_wide = _household_only(links)
        reasons += sorted({"household-wide wash sale: " + carried_loss_reason(link) for link in household_wide})
        prefix = ("larger same-account wash-sale adjustment than the custodian's: " if custodian_adjustment
                  else "same-account wash sale the custodian did not apply: ")
        reasons += sorted({prefix + carried_loss_reason(link) for link in links if link not in household_wide})
    elif engine_adjustment < custodian_adjustment:
        if links:
            reasons.append("custodian wash-sale adjustment only partly reproduced: replacement shares matched "
                           "household-wide to an earlier loss")
        else:
            reasons.append("custodian wash-sale adjustment with no loss sale in the history that it could come from")
    return "; ".join(reasons) or "basis differs from the transaction history"


HOUSEHOLD_REALIZED_COLUMNS = [
    "household_id", "tax_year", "engine_realized_st_gain_ytd", "engine_realized_lt_gain_ytd",
    "engine_disallowed_loss_ytd", "engine_permanently_disallowed_ytd", "engine_net_capital_gain_ytd",
    "engine_ordinary_offset", "engine_carryforward_short_term", "engine_carryforward_long_term", "engine_error",
]


def _replay_households(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
                       securities: pd.DataFrame):
    """Yield (household_id, that household's custodian lots, the engine's open lots, the custodian lots
    the replay returns unchanged, ReplayResult or None, error) per household, in household id order; the custodian lots are rows (named tuples) in the frame's order.

    Each household is replayed alone: a history that does not replay gives its lots a reason, not an
    exception for the firm."""
    for household_id, lots_h, trades_h, accounts_h, security_map in household_inputs(
            open_lots, transactions, accounts, securities):
        engine_lots, unchanged, result, error = replay_household_lots(lots_h, trades_h, accounts_h, security_map)
        yield household_id, lots_h, engine_lots, unchanged, result, error


def household_inputs(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
                     securities: pd.DataFrame):
    """Yield (household_id, its custodian lots, its buys/reinvestments/sells, its accounts, the security
    map) per household with open lots or with trades (a household that sold everything has realized
    gains and no lots), in household id order. One pass over each frame: rows are
    grouped by household in Python, not by a pandas selection per household."""
    # only buys, reinvestments and sells replay (most rows of a history are dividends): select them
    # before the conversion to plain values, which is row by row
    trades = _plain(transactions[transactions["transaction_type"].isin(["buy", "reinvest", "sell"])
                                 & transactions["security_id"].notna()])
    open_lots = _plain(open_lots)
    account_map = {r.account_id: Account(r.account_id, _s(r.registration) or "individual", _s(r.household_id))
                   for r in accounts.itertuples()}
    security_map = {r.security_id: Security(r.security_id, _s(r.identical_group), _s(r.security_type) or "equity")
                    for r in securities.itertuples()}
    household_of = {a: acc.household_id for a, acc in account_map.items()}
    accounts_of: dict[str, dict[str, Account]] = defaultdict(dict)
    for account_id, account in account_map.items():
        accounts_of[account.household_id][account_id] = account
    lots_of: dict[str, list] = defaultdict(list)
    for r in _records(open_lots):
        lots_of[household_of.get(r.account_id, "")].append(r)
    trades_of: dict[str, list] = defaultdict(list)
    for r in _records(trades):
        trades_of[household_of.get(r.account_id, "")].append(r)
    # a household whose history sold everything still has a year of realized gains to report
    for household_id in sorted(set(lots_of) | {h for h in trades_of if h}):
        yield household_id, lots_of[household_id], trades_of.get(household_id, []), \
            dict(accounts_of.get(household_id, {})), security_map


def replay_household(lots_h, trades_h, accounts_h: dict[str, Account], security_map: dict[str, Security]):
    """(the household-view ReplayResult, "") or (None, why the history does not replay). The custodian
    view is replayed first: it says how much of each closed lot's loss the custodian already moved."""
    try:
        txns = history(trades_h)
        fractions = {}
        if sells_lots_closed_before_history(lots_h, trades_h):
            custodian = replay(txns, accounts_h, security_map, view="custodian",
                               opening_lots=opening_lots(lots_h, trades_h), owns_opening_lots=True)
            fractions = replaced_fractions(custodian)
        result = replay(txns, accounts_h, security_map, opening_lots=opening_lots(lots_h, trades_h, fractions),
                        owns_opening_lots=True)
        return result, ""
    except ValueError as exc:
        return None, str(exc)


def sells_lots_closed_before_history(lots_h: list, trades_h: list) -> bool:
    """Whether the history sells a lot that is neither bought in it nor still open with shares: the
    only sales whose opening basis is rebuilt from the custodian's reported gain, and so the only
    ones that need the custodian view's replaced fraction (``opening_lots``). Without such a sale the
    custodian view cannot change the household view's inputs and is not replayed (the two views relieve
    the same quantities, so neither fails where the other would not)."""
    lots_h, trades_h = _records(lots_h), _records(trades_h)
    bought = {(r.account_id, r.lot_id) for r in trades_h if r.transaction_type in ("buy", "reinvest")}
    still_open = {(r.account_id, r.lot_id): r for r in lots_h}  # as opening_lots looks them up
    for r in trades_h:
        key = (r.account_id, r.lot_id)
        if r.transaction_type == "sell" and isinstance(r.lot_id, str) and key not in bought:
            lot = still_open.get(key)
            if lot is None or not _d(lot.quantity):
                return True
    return False


def untouched_by_history(lots_h: list, trades_h: list, security_map: dict[str, Security]) -> tuple[list, list]:
    """(lots the history can change, lots it cannot), each in the given order. A lot is beyond the
    history's reach when no buy, reinvestment or sale of the household is in its substantially
    identical group (the wash-sale scope of both views: a custodian's is narrower, one security in
    one account) and no transaction names its lot id in its account (so a reused id still fails the
    replay as it would with every lot in it). Replaying without such lots gives the other lots and
    the realized gains exactly as replaying with them; they come out of the replay as they went in."""
    def group(security_id) -> str:
        security = security_map.get(security_id)
        return security.group if security is not None else security_id

    groups = {group(r.security_id) for r in trades_h}
    named = {(r.account_id, r.lot_id) for r in trades_h if isinstance(r.lot_id, str)}
    named |= {(r.account_id, r.transaction_id) for r in trades_h}
    touched, untouched = [], []
    for r in lots_h:
        (touched if group(r.security_id) in groups or (r.account_id, r.lot_id) in named else untouched).append(r)
    return touched, untouched


def replay_household_lots(lots_h, trades_h, accounts_h: dict[str, Account], security_map: dict[str, Security]):
    """(the engine's open lots after the history, the custodian lots that come out of it unchanged, the
    ReplayResult or None, the error). Only the lots the history can reach are replayed
    (``untouched_by_history``); the others come out as they went in: a lot whose id is unique in the
    household as itself (``_unchanged_lot_tuple``), any other as its opening lot."""
    touched, untouched = untouched_by_history(lots_h, trades_h, security_map)
    result, error = replay_household(touched, trades_h, accounts_h, security_map)
    if result is None:
        return [], [], None, error
    ids = Counter((r.account_id, r.lot_id) for r in lots_h)
    unchanged = [r for r in untouched if ids[(r.account_id, r.lot_id)] == 1]
    shared_id = [r for r in untouched if ids[(r.account_id, r.lot_id)] > 1]
    passed = [lot for lot in opening_lots(shared_id, []) if lot.quantity > 0]
    return result.open_lots + passed, unchanged, result, error


def _amount(value) -> float:
    """float(_d(value)) without the Decimal: the custodian's number, 0 where it has none."""
    return float(value) if value is not None and value == value else 0.0


def _lot_rows(household_id, lots_h, engine: list[Lot], error: str, unchanged=()) -> list[dict]:
    """One row per custodian lot, in the given order; ``unchanged``: custodian lots the replay returns
    as they are (``replay_household_lots``), whose rows need no engine lot."""
    return [dict(zip(LOT_BASIS_COLUMNS, row)) for row in _lot_tuples(household_id, lots_h, engine, error, unchanged)]


def _unchanged_lot_tuple(household_id, r) -> tuple | None:
    """The row ``_lot_tuples`` writes for a custodian lot the history does not reach and whose id is its
    own: the engine's lot is that lot, so basis, adjustment, quantity and date are the custodian's
    (rounded to the cent as every engine figure is) and nothing differs. None for a lot of no positive
    quantity: the replay drops those, and ``_lot_tuples`` explains them."""
    quantity = _amount(r.quantity)
    if not quantity > 0:
        return None
    basis, adjustment, adjusted_acquired = _amount(r.cost_basis), _amount(r.wash_sale_adjustment), _date(r.adjusted_acquired_date)
    return (r.account_id, r.lot_id, household_id or None, r.security_id, quantity, quantity, basis, round(basis, 2),
            0.0, adjustment, round(adjustment, 2), adjusted_acquired, adjusted_acquired, None)


def _lot_tuples(household_id, lots_h, engine: list[Lot], error: str, unchanged=()) -> list[tuple]:
    """``_lot_rows`` as tuples in LOT_BASIS_COLUMNS order: the daily run's rows become columns without a
    dict per lot. The common lot, one engine lot and a history that replays, takes a path without the
    sums (the same Decimal additions to zero, so the same figures)."""
    by_lot: dict = defaultdict(list)
    for lot in engine:
        by_lot[(lot.account_id, lot.root_lot_id)].append(lot)
    as_is = {id(r): row for r in unchanged if (row := _unchanged_lot_tuple(household_id, r)) is not None}
    household = household_id or None
    rows = []
    for r in _records(lots_h):
        row = as_is.get(id(r))
        if row is not None:
            rows.append(row)
            continue
        mine = by_lot.get((r.account_id, r.lot_id), [])
        if len(mine) == 1 and not error:
            lot, = mine
            custodian_basis, custodian_q = _d(r.cost_basis), _d(r.quantity)
            basis, adjustment, quantity = ZERO + lot.basis, ZERO + lot.wash_sale_adjustment, ZERO + lot.quantity
            difference = basis - custodian_basis
            reason = None
            if abs(difference) > TOLERANCE or quantity != custodian_q:
                reason = _reason(mine, _d(r.wash_sale_adjustment), adjustment, custodian_q, quantity, error)
            # float(_d(x)) is _amount(x): a float's shortest repr reads back as that float
            rows.append((r.account_id, r.lot_id, household, r.security_id, float(custodian_q), float(quantity),
                         float(custodian_basis), round(float(basis), 2), round(float(difference), 2),
                         _amount(r.wash_sale_adjustment), round(float(adjustment), 2),
                         _date(r.adjusted_acquired_date), lot.adjusted_acquired_date, reason))
            continue
        custodian_basis, custodian_adj, custodian_q = _d(r.cost_basis), _d(r.wash_sale_adjustment), _d(r.quantity)
        basis = sum((lot.basis for lot in mine), ZERO)
        adjustment = sum((lot.wash_sale_adjustment for lot in mine), ZERO)
        quantity = sum((lot.quantity for lot in mine), ZERO)
        difference = basis - custodian_basis if mine and not error else None
        reason = None
        if difference is None or abs(difference) > TOLERANCE or quantity != custodian_q:
            reason = _reason(mine, custodian_adj, adjustment, custodian_q, quantity, error)
        rows.append((r.account_id, r.lot_id, household, r.security_id, float(custodian_q),
                     float(quantity) if mine else None, float(custodian_basis),
                     round(float(basis), 2) if mine and not error else None,
                     None if difference is None else round(float(difference), 2), float(custodian_adj),
                     round(float(adjustment), 2) if mine and not error else None, _date(r.adjusted_acquired_date),
                     min(lot.adjusted_acquired_date for lot in mine) if mine else None, reason))
    return rows


def household_realized_row(household_id: str, result, error: str, year: int, filing_status: str) -> dict:
    """Schedule D for the year so far from the engine's realized lots, netted with the $3,000 / $1,500
    offset. Carryforwards from earlier years are not in the custodian history, so none come in."""
    if result is None:
        return {"household_id": household_id, "tax_year": year, "engine_error": error or None}
    st, lt = realized_by_term(result.realized, year)
    in_year = [r for r in result.realized if r.sale_date.year == year and r.taxable]
    netted = net_capital_gains(st, lt, filing_status)
    return {
        "household_id": household_id, "tax_year": year,
        "engine_realized_st_gain_ytd": float(st), "engine_realized_lt_gain_ytd": float(lt),
        "engine_disallowed_loss_ytd": float(sum((r.disallowed_loss for r in in_year), Decimal(0))),
        "engine_permanently_disallowed_ytd": float(sum((r.permanently_disallowed for r in in_year), Decimal(0))),
        "engine_net_capital_gain_ytd": float(netted.net), "engine_ordinary_offset": float(netted.ordinary_offset),
        "engine_carryforward_short_term": float(netted.carryforward_short_term),
        "engine_carryforward_long_term": float(netted.carryforward_long_term), "engine_error": None,
    }


def book_rows(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
              securities: pd.DataFrame, as_of: dt.date) -> tuple[list[tuple], list[dict]]:
    """The rows of engine_books' two tables, households in id order: lot rows as tuples in
    LOT_BASIS_COLUMNS order (``lot_basis_frame`` types them), household rows as plain dicts."""
    filing = {r.household_id: _s(r.filing_status) or "single" for r in accounts.itertuples()} \
        if "filing_status" in accounts else {}
    lot_rows, household_rows = [], []
    with _without_cyclic_gc():
        for household_id, lots_h, engine_lots, unchanged, result, error in _replay_households(
                open_lots, transactions, accounts, securities):
            lot_rows += _lot_tuples(household_id, lots_h, engine_lots, error, unchanged)
            if household_id:
                household_rows.append(household_realized_row(household_id, result, error, as_of.year,
                                                             filing.get(household_id, "single")))
    return lot_rows, household_rows


@contextmanager
def _without_cyclic_gc():
    """The cyclic garbage collector paused, then restored as it was. A range's replay makes millions of
    objects (rows, lots, Decimals) that live until its table is built and form no reference cycles, so
    each collection only walks them again: 30% of the engine's CPU at 1,000 households (docs/tax-engine.md
    "Cost"). Memory is still freed by reference counting; the few cycles made meanwhile (a namedtuple
    class per frame read) wait for the next collection after the range."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def engine_books(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
                 securities: pd.DataFrame, as_of: dt.date, workers: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One replay per household, two tables: the engine's basis for every custodian lot (with the
    difference and its reason), and the household's realized gains, netting and carryforwards for
    as_of's year. The households are replayed a contiguous range at a time (about LOTS_PER_PART lots):
    only that range's lots and transactions are ever Python objects, and its rows become a typed frame
    at once. ``workers`` > 1 replays the ranges in that many processes (taxlots.fanout), a few ranges
    in flight at a time; the tables are the same row for row."""
    from taxlots.fanout import (
        CHUNKS_PER_WORKER, book_frames, book_frames_in_processes, household_of_rows, household_ranges,
        households_to_replay, rows_of_ranges, worker_count,
    )

    lot_households = household_of_rows(open_lots, accounts)
    trade_households = household_of_rows(transactions, accounts)
    workers = worker_count(lot_households, workers) if workers > 1 else 1
    ranges = household_ranges(households_to_replay(lot_households, trade_households), max(-(-len(open_lots) // LOTS_PER_PART),
                                                  workers * CHUNKS_PER_WORKER if workers > 1 else 1))
    slices = ((open_lots.iloc[lots_at], transactions.iloc[trades_at]) for lots_at, trades_at
              in zip(rows_of_ranges(lot_households, ranges), rows_of_ranges(trade_households, ranges)))
    if workers > 1:
        books = book_frames_in_processes(slices, accounts, securities, as_of, workers)
    else:
        books = (book_frames(lots_part, trades_part, accounts, securities, as_of) for lots_part, trades_part in slices)
    parts, household_rows = [], []
    for frame, rows in books:
        parts.append(frame)
        household_rows += rows
    lots = pd.concat(parts, ignore_index=True) if parts else lot_basis_frame([])
    return lots, pd.DataFrame(household_rows, columns=HOUSEHOLD_REALIZED_COLUMNS)


def lot_basis_frame(rows: list[tuple]) -> pd.DataFrame:
    """engine_books' lot rows (tuples in LOT_BASIS_COLUMNS order) with fixed dtypes (strings, dates as
    datetime64[s], float64), whatever the rows hold: a range of households where a column is null on
    every lot types like any other. Built a column at a time (a list per column, then typed)."""
    columns = list(zip(*rows)) if rows else [()] * len(LOT_BASIS_COLUMNS)
    frame = pd.DataFrame({name: list(values) for name, values in zip(LOT_BASIS_COLUMNS, columns)},
                         columns=LOT_BASIS_COLUMNS)
    for column in LOT_BASIS_COLUMNS:
        if column in LOT_BASIS_TEXT:
            frame[column] = frame[column].astype("string")
        elif column in LOT_BASIS_DATES:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
        else:
            frame[column] = pd.to_numeric(frame[column]).astype("float64")
    return frame


def engine_lot_basis(open_lots: pd.DataFrame, transactions: pd.DataFrame, accounts: pd.DataFrame,
                     securities: pd.DataFrame) -> pd.DataFrame:
    """One row per custodian open lot: the engine's basis (household-wide wash sales), the difference and
    a reason when it is not zero."""
    rows = []
    for household_id, lots_h, engine_lots, unchanged, _, error in _replay_households(
            open_lots, transactions, accounts, securities):
        rows += _lot_rows(household_id, lots_h, engine_lots, error, unchanged)
    return pd.DataFrame(rows, columns=LOT_BASIS_COLUMNS)
