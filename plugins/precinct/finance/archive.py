"""Streaming access to zip archives and their text members.

State files are large (Texas: ~1 GB zipped, ~9 GB unzipped), so members are read as streams:
`ZipFile.open` decompresses incrementally and `io.TextIOWrapper` decodes chunk by chunk, so memory
stays flat whatever the member size. A zip's directory sits at its end, so `zipfile` must seek;
a non-seekable source stream (S3 body) is first spooled to a temporary *file* (disk, never
memory) and read from there.
"""

from __future__ import annotations

import io
import shutil
import tempfile
import zipfile
from typing import IO, BinaryIO

from precinct.finance.errors import MissingSourceFile, UnreadableSourceFile
from precinct.finance.source import Source

# Bigger than TextIOWrapper's 8 KiB default: fewer decompress/decode calls per row, same flat
# memory (a few hundred KiB per open member).
_TEXT_CHUNK = 256 * 1024
_SPOOL_CHUNK = 1024 * 1024


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


class Archive:
    """One zip from a `Source`, kept open while an ingestor works through its members."""

    def __init__(self, source: Source, name: str) -> None:
        self.name = name
        self.where = source.describe(name)
        self._stream: BinaryIO | None = None
        self._zip: zipfile.ZipFile | None = None
        stream = source.open(name)
        try:
            if not _is_seekable(stream):
                spool = tempfile.TemporaryFile(prefix="precinct-finance-", suffix=".zip")
                try:
                    shutil.copyfileobj(stream, spool, _SPOOL_CHUNK)
                    spool.seek(0)
                except BaseException:
                    spool.close()
                    raise
                stream.close()
                stream = spool  # type: ignore[assignment]
            self._stream = stream
            self._zip = zipfile.ZipFile(stream)
        except zipfile.BadZipFile as exc:
            stream.close()
            raise UnreadableSourceFile(name, self.where, f"not a zip archive ({exc})") from exc
        except BaseException:
            stream.close()
            raise

    @property
    def zip(self) -> zipfile.ZipFile:
        if self._zip is None:
            raise ValueError(f"archive {self.where} is closed")
        return self._zip

    def members(self) -> list[str]:
        """Member names, in archive order (directories left out)."""
        return [info.filename for info in self.zip.infolist() if not info.is_dir()]

    def require(self, member: str) -> None:
        """Raise `MissingSourceFile` naming the member and the archive when it is absent."""
        try:
            self.zip.getinfo(member)
        except KeyError:
            raise MissingSourceFile(
                f"{self.name}/{member}", self.where, f"member {member!r} not in archive"
            ) from None

    def open_binary(self, member: str) -> IO[bytes]:
        """The member as a decompressing byte stream."""
        return self.zip.open(member)

    def open_text(
        self, member: str, encoding: str, *, errors: str = "strict", newline: str | None = ""
    ) -> io.TextIOWrapper:
        """The member as decoded text, streamed.

        `newline=""` hands raw line ends to csv (needed for quoted line breaks); Michigan passes
        "\\n" so a stray CR stays inside its row instead of splitting it.
        """
        wrapper = io.TextIOWrapper(
            self.zip.open(member), encoding=encoding, errors=errors, newline=newline
        )
        wrapper._CHUNK_SIZE = _TEXT_CHUNK  # type: ignore[attr-defined]  # CPython tuning knob
        return wrapper

    def close(self) -> None:
        """Release the zip and its stream (and delete a spool file)."""
        if self._zip is not None:
            self._zip.close()
            self._zip = None
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Archive({self.where!r})"
