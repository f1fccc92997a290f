"""Small flake-rate tables for the gate tests, built as the query returns them."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from precinct.flake_rate import flake_rate_frame

REGIONS = ["North Side", "South Side", "Lakefront"]
FIRST_WEEK = date(2026, 9, 5)  # a Saturday
# The refresh date for table(): the Wednesday of its current (4th) week.
AS_OF = date(2026, 9, 30)


def row(region: str, week: date, *, completed: int = 20, no_show: int = 4, cancelled: int = 3,
        declined: int = 1, scheduled: int = 0, current: bool = False,
        rate: float | None = None) -> dict:
    total = completed + no_show + cancelled
    flakes = no_show + cancelled
    return {
        "Region": region, "Organizer": "", "Week_Start": week.isoformat(),
        "Week_End": (week + timedelta(days=6)).isoformat(), "Current_Week": current,
        "Completed": completed, "No_Show": no_show, "Cancelled": cancelled,
        "Declined": declined, "Scheduled": scheduled, "Total": total, "Total_Flakes": flakes,
        "Flake_Rate": rate if rate is not None else (flakes / total if total else 0.0),
    }


def table(weeks: int = 4, first: date = FIRST_WEEK, regions: list[str] = REGIONS,
          **overrides) -> pd.DataFrame:
    """`weeks` weeks x regions; the last week is the current one."""
    rows = []
    for w in range(weeks):
        week = first + timedelta(weeks=w)
        for region in regions:
            rows.append(row(region, week, current=(w == weeks - 1), **overrides))
    return flake_rate_frame(rows)


def as_sheet(frame: pd.DataFrame, stamp: str = "Last refreshed 2026-10-01 07:00 CDT") -> list:
    """The table as SheetsHook.read_tab returns it: formatted strings, stamp beside the header."""
    header = [*frame.columns, "", stamp]
    values = [header]
    for record in frame.to_dict("records"):
        cells = []
        for value in record.values():
            if isinstance(value, bool):
                cells.append("TRUE" if value else "FALSE")
            elif isinstance(value, float):
                cells.append(f"{round(value, 4):.15g}")
            else:
                cells.append(str(value))
        values.append([*cells, "", ""])
    return values
