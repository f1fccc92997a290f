"""What an ingestor yields: standardised documents, and rejects for rows that could not be used.

Every state maps its own layout onto these two document shapes, so the loader, the index mapping
and the searchers see one schema whatever the state. Documents are flat slotted dataclasses (cheap
to build millions of times) and become nested Elasticsearch `_source` dicts only in `to_source`,
which `mappings.py` mirrors field for field. Empty strings become `None` there: the bulk files use
empty fields for "no value".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

# Reject reasons (exact strings: they are the keys of stats and the reason column of the rejects
# file). Every reject counts toward the rejected-row share; out-of-scope rows are *skipped*, not
# rejected, because dropping them is the point of the ingest rather than a data problem.
MISSING_DATE = "missing date"
BAD_DATE = "bad date"
BAD_AMOUNT = "bad amount"
SHORT_ROW = "short row"
WRONG_COLUMN_COUNT = "wrong column count"
UNDECODABLE = "undecodable"
SUPERSEDED = "superseded"
DUPLICATE_ID = "duplicate id"
# Not in the list: a row whose id column is empty cannot get a stable document id.
MISSING_ID = "missing id"
REJECT_REASONS = (
    MISSING_DATE,
    BAD_DATE,
    BAD_AMOUNT,
    SHORT_ROW,
    WRONG_COLUMN_COUNT,
    UNDECODABLE,
    SUPERSEDED,
    DUPLICATE_ID,
    MISSING_ID,
)

# Skip reasons: rows outside what Precinct indexes (legislative, monetary contributions).
NOT_LEGISLATIVE = "not legislative"
NON_MONETARY = "non-monetary"

LOWER = "lower"
UPPER = "upper"


@dataclass(slots=True, frozen=True)
class Candidate:
    """The legislative candidate a contribution or report belongs to; shared by all their rows."""

    id: str
    name: str | None
    party: str | None
    house: str  # "lower" or "upper"
    district: str | None

    def to_source(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name or None,
            "party": self.party or None,
            "house": self.house,
            "district": self.district or None,
        }


@dataclass(slots=True)
class ContributionDoc:
    """One contribution item to a legislative candidate or their supporting committee."""

    kind: ClassVar[str] = "contributions"

    doc_id: str
    state: str
    contribution_id: str
    contribution_date: str  # ISO yyyy-mm-dd
    amount: float  # two-decimal value; negative for refunds and offsets
    memo: str | None
    filer_id: str
    filer_type: str | None
    filer_name: str | None
    candidate: Candidate
    contributor_type: str | None  # "individual" or "entity"
    contributor_name: str | None
    contributor_city: str | None
    contributor_state: str | None
    contributor_zip: str | None
    contributor_employer: str | None
    contributor_occupation: str | None
    contributor_job_title: str | None
    source_file: str
    source_line: int
    source_extra: dict[str, str | None] = field(default_factory=dict)

    def to_source(self) -> dict[str, Any]:
        """The Elasticsearch `_source` (see `mappings.contributions_index_body`)."""
        return {
            **_recipient_fields(self),
            "contribution_id": self.contribution_id,
            "contribution_date": self.contribution_date,
            "amount": self.amount,
            "memo": self.memo or None,
            "contributor": {
                "type": self.contributor_type or None,
                "name": self.contributor_name or None,
                "city": self.contributor_city or None,
                "state": self.contributor_state or None,
                "zip": self.contributor_zip or None,
                "employer": self.contributor_employer or None,
                "occupation": self.contributor_occupation or None,
                "job_title": self.contributor_job_title or None,
            },
            "source": _source_fields(self),
        }


@dataclass(slots=True)
class ReportDoc:
    """One campaign-finance report (statement) filed by an in-scope recipient."""

    kind: ClassVar[str] = "reports"

    doc_id: str
    state: str
    report_id: str
    type: str | None
    period_start: str | None  # ISO dates, None when absent or unparsable
    period_end: str | None
    received_date: str | None
    contributions: float | None
    expenditures: float | None
    ending_balance: float | None
    filer_id: str
    filer_type: str | None
    filer_name: str | None
    candidate: Candidate
    source_file: str
    source_line: int
    source_extra: dict[str, str | None] = field(default_factory=dict)

    def to_source(self) -> dict[str, Any]:
        """The Elasticsearch `_source` (see `mappings.reports_index_body`)."""
        return {
            **_recipient_fields(self),
            "report_id": self.report_id,
            "type": self.type or None,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "received_date": self.received_date,
            "contributions": self.contributions,
            "expenditures": self.expenditures,
            "ending_balance": self.ending_balance,
            "source": _source_fields(self),
        }


Document = ContributionDoc | ReportDoc


def _recipient_fields(doc: Document) -> dict[str, Any]:
    """The fields both document kinds share: who received the money (filer and candidate)."""
    return {
        "state": doc.state,
        "filer": {
            "id": doc.filer_id,
            "type": doc.filer_type or None,
            "name": doc.filer_name or None,
        },
        "candidate": doc.candidate.to_source(),
    }


def _source_fields(doc: Document) -> dict[str, Any]:
    """Where the document came from, plus the state's extra raw fields worth keeping."""
    source: dict[str, Any] = {"file": doc.source_file, "line": doc.source_line}
    for key, value in doc.source_extra.items():
        source[key] = value or None
    return source


@dataclass(slots=True, frozen=True)
class Reject:
    """A row that could not become a document, with enough context to find and fix it."""

    FIELDS: ClassVar[tuple[str, ...]] = ("reason", "file", "line", "detail")

    reason: str
    file: str
    line: int
    detail: str

    def as_row(self) -> tuple[str, str, int, str]:
        """Values in `FIELDS` order, for the rejects CSV."""
        return (self.reason, self.file, self.line, self.detail)
