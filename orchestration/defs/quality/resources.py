"""The gates' thresholds: configuration, not code. Defaults suit a daily run; an operator changes them
in the resource (or per run, under ``resources.quality_gates.config``) without touching a check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from orchestration.lib.home import Home


class QualityGates(dg.ConfigurableResource):
    """Thresholds of the firm-level and household-level quality gates (docs/quality.md)."""

    max_price_age_days: int = 0
    """A held or target security's price may be this many days older than the as-of date (0: same day)."""
    max_unreconciled_account_share: float = 0.10
    """Firm gate: more than this share of accounts with lots that do not reconcile stops everyone."""
    max_held_household_share: float = 0.25
    """Firm gate: more households than this share held out means the feed, not a household, is bad."""
    wash_sale_history_days: int = 30
    """Firm gate: the transactions file must reach back at least this many calendar days."""
    target_weight_tolerance: float = 1e-6
    """Household gate: a household's target weights must sum to 1 within this."""
    max_turnover: float = 2.0
    """Trade gate: traded value over firm market value."""
    data_docs_dir: str = ""
    """Where GX Data Docs are rendered, one site per as-of date; '' means $SLEEVELESS_HOME/gx_data_docs."""

    def docs_dir(self, as_of: dt.date) -> str:
        root = Path(self.data_docs_dir) if self.data_docs_dir else Home.from_env().root / "gx_data_docs"
        return str(root / as_of.isoformat())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"quality_gates": QualityGates()})
