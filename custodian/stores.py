"""Where custodian files land and where order files and reports go: a local folder or S3.

Plain Python (no Dagster): orchestration/ wraps these in configurable resources, so the
environment picks the store and no asset branches on it. Keys are '/'-separated and relative to
the store's root (a folder, or a bucket + prefix).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


class FileStore(Protocol):
    def list(self, prefix: str) -> list[str]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, content: bytes) -> str: ...
    def exists(self, key: str) -> bool: ...
    def uri(self, key: str) -> str: ...


@dataclass(frozen=True)
class LocalFileStore:
    root: Path

    def _path(self, key: str) -> Path:
        return Path(self.root) / key

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix)
        if not base.exists():
            return []
        return sorted(str(p.relative_to(self.root)).replace(os.sep, "/") for p in base.rglob("*") if p.is_file())

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def write_bytes(self, key: str, content: bytes) -> str:
        """Atomic: write a temporary file beside the target, then rename over it."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return str(path)

    def uri(self, key: str) -> str:
        return str(self._path(key))


@dataclass(frozen=True)
class S3FileStore:
    """A bucket and prefix; S3 PUT is atomic per object (no partial object is ever visible)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region_name: str | None = None
    server_side_encryption: str | None = None  # e.g. "AES256" or "aws:kms"
    _client: object = field(default=None, compare=False, repr=False)

    def client(self):
        if self._client is None:
            import boto3

            object.__setattr__(
                self, "_client", boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region_name)
            )
        return self._client

    def _key(self, key: str) -> str:
        return f"{self.prefix.strip('/')}/{key}".lstrip("/")

    def list(self, prefix: str) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        full = self._key(prefix)
        strip = len(self.prefix.strip("/")) + 1 if self.prefix.strip("/") else 0
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def read_bytes(self, key: str) -> bytes:
        return self.client().get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client().head_object(Bucket=self.bucket, Key=self._key(key))
            return True
        except ClientError:
            return False

    def write_bytes(self, key: str, content: bytes) -> str:
        extra = {"ServerSideEncryption": self.server_side_encryption} if self.server_side_encryption else {}
        self.client().put_object(Bucket=self.bucket, Key=self._key(key), Body=content, **extra)
        return self.uri(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"
