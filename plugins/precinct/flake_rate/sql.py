"""SQL for BigQuery: the dataset identifier, and named query parameters in the REST shape.

BigQuery binds values, never table names. The flake-rate SQL therefore names its tables as
`` `{dataset}.event_signups` `` and `render()` substitutes the dataset only after
`validate_dataset()` has accepted it: an optional project id (lower-case letters, digits and
hyphens) and a dataset id (letters, digits, underscores). Nothing that could end the backtick
quoting or start another statement (backtick, quote, space, semicolon, comment) can pass the
pattern, so the substitution cannot change the query's meaning. Every value (dates, event types)
stays a bound parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

DATASET_MARKER = "{dataset}"
_DATASET = re.compile(
    r"(?:(?P<project>[a-z][a-z0-9-]{2,28}[a-z0-9])\.)?(?P<dataset>[A-Za-z0-9_]{1,1024})"
)
_PARAMETER = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")
_SCALAR_TYPES = {"INT64", "FLOAT64", "NUMERIC", "BOOL", "STRING", "DATE", "DATETIME", "TIMESTAMP"}


def validate_dataset(value: str) -> str:
    """`dataset` or `project.dataset`, unchanged if valid; ValueError (saying why) otherwise."""
    if not isinstance(value, str) or not _DATASET.fullmatch(value):
        raise ValueError(
            f"not a BigQuery dataset id: {value!r} (expected `dataset` or `project.dataset`: "
            "letters, digits and underscores, and a lower-case project id)"
        )
    return value


def render(sql: str, dataset: str) -> str:
    """The SQL with its `{dataset}` marker replaced by a validated dataset id."""
    dataset = validate_dataset(dataset)
    if DATASET_MARKER not in sql:
        raise ValueError(f"the SQL has no {DATASET_MARKER} marker to substitute")
    return sql.replace(DATASET_MARKER, dataset)


def strip_comments(sql: str) -> str:
    """The SQL without `--` line comments (string literals containing `--` are kept)."""
    out = []
    for line in sql.splitlines():
        in_string: str | None = None
        for i, char in enumerate(line):
            if in_string:
                if char == in_string:
                    in_string = None
            elif char in "'\"`":
                in_string = char
            elif line.startswith("--", i):
                line = line[:i]
                break
        out.append(line)
    return "\n".join(out)


def parameters_used(sql: str) -> set[str]:
    """Names of the `@name` parameters the SQL's code (comments excluded) refers to."""
    return set(_PARAMETER.findall(strip_comments(sql)))


def query_parameter(name: str, kind: str, value: Any) -> dict[str, Any]:
    """One named parameter as BigQuery's REST `QueryParameter` (`ARRAY<T>` for arrays)."""
    kind = kind.upper().replace(" ", "")
    if kind.startswith("ARRAY<") and kind.endswith(">"):
        item = kind[6:-1]
        if item not in _SCALAR_TYPES:
            raise ValueError(f"parameter {name}: unsupported array type {kind}")
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise ValueError(f"parameter {name}: {kind} needs a list, got {value!r}")
        return {
            "name": name,
            "parameterType": {"type": "ARRAY", "arrayType": {"type": item}},
            "parameterValue": {"arrayValues": [{"value": _text(v)} for v in value]},
        }
    if kind not in _SCALAR_TYPES:
        raise ValueError(f"parameter {name}: unsupported type {kind}")
    return {
        "name": name,
        "parameterType": {"type": kind},
        "parameterValue": {"value": _text(value)},
    }


def query_parameters(spec: Mapping[str, tuple[str, Any] | Sequence[Any]]) -> list[dict[str, Any]]:
    """`{"as_of": ("DATE", "2026-11-24"), ...}` as BigQuery's REST `queryParameters`."""
    return [query_parameter(name, kind, value) for name, (kind, value) in spec.items()]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
