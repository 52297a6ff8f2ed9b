"""The household rebalance model: HouseholdProblem -> (standard form) -> Pyomo ConcreteModel.

The formulation is written once, vectorised with numpy, as a `StandardForm` (columns and rows
grouped in blocks named after the business rules). `build_household_model` turns it into a Pyomo
model whose Sets, Vars, mutable Params, Constraints and named objective Expressions carry those
names (`cash_never_negative`, `same_day_wash_sale_buy`, ...). Constraint bodies are created as
`LinearExpression`s straight from the sparse rows, which is what keeps the Pyomo build close to
the cost of the solve itself (see README "Speed"). The formulation is documented in README.md.

Units: sell / gift / buy variables are shares; every other variable and every row is in dollars
(deviation variables are dollars away from target; weight deviation = dollars / V_after).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import LinearExpression, MonomialTermExpression
from pyomo.core.expr.relational_expr import InequalityExpression, RangedExpression, tuple_to_relational_expr

from optimization.data import CASH, CASH_BUCKET, UNCLASSIFIED_BUCKET as UNCLASSIFIED, HouseholdProblem, sum_by
from optimization.settings import OptimizerSettings

INF = float("inf")
WHOLE_LOT_TOL = 1e-9


class InfeasibleRequest(ValueError):
    """The requests cannot be met whatever the trades (reported as status 'infeasible')."""


# ---------------------------------------------------------------------------------------------
# derived per-lot / per-buy facts shared by the model, the rounding step and the trade writer


@dataclass(frozen=True, eq=False)
class HouseholdFacts:
    """Numbers derived from a HouseholdProblem that the model and the trade writer share."""

    lot_price: np.ndarray  # price of each lot's security
    gain_per_share: np.ndarray  # price - cost_per_share
    tax_rate: np.ndarray  # st/lt rate of the lot, 0 in non-taxable accounts
    tax_per_share: np.ndarray  # estimated tax per share sold (negative for losses)
    near_long_term_gain: np.ndarray  # gain per share of ST gain lots close to long-term, else 0
    sell_upper: np.ndarray  # qty, 0 for lots under no_loss_sale_inside_wash_window
    wash_blocked: np.ndarray  # bool: no_loss_sale_inside_wash_window applies
    gift_eligible: np.ndarray  # bool: LT appreciated lot in a taxable account with a gift request
    gift_target: np.ndarray  # per account: the gift amount the model must give
    buy_account: np.ndarray  # per buy column
    buy_security: np.ndarray
    buy_upper: np.ndarray  # shares: bound implied by cash_never_negative and buy_only_up_to_target
    buy_shortfall: np.ndarray  # per security: max(0, t V_after - value held), dollars
    substitute_room: np.ndarray  # per security: most dollars bought above target as a harvest substitute
    withdrawal: np.ndarray  # per account
    cash: np.ndarray  # per account
    value_before: float  # V
    value_after: float  # V - withdrawals - gifts: the base of every target weight
    notes: tuple[str, ...] = ()
    inside_bands: bool = False  # every holding and the total drift within their drift bands
    band: np.ndarray | None = None  # per holding (securities, then CASH): band half-width, weight
    never_sold: np.ndarray | None = None  # per lot: a never_sell restriction or a locked account
    must_sell: np.ndarray | None = None  # per lot: a never_hold restriction (sold or given in full)
    cash_minimum: np.ndarray | None = None  # per account
    buy_location_cost: np.ndarray | None = None  # per buy column: asset-location penalty per share


def household_facts(problem: HouseholdProblem, settings: OptimizerSettings) -> HouseholdFacts:
    lots = problem.lots
    accounts = problem.accounts
    price = problem.price
    lot_price = price[lots.security]
    gain = lot_price - lots.cost_per_share
    taxable = np.array([a.taxable for a in accounts], dtype=bool)[lots.account] if len(lots) else np.zeros(0, bool)
    rate = np.where(lots.is_long_term, problem.lt_rate, problem.st_rate) * taxable
    near = (~lots.is_long_term) & (lots.days_to_long_term <= settings.near_long_term_days) & (gain > 0) & taxable
    notes = list(problem.notes)
    never_sold, must_sell = restricted_lots(problem)
    wash_blocked = lots.no_loss_sale & (gain < 0)
    forced_wash = wash_blocked & must_sell
    if forced_wash.any():
        # never_hold wins over the wash window: the lot is sold, its loss is disallowed (added to
        # the basis of the replacement), so it is worth no tax today.
        rate = np.where(forced_wash, 0.0, rate)
        notes.append(
            f"never_hold forces {int(forced_wash.sum())} loss lots inside a wash window: loss disallowed"
        )
        wash_blocked = wash_blocked & ~must_sell
    sell_upper = np.where(wash_blocked | never_sold, 0.0, lots.quantity)

    gift_amount = np.array([a.gift_amount for a in accounts], dtype=float)
    gift_eligible = (gift_amount[lots.account] > 0) & taxable & lots.is_long_term & (gain > 0) & ~never_sold
    eligible_value = sum_by(
        lots.account, weights=np.where(gift_eligible, lots.quantity * lot_price, 0.0), minlength=len(accounts)
    )
    gift_target = np.minimum(gift_amount, eligible_value)
    for a, account in enumerate(accounts):
        if gift_amount[a] > 0 and eligible_value[a] < gift_amount[a] - 1e-6:
            notes.append(
                f"gift from {account.account_id}: requested {gift_amount[a]:.2f}, only "
                f"{eligible_value[a]:.2f} in long-term appreciated lots; giving that"
            )

    cash = np.array([a.cash for a in accounts], dtype=float)
    withdrawal = np.array([a.withdrawal for a in accounts], dtype=float)
    cash_minimum = np.array([max(0.0, a.cash_minimum) for a in accounts], dtype=float)
    for a, account in enumerate(accounts):
        if account.locked and cash_minimum[a] > cash[a] - withdrawal[a]:
            cash_minimum[a] = max(0.0, cash[a] - withdrawal[a])  # a locked account cannot raise cash
            notes.append(f"{account.account_id} is locked: its cash minimum is held at {cash_minimum[a]:.2f}")
    value_before = problem.market_value
    value_after = value_before - float(withdrawal.sum()) - float(gift_target.sum())
    if not value_after > 0:
        raise InfeasibleRequest(f"household value after requests is not positive ({value_after:.2f})")

    # Buy columns: target securities (weight > 0) not restricted in the account and not in an
    # identical group with an active no_buy window (wash_sale_block, household-wide).
    n_sec = len(problem.security_ids)
    sellable = sum_by(lots.account, weights=sell_upper * lot_price, minlength=len(accounts))
    forced = sum_by(lots.account, weights=np.where(must_sell, lots.quantity * lot_price, 0.0), minlength=len(accounts))
    for a, account in enumerate(accounts):
        reachable = cash[a] + sellable[a] - withdrawal[a]
        if reachable < cash_minimum[a] - 1e-6 and (withdrawal[a] > 0 or cash_minimum[a] > cash[a]):
            raise InfeasibleRequest(
                f"account {account.account_id} cannot hold its cash minimum {cash_minimum[a]:.2f} after "
                f"withdrawals {withdrawal[a]:.2f} even selling every lot it may sell ({reachable:.2f} reachable)"
            )
    # most an account can ever spend (selling everything it may sell, keeping its cash minimum)
    budget = np.maximum(cash, 0.0) + sellable - withdrawal - cash_minimum
    # buy_only_up_to_target: purchases of s <= shortfall to target + value of s given today.
    shortfall = np.maximum(0.0, problem.target_weight * value_after - problem.holding_values)
    room = substitute_room(problem, settings, gain, sell_upper, taxable, lot_price, value_after)
    relievable = sum_by(
        lots.security, weights=np.where(gift_eligible, lots.quantity * lot_price, 0.0), minlength=n_sec
    )
    buyable = [
        s
        for s, sid in enumerate(problem.security_ids)
        if problem.target_weight[s] > 0 and problem.identical_group[s] not in problem.no_buy_groups
        and shortfall[s] + relievable[s] + room[s] > 0
    ]
    # drift bands (settings): measured on the household before trades and requests
    target_h = np.append(problem.target_weight, problem.cash_target_weight)
    weight_h = np.append(problem.holding_values, problem.total_cash) / value_before
    band = np.maximum(settings.drift_band_absolute, settings.drift_band_relative * target_h)
    dev_h = np.abs(weight_h - target_h)
    inside = bool(band.max(initial=0.0) > 0 and np.all(dev_h <= band + 1e-12)
                  and 0.5 * dev_h.sum() <= settings.drift_band_total + 1e-12)
    if inside:
        notes.append("inside drift bands: only harvesting or requests trade")

    buy_account, buy_security, buy_upper = [], [], []
    asset_class = problem.asset_class or (None,) * n_sec
    exempt = set(settings.tax_exempt_asset_classes)
    for a, account in enumerate(accounts):
        if budget[a] <= 0 or account.locked:
            continue
        for s in buyable:
            if problem.security_ids[s] in account.restricted:
                continue
            if not account.taxable and asset_class[s] in exempt:  # tax_exempt_outside_iras
                continue
            buy_account.append(a)
            buy_security.append(s)
            buy_upper.append(min(budget[a], shortfall[s] + relievable[s] + room[s]) / price[s])
    buy_account_arr = np.array(buy_account, dtype=np.int64)
    buy_security_arr = np.array(buy_security, dtype=np.int64)
    misplaced = misplaced_buys(problem, settings, buy_account_arr, buy_security_arr)
    if (forced > 0).any():
        notes.append("never_hold: " + ", ".join(
            f"{accounts[a].account_id} sells {', '.join(sorted(accounts[a].never_hold))}" for a in np.flatnonzero(forced > 0)
        ))
    return HouseholdFacts(
        lot_price=lot_price,
        gain_per_share=gain,
        tax_rate=rate,
        tax_per_share=gain * rate,
        near_long_term_gain=np.where(near, gain, 0.0),
        sell_upper=sell_upper,
        wash_blocked=wash_blocked,
        gift_eligible=gift_eligible,
        gift_target=gift_target,
        buy_account=buy_account_arr,
        buy_security=buy_security_arr,
        buy_upper=np.array(buy_upper, dtype=float),
        buy_shortfall=shortfall,
        substitute_room=room,
        withdrawal=withdrawal,
        cash=cash,
        value_before=value_before,
        value_after=value_after,
        notes=tuple(notes),
        inside_bands=inside,
        band=band,
        never_sold=never_sold,
        must_sell=must_sell,
        cash_minimum=cash_minimum,
        buy_location_cost=np.where(misplaced, settings.asset_location_penalty, 0.0) * price[buy_security_arr],
    )


def substitute_room(problem, settings, gain, sell_upper, taxable, lot_price, value_after) -> np.ndarray:
    """Dollars per security that may be bought above target to replace harvested losses: at most
    settings.substitute_room x V_after, and at most the value of sellable taxable loss lots of
    other identical groups in the same sector (bucket). Zero where no such harvest is possible."""
    n_sec = len(problem.security_ids)
    if settings.substitute_room <= 0 or not len(problem.lots):
        return np.zeros(n_sec)
    lots = problem.lots
    harvestable = (gain < 0) & (sell_upper > 0) & taxable
    if not harvestable.any():
        return np.zeros(n_sec)
    value = sum_by(lots.security, weights=np.where(harvestable, sell_upper * lot_price, 0.0), minlength=n_sec)
    bucket_total: dict[str, float] = {}
    group_total: dict[tuple[str, str], float] = {}
    for s in np.flatnonzero(value):
        b, g = problem.bucket[s], problem.identical_group[s]
        bucket_total[b] = bucket_total.get(b, 0.0) + value[s]
        group_total[(b, g)] = group_total.get((b, g), 0.0) + value[s]
    others = np.array([
        bucket_total.get(b, 0.0) - group_total.get((b, g), 0.0)
        for b, g in zip(problem.bucket, problem.identical_group)
    ])
    return np.minimum(settings.substitute_room * value_after, np.maximum(others, 0.0))


def restricted_lots(problem: HouseholdProblem) -> tuple[np.ndarray, np.ndarray]:
    """(never_sold, must_sell) per lot: never_sell restrictions and locked accounts; never_hold."""
    lots = problem.lots
    never_sold = np.zeros(len(lots), dtype=bool)
    must_sell = np.zeros(len(lots), dtype=bool)
    for a, account in enumerate(problem.accounts):
        in_a = lots.account == a
        if account.locked:
            never_sold |= in_a
            continue
        for names, mask in ((account.never_sell, never_sold), (account.never_hold, must_sell)):
            if names:
                hit = np.array([problem.security_ids[s] in names for s in lots.security], dtype=bool)
                mask |= in_a & hit
    return never_sold, must_sell


def misplaced_buys(problem: HouseholdProblem, settings: OptimizerSettings, buy_account, buy_security) -> np.ndarray:
    """Per buy column: True where asset location says the purchase belongs in another account.

    - tax_inefficient_in_taxable: a tax-inefficient holding (settings' asset classes and sectors)
      bought in a taxable account while the household has an unlocked non-taxable account;
    - placement_preference: a holding outside the account's preferred asset classes while another
      unlocked account of the household prefers that class.
    """
    n = len(buy_account)
    if not n or not problem.asset_class:
        return np.zeros(n, dtype=bool)
    accounts = problem.accounts
    has_shelter = any(not a.taxable and not a.locked for a in accounts)
    inefficient = np.array([
        c in settings.tax_inefficient_asset_classes or b in settings.tax_inefficient_sectors
        for c, b in zip(problem.asset_class, problem.bucket)
    ], dtype=bool)
    taxable = np.array([a.taxable for a in accounts], dtype=bool)
    out = inefficient[buy_security] & taxable[buy_account] & has_shelter
    preferred_somewhere = set().union(*(a.preferred_asset_classes for a in accounts if not a.locked))
    if preferred_somewhere:
        cls = np.array(problem.asset_class, dtype=object)[buy_security]
        here = np.array([c in accounts[a].preferred_asset_classes for a, c in zip(buy_account, cls)], dtype=bool)
        elsewhere = np.array([c in preferred_somewhere for c in cls], dtype=bool)
        out |= elsewhere & ~here
    return out


# ---------------------------------------------------------------------------------------------
# standard form


@dataclass(eq=False)
class _Block:
    name: str
    start: int
    labels: list


def _spread(values, shape: tuple, dtype=float) -> np.ndarray:
    """``values`` as an array of ``shape`` (np.broadcast_to), without broadcast_to's cost for the
    two common cases: already that shape, or one number (a few hundred calls per household)."""
    a = np.asarray(values, dtype=dtype)
    if a.shape == shape:
        return a
    if a.ndim == 0:
        return np.full(shape, a, dtype=dtype)
    return np.broadcast_to(a, shape)


@dataclass(eq=False)
class StandardForm:
    """min c'x  s.t.  row_lower <= A x <= row_upper, col_lower <= x <= col_upper, some x binary.

    Columns and rows come in named blocks (business rules); `labels` give each entry's index in
    the Pyomo model. A is kept as row-wise coordinates (row, col, value), sorted by row.
    """

    col_blocks: dict[str, _Block] = field(default_factory=dict)
    row_blocks: dict[str, _Block] = field(default_factory=dict)
    col_lower: list = field(default_factory=list)
    col_upper: list = field(default_factory=list)
    col_cost: list = field(default_factory=list)
    col_binary: list = field(default_factory=list)
    row_lower: list = field(default_factory=list)
    row_upper: list = field(default_factory=list)
    _rows: list = field(default_factory=list)
    _cols: list = field(default_factory=list)
    _vals: list = field(default_factory=list)
    num_col: int = 0
    num_row: int = 0
    objective_terms: dict = field(default_factory=dict)  # name -> (cols, coefs), see build_household_model
    tier_columns: dict = field(default_factory=dict)  # "security"/"sector" -> per tier, deviation columns
    facts: HouseholdFacts | None = None
    risk_aversion: float = 0.0  # effective (0 inside the drift bands)
    tiers: dict = field(default_factory=dict)  # "security_over"/... -> _Tiers
    # optimization.warm's cache: "columns"/"rows" -> every entry's name, computed once per form
    entry_names: dict = field(default_factory=dict)

    def add_cols(self, name, labels, lower, upper, cost, binary=False) -> np.ndarray:
        n = len(labels)
        self.col_blocks[name] = _Block(name, self.num_col, list(labels))
        self.col_lower.append(_spread(lower, (n,)))
        self.col_upper.append(_spread(upper, (n,)))
        self.col_cost.append(_spread(cost, (n,)))
        self.col_binary.append(np.full(n, binary, dtype=bool))
        idx = np.arange(self.num_col, self.num_col + n)
        self.num_col += n
        return idx

    def add_rows(self, name, labels, lower, upper) -> np.ndarray:
        n = len(labels)
        self.row_blocks[name] = _Block(name, self.num_row, list(labels))
        self.row_lower.append(_spread(lower, (n,)))
        self.row_upper.append(_spread(upper, (n,)))
        idx = np.arange(self.num_row, self.num_row + n)
        self.num_row += n
        return idx

    def add_coefs(self, rows, cols, vals) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        self._rows.append(rows)
        self._cols.append(_spread(cols, rows.shape, np.int64))
        self._vals.append(_spread(vals, rows.shape))

    def finish(self) -> "StandardForm":
        cat = lambda parts, dtype=float: np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)  # noqa: E731
        self.col_lower, self.col_upper = cat(self.col_lower), cat(self.col_upper)
        self.col_cost, self.col_binary = cat(self.col_cost), cat(self.col_binary, bool)
        self.row_lower, self.row_upper = cat(self.row_lower), cat(self.row_upper)
        rows, cols, vals = cat(self._rows, np.int64), cat(self._cols, np.int64), cat(self._vals)
        keep = vals != 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        order = np.lexsort((cols, rows))
        self.a_row, self.a_col, self.a_val = rows[order], cols[order], vals[order]
        self.a_row_start = np.searchsorted(self.a_row, np.arange(self.num_row + 1))
        self._rows = self._cols = self._vals = []
        return self

    def cols(self, name) -> np.ndarray:
        b = self.col_blocks[name]
        return np.arange(b.start, b.start + len(b.labels))

    def row(self, i) -> tuple[np.ndarray, np.ndarray]:
        s, e = self.a_row_start[i], self.a_row_start[i + 1]
        return self.a_col[s:e], self.a_val[s:e]


@dataclass(frozen=True, eq=False)
class _Tiers:
    """One side (over or under) of a deviation, per row (holding or sector) x tier.

    Breakpoints (weights of V_after): the drift steps; plus the specific-risk breakpoints when the
    tracking error is priced (holdings); plus, inside the drift bands, the row's current deviation
    on this side: the tiers below it are `free` (cost 0), so trades that only reduce today's
    deviation earn nothing and trades that push past it pay the usual drift penalty.
    """

    lower: np.ndarray  # n x K, weight
    upper: np.ndarray  # n x K, weight (inf for the last)
    drift_tier: np.ndarray  # n x K: index into the settings' tiers
    free: np.ndarray  # n x K bool
    risk_slope: np.ndarray  # n x K: d_h x secant slope of a^2 (weight units), 0 without risk

    def widths(self, value_after) -> np.ndarray:
        return (self.upper - self.lower) * value_after

    def cost(self, tiers, risk_aversion=0.0) -> np.ndarray:
        slopes = np.array([p for _, p in tiers])[self.drift_tier]
        return np.where(self.free, 0.0, slopes) + risk_aversion * self.risk_slope


def square_pieces(points, kind="secant") -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear stand-in for x^2 on x >= 0: (interval lower ends, slope on each interval).

    secant (the optimizer's): interpolates x^2 at 0 and `points` (over-estimates between them,
    exact at them; beyond the last point, the tangent there). tangent (a lower bound, used by the
    benchmark to bracket the exact optimum): the max of the tangents at 0 and `points`.
    """
    b = np.array((0.0,) + tuple(points))
    if kind == "secant":
        upper = np.append(b[1:], INF)
        return b, np.where(np.isinf(upper), 2.0 * b, b + upper)
    if kind == "tangent":
        return np.append(0.0, 0.5 * (b[1:] + b[:-1])), 2.0 * b
    raise ValueError(f"unknown linearisation {kind}")


def _square_slope(lower, points, kind) -> np.ndarray:
    """Slope of the x^2 stand-in on intervals starting at `lower` (any finer partition)."""
    ends, slopes = square_pieces(points, kind)
    return slopes[np.searchsorted(ends, lower + 1e-15, side="right") - 1]


def _tiers(tiers, n, extra_points=(), free=None, specific_var=None, kind="secant") -> _Tiers:
    steps = np.array([t for t, _ in tiers])
    risk_ends = square_pieces(extra_points, kind)[0][1:] if specific_var is not None else ()
    base = np.array(sorted(set(steps.tolist()) | set(np.asarray(risk_ends).tolist())))
    lower = np.tile(base, (n, 1))
    if free is not None:
        lower = np.sort(np.column_stack([lower, free]), axis=1)
        is_free = lower < free[:, None] - 1e-15
    else:
        is_free = np.zeros(lower.shape, dtype=bool)
    upper = np.column_stack([lower[:, 1:], np.full(n, INF)])
    drift_tier = np.searchsorted(steps, lower, side="right") - 1
    if specific_var is not None:
        risk_slope = specific_var[:, None] * _square_slope(lower, extra_points, kind)
    else:
        risk_slope = np.zeros(lower.shape)
    return _Tiers(lower, upper, drift_tier, is_free, risk_slope)


def household_standard_form(problem: HouseholdProblem, settings: OptimizerSettings) -> StandardForm:
    """The whole formulation, vectorised (README "Formulation")."""
    f = household_facts(problem, settings)
    lots = problem.lots
    n_lots, n_acc, n_sec = len(lots), len(problem.accounts), len(problem.security_ids)
    price = problem.price
    V = f.value_after
    tc = settings.trading_cost_rate
    sf = StandardForm(facts=f)
    sector_tiers = settings.sector_tiers
    te_cap = settings.tracking_error_cap
    price_risk = problem.risk is not None and (settings.risk_aversion > 0 or te_cap is not None)
    # inside the drift bands the rebalancing incentives are off (settings "drift bands")
    sf.risk_aversion = 0.0 if f.inside_bands else settings.risk_aversion
    holdings = list(problem.security_ids) + [CASH]
    n_hold = len(holdings)
    hold_bucket = list(problem.bucket) + [CASH_BUCKET]
    buckets = sorted(set(hold_bucket))
    bucket_of = np.array([buckets.index(b) for b in hold_bucket], dtype=np.int64)
    n_buck = len(buckets)
    # today's deviation (after the requests, before trades), weight of V_after: the free width
    # of each side inside the drift bands
    now = np.append(problem.holding_values, f.cash.sum() - f.withdrawal.sum())
    now_dev = (now - np.append(problem.target_weight, problem.cash_target_weight) * V) / V
    now_sector = sum_by(bucket_of, weights=now_dev, minlength=n_buck)
    hold_class = list(problem.asset_class or [UNCLASSIFIED] * len(problem.security_ids)) + [CASH_BUCKET]
    classes = sorted(set(hold_class))
    class_of = np.array([classes.index(c) for c in hold_class], dtype=np.int64)
    n_cls = len(classes)
    class_tiers = settings.asset_class_tiers
    now_class = sum_by(class_of, weights=now_dev, minlength=n_cls)
    band = f.inside_bands
    extra = settings.specific_risk_breakpoints if price_risk else ()
    svar = np.append(problem.risk.specific_var, 0.0) if price_risk else None
    kind = settings.risk_linearization
    sf.tiers = {
        "security_over": _tiers(
            settings.security_tiers, n_hold, extra, np.maximum(now_dev, 0) if band else None, svar, kind
        ),
        "security_under": _tiers(
            settings.security_tiers, n_hold, extra, np.maximum(-now_dev, 0) if band else None, svar, kind
        ),
        "sector_over": _tiers(sector_tiers, n_buck, (), np.maximum(now_sector, 0) if band else None),
        "sector_under": _tiers(sector_tiers, n_buck, (), np.maximum(-now_sector, 0) if band else None),
        "asset_class_over": _tiers(class_tiers, n_cls, (), np.maximum(now_class, 0) if band else None),
        "asset_class_under": _tiers(class_tiers, n_cls, (), np.maximum(-now_class, 0) if band else None),
    }
    t_over, t_under = sf.tiers["security_over"], sf.tiers["security_under"]
    K, KS = t_over.lower.shape[1], sf.tiers["sector_over"].lower.shape[1]
    KC = sf.tiers["asset_class_over"].lower.shape[1]

    # which identical groups need a same_day_wash_sale switch: loss lots that may be sold + buys
    lot_group = np.array([problem.identical_group[s] for s in lots.security], dtype=object)
    buy_group = np.array([problem.identical_group[s] for s in f.buy_security], dtype=object)
    loss_lot = (f.gain_per_share < 0) & (f.sell_upper > 0)
    switch_groups = sorted(set(lot_group[loss_lot]) & set(buy_group))
    switch_index = {g: i for i, g in enumerate(switch_groups)}
    # securities of those groups get the disjunctive (hull) deviation rows
    switched = np.array([g in switch_index for g in problem.identical_group], dtype=bool)
    sw_secs = np.flatnonzero(switched)

    # --- columns -------------------------------------------------------------------------------
    tw = settings.tax_weight
    sell = sf.add_cols(  # lower bound: shares a tax_loss_harvest request forces out (policies.py)
        "sell", lots.lot_id, 0.0 if lots.sell_minimum is None else lots.sell_minimum, lots.quantity,
        tw * f.tax_per_share + settings.near_long_term_penalty * f.near_long_term_gain + tc * f.lot_price,
    )
    gift_lots = np.flatnonzero(f.gift_eligible)
    gift = sf.add_cols(
        "gift", [lots.lot_id[i] for i in gift_lots], 0.0, lots.quantity[gift_lots],
        -settings.gift_preference * f.gain_per_share[gift_lots] * problem.lt_rate,
    )
    buy_labels = [(problem.accounts[a].account_id, problem.security_ids[s]) for a, s in zip(f.buy_account, f.buy_security)]
    buy_price = price[f.buy_security]
    buy = sf.add_cols("buy", buy_labels, 0.0, f.buy_upper, tc * buy_price + f.buy_location_cost)

    hk = [(h, k) for h in holdings for k in range(K)]
    ra = sf.risk_aversion
    tiers = settings.security_tiers
    over = sf.add_cols(
        "security_over", hk, 0.0, t_over.widths(V).ravel(), t_over.cost(tiers, ra).ravel()
    ).reshape(n_hold, K)
    under = sf.add_cols(
        "security_under", hk, 0.0, t_under.widths(V).ravel(), t_under.cost(tiers, ra).ravel()
    ).reshape(n_hold, K)

    bk = [(b, k) for b in buckets for k in range(KS)]
    so_t, su_t = sf.tiers["sector_over"], sf.tiers["sector_under"]
    s_over = sf.add_cols("sector_over", bk, 0.0, so_t.widths(V).ravel(), so_t.cost(sector_tiers).ravel())
    s_under = sf.add_cols("sector_under", bk, 0.0, su_t.widths(V).ravel(), su_t.cost(sector_tiers).ravel())
    ck = [(c, k) for c in classes for k in range(KC)]
    co_t, cu_t = sf.tiers["asset_class_over"], sf.tiers["asset_class_under"]
    c_over = sf.add_cols("asset_class_over", ck, 0.0, co_t.widths(V).ravel(), co_t.cost(class_tiers).ravel())
    c_under = sf.add_cols("asset_class_under", ck, 0.0, cu_t.widths(V).ravel(), cu_t.cost(class_tiers).ravel())

    # deviation of a switched security in the harvest branch (the regular columns hold the buy
    # branch), and the dollars of its non-loss lots sold or given, split by branch
    sw_labels = [problem.security_ids[s] for s in sw_secs]
    swk = [(h, k) for h in sw_labels for k in range(K)]
    n_sw = len(sw_secs)
    h_over = sf.add_cols(
        "harvest_over", swk, 0.0, t_over.widths(V)[sw_secs].ravel(), t_over.cost(tiers, ra)[sw_secs].ravel()
    ).reshape(n_sw, K)
    h_under = sf.add_cols(
        "harvest_under", swk, 0.0, t_under.widths(V)[sw_secs].ravel(), t_under.cost(tiers, ra)[sw_secs].ravel()
    ).reshape(n_sw, K)
    relief_lot = (f.gain_per_share >= 0) & switched[lots.security]
    relief_max = sum_by(
        lots.security, weights=np.where(relief_lot, lots.quantity * f.lot_price, 0.0), minlength=n_sec
    )[sw_secs]
    h_relief = sf.add_cols("harvest_relief", sw_labels, 0.0, relief_max, 0.0)
    b_relief = sf.add_cols("buy_relief", sw_labels, 0.0, relief_max, 0.0)
    # dollars given of a switched security in the buying branch (gift-and-rebuy allowance)
    gift_value_max = sum_by(
        lots.security[gift_lots], weights=lots.quantity[gift_lots] * f.lot_price[gift_lots], minlength=n_sec
    )
    gr_secs = sw_secs[gift_value_max[sw_secs] > 0]
    g_relief = sf.add_cols(
        "gift_relief_if_buying", [problem.security_ids[s] for s in gr_secs], 0.0, gift_value_max[gr_secs], 0.0
    )
    g_relief_of = np.full(n_sec, -1)
    g_relief_of[gr_secs] = g_relief

    acc_ids = [a.account_id for a in problem.accounts]
    cash_after = sf.add_cols("cash_after", acc_ids, -INF, INF, 0.0)

    has_budget = problem.tax_budget_remaining is not None and bool(np.any(f.tax_per_share != 0))
    overrun = sf.add_cols("tax_overrun", [None] if has_budget else [], 0.0, INF, settings.tax_overrun_penalty)
    switch = sf.add_cols("wash_sale_switch", switch_groups, 0.0, 1.0, 0.0, binary=True)
    z_of_sec = np.full(n_sec, -1)
    z_of_sec[sw_secs] = [switch[switch_index[problem.identical_group[s]]] for s in sw_secs]

    # factor part of the tracking error: y = B'a (factor exposures of the active weights), z = L'y
    # with F = L L' (so y'Fy = |z|^2), |z_k| in tiers priced at the secant slopes of z^2
    if price_risk:
        risk = problem.risk
        n_fac = len(risk.factor_names)
        chol = np.linalg.cholesky(risk.factor_cov + 1e-14 * np.eye(n_fac))
        fac_y = sf.add_cols("factor_exposure", list(risk.factor_names), -INF, INF, 0.0)
        zb, z_secant = square_pieces(settings.factor_risk_breakpoints, settings.risk_linearization)
        z_upper = np.append(zb[1:], INF)
        zk = [(k, j) for k in range(n_fac) for j in range(len(zb))]
        z_cost = np.tile(z_secant, n_fac) * V * sf.risk_aversion
        z_over = sf.add_cols("factor_risk_over", zk, 0.0, np.tile((z_upper - zb), n_fac), z_cost).reshape(n_fac, -1)
        z_under = sf.add_cols("factor_risk_under", zk, 0.0, np.tile((z_upper - zb), n_fac), z_cost).reshape(n_fac, -1)

    # losses the household cannot use this year (beyond net gains + the ordinary offset)
    taxable_lot = f.tax_rate > 0
    st_loss = np.flatnonzero(taxable_lot & ~lots.is_long_term & (f.gain_per_share < 0) & (f.sell_upper > 0))
    lt_loss = np.flatnonzero(taxable_lot & lots.is_long_term & (f.gain_per_share < 0) & (f.sell_upper > 0))
    price_unusable = settings.unusable_loss_value < 1.0 and (len(st_loss) + len(lt_loss)) > 0
    if price_unusable:
        discount = 1.0 - settings.unusable_loss_value
        u_st = sf.add_cols("unusable_st_loss", [None] if len(st_loss) else [], 0.0, INF, tw * discount * problem.st_rate)
        u_lt = sf.add_cols("unusable_lt_loss", [None] if len(lt_loss) else [], 0.0, INF, tw * discount * problem.lt_rate)
    te_overrun = sf.add_cols(
        "tracking_error_overrun", [None] if price_risk and te_cap is not None else [], 0.0, INF,
        settings.tracking_error_overrun_penalty,
    )

    # --- security_weight_deviation[h]: value_h after - t_h V_after = sum_k over - sum_k under ----
    # CASH: its value after is the sum of cash_after over accounts (cash_balance rows below)
    held = np.append(problem.holding_values, 0.0)
    target = np.append(problem.target_weight, problem.cash_target_weight)
    dev_rhs = target * V - held
    plain = np.append(~switched, True)  # CASH is never switched
    plain_idx = np.flatnonzero(plain)
    dev = np.full(n_hold, -1)
    dev[plain_idx] = sf.add_rows(
        "security_weight_deviation", [holdings[h] for h in plain_idx], dev_rhs[plain_idx], dev_rhs[plain_idx]
    )
    sf.add_coefs(np.full(n_acc, dev[-1]), cash_after, 1.0)
    plain_lot = plain[lots.security]
    sf.add_coefs(dev[lots.security[plain_lot]], sell[plain_lot], -f.lot_price[plain_lot])
    plain_gift = plain[lots.security[gift_lots]]
    sf.add_coefs(dev[lots.security[gift_lots][plain_gift]], gift[plain_gift], -f.lot_price[gift_lots][plain_gift])
    plain_buy = plain[f.buy_security]
    sf.add_coefs(dev[f.buy_security[plain_buy]], buy[plain_buy], buy_price[plain_buy])
    sf.add_coefs(np.repeat(dev[plain_idx], K), over[plain_idx].ravel(), -1.0)
    sf.add_coefs(np.repeat(dev[plain_idx], K), under[plain_idx].ravel(), 1.0)

    # --- same_day_wash_sale, disjunctive form for switched securities (README) -------------------
    # if buying   (switch 0): buys - buy_relief - over + under = r (1 - switch)
    # if harvesting (switch 1): -loss sells - harvest_relief - h_over + h_under = r switch
    # relief split: value of non-loss lots sold or given = harvest_relief + buy_relief
    r = dev_rhs[sw_secs]
    row_b = np.full(n_sec, -1)
    row_h = np.full(n_sec, -1)
    row_b[sw_secs] = sf.add_rows("security_weight_deviation_if_buying", sw_labels, r, r)
    row_h[sw_secs] = sf.add_rows("security_weight_deviation_if_harvesting", sw_labels, 0.0, 0.0)
    sw_buy = ~plain_buy
    sf.add_coefs(row_b[f.buy_security[sw_buy]], buy[sw_buy], buy_price[sw_buy])
    sf.add_coefs(row_b[sw_secs], b_relief, -1.0)
    sf.add_coefs(np.repeat(row_b[sw_secs], K), over[sw_secs].ravel(), -1.0)
    sf.add_coefs(np.repeat(row_b[sw_secs], K), under[sw_secs].ravel(), 1.0)
    sf.add_coefs(row_b[sw_secs], z_of_sec[sw_secs], r)
    sw_loss = np.flatnonzero(switched[lots.security] & (f.gain_per_share < 0))
    sf.add_coefs(row_h[lots.security[sw_loss]], sell[sw_loss], -f.lot_price[sw_loss])
    sf.add_coefs(row_h[sw_secs], h_relief, -1.0)
    sf.add_coefs(np.repeat(row_h[sw_secs], K), h_over.ravel(), -1.0)
    sf.add_coefs(np.repeat(row_h[sw_secs], K), h_under.ravel(), 1.0)
    sf.add_coefs(row_h[sw_secs], z_of_sec[sw_secs], -r)
    split = np.full(n_sec, -1)
    split[sw_secs] = sf.add_rows("relief_split", sw_labels, 0.0, 0.0)
    rl = np.flatnonzero(relief_lot)
    sf.add_coefs(split[lots.security[rl]], sell[rl], f.lot_price[rl])
    rg = np.flatnonzero(switched[lots.security[gift_lots]])
    sf.add_coefs(split[lots.security[gift_lots[rg]]], gift[rg], f.lot_price[gift_lots[rg]])
    sf.add_coefs(split[sw_secs], h_relief, -1.0)
    sf.add_coefs(split[sw_secs], b_relief, -1.0)
    hr = sf.add_rows("harvest_relief_only_if_harvesting", sw_labels, -INF, 0.0)
    sf.add_coefs(hr, h_relief, 1.0)
    sf.add_coefs(hr, z_of_sec[sw_secs], -relief_max)
    br = sf.add_rows("buy_relief_only_if_buying", sw_labels, -INF, relief_max)
    sf.add_coefs(br, b_relief, 1.0)
    sf.add_coefs(br, z_of_sec[sw_secs], relief_max)

    # --- sector_weight_deviation[b] and asset_class_weight_deviation[c]: the same, summed over
    # the group's holdings (group_of: holding -> group index, CASH last)
    def group_deviation_rows(name, labels, group_of, n_groups, over_cols, under_cols, k_tiers):
        rhs = sum_by(group_of, weights=dev_rhs, minlength=n_groups)
        rows = sf.add_rows(name, labels, rhs, rhs)
        of_lot = rows[group_of[lots.security]]
        sf.add_coefs(np.full(n_acc, rows[group_of[-1]]), cash_after, 1.0)
        sf.add_coefs(of_lot, sell, -f.lot_price)
        sf.add_coefs(of_lot[gift_lots], gift, -f.lot_price[gift_lots])
        sf.add_coefs(rows[group_of[f.buy_security]], buy, buy_price)
        sf.add_coefs(np.repeat(rows, k_tiers), over_cols, -1.0)
        sf.add_coefs(np.repeat(rows, k_tiers), under_cols, 1.0)

    group_deviation_rows("sector_weight_deviation", buckets, bucket_of, n_buck, s_over, s_under, KS)
    group_deviation_rows("asset_class_weight_deviation", classes, class_of, n_cls, c_over, c_under, KC)

    # --- cash_balance[a]: cash_after = cash + proceeds - purchases - withdrawal -----------------
    cash_rows = sf.add_rows("cash_balance", acc_ids, f.cash - f.withdrawal, f.cash - f.withdrawal)
    sf.add_coefs(cash_rows, cash_after, 1.0)
    sf.add_coefs(cash_rows[lots.account], sell, -f.lot_price)
    sf.add_coefs(cash_rows[f.buy_account], buy, buy_price)
    # --- cash_never_negative[a]: withdrawals are met and no account overdraws --------------------
    nn_rows = sf.add_rows("cash_never_negative", acc_ids, 0.0, INF)
    sf.add_coefs(nn_rows, cash_after, 1.0)
    # --- cash_at_least_minimum[a]: the account keeps its cash minimum ------------------------------
    with_min = np.flatnonzero(f.cash_minimum > 0)
    cm_rows = sf.add_rows("cash_at_least_minimum", [acc_ids[a] for a in with_min], f.cash_minimum[with_min], INF)
    sf.add_coefs(cm_rows, cash_after[with_min], 1.0)

    # --- charitable_gift_amount[a]: the requested gift value (or all that is eligible) -----------
    gift_accounts = [a for a in range(n_acc) if f.gift_target[a] > 0]
    g_rows = sf.add_rows(
        "charitable_gift_amount", [acc_ids[a] for a in gift_accounts],
        f.gift_target[gift_accounts], f.gift_target[gift_accounts],
    )
    g_row_of_account = np.full(n_acc, -1)
    g_row_of_account[gift_accounts] = g_rows
    sf.add_coefs(g_row_of_account[lots.account[gift_lots]], gift, f.lot_price[gift_lots])

    # --- sell_and_gift_within_lot[l]: a lot is sold or given once ---------------------------------
    w_rows = sf.add_rows("sell_and_gift_within_lot", [lots.lot_id[i] for i in gift_lots], -INF, lots.quantity[gift_lots])
    sf.add_coefs(w_rows, sell[gift_lots], 1.0)
    sf.add_coefs(w_rows, gift, 1.0)

    # --- tax_budget: net estimated tax of the day <= remaining budget + overrun (soft cap) --------
    taxed = np.flatnonzero(f.tax_per_share != 0)
    if has_budget:
        t_row = sf.add_rows("tax_budget", [None], -INF, problem.tax_budget_remaining)
        sf.add_coefs(np.full(len(taxed), t_row[0]), sell[taxed], f.tax_per_share[taxed])
        sf.add_coefs(t_row, overrun, -1.0)

    # --- never_sell_restriction[l]: never_sell securities and locked accounts keep their lots ------
    frozen = np.flatnonzero(f.never_sold)
    ns_rows = sf.add_rows("never_sell_restriction", [lots.lot_id[i] for i in frozen], -INF, 0.0)
    sf.add_coefs(ns_rows, sell[frozen], 1.0)
    # --- never_hold_restriction[l]: never_hold securities are sold (or given) in full today -------
    forced = np.flatnonzero(f.must_sell)
    nh_rows = sf.add_rows("never_hold_restriction", [lots.lot_id[i] for i in forced], lots.quantity[forced], INF)
    sf.add_coefs(nh_rows, sell[forced], 1.0)
    gift_pos = np.full(n_lots, -1)
    gift_pos[gift_lots] = gift
    forced_gift = forced[gift_pos[forced] >= 0]
    sf.add_coefs(nh_rows[np.searchsorted(forced, forced_gift)], gift_pos[forced_gift], 1.0)

    # --- no_loss_sale_inside_wash_window[l]: a recent buy of the group blocks loss sales ----------
    blocked = np.flatnonzero(f.wash_blocked)
    b_rows = sf.add_rows("no_loss_sale_inside_wash_window", [lots.lot_id[i] for i in blocked], -INF, 0.0)
    sf.add_coefs(b_rows, sell[blocked], 1.0)

    # --- buy_only_up_to_target[s]: buy s up to its target value, plus what is given of s today
    # (gift-and-rebuy resets the basis); never above target, no same-day round trips -------------
    bought = np.array(sorted(set(f.buy_security.tolist())), dtype=np.int64)
    bt_rows = sf.add_rows("buy_only_up_to_target", [problem.security_ids[s] for s in bought], -INF, f.buy_shortfall[bought])
    bt_row_of = np.full(n_sec, -1)
    bt_row_of[bought] = bt_rows
    sf.add_coefs(bt_row_of[f.buy_security], buy, buy_price)
    # ... plus, as a wash-sale substitute, the loss dollars harvested today in its sector from
    # other identical groups (at most substitute_room): H_bucket - H_own_group, where
    # harvested_loss_value_* = sum of price x sell over the taxable loss lots of the bucket / group
    sub = bought[f.substitute_room[bought] > 0]
    if len(sub):
        harvest_lot = np.flatnonzero((f.gain_per_share < 0) & (f.sell_upper > 0) & (f.tax_rate > 0))
        lot_bucket = np.array([problem.bucket[s] for s in lots.security[harvest_lot]], dtype=object)
        lot_grp = lot_group[harvest_lot]
        hb_labels = sorted(set(lot_bucket.tolist()) & {problem.bucket[s] for s in sub})
        hg_labels = sorted(set(lot_grp.tolist()) & {problem.identical_group[s] for s in sub})
        hb = sf.add_cols("harvested_loss_value_by_sector", hb_labels, 0.0, INF, 0.0)
        hg = sf.add_cols("harvested_loss_value_by_group", hg_labels, 0.0, INF, 0.0)
        hb_of = dict(zip(hb_labels, hb))
        hg_of = dict(zip(hg_labels, hg))
        for name, labels_, cols_, keys in (
            ("harvested_loss_value_by_sector_definition", hb_labels, hb, lot_bucket),
            ("harvested_loss_value_by_group_definition", hg_labels, hg, lot_grp),
        ):
            d_rows = sf.add_rows(name, labels_, 0.0, 0.0)
            sf.add_coefs(d_rows, cols_, 1.0)
            row_of = dict(zip(labels_, d_rows))
            hit = np.array([k in row_of for k in keys], dtype=bool)
            sf.add_coefs([row_of[k] for k in keys[hit]], sell[harvest_lot[hit]], -f.lot_price[harvest_lot[hit]])
        for s_ in sub:
            b_col = hb_of.get(problem.bucket[s_])
            if b_col is None:
                continue
            sf.add_coefs([bt_row_of[s_]], [b_col], -1.0)
            g_col = hg_of.get(problem.identical_group[s_])
            if g_col is not None:
                sf.add_coefs([bt_row_of[s_]], [g_col], 1.0)
    gift_in = np.flatnonzero(bt_row_of[lots.security[gift_lots]] >= 0)
    sf.add_coefs(bt_row_of[lots.security[gift_lots[gift_in]]], gift[gift_in], -f.lot_price[gift_lots[gift_in]])

    # --- same_day_wash_sale: loss sells of group g only if switch_g = 1, buys only if 0 ----------
    # loss side: sell_l <= quantity_l * switch_g. Buy side, per switched security: buys <=
    # shortfall (1 - switch) + gift_relief_if_buying, i.e. buy_only_up_to_target restricted to the
    # buying branch: valid at switch 0 (no loss lot sold) and 0 at switch 1, and far tighter than a
    # big-M on the cash budget (README "same-day wash sale").
    sw_lots = np.flatnonzero(loss_lot & switched[lots.security])
    l_rows = sf.add_rows("same_day_wash_sale_loss_sale", [lots.lot_id[i] for i in sw_lots], -INF, 0.0)
    sf.add_coefs(l_rows, sell[sw_lots], 1.0)
    sf.add_coefs(l_rows, z_of_sec[lots.security[sw_lots]], -f.sell_upper[sw_lots])
    sw_bought = bought[switched[bought]]
    short = f.buy_shortfall[sw_bought] + f.substitute_room[sw_bought]
    bb_rows = sf.add_rows("same_day_wash_sale_buy", [problem.security_ids[s] for s in sw_bought], -INF, short)
    bb_row_of = np.full(n_sec, -1)
    bb_row_of[sw_bought] = bb_rows
    in_sw = np.flatnonzero(bb_row_of[f.buy_security] >= 0)
    sf.add_coefs(bb_row_of[f.buy_security[in_sw]], buy[in_sw], buy_price[in_sw])
    sf.add_coefs(bb_rows, z_of_sec[sw_bought], short)
    with_gift = sw_bought[g_relief_of[sw_bought] >= 0]
    sf.add_coefs(bb_row_of[with_gift], g_relief_of[with_gift], -1.0)
    gr_labels = [problem.security_ids[s] for s in gr_secs]
    gw_rows = sf.add_rows("gift_relief_within_gifts", gr_labels, -INF, 0.0)
    gw_row_of = np.full(n_sec, -1)
    gw_row_of[gr_secs] = gw_rows
    sf.add_coefs(gw_rows, g_relief, 1.0)
    g_in = np.flatnonzero(gw_row_of[lots.security[gift_lots]] >= 0)
    sf.add_coefs(gw_row_of[lots.security[gift_lots[g_in]]], gift[g_in], -f.lot_price[gift_lots[g_in]])
    gb_rows = sf.add_rows("gift_relief_only_if_buying", gr_labels, -INF, gift_value_max[gr_secs])
    sf.add_coefs(gb_rows, g_relief, 1.0)
    sf.add_coefs(gb_rows, z_of_sec[gr_secs], gift_value_max[gr_secs])

    # --- factor_exposure_definition[f]: V_after y_f = sum_i B_if (value_i after - t_i V_after) ----
    # written with the trades (value after = held + price x (buys - sells - gifts)), not with the
    # deviation tiers they equal (for a switched security, both branches' nets sum to the same):
    # one entry per trade column and factor instead of one per tier column and factor (on a
    # daily-run household, 29,000 of the model's 55,000 nonzeros were these rows' tiers)
    if price_risk:
        exposure_held = risk.exposures.T @ -dev_rhs[:n_sec]  # sum_i B_if (held_i - t_i V_after)
        fe = sf.add_rows("factor_exposure_definition", list(risk.factor_names), exposure_held, exposure_held)
        sf.add_coefs(fe, fac_y, V)

        def exposure_of_trades(cols, securities, dollars_per_share):
            b = risk.exposures[securities]
            i, k = np.nonzero(b)
            sf.add_coefs(fe[k], cols[i], dollars_per_share[i] * b[i, k])

        exposure_of_trades(sell, lots.security, f.lot_price)
        exposure_of_trades(gift, lots.security[gift_lots], f.lot_price[gift_lots])
        exposure_of_trades(buy, f.buy_security, -buy_price)
        # --- factor_risk_definition[k]: z_k = sum_f L_fk y_f = sum_j over - sum_j under ----------
        fr = sf.add_rows("factor_risk_definition", list(range(n_fac)), 0.0, 0.0)
        kk, ff = np.meshgrid(np.arange(n_fac), np.arange(n_fac), indexing="ij")
        sf.add_coefs(fr[kk.ravel()], fac_y[ff.ravel()], chol[ff.ravel(), kk.ravel()])
        nz = z_over.shape[1]
        sf.add_coefs(np.repeat(fr, nz), z_over.ravel(), -1.0)
        sf.add_coefs(np.repeat(fr, nz), z_under.ravel(), 1.0)

    # --- unusable_loss_beyond_offset: unusable >= -(YTD net + today's net gain) - offset --------
    # unusable_st/lt_loss_within_losses: each part at most the losses of its character sold today
    if price_unusable:
        ytd = problem.realized_st_gain_ytd + problem.realized_lt_gain_ytd
        tl = np.flatnonzero(taxable_lot)
        # Losses already carried forward this year are not today's: once YTD net losses exceed the
        # offset, today's net loss is wholly unusable (bound 0), never a demand for gains today.
        ub = sf.add_rows("unusable_loss_beyond_offset", [None], min(0.0, -ytd - settings.ordinary_loss_offset), INF)
        sf.add_coefs(np.full(len(tl), ub[0]), sell[tl], f.gain_per_share[tl])
        for name, u, loss in (("st", u_st, st_loss), ("lt", u_lt, lt_loss)):
            if not len(u):
                continue
            sf.add_coefs(ub, u, 1.0)
            w = sf.add_rows(f"unusable_{name}_loss_within_losses", [None], -INF, 0.0)
            sf.add_coefs(w, u, 1.0)
            sf.add_coefs(np.full(len(loss), w[0]), sell[loss], f.gain_per_share[loss])

    # --- tracking_error_cap: linearised V x TE^2 <= V x cap^2 + overrun (soft) -------------------
    if len(te_overrun):
        te_row = sf.add_rows("tracking_error_cap", [None], -INF, V * te_cap**2)
        sf.add_coefs(te_row, te_overrun, -1.0)

    # --- objective parts (the Pyomo model names them; c above is their weighted sum) ------------
    near = np.flatnonzero(f.near_long_term_gain)
    sf.objective_terms = {
        "tax_cost": (sell[taxed], f.tax_per_share[taxed]),
        "near_long_term_gain": (sell[near], f.near_long_term_gain[near]),
        "traded_value": (np.concatenate([sell, buy]), np.concatenate([f.lot_price, buy_price])),
        "gift_tax_avoided": (gift, f.gain_per_share[gift_lots] * problem.lt_rate),
    }
    # deviation columns grouped by the knob that prices them (free columns: none)
    dev = [(over, t_over, slice(None)), (under, t_under, slice(None)), (h_over, t_over, sw_secs), (h_under, t_under, sw_secs)]
    dev_cols = np.concatenate([c.reshape(-1, K) for c, _, _ in dev])
    dev_tier = np.concatenate([t.drift_tier[r] for _, t, r in dev]).reshape(-1, K)
    dev_free = np.concatenate([t.free[r] for _, t, r in dev]).reshape(-1, K)
    s_cols = np.concatenate([s_over.reshape(n_buck, KS), s_under.reshape(n_buck, KS)])
    s_tier = np.concatenate([so_t.drift_tier, su_t.drift_tier])
    s_free = np.concatenate([so_t.free, su_t.free])
    c_cols = np.concatenate([c_over.reshape(n_cls, KC), c_under.reshape(n_cls, KC)])
    c_tier = np.concatenate([co_t.drift_tier, cu_t.drift_tier])
    c_free = np.concatenate([co_t.free, cu_t.free])
    sf.tier_columns = {
        "security": [dev_cols[(dev_tier == k) & ~dev_free] for k in range(len(tiers))],
        "sector": [s_cols[(s_tier == k) & ~s_free] for k in range(len(sector_tiers))],
        "asset_class": [c_cols[(c_tier == k) & ~c_free] for k in range(len(class_tiers))],
    }
    if price_risk:
        slope = np.concatenate([t.risk_slope[r] for _, t, r in dev]).reshape(-1, K)
        keep = slope > 0
        sf.objective_terms["specific_risk"] = (dev_cols[keep], slope[keep])
        zc = np.concatenate([z_over.ravel(), z_under.ravel()])
        sf.objective_terms["factor_risk"] = (zc, np.tile(np.tile(z_secant, n_fac), 2) * V)
    if len(te_overrun):
        for name in ("specific_risk", "factor_risk"):
            tcols, tcoefs = sf.objective_terms[name]
            sf.add_coefs(np.full(len(tcols), te_row[0]), tcols, tcoefs)
    misplaced = np.flatnonzero(f.buy_location_cost > 0)
    if len(misplaced):
        sf.objective_terms["misplaced_buy_value"] = (buy[misplaced], buy_price[misplaced])
    if price_unusable:
        uc = np.concatenate([u_st, u_lt])
        sf.objective_terms["unusable_loss_tax_value"] = (
            uc, np.array([problem.st_rate] * len(u_st) + [problem.lt_rate] * len(u_lt))
        )
    return sf.finish()


# ---------------------------------------------------------------------------------------------
# Pyomo model


def _linear(cols, coefs, col_vars) -> LinearExpression:
    return LinearExpression(
        constant=0, linear_coefs=np.asarray(coefs, dtype=float).tolist(),
        linear_vars=list(map(col_vars.__getitem__, np.asarray(cols, dtype=np.int64).tolist())),
    )


# column block -> (Var name, index Set name or None for a scalar, domain, meaning)
_VARIABLES = {
    "sell": ("sell", "LOTS", pyo.NonNegativeReals, "shares sold per lot"),
    "gift": ("gift", "GIFT_LOTS", pyo.NonNegativeReals, "shares given per lot"),
    "buy": ("buy", "BUYS", pyo.NonNegativeReals, "shares bought per account x security"),
    "security_over": ("security_over", "HOLDING_TIERS", pyo.NonNegativeReals, "dollars over target, per tier"),
    "security_under": ("security_under", "HOLDING_TIERS", pyo.NonNegativeReals, "dollars under target, per tier"),
    "sector_over": ("sector_over", "SECTOR_TIERS", pyo.NonNegativeReals, "sector dollars over target, per tier"),
    "sector_under": ("sector_under", "SECTOR_TIERS", pyo.NonNegativeReals, "sector dollars under target, per tier"),
    "asset_class_over": ("asset_class_over", "ASSET_CLASS_TIERS", pyo.NonNegativeReals, "asset-class dollars over target, per tier"),
    "asset_class_under": ("asset_class_under", "ASSET_CLASS_TIERS", pyo.NonNegativeReals, "asset-class dollars under target, per tier"),
    "harvest_over": ("harvest_over", "SWITCHED_TIERS", pyo.NonNegativeReals, "over target if harvesting"),
    "harvest_under": ("harvest_under", "SWITCHED_TIERS", pyo.NonNegativeReals, "under target if harvesting"),
    "harvest_relief": ("harvest_relief", "SWITCHED", pyo.NonNegativeReals, "non-loss dollars sold if harvesting"),
    "buy_relief": ("buy_relief", "SWITCHED", pyo.NonNegativeReals, "non-loss dollars sold if buying"),
    "gift_relief_if_buying": ("gift_relief_if_buying", "SWITCHED_GIFTED", pyo.NonNegativeReals, "dollars given if buying"),
    "cash_after": ("cash_after", "ACCOUNTS", pyo.Reals, "account cash after trades and withdrawals"),
    "tax_overrun": ("tax_overrun", None, pyo.NonNegativeReals, "estimated tax above the budget"),
    "wash_sale_switch": ("wash_sale_switch", "WASH_SWITCH_GROUPS", pyo.Binary, "1: harvest losses, 0: buy"),
    "factor_exposure": ("factor_exposure", "FACTORS", pyo.Reals, "risk-model factor exposure of the active weights"),
    "factor_risk_over": ("factor_risk_over", "FACTOR_RISK_TIERS", pyo.NonNegativeReals, "rotated exposure > 0, per tier"),
    "factor_risk_under": ("factor_risk_under", "FACTOR_RISK_TIERS", pyo.NonNegativeReals, "rotated exposure < 0, per tier"),
    "unusable_st_loss": ("unusable_st_loss", None, pyo.NonNegativeReals, "ST loss dollars not usable this year"),
    "unusable_lt_loss": ("unusable_lt_loss", None, pyo.NonNegativeReals, "LT loss dollars not usable this year"),
    "tracking_error_overrun": ("tracking_error_overrun", None, pyo.NonNegativeReals, "V x TE^2 above the cap"),
    "harvested_loss_value_by_sector": (
        "harvested_loss_value_by_sector", "HARVEST_SECTORS", pyo.NonNegativeReals, "loss-lot dollars sold, per sector"),
    "harvested_loss_value_by_group": (
        "harvested_loss_value_by_group", "HARVEST_GROUPS", pyo.NonNegativeReals, "loss-lot dollars sold, per group"),
}


def build_household_model(
    problem: HouseholdProblem, settings: OptimizerSettings = OptimizerSettings(), form: StandardForm | None = None
) -> pyo.ConcreteModel:
    """The Pyomo model of one household; `form` may be passed when already computed."""
    # Tens of thousands of small expression objects: Python's cyclic GC would rescan them many
    # times during the build (measured 3x the build itself); Pyomo's writers pause it the same way.
    with PauseGC():
        return _build_household_model(problem, settings, form)


def _build_household_model(problem, settings, form) -> pyo.ConcreteModel:
    sf = form if form is not None else household_standard_form(problem, settings)
    m = pyo.ConcreteModel(name=f"household_{problem.household_id}")
    m.standard_form = sf  # plain attribute: the vectors the model was built from (not a component)
    m.problem = problem

    # Sets ---------------------------------------------------------------------------------------
    labels = {name: block.labels for name, block in sf.col_blocks.items()}
    m.LOTS = pyo.Set(initialize=labels["sell"], ordered=True)
    m.GIFT_LOTS = pyo.Set(initialize=labels["gift"], ordered=True)
    m.BUYS = pyo.Set(initialize=labels["buy"], dimen=2, ordered=True)
    m.HOLDING_TIERS = pyo.Set(initialize=labels["security_over"], dimen=2, ordered=True)
    m.SECTOR_TIERS = pyo.Set(initialize=labels["sector_over"], dimen=2, ordered=True)
    m.ASSET_CLASS_TIERS = pyo.Set(initialize=labels["asset_class_over"], dimen=2, ordered=True)
    m.SWITCHED = pyo.Set(initialize=labels["harvest_relief"], ordered=True)
    m.SWITCHED_GIFTED = pyo.Set(initialize=labels["gift_relief_if_buying"], ordered=True)
    m.SWITCHED_TIERS = pyo.Set(initialize=labels["harvest_over"], dimen=2, ordered=True)
    m.WASH_SWITCH_GROUPS = pyo.Set(initialize=labels["wash_sale_switch"], ordered=True)
    m.ACCOUNTS = pyo.Set(initialize=labels["cash_after"], ordered=True)
    m.HARVEST_SECTORS = pyo.Set(initialize=labels.get("harvested_loss_value_by_sector", []), ordered=True)
    m.HARVEST_GROUPS = pyo.Set(initialize=labels.get("harvested_loss_value_by_group", []), ordered=True)
    m.FACTORS = pyo.Set(initialize=labels.get("factor_exposure", []), ordered=True)
    m.FACTOR_RISK_TIERS = pyo.Set(initialize=labels.get("factor_risk_over", []), dimen=2, ordered=True)
    m.TIERS = pyo.Set(initialize=range(len(settings.security_tiers)), ordered=True)
    m.SECTOR_TIER = pyo.Set(initialize=range(len(settings.sector_tiers)), ordered=True)
    m.ASSET_CLASS_TIER = pyo.Set(initialize=range(len(settings.asset_class_tiers)), ordered=True)

    # Params (knobs: change one and re-solve without rebuilding) ------------------------------------
    m.drift_penalty = pyo.Param(m.TIERS, initialize={k: p for k, (_, p) in enumerate(settings.security_tiers)}, mutable=True)
    m.sector_drift_penalty = pyo.Param(
        m.SECTOR_TIER, initialize={k: p for k, (_, p) in enumerate(settings.sector_tiers)}, mutable=True
    )
    m.asset_class_drift_penalty = pyo.Param(
        m.ASSET_CLASS_TIER, initialize={k: p for k, (_, p) in enumerate(settings.asset_class_tiers)}, mutable=True
    )
    m.risk_aversion = pyo.Param(initialize=sf.risk_aversion, mutable=True)  # 0 inside the bands
    m.unusable_loss_value = pyo.Param(initialize=settings.unusable_loss_value, mutable=True)
    m.trading_cost_rate = pyo.Param(initialize=settings.trading_cost_rate, mutable=True)
    m.near_long_term_penalty = pyo.Param(initialize=settings.near_long_term_penalty, mutable=True)
    m.gift_preference = pyo.Param(initialize=settings.gift_preference, mutable=True)
    m.tax_overrun_penalty = pyo.Param(initialize=settings.tax_overrun_penalty, mutable=True)
    m.tax_weight = pyo.Param(initialize=settings.tax_weight, mutable=True)
    m.asset_location_penalty = pyo.Param(initialize=settings.asset_location_penalty, mutable=True)
    m.tracking_error_overrun_penalty = pyo.Param(initialize=settings.tracking_error_overrun_penalty, mutable=True)

    # Vars, in the standard form's column order --------------------------------------------------
    col_vars: list = []
    for block in sf.col_blocks:
        name, index, domain, doc = _VARIABLES[block]
        if index is None:
            if not labels[block]:
                continue
            var = pyo.Var(domain=domain, doc=doc)
            setattr(m, name, var)
            col_vars.append(var)
        else:
            var = pyo.Var(getattr(m, index), domain=domain, doc=doc)
            setattr(m, name, var)
            # a dense Var is filled in its index's order: its _data dict is var.values() without a
            # lookup per element (a tenth of a millisecond per thousand columns)
            col_vars.extend(var._data.values())
    assert len(col_vars) == sf.num_col, "Pyomo columns out of step with the standard form"
    _set_bounds(col_vars, sf.col_lower, sf.col_upper)
    m.col_vars = col_vars  # plain attribute, column order of the standard form

    # Constraints, one indexed component per business rule ----------------------------------------
    starts = sf.a_row_start.tolist()
    lows, highs = sf.row_lower.tolist(), sf.row_upper.tolist()
    # every nonzero's coefficient x Var term at once, each row's body a slice of them: the
    # LinearExpression(constant=0, linear_coefs, linear_vars) of each row, without a call per row
    terms = list(map(MonomialTermExpression, zip(sf.a_val.tolist(), map(col_vars.__getitem__, sf.a_col.tolist()))))
    row_constraints: list = []  # ConstraintData in the standard form's row order
    for name, block in sf.row_blocks.items():
        table = {}
        for offset, label in enumerate(block.labels):
            i = block.start + offset
            body = LinearExpression(terms[starts[i]:starts[i + 1]])
            table[label] = _row_relation(lows[i], body, highs[i])
        if block.labels == [None]:
            con = pyo.Constraint(expr=table[None])
            setattr(m, name, con)
            row_constraints.append(con)
        else:
            index = pyo.Set(initialize=block.labels, ordered=True, dimen=2 if isinstance(block.labels[0], tuple) else 1) \
                if block.labels else pyo.Set(initialize=[], ordered=True)
            setattr(m, name.upper() + "_INDEX", index)
            con = pyo.Constraint(index, rule=_row_rule(table))
            setattr(m, name, con)
            # the rule filled the ConstraintData in the index's order: values() is that order,
            # without a normalize_index lookup per row (con[label])
            datas = list(con.values())
            assert len(datas) == len(block.labels), "Pyomo rows out of step with the standard form"
            row_constraints.extend(datas)

    # Objective: named dollar amounts, weighted by the knobs ----------------------------------------
    tier_cols = sf.tier_columns
    m.security_drift_dollars = pyo.Expression(
        m.TIERS, rule=lambda m, k: LinearExpression(args=[col_vars[j] for j in tier_cols["security"][k]])
    )
    m.sector_drift_dollars = pyo.Expression(
        m.SECTOR_TIER, rule=lambda m, k: LinearExpression(args=[col_vars[j] for j in tier_cols["sector"][k]])
    )
    m.asset_class_drift_dollars = pyo.Expression(
        m.ASSET_CLASS_TIER, rule=lambda m, k: LinearExpression(args=[col_vars[j] for j in tier_cols["asset_class"][k]])
    )
    for name, (tcols, tcoefs) in sf.objective_terms.items():
        setattr(m, name, pyo.Expression(expr=_linear(tcols, tcoefs, col_vars)))
    cost = (
        sum(m.drift_penalty[k] * m.security_drift_dollars[k] for k in m.TIERS)
        + sum(m.sector_drift_penalty[k] * m.sector_drift_dollars[k] for k in m.SECTOR_TIER)
        + sum(m.asset_class_drift_penalty[k] * m.asset_class_drift_dollars[k] for k in m.ASSET_CLASS_TIER)
        + m.tax_weight * m.tax_cost
        + m.near_long_term_penalty * m.near_long_term_gain
        + m.trading_cost_rate * m.traded_value
        - m.gift_preference * m.gift_tax_avoided
    )
    if "tax_budget" in sf.row_blocks:
        cost = cost + m.tax_overrun_penalty * m.tax_overrun
    if "specific_risk" in sf.objective_terms:
        # risk_aversion x V_after x TE^2, linearised (README "Tracking error")
        cost = cost + m.risk_aversion * (m.specific_risk + m.factor_risk)
    if "unusable_loss_tax_value" in sf.objective_terms:
        cost = cost + m.tax_weight * (1 - m.unusable_loss_value) * m.unusable_loss_tax_value
    if "misplaced_buy_value" in sf.objective_terms:
        cost = cost + m.asset_location_penalty * m.misplaced_buy_value
    if "tracking_error_cap" in sf.row_blocks:
        cost = cost + m.tracking_error_overrun_penalty * m.tracking_error_overrun
    m.total_cost = pyo.Objective(expr=cost, sense=pyo.minimize)
    # What the standard-form export (solve.py) checks before it trusts `sf` over the Pyomo objects:
    # the row constraints with their expressions, and the objective and its named parts.
    m.row_constraints = row_constraints
    m.built_row_exprs = [c.expr for c in row_constraints]
    m.built_objective = (m.total_cost.expr,) + tuple(
        getattr(m, name).expr for name in sf.objective_terms
    ) + tuple(e.expr for k in m.TIERS for e in [m.security_drift_dollars[k]]) + tuple(
        e.expr for k in m.SECTOR_TIER for e in [m.sector_drift_dollars[k]]
    ) + tuple(e.expr for k in m.ASSET_CLASS_TIER for e in [m.asset_class_drift_dollars[k]])
    return m


def _set_bounds(col_vars: list, lower: np.ndarray, upper: np.ndarray) -> None:
    """Each Var's bounds from the standard form's column bounds (+inf: no upper bound).

    What VarData.setlb/setub store for a plain float is the float itself (their validation only
    rejects expressions); assigning it directly skips two property calls per column, about a
    tenth of the build for a household's ~7,500 columns."""
    for v, lb, ub in zip(col_vars, lower.tolist(), upper.tolist()):
        v._lb = lb
        v._ub = None if ub == INF else ub


def release_household_model(m: pyo.ConcreteModel) -> None:
    """Break the reference cycles of a model that is no longer needed, so that reference counting
    frees it at once. Every scalar Pyomo component (the model itself, each scalar Set, Param,
    Expression, Objective) holds itself in its ``_data`` dict: a built household is one cycle of
    ~80,000 objects that only Python's cyclic GC can free, and that collection scanned it again
    (measured: ~15% of a daily-run household's CPU). The model must not be used afterwards."""
    for component in list(m.component_objects(descend_into=True)):
        if not component.is_indexed():
            component._data = {}
    m._data = {}


def objective_vector(m: pyo.ConcreteModel) -> np.ndarray:
    """c of `total_cost` from the standard form's named terms and the model's current Params:
    the same sum as the Pyomo objective (a test compares the two), without walking it."""
    sf: StandardForm = m.standard_form
    c = np.zeros(sf.num_col)
    v = pyo.value

    def add(name, weight):
        if name in sf.objective_terms:
            cols, coefs = sf.objective_terms[name]
            np.add.at(c, np.asarray(cols, dtype=np.int64), weight * np.asarray(coefs, dtype=float))

    for k in m.TIERS:
        np.add.at(c, sf.tier_columns["security"][k], v(m.drift_penalty[k]))
    for k in m.SECTOR_TIER:
        np.add.at(c, sf.tier_columns["sector"][k], v(m.sector_drift_penalty[k]))
    for k in m.ASSET_CLASS_TIER:
        np.add.at(c, sf.tier_columns["asset_class"][k], v(m.asset_class_drift_penalty[k]))
    add("tax_cost", v(m.tax_weight))
    add("near_long_term_gain", v(m.near_long_term_penalty))
    add("traded_value", v(m.trading_cost_rate))
    add("gift_tax_avoided", -v(m.gift_preference))
    if "tax_budget" in sf.row_blocks:
        c[sf.cols("tax_overrun")] += v(m.tax_overrun_penalty)
    if "specific_risk" in sf.objective_terms:
        add("specific_risk", v(m.risk_aversion))
        add("factor_risk", v(m.risk_aversion))
    add("unusable_loss_tax_value", v(m.tax_weight) * (1 - v(m.unusable_loss_value)))
    add("misplaced_buy_value", v(m.asset_location_penalty))
    if "tracking_error_cap" in sf.row_blocks:
        c[sf.cols("tracking_error_overrun")] += v(m.tracking_error_overrun_penalty)
    return c


def _row_relation(lo: float, body: LinearExpression, hi: float):
    """The relational expression Pyomo makes of the tuple (lo, body, hi) (infinite bounds as None):
    RangedExpression((lo, body, hi)) or InequalityExpression((lo, body)) / ((body, hi)), built
    directly instead of through tuple_to_relational_expr's operator dispatch (which builds and
    drops an intermediate inequality per ranged row). Anything else (no finite bound, lo > hi)
    still goes through Pyomo's own conversion, with its own result or error."""
    if lo != -INF and hi != INF:
        if lo <= hi:
            return RangedExpression((lo, body, hi), (False, False))
    elif lo != -INF:
        return InequalityExpression((lo, body), False)
    elif hi != INF:
        return InequalityExpression((body, hi), False)
    return tuple_to_relational_expr((None if lo == -INF else lo, body, None if hi == INF else hi))


def _row_rule(table):
    def rule(m, *index):
        return table[index if len(index) > 1 else index[0]]

    return rule
