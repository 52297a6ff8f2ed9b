"""The dbt project as Dagster sees it: where it is, its manifest, and how models map to assets."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Mapping

from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject
from packaging import version

from orchestration.lib.home import PROJECT_ROOT, Home

TRANSFORMS_DIR = PROJECT_ROOT / "transforms"
PARTIAL_PARSE_FILE = "partial_parse.msgpack"
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


AS_OF_DATE_ENV = "SLEEVELESS_AS_OF_DATE"  # read by the macro var_as_of_date while dbt executes


@contextmanager
def as_of_date_for_dbt(as_of_date: str) -> Iterator[None]:
    """Give the dbt commands started inside this block the as-of date, as an env var.

    Not `--vars`: dbt re-parses the whole project whenever the command-line vars differ from the
    saved parse's (every new day); the env var leaves the parse alone (see var_as_of_date.sql).
    dagster-dbt copies os.environ when it starts dbt, so the variable is set only around that start.
    """
    before = os.environ.get(AS_OF_DATE_ENV)
    os.environ[AS_OF_DATE_ENV] = as_of_date
    try:
        yield
    finally:
        if before is None:
            del os.environ[AS_OF_DATE_ENV]
        else:
            os.environ[AS_OF_DATE_ENV] = before


def keep_partial_parse(invocation_target: Path, project: DbtProject = transforms_project) -> None:
    """Make the saved parse of this dbt run the one the next run starts from.

    dagster-dbt gives every run its own target folder and copies the project's
    partial_parse.msgpack into it; dbt accepts it only if it was parsed with the same profile (the
    same DuckDB path) and project files. The one `dbt parse` (ensure_manifest) left may come from
    another warehouse, so without this every run of a home could parse the whole project again.
    """
    saved = invocation_target / PARTIAL_PARSE_FILE
    if saved.exists():
        shared = Path(project.project_dir) / project.target_path / PARTIAL_PARSE_FILE
        staged = shared.with_name(f"{PARTIAL_PARSE_FILE}.{os.getpid()}")
        shutil.copyfile(saved, staged)
        os.replace(staged, shared)  # atomic: a concurrent run reads the old or the new file


class SleevelessDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without its two start-up costs (about 7 s of every dbt step here).

    Before starting dbt, dagster-dbt 0.29 runs `dbt --version` to tell dbt Core from dbt Fusion (a
    dbt start plus a PyPI look-up) and builds a dbt adapter in the Dagster process, which serves only
    `fetch_row_counts()` / `fetch_column_metadata()`; neither is used here. The dbt of this virtual
    environment is dbt Core, so its version is read from the package. Both names are dagster-dbt
    internals: tests/test_transforms.py fails if an upgrade renames them.
    """

    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args: Any) -> None:
        return None


class SleevelessDbtTranslator(DagsterDbtTranslator):
    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        """Group by dbt layer (staging / intermediate / marts), so the UI reads like the data flow."""
        if dbt_resource_props["resource_type"] == "seed":
            return "tax_tables"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "warehouse"


translator = SleevelessDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_code_references=False))
