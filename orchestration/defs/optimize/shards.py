"""Splitting a day's households into shards that solve independently (pure, no Dagster, no I/O).

A shard carries the mart rows of its households only, so a worker (a process, or a pod under the
k8s executor) builds and solves its households without touching DuckDB: the one writer is the step
that collects the shards. Households are independent problems (optimization/optimize.py), so the
union of the shards' results is the single-process result, whatever the shard count.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import time
from collections.abc import Mapping

import pandas as pd

from optimization import OptimizerSettings, WarmStart, household_problems_from_marts, optimize_households

SHARD_MARTS_BY_HOUSEHOLD = "household_id"
SHARD_MARTS_BY_ACCOUNT = "account_id"


@dataclasses.dataclass(frozen=True)
class Shard:
    """What one solve step needs: its households' mart rows, the day's risk model and the knobs."""

    index: int
    as_of: dt.date
    households: tuple[str, ...]
    frames: Mapping[str, pd.DataFrame]
    settings: OptimizerSettings
    risk_model: object | None = None
    # household_id -> its root-LP basis from the previous as-of date (WarmStart.to_bytes); may be empty
    warm_starts: Mapping[str, bytes] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"shard_{self.index:03d}"


@dataclasses.dataclass(frozen=True)
class ShardResult:
    index: int
    trades: pd.DataFrame
    outcomes: pd.DataFrame
    seconds: float
    bases: Mapping[str, bytes] = dataclasses.field(default_factory=dict)  # household_id -> today's root basis


def shard_count(households: int, requested: int, min_households_per_shard: int) -> int:
    """At most ``requested`` shards, each with at least ``min_households_per_shard`` households
    (a worker's start-up costs seconds: tiny shards are slower than none); always at least one."""
    if households <= 0:
        return 1
    return max(1, min(requested, households // max(1, min_households_per_shard)))


def plan_shards(weights: Mapping[str, float], shards: int) -> list[list[str]]:
    """Households into ``shards`` groups of similar total weight (lot count: solve time grows with
    it): heaviest first onto the lightest shard (LPT). Deterministic; each group sorted by id."""
    groups: list[list[str]] = [[] for _ in range(max(1, shards))]
    heap = [(0.0, i) for i in range(len(groups))]
    for household in sorted(weights, key=lambda h: (-float(weights[h]), h)):
        load, i = heapq.heappop(heap)
        groups[i].append(household)
        heapq.heappush(heap, (load + max(1.0, float(weights[household])), i))
    return [sorted(g) for g in groups]


def shard_key(columns) -> str | None:
    """The column by which a mart's rows belong to a shard: household_id, else account_id (the
    household's accounts), else None: a firm-wide table (securities), every shard takes it whole."""
    for key in (SHARD_MARTS_BY_HOUSEHOLD, SHARD_MARTS_BY_ACCOUNT):
        if key in columns:
            return key
    return None


def frames_for(marts: Mapping[str, pd.DataFrame], households: set[str]) -> dict[str, pd.DataFrame]:
    """The rows of each mart that belong to ``households`` (shard_key); firm-wide tables whole."""
    accounts = marts["dim_accounts"]
    account_ids = set(accounts.loc[accounts["household_id"].astype(str).isin(households), "account_id"].astype(str))
    members = {SHARD_MARTS_BY_HOUSEHOLD: households, SHARD_MARTS_BY_ACCOUNT: account_ids}
    out = {}
    for name, frame in marts.items():
        key = shard_key(frame.columns)
        out[name] = frame if key is None else \
            frame[frame[key].astype(str).isin(members[key])].reset_index(drop=True)
    return out


def household_groups(readiness: pd.DataFrame, lot_counts: Mapping[str, int], shards: int,
                     min_households_per_shard: int = 1, max_households_per_shard: int = 0) -> list[list[str]]:
    """The day's ready households (fct_household_readiness.is_ready, quality holds already applied)
    in groups balanced by lot count: ``shards`` of them, fewer when a group would hold fewer than
    ``min_households_per_shard``, more when one would hold more than ``max_households_per_shard``
    (0: no maximum), so a larger firm gets more shards of the same size, not larger ones."""
    ready = sorted(set(readiness.loc[readiness["is_ready"].astype(bool), "household_id"].astype(str)))
    n = shard_count(len(ready), shards, min_households_per_shard)
    if max_households_per_shard > 0:
        n = max(n, -(-len(ready) // max_households_per_shard))
    return plan_shards({h: float(lot_counts.get(h, 0)) for h in ready}, n)


def make_shards(
    marts: Mapping[str, pd.DataFrame], as_of: dt.date, settings: OptimizerSettings, risk_model, shards: int,
    min_households_per_shard: int = 1, warm_starts: Mapping[str, bytes] | None = None,
    max_households_per_shard: int = 0,
) -> list[Shard]:
    """The shards of the day's ready households from marts held in memory, each with its households'
    previous bases out of ``warm_starts`` (the plan step reads each shard's rows from DuckDB
    instead: orchestration/defs/optimize/assets.py; the same shards)."""
    counts = marts["fct_lots"]["household_id"].astype(str).value_counts().to_dict()
    groups = household_groups(marts["fct_household_readiness"], counts, shards, min_households_per_shard,
                              max_households_per_shard)
    warm_starts = warm_starts or {}
    return [
        Shard(i, as_of, tuple(group), frames_for(marts, set(group)), settings, risk_model,
              {h: warm_starts[h] for h in group if h in warm_starts})
        for i, group in enumerate(groups)
    ]


def decoded_warm_starts(blobs: Mapping[str, bytes]) -> dict[str, WarmStart]:
    """The stored bases that still decode; an unreadable one only costs its household a cold start."""
    out = {}
    for household, blob in blobs.items():
        try:
            out[household] = WarmStart.from_bytes(blob)
        except Exception:  # noqa: BLE001 - a basis is a hint, never a reason to fail
            continue
    return out


def solve_shard(shard: Shard) -> ShardResult:
    """Build and solve every household of the shard; one household's failure (bad data, a solver
    error, a time limit) is that household's outcome, never the shard's (optimize_household)."""
    started = time.perf_counter()
    problems = household_problems_from_marts(dict(shard.frames), shard.as_of, shard.settings, risk_model=shard.risk_model)
    sink: dict[str, WarmStart] = {}
    trades, outcomes = optimize_households(problems, shard.settings, warm_starts=decoded_warm_starts(shard.warm_starts),
                                           basis_sink=sink)
    bases = {household: basis.to_bytes() for household, basis in sorted(sink.items())}
    return ShardResult(shard.index, trades, outcomes, time.perf_counter() - started, bases)


def combine(results: list[ShardResult]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shard results in household order: the rows optimize_households gives over all households."""
    ordered = sorted(results, key=lambda r: r.index)
    trades = [r.trades for r in ordered if len(r.trades)]
    outcomes = [r.outcomes for r in ordered if len(r.outcomes)]
    trades = pd.concat(trades, ignore_index=True) if trades else ordered[0].trades.iloc[0:0]
    outcomes = pd.concat(outcomes, ignore_index=True) if outcomes else ordered[0].outcomes.iloc[0:0]
    trades = trades.sort_values("household_id", kind="stable").reset_index(drop=True)
    outcomes = outcomes.sort_values("household_id", kind="stable").reset_index(drop=True)
    return trades, outcomes


def combined_bases(results: list[ShardResult]) -> pd.DataFrame:
    """(household_id, basis) of every household solved to a root basis today, in household order."""
    rows = sorted((h, blob) for r in results for h, blob in r.bases.items())
    return pd.DataFrame({"household_id": pd.Series([h for h, _ in rows], dtype=object),
                         "basis": pd.Series([b for _, b in rows], dtype=object)})
