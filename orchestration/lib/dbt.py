"""The dbt project as Dagster sees it: where it is, its manifest, and how models map to assets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration.lib.home import PROJECT_ROOT, Home

TRANSFORMS_DIR = PROJECT_ROOT / "transforms"
# DBT_TARGET_PATH (dbt's own variable) lets concurrent checkouts or test runs keep separate artifacts.
transforms_project = DbtProject(
    project_dir=TRANSFORMS_DIR, profiles_dir=TRANSFORMS_DIR, target_path=os.environ.get("DBT_TARGET_PATH", "target")
)


def _newest_source_mtime(project_dir: Path) -> float:
    newest = (project_dir / "dbt_project.yml").stat().st_mtime
    for folder in ("models", "seeds", "macros", "tests"):
        for path in (project_dir / folder).rglob("*"):
            if path.is_file():
                newest = max(newest, path.stat().st_mtime)
    return newest


def ensure_manifest(project: DbtProject = transforms_project) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files.

    Cost: a few seconds, once after a change; the Dagster definitions need the manifest to exist.
    """
    manifest = Path(project.manifest_path)
    if manifest.exists() and manifest.stat().st_mtime >= _newest_source_mtime(Path(project.project_dir)):
        return manifest
    env = dict(os.environ)
    env.setdefault("SLEEVELESS_DUCKDB_PATH", str(Home.from_env().duckdb_path))
    Path(env["SLEEVELESS_DUCKDB_PATH"]).parent.mkdir(parents=True, exist_ok=True)
    dbt = str(Path(sys.executable).parent / "dbt")
    subprocess.run(
        [dbt, "parse", "--quiet", "--project-dir", str(project.project_dir), "--profiles-dir", str(project.profiles_dir)],
        check=True,
        env=env,
        capture_output=True,
    )
    return manifest


def dbt_vars(as_of_date: str) -> str:
    return json.dumps({"as_of_date": as_of_date})


class SleevelessDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Group by dbt layer (staging / intermediate / marts), so the UI reads like the data flow."""
        if dbt_resource_props["resource_type"] == "seed":
            return "tax_tables"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "warehouse"


translator = SleevelessDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
