"""FIX 4.4 NewOrderSingle (35=D) messages with pre-allocations, one per block order.

One message per custodian, security and side: the block quantity in OrderQty(38) and each account's
share in the NoAllocs(78) group (AllocAccount 79, AllocQty 80). FIX has no standard lot field, so
the lot plan still travels in the lot-instruction file. Deterministic: sequence numbers and
ClOrdIDs come from the sorted block list, and SendingTime/TransactTime are the as-of date at the
market open (13:30:00 UTC), not the wall clock, so a rerun writes the same bytes.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from delivery.csvfile import texts

SOH = "\x01"
SENDER = "SLEEVELESS"


def _qty(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text or "0"


def checksum(message_without_checksum: str) -> str:
    return f"{sum(message_without_checksum.encode('ascii')) % 256:03d}"


def frame(fields: list[tuple[int, str]]) -> str:
    """Wrap body fields with BeginString, BodyLength and CheckSum."""
    return _framed("".join(f"{tag}={value}{SOH}" for tag, value in fields))


def _framed(body: str) -> str:
    head = f"8=FIX.4.4{SOH}9={len(body.encode('ascii'))}{SOH}"
    return f"{head}{body}10={checksum(head + body)}{SOH}"


def new_order_single(block, allocations: list[tuple[str, float]], seq: int, target: str, as_of: dt.date) -> str:
    """One block (anything indexable by column name: a dict, a row) with its (account_id, quantity)
    allocations, in allocation order."""
    return _new_order_single(block, len(allocations), "".join(
        f"79={account_id}{SOH}80={_qty(quantity)}{SOH}" for account_id, quantity in allocations), seq, target, as_of)


def _new_order_single(block, allocation_count: int, allocation_fields: str, seq: int, target: str, as_of: dt.date) -> str:
    """new_order_single with the NoAllocs group's fields (AllocAccount, AllocQty per allocation)
    already as text."""
    stamp = f"{as_of:%Y%m%d}-13:30:00.000"
    fields: list[tuple[int, str]] = [
        (35, "D"), (49, SENDER), (56, target.upper()), (34, str(seq)), (52, stamp),
        (11, block["block_id"]), (55, block["symbol"]), (48, block["cusip"]), (22, "1"),
        (54, "1" if block["side"] == "BUY" else "2"), (60, stamp), (38, _qty(block["quantity"])),
        (40, "1"), (59, "0"), (78, str(allocation_count)),
    ]
    return _framed("".join(f"{tag}={value}{SOH}" for tag, value in fields) + allocation_fields)


def allocations_by_block(allocations: pd.DataFrame) -> dict[str, list[tuple[str, float]]]:
    """block_id -> its (account_id, quantity) allocations, in row order."""
    by_block: dict[str, list[tuple[str, float]]] = {}
    columns = (allocations[c].to_numpy() for c in ["block_id", "account_id", "quantity"])
    for block_id, account_id, quantity in zip(*columns):
        by_block.setdefault(block_id, []).append((account_id, quantity))
    return by_block


def allocation_fields_by_block(allocations: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """block_id -> (number of allocations, their AllocAccount and AllocQty fields), in row order.

    Each allocation's fields are joined a column at a time and each distinct quantity formatted
    once (a day has ~100,000 allocations per custodian at 10,000 households); account ids that are
    not all text go field by field, as new_order_single formats them."""
    accounts = allocations["account_id"]
    if not isinstance(accounts.dtype, pd.StringDtype) or accounts.isna().any():
        return {block_id: (len(rows), "".join(f"79={a}{SOH}80={_qty(q)}{SOH}" for a, q in rows))
                for block_id, rows in allocations_by_block(allocations).items()}
    quantities = texts(allocations["quantity"], _qty).to_numpy()
    pieces = (("79=" + accounts.to_numpy(dtype=object)) + (SOH + "80=")) + quantities + SOH
    by_block: dict[str, list[str]] = {}
    for block_id, piece in zip(allocations["block_id"].to_numpy(), pieces.tolist()):
        by_block.setdefault(block_id, []).append(piece)
    return {block_id: (len(rows), "".join(rows)) for block_id, rows in by_block.items()}


def render_fix_messages(blocks: pd.DataFrame, allocations: pd.DataFrame, custodian: str, as_of: dt.date) -> bytes:
    by_block = allocation_fields_by_block(allocations)
    columns = ["block_id", "symbol", "cusip", "side", "quantity"]
    rows = (dict(zip(columns, values)) for values in zip(*(blocks[c].to_numpy() for c in columns)))
    messages = [
        _new_order_single(block, *by_block[block["block_id"]], seq, custodian, as_of)
        for seq, block in enumerate(rows, start=1)
    ]
    return "\n".join(messages).encode("ascii") + (b"\n" if messages else b"")


def parse_fix(message: str) -> list[tuple[int, str]]:
    """Split one message into (tag, value) pairs, checking BodyLength and CheckSum."""
    parts = [p for p in message.split(SOH) if p]
    pairs = [(int(p.split("=", 1)[0]), p.split("=", 1)[1]) for p in parts]
    if pairs[0] != (8, "FIX.4.4") or pairs[1][0] != 9 or pairs[-1][0] != 10:
        raise ValueError("not a FIX.4.4 message")
    head_len = len(f"8=FIX.4.4{SOH}9={pairs[1][1]}{SOH}")
    body = message[head_len: message.rindex(f"10={pairs[-1][1]}")]
    if len(body.encode("ascii")) != int(pairs[1][1]):
        raise ValueError("BodyLength does not match")
    if checksum(message[: message.rindex("10=")]) != pairs[-1][1]:
        raise ValueError("CheckSum does not match")
    return pairs
