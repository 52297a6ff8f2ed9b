"""The quality gates, as GX suites defined in code, one per table the optimizer or the orders read.

Each ``check_<table>`` takes plain DataFrames (what the marts hold for one as-of date), builds the
frame the rule is stated on (for rules across rows, e.g. "target weights sum to 1 per household",
a small derived frame), and validates it. Every expectation is a rule that protects money; the
suite names say which table and rule failed.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from expectations.runner import SuiteOutcome, validate

WEIGHT_TOLERANCE = 1e-6
CASH = "CASH"


def _gx():
    import great_expectations as gx

    return gx.expectations


def _days_from(as_of: dt.date, dates: pd.Series) -> pd.Series:
    return (pd.to_datetime(dates) - pd.Timestamp(as_of)).dt.days


def check_security_prices(securities: pd.DataFrame, lots: pd.DataFrame, targets: pd.DataFrame, as_of: dt.date) -> SuiteOutcome:
    """Firm gate: every held or target security has a price > 0 dated the as-of day."""
    E = _gx()
    needed = pd.Index(lots["security_id"]).union(pd.Index(targets["security_id"])).unique()
    needed = needed[needed != CASH]
    priced = securities.set_index("security_id")[["price", "price_date"]]
    frame = pd.DataFrame({"security_id": needed}).join(priced, on="security_id")
    frame["price_age_days"] = -_days_from(as_of, frame["price_date"])
    return validate(
        frame,
        "security_prices",
        [
            E.ExpectColumnValuesToNotBeNull(column="price"),
            E.ExpectColumnValuesToBeBetween(column="price", min_value=0, strict_min=True),
            E.ExpectColumnValuesToNotBeNull(column="price_age_days"),
            E.ExpectColumnValuesToBeBetween(column="price_age_days", min_value=0, max_value=0),
        ],
    )


def check_lots(lots: pd.DataFrame, as_of: dt.date) -> SuiteOutcome:
    """Lots: positive quantity, non-negative basis, acquired no later than today, unique ids."""
    E = _gx()
    frame = lots[["lot_id", "account_id", "security_id", "quantity", "cost_basis"]].copy()
    frame["days_since_acquired"] = -_days_from(as_of, lots["acquired_date"])
    return validate(
        frame,
        "lots",
        [
            E.ExpectColumnValuesToBeUnique(column="lot_id"),
            E.ExpectColumnValuesToNotBeNull(column="account_id"),
            E.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, strict_min=True),
            E.ExpectColumnValuesToBeBetween(column="cost_basis", min_value=0),
            E.ExpectColumnValuesToBeBetween(column="days_since_acquired", min_value=0),
        ],
    )


def check_accounts(accounts: pd.DataFrame) -> SuiteOutcome:
    """Every account in exactly one household."""
    E = _gx()
    return validate(
        accounts[["account_id", "household_id"]],
        "accounts",
        [
            E.ExpectColumnValuesToBeUnique(column="account_id"),
            E.ExpectColumnValuesToNotBeNull(column="household_id"),
        ],
    )


def target_weight_sums(targets: pd.DataFrame) -> pd.DataFrame:
    return targets.groupby("household_id", as_index=False)["target_weight"].sum().rename(
        columns={"target_weight": "weight_sum"}
    )


def check_targets(targets: pd.DataFrame, accounts: pd.DataFrame) -> SuiteOutcome:
    """Target weights are in [0, 1] and sum to 1 per household; every household has a target."""
    E = _gx()
    sums = target_weight_sums(targets)
    households = accounts[["household_id"]].drop_duplicates().merge(sums, on="household_id", how="left")
    return validate(
        households,
        "household_targets",
        [
            E.ExpectColumnValuesToNotBeNull(column="weight_sum"),
            E.ExpectColumnValuesToBeBetween(
                column="weight_sum", min_value=1 - WEIGHT_TOLERANCE, max_value=1 + WEIGHT_TOLERANCE
            ),
        ],
    )


def trade_safety_frame(
    trades: pd.DataFrame,
    lots: pd.DataFrame,
    account_cash: pd.DataFrame,
    buy_restrictions: pd.DataFrame,
    wash_windows: pd.DataFrame,
    requests: pd.DataFrame,
    securities: pd.DataFrame,
) -> dict[str, pd.DataFrame]:
    """The optimizer's trades restated as one frame per safety rule (pure; used by the suite and tests)."""
    relieved = (
        trades[trades["side"].isin(["sell", "gift"])]
        .groupby("lot_id", as_index=False)["quantity"]
        .sum()
        .rename(columns={"quantity": "relieved_quantity"})
        .merge(lots[["lot_id", "quantity"]].rename(columns={"quantity": "lot_quantity"}), on="lot_id", how="left")
    )
    relieved["lot_quantity_left"] = relieved["lot_quantity"] - relieved["relieved_quantity"]

    buys = trades[trades["side"] == "buy"][["account_id", "security_id", "quantity"]].copy()
    restricted = buy_restrictions.assign(restricted=1)[["account_id", "security_id", "restricted"]].drop_duplicates()
    buys = buys.merge(restricted, on=["account_id", "security_id"], how="left")
    buys["restricted"] = buys["restricted"].fillna(0).astype(int)
    group = securities.set_index("security_id")["identical_group"]
    buys["identical_group"] = buys["security_id"].map(group)
    household_of = lots.drop_duplicates("account_id").set_index("account_id")["household_id"]
    household_of = pd.concat([household_of, account_cash.set_index("account_id")["household_id"]])
    household_of = household_of[~household_of.index.duplicated()]
    buys["household_id"] = buys["account_id"].map(household_of)
    no_buy = wash_windows[wash_windows["window_type"] == "no_buy"][["household_id", "identical_group"]].drop_duplicates()
    buys = buys.merge(no_buy.assign(in_wash_window=1), on=["household_id", "identical_group"], how="left")
    buys["in_wash_window"] = buys["in_wash_window"].fillna(0).astype(int)

    flows = trades.assign(
        cash_flow=np.select(
            [trades["side"] == "sell", trades["side"] == "buy"], [trades["trade_value"], -trades["trade_value"]], 0.0
        )
    ).groupby("account_id", as_index=False)["cash_flow"].sum()
    withdrawals = (
        requests[requests["request_type"] == "cash_withdrawal"].groupby("account_id", as_index=False)["amount"].sum()
    )
    cash = account_cash[["account_id", "cash"]].merge(flows, on="account_id", how="left").merge(
        withdrawals, on="account_id", how="left"
    )
    cash["cash_after"] = cash["cash"] + cash["cash_flow"].fillna(0.0) - cash["amount"].fillna(0.0)

    # Same-day wash sale: a loss sale and a buy of the same identical group in one household.
    losses = trades[(trades["side"] == "sell") & (trades["realized_gain"].astype(float) < 0)].copy()
    losses["identical_group"] = losses["security_id"].map(group)
    losses["household_id"] = losses["account_id"].map(household_of)
    loss_groups = losses[["household_id", "identical_group"]].drop_duplicates().assign(loss_sold=1)
    same_day = buys[["household_id", "identical_group"]].drop_duplicates().merge(
        loss_groups, on=["household_id", "identical_group"], how="left"
    )
    buys = buys.merge(same_day, on=["household_id", "identical_group"], how="left")
    buys["bought_after_loss_sale_today"] = buys["loss_sold"].fillna(0).astype(int)
    return {"relieved_lots": relieved, "buys": buys, "cash": cash, "trades": trades}


