"""Per-account reconciliation of one custodian family of the day (pure: frames in, differences out).

Checks, each a row only where the difference is outside its tolerance:

- ``lots_vs_position``: per account and security, the position's quantity against the sum of its
  open lots' quantities (a position without lots, or lots without a position, included).
  Tolerance 0.00001 shares, the same as fct_positions.reconciles (which holds the household).
- ``position_market_value``: quantity x the security file's close against the market value the
  custodian reports on the position. Tolerance $0.01 + |quantity| x 0.00005 (the close is rounded
  to 4 decimals, the market value to cents).
- ``cash_balance_present``: every account of the custodian's account master has a balance record.
- ``total_market_value`` (where the balance record carries one): cash + the positions' market values
  against the reported account total. Tolerance $0.01 per position.

``expected`` is what the other file implies, ``reported`` what the checked record says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RECONCILIATION_COLUMNS = ["custodian", "account_id", "account_number", "check_name", "security_id", "expected",
                          "reported", "difference", "tolerance", "source_file", "source_line"]
LOT_TOLERANCE = 1e-5


def _frame(rows: dict) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=RECONCILIATION_COLUMNS)


def _rows_of(parsed: dict, kind_prefix: str) -> list:
    return [native for native in parsed.values() if native.record.kind.startswith(kind_prefix) and not native.rejected_whole]


def reconcile_family(dialect, parsed: dict, canonical_by_table: dict, accounts: dict) -> pd.DataFrame:
    custodian = dialect.custodian
    out = []
    positions_native = _rows_of(parsed, "positions")
    position_tables = [n.record.table for n in positions_native]
    lot_tables = [t for t in canonical_by_table if parsed[t].record.kind.startswith("open_lots")]
    positions = pd.concat([canonical_by_table[t].assign(source_file=parsed[t].source_file)
                           for t in position_tables if t in canonical_by_table] or [pd.DataFrame()], ignore_index=True)
    lots = pd.concat([canonical_by_table[t] for t in lot_tables] or [pd.DataFrame()], ignore_index=True)
    number_of = {firm: native for native, firm in accounts.items()}
    if len(positions) and lot_tables:
        pos = positions.groupby(["account_id", "security_id"], observed=True).agg(
            quantity=("quantity", "sum"), source_file=("source_file", "first"), source_line=("source_line", "first"))
        lot = lots.groupby(["account_id", "security_id"], observed=True)["quantity"].sum().rename("lot_quantity") \
            if len(lots) else pd.Series(dtype=float, name="lot_quantity")
        both = pos.join(lot, how="outer").reset_index()
        both["quantity"] = both["quantity"].fillna(0.0)
        both["lot_quantity"] = both["lot_quantity"].fillna(0.0)
        diff = both["quantity"] - both["lot_quantity"]
        bad = both[(diff.abs() > LOT_TOLERANCE).to_numpy()]
        if len(bad):
            out.append(_frame({
                "custodian": custodian, "account_id": bad["account_id"], "account_number": bad["account_id"].map(number_of),
                "check_name": "lots_vs_position", "security_id": bad["security_id"], "expected": bad["lot_quantity"],
                "reported": bad["quantity"], "difference": diff[bad.index], "tolerance": LOT_TOLERANCE,
                "source_file": bad["source_file"], "source_line": bad["source_line"],
            }))
    securities = _rows_of(parsed, "securities")
    close = securities[0].rows.set_index("cusip")["close_price"] if securities else pd.Series(dtype=float)
    for native in positions_native:
        record = native.record
        if "market_value" not in record.field_names or not record.security_field:
            continue
        quantity_field = next(f.name for f in record.fields if f.canonical == "quantity")
        rows = native.rows
        expected = rows[quantity_field] * rows[record.security_field].map(close)
        tolerance = 0.01 + rows[quantity_field].abs() * 0.00005
        diff = rows["market_value"] - expected
        bad = rows[(expected.notna() & (diff.abs() > tolerance)).to_numpy()]
        if len(bad):
            out.append(_frame({
                "custodian": custodian, "account_id": bad["account_number"].map(accounts),
                "account_number": bad["account_number"], "check_name": "position_market_value",
                "security_id": bad[record.security_field], "expected": expected[bad.index].round(2),
                "reported": bad["market_value"], "difference": diff[bad.index].round(2),
                "tolerance": tolerance[bad.index], "source_file": native.source_file, "source_line": bad["source_line"],
            }))
    balances = _rows_of(parsed, "balances")
    if balances and accounts:
        native = balances[0]
        have = set(native.rows["account_number"])
        lacking = sorted(set(accounts) - have)
        if lacking:
            out.append(_frame({
                "custodian": custodian, "account_id": [accounts[a] for a in lacking], "account_number": lacking,
                "check_name": "cash_balance_present", "security_id": "CASH", "expected": 1.0, "reported": 0.0,
                "difference": -1.0, "tolerance": 0.0, "source_file": native.source_file, "source_line": 0,
            }))
        if "total_market_value" in native.record.field_names and positions_native:
            values = pd.concat([n.rows[["account_number", "market_value"]] for n in positions_native])
            summed = values.groupby("account_number")["market_value"].agg(["sum", "count"])
            rows = native.rows.join(summed, on="account_number")
            expected = rows["cash_balance"] + rows["sum"].fillna(0.0)
            tolerance = 0.01 * rows["count"].fillna(0.0).clip(lower=1.0)
            diff = rows["total_market_value"] - expected
            bad = rows[(rows["total_market_value"].notna() & (diff.abs() > tolerance)).to_numpy()]
            if len(bad):
                out.append(_frame({
                    "custodian": custodian, "account_id": bad["account_number"].map(accounts),
                    "account_number": bad["account_number"], "check_name": "total_market_value", "security_id": None,
                    "expected": expected[bad.index].round(2), "reported": bad["total_market_value"],
                    "difference": diff[bad.index].round(2), "tolerance": tolerance[bad.index],
                    "source_file": native.source_file, "source_line": bad["source_line"],
                }))
    if not out:
        return _frame({})
    frame = pd.concat(out, ignore_index=True)
    frame["source_line"] = frame["source_line"].astype("Int64")  # NA: lots whose position line was rejected
    return frame.sort_values(["account_id", "check_name", "security_id"], kind="stable", na_position="first").reset_index(drop=True)


def reconciliation_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n", float_format=lambda v: f"{v:.6f}".rstrip("0").rstrip(".") if np.isfinite(v) else "").encode()
