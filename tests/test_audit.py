"""An auditor's chain: an order line resolves to the exact custodian rows behind it in the archive,
and an archived file altered after ingestion is caught by its sha256."""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest

from custodian.stores import LocalFileStore
from delivery.lineage import order_lineage
from sleeveless.audit import AuditError, audit_chain

AS_OF = dt.date(2026, 11, 20)
LOTS = "account_id,lot_id,security_id,quantity,cost_basis,acquired_date,adjusted_acquired_date,wash_sale_adjustment,covered\n" \
       "A1,L1,AAA,10,500.00,2020-03-02,2020-03-02,0.00,true\nA1,L2,AAA,5,600.00,2026-06-01,2026-06-01,0.00,true\n"
PRICES = "security_id,price_date,close\nAAA,2026-11-20,100.0\n"
MODELS = "model_id,model_version,model_name,component_type,component_id,weight\n" \
         "BLEND,1,Blend,model,DI,0.8\nBLEND,1,Blend,security,CASH,0.2\nDI,1,Direct,security,AAA,1.0\n"


@pytest.fixture
def landing(tmp_path):
    files = {"open_lots_20261120.csv": LOTS, "prices_20261120.csv": PRICES, "models_20261120.csv": MODELS}
    sha = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in files.items()}
    for name, text in files.items():  # the archive layout: <date>/<sha256>/<file>
        folder = tmp_path / AS_OF.isoformat() / sha[name]
        folder.mkdir(parents=True)
        (folder / name).write_text(text)
    return LocalFileStore(tmp_path), sha


def _lineage(sha):
    trades = pd.DataFrame([
        ("H1", "A1", "AAA", "sell", 5.0, 100.0, 500.0, "L2", "2026-06-01", 600.0, -100.0, "short", -40.0, "tax_loss_harvest"),
        ("H1", "A1", "AAA", "sell", 2.0, 100.0, 200.0, "L1", "2020-03-02", 100.0, 100.0, "long", 20.0, "rebalance"),
    ], columns=["household_id", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
                "acquired_date", "cost_basis_relieved", "realized_gain", "holding_term", "estimated_tax", "reason"])
    accounts = pd.DataFrame({"account_id": ["A1"], "custodian": ["schwab"]})
    securities = pd.DataFrame({"security_id": ["AAA"], "ticker": ["AAA"], "cusip": ["000000AAA"]})
    lots = pd.DataFrame({"lot_id": ["L1", "L2"], "source_file": ["open_lots_20261120.csv"] * 2, "source_line": [2, 3],
                         "file_sha256": [sha["open_lots_20261120.csv"]] * 2})
    targets = pd.DataFrame({"household_id": ["H1"], "model_id": ["BLEND"], "model_version": ["1"]})
    prices = pd.DataFrame({"security_id": ["AAA"], "source_file": ["prices_20261120.csv"], "source_line": [2],
                           "file_sha256": [sha["prices_20261120.csv"]]})
    return order_lineage(trades, accounts, securities, lots, targets, prices, "run-1", AS_OF)


def _models(sha):
    return pd.DataFrame({"model_id": ["BLEND", "BLEND", "DI"], "model_version": ["1", "1", "1"],
                         "component_type": ["model", "security", "security"], "component_id": ["DI", "CASH", "AAA"],
                         "source_file": ["models_20261120.csv"] * 3, "source_line": [2, 3, 4],
                         "file_sha256": [sha["models_20261120.csv"]] * 3})


def test_an_order_line_resolves_to_the_custodian_rows_behind_it(landing):
    store, sha = landing
    lineage = _lineage(sha)
    households = pd.DataFrame({"household_id": ["H1"], "filing_status": ["single"], "state": ["TX"], "st_rate": [0.4], "lt_rate": [0.2]})
    order_id = lineage["order_id"].iloc[0]
    chain = audit_chain(lineage, store, AS_OF, _models(sha), households, order_id=order_id)
    (order,) = chain["orders"]
    assert order["run_id"] == "run-1" and order["quantity"] == 7.0
    assert [lot["custodian_row"]["text"] for lot in order["lots"]] == [
        "A1,L1,AAA,10,500.00,2020-03-02,2020-03-02,0.00,true",
        "A1,L2,AAA,5,600.00,2026-06-01,2026-06-01,0.00,true",
    ]
    assert order["price"]["text"] == "AAA,2026-11-20,100.0"
    assert [row["text"] for row in order["model"]["rows"]] == ["BLEND,1,Blend,model,DI,0.8", "DI,1,Direct,security,AAA,1.0"]
    assert sorted(order["reason"]) == ["rebalance", "tax_loss_harvest"]


def test_an_archived_file_altered_after_ingestion_is_caught(landing, tmp_path):
    store, sha = landing
    lineage = _lineage(sha)
    path = tmp_path / AS_OF.isoformat() / sha["open_lots_20261120.csv"] / "open_lots_20261120.csv"
    path.write_text(LOTS.replace("500.00", "400.00"))
    households = pd.DataFrame({"household_id": ["H1"], "filing_status": ["single"], "state": ["TX"], "st_rate": [0.4], "lt_rate": [0.2]})
    with pytest.raises(AuditError, match="open_lots_20261120.csv: sha256"):
        audit_chain(lineage, store, AS_OF, _models(sha), households, account_id="A1")
