"""`make demo` summary for shift_reset: what the run left in the tracker database and the sheet.

Register with `SUMMARIES["shift_reset"] = demo_shift_reset.summary` in devstack/demo.py.
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta

from devstack.core import REPO_ROOT, read_env_file
from devstack.postgres import dsn

if str(REPO_ROOT / "plugins") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "plugins"))


def _tracker_dsn() -> str:
    """The database `tracker_db` points at in devstack's env file (what the demo run used)."""
    raw = read_env_file().get("AIRFLOW_CONN_TRACKER_DB")
    if not raw:
        return dsn("tracker")
    conn = json.loads(raw)
    user = conn.get("login") or "postgres"
    return f"postgresql://{user}@{conn.get('host')}:{conn.get('port')}/{conn.get('schema')}"


def summary() -> str:
    """e.g. `pulled 812 sign-ups, backed up 0, loaded 140 shifts, skipped 3 (no location 2,
    no start 1), unknown status 12; doors knocked: 0 rows for 2026-11-23`."""
    import psycopg

    from precinct.tracker.nightly import DOORS_TAB, last_run, summary_line

    with psycopg.connect(_tracker_dsn(), connect_timeout=5) as conn:
        counts = last_run(conn)
        if counts is None:
            raise RuntimeError("no committed shift_reset run in the tracker database")
        day = date.fromisoformat(counts["day"])
        # Evidence over claims: what the tables hold now, not only what the run logged.
        (loaded,) = conn.execute("SELECT count(*) FROM shift WHERE shift_day = %s",
                                 (day,)).fetchone()
        (staged,) = conn.execute(
            "SELECT count(*) FROM sync_shift WHERE shift_day BETWEEN %s AND %s",
            (day, date.fromisoformat(counts["last_day"]))).fetchone()
    line = summary_line({**counts, "loaded": loaded})
    line += f"; {staged} staged for {counts['day']}..{counts['last_day']}"
    yesterday = (day - timedelta(days=1)).isoformat()
    try:
        from devstack import sheets

        values = sheets.tab_state(sheets.DEMO_SPREADSHEET_ID, DOORS_TAB)["values"]
        rows = [r for r in values[1:] if r and r[0] == yesterday]
        line += f"; doors knocked: {len(rows)} rows for {yesterday}"
    except Exception as exc:  # noqa: BLE001 - the tracker figures stand on their own
        line += f"; doors knocked: not read ({type(exc).__name__})"
    return line


if __name__ == "__main__":
    print(summary())
