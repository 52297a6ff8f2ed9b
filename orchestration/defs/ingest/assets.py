"""Ingest one as-of date of custodian files into the DuckDB raw tables (one asset per file kind)."""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from custodian.layout import ALL_LAYOUTS, landing_folder_name
from custodian.load import load_landing_day
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.stores import FileStoreResource

def raw_specs() -> list[dg.AssetSpec]:
    """One asset per raw table (a module-level list would be collected twice by the defs loader)."""
    return [
        dg.AssetSpec(["raw", layout.entity], description=layout.description, group_name="ingest", kinds={"duckdb", "csv"})
        for layout in ALL_LAYOUTS
    ] + [
        dg.AssetSpec(["raw", "quarantine"], description="Rejected landing-file lines: file, line, field, error.",
                     group_name="ingest", kinds={"duckdb"}),
        dg.AssetSpec(["raw", "ingested_files"], description="Ledger of ingested files by content hash.",
                     group_name="ingest", kinds={"duckdb"}),
    ]


@dg.multi_asset(specs=raw_specs(), partitions_def=as_of_dates, backfill_policy=one_date_per_run, pool="duckdb_writer")
def custodian_files(
    context: dg.AssetExecutionContext, landing: FileStoreResource, outputs: FileStoreResource, duckdb: DuckDBResource
):
    as_of = dt.date.fromisoformat(context.partition_key)
    store = landing.store()
    if not store.list(landing_folder_name(as_of)):
        raise dg.Failure(
            description=f"No custodian files for {as_of} under {store.uri(landing_folder_name(as_of))}",
        )
    quarantine = outputs.store()
    with duckdb.get_connection() as con:
        day = load_landing_day(store, con, as_of, quarantine_store=_Prefixed(quarantine, "quarantine"))
    for line in day.quarantine.itertuples():
        context.log.warning(f"quarantined {line.source_file} line {line.source_line} field {line.field}: {line.error}")
    for layout in ALL_LAYOUTS:
        load = day.entities[layout.entity]
        yield dg.MaterializeResult(
            asset_key=["raw", layout.entity],
            metadata={
                "dagster/row_count": int(load.rows_loaded),
                "source_file": load.source_file or "MISSING",
                "file_sha256": load.file_sha256 or "",
                "rows_quarantined": int(load.rows_quarantined),
                "rejected_whole_file": bool(load.rejected_whole),
            },
        )
    yield dg.MaterializeResult(
        asset_key=["raw", "quarantine"],
        metadata={
            "dagster/row_count": len(day.quarantine),
            "missing_files": ", ".join(day.missing) or "none",
            "sample": dg.MetadataValue.md(day.quarantine.head(20).to_markdown(index=False))
            if len(day.quarantine)
            else "none",
        },
    )
    yield dg.MaterializeResult(asset_key=["raw", "ingested_files"], metadata={"files": len(day.entities) - len(day.missing)})


class _Prefixed:
    """A store seen under a key prefix (quarantine files live in outputs/quarantine/...)."""

    def __init__(self, store, prefix: str):
        self._store, self._prefix = store, prefix

    def write_bytes(self, key: str, content: bytes) -> str:
        return self._store.write_bytes(f"{self._prefix}/{key}", content)
