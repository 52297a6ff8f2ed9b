"""Imported by the multiprocess executor's forkserver before it forks any step process
(orchestration/defs/jobs.py): builds the code location's definitions once, so each step starts
from a fork that already holds them instead of importing and building them again. Great
Expectations, which the asset code imports lazily (only the gate steps need it), is imported here
too: eleven gate steps each paid its 3-4 s import."""

import os

from orchestration.lib.reconstruct import _definitions

_definitions()
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
import great_expectations  # noqa: E402,F401  (the import is the point: step processes fork with it loaded)
