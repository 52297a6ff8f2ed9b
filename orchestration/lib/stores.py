"""Configurable resources over custodian.stores: the environment picks local or S3, assets never branch."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from custodian.stores import FileStore, LocalFileStore, S3FileStore


class FileStoreResource(dg.ConfigurableResource):
    """Base class: something that lists, reads and atomically writes files by key."""

    def store(self) -> FileStore:
        raise NotImplementedError

    def describe(self) -> str:
        return self.store().uri("")


class LocalFolderStore(FileStoreResource):
    root: str

    def store(self) -> FileStore:
        return LocalFileStore(Path(self.root))


class S3BucketStore(FileStoreResource):
    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region_name: str | None = None
    server_side_encryption: str | None = None

    def store(self) -> FileStore:
        return S3FileStore(self.bucket, self.prefix, self.endpoint_url, self.region_name, self.server_side_encryption)


def store_resource_for(location: str) -> FileStoreResource:
    """``s3://bucket/prefix`` -> S3BucketStore (endpoint from AWS_ENDPOINT_URL), anything else a folder."""
    import os

    if location.startswith("s3://"):
        bucket, _, prefix = location.removeprefix("s3://").partition("/")
        return S3BucketStore(
            bucket=bucket,
            prefix=prefix,
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None,
            region_name=os.environ.get("AWS_DEFAULT_REGION") or None,
            server_side_encryption=os.environ.get("SLEEVELESS_S3_SSE") or None,
        )
    return LocalFolderStore(root=location)
