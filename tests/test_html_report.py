"""The taxes-saved pages, rendered by a real headless Chromium, show the report's numbers."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess

import pandas as pd
import pytest

from delivery.html_report import money, percent, render_html_reports
from delivery.taxes_saved import REPORT_COLUMNS, firm_summary, household_summary

AS_OF = dt.date(2026, 11, 20)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _by_account() -> pd.DataFrame:
    rows = [
        ("H1", "A1", "individual", True, 100_000.0, 500.0, -1_000.0, 200.0, -320.0, 0.0, 3_000.0, 600.0,
         600.0, 0.0, 400.0, 0.0, 0.0, 1_000.0, "pro_rata_fifo"),
        ("H1", "A2", "roth_ira", False, 50_000.0, 250.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
         "pro_rata_fifo"),
        ("H2", "A3", "joint", True, 200_000.0, 1_000.0, 0.0, 5_000.0, 1_000.0, 4_000.0, 0.0, 1_700.0,
         200.0, 400.0, 0.0, 952.0, 100.0, 1_652.0, "pro_rata_fifo"),
    ]
    return pd.DataFrame(rows, columns=REPORT_COLUMNS)


def _render(tmp_path):
    by_account = _by_account()
    by_household = household_summary(by_account)
    outcomes = pd.DataFrame({"household_id": ["H1", "H2"], "status": ["optimal", "optimal"],
                             "drift_before": [0.1234, 0.05], "drift_after": [0.0123, 0.01]})
    summary = firm_summary(by_household, outcomes)
    summary["ytd_taxes_saved_or_deferred"] = 5_000.0
    summary["ytd_fee_coverage"] = {"accounts_with_fee": 3, "accounts_saved_more_than_fee": 2, "share_saved_more_than_fee": 0.6667}
    summary["return_dispersion_by_model"] = [{"model_id": "M1", "households": 2, "active_return_dispersion_before_pct": 1.25,
                                              "active_return_dispersion_after_pct": 0.5}]
    households = pd.DataFrame({"household_id": ["H1", "H2"], "annual_tax_budget": [5_000.0, 0.0],
                               "tax_budget_remaining": [3_500.0, 0.0]})
    for name, content in render_html_reports(summary, by_household, by_account, outcomes, households, AS_OF).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return summary


def _rendered_fields(path) -> dict[str, str]:
    """The DOM as Chromium built it, read back field by field."""
    dom = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={path.parent / '.chromium'}", "--dump-dom", path.as_uri()],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    return dict(re.findall(r'data-field="([^"]+)">([^<]*)<', dom))


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_household_page_shows_the_report_numbers_in_a_real_browser(tmp_path):
    _render(tmp_path)
    fields = _rendered_fields(tmp_path / "households" / "H1.html")
    assert fields["taxes_saved_or_deferred"] == money(1_000.0) == "$1,000.00"
    assert fields["taxes_deferred"] == "$600.00" and fields["taxes_saved_loss_harvest"] == "$400.00"
    assert fields["account_saved:A1"] == "$1,000.00" and fields["account_saved:A2"] == "$0.00"
    assert fields["drift_before"] == percent(0.1234) == "12.34%" and fields["drift_after"] == "1.23%"
    assert fields["annual_tax_budget"] == "$5,000.00" and fields["budget_used_before"] == "$1,500.00"
    assert fields["actual_tax"] == "-$320.00"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (.ci/run installs Debian's chromium)")
def test_firm_dashboard_shows_the_firm_totals_in_a_real_browser(tmp_path):
    summary = _render(tmp_path)
    fields = _rendered_fields(tmp_path / "index.html")
    assert fields["taxes_saved_or_deferred"] == money(summary["taxes_saved_or_deferred"]) == "$2,652.00"
    assert fields["wash_sale_losses_avoided"] == "$100.00"
    assert fields["households_reported"] == "2"
    assert fields["ytd_share_saved_more_than_fee"] == "66.67%" and fields["ytd_accounts_saved_more_than_fee"] == "2"
    assert fields["dispersion_before_M1"] == "1.25%" and fields["dispersion_after_M1"] == "0.50%"
    assert fields["gift_tax_avoided"] == "$952.00" and fields["taxes_saved_st_to_lt"] == "$400.00"
    # both taxable accounts saved more than one day of their fee: 2 of 2
    assert fields["share_beating_daily_fee"] == "100.00%"
