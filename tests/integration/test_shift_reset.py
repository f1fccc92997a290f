"""The nightly shift reset against the devstack PostgreSQL and the VAN and Sheets stand-ins.

This module works in its own databases (`precinct_test_shift_reset`, and `..._dag` for the
whole-DAG run), so it never touches the `tracker` database the demo uses. Faults are injected
in the database (a trigger, a constraint) or in the VAN stand-in (429s), never by mocking.
"""

from __future__ import annotations

import dataclasses
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest

from devstack import sheets, van
from devstack.core import conn_json
from devstack.postgres import SERVICE as POSTGRES
from devstack.postgres import dsn
from precinct.hooks.van import VanApiError, VanHook
from precinct.operators import tracker as tasks
from precinct.tracker import nightly
from precinct.tracker.van_rows import ACTIVE_STATUSES
from tests.support import REPO, run_airflow

pytestmark = pytest.mark.integration

TZ = "America/Chicago"
ANCHOR = "2026-11-01"
DAY = date(2026, 11, 1)  # the fall-back Sunday
YESTERDAY = DAY - timedelta(days=1)
LOOK_AHEAD = 7
LAST_DAY = DAY + timedelta(days=LOOK_AHEAD)
SEEDED_TYPES = [143850, 143856, 143861, 143864]
DB = "precinct_test_shift_reset"
TABLES = ("volunteer", "location", "shift", "canvass_group", "note", "sync_shift",
          "backup_shift", "backup_canvass_group", "backup_note", "shift_reset_log")
# Volunteers the tracker already knew before tonight (from earlier nights).
KNOWN = [(900001, "Rosalind", "Thistlewood"), (900002, "Hamish", "Oyelaran"),
         (900003, "Dagny", "Quintanilla")]


