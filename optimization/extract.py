"""From a solved household model back to plain data: quantities, rounding, reasons, trade rows.

Rounding step (README "Rounding"), after an OPTIMAL solve only:
1. snap: quantities below 1e-7 shares are solver noise -> 0;
2. sells and gifts: a lot whose LP quantity is within half a quantum of the whole lot is relieved
   in full; otherwise floor to the account's quantum (1 share, or settings.fractional_quantum where
   fractional_allowed); buys: floor; gifts are then topped up, one quantum at a time on the lots
   the LP gave, until the requested amount is reached;
3. drop trades below settings.min_trade_value, except full-lot sells, gifts and cash_withdrawal
   sells (request-driven);
4. repair cash_never_negative per account: cut buy shares, largest buy value first; if there is
   no buy left, take sells back up toward the LP quantity (rounded up), lowest tax per dollar first.
Rounding only ever lowers a positive quantity or raises one the LP already had positive, so no
rounding can create a wash sale (a buy or loss sale the model had at zero stays at zero).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyomo.environ as pyo

from optimization.data import HouseholdProblem, sum_by
from optimization.model import HouseholdFacts, StandardForm

TRADE_COLUMNS = [
    "household_id", "account_id", "security_id", "side", "quantity", "price", "trade_value", "lot_id",
    "acquired_date", "cost_basis_relieved", "realized_gain", "holding_term", "estimated_tax", "reason",
]
NOISE = 1e-7
# Sells that a request or a rule makes (never dropped as small trades)
REQUEST_REASONS = ("cash_withdrawal", "cash_need", "restriction")
EPS = 1e-6  # dollars: cash shortfall tolerance
QUANTUM_EPS = 1e-3  # fraction of a quantum forgiven when flooring (LP noise)


@dataclass(eq=False)
class Quantities:
    """Shares per lot (sell, gift: full length, aligned with problem.lots) and per buy column."""

    sell: np.ndarray
    gift: np.ndarray
    buy: np.ndarray

    def copy(self) -> "Quantities":
        return Quantities(self.sell.copy(), self.gift.copy(), self.buy.copy())


def extract_quantities(model: pyo.ConcreteModel) -> Quantities:
    """Solved variable values of the model, as arrays in the problem's lot / buy order."""
    sf: StandardForm = model.standard_form
    n_lots = len(sf.col_blocks["sell"].labels)
    value = lambda var: np.array([v.value or 0.0 for v in var.values()], dtype=float)  # noqa: E731
    sell = value(model.sell)
    gift = np.zeros(n_lots)
    lot_pos = {lot: i for i, lot in enumerate(sf.col_blocks["sell"].labels)}
    for lot, v in model.gift.items():
        gift[lot_pos[lot]] = v.value or 0.0
    buy = value(model.buy)
    for arr in (sell, gift, buy):
        arr[arr < NOISE] = 0.0
    return Quantities(sell, gift, buy)


# ---------------------------------------------------------------------------------------------
# after-trade state


def holdings_after(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities) -> tuple[np.ndarray, np.ndarray]:
    """(value per security, cash per account) after trades, withdrawals and gifts."""
    lots = problem.lots
    n_sec, n_acc = len(problem.security_ids), len(problem.accounts)
    price = problem.price
    values = problem.holding_values - sum_by(
        lots.security, weights=(q.sell + q.gift) * facts.lot_price, minlength=n_sec
    )
    values += sum_by(facts.buy_security, weights=q.buy * price[facts.buy_security], minlength=n_sec)
    cash = facts.cash - facts.withdrawal
    cash += sum_by(lots.account, weights=q.sell * facts.lot_price, minlength=n_acc)
    cash -= sum_by(facts.buy_account, weights=q.buy * price[facts.buy_security], minlength=n_acc)
    return values, cash


