"""The tracker's day comes from the run's logical date in the campaign zone, DST nights included."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pendulum
import pytest
from airflow.timetables.base import DataInterval, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable

from precinct.tracker.dates import (
    campaign_day,
    day_bounds,
    local_day,
    pull_window,
    resolve_day,
)

CHICAGO = "America/Chicago"


def nightly_run_after(previous_utc: datetime) -> datetime:
    """When the DAG's schedule fires next after a run (logical date = trigger time)."""
    timetable = CronTriggerTimetable("0 3 * * *", timezone=CHICAGO)
    last = pendulum.instance(previous_utc)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(last, last),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info is not None
    return info.logical_date


@pytest.mark.parametrize(
    ("previous", "expected_utc", "expected_day"),
    [
        # Spring forward, Sunday 2026-03-08: 02:00 CST jumps to 03:00 CDT (UTC-5).
        (datetime(2026, 3, 7, 9, 0, tzinfo=UTC), datetime(2026, 3, 8, 8, 0, tzinfo=UTC),
         date(2026, 3, 8)),
        # The night after it: 03:00 CDT is 08:00 UTC again.
        (datetime(2026, 3, 8, 8, 0, tzinfo=UTC), datetime(2026, 3, 9, 8, 0, tzinfo=UTC),
         date(2026, 3, 9)),
        # Fall back, Sunday 2026-11-01: 01:00-02:00 CDT repeats as CST; 03:00 CST is 09:00 UTC.
        (datetime(2026, 10, 31, 8, 0, tzinfo=UTC), datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
         date(2026, 11, 1)),
        (datetime(2026, 11, 1, 9, 0, tzinfo=UTC), datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
         date(2026, 11, 2)),
    ],
)
def test_the_0300_run_on_dst_nights_resets_that_day(previous, expected_utc, expected_day):
    logical = nightly_run_after(previous)
    assert logical == expected_utc
    assert logical.astimezone(pendulum.timezone(CHICAGO)).hour == 3
    assert campaign_day(logical, CHICAGO) == expected_day


def test_a_naive_utc_date_would_be_wrong_in_the_evening():
    # 20:30 CST on Nov 24 is 02:30 UTC on Nov 25: the campaign's day is still the 24th.
    logical = datetime(2026, 11, 25, 2, 30, tzinfo=UTC)
    assert logical.date() == date(2026, 11, 25)
    assert campaign_day(logical, CHICAGO) == date(2026, 11, 24)


def test_other_campaign_zones():
    logical = datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert campaign_day(logical, "America/Los_Angeles") == date(2026, 3, 8)  # 00:00 PST
    assert campaign_day(logical, "Pacific/Honolulu") == date(2026, 3, 7)  # 22:00 HST


def test_naive_logical_dates_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        campaign_day(datetime(2026, 3, 8, 3, 0), CHICAGO)


def test_day_bounds_are_23_and_25_hours_on_dst_days():
    start, end = day_bounds(date(2026, 3, 8), CHICAGO)
    assert end - start == timedelta(hours=23)
    assert start.astimezone(UTC) == datetime(2026, 3, 8, 6, 0, tzinfo=UTC)
    start, end = day_bounds(date(2026, 11, 1), CHICAGO)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=25)
    start, end = day_bounds(date(2026, 11, 2), CHICAGO)
    assert (end.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=24)


def test_local_day_of_shift_starts_around_dst_changes():
    # 23:30 CST on Nov 1 (after fall-back) is 05:30 UTC on Nov 2.
    assert local_day(datetime(2026, 11, 2, 5, 30, tzinfo=UTC), CHICAGO) == date(2026, 11, 1)
    # 00:30 CST on Mar 8 (before spring-forward) is 06:30 UTC on Mar 8.
    assert local_day(datetime(2026, 3, 8, 6, 30, tzinfo=UTC), CHICAGO) == date(2026, 3, 8)
    # 23:30 CDT on Mar 8 is 04:30 UTC on Mar 9.
    assert local_day(datetime(2026, 3, 9, 4, 30, tzinfo=UTC), CHICAGO) == date(2026, 3, 8)


def test_resolve_day_prefers_the_param():
    logical = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert resolve_day(None, logical, CHICAGO) == date(2026, 11, 1)
    assert resolve_day("", logical, CHICAGO) == date(2026, 11, 1)
    assert resolve_day("2026-10-30", logical, CHICAGO) == date(2026, 10, 30)
    assert resolve_day(date(2026, 10, 29), None, CHICAGO) == date(2026, 10, 29)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        resolve_day("10/30/2026", logical, CHICAGO)
    with pytest.raises(ValueError, match="no logical date"):
        resolve_day(None, None, CHICAGO)


def test_pull_window():
    assert pull_window(date(2026, 11, 1), 7) == (date(2026, 11, 1), date(2026, 11, 8))
    assert pull_window(date(2026, 11, 1), 0) == (date(2026, 11, 1), date(2026, 11, 1))
    with pytest.raises(ValueError):
        pull_window(date(2026, 11, 1), -1)
