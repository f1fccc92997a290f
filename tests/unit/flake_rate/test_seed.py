"""The synthetic VAN sync behaves like a real one from day to day, so daily demo refreshes pass
their gates: a week's history does not depend on the day it is generated, and only the weeks
still being closed out move."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from devstack import seed_flake_rate as seed
from precinct.flake_rate import flake_rate_frame, run_gates, to_sheet
from tests.integration.flake_rate_expected import expected_flake_rate, saturday

TODAY = date(2026, 10, 14)


def _table(day: date):
    data = seed.generate(day)
    start = saturday(day) - timedelta(weeks=12)
    return flake_rate_frame(expected_flake_rate(
        data.tables, start_date=start, as_of=day, event_type_ids=seed.DEFAULT_EVENT_TYPE_IDS))


def test_every_status_region_and_unmapped_location_occur():
    data = seed.generate(TODAY)
    names = set(data.tables["event_signups_statuses"]["event_status_name"])
    assert {"Scheduled", "Completed", "No Show", "Cancelled", "Declined", "Confirmed",
            "Needs Ride"} <= names
    assert seed.UNMAPPED_LOCATION_ID in set(data.tables["events"]["location_id"])
    ids = data.tables["event_signups_statuses"]["event_signups_status_id"]
    assert ids.is_unique and data.tables["event_signups"]["event_signup_id"].is_unique
    changed = data.tables["event_signups_statuses"].groupby("event_signup_id").size()
    assert (changed >= 3).sum() > 100, "statuses change over time"


def test_a_week_has_the_same_events_whatever_day_it_is_generated():
    week = saturday(TODAY) - timedelta(weeks=6)

    def events(day):
        e = seed.generate(day).tables["events"]
        inside = (e["starts_at"] >= str(week)) & (e["starts_at"] < str(week + timedelta(days=7)))
        return e[inside & (e["event_id"] < 990000)].reset_index(drop=True)

    assert events(TODAY).equals(events(TODAY + timedelta(days=9)))


@pytest.mark.parametrize("days", [1, 3, 7])
def test_refreshing_later_passes_the_gates(days):
    last = to_sheet(_table(TODAY))
    later = TODAY + timedelta(days=days)
    report = run_gates(_table(later), last, tolerance=0.05, row_count_tolerance=0.10,
                       as_of=later)
    assert report.passed, report.summary()


def test_a_changed_sync_fails_the_closed_week_gate():
    last = to_sheet(_table(TODAY))
    other = seed.generate(TODAY, seed=seed.DEFAULT_SEED + 1)
    current = flake_rate_frame(expected_flake_rate(
        other.tables, start_date=saturday(TODAY) - timedelta(weeks=12), as_of=TODAY,
        event_type_ids=seed.DEFAULT_EVENT_TYPE_IDS))
    report = run_gates(current, last, tolerance=0.05, row_count_tolerance=0.10, as_of=TODAY)
    assert [f.gate for f in report.failures] == ["closed_weeks_stable"]
