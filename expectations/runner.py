"""Run a Great Expectations (GX Core 1.x) suite, defined in code, on a pandas DataFrame.

GX is imported lazily (about 7 s): only the processes that validate pay for it. One ephemeral
context per process; each validation registers its own dataframe asset and suite.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

_CONTEXT = None
_COUNTER = itertools.count()


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list
    kwargs: dict

    def describe(self) -> str:
        where = f" on {self.column}" if self.column else ""
        count = f": {self.unexpected_count} unexpected" if self.unexpected_count is not None else ""
        sample = f" e.g. {self.sample[:5]}" if self.sample else ""
        return f"{self.expectation}{where}{count}{sample}"


@dataclass(frozen=True)
class SuiteOutcome:
    suite: str
    success: bool
    row_count: int
    evaluated: int
    failed: list[FailedExpectation] = field(default_factory=list)

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: {self.evaluated} expectations passed on {self.row_count} rows"
        return f"{self.suite}: " + "; ".join(f.describe() for f in self.failed)


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        _CONTEXT = gx.get_context(mode="ephemeral")
        _CONTEXT.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _CONTEXT.data_sources.add_pandas("frames")
    return _CONTEXT


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def validate(frame: pd.DataFrame, suite_name: str, expectations: list) -> SuiteOutcome:
    """Validate ``frame`` against ``expectations`` (GX expectation objects) as suite ``suite_name``."""
    import great_expectations as gx

    context = _context()
    unique = f"{suite_name}-{next(_COUNTER)}"
    source = context.data_sources.get("frames")
    batch = source.add_dataframe_asset(name=unique).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=unique))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=unique, data=batch, suite=suite))
    result = definition.run(batch_parameters={"dataframe": frame.reset_index(drop=True)})
    failed = []
    for item in result.results:
        if item.success:
            continue
        kwargs = {k: _jsonable(v) for k, v in item.expectation_config.kwargs.items() if k != "batch_id"}
        details = item.result or {}
        exception = (item.exception_info or {}).get("exception_message") if hasattr(item, "exception_info") else None
        sample = details.get("partial_unexpected_list") or ([exception] if exception else [])
        failed.append(
            FailedExpectation(
                expectation=item.expectation_config.type,
                column=kwargs.get("column"),
                unexpected_count=details.get("unexpected_count"),
                unexpected_percent=details.get("unexpected_percent"),
                sample=_jsonable(sample),
                kwargs=kwargs,
            )
        )
    # Drop what this run registered, so a long-lived process does not grow.
    context.validation_definitions.delete(unique)
    context.suites.delete(unique)
    source.delete_asset(unique)
    return SuiteOutcome(suite_name, bool(result.success), len(frame), len(result.results), failed)
