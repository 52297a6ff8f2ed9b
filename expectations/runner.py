"""Run a Great Expectations (GX Core 1.x) suite, defined in code, on a pandas DataFrame.

GX is imported lazily (about 7 s): only the processes that validate pay for it. One ephemeral
context per process; each validation registers its own dataframe asset and suite. With
``docs_dir`` the validation runs through a Checkpoint and its pages are rendered into GX Data Docs
in that folder (one static site per folder, e.g. one per as-of date), as GX's UpdateDataDocsAction
would; inside ``data_docs_built_once`` the site's index and static assets are written once, when
the step's last suite is done, instead of after every validation.
"""

from __future__ import annotations

import atexit
import gc
import hashlib
import itertools
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

_CONTEXT = None
_COUNTER = itertools.count()
# Data Docs site name -> its SiteBuilder, made once per process (GX makes one per build).
_SITE_BUILDERS: dict = {}
# Data Docs site name -> the suite whose pages were rendered last, while its index is deferred
# (data_docs_built_once): kept registered until the index is written, as GX's per-validation build would.
_DEFERRED_INDEX: dict[str, str | None] = {}


@dataclass(frozen=True)
class FailedExpectation:
    expectation: str
    column: str | None
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list
    kwargs: dict
    # The unexpected rows, restricted to the suite's index columns (e.g. household_id, account_id)
    # plus the failing column: how a failure is attributed to households.
    rows: list[dict] = field(default_factory=list)

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
    docs_url: str | None = None

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

        _skip_batch_fingerprints()
        _CONTEXT = gx.get_context(mode="ephemeral")
        _skip_config_saves(_CONTEXT)
        _CONTEXT.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        _CONTEXT.data_sources.add_pandas("frames")
        # What the process holds by now (GX, Dagster, their imports) lives as long as it does: set it
        # aside from Python's cycle collector, so the collection after each validation
        # (_forget_batches) looks only at what validating made (milliseconds, not 0.2 s). Handed back at
        # exit, so that the interpreter's shutdown frees it as usual.
        gc.freeze()
        atexit.register(gc.unfreeze)
    return _CONTEXT


def _skip_batch_fingerprints() -> None:
    """Have GX's pandas engine skip the md5 fingerprint it takes of every frame under 1 GB.

    The fingerprint (batch marker ``pandas_data_fingerprint``, shown in Data Docs, read by no rule)
    hashes every value of the frame: at 10,000 households 1.5 GB of peak memory and 4 s of CPU for
    the 6 million custodian lots alone. GX already leaves it out for frames over 1 GB (the 8 million
    transactions), so no gate's outcome or failing rows depend on it; this leaves it out for all.
    """
    from great_expectations.execution_engine import pandas_execution_engine

    pandas_execution_engine.HASH_THRESHOLD = 0


def _skip_config_saves(context) -> None:
    """Have the ephemeral context skip writing its project config to YAML on every change.

    GX "saves" the config each time a dataframe asset is added or deleted (three times a validation):
    for an ephemeral context that is a YAML dump of the whole config into an in-memory store nothing
    reads back (the context reads its variables from the config object itself), 13 ms each.
    """
    context.variables.save = lambda: None


def _view(class_name: str) -> dict:
    return {"module_name": "expectations.data_docs", "class_name": class_name}


def _docs_site(context, docs_dir: str) -> str:
    """Register (once) a filesystem Data Docs site rooted at ``docs_dir``; return its name."""
    path = str(Path(docs_dir).resolve())
    name = "site_" + hashlib.sha1(path.encode()).hexdigest()[:12]
    if name not in (context.get_config().data_docs_sites or {}):
        Path(path).mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            site_name=name,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": path},
                # GX's page views, with their templates compiled once per process (data_docs.py)
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "view": _view("IndexPageView")},
                "site_section_builders": {
                    section: {"view": _view("PageView")} for section in ("expectations", "validations", "profiling")
                },
            },
        )
    return name


def _site_builder(context, site: str):
    if site not in _SITE_BUILDERS:
        _SITE_BUILDERS[site] = context._init_site_builder_for_data_docs_site_creation(
            site_name=site, site_config=context.variables.data_docs_sites[site])
    return _SITE_BUILDERS[site]


def _render_pages(context, site: str, resource_identifiers: list) -> None:
    """The pages of one validation (its result and its suite): what UpdateDataDocsAction renders,
    less the site's index and static assets (_render_index)."""
    for section in _site_builder(context, site).site_section_builders.values():
        section.build(resource_identifiers=resource_identifiers)


def _render_index(context, site: str) -> None:
    """The site's static assets and index page, as GX writes them after rendering a validation's pages:
    the index lists the suites still registered and every validation result of the process."""
    builder = _site_builder(context, site)
    builder.target_store.copy_static_assets()
    builder.site_index_builder.build()


