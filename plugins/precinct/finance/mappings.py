"""Elasticsearch index bodies (settings + mappings) for the two document kinds.

They mirror `ContributionDoc.to_source` / `ReportDoc.to_source` field for field.

- Top level and the fixed sub-objects are `dynamic: strict`: a field the model does not declare
  fails its bulk item loudly (and shows up in the rejects file) instead of silently growing the
  mapping with whatever a state module happened to emit. A mapping/model mismatch is a bug to
  catch in tests, not data to keep.
- `source` (the raw per-state extras) is `dynamic: false`: each state keeps different raw fields,
  so unknown ones are stored in `_source` but not indexed. The ones worth searching are declared.
- Ids and codes are `keyword`; names are `text` with a `keyword` sub-field for exact match and
  aggregations; dates are `yyyy-MM-dd` dates; amounts are `scaled_float` with factor 100, i.e.
  exact cents, negative allowed.
- `number_of_replicas` and `refresh_interval` are not set: the loader sets them for bulk loading
  and restores them afterwards.

Each function returns a fresh dict so a caller may add settings without affecting the next call.
"""

from __future__ import annotations

from typing import Any

_KEYWORD = {"type": "keyword"}
_DATE = {"type": "date", "format": "strict_date"}
_MONEY = {"type": "scaled_float", "scaling_factor": 100}


def _object(properties: dict[str, Any], dynamic: str = "strict") -> dict[str, Any]:
    return {"type": "object", "dynamic": dynamic, "properties": properties}


def _filer() -> dict[str, Any]:
    return _object({"id": dict(_KEYWORD), "type": dict(_KEYWORD), "name": _name()})


def _candidate() -> dict[str, Any]:
    return _object(
        {
            "id": dict(_KEYWORD),
            "name": _name(),
            "party": dict(_KEYWORD),
            "house": dict(_KEYWORD),
            "district": dict(_KEYWORD),
        }
    )


def _name() -> dict[str, Any]:
    return {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}


def _settings() -> dict[str, Any]:
    return {"index": {"number_of_shards": 1}}


def contributions_index_body() -> dict[str, Any]:
    """Body for `indices.create` of a `{state}_contributions_*` index."""
    return {
        "settings": _settings(),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "state": dict(_KEYWORD),
                "filer": _filer(),
                "candidate": _candidate(),
                "contribution_id": dict(_KEYWORD),
                "contribution_date": dict(_DATE),
                "amount": dict(_MONEY),
                "memo": {"type": "text"},
                "contributor": _object(
                    {
                        "type": dict(_KEYWORD),
                        "name": _name(),
                        "city": _name(),
                        "state": dict(_KEYWORD),
                        "zip": dict(_KEYWORD),
                        "employer": _name(),
                        "occupation": _name(),
                        "job_title": _name(),
                    }
                ),
                "source": _object(
                    {
                        "file": dict(_KEYWORD),
                        "line": {"type": "long"},
                        # Texas
                        "schedule": dict(_KEYWORD),
                        "form_type": dict(_KEYWORD),
                        "report_id": dict(_KEYWORD),
                        "received_date": dict(_DATE),
                        # Michigan
                        "doc_seq_no": dict(_KEYWORD),
                        "statement_year": dict(_KEYWORD),
                        "statement_type": dict(_KEYWORD),
                        "contribution_type": dict(_KEYWORD),
                    },
                    dynamic="false",
                ),
            },
        },
    }


def reports_index_body() -> dict[str, Any]:
    """Body for `indices.create` of a `{state}_reports_*` index."""
    return {
        "settings": _settings(),
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "state": dict(_KEYWORD),
                "filer": _filer(),
                "candidate": _candidate(),
                "report_id": dict(_KEYWORD),
                "type": dict(_KEYWORD),
                "period_start": dict(_DATE),
                "period_end": dict(_DATE),
                "received_date": dict(_DATE),
                "contributions": dict(_MONEY),
                "expenditures": dict(_MONEY),
                "ending_balance": dict(_MONEY),
                "source": _object(
                    {
                        "file": dict(_KEYWORD),
                        "line": {"type": "long"},
                        "form_type": dict(_KEYWORD),
                        "report_types": dict(_KEYWORD),
                        "statement_year": dict(_KEYWORD),
                        "party": dict(_KEYWORD),
                    },
                    dynamic="false",
                ),
            },
        },
    }


def index_body(kind: str) -> dict[str, Any]:
    """Body for a document kind (`ContributionDoc.kind` / `ReportDoc.kind`)."""
    bodies = {"contributions": contributions_index_body, "reports": reports_index_body}
    try:
        return bodies[kind]()
    except KeyError:
        raise ValueError(f"unknown document kind {kind!r}; known: {', '.join(bodies)}") from None
