"""Which day a run is for, in the campaign's timezone, from the run's logical date.

A run at 03:00 local on day D resets the tracker to day D. "Local" is the campaign timezone
(zoneinfo, so daylight-saving changes are exact): on the spring-forward night 03:00 CDT is
08:00 UTC, on the fall-back night 03:00 CST is 09:00 UTC, and both are day D. Nothing here
reads the clock: the only time that matters is the run's logical date, passed in.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "America/Chicago"
# Read once at import (a DAG-file parse), never per task: the schedule and the tasks must agree.
CAMPAIGN_TIMEZONE = os.environ.get("PRECINCT_CAMPAIGN_TIMEZONE") or DEFAULT_TIMEZONE


def zone(name: str | ZoneInfo | None = None) -> ZoneInfo:
    """The campaign timezone (raises ZoneInfoNotFoundError for a name zoneinfo does not know)."""
    if isinstance(name, ZoneInfo):
        return name
    return ZoneInfo(name or CAMPAIGN_TIMEZONE)


def campaign_day(logical_date: datetime, tz: str | ZoneInfo | None = None) -> date:
    """The tracker day a run with this logical date is for: its date in the campaign zone."""
    if logical_date.tzinfo is None or logical_date.utcoffset() is None:
        raise ValueError("logical_date must be timezone-aware (Airflow's are, in UTC)")
    return logical_date.astimezone(zone(tz)).date()


def resolve_day(
    param_day: str | date | None, logical_date: datetime | None, tz: str | ZoneInfo | None = None
) -> date:
    """The day param (YYYY-MM-DD) when given, else the logical date's day in the campaign zone."""
    if isinstance(param_day, date):
        return param_day
    if param_day not in (None, ""):
        try:
            return date.fromisoformat(str(param_day).strip())
        except ValueError as exc:
            raise ValueError(f"day must be YYYY-MM-DD, got {param_day!r}") from exc
    if logical_date is None:
        raise ValueError("no day given and the run has no logical date")
    return campaign_day(logical_date, tz)


def day_bounds(day: date, tz: str | ZoneInfo | None = None) -> tuple[datetime, datetime]:
    """[start, end) of a local calendar day, in UTC (23 h or 25 h apart on DST days).

    UTC on purpose: Python subtracts two datetimes of the same zone on the wall clock, which
    would make every local day 24 h long.
    """
    z = zone(tz)
    start = datetime.combine(day, time(0), z)
    end = datetime.combine(day + timedelta(days=1), time(0), z)
    return start.astimezone(UTC), end.astimezone(UTC)


def pull_window(day: date, look_ahead_days: int) -> tuple[date, date]:
    """First and last day (inclusive) whose sign-ups a run pulls."""
    if look_ahead_days < 0:
        raise ValueError("look_ahead_days must be >= 0")
    return day, day + timedelta(days=look_ahead_days)


def local_day(moment: datetime, tz: str | ZoneInfo | None = None) -> date:
    """The campaign-zone calendar date of an aware moment (a shift's start)."""
    return moment.astimezone(zone(tz)).date()
