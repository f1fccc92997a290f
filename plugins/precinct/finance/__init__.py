"""State campaign-finance ingestors: bulk files in, standardised documents out.

No Airflow here: the DAG's operator picks an ingestor from the registry, hands it a `Source`,
and streams `records()` into Elasticsearch with the index bodies from `mappings`. Typical use::

    ingestor = get_ingestor("tx")()
    ingestor.check(source)          # before any index exists
    ingestor.pre(source)
    for item in ingestor.records(source):
        ...                         # ContributionDoc / ReportDoc -> bulk; Reject -> rejects file
    ingestor.post()
    ingestor.stats                  # produced / rejected / skipped
"""

from __future__ import annotations

from precinct.finance.base import IngestStats, StateIngestor
from precinct.finance.errors import (
    LayoutError,
    MissingSourceFile,
    SourceError,
    UnreadableSourceFile,
)
from precinct.finance.mappings import contributions_index_body, index_body, reports_index_body
from precinct.finance.models import (
    REJECT_REASONS,
    Candidate,
    ContributionDoc,
    Document,
    Reject,
    ReportDoc,
)
from precinct.finance.registry import INGESTORS, get_ingestor, registered_states
from precinct.finance.source import LocalSource, Source

__all__ = [
    "INGESTORS",
    "REJECT_REASONS",
    "Candidate",
    "ContributionDoc",
    "Document",
    "IngestStats",
    "LayoutError",
    "LocalSource",
    "MissingSourceFile",
    "Reject",
    "ReportDoc",
    "Source",
    "SourceError",
    "StateIngestor",
    "UnreadableSourceFile",
    "contributions_index_body",
    "get_ingestor",
    "index_body",
    "registered_states",
    "reports_index_body",
]
