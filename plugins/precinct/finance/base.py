"""The contract every state ingestor fulfils, and the statistics it keeps.

The Airflow side drives all states the same way: `check` (fail before any index exists if a file
is missing), `pre` (load small lookups), `records` (stream documents and rejects), `post`
(release lookups and open files). A state module only says where its files are and how a row
becomes a document; counting lives here so every state reports the same figures.

Which rows count where:
- *produced*: documents yielded, per kind (`contributions`, `reports`).
- *rejected*: rows that should have been documents but were unusable (bad date, short row,
  superseded, duplicate id...). Only these count toward the rejected-row share the DAG checks.
- *skipped*: rows deliberately outside Precinct's scope (not a legislative recipient,
  non-monetary). They are filtered, never written to the rejects file, and do not count toward
  the share: most of a state's file is out of scope by design.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from precinct.finance.errors import MissingSourceFile
from precinct.finance.models import ContributionDoc, Document, Reject, ReportDoc
from precinct.finance.source import Source


@dataclass
class IngestStats:
    """Running totals of one ingest; complete once `records()` is exhausted."""

    produced: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def produced_total(self) -> int:
        return sum(self.produced.values())

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def rejected_share(self) -> float:
        """Rejects over in-scope rows (documents + rejects); skipped rows are not in it."""
        denominator = self.produced_total + self.rejected_total
        return self.rejected_total / denominator if denominator else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly figures (XCom, logs, the demo summary)."""
        return {
            "produced": dict(self.produced),
            "rejected": dict(self.rejected),
            "skipped": dict(self.skipped),
            "rejected_share": self.rejected_share(),
        }


class StateIngestor(ABC):
    """Turns one state's bulk files into `ContributionDoc`/`ReportDoc` documents.

    Subclasses set `state` (lower-case postal code, used in index names and document ids) and
    `name`, and implement `required_files` and `produce`. An instance serves one ingest.
    """

    state: ClassVar[str]
    name: ClassVar[str]

    def __init__(self) -> None:
        self.stats = IngestStats()
        self._checked: Source | None = None  # the source `check` last passed, if any

    @abstractmethod
    def required_files(self, source: Source) -> list[str]:
        """Names (directly under the source's base) that must exist for an ingest to start."""

    def check(self, source: Source) -> None:
        """Raise `MissingSourceFile` (naming the file) unless every required input is usable.

        Called before any index is created; `check_contents` then looks inside archives.
        """
        self._checked = None
        for name in self.required_files(source):
            if not source.exists(name):
                raise MissingSourceFile(name, source.describe(name))
        self.check_contents(source)
        self._checked = source

    def check_contents(self, source: Source) -> None:  # noqa: B027  (optional hook)
        """Hook for states whose required inputs are archive members; default: nothing."""

    def pre(self, source: Source) -> None:  # noqa: B027  (optional hook)
        """Load the small lookups `produce` needs (recipients in scope, ...)."""

    @abstractmethod
    def produce(self, source: Source) -> Iterator[Document | Reject]:
        """Yield documents and rejects, streaming; called through `records`."""

    def records(self, source: Source) -> Iterator[Document | Reject]:
        """Stream every document and reject, counting them into `stats` as they pass."""
        produced = self.stats.produced
        rejected = self.stats.rejected
        contributions = reports = 0
        try:
            for item in self.produce(source):
                cls = item.__class__
                if cls is ContributionDoc:
                    contributions += 1
                elif cls is ReportDoc:
                    reports += 1
                else:
                    rejected[item.reason] += 1  # type: ignore[union-attr]
                yield item
        finally:
            produced[ContributionDoc.kind] += contributions
            produced[ReportDoc.kind] += reports

    def post(self) -> None:  # noqa: B027  (optional hook)
        """Release lookups and open files; safe to call more than once."""

    def ingest(self, source: Source) -> Iterator[Document | Reject]:
        """`check` (unless just done on this source), `pre`, `records`, then `post` always.

        Lazy like `records`: nothing is read until the first item is requested. Skipping a repeat
        check matters for sources that must download an archive to look inside it.
        """
        if self._checked is not source:
            self.check(source)
        try:
            self.pre(source)
            yield from self.records(source)
        finally:
            self._checked = None
            self.post()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(state={self.state!r})"
