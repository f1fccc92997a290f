"""Where an ingestor reads a state's raw files from.

The ingestors never open paths themselves: the Airflow side hands them a `Source`, so the same
parsing code reads the devstack's local folder, a mounted share or S3 without knowing which. The
protocol is deliberately tiny (four calls) so an S3 implementation is a few lines over a client:
no seeking is promised, which is why zip reading spools non-seekable streams to disk
(see `archive.py`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable


@runtime_checkable
class Source(Protocol):
    """Read access to the files directly under one state's base location."""

    def exists(self, name: str) -> bool:
        """Whether `name` is present and is a file (not a folder)."""
        ...

    def open(self, name: str) -> BinaryIO:
        """A binary stream of `name`; the caller closes it. Seeking is not guaranteed."""
        ...

    def list(self) -> list[str]:
        """Names of the files directly under the base, sorted."""
        ...

    def describe(self, name: str) -> str:
        """Full path or URL of `name` (of the base itself for ""), for messages and logs."""
        ...


class LocalSource:
    """A folder on the local file system (devstack data, a mounted share, tests' tmp_path)."""

    def __init__(self, base_dir: str | os.PathLike[str]) -> None:
        self.base_dir = Path(base_dir)

    def _path(self, name: str) -> Path:
        # Names are plain file names under the base: refuse anything that would escape it.
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"not a plain file name under {self.base_dir}: {name!r}")
        return self.base_dir / name

    def exists(self, name: str) -> bool:
        """Whether the file is there and readable (a file we cannot open is as good as absent)."""
        path = self._path(name)
        return path.is_file() and os.access(path, os.R_OK)

    def open(self, name: str) -> BinaryIO:
        """Open for binary reading; real files are seekable, which lets zips skip spooling."""
        return self._path(name).open("rb")

    def list(self) -> list[str]:
        """Sorted plain-file names; an absent base lists nothing (check() names what is missing)."""
        if not self.base_dir.is_dir():
            return []
        return sorted(entry.name for entry in self.base_dir.iterdir() if entry.is_file())

    def describe(self, name: str) -> str:
        """The absolute path, so messages point at the exact file; "" names the base folder."""
        if not name:
            return str(self.base_dir.resolve())
        return str(self._path(name).resolve())

    def __repr__(self) -> str:
        return f"LocalSource({str(self.base_dir)!r})"
