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
- gift_tax_avoided: embedded gain of the lots given to charity times the lt rate;
- wash_sale_losses_avoided: tax value of the losses the naive side realizes today that the wash-sale
  rule disallows (deferred into the replacement's basis, no deduction this year): a loss lot of an
  identical group the naive side buys back the same day in any account of the household, or one
  bought in the last 30 days (an active no_loss_sale window; the window's own lot excepted). The
  optimizer never does either, so its losses all count.
The total is their sum, equal to naive tax - our tax + gift_tax_avoided. It is an estimate for one
day's trades at marginal rates; household netting across the year is the tax-lot engine's job.

Transitions: for households in ``transitioning`` (onboarding a legacy portfolio) the counterfactual
is liquidation: every lot is sold (FIFO is then moot) and the model bought with the proceeds.

Life-cycle events of the day (docs/lifecycle.md), in the same per-account rows:
- a household-level cash_withdrawal (account_choice household, or no account): the optimizer chose
  the paying accounts (optimization/policies.py); the naive side pays it all from the client's
  account (the request's account_id, else the household's first taxable account), pro rata FIFO.
  A traditional-IRA distribution is ordinary income on either side: `ordinary_income_tax_saved` =
  the naive side's ordinary income tax - ours (per account; in actual_tax / naive_tax and the total);
- a tax_loss_harvest request: the harvested losses are ours alone (the naive side does not harvest):
  they land in taxes_saved_loss_harvest like any harvest;
- `events`: the request types the household had that day (`cash_withdrawal:household`,
  `tax_loss_harvest`, ...), blank when none.
Named-account withdrawals from an IRA are the same distribution on both sides and are left out of
the ordinary income tax.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from taxlots.fanout import rows_of_ranges

CASH = "CASH"

REPORT_COLUMNS = [
    "household_id", "account_id", "registration", "taxable", "market_value", "advisory_fee_annual",
    "actual_st_gain", "actual_lt_gain", "actual_tax", "naive_st_gain", "naive_lt_gain", "naive_tax",
    "taxes_deferred", "taxes_saved_st_to_lt", "taxes_saved_loss_harvest", "gift_tax_avoided",
    "wash_sale_losses_avoided", "taxes_saved_or_deferred", "counterfactual",
]
# appended after REPORT_COLUMNS by taxes_saved_by_account (life-cycle events; module docstring)
EVENT_COLUMNS = ["ordinary_income_tax_saved", "events"]
CASH_REQUESTS = ("cash_withdrawal", "charitable_gift")


def household_withdrawals(requests: pd.DataFrame) -> pd.Series:
    """Mask of the requests that are household-level cash withdrawals (the optimizer picks the accounts)."""
    if not len(requests):
        return pd.Series(False, index=requests.index)
    choice = requests["account_choice"] if "account_choice" in requests.columns else pd.Series(None, index=requests.index)
    return (requests["request_type"] == "cash_withdrawal") & ((choice == "household") | requests["account_id"].isna())


def todays_requests(requests: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The day's own requests (fct_requests also carries earlier harvest holds: requested_on < as_of)."""
    if as_of is None or "requested_on" not in requests.columns or not len(requests):
        return requests
    on = pd.to_datetime(requests["requested_on"])
    return requests[on.isna() | (on >= pd.Timestamp(as_of))]


def naive_payers(requests: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Cash requests with the account the naive side raises them in: a household withdrawal is paid
    from the client's account (its account_id) or else the household's first taxable account."""
    cash = requests[requests["request_type"].isin(CASH_REQUESTS)].copy()
    household = household_withdrawals(cash)
    if household.any():
        taxable = accounts[accounts["taxable"].astype(bool)].sort_values("account_id")
        first = taxable.groupby("household_id")["account_id"].first()
        cash.loc[household, "account_id"] = cash.loc[household, "account_id"].fillna(
            cash.loc[household, "household_id"].map(first))
    return cash


def fifo_relief(lots: pd.DataFrame, sell_quantity: pd.DataFrame) -> pd.DataFrame:
    """Relieve ``sell_quantity`` (account_id, security_id, quantity) from ``lots`` oldest first."""
    # only the positions sold are sorted and joined: the rest would be dropped by the inner join
    sold = pd.MultiIndex.from_frame(sell_quantity[["account_id", "security_id"]])
    lots = lots[pd.MultiIndex.from_frame(lots[["account_id", "security_id"]]).isin(sold)]
    ordered = lots.sort_values(["account_id", "security_id", "acquired_date", "lot_id"], kind="stable")
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
    lots: pd.DataFrame, targets: pd.DataFrame, account_cash: pd.DataFrame, requests: pd.DataFrame,
    transitioning: frozenset = frozenset(),
) -> pd.DataFrame:
    """Quantity per (account, security) the tax-naive rebalancer sells (every lot of a
    transitioning household: liquidation)."""
    holdings = lots.groupby(["household_id", "account_id", "security_id"], as_index=False).agg(
        quantity=("quantity", "sum"), price=("price", "first")
    )
    holdings["value"] = holdings["quantity"] * holdings["price"]
    cash = account_cash.groupby("household_id")["cash"].sum()
    requests = requests[requests["request_type"].isin(CASH_REQUESTS)] if len(requests) else requests
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
    liquidate = holdings["household_id"].isin(transitioning)
    holdings["quantity"] = np.where(liquidate, holdings["quantity"], np.minimum(holdings["quantity"], sell_value / holdings["price"]))
    return holdings.loc[holdings["quantity"] > 1e-9, ["account_id", "security_id", "quantity"]]


def naive_buy_groups(
    lots: pd.DataFrame, targets: pd.DataFrame, securities: pd.DataFrame, sold: pd.DataFrame,
    account_cash: pd.DataFrame, requests: pd.DataFrame, transitioning: frozenset = frozenset(),
) -> set[tuple[str, str]]:
    """(household_id, identical_group) the naive side buys today: every target security left
    below its target after the naive sales (all of the model for a liquidated household)."""
    group = securities.set_index("security_id")["identical_group"] if len(securities) else pd.Series(dtype=str)
    value = (lots["quantity"] * lots["price"]).rename("value")  # not a copy of the lots with a value column
    price = lots.groupby("security_id")["price"].first()
    sold_value = sold.assign(value=sold["quantity"] * sold["security_id"].map(price))
    household_of = lots.drop_duplicates("account_id").set_index("account_id")["household_id"]
    sold_value["household_id"] = sold_value["account_id"].map(household_of)
    after = value.groupby([lots["household_id"], lots["security_id"]]).sum().sub(
        sold_value.groupby(["household_id", "security_id"])["value"].sum(), fill_value=0.0)
    cash = account_cash.groupby("household_id")["cash"].sum()
    requests = requests[requests["request_type"].isin(CASH_REQUESTS)] if len(requests) else requests
    outflow = requests.groupby("household_id")["amount"].sum() if len(requests) else pd.Series(dtype=float)
    value_after = value.groupby(lots["household_id"]).sum().add(cash, fill_value=0.0).sub(outflow, fill_value=0.0)
    wanted = targets[(targets["target_weight"] > 0) & (targets["security_id"] != CASH)]
    wanted = wanted[wanted["household_id"].isin(value_after.index)]
    keys = pd.MultiIndex.from_arrays([wanted["household_id"], wanted["security_id"]])
    have = after.reindex(keys, fill_value=0.0).to_numpy()
    short = have < wanted["target_weight"].to_numpy() * wanted["household_id"].map(value_after).to_numpy() - 1.0
    buys = wanted[wanted["household_id"].isin(transitioning).to_numpy() | short]
    group_of = group.to_dict()
    return {(h, group_of.get(s, s)) for h, s in zip(buys["household_id"].to_numpy(), buys["security_id"].to_numpy())}


def wash_sale_disallowed(
    relieved: pd.DataFrame, securities: pd.DataFrame, buy_groups: set, wash_windows: pd.DataFrame | None, as_of,
) -> np.ndarray:
    """Per naive lot relief: True where its loss is a wash sale (see the module docstring)."""
    if relieved.empty:
        return np.zeros(0, dtype=bool)
    group = securities.set_index("security_id")["identical_group"] if len(securities) else pd.Series(dtype=str)
    g = relieved["security_id"].map(group).fillna(relieved["security_id"])
    loss = relieved["price"] < relieved["cost_basis"] / relieved["quantity"]
    households, groups = relieved["household_id"].to_numpy(), g.to_numpy()
    rebought = np.array([(h, gg) in buy_groups for h, gg in zip(households, groups)], dtype=bool)
    recent = np.zeros(len(relieved), dtype=bool)
    if wash_windows is not None and len(wash_windows):
        w = wash_windows[(wash_windows["window_type"] == "no_loss_sale")]
        if as_of is not None and "window_end" in w.columns:
            w = w[pd.to_datetime(w["window_end"]) >= pd.Timestamp(as_of)]
        exempt: dict[tuple, set] = {}
        exempt_lots = w["exempt_lot_id"].to_numpy() if "exempt_lot_id" in w.columns else [None] * len(w)
        for h, gg, lot in zip(w["household_id"].to_numpy(), w["identical_group"].to_numpy(), exempt_lots):
            exempt.setdefault((h, gg), set()).add(lot)
        recent = np.array([
            (h, gg) in exempt and lot not in exempt[(h, gg)]
            for h, gg, lot in zip(households, groups, relieved["lot_id"].to_numpy())
        ], dtype=bool)
    return (loss & (rebought | recent)).to_numpy()


def account_values(lots: pd.DataFrame) -> pd.Series:
    """Market value of each account's lots (quantity x price), by account_id in sorted order; each
    account's sum is numpy's over its lots in row order, as a per-account Series.sum gives."""
    value = (lots["quantity"] * lots["price"]).to_numpy()
    rows = lots.groupby("account_id").indices
    accounts = sorted(rows)
    return pd.Series([float(np.nansum(value[rows[a]])) for a in accounts],
                     index=pd.Index(accounts, name="account_id"), dtype=float)


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
    securities: pd.DataFrame | None = None,
    wash_windows: pd.DataFrame | None = None,
    as_of=None,
    transitioning: frozenset = frozenset(),
) -> pd.DataFrame:
    """The report per account (REPORT_COLUMNS). ``securities`` (identical groups) and
    ``wash_windows`` let the naive side's wash sales count; ``transitioning`` households are
    compared with liquidation."""
    rates = households.set_index("household_id")[["st_rate", "lt_rate", "advisory_fee_bps"]]
    acct = accounts.set_index("account_id")
    ready = set(trades["household_id"].unique()) if len(trades) else set()
    scope_lots = lots[lots["household_id"].isin(ready)]

    sold = trades[trades["side"] == "sell"]
    actual = _gains_by_account(pd.DataFrame({
        "account_id": sold["account_id"], "gain": sold["realized_gain"].astype(float), "holding_term": sold["holding_term"],
    }))
    scope_cash = account_cash[account_cash["household_id"].isin(ready)]
    day_requests = todays_requests(requests, as_of)
    scope_requests = naive_payers(day_requests[day_requests["household_id"].isin(ready)], accounts)
    naive_quantity = naive_sales(scope_lots, targets, scope_cash, scope_requests, transitioning)
    relieved = fifo_relief(scope_lots, naive_quantity)
    naive_gain = relieved["sold"] * (relieved["price"] - relieved["cost_basis"] / relieved["quantity"])
    if securities is not None and len(relieved):
        buys = naive_buy_groups(scope_lots, targets, securities, naive_quantity, scope_cash, scope_requests, transitioning)
        washed = wash_sale_disallowed(relieved, securities, buys, wash_windows, as_of)
    else:
        washed = np.zeros(len(relieved), dtype=bool)
    naive = _gains_by_account(pd.DataFrame({
        "account_id": relieved["account_id"], "gain": naive_gain,
        "holding_term": np.where(relieved["is_long_term"], "long", "short"),
    }))
    disallowed = _gains_by_account(pd.DataFrame({
        "account_id": relieved["account_id"][washed], "gain": naive_gain[washed],
        "holding_term": np.where(relieved["is_long_term"][washed], "long", "short"),
    })) if washed.any() else pd.DataFrame()
    gifts = trades[trades["side"] == "gift"]
    gift_gain = (gifts["quantity"] * gifts["price"] - gifts["cost_basis_relieved"].astype(float)).groupby(gifts["account_id"]).sum()

    value = account_values(lots)
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
    # the naive side's disallowed losses: counted above as if allowed, taken back here
    washed_benefit = -(col(disallowed, "st_loss") * st + col(disallowed, "lt_loss") * lt) * taxable
    report["naive_tax"] = (n_gain_tax - n_loss_benefit + washed_benefit).round(2)
    report["wash_sale_losses_avoided"] = washed_benefit.round(2)
    report["taxes_saved_or_deferred"] = (
        report["taxes_deferred"] + report["taxes_saved_st_to_lt"] + report["taxes_saved_loss_harvest"]
        + report["gift_tax_avoided"] + report["wash_sale_losses_avoided"]
    ).round(2)
    report["counterfactual"] = np.where(report["household_id"].isin(transitioning), "liquidation", "pro_rata_fifo")

    # life-cycle events: the ordinary income tax of household withdrawals from traditional IRAs
    ours, theirs = withdrawal_income_tax(
        day_requests[day_requests["household_id"].isin(ready)], scope_requests, lots, accounts, households,
        targets, account_cash, securities, wash_windows, as_of)
    a_income = ours.reindex(idx).fillna(0.0).to_numpy()
    n_income = theirs.reindex(idx).fillna(0.0).to_numpy()
    report["ordinary_income_tax_saved"] = (n_income - a_income).round(2)
    report["actual_tax"] = (report["actual_tax"] + a_income).round(2)
    report["naive_tax"] = (report["naive_tax"] + n_income).round(2)
    report["taxes_saved_or_deferred"] = (report["taxes_saved_or_deferred"] + report["ordinary_income_tax_saved"]).round(2)
    events = request_events(day_requests)
    report["events"] = [str(events.get(h, "")) for h in report["household_id"]]
    return report[REPORT_COLUMNS + EVENT_COLUMNS]


HOUSEHOLDS_PER_RANGE = 1_000


def taxes_saved_by_account_in_ranges(
    trades: pd.DataFrame,
    lots: pd.DataFrame,
    accounts: pd.DataFrame,
    households: pd.DataFrame,
    targets: pd.DataFrame,
    account_cash: pd.DataFrame,
    requests: pd.DataFrame,
    securities: pd.DataFrame | None = None,
    wash_windows: pd.DataFrame | None = None,
    as_of=None,
    transitioning: frozenset = frozenset(),
    households_per_range: int = HOUSEHOLDS_PER_RANGE,
) -> pd.DataFrame:
    """taxes_saved_by_account, the same rows, computed one range of the trading households at a time.

    Every figure is one household's (its accounts, lots, targets, cash, requests and wash windows;
    the naive buys' price per security is the same in every lot, fct_lots joins it per security),
    and a range's rows keep their order, so the ranges' reports in household order are the whole
    report. The naive side's holdings and FIFO reliefs (each a copy of most of the 6M lots at 10,000
    households) then exist for one range at a time."""
    trading = sorted(set(trades["household_id"].unique())) if len(trades) else []
    if len(trading) <= households_per_range:
        return taxes_saved_by_account(trades, lots, accounts, households, targets, account_cash, requests,
                                      securities, wash_windows, as_of, transitioning)
    ranges = [trading[i:i + households_per_range] for i in range(0, len(trading), households_per_range)]
    frames = {"trades": trades, "lots": lots, "accounts": accounts, "households": households, "targets": targets,
              "account_cash": account_cash, "requests": requests, "wash_windows": wash_windows}
    rows = {name: rows_of_ranges(frame["household_id"], ranges) for name, frame in frames.items() if frame is not None}
    reports = [
        taxes_saved_by_account(**{name: frames[name].iloc[positions[k]] for name, positions in rows.items()},
                               securities=securities, as_of=as_of, transitioning=transitioning)
        for k in range(len(ranges))
    ]
    return pd.concat(reports, ignore_index=True)


def request_events(requests: pd.DataFrame) -> pd.Series:
    """Per household: its request types of the day, ';'-joined (household withdrawals marked)."""
    if not len(requests):
        return pd.Series(dtype=object)
    requests = requests[requests["household_id"].notna()]
    label = requests["request_type"].where(~household_withdrawals(requests), "cash_withdrawal:household")
    return label.groupby(requests["household_id"]).agg(lambda s: ";".join(sorted(set(s))))


def withdrawal_income_tax(
    requests: pd.DataFrame, naive_requests: pd.DataFrame, lots: pd.DataFrame, accounts: pd.DataFrame,
    households: pd.DataFrame, targets: pd.DataFrame, account_cash: pd.DataFrame, securities: pd.DataFrame | None,
    wash_windows: pd.DataFrame | None, as_of,
) -> tuple[pd.Series, pd.Series]:
    """(ours, naive) ordinary income tax per account of the household withdrawals: ours from the
    split the optimizer was given (rebuilt from the same marts by household_problems_from_marts:
    the same pure function, so the same split; never_sell restrictions are not in these frames),
    the naive side's from its paying account when that is a traditional IRA."""
    mask = household_withdrawals(requests)
    if not mask.any() or as_of is None or securities is None:
        return pd.Series(dtype=float), pd.Series(dtype=float)
    from optimization import OptimizerSettings, household_problems_from_marts
    from optimization.policies import ordinary_income_tax

    chosen = requests[mask]
    ids = sorted(set(chosen["household_id"]))
    hh = households[households["household_id"].isin(ids)]
    frames = {
        "dim_securities": securities, "dim_accounts": accounts[accounts["household_id"].isin(ids)],
        "dim_households": hh, "fct_lots": lots[lots["household_id"].isin(ids)],
        "fct_positions": pd.DataFrame(columns=["account_id", "household_id", "security_id"]),
        "fct_account_cash": account_cash[account_cash["household_id"].isin(ids)],
        "fct_household_targets": targets[targets["household_id"].isin(ids)],
        "fct_wash_sale_windows": wash_windows[wash_windows["household_id"].isin(ids)] if wash_windows is not None
        else pd.DataFrame(columns=["household_id", "identical_group", "window_type", "window_start", "window_end", "exempt_lot_id"]),
        "fct_buy_restrictions": pd.DataFrame(columns=["account_id", "security_id"]),
        "fct_requests": requests[requests["household_id"].isin(ids)],
        "fct_household_readiness": pd.DataFrame({"household_id": ids, "is_ready": True}),
    }
    ours: dict[str, float] = {}
    for problem in household_problems_from_marts(frames, as_of, OptimizerSettings()):
        if problem.error:
            continue
        mine = requests[(requests["household_id"] == problem.household_id) & ~mask]
        named = mine[mine["request_type"] == "cash_withdrawal"].groupby("account_id")["amount"].sum()
        for a in problem.accounts:
            extra = a.withdrawal - float(named.get(a.account_id, 0.0))
            if extra > 0.005:
                ours[a.account_id] = ordinary_income_tax(problem, {a.account_id: extra}, problem.ordinary_rate)
    ordinary = (households.set_index("household_id")["st_rate"]
                - households.set_index("household_id").get("niit_rate", pd.Series(dtype=float)).fillna(0.0)
                if "ordinary_rate" not in households.columns
                else households.set_index("household_id")["ordinary_rate"])
    registration = accounts.set_index("account_id")["registration"]
    naive = naive_requests[naive_requests.index.isin(chosen.index)]
    theirs: dict[str, float] = {}
    for r in naive.itertuples():
        if registration.get(r.account_id) == "traditional_ira":
            theirs[r.account_id] = theirs.get(r.account_id, 0.0) + float(r.amount) * float(ordinary.get(r.household_id, 0.0))
    return pd.Series(ours, dtype=float), pd.Series(theirs, dtype=float)


def household_summary(by_account: pd.DataFrame) -> pd.DataFrame:
    numeric = [c for c in REPORT_COLUMNS + EVENT_COLUMNS if c in by_account.columns
               and c not in ("household_id", "account_id", "registration", "taxable", "counterfactual", "events")]
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
        "wash_sale_losses_avoided": round(float(by_household["wash_sale_losses_avoided"].sum()), 2)
        if len(by_household) and "wash_sale_losses_avoided" in by_household else 0.0,
        "taxes_saved_or_deferred": round(float(saved.sum()), 2),
        "per_household_p10": round(float(saved.quantile(0.10)), 2) if len(saved) else 0.0,
        "per_household_median": round(float(saved.median()), 2) if len(saved) else 0.0,
        "per_household_p90": round(float(saved.quantile(0.90)), 2) if len(saved) else 0.0,
    }


YTD_COMPONENTS = ["actual_tax", "naive_tax", "taxes_deferred", "taxes_saved_st_to_lt", "taxes_saved_loss_harvest",
                  "gift_tax_avoided", "wash_sale_losses_avoided", "ordinary_income_tax_saved", "taxes_saved_or_deferred"]


def year_to_date(history: pd.DataFrame, as_of) -> pd.DataFrame:
    """Sum each account's daily reports from January 1 of as_of's year through as_of (one row per run day)."""
    start = pd.Timestamp(year=as_of.year, month=1, day=1)
    history = history.copy()
    for c in YTD_COMPONENTS:  # ledgers written before a component existed have no column for it
        if c not in history.columns:
            history[c] = 0.0
        history[c] = history[c].fillna(0.0)
    dates = pd.to_datetime(history["as_of_date"])
    year = history[(dates >= start) & (dates <= pd.Timestamp(as_of))]
    ytd = year.groupby(["household_id", "account_id"], as_index=False).agg(
        days_reported=("as_of_date", "nunique"), **{f"ytd_{c}": (c, "sum") for c in YTD_COMPONENTS}
    )
    return ytd.round(2).sort_values(["household_id", "account_id"]).reset_index(drop=True)


def fee_coverage(ytd: pd.DataFrame, by_account: pd.DataFrame, as_of) -> dict:
    """Share of accounts whose taxes saved or deferred this year exceed their advisory fee this year
    (the annual fee from the account master's fee schedule, pro rata to the day of the year)."""
    if ytd.empty:
        return {"accounts_with_fee": 0, "accounts_saved_more_than_fee": 0, "share_saved_more_than_fee": 0.0}
    elapsed = (pd.Timestamp(as_of).day_of_year) / (366 if pd.Timestamp(as_of).is_leap_year else 365)
    fee = by_account.set_index("account_id")["advisory_fee_annual"].reindex(ytd["account_id"]).to_numpy() * elapsed
    has_fee = fee > 0
    over = (ytd["ytd_taxes_saved_or_deferred"].to_numpy() > fee) & has_fee
    return {
        "accounts_with_fee": int(has_fee.sum()),
        "accounts_saved_more_than_fee": int(over.sum()),
        "share_saved_more_than_fee": round(float(over.sum() / has_fee.sum()), 4) if has_fee.any() else 0.0,
    }


def holding_values(lots: pd.DataFrame) -> pd.Series:
    """Market value (quantity x price) per household and security."""
    return lots.assign(value=lots["quantity"] * lots["price"]).groupby(["household_id", "security_id"])["value"].sum()


def household_weights(lots: pd.DataFrame, account_cash: pd.DataFrame, trades: pd.DataFrame | None = None,
                      requests: pd.DataFrame | None = None, held: pd.Series | None = None) -> pd.DataFrame:
    """household_id, security_id, weight (CASH included) before trades, or after ``trades``
    (sells and gifts leave, buys arrive, withdrawals and gifts leave the household).

    ``held``: holding_values(lots), when the caller has it (the before and after weights share it:
    a group-by of every lot, 6M at 10,000 households)."""
    value = holding_values(lots) if held is None else held
    cash = account_cash.groupby("household_id")["cash"].sum()
    if trades is not None and len(trades):
        signed = np.select([trades["side"] == "buy", trades["side"].isin(["sell", "gift"])],
                           [trades["trade_value"], -trades["trade_value"]], 0.0)
        moves = pd.Series(signed, index=pd.MultiIndex.from_frame(trades[["household_id", "security_id"]])).groupby(level=[0, 1]).sum()
        value = value.add(moves, fill_value=0.0)
        flows = pd.Series(np.select([trades["side"] == "sell", trades["side"] == "buy"],
                                    [trades["trade_value"], -trades["trade_value"]], 0.0), index=trades["household_id"])
        cash = cash.add(flows.groupby(level=0).sum(), fill_value=0.0)
        if requests is not None and len(requests):
            withdrawn = requests[requests["request_type"] == "cash_withdrawal"].groupby("household_id")["amount"].sum()
            cash = cash.sub(withdrawn, fill_value=0.0)
    frame = value.rename("value").reset_index()
    frame = pd.concat([frame, pd.DataFrame({"household_id": cash.index, "security_id": CASH, "value": cash.to_numpy()})])
    total = frame.groupby("household_id")["value"].transform("sum")
    frame["weight"] = np.where(total > 0, frame["value"] / total, 0.0)
    return frame[["household_id", "security_id", "weight"]].reset_index(drop=True)


def return_dispersion(
    portfolios: dict[str, pd.DataFrame], targets: pd.DataFrame, price_history: pd.DataFrame, days: int = 252,
) -> pd.DataFrame:
    """Per model: how far apart the households of one model stand, as the cross-household standard
    deviation of their active return (portfolio minus its own target) over the last ``days``
    trading days, holdings-based (today's weights held over that period), in percent; one column
    per portfolio in ``portfolios`` (e.g. before and after today's trades).

    Holdings-based because the warehouse keeps today's holdings, not a performance history: it
    measures the dispersion that systematic rebalancing is meant to shrink (published: 60% lower
    than ad hoc rebalancing), not realized performance."""
    columns = ["model_id", "households"] + [f"active_return_dispersion_{name}_pct" for name in portfolios]
    if targets.empty or price_history.empty:
        return pd.DataFrame(columns=columns)
    closes = price_history.pivot_table(index="price_date", columns="security_id", values="close").sort_index()
    closes = closes.iloc[-(days + 1):]
    growth = (closes.iloc[-1] / closes.iloc[0] - 1.0).replace([np.inf, -np.inf], np.nan)

    def returns(weights: pd.DataFrame) -> pd.Series:
        r = weights["security_id"].map(growth).fillna(0.0)  # CASH and unpriced: 0
        return (weights["weight"] * r).groupby(weights["household_id"]).sum()

    target_return = returns(targets.rename(columns={"target_weight": "weight"}))
    model_of = targets.groupby("household_id")["model_id"].first()
    out = pd.DataFrame({"model_id": model_of})
    for name, weights in portfolios.items():
        out[name] = returns(weights).reindex(out.index) - target_return.reindex(out.index)
    rows = []
    for model_id, group in out.dropna(subset=["model_id"]).groupby("model_id"):
        row = {"model_id": model_id, "households": len(group)}
        for name in portfolios:
            row[f"active_return_dispersion_{name}_pct"] = round(float(group[name].std(ddof=0)) * 100, 4)
        rows.append(row)
    return pd.DataFrame(rows, columns=columns)
