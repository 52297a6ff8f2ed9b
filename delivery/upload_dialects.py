"""Order uploads in each custodian's own dialect (docs/order-uploads.md), beside the firm's files.

The custodians publish their upload specs to clients only, so these layouts are the project's own,
MODELED ON the shapes in ../shared/reference/custodian-formats.md:

- Schwab: a position-level trade upload CSV (no lot fields) and a separate "Lot Instructions" CSV
  naming, per sell, each lot to relieve versus purchase. Without the second file Schwab relieves
  FIFO and the tax plan is lost.
- Fidelity: the order import CSV (Account Number, Account Type, Order Action, Quantity with at most
  3 decimals, Symbol, Price Type, Time in Force, Stop/Limit Price), a specific-shares lot file,
  and the block pair BlockOrderLog.csv / AllocationLog.csv.
- Pershing: one fixed-width ASCII file: a BOF header, order records (indicator A) each followed
  by its versus-purchase lot records (indicator B), and an EOF trailer with the detail-record count;
  quantities with implied decimals and a sign byte; the composite account number (office 3 + base
  5 + check digit 1 + type 1).

Pure functions of the firm's order lines and lot instructions (delivery.orders), so a rerun
writes the same bytes. Account numbers: ``dim_accounts.custodian_account_number`` when the marts
carry it (the custodian's own number), else the firm's account_id.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from delivery.csvfile import csv_bytes, texts

FIDELITY_QUANTITY_DECIMALS = 3
PERSHING_RECORD_LENGTH = 120
PERSHING_QUANTITY_DECIMALS = 5


def _csv(frame: pd.DataFrame) -> bytes:
    return csv_bytes(frame, lineterminator="\r\n", encoding="ascii")


def _qty(value: float, decimals: int = 6) -> str:
    text = f"{value:.{decimals}f}".rstrip("0").rstrip(".")
    return text or "0"


def _unit_cost(value: float) -> str:
    return f"{value:.5f}"


def custodian_account_numbers(accounts: pd.DataFrame) -> pd.Series:
    """account_id -> the number the custodian knows the account by."""
    native = accounts.get("custodian_account_number")
    numbers = native.where(native.notna() & (native.astype(str) != ""), accounts["account_id"]) \
        if native is not None else accounts["account_id"]
    return pd.Series(numbers.astype(str).to_numpy(), index=accounts["account_id"].astype(str))


# --- Schwab -------------------------------------------------------------------------------------

SCHWAB_TRADE_COLUMNS = ["Account Number", "Action", "Quantity", "Symbol", "Order Type", "Duration", "Reference"]
SCHWAB_LOT_COLUMNS = ["Reference", "Account Number", "Symbol", "Lot Method", "Acquired Date", "Lot Quantity",
                      "Unit Cost", "Lot Id"]


def schwab_upload(orders: pd.DataFrame, lots: pd.DataFrame, number: pd.Series, as_of: dt.date) -> dict[str, bytes]:
    trades = pd.DataFrame({
        "Account Number": orders["account_id"].map(number),
        "Action": orders["side"].map({"BUY": "Buy", "SELL": "Sell"}),
        "Quantity": texts(orders["quantity"], _qty),
        "Symbol": orders["symbol"],
        "Order Type": "Market",
        "Duration": "Day",
        "Reference": orders["order_id"],
    }, columns=SCHWAB_TRADE_COLUMNS)
    sells = lots[lots["action"] == "SELL_VERSUS_PURCHASE"]
    lot_rows = pd.DataFrame({
        "Reference": sells["order_id"],
        "Account Number": sells["account_id"].map(number),
        "Symbol": sells["symbol"],
        "Lot Method": "VSP",
        "Acquired Date": pd.to_datetime(sells["acquired_date"]).dt.strftime("%m/%d/%Y"),
        "Lot Quantity": texts(sells["quantity"], _qty),
        "Unit Cost": texts(sells["cost_basis_relieved"] / sells["quantity"], _unit_cost),
        "Lot Id": sells["lot_id"],
    }, columns=SCHWAB_LOT_COLUMNS)
    stamp = f"{as_of:%Y%m%d}"
    return {
        f"schwab_upload/SCHWAB_TRADE_UPLOAD_{stamp}.csv": _csv(trades),
        f"schwab_upload/SCHWAB_LOT_INSTRUCTIONS_{stamp}.csv": _csv(lot_rows),
    }


# --- Fidelity -----------------------------------------------------------------------------------

FIDELITY_ORDER_COLUMNS = ["Account Number", "Account Type", "Order Action", "Quantity", "Symbol", "Price Type",
                          "Time in Force", "Stop/Limit Price"]
FIDELITY_LOT_COLUMNS = ["Account Number", "Symbol", "Order Action", "Acquired Date", "Quantity", "Open Lot Identifier"]
FIDELITY_BLOCK_COLUMNS = ["Block Id", "Order Action", "Symbol", "Quantity", "Accounts", "Price Type", "Time in Force"]
FIDELITY_ALLOCATION_COLUMNS = ["Block Id", "Account Number", "Symbol", "Quantity"]


def _fidelity_quantity(value: float) -> str:
    scaled = round(value * 10**FIDELITY_QUANTITY_DECIMALS)
    if abs(scaled - value * 10**FIDELITY_QUANTITY_DECIMALS) > 1e-6:
        raise ValueError(f"Fidelity takes at most {FIDELITY_QUANTITY_DECIMALS} decimals: {value!r}")
    return _qty(scaled / 10**FIDELITY_QUANTITY_DECIMALS, FIDELITY_QUANTITY_DECIMALS)


def fidelity_upload(
    orders: pd.DataFrame, lots: pd.DataFrame, blocks: pd.DataFrame, allocations: pd.DataFrame,
    number: pd.Series, as_of: dt.date,
) -> dict[str, bytes]:
    order_rows = pd.DataFrame({
        "Account Number": orders["account_id"].map(number),
        "Account Type": "1",  # cash
        "Order Action": orders["side"].map({"BUY": "Buy", "SELL": "Sell"}),
        "Quantity": texts(orders["quantity"], _fidelity_quantity),
        "Symbol": orders["symbol"],
        "Price Type": "Market",
        "Time in Force": "Day",
        "Stop/Limit Price": "",
    }, columns=FIDELITY_ORDER_COLUMNS)
    sells = lots[lots["action"] == "SELL_VERSUS_PURCHASE"]
    lot_rows = pd.DataFrame({
        "Account Number": sells["account_id"].map(number),
        "Symbol": sells["symbol"],
        "Order Action": "Sell",
        "Acquired Date": pd.to_datetime(sells["acquired_date"]).dt.strftime("%m/%d/%Y"),
        "Quantity": texts(sells["quantity"], _fidelity_quantity),
        "Open Lot Identifier": sells["lot_id"],
    }, columns=FIDELITY_LOT_COLUMNS)
    block_rows = pd.DataFrame({
        "Block Id": blocks["block_id"],
        "Order Action": blocks["side"].map({"BUY": "Buy", "SELL": "Sell"}),
        "Symbol": blocks["symbol"],
        "Quantity": texts(blocks["quantity"], _fidelity_quantity),
        "Accounts": blocks["account_count"].astype(int),
        "Price Type": "Market",
        "Time in Force": "Day",
    }, columns=FIDELITY_BLOCK_COLUMNS)
    allocation_rows = pd.DataFrame({
        "Block Id": allocations["block_id"],
        "Account Number": allocations["account_id"].map(number),
        "Symbol": allocations["symbol"],
        "Quantity": texts(allocations["quantity"], _fidelity_quantity),
    }, columns=FIDELITY_ALLOCATION_COLUMNS)
    stamp = f"{as_of:%Y%m%d}"
    return {
        f"fidelity_upload/FIDELITY_ORDER_IMPORT_{stamp}.csv": _csv(order_rows),
        f"fidelity_upload/FIDELITY_SPECIFIC_SHARES_{stamp}.csv": _csv(lot_rows),
        f"fidelity_upload/BlockOrderLog_{stamp}.csv": _csv(block_rows),
        f"fidelity_upload/AllocationLog_{stamp}.csv": _csv(allocation_rows),
    }


# --- Pershing -----------------------------------------------------------------------------------
# Fixed width, PERSHING_RECORD_LENGTH bytes + "\n". Order record (detail, indicator A):
#   [0,2)  transaction code "OR"       [2,3)   record indicator "A"     [3,11)  sequence number
#   [11,21) account number (composite) [21,30) CUSIP                    [30,31) side B / S
#   [31,49) quantity, 5 implied decimals, zero padded                   [49,50) sign byte "+" / "-"
#   [50,59) symbol, left aligned       [59,61) order type "MK"         [61,64) time in force "DAY"
#   [64,94) order id, left aligned     [94,119) blank                  [119,120) "X"
# Lot record (detail, indicator B), after its sell order:
#   [0,2) "OR" [2,3) "B" [3,11) sequence  [11,21) account  [21,30) CUSIP  [30,38) acquired CCYYMMDD
#   [38,56) lot quantity, 5 implied decimals  [56,57) sign  [57,87) lot id  [87,119) blank  [119,120) "X"
# Header: "BOF      PERSHING TRADE INSTRUCTIONS DATA OF MM/DD/CCYY" padded, last byte "A".
# Trailer: "EOF      PERSHING TRADE INSTRUCTIONS TOTAL DETAIL RECORDS: nnnnnnnnnn" padded, last byte "Z".


def _fixed(parts: list[tuple[int, str]], last: str) -> str:
    """One record: each text at its start, blanks between, ``last`` in the last byte. The usual
    record's parts abut, from byte 0, and end before the last byte: their concatenation, padded."""
    end = 0
    for start, text in parts:
        if start != end:
            return _overlaid(parts, last)
        end += len(text)
    if end >= PERSHING_RECORD_LENGTH:
        return _overlaid(parts, last)
    return "".join(text for _, text in parts) + " " * (PERSHING_RECORD_LENGTH - 1 - end) + last


