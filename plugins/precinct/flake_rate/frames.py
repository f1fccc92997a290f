"""The two published tables as typed DataFrames: from the query's rows, from and to the Sheet.

Both sources normalise to the same shape so that the gates can compare this run with the last
publish: dates as ISO `YYYY-MM-DD` strings, counts as int64, `Current_Week` as bool,
`Flake_Rate` as float. The Sheet is read as a person sees it (formatted strings: `12`,
`0.4167`, `TRUE`, `2026-10-03`); a tab someone has edited out of shape raises SheetFormatError.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

FLAKE_RATE_TAB = "Flake rate"
UPCOMING_TAB = "Upcoming"
KEY = ["Region", "Week_Start"]
FLAKE_RATE_COLUMNS = [
    "Region", "Organizer", "Week_Start", "Week_End", "Current_Week", "Completed", "No_Show",
    "Cancelled", "Declined", "Scheduled", "Total", "Total_Flakes", "Flake_Rate",
]
FLAKE_RATE_COUNTS = ["Completed", "No_Show", "Cancelled", "Declined", "Scheduled", "Total",
                     "Total_Flakes"]
UPCOMING_COLUMNS = ["Region", "Organizer", "Week_Start", "Week_End", "Scheduled", "Signups"]
UPCOMING_COUNTS = ["Scheduled", "Signups"]
DATE_COLUMNS = ["Week_Start", "Week_End"]
# Rates are published rounded (a dashboard shows percentages); the gates allow for it.
RATE_DECIMALS = 4


class SheetFormatError(ValueError):
    """A published tab that cannot be read back as the table we publish."""


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return date.fromisoformat(text[:10]).isoformat()


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().upper()
    if text in ("TRUE", "1"):
        return True
    if text in ("FALSE", "0", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError(f"not a count: {value!r}")
    if isinstance(value, int):
        return value
    number = float(str(value).replace(",", "").strip())
    if not number.is_integer():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


def _typed(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], counts: Sequence[str],
           *, flags: Sequence[str] = (), rates: Sequence[str] = ()) -> pd.DataFrame:
    records = []
    for row in rows:
        record: dict[str, Any] = {}
        for column in columns:
            value = row.get(column)
            if column in DATE_COLUMNS:
                record[column] = _iso(value)
            elif column in counts:
                record[column] = _int(value)
            elif column in flags:
                record[column] = _bool(value)
            elif column in rates:
                record[column] = float(str(value).strip()) if not isinstance(value, float) \
                    else value
            else:
                record[column] = "" if value is None else str(value)
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=list(columns))
    for column in counts:
        frame[column] = frame[column].astype("int64")
    for column in flags:
        frame[column] = frame[column].astype(bool)
    for column in rates:
        frame[column] = frame[column].astype("float64")
    for column in columns:
        if column not in (*counts, *flags, *rates):
            frame[column] = frame[column].astype(object)
    return frame


def flake_rate_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The `Flake rate` table from query rows (or parsed Sheet rows), typed."""
    return _typed(rows, FLAKE_RATE_COLUMNS, FLAKE_RATE_COUNTS, flags=["Current_Week"],
                  rates=["Flake_Rate"])


def upcoming_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """The `Upcoming` table from query rows, typed."""
    return _typed(rows, UPCOMING_COLUMNS, UPCOMING_COUNTS)


def from_sheet(values: Sequence[Sequence[Any]], tab: str = FLAKE_RATE_TAB) -> pd.DataFrame | None:
    """A published tab read back (`SheetsHook.read_tab`): None when the tab holds nothing yet.

    Columns are found by their header, so the "last refreshed" cell beside the header and any
    column a person added are ignored; rows with an empty Region (blank lines) are skipped.
    """
    if not values or not any(str(cell).strip() for cell in values[0]):
        return None
    header = [str(cell).strip() for cell in values[0]]
    columns = FLAKE_RATE_COLUMNS if tab == FLAKE_RATE_TAB else UPCOMING_COLUMNS
    missing = [column for column in columns if column not in header]
    if missing:
        raise SheetFormatError(f"tab {tab!r} has no column(s) {', '.join(missing)} in its header")
    where = {column: header.index(column) for column in columns}
    rows = []
    for number, row in enumerate(values[1:], start=2):
        cells = {c: (row[i] if i < len(row) else "") for c, i in where.items()}
        if not str(cells["Region"]).strip():
            continue
        rows.append((number, cells))
    try:
        if tab == FLAKE_RATE_TAB:
            return flake_rate_frame(cells for _number, cells in rows)
        return upcoming_frame(cells for _number, cells in rows)
    except (TypeError, ValueError) as exc:
        raise SheetFormatError(f"tab {tab!r} has a cell that is not what we publish: {exc}") \
            from exc


def to_sheet(frame: pd.DataFrame) -> pd.DataFrame:
    """What gets written: the same table with the rate rounded for display."""
    out = frame.copy()
    if "Flake_Rate" in out.columns:
        out["Flake_Rate"] = out["Flake_Rate"].round(RATE_DECIMALS)
    return out
