"""VAN sign-ups -> staged rows: every sign-up is staged, skipped with a reason, or out of range."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from precinct.tracker.van_rows import (
    ACTIVE_STATUSES,
    fill_names,
    nameless_van_ids,
    normalize,
    parse_time,
)

TZ = "America/Chicago"
DAY = date(2026, 11, 1)  # the fall-back Sunday


def event(event_id=1, *, locations=(10,), shifts=None, start="2026-11-01T10:00:00-06:00"):
    shifts = shifts if shifts is not None else [
        {"eventShiftId": 100, "name": "Default Shift", "startTime": start,
         "endTime": "2026-11-01T13:00:00-06:00"},
    ]
    return {
        "eventId": event_id, "name": "Canvass", "startDate": start,
        "eventType": {"eventTypeId": 143850, "name": "Canvass"},
        "locations": [{"locationId": loc, "name": f"Office {loc}"} for loc in locations],
        "shifts": shifts, "districtFieldValue": "Lakefront",
    }


def signup(signup_id, *, van_id=500, status=("Confirmed", 11), shift=100, location=10,
           override=None, event_id=1, first="Ada", last="Lovelace"):
    return {
        "eventSignupId": signup_id,
        "person": None if van_id is None else {"vanId": van_id, "firstName": first,
                                               "lastName": last},
        "event": {"eventId": event_id},
        "shift": None if shift is None else {"eventShiftId": shift, "name": "Default Shift"},
        "role": {"roleId": 1, "name": "Canvasser"},
        "status": None if status is None else {"statusId": status[1], "name": status[0]},
        "location": None if location is None else {"locationId": location,
                                                   "name": f"Office {location}"},
        "startTimeOverride": override,
        "endTimeOverride": None,
    }


def run(events, signups, first=DAY, last=DAY):
    by_event: dict[int, list] = {}
    for s in signups:
        by_event.setdefault(s["event"]["eventId"], []).append(s)
    return normalize(events, by_event, first, last, TZ)


def test_a_good_signup_is_staged_with_its_shift_times():
    result = run([event()], [signup(1)])
    (row,) = result.rows
    assert row.van_id == 500 and row.event_signup_id == 1
    assert row.start_time == datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    assert row.end_time == datetime(2026, 11, 1, 19, 0, tzinfo=UTC)
    assert row.shift_day == DAY
    assert row.location_id == 10 and row.location_name == "Office 10"
    assert row.region == "Lakefront"
    assert row.status_name == "Confirmed" and row.active
    assert result.counts()["skipped"] == 0


def test_bad_signups_are_skipped_with_their_reason():
    events = [event(1, locations=(10, 11)), event(2, locations=())]
    result = run(events, [
        signup(1, van_id=None),                       # no person
        signup(2, location=None),                     # two locations, none chosen
        signup(3, shift=None),                        # no shift, no override
        signup(4, shift=999),                         # a shift the event does not have
        signup(5, override="not a time", shift=None),  # unreadable override
        signup(6, location=None, event_id=2),         # the event has no location at all
        signup(7),                                    # fine
    ])
    counts = result.counts()
    assert counts["skipped_by_reason"] == {"no_person": 1, "no_location": 2, "no_start": 3}
    assert counts["skipped"] == 6
    assert [r.event_signup_id for r in result.rows] == [7]
    assert counts["pulled"] == 7 and counts["fetched"] == 7


def test_the_only_location_of_an_event_stands_in_for_a_missing_one():
    result = run([event(locations=(42,))], [signup(1, location=None)])
    assert result.rows[0].location_id == 42
    assert result.rows[0].location_name == "Office 42"


def test_unknown_status_is_kept_as_is_and_not_active():
    result = run([event()], [signup(1, status=("Needs Ride", 57)), signup(2, status=None)])
    by_id = {r.event_signup_id: r for r in result.rows}
    assert by_id[1].status_name == "Needs Ride" and by_id[1].status_id == 57
    assert not by_id[1].active
    assert by_id[2].status_name is None and not by_id[2].active
    counts = result.counts()
    assert counts["unknown_status"] == 2
    assert counts["unknown_status_names"] == {"(none)": 1, "Needs Ride": 1}
    assert counts["skipped"] == 0


@pytest.mark.parametrize("status", ["Declined", "Cancelled", "Completed", "No Show", "Tentative"])
def test_known_inactive_statuses_are_staged_not_active(status):
    result = run([event()], [signup(1, status=(status, 3))])
    assert not result.rows[0].active
    assert result.counts()["unknown_status"] == 0


def test_active_statuses_are_the_five_the_field_uses():
    assert set(ACTIVE_STATUSES) == {"Invited", "Left Msg", "Confirmed", "Scheduled", "Sched-Web"}


def test_override_start_wins_and_the_day_follows_the_local_date():
    # 23:30 CST on the fall-back day is 05:30 UTC the next day: still Nov 1 locally.
    result = run([event()], [signup(1, override="2026-11-01T23:30:00-06:00")])
    assert result.rows[0].shift_day == DAY
    assert result.rows[0].start_time == datetime(2026, 11, 2, 5, 30, tzinfo=UTC)


def test_signups_outside_the_days_are_ignored_not_skipped():
    evening = event(2, start="2026-11-02T18:00:00-06:00", shifts=[
        {"eventShiftId": 200, "startTime": "2026-11-02T18:00:00-06:00"}])
    no_start_elsewhere = event(3, start="2026-11-03T18:00:00-06:00", shifts=[])
    result = run([event(), evening, no_start_elsewhere], [
        signup(1), signup(2, event_id=2, shift=200), signup(3, event_id=3, shift=None),
    ])
    counts = result.counts()
    assert [r.event_signup_id for r in result.rows] == [1]
    assert counts["outside_window"] == 2 and counts["skipped"] == 0
    assert counts["fetched"] == 3 and counts["pulled"] == 1


def test_a_repeated_signup_counts_once():
    result = run([event()], [signup(1, status=("Scheduled", 1)), signup(1)])
    assert len(result.rows) == 1 and result.rows[0].status_name == "Confirmed"
    assert result.counts()["duplicates"] == 1


def test_garbage_never_raises():
    events = [None, {"eventId": "x"}, {"eventId": 9, "shifts": "nope", "locations": [None]},
              event()]
    by_event = {9: [None, {}, {"eventSignupId": "abc", "person": {"vanId": 1}}],
                1: [signup(1), "junk"]}
    result = normalize(events, by_event, DAY, DAY, TZ)
    assert [r.event_signup_id for r in result.rows] == [1]
    assert result.counts()["skipped_by_reason"]["no_person"] == 4


def test_names_missing_in_the_signup_come_from_people():
    result = run([event()], [signup(1, first=None, last=None), signup(2, van_id=501)])
    assert nameless_van_ids(result.rows) == {500}
    rows = fill_names(result.rows, {500: {"vanId": 500, "firstName": "Grace",
                                          "lastName": "Hopper"}})
    names = {r.van_id: (r.first_name, r.last_name) for r in rows}
    assert names == {500: ("Grace", "Hopper"), 501: ("Ada", "Lovelace")}


def test_parse_time():
    assert parse_time("2026-03-08T03:00:00-05:00") == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert parse_time("2026-03-08T08:00:00Z") == datetime(2026, 3, 8, 8, 0, tzinfo=UTC)
    assert parse_time("2026-03-08T08:00:00") is None  # naive: its zone is unknown
    assert parse_time("") is None and parse_time(None) is None and parse_time(5) is None
