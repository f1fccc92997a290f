"""Benchmark: the nightly back-up and reset, set-based vs row by row, on the devstack PostgreSQL.

The tracker holds 200,000 shifts, 20,000 canvass-group rows and 100,000 notes from yesterday, and
`sync_shift` holds the next 8 days of VAN sign-ups (25,000 a day, 50,000 volunteers, 500
locations). Each run starts from an identical copy of that database (a template clone, not
timed) and times, including the commit:

- set-based: `precinct.tracker.nightly.backup_and_reset`, the statements the DAG runs (one
  transaction, one statement per step);
- row by row: the same steps in one transaction, one round trip per row (read the rows, then
  back up, delete, upsert and update each one with its own statement), as the field's old job
  did.

Both must end in the same tracker state (checked). Runs alternate, so both see the same machine
load; the figures are medians. Ends with one JSON line (DESIGN.md).

Usage: python benchmarks/shift_reset.py [--runs 5] [--row-runs 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

import psycopg  # noqa: E402

from devstack.postgres import SERVICE as POSTGRES  # noqa: E402
from devstack.postgres import dsn  # noqa: E402
from precinct.tracker import nightly  # noqa: E402
from precinct.tracker.van_rows import ACTIVE_STATUSES, CONFIRMED_STATUS  # noqa: E402

TEMPLATE = "precinct_bench_shift_reset_tpl"
RUN_DB = "precinct_bench_shift_reset_run"
DAY = date(2026, 11, 1)
LOOK_AHEAD = 7
LAST_DAY = DAY + timedelta(days=LOOK_AHEAD)
TARGET_SECONDS = 10.0
STATUSES = ["Scheduled", "Confirmed", "Invited", "Left Msg", "Sched-Web", "Declined",
            "Cancelled", "Completed"]


def admin() -> psycopg.Connection:
    return psycopg.connect(dsn(), autocommit=True)


def build_template(shifts: int, groups: int, notes: int, sync_per_day: int) -> None:
    volunteers, locations = 50_000, 500
    with admin() as a:
        a.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')
        a.execute(f'CREATE DATABASE "{TEMPLATE}"')
    with nightly.connect(dsn(TEMPLATE)) as c:
        nightly.apply_schema(c)
        p = {"day": DAY, "yesterday": DAY - timedelta(days=1), "shifts": shifts,
             "groups": groups, "notes": notes, "vols": volunteers, "locs": locations,
             "sync": sync_per_day, "days": LOOK_AHEAD + 1, "statuses": STATUSES}
        c.execute("""
            INSERT INTO location (location_id, name, region)
            SELECT i, 'Office ' || i, 'Region ' || (i %% 12)
            FROM generate_series(1, %(locs)s) i""", p)
        c.execute("""
            INSERT INTO volunteer (van_id, first_name, last_name)
            SELECT i, 'First' || i, 'Last' || i FROM generate_series(1, %(vols)s) i""", p)
        c.execute("""
            INSERT INTO shift (shift_day, event_signup_id, van_id, event_id, event_name,
                               event_type, event_shift_id, role_name, status_name,
                               location_id, region, start_time, end_time, same_day_confirmed,
                               flake_chase)
            SELECT %(yesterday)s, i, 1 + i %% %(vols)s, 1000 + i %% 3000, 'Canvass ' || i %% 3000,
                   'Canvass', 5000 + i %% 6000, 'Canvasser',
                   (%(statuses)s::text[])[1 + i %% 5], 1 + i %% %(locs)s, 'Region ' || (i %% 12),
                   %(yesterday)s::timestamptz + interval '15 hours' + (i %% 20) * interval '30 min',
                   %(yesterday)s::timestamptz + interval '18 hours' + (i %% 20) * interval '30 min',
                   i %% 3 = 0, CASE WHEN i %% 7 = 0 THEN 'texted' END
            FROM generate_series(1, %(shifts)s) i""", p)
        c.execute("""
            INSERT INTO canvass_group (shift_day, group_name, van_id, location_id, turf,
                                       departed_at, returned_at, doors_knocked)
            SELECT %(yesterday)s, 'Group ' || (i / 4), 1 + i %% %(vols)s, 1 + i %% %(locs)s,
                   'Turf ' || (i %% 400), %(yesterday)s::timestamptz + interval '15 hours',
                   CASE WHEN i %% 10 <> 0
                        THEN %(yesterday)s::timestamptz + interval '18 hours' END,
                   i %% 60
            FROM generate_series(1, %(groups)s) i""", p)
        c.execute("""
            INSERT INTO note (shift_day, van_id, author, body, created_at)
            SELECT %(yesterday)s, 1 + i %% %(vols)s, 'organizer ' || (i %% 40),
                   'Called back, confirmed for the afternoon shift; needs a ride ' || i,
                   %(yesterday)s::timestamptz + (i %% 1000) * interval '1 minute'
            FROM generate_series(1, %(notes)s) i""", p)
        c.execute("""
            INSERT INTO sync_shift (shift_day, event_signup_id, van_id, first_name, last_name,
                                    event_id, event_name, event_type_id, event_type,
                                    event_shift_id, role_name, status_id, status_name,
                                    location_id, location_name, region, start_time, end_time,
                                    pulled_at)
            SELECT d, 10000000 + n * %(sync)s + i, 1 + (i * 7 + n) %% %(vols)s,
                   'First' || (1 + (i * 7 + n) %% %(vols)s), NULL,
                   20000 + i %% 3000, 'Canvass ' || i %% 3000, 143850, 'Canvass',
                   30000 + i %% 6000, 'Canvasser', 1, (%(statuses)s::text[])[1 + i %% 8],
                   1 + i %% %(locs)s, 'Office ' || (1 + i %% %(locs)s), 'Region ' || (i %% 12),
                   d::timestamptz + interval '15 hours' + (i %% 20) * interval '30 min',
                   d::timestamptz + interval '18 hours' + (i %% 20) * interval '30 min', now()
            FROM generate_series(0, %(days)s - 1) n
            CROSS JOIN LATERAL (SELECT (%(day)s::date + n) AS d) dd
            CROSS JOIN generate_series(1, %(sync)s) i""", p)
        c.execute("VACUUM ANALYZE")


def clone() -> str:
    with admin() as a:
        a.execute(f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
        a.execute(f'CREATE DATABASE "{RUN_DB}" TEMPLATE "{TEMPLATE}"')
    return dsn(RUN_DB)


def set_based(url: str) -> float:
    with nightly.connect(url) as c:
        started = time.perf_counter()
        nightly.backup_and_reset(c, day=DAY, last_day=LAST_DAY)
        return time.perf_counter() - started


# The same steps, one round trip per row. Statements are the obvious per-row versions.
SHIFT_COLS = ("shift_day", "event_signup_id", "van_id", "event_id", "event_name", "event_type",
              "event_shift_id", "role_name", "status_name", "location_id", "region",
              "start_time", "end_time", "same_day_confirmed", "flake_chase", "checked_in_at",
              "loaded_at")
GROUP_COLS = ("shift_day", "canvass_group_id", "group_name", "van_id", "location_id", "turf",
              "departed_at", "returned_at", "doors_knocked")
NOTE_COLS = ("shift_day", "note_id", "van_id", "author", "body", "created_at")


def _backup_row_by_row(cur, table: str, cols: tuple[str, ...], key: tuple[str, ...]) -> None:
    names = ", ".join(cols)
    holes = ", ".join(["%s"] * len(cols))
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in cols if c not in key)
    insert = (f"INSERT INTO backup_{table} ({names}) VALUES ({holes}) "  # noqa: S608 - constants
              f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {updates}")
    delete = f"DELETE FROM {table} WHERE {' AND '.join(f'{k} = %s' for k in key)}"  # noqa: S608
    rows = cur.execute(f"SELECT {names} FROM {table} WHERE shift_day < %s",  # noqa: S608
                       (DAY,)).fetchall()
    positions = [cols.index(k) for k in key]
    for row in rows:
        cur.execute(insert, row)
    for row in rows:
        cur.execute(delete, [row[i] for i in positions])


def row_by_row(url: str) -> float:
    active = list(ACTIVE_STATUSES)
    with psycopg.connect(url) as c:  # one transaction, committed at the end of the block
        started = time.perf_counter()
        cur = c.cursor()
        cur.execute("SELECT pg_advisory_xact_lock(hashtext('precinct.shift_reset'))")
        cur.execute("LOCK TABLE shift, canvass_group, note IN EXCLUSIVE MODE")
        _backup_row_by_row(cur, "shift", SHIFT_COLS, ("shift_day", "event_signup_id"))
        _backup_row_by_row(cur, "canvass_group", GROUP_COLS, ("shift_day", "canvass_group_id"))
        _backup_row_by_row(cur, "note", NOTE_COLS, ("shift_day", "note_id"))
        sync = cur.execute(
            "SELECT shift_day, event_signup_id, van_id, first_name, last_name, event_id, "
            "event_name, event_type, event_shift_id, role_name, status_name, location_id, "
            "location_name, region, start_time, end_time FROM sync_shift "
            "WHERE shift_day BETWEEN %s AND %s "
            "ORDER BY (first_name IS NULL AND last_name IS NULL), start_time DESC, "
            "event_signup_id",
            (DAY, LAST_DAY)).fetchall()
        locations: dict[int, tuple] = {}
        volunteers: dict[int, tuple] = {}
        for r in sync:  # the name and location fields the set-based upserts would pick
            locations.setdefault(r[11], (r[12], r[13]))
            volunteers.setdefault(r[2], (r[3], r[4]))
        for location_id, (name, region) in locations.items():
            cur.execute(
                "INSERT INTO location AS l (location_id, name, region) VALUES (%s, %s, %s) "
                "ON CONFLICT (location_id) DO UPDATE SET name = COALESCE(EXCLUDED.name, l.name),"
                " region = COALESCE(EXCLUDED.region, l.region), updated_at = now()",
                (location_id, name, region))
        for van_id, (first, last) in volunteers.items():
            cur.execute(
                "INSERT INTO volunteer AS v (van_id, first_name, last_name) VALUES (%s, %s, %s) "
                "ON CONFLICT (van_id) DO UPDATE SET "
                "first_name = COALESCE(EXCLUDED.first_name, v.first_name), "
                "last_name = COALESCE(EXCLUDED.last_name, v.last_name), updated_at = now()",
                (van_id, first, last))
        today = [r for r in sync if r[0] == DAY and r[10] in active]
        for r in today:
            cur.execute(
                "INSERT INTO shift (shift_day, event_signup_id, van_id, event_id, event_name, "
                "event_type, event_shift_id, role_name, status_name, location_id, region, "
                "start_time, end_time) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                "(SELECT region FROM location WHERE location_id = %s), %s, %s) "
                "ON CONFLICT (shift_day, event_signup_id) DO NOTHING",
                (r[0], r[1], r[2], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[11], r[14],
                 r[15]))
        nxt: dict[int, tuple] = {}
        for r in sorted(sync, key=lambda r: (r[14], r[1])):
            if DAY < r[0] <= LAST_DAY and r[10] in active:
                nxt.setdefault(r[2], (r[0], r[14], r[10] == CONFIRMED_STATUS, r[1]))
        van_ids = [v for (v,) in cur.execute("SELECT van_id FROM volunteer").fetchall()]
        for van_id in van_ids:
            day, start, confirmed, signup = nxt.get(van_id, (None, None, None, None))
            cur.execute(
                "UPDATE volunteer SET next_shift_day = %s, next_shift_start = %s, "
                "next_shift_confirmed = %s, next_shift_event_signup_id = %s, "
                "updated_at = now() WHERE van_id = %s",
                (day, start, confirmed, signup, van_id))
        c.commit()
        return time.perf_counter() - started


def fingerprint(url: str) -> dict[str, tuple]:
    """What the reset produced, without the timestamps each implementation stamps itself."""
    checks = {
        "backup_shift": "SELECT count(*), sum(event_signup_id), count(flake_chase) "
                        "FROM backup_shift",
        "backup_canvass_group": "SELECT count(*), sum(doors_knocked) FROM backup_canvass_group",
        "backup_note": "SELECT count(*), sum(note_id) FROM backup_note",
        "daily": "SELECT (SELECT count(*) FROM canvass_group), (SELECT count(*) FROM note), "
                 "(SELECT count(*) FROM shift WHERE shift_day < '2026-11-01')",
        "shift": "SELECT count(*), sum(event_signup_id), count(DISTINCT region) FROM shift",
        "volunteer": "SELECT count(*), count(next_shift_day), count(*) FILTER "
                     "(WHERE next_shift_confirmed), sum(next_shift_event_signup_id), "
                     "count(first_name) FROM volunteer",
        "location": "SELECT count(*), count(region) FROM location",
    }
    with psycopg.connect(url) as c:
        return {k: tuple(c.execute(sql).fetchone()) for k, sql in checks.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="set-based runs")
    parser.add_argument("--row-runs", type=int, default=3, help="row-by-row runs")
    parser.add_argument("--scale", type=float, default=1.0, help="shrink the data (quick look)")
    args = parser.parse_args()
    if not POSTGRES.is_up():
        print("devstack PostgreSQL is not up: python -m devstack up postgres", file=sys.stderr)
        return 2
    shifts, groups, notes = (int(n * args.scale) for n in (200_000, 20_000, 100_000))
    sync_per_day = int(25_000 * args.scale)
    started = time.perf_counter()
    build_template(shifts, groups, notes, sync_per_day)
    print(f"built {shifts} shifts, {groups} canvass groups, {notes} notes, "
          f"{sync_per_day * (LOOK_AHEAD + 1)} staged sign-ups in "
          f"{time.perf_counter() - started:.1f} s", flush=True)

    set_times: list[float] = []
    row_times: list[float] = []
    prints: dict[str, dict] = {}
    for i in range(max(args.runs, args.row_runs)):
        if i < args.runs:
            url = clone()
            set_times.append(set_based(url))
            prints["set"] = fingerprint(url)
            print(f"set-based run {i + 1}: {set_times[-1]:.2f} s", flush=True)
        if i < args.row_runs:
            url = clone()
            row_times.append(row_by_row(url))
            prints["row"] = fingerprint(url)
            print(f"row-by-row run {i + 1}: {row_times[-1]:.2f} s", flush=True)
    with admin() as a:
        a.execute(f'DROP DATABASE IF EXISTS "{RUN_DB}" WITH (FORCE)')
        a.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}" WITH (FORCE)')

    same = prints.get("set") == prints.get("row") if args.row_runs else None
    if same is False:
        print(f"results differ:\n set {prints['set']}\n row {prints['row']}", file=sys.stderr)
    set_median = statistics.median(set_times)
    metrics: dict[str, object] = {
        "set_based_seconds": round(set_median, 3),
        "shifts": shifts,
        "canvass_groups": groups,
        "notes": notes,
        "staged_signups": sync_per_day * (LOOK_AHEAD + 1),
        "set_based_runs": len(set_times),
    }
    if row_times:
        row_median = statistics.median(row_times)
        metrics.update({
            "row_by_row_seconds": round(row_median, 3),
            "row_by_row_runs": len(row_times),
            "speedup_ratio": round(row_median / set_median, 1),
            "same_result": same,
        })
    met = set_median < TARGET_SECONDS and same is not False
    print(f"set-based median {set_median:.2f} s"
          + (f", row-by-row median {metrics['row_by_row_seconds']:.2f} s, "
             f"ratio {metrics['speedup_ratio']}x" if row_times else ""))
    print(json.dumps({"benchmark": "shift_reset", "metrics": metrics,
                      "targets": {"set_based_seconds": f"< {TARGET_SECONDS:g}"}, "met": met}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