def _overlaid(parts: list[tuple[int, str]], last: str) -> str:
    """_fixed for any parts: each written over a blank record in turn."""
    line = " " * PERSHING_RECORD_LENGTH
    for start, text in parts:
        end = start + len(text)
        if end > PERSHING_RECORD_LENGTH:
            raise IndexError(f"{text!r} at {start} runs past byte {PERSHING_RECORD_LENGTH}")
        line = line[:start] + text + line[end:]
    record = line[:-1] + last
    assert len(record) == PERSHING_RECORD_LENGTH
    return record


def _implied(value: float, width: int = 18, decimals: int = PERSHING_QUANTITY_DECIMALS) -> tuple[str, str]:
    scaled = round(abs(value) * 10**decimals)
    text = f"{scaled:0{width}d}"
    if len(text) > width:
        raise ValueError(f"{value} does not fit {width} digits")
    return text, "-" if value < 0 else "+"


def _field(text: str, width: int) -> str:
    text = str(text)
    if len(text) > width or not text.isascii():
        raise ValueError(f"{text!r} does not fit a {width}-byte ASCII field")
    return text.ljust(width)


def _memo(function):
    """``function`` remembering its results by argument and argument type (1 and 1.0 are equal keys
    but print differently); for pure functions of hashable arguments. A call that raises is not
    remembered."""
    done: dict = {}

    def remembered(*args):
        key = (args, tuple(map(type, args)))
        if key not in done:
            done[key] = function(*args)
        return done[key]
    return remembered


