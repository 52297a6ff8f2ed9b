"""Ingest one as-of date of custodian files into the DuckDB raw tables (one asset per file kind).

Each new landing file is archived (immutable, by content hash) and recorded in the ledger before it
is parsed; see custodian/load.py and docs/ingestion.md. Custodian dialect files (Schwab-, Fidelity-,
Pershing-like) load into raw.<custodian>_<kind> and, translated, into the canonical raw tables; their
per-account reconciliation goes to raw.reconciliation and outputs/reconciliation/<date>/.
"""

import datetime as dt

import dagster as dg
import pandas as pd
from dagster_duckdb import DuckDBResource

from custodian.dialects import DIALECTS
from custodian.layout import ALL_LAYOUTS, landing_folder_name
from custodian.load import load_landing_day
from custodian.parse import reject_message
from orchestration.lib.masking import mask_account, mask_frame, mask_text
from orchestration.defs.partitions import as_of_dates, one_date_per_run
from orchestration.lib.stores import FileStoreResource

QUARANTINE_KEY = dg.AssetKey(["raw", "quarantine"])
RECONCILIATION_KEY = dg.AssetKey(["raw", "reconciliation"])


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
    ] + [
        dg.AssetSpec(["raw", record.table], description=f"{dialect.custodian} {record.code}: {record.description} "
                     "Native fields as delivered (docs/custodian-" + dialect.custodian + ".md).",
                     group_name="ingest", kinds={"duckdb"})
        for dialect in DIALECTS for record in dialect.records
    ] + [
        dg.AssetSpec(RECONCILIATION_KEY, description="Per-account differences of the custodian dialect files: lots vs "
                     "positions, quantity x price vs market value, cash balances (docs/ingestion.md).",
                     group_name="ingest", kinds={"duckdb", "csv"}),
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
                               quarantine_store=_Prefixed(quarantine, "quarantine"),
                               reconciliation_store=_Prefixed(quarantine, "reconciliation"))
    for delivery in day.new_deliveries.itertuples():
        log = context.log.info if delivery.status == "accepted" else context.log.warning
        log(f"delivery {delivery.landing_key} ({delivery.file_sha256 or 'unread'}): {delivery.status}"
            + (f": {delivery.reason}" if delivery.reason else ""))
    for line in day.quarantine.to_dict("records"):
        account = line.get("account_id")
        context.log.warning(mask_text("quarantined " + reject_message(line), [account] if isinstance(account, str) else []))
    for diff in day.reconciliation.head(50).itertuples():
        context.log.warning(f"reconciliation {diff.custodian} account {mask_account(diff.account_id)} "
                            f"({mask_account(diff.account_number)}) "
                            f"{diff.check_name} {diff.security_id if isinstance(diff.security_id, str) else ''}: expected {diff.expected}, reported "
                            f"{diff.reported} ({diff.source_file} line {diff.source_line})")
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
    sample = mask_frame(day.quarantine.head(20)[["source_file", "source_line", "account_id", "field", "error", "scope"]]) \
        if len(day.quarantine) else None
    yield dg.MaterializeResult(
        asset_key=QUARANTINE_KEY,
        metadata={
            "dagster/row_count": len(day.quarantine),
            "missing_files": ", ".join(day.missing) or "none",
            "sample": dg.MetadataValue.md(sample.to_markdown(index=False)) if sample is not None else "none",
        },
    )
    for dialect in DIALECTS:
        for record in dialect.records:
            load = day.dialect_files.get(record.table)
            yield dg.MaterializeResult(asset_key=["raw", record.table], metadata={
                "dagster/row_count": int(load.rows_loaded) if load else 0,
                "source_file": load.source_file if load else "not delivered",
                "file_sha256": (load.file_sha256 or "") if load else "",
                "rows_quarantined": int(load.rows_quarantined) if load else 0,
                "rejected_whole_file": bool(load.rejected_whole) if load else False,
            })
    yield dg.MaterializeResult(asset_key=RECONCILIATION_KEY, metadata={
        "dagster/row_count": len(day.reconciliation),
        "by_check": dg.MetadataValue.json(day.reconciliation["check_name"].value_counts().to_dict())
        if len(day.reconciliation) else {},
    })
    ledger = day.ledger
    yield dg.MaterializeResult(
        asset_key=["raw", "ingested_files"],
        metadata={
            "files": len(day.entities) - len(day.missing),
            "new_deliveries": len(day.new_deliveries),
            "duplicates_skipped": int((ledger["status"] == "duplicate").sum()) if len(ledger) else 0,
            "rejected_deliveries": int((ledger["status"] == "rejected").sum()) if len(ledger) else 0,
            "dialect_files": dg.MetadataValue.md(pd.DataFrame(
                [(t, f.source_file, f.rows_loaded, f.rows_quarantined) for t, f in sorted(day.dialect_files.items())],
                columns=["kind", "file", "rows_loaded", "rows_quarantined"]).to_markdown(index=False))
            if day.dialect_files else "none",
            "reconciliation_differences": len(day.reconciliation),
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
