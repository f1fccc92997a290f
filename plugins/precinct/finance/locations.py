"""Where a state's raw files live: a `file://` folder or an `s3://` prefix, per state.

A source location is a base URL; each state's files sit directly under `{base}/{state}/`. S3 is
read through a boto3 client the caller supplies (Airflow's S3Hook in the DAG), so this module
needs no Airflow and the tests use the same code against moto.
"""

from __future__ import annotations

import re
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from precinct.finance.source import LocalSource, Source

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The DAG's `source` and `rejects_location` Params carry the same pattern (the form's check).
LOCATION_PATTERN = r"^(file|s3)://\S+$"


class S3Source:
    """The objects directly under `s3://bucket/prefix/` (no recursion into sub-folders)."""

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    def _key(self, name: str) -> str:
        if not name or "/" in name or name in (".", ".."):
            raise ValueError(f"not a plain file name under {self.describe('')}: {name!r}")
        return self.prefix + name

    def exists(self, name: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def open(self, name: str) -> BinaryIO:
        """The object's body as a stream (not seekable: zips are spooled to disk by the reader)."""
        return self.client.get_object(Bucket=self.bucket, Key=self._key(name))["Body"]

    def list(self) -> list[str]:
        names = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix, Delimiter="/"):
            for item in page.get("Contents", []):
                name = item["Key"][len(self.prefix) :]
                if name:
                    names.append(name)
        return sorted(names)

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def __repr__(self) -> str:
        return f"S3Source({self.describe('')!r})"


def parse_location(url: str) -> tuple[str, str, str]:
    """Split a base URL into (scheme, bucket or '', path), refusing anything else clearly."""
    parts = urlsplit(url.strip())
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"file:// locations must be local paths, got {url!r}")
        return "file", "", unquote(parts.path)
    if parts.scheme == "s3":
        if not _BUCKET.match(parts.netloc):
            raise ValueError(f"not a valid S3 bucket name in {url!r}")
        return "s3", parts.netloc, parts.path.strip("/")
    raise ValueError(f"source location must start with file:// or s3://, got {url!r}")


def check_location(url: str) -> str:
    """A base URL as the DAG form accepts it (file:// or s3://, no spaces) and `parse_location`
    can use; ValueError saying why otherwise. Returns it stripped."""
    if not isinstance(url, str) or not re.match(LOCATION_PATTERN, url.strip()):
        raise ValueError(f"must be a file:// or s3:// URL without spaces, got {url!r}")
    parse_location(url)
    return url.strip()


def state_source(base_url: str, state: str, s3_client_factory: Any = None) -> Source:
    """The `Source` of one state's files under `base_url` (`{base}/{state}/`)."""
    scheme, bucket, path = parse_location(base_url)
    if scheme == "file":
        return LocalSource(f"{path.rstrip('/')}/{state}")
    if s3_client_factory is None:
        raise ValueError("an s3:// location needs an S3 client")
    prefix = f"{path}/{state}" if path else state
    return S3Source(s3_client_factory(), bucket, prefix)