def _rows(frame: pd.DataFrame, columns: list[str]) -> list[tuple]:
    """The frame's rows as tuples of ``columns`` (numpy scalars for numbers and dates)."""
    return list(zip(*(frame[c].to_numpy() for c in columns)))


def _pershing_date(value, done: dict[object, str]) -> str:
    """CCYYMMDD, computed once per distinct date (``done`` remembers them)."""
    if value not in done:
        done[value] = f"{pd.Timestamp(value):%Y%m%d}"
    return done[value]


def pershing_upload(orders: pd.DataFrame, lots: pd.DataFrame, number: pd.Series, as_of: dt.date) -> dict[str, bytes]:
    header = _fixed([(0, f"BOF      PERSHING TRADE INSTRUCTIONS DATA OF {as_of:%m/%d/%Y}")], "A")
    try:
        details = _pershing_details(orders, lots, number)
    except (KeyError, ValueError, TypeError, IndexError, OverflowError):
        details = None  # a field that does not fit: the record by record code says which, as it always did
    if details is None:
        details = _pershing_details_one_by_one(orders, lots, number)
    trailer = _fixed([(0, f"EOF      PERSHING TRADE INSTRUCTIONS TOTAL DETAIL RECORDS: {len(details):010d}")], "Z")
    return {f"pershing_upload/PERSHING_TRADE_INSTRUCTIONS_{as_of:%Y%m%d}.txt":
            ("\n".join([header, *details, trailer]) + "\n").encode("ascii")}


PERSHING_MAX_SEQUENCE = 10**8 - 1  # 8 digits: past it a record's fields would overlap (_fixed's general case)


