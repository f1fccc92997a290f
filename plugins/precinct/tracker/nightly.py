"""The nightly reset of the tracker database, in one PostgreSQL transaction (psycopg 3).

`run_night` stages the pulled sign-ups, backs up every shift, canvass group and note dated
before the day, clears them, upserts volunteers and locations, loads the day's active shifts and
recomputes each volunteer's next shift. All of it commits together or not at all: a failure at
any statement (or a dry run) leaves every table exactly as it was. Each step is one set-based
statement from include/sql/tracker/nightly.sql; only the staged rows travel, by COPY.

Connections must be in autocommit mode (`connect()` makes them so): the transactions here are
explicit, and a half-open implicit one would turn them into savepoints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import psycopg

from precinct.tracker.van_rows import (
    ACTIVE_STATUSES,
    CONFIRMED_STATUS,
    SKIP_REASONS,
    PullResult,
    StagedShift,
)

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql" / "tracker"
DAILY_TABLES = ("shift", "canvass_group", "note")
DOORS_TAB = "Doors knocked"
DOORS_HEADER = ("Day", "VAN ID", "Volunteer", "Region", "Canvass groups", "Doors knocked")
DOORS_KEY = ("Day", "VAN ID")
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.M)


class StaleDayError(RuntimeError):
    """The tracker is already on a later day: resetting it to an earlier one would lose work."""


@cache
def queries(path: Path = SQL_DIR / "nightly.sql") -> dict[str, str]:
    """The named statements of a SQL file (`-- name: x` headers), without trailing semicolons."""
    text = path.read_text()
    parts = _NAME.split(text)
    out = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = [ln for ln in body.strip().splitlines() if not ln.lstrip().startswith("--")]
        out[name] = "\n".join(lines).strip().rstrip(";").strip()
    return out


def connect(conninfo: str = "", **kwargs: Any) -> psycopg.Connection:
    """An autocommit connection (the transactions here are explicit)."""
    kwargs.setdefault("connect_timeout", 10)
    kwargs.setdefault("application_name", "precinct-shift_reset")
    return psycopg.connect(conninfo, autocommit=True, **kwargs)


def apply_schema(conn: psycopg.Connection) -> None:
    """Create whatever tracker table or index is missing (idempotent; never drops anything)."""
    _require_autocommit(conn)
    schema = (SQL_DIR / "schema.sql").read_text()
    with conn.transaction():
        # Two runs creating the same table at once would collide on the catalog: serialize.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('precinct.tracker.schema'))")
        conn.execute(schema)


def run_night(
    conn: psycopg.Connection,
    pull: PullResult,
    *,
    day: date,
    last_day: date,
    run_id: str,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Stage, back up and reset in ONE transaction; return the counts (no personal data).

    `pull` holds the sign-ups for day..last_day. With `dry_run` everything is computed and
    counted, then rolled back.
    """
    _require_autocommit(conn)
    if last_day < day:
        raise ValueError("last_day must not be before day")
    q = queries()
    params = _params(day, last_day)
    counts: dict[str, Any] = {"day": day.isoformat(), "last_day": last_day.isoformat(),
                              "dry_run": dry_run, **pull.counts()}
    with conn.transaction() as tx:
        _lock_and_check(conn, q, day)
        counts["sync_replaced"] = _rowcount(conn, q["clear_sync_window"], params)
        # Only the replaced days are staged: a row for another day would clobber that day.
        _copy_rows(conn, q["copy_sync"], (r for r in pull.rows if day <= r.shift_day <= last_day))
        counts.update(_backup_and_reset(conn, q, params))
        conn.execute(q["log_run"], {"run_id": run_id, "day": day, "dry_run": dry_run,
                                    "counts": json.dumps(counts)})
        if dry_run:
            raise psycopg.Rollback(tx)  # leaves the block quietly, everything undone
    return counts


def backup_and_reset(conn: psycopg.Connection, *, day: date, last_day: date) -> dict[str, Any]:
    """Back up and reset from what `sync_shift` already holds, in one transaction (no staging)."""
    _require_autocommit(conn)
    q = queries()
    with conn.transaction():
        _lock_and_check(conn, q, day)
        return _backup_and_reset(conn, q, _params(day, last_day))


def _params(day: date, last_day: date) -> dict[str, Any]:
    return {"day": day, "last_day": last_day, "active": list(ACTIVE_STATUSES),
            "confirmed": CONFIRMED_STATUS}


