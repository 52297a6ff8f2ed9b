"""Where custodian files land and where order files and reports go: a local folder or S3.

Plain Python (no Dagster): orchestration/ wraps these in configurable resources, so the
environment picks the store and no asset branches on it. Keys are '/'-separated and relative to
the store's root (a folder, or a bucket + prefix).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

# Above this size an S3 write goes up in parts (boto3's managed transfer), so a large archive copy
# never has to fit in one PUT.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
HASHING_THREADS = 2  # files hashed at once when listing a folder (hashlib and reads release the GIL)


class UnsafeKey(ValueError):
    """A key from outside (file or object name) that would leave the store's root."""


def safe_key(key: str) -> str:
    """The key itself when it stays inside the store's root; raise UnsafeKey otherwise.

    Keys come from listings of folders and buckets that outsiders write to: an object named
    ``../../etc/x`` or ``/abs`` must never become a path outside the data directory.
    """
    if not isinstance(key, str) or "\0" in key or "\\" in key:
        raise UnsafeKey(f"unsafe key {key!r}: NUL or backslash")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise UnsafeKey(f"unsafe key {key!r}: absolute")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsafeKey(f"unsafe key {key!r}: '..' component")
    return "/".join(parts)


def safe_name(name: str, limit: int = 160) -> str:
    """A plain file name made from an outside name: its last component, [A-Za-z0-9._-] only."""
    base = PurePosixPath(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".") or "unnamed"
    return cleaned[-limit:]


@dataclass(frozen=True)
class StoredObject:
    """One listed file: its key, size, a content tag (S3 ETag, or sha256 for a folder) and mtime."""

    key: str
    size: int
    etag: str
    modified: dt.datetime


class FileStore(Protocol):
    def list(self, prefix: str) -> list[str]: ...
    def list_objects(self, prefix: str) -> list[StoredObject]: ...
    def read_bytes(self, key: str) -> bytes: ...
    def write_bytes(self, key: str, content: bytes) -> str: ...
    def write_new(self, key: str, content: bytes) -> str: ...
    def exists(self, key: str) -> bool: ...
    def uri(self, key: str) -> str: ...


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in blocks (never the whole file in memory)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _durable_temp_beside(path: Path, content: bytes) -> str:
    """Write ``content`` to a hidden temporary file next to ``path`` and fsync it; the caller renames
    or links it into place, so no reader ever sees a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


@dataclass(frozen=True)
class LocalFileStore:
    root: Path

    def _path(self, key: str) -> Path:
        root = Path(self.root).resolve()
        path = (root / safe_key(key)).resolve()  # resolve: a symlink must not lead out either
        if path != root and root not in path.parents:
            raise UnsafeKey(f"unsafe key {key!r}: resolves outside {root}")
        return path

    def _files(self, prefix: str) -> list[Path]:
        base = self._path(prefix)
        if not base.exists():
            return []
        # partial files of an atomic write in progress start with '.' and end in '.partial'
        return sorted(p for p in base.rglob("*") if p.is_file() and not p.name.endswith(".partial"))

    def _key_of(self, path: Path) -> str:
        return str(path.relative_to(Path(self.root).resolve())).replace(os.sep, "/")

    def list(self, prefix: str) -> list[str]:
        return sorted(self._key_of(p) for p in self._files(prefix))

    def list_objects(self, prefix: str) -> list[StoredObject]:
        """The content tag of a folder file is its sha256: reading every file costs I/O, but a renamed
        or touched file keeps its tag, like an S3 ETag."""
        root = Path(self.root).resolve()

        def listed(p: Path) -> StoredObject:
            stat = p.lstat()
            modified = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.timezone.utc)
            if root not in p.resolve().parents:  # a symlink out of the root: listed, never read
                return StoredObject(self._key_of(p), 0, "outside-root", modified)
            return StoredObject(self._key_of(p), stat.st_size, file_sha256(p), modified)

        # hashing releases the GIL: a day's files (gigabytes at 10,000 households) hash two at a time
        with ThreadPoolExecutor(max_workers=HASHING_THREADS) as pool:
            out = list(pool.map(listed, self._files(prefix)))
        return sorted(out, key=lambda o: o.key)

    def read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def write_bytes(self, key: str, content: bytes) -> str:
        """Atomic: write a temporary file beside the target, then rename over it."""
        path = self._path(key)
        tmp = _durable_temp_beside(path, content)
        try:
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return str(path)

    def write_new(self, key: str, content: bytes) -> str:
        """Write once: create the file if absent (atomically, read-only), never replace it.

        Returns its path; an existing file is left as it is (archive keys embed the content hash, so
        an existing file already holds these bytes)."""
        path = self._path(key)
        if path.is_file():
            return str(path)
        tmp = _durable_temp_beside(path, content)
        try:
            os.chmod(tmp, 0o444)
            try:
                os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
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
        return f"{self.prefix.strip('/')}/{safe_key(key)}".lstrip("/")

    def _listing(self, prefix: str):
        paginator = self.client().get_paginator("list_objects_v2")
        full = self._key(prefix)
        if prefix and not full.endswith("/"):
            full += "/"  # '2026-11-2' must not list '2026-11-20/...'
        strip = len(self.prefix.strip("/")) + 1 if self.prefix.strip("/") else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            for obj in page.get("Contents", []):
                if not obj["Key"].endswith("/"):  # folder markers made by consoles
                    yield obj["Key"][strip:], obj

    def list(self, prefix: str) -> list[str]:
        return sorted(key for key, _ in self._listing(prefix))

    def list_objects(self, prefix: str) -> list[StoredObject]:
        return sorted(
            (StoredObject(key, int(obj["Size"]), obj["ETag"].strip('"'), obj["LastModified"])
             for key, obj in self._listing(prefix)),
            key=lambda o: o.key,
        )

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
        if len(content) > MULTIPART_THRESHOLD:
            import io

            from boto3.s3.transfer import TransferConfig

            config = TransferConfig(multipart_threshold=MULTIPART_THRESHOLD, multipart_chunksize=MULTIPART_THRESHOLD)
            self.client().upload_fileobj(io.BytesIO(content), self.bucket, self._key(key), ExtraArgs=extra, Config=config)
        else:
            self.client().put_object(Bucket=self.bucket, Key=self._key(key), Body=content, **extra)
        return self.uri(key)

    def write_new(self, key: str, content: bytes) -> str:
        """Write once: an existing object is never replaced (archive keys embed the content hash).
        Deployments should also turn on bucket versioning or Object Lock for the archive bucket."""
        if not self.exists(key):
            self.write_bytes(key, content)
        return self.uri(key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"