@contextmanager
def data_docs_built_once(docs_dir: str | None):
    """Within, the Data Docs site in ``docs_dir`` gets its index and static assets once, on leaving,
    not after every validation: the same site as GX's per-validation build leaves, without rewriting
    the index page (which lists every validation of the process) and copying the same static files
    again for each suite, 0.1 s a validation."""
    context = _context() if docs_dir else None
    site = _docs_site(context, docs_dir) if docs_dir else None
    if site is None or site in _DEFERRED_INDEX:  # no docs, or an outer block writes the index
        yield
        return
    _DEFERRED_INDEX[site] = None
    try:
        yield
    finally:
        suite = _DEFERRED_INDEX.pop(site)
        _render_index(context, site)
        if suite is not None:
            context.suites.delete(suite)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _forget_batches(engine) -> None:
    """Let go of the frames GX's pandas engine keeps after a validation.

    The datasource's one execution engine caches every batch it loaded (the whole frame) and every
    metric it computed on it (row masks the length of the frame) for the life of the process: at
    10,000 households a gate step's suites would all stay in memory (5 GB) though each frame is
    validated once. Batch ids are unique per validation, so nothing is ever read from these again.
    """
    engine.batch_manager.batch_data_cache.clear()
    engine.batch_manager.reset_batch_cache()
    engine._metric_cache.clear()
    # GX's objects around a batch sit in reference cycles: without a collection now, the frame's
    # memory is returned only when Python next collects, maybe while the next suite's frame is read.
    gc.collect()


def validate(
    frame: pd.DataFrame,
    suite_name: str,
    expectations: list,
    index_columns: list[str] | None = None,
    docs_dir: str | None = None,
) -> SuiteOutcome:
    """Validate ``frame`` against ``expectations`` (GX expectation objects) as suite ``suite_name``.

    ``index_columns`` are returned with every unexpected row (``FailedExpectation.rows``);
    ``docs_dir`` renders the result into a Data Docs site there (``SuiteOutcome.docs_url``).
    """
    import great_expectations as gx
    from great_expectations.data_context.types.resource_identifiers import ExpectationSuiteIdentifier

    context = _context()
    unique = f"{suite_name}-{next(_COUNTER)}"
    source = context.data_sources.get("frames")
    batch = source.add_dataframe_asset(name=unique).add_batch_definition_whole_dataframe("whole")
    suite = context.suites.add(gx.ExpectationSuite(name=unique))
    for expectation in expectations:
        suite.add_expectation(expectation)
    definition = context.validation_definitions.add(gx.ValidationDefinition(name=unique, data=batch, suite=suite))
    index_columns = [c for c in (index_columns or []) if c in frame.columns]
    result_format = {"result_format": "COMPLETE", "unexpected_index_column_names": index_columns} if index_columns else {
        "result_format": "SUMMARY"
    }
    data = frame.reset_index(drop=True)
    docs_url = None
    if docs_dir:
        site = _docs_site(context, docs_dir)
        checkpoint = context.checkpoints.add(gx.Checkpoint(
            name=unique, validation_definitions=[definition], result_format=result_format, actions=[],
        ))
        run = checkpoint.run(batch_parameters={"dataframe": data})
        result_id, result = next(iter(run.run_results.items()))
        _render_pages(context, site, [result_id, ExpectationSuiteIdentifier(name=unique)])
        docs_url = (Path(docs_dir).resolve() / "index.html").as_uri()
        context.checkpoints.delete(unique)
    else:
        result = definition.run(batch_parameters={"dataframe": data}, result_format=result_format)
    failed = []
    for item in result.results:
        if item.success:
            continue
        kwargs = {k: _jsonable(v) for k, v in item.expectation_config.kwargs.items() if k != "batch_id"}
        details = item.result or {}
        exception = (item.exception_info or {}).get("exception_message") if hasattr(item, "exception_info") else None
        sample = details.get("partial_unexpected_list") or ([exception] if exception else [])
        rows = [{k: _jsonable(v) for k, v in row.items()} for row in details.get("unexpected_index_list") or []
                if isinstance(row, dict)]
        failed.append(
            FailedExpectation(
                expectation=item.expectation_config.type,
                column=kwargs.get("column"),
                unexpected_count=details.get("unexpected_count"),
                unexpected_percent=details.get("unexpected_percent"),
                sample=_jsonable(sample),
                kwargs=kwargs,
                rows=rows,
            )
        )
    # Drop what this run registered, so a long-lived process does not grow.
    context.validation_definitions.delete(unique)
    if docs_dir and site in _DEFERRED_INDEX:
        # The index comes later: this suite stays until then, the one before it goes now.
        previous, _DEFERRED_INDEX[site] = _DEFERRED_INDEX[site], unique
        if previous is not None:
            context.suites.delete(previous)
    else:
        if docs_dir:
            _render_index(context, site)
        context.suites.delete(unique)
    source.delete_asset(unique)
    _forget_batches(source.get_execution_engine())
    return SuiteOutcome(suite_name, bool(result.success), len(frame), len(result.results), failed, docs_url)
