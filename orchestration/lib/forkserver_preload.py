"""Imported by the multiprocess executor's forkserver before it forks any step process
(orchestration/defs/jobs.py): builds the code location's definitions once, so each step starts
from a fork that already holds them instead of importing and building them again."""

from orchestration.lib.reconstruct import _definitions

_definitions()
