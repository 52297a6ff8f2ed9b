"""`sleeveless audit`: the whole chain behind one order line or one account-day, from the custodian
rows (re-read from the immutable archive, ``archive/<date>/<sha256>/<file>``, and their sha256
checked again) to the order line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json

import pandas as pd

from custodian.layout import landing_folder_name
from custodian.stores import FileStore


class AuditError(RuntimeError):
    pass


def _file_lines(store: FileStore, as_of: dt.date, name: str, expected_sha256: str, cache: dict) -> list[str]:
    if name not in cache:
        key = f"{landing_folder_name(as_of)}/{expected_sha256}/{name}"
        if not store.exists(key):
            raise AuditError(f"{name}: no archived copy at {store.uri(key)}")
        content = store.read_bytes(key)
        actual = hashlib.sha256(content).hexdigest()
        if actual != expected_sha256:
            raise AuditError(f"{name}: sha256 {actual} differs from the ingested {expected_sha256}: the archive was altered")
        cache[name] = content.decode("utf-8-sig").splitlines()
    return cache[name]


def _custodian_row(store, as_of, name, line, sha, cache) -> dict:
    lines = _file_lines(store, as_of, name, sha, cache)
    return {"file": name, "line": int(line), "sha256": sha, "header": lines[0], "text": lines[int(line) - 1]}


def model_rows_for(models: pd.DataFrame, model_id: str, version: str, security_id: str) -> pd.DataFrame:
    """The model rows that set this security's target: its own row, and for a blend the blend's rows
    and the security's row in each component model."""
    own = models[(models["model_id"] == model_id) & (models["model_version"] == version)]
    blend_parts = own[own["component_type"] == "model"]
    components = models[models["model_id"].isin(blend_parts["component_id"]) & (models["component_id"] == security_id)]
    return pd.concat([blend_parts, own[own["component_id"] == security_id], components]).sort_values("source_line")


def audit_chain(lineage: pd.DataFrame, store: FileStore, as_of: dt.date, models: pd.DataFrame, households: pd.DataFrame,
                order_id: str | None = None, account_id: str | None = None) -> dict:
    """Resolve lineage rows (from outputs/lineage/<date>/order_lineage_*.csv) to custodian rows."""
    if order_id:
        rows = lineage[lineage["order_id"] == order_id]
    elif account_id:
        rows = lineage[lineage["account_id"] == account_id]
    else:
        raise AuditError("name an order id or an account")
    if rows.empty:
        raise AuditError(f"no order line for {order_id or account_id} on {as_of}")
    cache: dict[str, list[str]] = {}
    chain = []
    for (oid, account, symbol, side), group in rows.groupby(["order_id", "account_id", "symbol", "side"], sort=True, dropna=False):
        first = group.iloc[0]
        household = households[households["household_id"] == first["household_id"]]
        model_rows = model_rows_for(models, first["model_id"], first["model_version"], first["security_id"])
        entry = {
            "order_id": oid, "run_id": first["run_id"], "account_id": account, "household_id": first["household_id"],
            "side": side, "symbol": symbol, "quantity": float(first["order_quantity"]) if pd.notna(first["order_quantity"]) else None,
            "reason": sorted(set(group["reason"])),
            "price": {"close": float(first["price"]), **_custodian_row(store, as_of, first["price_source_file"],
                                                                        first["price_source_line"], first["price_file_sha256"], cache)},
            "model": {"model_id": first["model_id"], "model_version": first["model_version"],
                      "rows": [_custodian_row(store, as_of, r.source_file, r.source_line, r.file_sha256, cache)
                               for r in model_rows.itertuples()]},
            "tax_rates": household[["filing_status", "state", "st_rate", "lt_rate"]].iloc[0].to_dict() if len(household) else {},
            "lots": [],
        }
        for lot in group.itertuples():
            if pd.isna(lot.lot_id) or lot.lot_id == "":
                continue
            entry["lots"].append({
                "lot_id": lot.lot_id, "quantity": float(lot.lot_quantity), "acquired_date": lot.acquired_date,
                "cost_basis_relieved": float(lot.cost_basis_relieved), "realized_gain": float(lot.realized_gain),
                "holding_term": lot.holding_term,
                "custodian_row": _custodian_row(store, as_of, lot.lot_source_file, lot.lot_source_line, lot.lot_file_sha256, cache),
            })
        chain.append(entry)
    return {"as_of_date": as_of.isoformat(), "orders": chain}


def run_audit(home, as_of: dt.date, order_id: str | None, account_id: str | None) -> dict:
    import duckdb

    from orchestration.defs.ingest.resources import archive_location
    from orchestration.lib.stores import store_resource_for

    outputs = store_resource_for(home.outputs).store()
    lineage = pd.read_csv(io.BytesIO(outputs.read_bytes(f"lineage/{as_of.isoformat()}/order_lineage_{as_of:%Y%m%d}.csv")),
                          dtype={"order_id": str, "lot_id": str})
    lineage["order_id"] = lineage["order_id"].fillna("")
    with duckdb.connect(str(home.duckdb_path), read_only=True) as con:
        models = con.execute("select model_id, model_version, component_type, component_id, source_file, source_line, "
                             "file_sha256 from raw.models "
                             "where as_of_date = ? order by source_line", [as_of]).df()
        households = con.execute("select household_id, filing_status, state, st_rate, lt_rate from main.dim_households").df()
    archive = store_resource_for(archive_location(home)).store()
    return audit_chain(lineage, archive, as_of, models, households, order_id=order_id, account_id=account_id)


def to_json(chain: dict) -> str:
    return json.dumps(chain, indent=2, default=str)