def check_trades(frames: dict[str, pd.DataFrame], max_turnover: float, household_value: float) -> list[SuiteOutcome]:
    """The optimizer's own output, before any order file is written."""
    E = _gx()
    trades = frames["trades"]
    turnover = pd.DataFrame(
        {"turnover": [float(trades["trade_value"].sum()) / household_value if household_value > 0 else 0.0]}
    )
    return [
        validate(trades, "trades", [
            E.ExpectColumnValuesToBeBetween(column="quantity", min_value=0, strict_min=True),
            E.ExpectColumnValuesToBeInSet(column="side", value_set=["sell", "buy", "gift"]),
        ]),
        validate(frames["relieved_lots"], "trades_relieve_existing_lots", [
            E.ExpectColumnValuesToNotBeNull(column="lot_quantity"),
            E.ExpectColumnValuesToBeBetween(column="lot_quantity_left", min_value=-1e-9),
        ]),
        validate(frames["buys"], "trades_respect_restrictions_and_wash_windows", [
            E.ExpectColumnValuesToBeInSet(column="restricted", value_set=[0]),
            E.ExpectColumnValuesToBeInSet(column="in_wash_window", value_set=[0]),
            E.ExpectColumnValuesToBeInSet(column="bought_after_loss_sale_today", value_set=[0]),
        ]),
        validate(frames["cash"], "trades_keep_cash_non_negative", [
            E.ExpectColumnValuesToBeBetween(column="cash_after", min_value=-0.005),
        ]),
        validate(turnover, "trades_turnover_sane", [
            E.ExpectColumnValuesToBeBetween(column="turnover", min_value=0, max_value=max_turnover),
        ]),
    ]
