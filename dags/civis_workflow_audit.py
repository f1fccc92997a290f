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
4. **mail_new_failures**: the workflows whose latest failure finished inside this run's data
   interval (the 30 minutes before its logical date) are e-mailed to `precinct_alert_emails`.
   Only a run whose logical date is a :00 or :30 tick mails (every scheduled run; Airflow
   holds one run per logical date): a manual run triggered between ticks overlaps the
   scheduled runs' intervals and mails nothing. So each failure is mailed once.

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
            "whose latest failure finished inside this run's data interval: the 30 minutes "
            "before its logical date. Only a run whose logical date is a :00 or :30 tick (every "
            "scheduled run) mails; a manual run triggered at another time mails nothing, since "
            "its interval overlaps the scheduled runs' intervals and they mail those failures. "
            "So each failure is mailed once.",
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
    def compute(collected: dict, data_interval_start=None, data_interval_end=None,
                logical_date=None) -> dict:
        from precinct.operators import audit

        return audit.compute_task(collected, data_interval_start, data_interval_end,
                                  logical_date)

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
