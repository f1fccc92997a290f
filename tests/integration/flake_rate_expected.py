"""The flake-rate tables computed independently in pandas from the raw VAN-synced tables.

Written from the issue's definitions, not from the SQL: the latest status per sign-up (newest
entry, ties by entry id), the Saturday-to-Friday week of the event, the region from the mapping
('Unassigned' when the location has none), counts of the latest statuses, Total = Completed +
No Show + Cancelled, flakes = No Show + Cancelled, rate = flakes / total (0 when total is 0),
Scheduled only for events today or later. Tests compare every cell the SQL (or the Sheet) has
with these.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd


def saturday(day: date) -> date:
    # Monday is weekday 0, so Saturday (5) is 0 days into its week and Friday (4) 6 days in.
    return day - timedelta(days=(day.weekday() + 2) % 7)


def _signups(tables: dict[str, pd.DataFrame], event_type_ids: list[int]) -> pd.DataFrame:
    statuses = tables["event_signups_statuses"].sort_values(
        ["event_signup_id", "created_at", "event_signups_status_id"])
    latest = statuses.groupby("event_signup_id").tail(1).set_index("event_signup_id")
    latest_name = latest["event_status_name"].astype(str).str.strip()

    events = tables["events"][["event_id", "event_type_id", "location_id", "starts_at"]]
    frame = tables["event_signups"][["event_signup_id", "event_id"]].merge(events, on="event_id")
    frame = frame[frame["event_type_id"].isin(event_type_ids)].copy()
    frame["event_date"] = [ts.date() for ts in pd.to_datetime(frame["starts_at"])]
    frame["week"] = frame["event_date"].map(saturday)
    mapping = tables["location_regions"].sort_values(["location_id", "region", "organizer"])
    mapping = mapping.drop_duplicates("location_id")
    frame = frame.merge(mapping[["location_id", "region"]], on="location_id", how="left")
    frame["region"] = frame["region"].fillna("Unassigned").astype(str)
    frame["status"] = frame["event_signup_id"].map(latest_name).fillna("")
    return frame


def _organizers(tables: dict[str, pd.DataFrame]) -> dict[str, str]:
    mapping = tables["location_regions"].sort_values(["location_id", "region", "organizer"])
    mapping = mapping.drop_duplicates("location_id")
    out: dict[str, str] = {}
    for region, group in mapping.groupby("region"):
        names = sorted({str(n).strip() for n in group["organizer"].dropna() if str(n).strip()})
        out[str(region)] = ", ".join(names)
    return out


def expected_flake_rate(tables: dict[str, pd.DataFrame], *, start_date: date, as_of: date,
                        event_type_ids: list[int]) -> list[dict]:
    frame = _signups(tables, event_type_ids)
    first, current = saturday(start_date), saturday(as_of)
    frame = frame[(frame["week"] >= first) & (frame["week"] <= current)]
    organizers = _organizers(tables)
    rows = []
    for (week, region), group in frame.groupby(["week", "region"], sort=True):
        status = group["status"]
        completed = int((status == "Completed").sum())
        no_show = int((status == "No Show").sum())
        cancelled = int((status == "Cancelled").sum())
        total = completed + no_show + cancelled
        rows.append({
            "Region": region,
            "Organizer": organizers.get(region, ""),
            "Week_Start": week.isoformat(),
            "Week_End": (week + timedelta(days=6)).isoformat(),
            "Current_Week": week == current,
            "Completed": completed,
            "No_Show": no_show,
            "Cancelled": cancelled,
            "Declined": int((status == "Declined").sum()),
            "Scheduled": int(((status == "Scheduled") & (group["event_date"] >= as_of)).sum()),
            "Total": total,
            "Total_Flakes": no_show + cancelled,
            "Flake_Rate": (no_show + cancelled) / total if total else 0.0,
        })
    return rows


def expected_upcoming(tables: dict[str, pd.DataFrame], *, as_of: date,
                      event_type_ids: list[int]) -> list[dict]:
    frame = _signups(tables, event_type_ids)
    frame = frame[frame["week"] > saturday(as_of)]
    organizers = _organizers(tables)
    rows = []
    for (week, region), group in frame.groupby(["week", "region"], sort=True):
        rows.append({
            "Region": region,
            "Organizer": organizers.get(region, ""),
            "Week_Start": week.isoformat(),
            "Week_End": (week + timedelta(days=6)).isoformat(),
            "Scheduled": int((group["status"] == "Scheduled").sum()),
            "Signups": len(group),
        })
    return rows


def assert_same_cells(actual: list[dict], expected: list[dict], rate_places: float = 1e-9) -> None:
    """Every row and cell equal (rates within `rate_places`), with a readable first difference."""
    assert len(actual) == len(expected), f"{len(actual)} rows, expected {len(expected)}"
    for number, (got, want) in enumerate(zip(actual, expected, strict=True)):
        assert set(got) == set(want), f"row {number}: columns {sorted(got)} != {sorted(want)}"
        for column, value in want.items():
            if column == "Flake_Rate":
                assert abs(float(got[column]) - value) <= rate_places, (number, column, got, want)
            else:
                assert got[column] == value, (number, column, got[column], value, want)
