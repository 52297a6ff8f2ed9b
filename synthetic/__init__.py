"""Deterministic synthetic firm generator: writes one as-of day of custodian landing files.

    from synthetic import write_synthetic_firm, generate_firm
    summary = write_synthetic_firm(Path("landing"), dt.date(2026, 11, 20), households=200, seed=7)

See synthetic/README.md for what is generated and the knobs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from custodian import layout
from synthetic.dialects import write_dialect_files
from synthetic.generator import Firm, generate_firm
from synthetic.writer import write_table

__all__ = ["CUSTODIAN_ENTITIES", "Firm", "generate_firm", "write_firm", "write_synthetic_firm"]

# Facts the custodians deliver (in their dialects when ``dialects=True``); the rest are the firm's own
# files (account master with households and tax profiles, security master, prices, price history,
# models, restrictions, requests), always in the canonical layout.
CUSTODIAN_ENTITIES = ("positions", "open_lots", "transactions")


def write_firm(firm: Firm, landing_root: Path, dialects: bool = False) -> Path:
    """Write the landing files of ``firm`` under ``<landing_root>/<YYYY-MM-DD>/``; returns that folder.

    ``dialects=False``: every layout file in the canonical layout. ``dialects=True``: the firm's own
    files in the canonical layout, and each custodian's family (Schwab, Fidelity, Pershing dialects)
    for the accounts it holds instead of the canonical positions, open_lots and transactions."""
    folder = Path(landing_root) / layout.landing_folder_name(firm.as_of)
    for file_layout in layout.ALL_LAYOUTS:
        if dialects and file_layout.entity in CUSTODIAN_ENTITIES:
            continue
        write_table(firm[file_layout.entity], file_layout, folder / file_layout.file_name(firm.as_of))
    if dialects:
        write_dialect_files(firm, folder)
    return folder


def write_synthetic_firm(landing_root: Path, as_of: dt.date, households: int = 200, seed: int = 7,
                         dialects: bool = False) -> dict:
    """Generate the firm and write the landing files; return a summary dict with keys
    households, accounts, securities, lots, transactions, folder (str path)."""
    firm = generate_firm(as_of, households=households, seed=seed)
    folder = write_firm(firm, Path(landing_root), dialects=dialects)
    return {
        "households": firm.households,
        "accounts": len(firm.accounts),
        "securities": len(firm.security_master),
        "lots": len(firm.open_lots),
        "transactions": len(firm.transactions),
        "folder": str(folder),
    }