def drift(problem: HouseholdProblem, values: np.ndarray, cash: float) -> float:
    """Half the sum over holdings (CASH included) of |weight - target| at household level."""
    total = float(values.sum()) + cash
    if total <= 0:
        return float("nan")
    gaps = np.abs(values / total - problem.target_weight).sum() + abs(cash / total - problem.cash_target_weight)
    return 0.5 * float(gaps)


def drift_before(problem: HouseholdProblem) -> float:
    return drift(problem, problem.holding_values, problem.total_cash)


def drift_after(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities) -> float:
    values, cash = holdings_after(problem, facts, q)
    return drift(problem, values, float(cash.sum()))


def tracking_error(problem: HouseholdProblem, values: np.ndarray, cash: float) -> float:
    """Annualised ex-ante tracking error vs target (problem.risk); NaN without a risk model."""
    total = float(values.sum()) + cash
    if problem.risk is None or total <= 0:
        return float("nan")
    return problem.risk.tracking_error(values / total - problem.target_weight)


def tracking_error_before(problem: HouseholdProblem) -> float:
    return tracking_error(problem, problem.holding_values, problem.total_cash)


def tracking_error_after(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities) -> float:
    values, cash = holdings_after(problem, facts, q)
    return tracking_error(problem, values, float(cash.sum()))


def estimated_tax(facts: HouseholdFacts, q: Quantities) -> float:
    return float((q.sell * facts.tax_per_share).sum())


# ---------------------------------------------------------------------------------------------
# rounding


def _quantum(problem: HouseholdProblem, settings) -> np.ndarray:
    return np.array([settings.fractional_quantum if a.fractional_allowed else 1.0 for a in problem.accounts])


def _floor(x, quantum):
    return np.round(np.floor(x / quantum + QUANTUM_EPS) * quantum, 10)


def _ceil(x, quantum):
    return np.round(np.ceil(x / quantum - QUANTUM_EPS) * quantum, 10)


