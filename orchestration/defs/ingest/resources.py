"""The raw-file archive: a folder under the data directory, or S3 (``SLEEVELESS_ARCHIVE=s3://bucket/prefix``).

Chosen by the environment here, like landing and outputs (orchestration/defs/resources.py); assets
only see a FileStoreResource.
"""

import os

import dagster as dg

from orchestration.lib.home import Home
from orchestration.lib.stores import store_resource_for


def archive_location(home: Home) -> str:
    return os.environ.get("SLEEVELESS_ARCHIVE") or str(home.root / "archive")


@dg.definitions
def archive_resources() -> dg.Definitions:
    return dg.Definitions(resources={"archive": store_resource_for(archive_location(Home.from_env()))})
