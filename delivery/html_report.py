"""Estimated Taxes Saved or Deferred, for people: one HTML page per household and a firm dashboard.

Static, self-contained HTML (inline CSS and SVG, no scripts, no network), so it opens from a folder,
an S3 link or an e-mail attachment the same way. Numbers come straight from the report frames; the
pages carry `data-field` attributes so a test (or a scraper) can read each number back.
"""

from __future__ import annotations

import datetime as dt
import html

import numpy as np
import pandas as pd

COMPONENTS = [
    ("taxes_deferred", "Taxes deferred (gains not realized)"),
    ("taxes_saved_st_to_lt", "Saved by waiting for long-term rates"),
    ("taxes_saved_loss_harvest", "Saved by harvesting losses"),
    ("gift_tax_avoided", "Gain tax avoided by gifting appreciated lots"),
    ("wash_sale_losses_avoided", "Losses kept by avoiding wash sales"),
]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:60rem}
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0}td,th{padding:.25rem .75rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.total{font-weight:600;font-size:1.2rem}
.note{color:#555;font-size:.85rem}
"""


def money(value: float) -> str:
    return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"


def percent(value: float) -> str:
    return f"{value * 100:.2f}%"


def _bar_chart(items: list[tuple[str, float]], width: int = 560) -> str:
    """Horizontal bars around a zero line; negative values (tax costs) go left."""
    peak = max([abs(v) for _, v in items] + [1.0])
    label_w, row_h, half = 290, 26, (width - 290) / 2
    rows = []
    for i, (label, value) in enumerate(items):
        y = i * row_h
        length = abs(value) / peak * (half - 4)
        x = label_w + half - (length if value < 0 else 0)
        colour = "#b3261e" if value < 0 else "#1a7f37"
        rows.append(
            f'<text x="0" y="{y + 17}" font-size="12">{html.escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y + 5}" width="{length:.1f}" height="16" fill="{colour}"/>'
        )
    height = len(items) * row_h + 4
    zero = label_w + half
    return (f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f'<line x1="{zero}" y1="0" x2="{zero}" y2="{height}" stroke="#888"/>{"".join(rows)}</svg>')


def _page(title: str, body: str) -> bytes:
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>{body}</body></html>\n").encode()


TOTALS = [c for c, _ in COMPONENTS] + ["taxes_saved_or_deferred", "actual_tax", "naive_tax"]
ACCOUNT_FIELDS = ["account_id", "registration", "market_value", "actual_tax", "naive_tax", "taxes_saved_or_deferred"]
OUTCOME_FIELDS = ["drift_before", "drift_after"]
TAX_FIELDS = ["annual_tax_budget", "tax_budget_remaining"]


def _column_total(values) -> float:
    """A column's sum as DataFrame.sum gives it (NaN as 0, numpy's summation order)."""
    return float(np.nansum(np.asarray(values, dtype=float)))


def household_page(household_id: str, accounts, outcome, tax, as_of: dt.date) -> bytes:
    """``accounts``: the household's report rows (a DataFrame, or a mapping of column -> values);
    ``outcome`` / ``tax``: its optimizer outcome and dim_households row (a Series or a mapping), or None."""
    totals = {c: _column_total(accounts[c]) for c in TOTALS}
    rows = "".join(
        f'<tr><td>{label}</td><td data-field="{col}">{money(float(totals[col]))}</td></tr>' for col, label in COMPONENTS
    )
    chart = _bar_chart([(label, float(totals[col])) for col, label in COMPONENTS])
    account_rows = "".join(
        f"<tr><td>{html.escape(str(account_id))}</td><td>{html.escape(str(registration))}</td>"
        f"<td>{money(market_value)}</td><td>{money(actual_tax)}</td><td>{money(naive_tax)}</td>"
        f'<td data-field="account_saved:{html.escape(str(account_id))}">{money(saved)}</td></tr>'
        for account_id, registration, market_value, actual_tax, naive_tax, saved
        in zip(*(accounts[c] for c in ACCOUNT_FIELDS))
    )
    drift = ""
    if outcome is not None:
        drift = (f'<h2>Distance from target</h2><table><tr><th>before</th><th>after</th></tr><tr>'
                 f'<td data-field="drift_before">{percent(float(outcome["drift_before"]))}</td>'
                 f'<td data-field="drift_after">{percent(float(outcome["drift_after"]))}</td></tr></table>'
                 f'<p class="note">Half the sum of |weight - target| over every holding, cash included.</p>')
    budget = ""
    if tax is not None:
        budget_total = float(tax["annual_tax_budget"])
        used_before = budget_total - float(tax["tax_budget_remaining"])
        budget = (f'<h2>Tax budget {as_of.year}</h2><table><tr><th>annual budget</th><th>used before today</th>'
                  f'<th>today\'s trades</th></tr><tr><td data-field="annual_tax_budget">{money(budget_total)}</td>'
                  f'<td data-field="budget_used_before">{money(used_before)}</td>'
                  f'<td data-field="actual_tax">{money(float(totals["actual_tax"]))}</td></tr></table>')
    body = (
        f"<h1>Estimated Taxes Saved or Deferred: household {html.escape(household_id)}</h1>"
        f"<p>As of {as_of.isoformat()}, against a tax-naive rebalance of the same household to the same targets "
        f"(pro-rata sales, FIFO lots).</p>"
        f'<p class="total">Total: <span data-field="taxes_saved_or_deferred">{money(float(totals["taxes_saved_or_deferred"]))}</span></p>'
        f"{chart}<table><tr><th>component</th><th>amount</th></tr>{rows}</table>"
        f"<h2>Accounts</h2><table><tr><th>account</th><th>registration</th><th>value</th><th>tax on our trades</th>"
        f"<th>tax-naive tax</th><th>saved or deferred</th></tr>{account_rows}</table>{drift}{budget}"
        f'<p class="note">Estimates at the household\'s marginal rates for one day\'s trades; not tax advice.</p>'
    )
    return _page(f"Taxes saved: {household_id}", body)


def firm_page(summary: dict, by_household: pd.DataFrame, by_account: pd.DataFrame, as_of: dt.date) -> bytes:
    chart = _bar_chart([(label, float(summary[col])) for col, label in COMPONENTS])
    rows = "".join(
        f'<tr><td>{label}</td><td data-field="{col}">{money(float(summary[col]))}</td></tr>' for col, label in COMPONENTS
    )
    beats_fee = by_account[by_account["taxable"].astype(bool)]
    share = float((beats_fee["taxes_saved_or_deferred"] > beats_fee["advisory_fee_annual"] / 365.0).mean()) if len(beats_fee) else 0.0
    top = by_household.sort_values("taxes_saved_or_deferred", ascending=False).head(20)
    links = "".join(
        f'<tr><td><a href="households/{html.escape(h)}.html">{html.escape(h)}</a></td><td>{money(v)}</td></tr>'
        for h, v in zip(top["household_id"], top["taxes_saved_or_deferred"])
    )
    status = ", ".join(f"{k}: {v}" for k, v in summary["households_by_status"].items())
    body = (
        f"<h1>Firm dashboard: Estimated Taxes Saved or Deferred, {as_of.isoformat()}</h1>"
        f'<p class="total">Total: <span data-field="taxes_saved_or_deferred">{money(summary["taxes_saved_or_deferred"])}</span> '
        f'across <span data-field="households_reported">{summary["households_reported"]}</span> households</p>'
        f"<p>Households by solver outcome: {html.escape(status)}</p>{chart}"
        f"<table><tr><th>component</th><th>amount</th></tr>{rows}</table>"
        f"<h2>Distribution per household</h2><table><tr><th>p10</th><th>median</th><th>p90</th></tr><tr>"
        f'<td data-field="per_household_p10">{money(summary["per_household_p10"])}</td>'
        f'<td data-field="per_household_median">{money(summary["per_household_median"])}</td>'
        f'<td data-field="per_household_p90">{money(summary["per_household_p90"])}</td></tr></table>'
        f'<p>Taxable accounts whose savings today exceed one day of their advisory fee: '
        f'<span data-field="share_beating_daily_fee">{percent(share)}</span></p>'
        + _year_to_date_section(summary)
        + _dispersion_section(summary)
        + f"<h2>Largest savings</h2><table><tr><th>household</th><th>saved or deferred</th></tr>{links}</table>"
    )
    return _page(f"Firm dashboard {as_of.isoformat()}", body)


def _year_to_date_section(summary: dict) -> str:
    coverage = summary.get("ytd_fee_coverage")
    if not coverage:
        return ""
    return (
        f'<h2>Year to date</h2><p>Taxes saved or deferred this year: '
        f'<span data-field="ytd_taxes_saved_or_deferred">{money(float(summary.get("ytd_taxes_saved_or_deferred", 0.0)))}</span>. '
        f'Accounts whose savings this year exceed their advisory fee so far: '
        f'<span data-field="ytd_accounts_saved_more_than_fee">{coverage["accounts_saved_more_than_fee"]}</span> of '
        f'<span data-field="ytd_accounts_with_fee">{coverage["accounts_with_fee"]}</span> '
        f'(<span data-field="ytd_share_saved_more_than_fee">{percent(coverage["share_saved_more_than_fee"])}</span>)</p>'
    )


def _dispersion_section(summary: dict) -> str:
    rows = summary.get("return_dispersion_by_model") or []
    if not rows:
        return ""
    cells = "".join(
        f'<tr><td>{html.escape(str(r["model_id"]))}</td><td>{r["households"]}</td>'
        f'<td data-field="dispersion_before_{html.escape(str(r["model_id"]))}">{r["active_return_dispersion_before_pct"]:.2f}%</td>'
        f'<td data-field="dispersion_after_{html.escape(str(r["model_id"]))}">{r["active_return_dispersion_after_pct"]:.2f}%</td></tr>'
        for r in rows
    )
    return (
        "<h2>Return dispersion across households of the same model</h2>"
        "<table><tr><th>model</th><th>households</th><th>before today's trades</th><th>after</th></tr>"
        f"{cells}</table>"
        '<p class="note">Standard deviation across households of their active return (portfolio minus its '
        "target) over the last year, holding today's weights: how far apart accounts of one model stand.</p>"
    )


def _rows_by_household(frame: pd.DataFrame, columns: list[str]) -> dict[str, dict]:
    """household_id -> {column: value} of its row (one row per household)."""
    if not len(frame):
        return {}
    return {household_id: dict(zip(columns, values))
            for household_id, *values in zip(frame["household_id"], *(frame[c] for c in columns))}


def _columns_by_household(by_account: pd.DataFrame, columns: list[str]) -> list[tuple[str, dict]]:
    """(household_id, {column: its accounts' values in row order}), households in sorted order."""
    values = {c: by_account[c].to_numpy() for c in columns}
    positions = by_account.groupby("household_id", sort=True).indices
    return [(household_id, {c: values[c][rows] for c in columns}) for household_id, rows in sorted(positions.items())]


def render_html_reports(summary: dict, by_household: pd.DataFrame, by_account: pd.DataFrame, outcomes: pd.DataFrame,
                        households: pd.DataFrame, as_of: dt.date) -> dict[str, bytes]:
    """File name (relative to the reports folder) -> page."""
    files = {"index.html": firm_page(summary, by_household, by_account, as_of)}
    if not len(by_account):
        return files
    outcome_of = _rows_by_household(outcomes, OUTCOME_FIELDS)
    tax_of = _rows_by_household(households, TAX_FIELDS)
    for household_id, accounts in _columns_by_household(by_account, list(dict.fromkeys(TOTALS + ACCOUNT_FIELDS))):
        outcome, tax = outcome_of.get(household_id), tax_of.get(household_id)
        files[f"households/{household_id}.html"] = household_page(household_id, accounts, outcome, tax, as_of)
    return files
