"""State campaign-finance ingestors: bulk files in, standardised documents out.

Names are loaded on first use (PEP 562): the DAG file imports `precinct.finance.registry` at
parse time, and the dag-processor should not pay for the parsers there.

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

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "INGESTORS": "precinct.finance.registry",
    "REJECT_REASONS": "precinct.finance.models",
    "Candidate": "precinct.finance.models",
    "ContributionDoc": "precinct.finance.models",
    "Document": "precinct.finance.models",
    "IngestStats": "precinct.finance.base",
    "LayoutError": "precinct.finance.errors",
    "LocalSource": "precinct.finance.source",
    "MissingSourceFile": "precinct.finance.errors",
    "Reject": "precinct.finance.models",
    "ReportDoc": "precinct.finance.models",
    "Source": "precinct.finance.source",
    "SourceError": "precinct.finance.errors",
    "StateIngestor": "precinct.finance.base",
    "UnreadableSourceFile": "precinct.finance.errors",
    "contributions_index_body": "precinct.finance.mappings",
    "get_ingestor": "precinct.finance.registry",
    "index_body": "precinct.finance.mappings",
    "registered_states": "precinct.finance.registry",
    "reports_index_body": "precinct.finance.mappings",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    return getattr(importlib.import_module(module), name)