def round_quantities(problem: HouseholdProblem, facts: HouseholdFacts, lp: Quantities, settings) -> tuple[Quantities, list[str]]:
    """The documented rounding step; returns rounded quantities and notes for the outcome."""
    lots = problem.lots
    price = problem.price
    quantum_acc = _quantum(problem, settings)
    lq = quantum_acc[lots.account]
    qty = lots.quantity
    notes: list[str] = []

    def round_lot(x):
        whole = (x > 0) & (qty - x <= 0.5 * lq + NOISE)
        return np.where(whole, qty, np.minimum(_floor(x, lq), qty))

    gift = round_lot(lp.gift)
    sell = np.minimum(round_lot(lp.sell), qty - gift)
    if facts.must_sell is not None:  # never_hold: the whole lot goes, whatever the LP's noise
        sell = np.where(facts.must_sell, qty - gift, sell)
    sell[sell < NOISE] = 0.0
    buy = np.where(lp.buy > 0, _floor(lp.buy, quantum_acc[facts.buy_account]), 0.0)

    # gifts: top up to the requested amount on the lots the LP chose
    for a in np.flatnonzero(facts.gift_target > 0):
        given = lambda: float((gift * facts.lot_price)[lots.account == a].sum())  # noqa: E731
        chosen = [i for i in np.flatnonzero((lots.account == a) & (lp.gift > 0))]
        chosen.sort(key=lambda i: (-(facts.gain_per_share[i] / facts.lot_price[i]), lots.lot_id[i]))
        for i in chosen:
            while given() < facts.gift_target[a] - 0.005:
                step = min(lq[i], qty[i] - sell[i] - gift[i])  # a quantum, or the rest of the lot
                if step <= NOISE:
                    break
                gift[i] += step
            if given() >= facts.gift_target[a] - 0.005:
                break

    q = Quantities(sell, gift, buy)
    full_lot = (sell > 0) & (np.abs(sell - qty) <= NOISE)
    reasons = sell_reasons(problem, facts, q)

    # drop small trades (not full lots, not request-driven)
    small_sell = (sell * facts.lot_price < settings.min_trade_value) & ~full_lot & ~np.isin(reasons, REQUEST_REASONS)
    q.sell[small_sell & (sell > 0)] = 0.0
    buy_value = q.buy * price[facts.buy_security]
    q.buy[buy_value < settings.min_trade_value] = 0.0

    # repair cash_never_negative (and the cash minimum)
    minimum = facts.cash_minimum if facts.cash_minimum is not None else np.zeros(len(problem.accounts))
    for a in range(len(problem.accounts)):
        shortfall = lambda: float(minimum[a]) - float(holdings_after(problem, facts, q)[1][a])  # noqa: E731
        if shortfall() <= EPS:
            continue
        quantum = quantum_acc[a]
        buys = [j for j in np.flatnonzero(facts.buy_account == a)]
        while shortfall() > EPS:
            live = [j for j in buys if q.buy[j] > 0]
            if not live:
                break
            j = max(live, key=lambda j: (q.buy[j] * price[facts.buy_security[j]], -j))
            p = price[facts.buy_security[j]]
            # at least one quantum: a shortfall below _ceil's forgiveness (a fraction of a cent)
            # would otherwise cut nothing, forever
            cut = min(q.buy[j], max(float(quantum), float(_ceil(shortfall() / p, quantum))))
            q.buy[j] -= cut
            if q.buy[j] * p < settings.min_trade_value:
                q.buy[j] = 0.0
        if shortfall() > EPS:
            cands = [i for i in np.flatnonzero((lots.account == a) & (lp.sell > 0))]
            cands.sort(key=lambda i: (facts.tax_per_share[i] / facts.lot_price[i], lots.lot_id[i]))
            for i in cands:
                if shortfall() <= EPS:
                    break
                target = min(float(_ceil(lp.sell[i], lq[i])), qty[i] - q.gift[i])
                q.sell[i] = max(q.sell[i], target)
        if shortfall() > EPS:
            notes.append(f"cash in {problem.accounts[a].account_id} short by {shortfall():.2f} after rounding")
    return q, notes


def sell_reasons(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities) -> np.ndarray:
    """Reason per lot for its sell (README "Reasons"); '' where nothing is sold.

    tax_loss_harvest (a loss sold in a taxable account) > restriction (never_hold, or a security
    the account may no longer buy) > cash_withdrawal / cash_need (the sells that raise a requested
    withdrawal or the cash minimum, lowest tax per dollar first) > transition (a holding outside
    the target model) > rebalance.
    """
    lots = problem.lots
    n = len(lots)
    reasons = np.full(n, "", dtype=object)
    taxable = np.array([a.taxable for a in problem.accounts], dtype=bool)
    sold = q.sell > 0
    harvest = sold & taxable[lots.account] & (facts.tax_per_share < 0)  # a loss that counts today
    restricted = np.array(
        [problem.security_ids[s] in problem.accounts[a].restricted for a, s in zip(lots.account, lots.security)],
        dtype=bool,
    )
    if facts.must_sell is not None:
        restricted |= facts.must_sell
    outside_model = problem.target_weight[lots.security] <= 0
    reasons[sold] = "rebalance"
    reasons[sold & outside_model] = "transition"
    reasons[harvest] = "tax_loss_harvest"
    reasons[sold & restricted & ~harvest] = "restriction"
    proceeds = q.sell * facts.lot_price
    minimum = facts.cash_minimum if facts.cash_minimum is not None else np.zeros(len(problem.accounts))
    for a, account in enumerate(problem.accounts):
        need_total = account.withdrawal + minimum[a] - account.cash
        if need_total <= EPS:
            continue
        label = "cash_withdrawal" if account.withdrawal > 0 else "cash_need"
        in_a = lots.account == a
        movable = np.isin(reasons, ("rebalance", "transition"))
        need = need_total - proceeds[in_a & sold & ~movable].sum()
        cands = [i for i in np.flatnonzero(in_a & movable)]
        cands.sort(key=lambda i: (facts.tax_per_share[i] / facts.lot_price[i], lots.lot_id[i]))
        raised = 0.0
        for i in cands:
            if raised >= need - EPS:
                break
            reasons[i] = label
            raised += proceeds[i]
    return reasons