def _recreate(name: str) -> str:
    with psycopg.connect(dsn(), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return dsn(name)


def _tracker_conn(database: str) -> str:
    return conn_json(conn_type="postgres", host="127.0.0.1", port=POSTGRES.port,
                     login="postgres", schema=database)


@pytest.fixture(scope="module")
def db_url(devstack_env):
    url = _recreate(DB)
    with nightly.connect(url) as conn:
        nightly.apply_schema(conn)
    yield url
    with psycopg.connect(dsn(), autocommit=True) as admin:
        for name in (DB, f"{DB}_dag"):
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def stand_in(devstack_env):
    van.admin("reseed", {"anchor": ANCHOR})
    van.admin("calls/reset", {})
    yield
    van.admin("calls/reset", {})
    van.admin("reseed", {})  # back to today's data for the demo and manual runs


@pytest.fixture(scope="module")
def pulled(stand_in):
    hook = VanHook()
    return tasks.pull(hook, DAY, LAST_DAY, SEEDED_TYPES, TZ)


@pytest.fixture
def conn(db_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_TRACKER_DB", _tracker_conn(DB))
    with nightly.connect(db_url) as c:
        c.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
        c.execute("DROP TRIGGER IF EXISTS injected_fault ON shift")
        c.execute("ALTER TABLE shift DROP CONSTRAINT IF EXISTS injected_fault")
        _seed_yesterday(c)
        yield c
        c.execute("DROP TRIGGER IF EXISTS injected_fault ON shift")
        c.execute("ALTER TABLE shift DROP CONSTRAINT IF EXISTS injected_fault")


def _seed_yesterday(c: psycopg.Connection) -> None:
    """Last night's tracker as organizers left it, plus a note already written for today."""
    c.execute("INSERT INTO location (location_id, name, region) VALUES (7001, 'Old Office', "
              "'Prairie')")
    for van_id, first, last in KNOWN:
        c.execute("INSERT INTO volunteer (van_id, first_name, last_name) VALUES (%s, %s, %s)",
                  (van_id, first, last))
    start = datetime(2026, 10, 31, 15, 0, tzinfo=UTC)
    for i, (van_id, _, _) in enumerate(KNOWN):
        c.execute(
            "INSERT INTO shift (shift_day, event_signup_id, van_id, event_id, status_name, "
            "location_id, region, start_time, same_day_confirmed, flake_chase) "
            "VALUES (%s, %s, %s, 1, 'Confirmed', 7001, 'Prairie', %s, %s, %s)",
            (YESTERDAY, 800 + i, van_id, start, i == 0, "texted twice" if i == 2 else None))
    groups = [("Group A", 900001, 10, True), ("Group B", 900001, 15, True),
              ("Group B", 900002, 7, True), ("Group C", 900003, 4, False)]
    for name, van_id, doors, returned in groups:
        c.execute(
            "INSERT INTO canvass_group (shift_day, group_name, van_id, location_id, turf, "
            "departed_at, returned_at, doors_knocked) VALUES (%s, %s, %s, 7001, 'Turf 9', %s, "
            "%s, %s)",
            (YESTERDAY, name, van_id, start, start + timedelta(hours=3) if returned else None,
             doors))
    c.execute("INSERT INTO note (shift_day, van_id, author, body) VALUES "
              "(%s, 900001, 'organizer', 'Brought three friends'), "
              "(%s, NULL, 'organizer', 'Staging location moved to the back lot'), "
              "(%s, 900002, 'organizer', 'Wants to captain tomorrow')",
              (YESTERDAY, YESTERDAY, DAY))


def snapshot(c: psycopg.Connection, *, skip: tuple[str, ...] = ()) -> dict[str, tuple]:
    """(row count, md5 of every row) per table."""
    out = {}
    for table in TABLES:
        if table in skip:
            continue
        rows = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
        sql = f"SELECT count(*), {rows} FROM {table} t"  # noqa: S608 - our own table names
        out[table] = c.execute(sql).fetchone()
    return out


def night(c, pull, *, day=DAY, last_day=LAST_DAY, dry_run=False):
    return nightly.run_night(c, pull, day=day, last_day=last_day,
                             run_id=f"test-{uuid.uuid4().hex[:8]}", dry_run=dry_run)


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# -- the pull ---------------------------------------------------------------------------------


def test_pull_pages_and_survives_429(pulled):
    counts = pulled.counts()
    assert counts["events"] > 200  # more than one page of events
    assert counts["staged"] > 1000
    van.admin("calls/reset", {})
    van.admin("throttle", {"count": 3, "retry_after": 2})
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps)
    again = tasks.pull(hook, DAY, LAST_DAY, SEEDED_TYPES, TZ)
    assert sleeps == [2.0, 2.0, 2.0]  # Retry-After honoured
    calls = van.admin("calls")
    assert calls["throttled"] == 3
    assert calls["GET /v4/events"] == 3 + -(-counts["events"] // 200)  # 3 refused + pages
    assert calls["max_top_requested"] <= 200
    # Big events' sign-ups took more than one page each.
    assert calls["GET /v4/signups"] > counts["events"]
    assert again.counts() == counts
    assert {r.event_signup_id for r in again.rows} == {r.event_signup_id for r in pulled.rows}


def test_pull_matches_what_van_lists(pulled):
    """Every sign-up of the window's events is accounted for: staged, skipped or out of range."""
    counts = pulled.counts()
    assert counts["fetched"] == (counts["staged"] + counts["skipped"]
                                 + counts["outside_window"] + counts["duplicates"])
    assert {r.shift_day for r in pulled.rows} == {DAY + timedelta(days=i)
                                                  for i in range(LOOK_AHEAD + 1)}
    assert counts["skipped"] > 0 and counts["unknown_status"] > 0  # the seed's flaws


# -- the nightly transaction ---------------------------------------------------------------


def test_night_backs_up_yesterday_and_loads_today(conn, pulled):
    before_notes_today = conn.execute("SELECT count(*) FROM note WHERE shift_day = %s",
                                      (DAY,)).fetchone()[0]
    counts = night(conn, pulled)
    assert counts["backed_up"] == {"shift": 3, "canvass_group": 4, "note": 2}
    assert counts["cleared"] == {"shift": 3, "canvass_group": 4, "note": 2}
    # Backed up exactly as they were, keyed by their day.
    backed = conn.execute("SELECT shift_day, event_signup_id, same_day_confirmed, flake_chase "
                          "FROM backup_shift ORDER BY event_signup_id").fetchall()
    assert backed == [(YESTERDAY, 800, True, None), (YESTERDAY, 801, False, None),
                      (YESTERDAY, 802, False, "texted twice")]
    assert conn.execute("SELECT sum(doors_knocked) FROM backup_canvass_group").fetchone() == (36,)
    # The daily tables hold nothing from before the day; today's note survived.
    for table in nightly.DAILY_TABLES:
        sql = f"SELECT count(*) FROM {table} WHERE shift_day < %s"  # noqa: S608 - constants
        assert conn.execute(sql, (DAY,)).fetchone() == (0,)
    assert conn.execute("SELECT count(*) FROM note WHERE shift_day = %s",
                        (DAY,)).fetchone() == (before_notes_today,)
    # The day's shifts are exactly the active sign-ups VAN has for the day.
    expected = {r.event_signup_id for r in pulled.rows
                if r.shift_day == DAY and r.status_name in ACTIVE_STATUSES}
    loaded = {r[0] for r in conn.execute("SELECT event_signup_id FROM shift").fetchall()}
    assert loaded == expected and counts["loaded"] == len(expected) > 100
    statuses = {r[0] for r in conn.execute("SELECT DISTINCT status_name FROM shift")}
    assert statuses <= set(ACTIVE_STATUSES)
    # Region comes from the location.
    assert conn.execute(
        "SELECT count(*) FROM shift s JOIN location l USING (location_id) "
        "WHERE s.region IS DISTINCT FROM l.region").fetchone() == (0,)
    # Next shift: the first active one after the day, per volunteer.
    next_by_van: dict[int, tuple] = {}
    for r in sorted(pulled.rows, key=lambda r: (r.start_time, r.event_signup_id)):
        if DAY < r.shift_day <= LAST_DAY and r.status_name in ACTIVE_STATUSES:
            next_by_van.setdefault(r.van_id, (r.shift_day, r.start_time,
                                              r.status_name == "Confirmed"))
    got = {v: (d, s, c) for v, d, s, c in conn.execute(
        "SELECT van_id, next_shift_day, next_shift_start, next_shift_confirmed FROM volunteer "
        "WHERE next_shift_day IS NOT NULL")}
    assert got == next_by_van
    assert counts["volunteers_with_next_shift"] == len(next_by_van)
    # Known volunteers without a shift keep their names and get no next shift.
    assert conn.execute("SELECT first_name, last_name, next_shift_day FROM volunteer "
                        "WHERE van_id = 900003").fetchone() == ("Dagny", "Quintanilla", None)
    assert conn.execute("SELECT count(*) FROM shift_reset_log").fetchone() == (1,)


def test_rerun_of_the_same_night_adds_and_changes_nothing(conn, pulled):
    first = night(conn, pulled)
    # An organizer confirms a volunteer for today between the two runs.
    signup_id = conn.execute("SELECT min(event_signup_id) FROM shift").fetchone()[0]
    conn.execute("UPDATE shift SET same_day_confirmed = true, flake_chase = 'called' "
                 "WHERE event_signup_id = %s", (signup_id,))
    before = snapshot(conn, skip=("sync_shift", "shift_reset_log"))
    sync_before = conn.execute("SELECT count(*) FROM sync_shift").fetchone()
    second = night(conn, pulled)
    assert second["backed_up_total"] == 0 and second["cleared"] == {
        "shift": 0, "canvass_group": 0, "note": 0}
    assert second["loaded"] == first["loaded"]
    assert second["volunteers_upserted"] == 0 and second["locations_upserted"] == 0
    assert second["next_shift_changes"] == 0
    assert snapshot(conn, skip=("sync_shift", "shift_reset_log")) == before
    assert conn.execute("SELECT count(*) FROM sync_shift").fetchone() == sync_before
    assert conn.execute("SELECT same_day_confirmed, flake_chase FROM shift "
                        "WHERE event_signup_id = %s", (signup_id,)).fetchone() == (True, "called")


def test_a_known_name_or_region_is_never_blanked(conn, pulled):
    row = next(r for r in pulled.rows if r.shift_day == DAY and r.status_name == "Confirmed")
    conn.execute("INSERT INTO volunteer (van_id, first_name, last_name) VALUES (%s, 'Known', "
                 "'Person') ON CONFLICT (van_id) DO UPDATE SET first_name = 'Known', "
                 "last_name = 'Person'", (row.van_id,))
    conn.execute("INSERT INTO location (location_id, name, region) VALUES (%s, 'Known Office', "
                 "'Known Region') ON CONFLICT (location_id) DO UPDATE SET name = 'Known Office', "
                 "region = 'Known Region'", (row.location_id,))
    blank = [dataclasses.replace(r, first_name=None, last_name=None, location_name=None,
                                 region=None)
             if r.van_id == row.van_id or r.location_id == row.location_id else r
             for r in pulled.rows]
    night(conn, dataclasses.replace(pulled, rows=blank))
    assert conn.execute("SELECT first_name, last_name FROM volunteer WHERE van_id = %s",
                        (row.van_id,)).fetchone() == ("Known", "Person")
    assert conn.execute("SELECT name, region FROM location WHERE location_id = %s",
                        (row.location_id,)).fetchone() == ("Known Office", "Known Region")
    assert conn.execute("SELECT region FROM shift WHERE event_signup_id = %s",
                        (row.event_signup_id,)).fetchone() == ("Known Region",)


def test_failure_between_backup_and_reset_leaves_the_tracker_unchanged(conn, pulled):
    before = snapshot(conn)
    # The clear of `shift` (the first step after the back-ups) fails, reporting what the
    # back-up had written by then, so we know where the failure hit.
    conn.execute("""
        CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'injected fault after backing up % shifts, % groups, % notes',
                (SELECT count(*) FROM backup_shift), (SELECT count(*) FROM backup_canvass_group),
                (SELECT count(*) FROM backup_note);
        END $$""")
    conn.execute("CREATE TRIGGER injected_fault BEFORE DELETE ON shift "
                 "FOR EACH STATEMENT EXECUTE FUNCTION injected_fault()")
    with pytest.raises(psycopg.errors.RaiseException,
                       match="after backing up 3 shifts, 4 groups, 2 notes"):
        night(conn, pulled)
    conn.execute("DROP TRIGGER injected_fault ON shift")
    assert snapshot(conn) == before


def test_failure_while_loading_leaves_the_tracker_unchanged(conn, pulled):
    before = snapshot(conn)
    conn.execute("ALTER TABLE shift ADD CONSTRAINT injected_fault "
                 "CHECK (shift_day <> DATE '2026-11-01') NOT VALID")
    with pytest.raises(psycopg.errors.CheckViolation):
        night(conn, pulled)
    conn.execute("ALTER TABLE shift DROP CONSTRAINT injected_fault")
    assert snapshot(conn) == before


def test_a_van_failure_during_the_pull_leaves_the_tracker_untouched(conn, stand_in,
                                                                    monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_VAN_TWO_TRIES", conn_json(
        conn_type="http", host=f"{van.SERVICE.url}/v4", login=van.APP_NAME,
        password=van.API_KEY, extra={"mode": 1, "max_attempts": 2}))
    before = snapshot(conn)
    params = {"day": DAY.isoformat(), "look_ahead_days": 1, "event_type_ids": SEEDED_TYPES}
    van.admin("throttle", {"count": 50, "retry_after": 1})
    try:
        with pytest.raises(VanApiError, match="failed after 2 attempts: HTTP 429"):
            tasks.sync_and_reset_task(params=params, logical_date=None, run_id="van-down",
                                      tz=TZ, van_conn_id="van_two_tries")
    finally:
        van.admin("calls/reset", {})  # also ends the throttling
    assert snapshot(conn) == before


def test_dry_run_computes_everything_and_changes_nothing(conn, pulled):
    before = snapshot(conn)
    counts = night(conn, pulled, dry_run=True)
    assert counts["dry_run"] is True
    assert counts["backed_up_total"] == 9 and counts["loaded"] > 100
    assert counts["volunteers_with_next_shift"] > 0
    assert snapshot(conn) == before


def test_an_older_day_is_refused_once_the_tracker_moved_on(conn, pulled):
    night(conn, pulled)
    before = snapshot(conn)
    with pytest.raises(nightly.StaleDayError, match="already on 2026-11-01"):
        night(conn, pulled, day=YESTERDAY, last_day=LAST_DAY)
    assert snapshot(conn) == before


# -- bad input --------------------------------------------------------------------------------


def test_bad_signups_are_skipped_with_reasons_and_unknown_status_is_not_active(conn, stand_in):
    type_id = 990_000 + int(time.time()) % 9999
    base = 980_000_000 + (int(time.time() * 1000) % 1_000_000) * 10
    two_locations = [{"locationId": 7101, "name": "North Hall"},
                     {"locationId": 7102, "name": "South Hall"}]
    shifts = [{"eventShiftId": 71, "name": "Morning", "startTime": "2026-11-01T10:00:00-06:00",
               "endTime": "2026-11-01T13:00:00-06:00"},
              {"eventShiftId": 72, "name": "Late", "startTime": "2026-11-01T23:30:00-06:00",
               "endTime": "2026-11-02T01:00:00-06:00"}]
    events = [
        {"eventId": base + 1, "name": "Fixture canvass", "startDate": shifts[0]["startTime"],
         "endDate": shifts[1]["endTime"], "eventType": {"eventTypeId": type_id, "name": "Fix"},
         "locations": two_locations, "shifts": shifts, "districtFieldValue": "Fixture Region"},
        {"eventId": base + 2, "name": "Fixture phones", "startDate": shifts[0]["startTime"],
         "endDate": shifts[0]["endTime"], "eventType": {"eventTypeId": type_id, "name": "Fix"},
         "locations": two_locations[:1], "shifts": shifts[:1],
         "districtFieldValue": "Fixture Region"},
    ]

    def signup(n, *, event=1, person=True, location=7101, shift=71, status=(11, "Confirmed")):
        return {
            "eventSignupId": base + 100 + n,
            "person": {"vanId": 970000 + n, "firstName": "Fixture", "lastName": f"V{n}"}
            if person else None,
            "event": {"eventId": base + event},
            "shift": {"eventShiftId": shift} if shift else None,
            "role": {"roleId": 1, "name": "Canvasser"},
            "status": {"statusId": status[0], "name": status[1]},
            "location": {"locationId": location, "name": "x"} if location else None,
            "startTimeOverride": None, "endTimeOverride": None,
        }

    signups = [
        signup(1),                                  # good, Confirmed
        signup(2, person=False),                    # no person
        signup(3, location=None),                   # two locations, none chosen
        signup(4, shift=None),                      # no start
        signup(5, status=(58, "Maybe Later")),      # unknown status: staged, not active
        signup(6, shift=72, status=(18, "Left Msg")),  # 23:30 CST on the fall-back day
        signup(7, event=2, location=None),          # the event's only location
        signup(8, status=(3, "Declined")),          # known, inactive
    ]
    van.admin("fixtures", {"mode": 1, "events": events, "signups": signups})
    pull = tasks.pull(VanHook(), DAY, DAY, [type_id], TZ)
    counts = pull.counts()
    assert counts["skipped_by_reason"] == {"no_person": 1, "no_location": 1, "no_start": 1}
    assert counts["unknown_status"] == 1
    assert counts["unknown_status_names"] == {"Maybe Later": 1}
    assert counts["staged"] == 5
    result = night(conn, pull, day=DAY, last_day=DAY)
    assert result["loaded"] == 3
    loaded = dict(conn.execute("SELECT event_signup_id - %s, location_id FROM shift",
                               (base + 100,)).fetchall())
    assert loaded == {1: 7101, 6: 7101, 7: 7101}
    staged = dict(conn.execute("SELECT event_signup_id - %s, status_name FROM sync_shift",
                               (base + 100,)).fetchall())
    assert staged == {1: "Confirmed", 5: "Maybe Later", 6: "Left Msg", 7: "Confirmed",
                      8: "Declined"}
    late = conn.execute("SELECT shift_day, start_time FROM shift WHERE event_signup_id = %s",
                        (base + 106,)).fetchone()
    assert late == (DAY, datetime(2026, 11, 2, 5, 30, tzinfo=UTC))
    assert conn.execute("SELECT region FROM location WHERE location_id = 7101").fetchone() == (
        "Fixture Region",)


# -- the doors-knocked export ---------------------------------------------------------------


def test_doors_knocked_export_is_idempotent_per_day_and_van_id(conn, pulled):
    counts = night(conn, pulled)
    spreadsheet = f"shift-reset-test-{uuid.uuid4().hex[:8]}"
    sheets.create_spreadsheet(spreadsheet, "Shift reset test")
    params = {"doors_spreadsheet_id": spreadsheet}
    dry = tasks.export_doors_knocked_task(counts=counts, params={**params, "dry_run": True})
    assert dry["appended"] == 0 and dry["status"] == "dry run" and dry["volunteers"] == 2
    first = tasks.export_doors_knocked_task(counts=counts, params=params)
    assert first == {"day": "2026-10-31", "volunteers": 2, "doors": 32, "appended": 2,
                     "status": "exported"}
    second = tasks.export_doors_knocked_task(counts=counts, params=params)
    assert second["appended"] == 0
    values = sheets.tab_state(spreadsheet, nightly.DOORS_TAB)["values"]
    assert values[0] == list(nightly.DOORS_HEADER)
    rows = {tuple(r[:2]): r for r in values[1:]}
    assert len(values) == 3 and set(rows) == {("2026-10-31", "900001"), ("2026-10-31", "900002")}
    assert rows[("2026-10-31", "900001")][2:] == ["Rosalind Thistlewood", "Prairie", "2", "25"]
    assert rows[("2026-10-31", "900002")][2:] == ["Hamish Oyelaran", "Prairie", "1", "7"]
    # The next night exports its own day beside it.
    conn.execute("INSERT INTO canvass_group (shift_day, group_name, van_id, location_id, "
                 "returned_at, doors_knocked) VALUES (%s, 'Group D', 900001, 7001, now(), 12)",
                 (DAY,))
    next_night = nightly.run_night(conn, pulled, day=DAY + timedelta(days=1), last_day=LAST_DAY,
                                   run_id="next-night")
    third = tasks.export_doors_knocked_task(counts=next_night, params=params)
    assert third["appended"] == 1
    values = sheets.tab_state(spreadsheet, nightly.DOORS_TAB)["values"]
    assert [r[:2] for r in values[1:]] == [["2026-10-31", "900001"], ["2026-10-31", "900002"],
                                          ["2026-11-01", "900001"]]


def test_a_night_whose_export_never_ran_is_caught_up_the_next_night(conn, pulled):
    night(conn, pulled)  # backs up 2026-10-31; say its export task failed for good
    conn.execute("INSERT INTO canvass_group (shift_day, group_name, van_id, location_id, "
                 "returned_at, doors_knocked) VALUES (%s, 'Group D', 900001, 7001, now(), 12)",
                 (DAY,))
    next_night = nightly.run_night(conn, pulled, day=DAY + timedelta(days=1), last_day=LAST_DAY,
                                   run_id="next-night")
    spreadsheet = f"shift-reset-test-{uuid.uuid4().hex[:8]}"
    sheets.create_spreadsheet(spreadsheet, "Shift reset test")
    out = tasks.export_doors_knocked_task(counts=next_night,
                                          params={"doors_spreadsheet_id": spreadsheet})
    assert out == {"day": "2026-11-01", "volunteers": 1, "doors": 12, "appended": 3,
                   "status": "exported"}
    values = sheets.tab_state(spreadsheet, nightly.DOORS_TAB)["values"]
    assert [r[:2] + r[-1:] for r in values[1:]] == [
        ["2026-10-31", "900001", "25"], ["2026-10-31", "900002", "7"],
        ["2026-11-01", "900001", "12"]]


# -- the whole DAG, once ------------------------------------------------------------------------


def test_the_dag_runs_once_and_its_logs_hold_no_key_and_no_volunteer_name(
    stand_in, airflow_db, db_url
):
    name = f"{DB}_dag"
    url = _recreate(name)
    with nightly.connect(url) as c:
        nightly.apply_schema(c)
        _seed_yesterday(c)
    spreadsheet = f"shift-reset-dag-{uuid.uuid4().hex[:8]}"
    sheets.create_spreadsheet(spreadsheet, "Shift reset DAG test")
    started = time.time()
    result = run_airflow(
        "dags", "test", "shift_reset", "-c",
        f'{{"day": "{DAY.isoformat()}", "look_ahead_days": {LOOK_AHEAD}}}',
        extra_env={
            "AIRFLOW_CONN_TRACKER_DB": _tracker_conn(name),
            "AIRFLOW_VAR_SHIFT_RESET_DOORS_SPREADSHEET_ID": spreadsheet,
        },
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "state=success" in output
    # What the run produced, read back from the tracker and the sheet.
    with nightly.connect(url) as c:
        loaded = c.execute("SELECT count(*) FROM shift WHERE shift_day = %s",
                           (DAY,)).fetchone()[0]
        counts = nightly.last_run(c)
        names = {n for row in c.execute("SELECT first_name, last_name FROM volunteer")
                 for n in row if n}
        full = {f"{f} {ln}" for f, ln in c.execute(
            "SELECT first_name, last_name FROM volunteer WHERE first_name IS NOT NULL "
            "AND last_name IS NOT NULL")}
    assert loaded > 100 and counts["loaded"] == loaded and counts["dry_run"] is False
    assert counts["backed_up_total"] == 9
    doors = sheets.tab_state(spreadsheet, nightly.DOORS_TAB)["values"]
    assert len(doors) == 3
    # The task logs: the run's output, plus any task log files written for it.
    logs = [output]
    log_dir = REPO / ".airflow" / "logs"
    for path in log_dir.rglob("*"):
        if path.is_file() and "shift_reset" in str(path) and path.stat().st_mtime >= started:
            logs.append(path.read_text(errors="replace"))
    text = "\n".join(logs)
    assert "Shift reset for 2026-11-01" in text and "Doors knocked for 2026-10-31" in text
    assert van.API_KEY not in text
    assert len(names) > 50
    leaked = sorted(n for n in names | full if re.search(rf"\b{re.escape(n)}\b", text))
    assert leaked == [], f"volunteer names in task logs: {leaked[:10]}"
