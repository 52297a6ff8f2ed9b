"""`sleeveless tax replay` and `sleeveless tax estimate` on the documented example files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from sleeveless.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def test_replay_prints_and_writes_the_household_lots_and_the_custodian_differences(tmp_path, capsys):
    assert main(["tax", "replay", str(EXAMPLES / "tax_transactions.csv"),
                 "--securities", str(EXAMPLES / "tax_securities.csv"), "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "Open lots (6)" in printed and "Realized lots (2)" in printed
    realized = {r["sale_transaction_id"]: r for r in csv.DictReader(open(tmp_path / "realized_lots.csv"))}
    # VOO sold at a 3,000 loss; 40 IVV in the IRA (identical group) and 30 VOO in the spouse's account replace 70
    assert realized["T05"]["disallowed_loss"] == "2100" and realized["T05"]["reportable_gain"] == "-900"
    lots = {r["lot_id"]: r for r in csv.DictReader(open(tmp_path / "open_lots.csv"))}
    assert lots["VOO-3"]["basis"] == "15100" and lots["IVV-1"]["basis"] == "18900"
    assert lots["AAPL-T"]["quantity"] == "40"  # 20 transferred in, split 4-for-1, 40 sold
    differences = list(csv.DictReader(open(tmp_path / "view_differences.csv")))
    assert {d["kind"] for d in differences} == {"disallowed_loss", "basis"}
    wash = list(csv.DictReader(open(tmp_path / "wash_sales.csv")))
    assert [(w["replacement_lot_id"], w["permanent"]) for w in wash] == [("IVV-1", "true"), ("VOO-3", "false")]


def test_estimate_reads_the_realized_lots_of_the_year(tmp_path, capsys):
    main(["tax", "replay", str(EXAMPLES / "tax_transactions.csv"),
          "--securities", str(EXAMPLES / "tax_securities.csv"), "--out", str(tmp_path)])
    capsys.readouterr()
    assert main(["tax", "estimate", "--year", "2026", "--filing-status", "married_joint", "--state", "TX",
                 "--ordinary-income", "90000", "--realized", str(tmp_path / "realized_lots.csv"),
                 "--long-term", "42000"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["long_term_gain"] == "50000.00" and result["federal_long_term_tax"] == "6165.00"  # RT-2