def buy_reasons(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities, sells: np.ndarray) -> np.ndarray:
    """Reason per buy column: wash_sale_substitute when the household harvests a loss today that
    leaves that security under its target (it cannot be bought back inside the wash window) and the
    buy is in the same sector (or asset-class bucket) from another identical group: the buy keeps
    the exposure the harvest gave up. Else rebalance."""
    reasons = np.full(len(q.buy), "rebalance", dtype=object)
    harvested = set(problem.lots.security[sells == "tax_loss_harvest"].tolist())
    if not harvested:
        return reasons
    values, _ = holdings_after(problem, facts, q)
    short = {s for s in harvested if values[s] < problem.target_weight[s] * facts.value_after - 1.0}
    groups_by_bucket: dict[str, set[str]] = {}
    for s in short:
        groups_by_bucket.setdefault(problem.bucket[s], set()).add(problem.identical_group[s])
    for j, s in enumerate(facts.buy_security):
        groups = groups_by_bucket.get(problem.bucket[s])
        if q.buy[j] > 0 and groups and problem.identical_group[s] not in groups:
            reasons[j] = "wash_sale_substitute"
    return reasons


# ---------------------------------------------------------------------------------------------
# trade rows


def _date(value):
    if value is None or np.isnat(value):
        return None
    return pd.Timestamp(value).date()


def trade_rows(problem: HouseholdProblem, facts: HouseholdFacts, q: Quantities) -> list[tuple]:
    lots = problem.lots
    hh = problem.household_id
    reasons = sell_reasons(problem, facts, q)
    bought_for = buy_reasons(problem, facts, q, reasons)
    rows = []
    for i in np.flatnonzero((q.sell > 0) | (q.gift > 0)):
        account = problem.accounts[lots.account[i]]
        sid = problem.security_ids[lots.security[i]]
        p = float(facts.lot_price[i])
        cps = float(lots.cost_per_share[i])
        term = "long" if lots.is_long_term[i] else "short"
        acquired = _date(lots.acquired_date[i])
        if q.sell[i] > 0:
            n = float(q.sell[i])
            rows.append((
                hh, account.account_id, sid, "sell", n, p, n * p, lots.lot_id[i], acquired, n * cps,
                n * (p - cps), term, n * float(facts.tax_per_share[i]), reasons[i],
            ))
        if q.gift[i] > 0:
            n = float(q.gift[i])
            rows.append((
                hh, account.account_id, sid, "gift", n, p, n * p, lots.lot_id[i], acquired, n * cps,
                0.0, term, 0.0, "charitable_gift",
            ))
    for j in np.flatnonzero(q.buy > 0):
        account = problem.accounts[facts.buy_account[j]]
        s = facts.buy_security[j]
        n = float(q.buy[j])
        p = float(problem.price[s])
        rows.append((
            hh, account.account_id, problem.security_ids[s], "buy", n, p, n * p, None, None, None, None,
            None, None, bought_for[j],
        ))
    return rows


def trades_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=TRADE_COLUMNS)
    for col in ("quantity", "price", "trade_value", "cost_basis_relieved", "realized_gain", "estimated_tax"):
        frame[col] = frame[col].astype(float)
    if len(frame):
        key = frame["lot_id"].fillna("")
        frame = (
            frame.assign(_lot=key)
            .sort_values(["household_id", "account_id", "side", "security_id", "_lot"], kind="mergesort")
            .drop(columns="_lot")
            .reset_index(drop=True)
        )
    return frame
