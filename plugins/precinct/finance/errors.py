"""Errors an ingestor raises before any document is produced.

They are separate from per-row rejects: a reject is a bad row in a good file and the run goes on,
while these mean the input as a whole cannot be used, so the DAG must fail the state before it
creates an index. Messages always name the file (full path or URL) so an operator can act on the
e-mail alone.
"""

from __future__ import annotations


class SourceError(Exception):
    """The state's input files cannot be used as a whole."""


class MissingSourceFile(SourceError):
    """A required file (or a required member inside an archive) is absent."""

    def __init__(self, name: str, where: str, detail: str = "") -> None:
        self.name = name
        self.where = where
        message = f"missing source file {name!r} ({where})"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)


class UnreadableSourceFile(SourceError):
    """A required file exists but cannot be opened or is not what its name says (bad zip)."""

    def __init__(self, name: str, where: str, detail: str) -> None:
        self.name = name
        self.where = where
        super().__init__(f"unreadable source file {name!r} ({where}): {detail}")


class LayoutError(SourceError):
    """A file's header lacks columns the ingestor needs: the publisher changed the layout."""

    def __init__(self, where: str, missing: list[str]) -> None:
        self.where = where
        self.missing = missing
        super().__init__(f"unexpected layout in {where}: missing column(s) {', '.join(missing)}")
