"""Knobs of the household optimizer, with the defaults documented in optimization/README.md.

Every penalty is in dollars per dollar, so the objective reads as "dollars of harm": tax paid,
trading cost, and a price put on each dollar held away from target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

SOLVER_INTERFACES = ("direct", "appsi")

# Knobs a household may override from the account master (dim_households columns of the same
# name; docs/marts.md). Everything else is firm policy.
HOUSEHOLD_OVERRIDABLE = (
    "risk_aversion", "tax_weight", "trading_cost_bps", "tracking_error_cap", "unusable_loss_value",
    "drift_band_absolute", "drift_band_total", "min_trade_value",
    "harvest_threshold_start", "harvest_threshold_end", "direction_gap_dollars",
)
DIRECTION_SEARCHES = ("branch_and_bound", "two_solve")


@dataclass(frozen=True)
class OptimizerSettings:
    # --- drift (tracking) penalties -------------------------------------------------------
    # Marginal price of one dollar held away from a security's target weight, while the
    # absolute weight deviation |w - t| is below the first step.
    drift_penalty: float = 0.01
    # (deviation from which it applies, marginal penalty) steps on top of drift_penalty: the
    # penalty is piecewise linear and convex in |w - t|, so small drifts are tolerated when
    # fixing them costs tax and large drifts are not.
    drift_penalty_steps: tuple[tuple[float, float], ...] = ((0.01, 0.05), (0.05, 0.25))
    # The same for GICS sectors (funds: their asset class; cash: "cash").
    sector_drift_penalty: float = 0.005
    sector_drift_penalty_steps: tuple[tuple[float, float], ...] = ((0.02, 0.05), (0.05, 0.25))
    # The same for asset classes (us_equity, intl_equity, us_bond, ..., cash): the allocation an
    # advisor sets first. 0 below 1% (security and sector rows already price small moves), then
    # steeper than sectors: a household 5% light on bonds is off its plan.
    asset_class_drift_penalty: float = 0.0
    asset_class_drift_penalty_steps: tuple[tuple[float, float], ...] = ((0.01, 0.05), (0.05, 0.5))

    # --- costs -----------------------------------------------------------------------------
    # Weight on taxes (realized gains and harvested losses, the unusable-loss discount included)
    # against the other dollar terms: 1.0 = a tax dollar is a dollar; 0 = tax-blind rebalancing.
    tax_weight: float = 1.0
    trading_cost_bps: float = 5.0  # per side, on sell and buy value (not on gifts)
    near_long_term_days: int = 30  # a short-term lot this close to long_term_date ...
    near_long_term_penalty: float = 0.05  # ... costs st_rate + this per dollar of gain
    gift_preference: float = 1.0  # weight on the LT gain tax a gift avoids (lot choice)
    tax_overrun_penalty: float = 2.0  # extra dollars per dollar of tax above the budget
    # A harvested loss beyond what offsets this year's net realized gains (YTD + today) plus the
    # $3,000 ordinary offset is carried forward: valued at this fraction of its rate (1.0: face
    # value, the old behaviour). The unusable part is charged to long-term losses first (the
    # $3,000 offset uses short-term losses first, so the carryforward is long-term first).
    unusable_loss_value: float = 0.5
    ordinary_loss_offset: float = 3000.0

    # --- tracking error (only with a risk model, see optimization/risk.py) ------------------
    # Objective term risk_aversion x V_after x TE^2 (TE annualised, as a weight): dollars per
    # unit of active variance per dollar of household. 5: a 1% TE costs 0.05% of the household.
    # Linearised: TE^2 = sum_k z_k^2 + sum_i d_i a_i^2, each square replaced by its secant
    # interpolation on the breakpoints below (README "Tracking error").
    risk_aversion: float = 5.0
    # |active weight| breakpoints of the specific-risk part (merged with the drift steps)
    specific_risk_breakpoints: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05)
    # |rotated factor exposure| breakpoints (annualised volatility units) of the factor part
    factor_risk_breakpoints: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08)
    # "secant" (interpolation: over-estimates TE^2 between breakpoints, exact on them) or
    # "tangent" (max of tangents: a lower bound; the benchmark uses it to bracket the exact optimum)
    risk_linearization: str = "secant"
    # Cap on the linearised ex-ante tracking error (annualised, e.g. 0.01 = 1%); None: no cap.
    # Soft: TE^2 above cap^2 costs tracking_error_overrun_penalty per dollar of V x TE^2, so a
    # household that cannot reach the cap today still gets its best trades (README "Tracking error").
    tracking_error_cap: float | None = None
    tracking_error_overrun_penalty: float = 1000.0

    # --- asset location --------------------------------------------------------------------
    # Dollars per dollar bought of a tax-inefficient holding (these asset classes or GICS sectors)
    # in a taxable account while the household has an unlocked non-taxable account, and of any
    # holding outside an account's preferred asset classes while another account prefers it.
    asset_location_penalty: float = 0.002
    tax_inefficient_asset_classes: tuple[str, ...] = ("us_bond",)
    tax_inefficient_sectors: tuple[str, ...] = ("Real Estate",)
    # Never bought in non-taxable accounts (their tax exemption is wasted there).
    tax_exempt_asset_classes: tuple[str, ...] = ("muni_bond",)

    # --- drift bands -----------------------------------------------------------------------
    # A household is inside its bands when every holding (CASH included) is within
    # max(drift_band_absolute, drift_band_relative x target) of its target weight and its drift
    # (half the sum of |w - t|) is within drift_band_total. Inside, today's deviations are free
    # (securities, CASH and sectors, each on its current side) and the tracking-error term is off:
    # a trade that only reduces today's drift earns nothing, one that adds drift pays the usual
    # penalty, so only a harvested loss (above the usual threshold) or a request trades.
    # All three 0: bands off.
    drift_band_absolute: float = 0.01
    drift_band_relative: float = 0.0
    drift_band_total: float = 0.02

    # --- harvest substitutes ------------------------------------------------------------------
    # A security may be bought above its target by up to this weight of V_after (and never by
    # more than the sellable loss-lot value of OTHER identical groups in its sector): the room a
    # wash-sale substitute needs to stand in for a harvested holding. 0: never buy above target.
    # Off by default: with the tracking-error term priced, the extra buy room makes the
    # branch-and-bound blow up on some households (0.1 s -> the 10 s time limit, measured on the
    # demo firm); 0.01 is the value to try with risk_aversion 0 (docs/optimizer-benchmark.md).
    substitute_room: float = 0.0

    # --- year-round harvest threshold (optimization/policies.py; docs/lifecycle.md) -------------
    # A taxable loss lot may be harvested only when its loss is at least this share of its basis:
    # harvest_threshold_start on January 1, falling linearly to harvest_threshold_end on
    # harvest_threshold_end_date (month, day) and staying there to December 31. Below it, loss lots
    # of a security not more than harvest_threshold_band (share of household value) over target
    # are closed to selling (the per-lot no_loss_sale flag); an overweight security's loss lots
    # stay sellable (trimming it is a rebalance). None: off (every loss the optimizer finds worth
    # its drift and trading cost may be harvested). Per household: dim_households columns of the
    # same name override start and end.
    harvest_threshold_start: float | None = None
    harvest_threshold_end: float = 0.05
    harvest_threshold_end_date: tuple[int, int] = (12, 1)
    harvest_threshold_band: float = 0.01

    # --- order generation ------------------------------------------------------------------
    min_trade_value: float = 25.0  # smaller trades dropped (not full-lot sells, not requests)
    # share precision in accounts that allow fractions: 0.001, the finest every custodian upload
    # takes (Fidelity's order import: 3 decimals; delivery/upload_dialects.py)
    fractional_quantum: float = 1e-3

    # --- solver ----------------------------------------------------------------------------
    time_limit_seconds: float = 10.0  # per household
    # wall-clock guard on a household's whole processing (build, solve, rounding, trade rows): a
    # step that never ends (a bug, a pathological input) stops that household, never its shard.
    # Enforced with SIGALRM where the caller is a process's main thread (Dagster steps are).
    household_wall_seconds: float = 300.0
    mip_rel_gap: float = 1e-4
    solver_interface: str = "direct"  # "direct": Pyomo model -> highspy; "appsi": Pyomo's own
    # "branch_and_bound": LP branch-and-bound on HiGHS LPs (fast on these near-integral models);
    # "highs": HiGHS's MIP solver. Both stop at the same mip_rel_gap.
    mip_solver: str = "branch_and_bound"
    max_branch_nodes: int = 500  # then hand the tree's incumbent to HiGHS's MIP solver
    strong_branching_candidates: int = 3  # most fractional switches tried at each node
    # The same-day wash-sale directions (one buy-or-harvest switch per identical group; README
    # "same-day wash sale") are searched until the proven gap, incumbent minus the lowest bound, is
    # at most max(mip_rel_gap x |objective|, direction_gap_dollars): an absolute tolerance in
    # objective dollars, for a household where 1e-4 of a large objective is still cents and closing
    # it costs many LP re-solves (docs/optimizer-benchmark.md "Sixth pass"). Per household too.
    direction_gap_dollars: float = 0.0
    # "branch_and_bound": search until the gap is within that tolerance. "two_solve": the heuristic
    # of Moehle, Kochenderfer, Boyd and Ang (2021): the root LP, then one re-solve with each switch
    # fixed to the side the root leans to, no search; the root LP is still a proven bound, so the
    # household is optimal only when that gap is within the tolerance, else status "gap_limit" (no
    # trades, the gap in the message). The mip_gap and objective_bound outcome columns say which.
    direction_search: str = "branch_and_bound"
    workers: int = 1  # processes for optimize_households (households are independent)

    def __post_init__(self) -> None:
        for name, base, steps in (
            ("drift_penalty_steps", self.drift_penalty, self.drift_penalty_steps),
            ("sector_drift_penalty_steps", self.sector_drift_penalty, self.sector_drift_penalty_steps),
            ("asset_class_drift_penalty_steps", self.asset_class_drift_penalty, self.asset_class_drift_penalty_steps),
        ):
            tiers = self._tiers(base, steps)
            for (t0, p0), (t1, p1) in zip(tiers, tiers[1:]):
                if not (t1 > t0 and p1 >= p0):
                    # A non-convex penalty would let the LP fill a cheap far tier first.
                    raise ValueError(f"{name}: thresholds must increase and penalties must not decrease")
            if base < 0:
                raise ValueError(f"{name}: penalties must be >= 0")
        if self.solver_interface not in SOLVER_INTERFACES:
            raise ValueError(f"solver_interface must be one of {SOLVER_INTERFACES}")
        if self.mip_solver not in ("branch_and_bound", "highs"):
            raise ValueError("mip_solver must be 'branch_and_bound' or 'highs'")
        if self.direction_search not in DIRECTION_SEARCHES:
            raise ValueError(f"direction_search must be one of {DIRECTION_SEARCHES}")
        if not self.direction_gap_dollars >= 0:
            raise ValueError("direction_gap_dollars must be >= 0")
        if self.fractional_quantum <= 0 or self.fractional_quantum > 1:
            raise ValueError("fractional_quantum must be in (0, 1]")
        if not 0.0 <= self.unusable_loss_value <= 1.0:
            raise ValueError("unusable_loss_value must be in [0, 1]")
        for name in ("specific_risk_breakpoints", "factor_risk_breakpoints"):
            points = getattr(self, name)
            if any(b <= 0 for b in points) or list(points) != sorted(set(points)):
                raise ValueError(f"{name}: breakpoints must be positive and increasing")
        if self.risk_linearization not in ("secant", "tangent"):
            raise ValueError("risk_linearization must be 'secant' or 'tangent'")
        if self.risk_aversion < 0:
            raise ValueError("risk_aversion must be >= 0")
        if self.workers < 1:
            raise ValueError("workers must be >= 1")
        if self.tax_weight < 0:
            raise ValueError("tax_weight must be >= 0")
        if self.tracking_error_cap is not None and not self.tracking_error_cap > 0:
            raise ValueError("tracking_error_cap must be > 0 (or None)")
        if not 0.0 <= self.substitute_room <= 1.0:
            raise ValueError("substitute_room must be in [0, 1]")
        if self.asset_location_penalty < 0:
            raise ValueError("asset_location_penalty must be >= 0")
        if self.harvest_threshold_start is not None and not (
            0.0 <= self.harvest_threshold_end <= 1.0 and 0.0 <= self.harvest_threshold_start <= 1.0
        ):
            raise ValueError("harvest_threshold_start and _end must be in [0, 1] (share of basis)")
        if self.harvest_threshold_band < 0:
            raise ValueError("harvest_threshold_band must be >= 0")

    def with_overrides(self, overrides: Mapping[str, float] | tuple = ()) -> "OptimizerSettings":
        """These settings with a household's overrides applied (HOUSEHOLD_OVERRIDABLE only)."""
        overrides = dict(overrides)
        if not overrides:
            return self
        unknown = sorted(set(overrides) - set(HOUSEHOLD_OVERRIDABLE))
        if unknown:
            raise ValueError(f"not overridable per household: {', '.join(unknown)}")
        return replace(self, **{k: (None if v is None else float(v)) for k, v in overrides.items()})

    @staticmethod
    def _tiers(base: float, steps: tuple[tuple[float, float], ...]) -> tuple[tuple[float, float], ...]:
        return ((0.0, float(base)),) + tuple((float(t), float(p)) for t, p in steps)

    @property
    def security_tiers(self) -> tuple[tuple[float, float], ...]:
        """((threshold, marginal penalty), ...) starting at threshold 0."""
        return self._tiers(self.drift_penalty, self.drift_penalty_steps)

    @property
    def sector_tiers(self) -> tuple[tuple[float, float], ...]:
        return self._tiers(self.sector_drift_penalty, self.sector_drift_penalty_steps)

    @property
    def asset_class_tiers(self) -> tuple[tuple[float, float], ...]:
        return self._tiers(self.asset_class_drift_penalty, self.asset_class_drift_penalty_steps)

    @property
    def trading_cost_rate(self) -> float:
        return self.trading_cost_bps / 1e4
