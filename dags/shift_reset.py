"""
### shift_reset: nightly reset of the volunteer tracker from VAN

Every night at 03:00 in the campaign timezone (default America/Chicago; set
`PRECINCT_CAMPAIGN_TIMEZONE` in every Airflow component's environment to change it) the
tracker database (`tracker_db`) keeps yesterday's record and starts the new day with the shifts
scheduled in VAN (`van_default`).

1. **apply_schema**: create any missing tracker table (idempotent, nothing is dropped).
2. **sync_and_reset**: pull the events of the chosen types from the day to the look-ahead end
   and their sign-ups from VAN; then, in ONE database transaction, replace those days' rows in
   `sync_shift`, back up every shift, canvass group and note dated before the day, clear them,
   upsert volunteers and locations, load the day's active shifts (Invited, Left Msg, Confirmed,
   Scheduled, Sched-Web) and recompute each volunteer's next shift. Any failure, in VAN or in the
   database, leaves the tracker exactly as it was. A dry run computes and logs it all, then
   rolls back.
3. **export_doors_knocked**: doors knocked per volunteer for yesterday's returned canvass groups,
   appended to the `Doors knocked` tab (one row per day and VAN id, never twice).

The day is the run's logical date in the campaign timezone (a `day` param overrides it), so
the daylight-saving nights reset the right day. Logs and XComs hold counts only.
More (tables, reset SQL, tests): README, "shift_reset".
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronTriggerTimetable, Param
from airflow.sdk.definitions.decorators import task

from precinct.dag_defaults import default_args
from precinct.tracker.dates import CAMPAIGN_TIMEZONE

with DAG(
    dag_id="shift_reset",
    schedule=CronTriggerTimetable("0 3 * * *", timezone=CAMPAIGN_TIMEZONE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["van", "tracker", "field"],
    doc_md=__doc__,
    params={
        "day": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Day",
            description="The tracker day to reset to (YYYY-MM-DD). Empty: the run's logical "
            "date in the campaign timezone.",
        ),
        "event_type_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Event type ids",
            description="VAN event type ids whose sign-ups become shifts. Empty: every type.",
        ),
        "look_ahead_days": Param(
            7,
            type="integer",
            minimum=0,
            maximum=31,
            title="Look-ahead days",
            description="How many days after the day to pull, to find each volunteer's next "
            "shift.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Pull, compute and log everything, then roll back; export nothing.",
        ),
        "doors_spreadsheet_id": Param(
            None,
            type=["null", "string"],
            title="Doors knocked spreadsheet id",
            description="Google Sheets id for the 'Doors knocked' tab. Empty: the Airflow "
            "Variable shift_reset_doors_spreadsheet_id; neither set: no export.",
        ),
    },
):

    # The task bodies import the tracker code (psycopg, requests) when they run, not at parse time.
    @task
    def apply_schema() -> None:
        from precinct.operators import tracker

        tracker.apply_schema_task()

    @task(multiple_outputs=False)
    def sync_and_reset(params=None, logical_date=None, dag_run=None, run_id=None) -> dict:
        from precinct.operators import tracker

        when = logical_date or getattr(dag_run, "run_after", None)
        return tracker.sync_and_reset_task(
            params=params, logical_date=when, run_id=run_id, tz=CAMPAIGN_TIMEZONE
        )

    @task(multiple_outputs=False)
    def export_doors_knocked(counts: dict, params=None) -> dict:
        from precinct.operators import tracker

        return tracker.export_doors_knocked_task(counts=counts, params=params)

    counts = sync_and_reset()
    apply_schema() >> counts
    export_doors_knocked(counts)
