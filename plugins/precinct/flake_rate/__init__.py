"""Volunteer flake rate: run settings, SQL rendering, result frames and the quality gates.

Pure logic with no Airflow import (tested in tests/unit/flake_rate/). The DAG
`dags/flake_rate_refresh.py` wires it to BigQuery (`precinct.operators.bigquery`) and Google
Sheets (`precinct.hooks.sheets`).

Names are re-exported lazily: the DAG file imports `precinct.flake_rate.sql` at parse time and
must not pay for pandas, which `frames` and `gates` import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "FLAKE_RATE_COLUMNS": "frames", "FLAKE_RATE_TAB": "frames", "UPCOMING_COLUMNS": "frames",
    "UPCOMING_TAB": "frames", "SheetFormatError": "frames", "flake_rate_frame": "frames",
    "from_sheet": "frames", "to_sheet": "frames", "upcoming_frame": "frames",
    "GateFailure": "gates", "GateReport": "gates", "run_gates": "gates",
    "InvalidSetting": "settings", "RefreshSettings": "settings",
    "resolve_settings": "settings", "week_start": "settings",
    "render": "sql", "validate_dataset": "sql",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
