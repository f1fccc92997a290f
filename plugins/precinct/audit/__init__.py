"""Civis workflow audit: the pure computations (no Airflow import).

See the README, "Civis workflow audit".
"""

from precinct.audit.core import (
    JOB_COLUMNS,
    WORKFLOW_COLUMNS,
    Definition,
    History,
    JobInfo,
    build,
    definition_summary,
    describe_schedule,
    due_times,
    frames,
    history_from_summary,
    history_summary,
    is_overdue,
    job_ids_from_definition,
    job_rows,
    job_summary,
    last_due,
    mail_window,
    mails_its_window,
    new_failures,
    summarize_executions,
    workflow_row,
    workflow_summary,
)

__all__ = [
    "JOB_COLUMNS", "WORKFLOW_COLUMNS", "Definition", "History", "JobInfo", "build",
    "definition_summary", "describe_schedule", "due_times", "frames", "history_from_summary",
    "history_summary", "is_overdue", "job_ids_from_definition", "job_rows", "job_summary",
    "last_due", "mail_window", "mails_its_window", "new_failures", "summarize_executions",
    "workflow_row", "workflow_summary",
]