def _pershing_details(orders: pd.DataFrame, lots: pd.DataFrame, number: pd.Series) -> list[str] | None:
    """The order and lot records of _pershing_details_one_by_one, each record's fields after the
    sequence number made once per distinct value and joined a column at a time (a day at 10,000
    households has ~100,000 Pershing orders). None where a record would not be the fields side by
    side (a sequence number past 8 digits, a date not 8 characters)."""
    account_number = number.to_dict()
    order_tails = (_per_value(orders["account_id"], lambda a: _field(account_number[a], 10))
                   + _per_value(orders["cusip"], lambda c: _field(c, 9))
                   + np.where(orders["side"].to_numpy() == "BUY", "B", "S").astype(object)
                   + _per_value(orders["quantity"], lambda q: "".join(_implied(float(q))))
                   + _per_value(orders["symbol"], lambda s: _field(s, 9)) + "MKDAY"
                   + _per_value(orders["order_id"], lambda o: _field(o, 30)) + (" " * 25 + "X"))
    dates = _per_value(lots["acquired_date"], lambda d: f"{pd.Timestamp(d):%Y%m%d}")
    if any(len(d) != 8 for d in set(dates.tolist())):
        return None
    lot_tails = (_per_value(lots["account_id"], lambda a: _field(account_number[a], 10))
                 + _per_value(lots["cusip"], lambda c: _field(c, 9)) + dates
                 + _per_value(lots["quantity"], lambda q: "".join(_implied(float(q))))
                 + _per_value(lots["lot_id"], lambda i: _field(i, 30)) + (" " * 32 + "X"))
    by_order: dict[str, list[str]] = {}
    for order_id, tail in zip(lots["order_id"].to_numpy(), lot_tails.tolist()):
        by_order.setdefault(order_id, []).append(tail)
    records: list[str] = []
    for order_id, side, tail in zip(orders["order_id"].to_numpy(), orders["side"].to_numpy(), order_tails.tolist()):
        records.append(f"ORA{len(records) + 1:08d}{tail}")
        if side == "SELL":
            first = len(records) + 1
            records += [f"ORB{first + k:08d}{lot}" for k, lot in enumerate(by_order.get(order_id, []))]
    return records if len(records) <= PERSHING_MAX_SEQUENCE else None


def _per_value(values: pd.Series, format_one) -> np.ndarray:
    """format_one of each value (an object array), called once per distinct value of a text, float
    or date column without missing values (equal values there format equally: -0.0 and 0.0 give
    the same implied quantity); once per row otherwise."""
    kind = values.dtype.kind if isinstance(values.dtype, np.dtype) else None
    if isinstance(values.dtype, pd.StringDtype) or kind in ("f", "M"):
        codes, distinct = pd.factorize(values)
        if not (codes < 0).any():
            text = np.empty(len(distinct), dtype=object)
            text[:] = [format_one(v) for v in distinct]
            return text[codes]
    text = np.empty(len(values), dtype=object)
    text[:] = [format_one(v) for v in values.to_numpy()]
    return text


def _pershing_details_one_by_one(orders: pd.DataFrame, lots: pd.DataFrame, number: pd.Series) -> list[str]:
    """Each order record, followed (for a sell) by its versus-purchase lot records, numbered in turn."""
    account_number = number.to_dict()
    field = _memo(_field)  # accounts, CUSIPs and symbols repeat: each distinct field checked and padded once
    by_order: dict[str, list[tuple]] = {}
    for order_id, *lot in _rows(lots, ["order_id", "account_id", "cusip", "acquired_date", "quantity", "lot_id"]):
        by_order.setdefault(order_id, []).append(lot)
    dates: dict[object, str] = {}
    records = []
    seq = 0
    for account_id, cusip, side, quantity, symbol, order_id in _rows(
        orders, ["account_id", "cusip", "side", "quantity", "symbol", "order_id"]
    ):
        seq += 1
        qty, sign = _implied(float(quantity))
        records.append(_fixed([
            (0, "OR"), (2, "A"), (3, f"{seq:08d}"), (11, field(account_number[account_id], 10)),
            (21, field(cusip, 9)), (30, "B" if side == "BUY" else "S"), (31, qty), (49, sign),
            (50, field(symbol, 9)), (59, "MK"), (61, "DAY"), (64, _field(order_id, 30)),
        ], "X"))
        if side != "SELL":
            continue
        for lot_account_id, lot_cusip, lot_acquired, lot_quantity, lot_id in by_order.get(order_id, []):
            seq += 1
            lot_qty, lot_sign = _implied(float(lot_quantity))
            records.append(_fixed([
                (0, "OR"), (2, "B"), (3, f"{seq:08d}"), (11, field(account_number[lot_account_id], 10)),
                (21, field(lot_cusip, 9)), (30, _pershing_date(lot_acquired, dates)), (38, lot_qty),
                (56, lot_sign), (57, _field(lot_id, 30)),
            ], "X"))
    return records


def render_custodian_uploads(
    custodian: str, orders: pd.DataFrame, lots: pd.DataFrame, blocks: pd.DataFrame, allocations: pd.DataFrame,
    accounts: pd.DataFrame, as_of: dt.date,
) -> dict[str, bytes]:
    """The custodian's own upload files for one day (an empty dict for a custodian with no dialect).

    orders / lots / blocks / allocations: delivery.orders' frames for this custodian, numeric
    quantities; lots also carry cost_basis_relieved."""
    number = custodian_account_numbers(accounts)
    if custodian == "schwab":
        return schwab_upload(orders, lots, number, as_of)
    if custodian == "fidelity":
        return fidelity_upload(orders, lots, blocks, allocations, number, as_of)
    if custodian == "pershing":
        return pershing_upload(orders, lots, number, as_of)
    return {}
