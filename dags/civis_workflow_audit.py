"""
### civis_workflow_audit: every scheduled Civis workflow and its jobs, to a Google Sheet

Every 30 minutes, for every scheduled (and each watched unscheduled) non-archived workflow in
Civis (`civis_default`):

1. **collect**: the spreadsheet id (the Param, else the Airflow Variable
   `civis_workflow_audit_spreadsheet_id`; neither set fails the run at once, before any Civis
   call), then the workflows list (paged), then only what the list lacks: each workflow's
   definition (skipped when unchanged since the previous audit) and latest executions (skipped
   for workflows that never ran); the jobs named in the definitions (parsed YAML) from the paged
   jobs list. The number of API calls is logged.
2. **compute**: per workflow status (succeeded, failed, running, never run, error), failure
   streak, last success, last start/finish/runtime, overdue (scheduled, and no run started
   within 15 minutes of when one was due), failing jobs, owner, schedule in words; per job its
   workflow, state, last run and first error line. A definition that does not parse or a job
   the key cannot read becomes a row with the error.
3. **write_tabs**: tabs `Workflows` and `Jobs` of the spreadsheet (`google_cloud_default`),
   failures first and highlighted, each replaced in one write (a failed write keeps the old tab).
4. **mail_new_failures**: each failure is mailed once, to `precinct_alert_emails`. The
   Variable `civis_workflow_audit_mailed_through` (ISO 8601, UTC) is the finish time up to
   which failures have been mailed; a run mails the workflows whose latest failure finished
   from it up to the run's end (its tick; a manual run's trigger time; never after collect
   read Civis), then moves it to that end, only once the e-mail went out, never backwards. So
   a tick that never ran is caught up by the next run (at most 24 hours back; the log says
   what was cut), a cleared task or run mails nothing again, and a manual run mails what no
   run has mailed yet. No mark yet: the 30 minutes before the end. E-mail off: nothing is
   sent and the mark still moves, so turning it on again does not mail old failures.

See the README, "Civis workflow audit".
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, Param
from airflow.sdk.definitions.decorators import task

from precinct.dag_defaults import default_args

with DAG(
    dag_id="civis_workflow_audit",
    schedule="*/30 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["civis", "audit", "sheets"],
    doc_md=__doc__,
    params={
        "watched_workflow_ids": Param(
            [],
            type="array",
            items={"type": "integer"},
            title="Watched unscheduled workflows",
            description="Ids of unscheduled Civis workflows to audit as well (scheduled ones "
            "are always audited).",
        ),
        "spreadsheet_id": Param(
            None,
            type=["null", "string"],
            minLength=1,
            title="Spreadsheet id",
            description="Google Sheets id whose 'Workflows' and 'Jobs' tabs the audit replaces. "
            "Empty: the Airflow Variable civis_workflow_audit_spreadsheet_id; neither set: the "
            "run fails.",
        ),
        "email_new_failures": Param(
            True,
            type="boolean",
            title="E-mail new failures",
            description="E-mail the operators (Variable precinct_alert_emails) the workflows "
            "whose latest failure no run has mailed yet: finished after the mark in the Variable "
            "civis_workflow_audit_mailed_through (at most 24 hours back) and before this run's "
            "end (its tick; a manual run's trigger time). Each failure is mailed once, by the "
            "first run that sees it. Off: nothing is sent, and the mark still moves, so "
            "turning it on again does not mail the failures of the time it was off.",
        ),
    },
):

    # Task bodies import the audit code (civis, pandas, gspread) when they run, not at parse time.
    # multiple_outputs=False: a `-> dict` task would also store each key as its own XCom (every
    # payload twice in the metadata DB), and collect's `definitions` key would overwrite the
    # definition cache it pushes under that key.
    @task(multiple_outputs=False)
    def collect(params=None, ti=None) -> dict:
        from precinct.operators import audit

        return audit.collect_task(params, ti)

    @task(multiple_outputs=False)
    def compute(collected: dict, data_interval_end=None) -> dict:
        from precinct.operators import audit

        return audit.compute_task(collected, data_interval_end)

    @task(multiple_outputs=False)
    def write_tabs(result: dict) -> dict:
        from precinct.operators import audit

        return audit.write_task(result, result["spreadsheet_id"])

    @task
    def mail_new_failures(result: dict, params=None) -> int:
        from precinct.operators import audit

        return audit.mail_task(result, bool(params["email_new_failures"]))

    result = compute(collect())
    write_tabs(result)
    mail_new_failures(result)
