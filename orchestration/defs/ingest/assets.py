"""Ingest one as-of date of custodian files into the DuckDB raw tables (one asset per file kind).

Each new landing file is archived (immutable, by content hash) and recorded in the ledger before it
is parsed; see custodian/load.py and docs/ingestion.md.
"""

import datetime as dt

import dagster as dg
from dagster_duckdb import DuckDBResource

from custodian.layout import ALL_LAYOUTS, landing_folder_name
from custodian.load import load_landing_day
from custodian.parse import reject_message
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.stores import FileStoreResource

QUARANTINE_KEY = dg.AssetKey(["raw", "quarantine"])


def raw_specs() -> list[dg.AssetSpec]:
    """One asset per raw table (a module-level list would be collected twice by the defs loader)."""
    return [
        dg.AssetSpec(["raw", layout.entity], description=layout.description, group_name="ingest", kinds={"duckdb", "csv"})
        for layout in ALL_LAYOUTS
    ] + [
        dg.AssetSpec(QUARANTINE_KEY, description="Rejected landing-file lines and files: file, line, field, error.",
                     group_name="ingest", kinds={"duckdb"}),
        dg.AssetSpec(["raw", "ingested_files"], description="The files loaded for the day (the ledger of every "
                     "delivery, by content hash, is raw.file_ledger).", group_name="ingest", kinds={"duckdb"}),
    ]


@dg.multi_asset(specs=raw_specs(), partitions_def=as_of_dates,
                backfill_policy=one_date_per_run, pool="duckdb_writer")
def custodian_files(
    context: dg.AssetExecutionContext, landing: FileStoreResource, archive: FileStoreResource,
    outputs: FileStoreResource, duckdb: DuckDBResource,
):
    as_of = dt.date.fromisoformat(context.partition_key)
    store = landing.store()
    if not store.list(landing_folder_name(as_of)):
        raise dg.Failure(
            description=f"No custodian files for {as_of} under {store.uri(landing_folder_name(as_of))}",
        )
    quarantine = outputs.store()
    with duckdb.get_connection() as con:
        day = load_landing_day(store, con, as_of, archive_store=archive.store(),
                               quarantine_store=_Prefixed(quarantine, "quarantine"))
    for delivery in day.new_deliveries.itertuples():
        log = context.log.info if delivery.status == "accepted" else context.log.warning
        log(f"delivery {delivery.landing_key} ({delivery.file_sha256 or 'unread'}): {delivery.status}"
            + (f": {delivery.reason}" if delivery.reason else ""))
    for line in day.quarantine.to_dict("records"):
        context.log.warning("quarantined " + reject_message(line))
    for layout in ALL_LAYOUTS:
        load = day.entities[layout.entity]
        yield dg.MaterializeResult(
            asset_key=["raw", layout.entity],
            metadata={
                "dagster/row_count": int(load.rows_loaded),
                "source_file": load.source_file or "MISSING",
                "file_sha256": load.file_sha256 or "",
                "archive_uri": load.archive_uri or "",
                "superseded_deliveries": ", ".join(load.superseded) or "none",
                "rows_quarantined": int(load.rows_quarantined),
                "rejected_whole_file": bool(load.rejected_whole),
            },
        )
    sample = day.quarantine.head(20)[["source_file", "source_line", "account_id", "field", "error", "scope"]] \
        if len(day.quarantine) else None
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata={
            "dagster/row_count": len(day.quarantine),
            "missing_files": ", ".join(day.missing) or "none",
            "sample": dg.MetadataValue.md(sample.to_markdown(index=False)) if sample is not None else "none",
        },
    )
    ledger = day.ledger
    yield dg.MaterializeResult(
        asset_key=["raw", "ingested_files"],
        metadata={
            "files": len(day.entities) - len(day.missing),
            "new_deliveries": len(day.new_deliveries),
            "duplicates_skipped": int((ledger["status"] == "duplicate").sum()) if len(ledger) else 0,
            "rejected_deliveries": int((ledger["status"] == "rejected").sum()) if len(ledger) else 0,
            "ledger": dg.MetadataValue.md(
                ledger[["delivery_seq", "landing_key", "entity", "file_sha256", "status", "reason"]].to_markdown(index=False)
            ) if len(ledger) else "empty",
        },
    )


class _Prefixed:
    """A store seen under a key prefix (quarantine files live in outputs/quarantine/...)."""

    def __init__(self, store, prefix: str):
        self._store, self._prefix = store, prefix

    def write_bytes(self, key: str, content: bytes) -> str:
        return self._store.write_bytes(f"{self._prefix}/{key}", content)
