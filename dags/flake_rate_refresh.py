"""
### flake_rate_refresh: volunteer flake rate, warehouse to Google Sheets, behind quality gates

Every morning at 07:00 in the campaign timezone, the flake rate of volunteer shifts (of those
who signed up, how many did not show or cancelled) is computed in BigQuery from the state's
VAN-synced tables and published to the field dashboard's Google Sheet.

1. **settings**: check the params (an empty `dataset` or `spreadsheet_id` comes from the
   Airflow Variable `flake_rate_refresh_dataset` / `flake_rate_refresh_spreadsheet_id`, so
   scheduled runs use them; a missing or bad value fails at once, without retries); the run's
   date in the campaign timezone is "today".
2. **query_warehouse**: `include/sql/flake_rate.sql` (region x Saturday-to-Friday week, from
   the start date's week to the current one) and `flake_rate_upcoming.sql` (scheduled shifts in
   later weeks) run in BigQuery as two concurrent jobs with bound query parameters, under job
   ids derived from the run, so a retry re-attaches to its jobs instead of running the queries
   twice. Only the aggregated rows leave the warehouse.
3. **read_last_publish**: the `Flake rate` tab as the dashboard shows it now.
4. **check_gates**: not empty; one row per (region, week); rates within [0, 1]; closed weeks
   (ended at least the close-out days ago) keep their published totals within the tolerance;
   the row count stays within its tolerance of the last publish. A failed gate e-mails the
   operators once (which gate, and why) and skips publishing: the Sheet keeps the last good
   numbers.
5. **publish**: the `Flake rate` and `Upcoming` tabs are replaced together in one atomic write
   (2 Sheets calls for both), with a "Last refreshed" cell; the current week's row is
   highlighted. If the write fails, both tabs keep their previous content and highlights.

Connections: `google_cloud_default` (BigQuery and Sheets), `smtp_default` (the gate e-mail).
In devstack, BigQuery is the bqemulator stand-in with a synthetic dataset `van_demo`, which
devstack sets as the Variable `flake_rate_refresh_dataset` (and its spreadsheet as
`flake_rate_refresh_spreadsheet_id`).
More (checks, benchmark, tests): README, "Volunteer flake rate".
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from airflow.sdk import DAG, CronTriggerTimetable, Param
from airflow.sdk.definitions.decorators import task

from precinct.dag_defaults import default_args
from precinct.operators.bigquery import BigQueryAggregateOperator
from precinct.tracker.dates import CAMPAIGN_TIMEZONE

SQL_DIR = Path(__file__).resolve().parent.parent / "include" / "sql"
# Query name -> SQL file (the names key the task's XCom; see precinct.operators.flake_rate).
QUERIES = {"flake_rate": "flake_rate.sql", "upcoming": "flake_rate_upcoming.sql"}
# VAN event types: Canvass, Phone Bank, Voter Registration (not trainings).
DEFAULT_EVENT_TYPE_IDS = [143850, 143856, 143861]

with DAG(
    dag_id="flake_rate_refresh",
    schedule=CronTriggerTimetable("0 7 * * *", timezone=CAMPAIGN_TIMEZONE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["precinct", "field", "bigquery", "sheets"],
    doc_md=__doc__,
    template_searchpath=[str(SQL_DIR)],
    params={
        "dataset": Param(
            None,
            type=["null", "string"],
            pattern=r"^([a-z][a-z0-9-]{2,28}[a-z0-9]\.)?[A-Za-z0-9_]{1,1024}$",
            title="VAN dataset (state)",
            description="The BigQuery dataset holding the state's VAN sync and its "
            "location_regions mapping: `dataset` or `project.dataset` (e.g. `van_tx`). Empty: "
            "the Airflow Variable flake_rate_refresh_dataset; neither set: the run fails.",
        ),
        "event_type_ids": Param(
            DEFAULT_EVENT_TYPE_IDS,
            type="array",
            items={"type": "integer", "minimum": 1},
            minItems=1,
            title="Event type ids",
            description="VAN event type ids whose shifts count (default: Canvass, Phone Bank, "
            "Voter Registration).",
        ),
        "start_date": Param(
            None,
            type=["null", "string"],
            format="date",
            title="Start date",
            description="The first week reported is the Saturday-to-Friday week containing "
            "this date (YYYY-MM-DD). Empty: the 12 weeks before the current one.",
        ),
        "spreadsheet_id": Param(
            None,
            type=["null", "string"],
            minLength=1,
            title="Spreadsheet id",
            description="The Google Sheet behind the dashboard; its `Flake rate` and `Upcoming` "
            "tabs are replaced. Empty: the Airflow Variable flake_rate_refresh_spreadsheet_id; "
            "neither set: the run fails.",
        ),
        "tolerance": Param(
            0.05,
            type="number",
            minimum=0,
            maximum=1,
            title="Closed-week tolerance",
            description="How much a closed week's Total per region may move since the last "
            "publish (0.05 = 5%; moves of up to 2 sign-ups always pass). More fails the gate.",
        ),
        "closeout_days": Param(
            7,
            type="integer",
            minimum=0,
            maximum=60,
            title="Close-out days",
            description="A week counts as closed for the tolerance check once it ended this "
            "many days ago: organizers mark shifts Completed or No Show in the days after them.",
        ),
        "row_count_tolerance": Param(
            0.10,
            type="number",
            minimum=0,
            maximum=1,
            title="Row-count tolerance",
            description="How much the number of (region, week) rows over the weeks both cover "
            "may change since the last publish (0.10 = 10%).",
        ),
    },
) as dag:

    @task
    def settings(params: dict | None = None, **context) -> dict:
        """Checked params and the run's campaign-local date, as the queries' parameters."""
        from precinct.operators.flake_rate import settings_for_run

        return settings_for_run(params or {}, context)

    @task
    def read_last_publish(run: dict) -> list | None:
        """The `Flake rate` tab as published now (None before the first publish)."""
        from precinct.operators.flake_rate import read_published

        return read_published(run["spreadsheet_id"])

    @task.short_circuit
    def check_gates(results: dict, published: list | None, run: dict, **context) -> bool:
        """Quality gates; a failure e-mails the operators once and skips publishing."""
        from precinct.operators.flake_rate import check_gates as check

        return check(results, published, run, context)

    @task(multiple_outputs=False)
    def publish(results: dict, run: dict) -> dict:
        """Replace the `Flake rate` and `Upcoming` tabs, stamped "Last refreshed"."""
        from precinct.operators.flake_rate import publish as write

        return write(results, run)

    run = settings()
    warehouse = BigQueryAggregateOperator(
        task_id="query_warehouse",
        queries=QUERIES,
        dataset=run["dataset"],
        query_params=run["query_params"],
    )
    gates = check_gates(warehouse.output, read_last_publish(run), run)
    gates >> publish(warehouse.output, run)
