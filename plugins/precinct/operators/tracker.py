"""The shift_reset DAG's tasks: VAN pull, one-transaction back-up and reset, doors-knocked export.

Each function is what one `@task` of dags/shift_reset.py runs. Connections and Variables are
read here, at run time; the logic lives in `precinct.tracker` (no Airflow) and is tested there.
What these functions log and return is counts only: no names, no VAN ids, no key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any

from precinct import connections, settings
from precinct.tracker import nightly
from precinct.tracker.dates import pull_window, resolve_day
from precinct.tracker.van_rows import PullResult, fill_names, nameless_van_ids, normalize

log = logging.getLogger(__name__)

DAG_ID = "shift_reset"
SPREADSHEET_PARAM = "doors_spreadsheet_id"
SPREADSHEET_VARIABLE = settings.variable_name(DAG_ID, SPREADSHEET_PARAM)
MAX_PERSON_LOOKUPS = 500  # people VAN sent without a name, looked up one call each


def tracker_connect(conn_id: str = connections.TRACKER_DB):
    """An autocommit psycopg 3 connection to the tracker database of an Airflow connection."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    kwargs: dict[str, Any] = {
        "host": conn.host or "localhost",
        "port": conn.port or 5432,
        "user": conn.login or None,
        "password": conn.password or None,
        "dbname": conn.schema or extra.get("dbname") or "tracker",
    }
    for key in ("sslmode", "sslrootcert", "options"):
        if extra.get(key):
            kwargs[key] = extra[key]
    return nightly.connect(**{k: v for k, v in kwargs.items() if v is not None})


def run_day(params: Mapping[str, Any], logical_date: datetime | None, tz: str) -> date:
    """The tracker day of this run: the `day` param, else the logical date in the campaign zone."""
    return resolve_day(params.get("day"), logical_date, tz)


def pull(
    hook: Any,
    first_day: date,
    last_day: date,
    event_type_ids: Iterable[int] | None,
    tz: str,
) -> PullResult:
    """Everything VAN has for first_day..last_day, normalized; no database write.

    Events are asked for with a day's margin on both sides (VAN filters on the event's start,
    sign-ups can start at other times); `normalize` keeps the sign-ups inside the days.
    """
    events = list(hook.get_events(
        event_type_ids=list(event_type_ids or []),
        starting_after=(first_day - timedelta(days=1)).isoformat(),
        starting_before=(last_day + timedelta(days=2)).isoformat(),
    ))
    signups = {e["eventId"]: list(hook.get_event_signups(e["eventId"]))
               for e in events if e.get("eventId") is not None}
    result = normalize(events, signups, first_day, last_day, tz)
    nameless = sorted(nameless_van_ids(result.rows))
    people = {van_id: hook.get_person(van_id) for van_id in nameless[:MAX_PERSON_LOOKUPS]}
    result.rows = fill_names(result.rows, people)
    log.info(
        "VAN: %d events, %d sign-ups, %d staged, %d skipped, %d person look-ups (%d API calls)",
        result.events, result.signups, len(result.rows), sum(result.skipped.values()),
        len(people), getattr(hook, "requests_made", -1),
    )
    return result


def apply_schema_task(tracker_conn_id: str = connections.TRACKER_DB) -> None:
    with tracker_connect(tracker_conn_id) as conn:
        nightly.apply_schema(conn)
    log.info("Tracker schema is in place")


def sync_and_reset_task(
    *,
    params: Mapping[str, Any],
    logical_date: datetime | None,
    run_id: str,
    tz: str,
    van_conn_id: str = connections.VAN,
    tracker_conn_id: str = connections.TRACKER_DB,
) -> dict[str, Any]:
    """Pull from VAN, then stage + back up + reset in one transaction; return the counts."""
    from precinct.hooks.van import VanHook

    day = run_day(params, logical_date, tz)
    first_day, last_day = pull_window(day, int(params.get("look_ahead_days", 7)))
    dry_run = bool(params.get("dry_run", False))
    log.info("Shift reset for %s (pulling %s..%s, zone %s, dry run %s)",
             day, first_day, last_day, tz, dry_run)
    hook = VanHook(van_conn_id)
    try:
        # All of VAN first: a VAN failure here leaves the database untouched.
        result = pull(hook, first_day, last_day, params.get("event_type_ids"), tz)
    finally:
        hook.close()
    with tracker_connect(tracker_conn_id) as conn:
        counts = nightly.run_night(
            conn, result, day=day, last_day=last_day, run_id=run_id, dry_run=dry_run
        )
    log.info("%s%s", "DRY RUN (rolled back): " if dry_run else "", nightly.summary_line(counts))
    log.info("Counts: %s", json.dumps(counts, sort_keys=True))
    return counts


# Nights a failed run may have skipped: their days are exported by the next good night.
DOORS_CATCH_UP_DAYS = 7


def export_doors_knocked_task(
    *,
    counts: Mapping[str, Any],
    params: Mapping[str, Any],
    tracker_conn_id: str = connections.TRACKER_DB,
    gcp_conn_id: str = connections.GOOGLE_CLOUD,
) -> dict[str, Any]:
    """Append the doors knocked per volunteer of the last `DOORS_CATCH_UP_DAYS` days to the
    `Doors knocked` tab, yesterday included. Rows whose (Day, VAN ID) the tab has are skipped,
    so a normal night appends yesterday only, and the night after a failed one (whose export
    never ran) appends the day it missed too."""
    last_day = date.fromisoformat(counts["day"]) - timedelta(days=1)
    first_day = last_day - timedelta(days=DOORS_CATCH_UP_DAYS - 1)
    dry_run = bool(params.get("dry_run", False))
    with tracker_connect(tracker_conn_id) as conn:
        rows = nightly.doors_knocked_rows(conn, first_day, last_day)
    yesterday = [r for r in rows if r["Day"] == last_day.isoformat()]
    out: dict[str, Any] = {"day": last_day.isoformat(), "volunteers": len(yesterday),
                           "doors": sum(r["Doors knocked"] for r in yesterday), "appended": 0}
    # Optional: neither the Param nor the Variable set means no export (logged), not a failure.
    spreadsheet_id = settings.optional(params.get(SPREADSHEET_PARAM), dag_id=DAG_ID,
                                       param=SPREADSHEET_PARAM)
    if dry_run or not spreadsheet_id:
        out["status"] = "dry run" if dry_run else "no spreadsheet configured"
        log.info("Doors knocked for %s: %d volunteers, %d doors; not exported (%s)",
                 last_day, out["volunteers"], out["doors"], out["status"])
        return out
    from precinct.hooks.sheets import SheetsHook

    out["appended"] = SheetsHook(gcp_conn_id).append_rows(
        spreadsheet_id, nightly.DOORS_TAB, rows,
        key_columns=list(nightly.DOORS_KEY), header=list(nightly.DOORS_HEADER),
    )
    out["status"] = "exported"
    log.info("Doors knocked for %s: %d volunteers, %d doors; %d new rows in %r (days %s to %s "
             "checked)", last_day, out["volunteers"], out["doors"], out["appended"],
             nightly.DOORS_TAB, first_day, last_day)
    return out