def _lock_and_check(conn: psycopg.Connection, q: Mapping[str, str], day: date) -> None:
    conn.execute(q["lock_run"])
    conn.execute(q["lock_daily_tables"])
    (tracker_day,) = conn.execute(q["tracker_day"]).fetchone()
    if tracker_day is not None and tracker_day > day:
        raise StaleDayError(
            f"the tracker is already on {tracker_day}; refusing to reset it to {day} "
            "(that would drop the later day's shifts). Nothing was changed."
        )


def _backup_and_reset(
    conn: psycopg.Connection, q: Mapping[str, str], params: Mapping[str, Any]
) -> dict[str, Any]:
    """The steps after staging, each one set-based statement. Runs inside the caller's tx."""
    counts: dict[str, Any] = {}
    backed_up = {t: _rowcount(conn, q[f"backup_{t}"], params) for t in DAILY_TABLES}
    cleared = {t: _rowcount(conn, q[f"clear_{t}"], params) for t in DAILY_TABLES}
    counts["backed_up"] = backed_up
    counts["backed_up_total"] = sum(backed_up.values())
    counts["cleared"] = cleared
    counts["locations_upserted"] = _rowcount(conn, q["upsert_locations"], params)
    counts["volunteers_upserted"] = _rowcount(conn, q["upsert_volunteers"], params)
    counts["dropped_from_day"] = _rowcount(conn, q["drop_gone_day_shifts"], params)
    _rowcount(conn, q["load_day_shifts"], params)
    (counts["loaded"],) = conn.execute(q["count_day_shifts"], params).fetchone()
    counts["next_shift_changes"] = _rowcount(conn, q["recompute_next_shifts"], params)
    with_next, confirmed = conn.execute(q["count_next_shifts"]).fetchone()
    counts["volunteers_with_next_shift"] = with_next
    counts["next_shifts_confirmed"] = confirmed
    return counts


def doors_knocked_rows(conn: psycopg.Connection, first_day: date,
                       last_day: date | None = None) -> list[dict[str, Any]]:
    """One row per day and volunteer for the returned canvass groups of `first_day` to
    `last_day` (default: `first_day` alone), keyed (Day, VAN ID)."""
    rows = conn.execute(queries()["doors_knocked"],
                        {"first_day": first_day, "last_day": last_day or first_day}).fetchall()
    return [
        {
            "Day": day.isoformat(),
            "VAN ID": int(van_id),
            "Volunteer": volunteer or "",
            "Region": region or "",
            "Canvass groups": int(groups),
            "Doors knocked": int(doors or 0),
        }
        for day, van_id, volunteer, region, groups, doors in rows
    ]


def last_run(conn: psycopg.Connection) -> dict[str, Any] | None:
    """The counts of the most recent committed (non-dry) run, or None."""
    row = conn.execute(
        "SELECT counts FROM shift_reset_log WHERE NOT dry_run "
        "ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None


def summary_line(counts: Mapping[str, Any]) -> str:
    """`pulled 812 sign-ups, backed up 0, loaded 140 shifts, skipped 3 (no location 2, ...)`."""
    by_reason = counts.get("skipped_by_reason") or {}
    order = [*SKIP_REASONS, *sorted(set(by_reason) - set(SKIP_REASONS))]  # jsonb reorders keys
    detail = ", ".join(f"{k.replace('_', ' ')} {by_reason[k]}" for k in order
                       if by_reason.get(k))
    line = (
        f"pulled {counts.get('pulled', 0)} sign-ups, backed up {counts.get('backed_up_total', 0)},"
        f" loaded {counts.get('loaded', 0)} shifts, skipped {counts.get('skipped', 0)}"
    )
    line += f" ({detail})" if detail else ""
    if counts.get("unknown_status"):
        line += f", unknown status {counts['unknown_status']}"
    return line


def _rowcount(conn: psycopg.Connection, sql: str, params: Mapping[str, Any]) -> int:
    cur = conn.execute(sql, params)
    return max(cur.rowcount, 0)


def _copy_rows(conn: psycopg.Connection, sql: str, rows: Iterable[StagedShift]) -> int:
    (pulled_at,) = conn.execute("SELECT now()").fetchone()
    n = 0
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for row in rows:
            copy.write_row((*row.as_tuple(), pulled_at))
            n += 1
    return n


def _require_autocommit(conn: psycopg.Connection) -> None:
    if not conn.autocommit:
        raise ValueError("use an autocommit connection (precinct.tracker.nightly.connect)")
