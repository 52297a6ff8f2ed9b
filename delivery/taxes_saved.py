"""Estimated Taxes Saved or Deferred: the optimizer's trades against a tax-naive counterfactual.

The counterfactual is what a tax-naive rebalancer does with the same household, the same targets
and the same cash needs on the same day:
- every security held above its household target weight is sold down to target, pro rata across
  the accounts that hold it (a sleeve manager's view);
- cash withdrawals and charitable gifts are raised by selling each position of the account pro rata
  (a gift is given as cash);
- lots are relieved FIFO (the custodian default when no lot is named).
Both sides are taxed at the household's marginal short- and long-term rates (marts.dim_households;
IRA and Roth accounts realize no tax). Components (per account):
- taxes_saved_st_to_lt: short-term gains the naive side realizes and we do not, times (st - lt rate):
  the part of the deferral that comes from waiting for long-term treatment;
- taxes_deferred: the rest of the difference in tax on realized gains;
- taxes_saved_loss_harvest: tax value of losses we realize beyond the naive side's;
- gift_tax_avoided: embedded gain of the lots given to charity times the lt rate.
The total is their sum, equal to naive tax - our tax + gift_tax_avoided. It is an estimate for one
day's trades at marginal rates; household netting across the year is the tax-lot engine's job.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CASH = "CASH"

REPORT_COLUMNS = [
    "household_id", "account_id", "registration", "taxable", "market_value", "advisory_fee_annual",
    "actual_st_gain", "actual_lt_gain", "actual_tax", "naive_st_gain", "naive_lt_gain", "naive_tax",
    "taxes_deferred", "taxes_saved_st_to_lt", "taxes_saved_loss_harvest", "gift_tax_avoided",
    "taxes_saved_or_deferred",
]


def fifo_relief(lots: pd.DataFrame, sell_quantity: pd.DataFrame) -> pd.DataFrame:
    """Relieve ``sell_quantity`` (account_id, security_id, quantity) from ``lots`` oldest first."""
    ordered = lots.sort_values(["account_id", "security_id", "acquired_date", "lot_id"], kind="stable").copy()
    ordered = ordered.merge(
        sell_quantity.rename(columns={"quantity": "to_sell"}), on=["account_id", "security_id"], how="inner"
    )
    if ordered.empty:
        return ordered.assign(sold=pd.Series(dtype=float))
    cumulative = ordered.groupby(["account_id", "security_id"])["quantity"].cumsum()
    before = cumulative - ordered["quantity"]
    ordered["sold"] = np.clip(ordered["to_sell"] - before, 0.0, ordered["quantity"])
    return ordered[ordered["sold"] > 1e-9]


def naive_sales(
    lots: pd.DataFrame, targets: pd.DataFrame, account_cash: pd.DataFrame, requests: pd.DataFrame
) -> pd.DataFrame:
    """Quantity per (account, security) the tax-naive rebalancer sells."""
    holdings = lots.groupby(["household_id", "account_id", "security_id"], as_index=False).agg(
        quantity=("quantity", "sum"), price=("price", "first")
    )
    holdings["value"] = holdings["quantity"] * holdings["price"]
    cash = account_cash.groupby("household_id")["cash"].sum()
    outflow = requests.groupby("household_id")["amount"].sum() if len(requests) else pd.Series(dtype=float)
    household_value = holdings.groupby("household_id")["value"].sum().add(cash, fill_value=0.0)
    value_after = household_value.sub(outflow, fill_value=0.0).clip(lower=0.0)

    by_security = holdings.groupby(["household_id", "security_id"], as_index=False)["value"].sum()
    by_security = by_security.merge(targets[["household_id", "security_id", "target_weight"]],
                                    on=["household_id", "security_id"], how="left")
    by_security["target_weight"] = by_security["target_weight"].fillna(0.0)
    by_security["excess"] = (
        by_security["value"] - by_security["target_weight"] * by_security["household_id"].map(value_after)
    ).clip(lower=0.0)
    holdings = holdings.merge(by_security[["household_id", "security_id", "value", "excess"]].rename(
        columns={"value": "household_security_value"}), on=["household_id", "security_id"])
    share = np.where(holdings["household_security_value"] > 0, holdings["value"] / holdings["household_security_value"], 0.0)
    holdings["rebalance_sell_value"] = holdings["excess"] * share

    # Cash needs (withdrawals and cash gifts), raised pro rata from what the account still holds.
    needs = requests.groupby("account_id")["amount"].sum() if len(requests) else pd.Series(dtype=float)
    per_account = holdings.groupby("account_id").agg(
        proceeds=("rebalance_sell_value", "sum"), held=("value", "sum")
    )
    per_account["cash"] = account_cash.set_index("account_id")["cash"].reindex(per_account.index).fillna(0.0)
    per_account["need"] = needs.reindex(per_account.index).fillna(0.0)
    per_account["remaining"] = per_account["held"] - per_account["proceeds"]
    shortfall = (per_account["need"] - per_account["cash"] - per_account["proceeds"]).clip(lower=0.0)
    fraction = np.where(per_account["remaining"] > 0, shortfall / per_account["remaining"], 0.0)
    holdings["raise_fraction"] = holdings["account_id"].map(pd.Series(np.clip(fraction, 0, 1), index=per_account.index))
    remaining_value = holdings["value"] - holdings["rebalance_sell_value"]
    sell_value = holdings["rebalance_sell_value"] + holdings["raise_fraction"] * remaining_value
    holdings["quantity"] = np.minimum(holdings["quantity"], sell_value / holdings["price"])
    return holdings.loc[holdings["quantity"] > 1e-9, ["account_id", "security_id", "quantity"]]


def _gains_by_account(realized: pd.DataFrame) -> pd.DataFrame:
    realized = realized.assign(
        st_gain=np.where(realized["holding_term"] == "short", realized["gain"], 0.0),
        lt_gain=np.where(realized["holding_term"] == "long", realized["gain"], 0.0),
    )
    realized["st_gain_pos"] = realized["st_gain"].clip(lower=0)
    realized["lt_gain_pos"] = realized["lt_gain"].clip(lower=0)
    realized["st_loss"] = realized["st_gain"].clip(upper=0)
    realized["lt_loss"] = realized["lt_gain"].clip(upper=0)
    return realized.groupby("account_id")[["st_gain", "lt_gain", "st_gain_pos", "lt_gain_pos", "st_loss", "lt_loss"]].sum()


def taxes_saved_by_account(
    trades: pd.DataFrame,
    lots: pd.DataFrame,
    accounts: pd.DataFrame,
    households: pd.DataFrame,
    targets: pd.DataFrame,
    account_cash: pd.DataFrame,
    requests: pd.DataFrame,
) -> pd.DataFrame:
    rates = households.set_index("household_id")[["st_rate", "lt_rate", "advisory_fee_bps"]]
    acct = accounts.set_index("account_id")
    ready = set(trades["household_id"]) if len(trades) else set()
    scope_lots = lots[lots["household_id"].isin(ready)]

    sold = trades[trades["side"] == "sell"]
    actual = _gains_by_account(pd.DataFrame({
        "account_id": sold["account_id"], "gain": sold["realized_gain"].astype(float), "holding_term": sold["holding_term"],
    }))
    naive_quantity = naive_sales(scope_lots, targets, account_cash[account_cash["household_id"].isin(ready)],
                                 requests[requests["household_id"].isin(ready)])
    relieved = fifo_relief(scope_lots, naive_quantity)
    naive = _gains_by_account(pd.DataFrame({
        "account_id": relieved["account_id"],
        "gain": relieved["sold"] * (relieved["price"] - relieved["cost_basis"] / relieved["quantity"]),
        "holding_term": np.where(relieved["is_long_term"], "long", "short"),
    }))
    gifts = trades[trades["side"] == "gift"]
    gift_gain = (gifts["quantity"] * gifts["price"] - gifts["cost_basis_relieved"].astype(float)).groupby(gifts["account_id"]).sum()

    value = lots.groupby("account_id").apply(lambda f: float((f["quantity"] * f["price"]).sum()), include_groups=False)
    value = value.add(account_cash.set_index("account_id")["cash"], fill_value=0.0)
    report = accounts[accounts["household_id"].isin(ready)][["household_id", "account_id", "registration", "taxable"]].copy()
    report = report.sort_values(["household_id", "account_id"]).reset_index(drop=True)
    idx = report["account_id"]
    st = report["household_id"].map(rates["st_rate"]).to_numpy()
    lt = report["household_id"].map(rates["lt_rate"]).to_numpy()
    taxable = report["taxable"].astype(bool).to_numpy()

    def col(frame: pd.DataFrame, name: str) -> np.ndarray:
        return frame[name].reindex(idx).fillna(0.0).to_numpy() if len(frame) else np.zeros(len(idx))

    a_st, a_lt = col(actual, "st_gain"), col(actual, "lt_gain")
    n_st, n_lt = col(naive, "st_gain"), col(naive, "lt_gain")
    a_gain_tax = (col(actual, "st_gain_pos") * st + col(actual, "lt_gain_pos") * lt) * taxable
    n_gain_tax = (col(naive, "st_gain_pos") * st + col(naive, "lt_gain_pos") * lt) * taxable
    a_loss_benefit = -(col(actual, "st_loss") * st + col(actual, "lt_loss") * lt) * taxable
    n_loss_benefit = -(col(naive, "st_loss") * st + col(naive, "lt_loss") * lt) * taxable
    conversion = np.clip(col(naive, "st_gain_pos") - col(actual, "st_gain_pos"), 0, None) * (st - lt) * taxable
    gift_avoided = gift_gain.reindex(idx).fillna(0.0).to_numpy() * lt * taxable

    report["market_value"] = value.reindex(idx).fillna(0.0).to_numpy().round(2)
    report["advisory_fee_annual"] = (report["market_value"] * report["household_id"].map(rates["advisory_fee_bps"]) / 1e4).round(2)
    report["actual_st_gain"], report["actual_lt_gain"] = a_st.round(2), a_lt.round(2)
    report["actual_tax"] = (a_gain_tax - a_loss_benefit).round(2)
    report["naive_st_gain"], report["naive_lt_gain"] = n_st.round(2), n_lt.round(2)
    report["naive_tax"] = (n_gain_tax - n_loss_benefit).round(2)
    report["taxes_saved_st_to_lt"] = conversion.round(2)
    report["taxes_deferred"] = (n_gain_tax - a_gain_tax - conversion).round(2)
    report["taxes_saved_loss_harvest"] = (a_loss_benefit - n_loss_benefit).round(2)
    report["gift_tax_avoided"] = gift_avoided.round(2)
    report["taxes_saved_or_deferred"] = (
        report["taxes_deferred"] + report["taxes_saved_st_to_lt"] + report["taxes_saved_loss_harvest"] + report["gift_tax_avoided"]
    ).round(2)
    return report[REPORT_COLUMNS]


def household_summary(by_account: pd.DataFrame) -> pd.DataFrame:
    numeric = [c for c in REPORT_COLUMNS if c not in ("household_id", "account_id", "registration", "taxable")]
    return by_account.groupby("household_id", as_index=False)[numeric].sum().round(2)


def firm_summary(by_household: pd.DataFrame, outcomes: pd.DataFrame) -> dict:
    saved = by_household["taxes_saved_or_deferred"] if len(by_household) else pd.Series(dtype=float)
    status = outcomes["status"].value_counts().to_dict() if len(outcomes) else {}
    return {
        "households_reported": int(len(by_household)),
        "households_by_status": {k: int(v) for k, v in sorted(status.items())},
        "actual_tax": round(float(by_household["actual_tax"].sum()), 2) if len(by_household) else 0.0,
        "naive_tax": round(float(by_household["naive_tax"].sum()), 2) if len(by_household) else 0.0,
        "taxes_deferred": round(float(by_household["taxes_deferred"].sum()), 2) if len(by_household) else 0.0,
        "taxes_saved_st_to_lt": round(float(by_household["taxes_saved_st_to_lt"].sum()), 2) if len(by_household) else 0.0,
        "taxes_saved_loss_harvest": round(float(by_household["taxes_saved_loss_harvest"].sum()), 2) if len(by_household) else 0.0,
        "gift_tax_avoided": round(float(by_household["gift_tax_avoided"].sum()), 2) if len(by_household) else 0.0,
        "taxes_saved_or_deferred": round(float(saved.sum()), 2),
        "per_household_p10": round(float(saved.quantile(0.10)), 2) if len(saved) else 0.0,
        "per_household_median": round(float(saved.median()), 2) if len(saved) else 0.0,
        "per_household_p90": round(float(saved.quantile(0.90)), 2) if len(saved) else 0.0,
    }


YTD_COMPONENTS = ["actual_tax", "naive_tax", "taxes_deferred", "taxes_saved_st_to_lt", "taxes_saved_loss_harvest",
                  "gift_tax_avoided", "taxes_saved_or_deferred"]


def year_to_date(history: pd.DataFrame, as_of) -> pd.DataFrame:
    """Sum each account's daily reports from January 1 of as_of's year through as_of (one row per run day)."""
    start = pd.Timestamp(year=as_of.year, month=1, day=1)
    dates = pd.to_datetime(history["as_of_date"])
    year = history[(dates >= start) & (dates <= pd.Timestamp(as_of))]
    ytd = year.groupby(["household_id", "account_id"], as_index=False).agg(
        days_reported=("as_of_date", "nunique"), **{f"ytd_{c}": (c, "sum") for c in YTD_COMPONENTS}
    )
    return ytd.round(2).sort_values(["household_id", "account_id"]).reset_index(drop=True)
