"""The data directory: one folder (``SLEEVELESS_HOME``, default ./data) holds everything a run makes.

    $SLEEVELESS_HOME/
      landing/<YYYY-MM-DD>/        custodian files, canonical layout (read only: never modified)
      warehouse/sleeveless.duckdb  raw tables, dbt models, optimizer output
      outputs/quarantine/<date>/   rejected rows, with file, line, field and error
      outputs/orders/<date>/       order files and lot instructions per custodian
      outputs/reports/<date>/      Estimated Taxes Saved or Deferred, per account / household / firm
      dagster_home/                Dagster's run history (what `make dev` shows)

Landing and outputs may instead be S3 (``SLEEVELESS_LANDING`` / ``SLEEVELESS_OUTPUTS`` set to
``s3://bucket/prefix``); the DuckDB file is always local.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def from_env(cls) -> "Home":
        return cls(Path(os.environ.get("SLEEVELESS_HOME", "data")).resolve())

    @property
    def landing(self) -> str:
        return os.environ.get("SLEEVELESS_LANDING") or str(self.root / "landing")

    @property
    def outputs(self) -> str:
        return os.environ.get("SLEEVELESS_OUTPUTS") or str(self.root / "outputs")

    @property
    def duckdb_path(self) -> Path:
        return Path(os.environ.get("SLEEVELESS_DUCKDB_PATH") or self.root / "warehouse" / "sleeveless.duckdb")

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster_home"

    def export(self) -> None:
        """Set the environment every component reads (dbt's profiles.yml reads SLEEVELESS_DUCKDB_PATH)."""
        self.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
        os.environ["SLEEVELESS_HOME"] = str(self.root)
        os.environ["SLEEVELESS_DUCKDB_PATH"] = str(self.duckdb_path)
