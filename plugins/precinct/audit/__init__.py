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
    describe_schedule,
    due_times,
    frames,
    is_overdue,
    job_ids_from_definition,
    job_rows,
    last_due,
    mail_window,
    mails_its_window,
    new_failures,
    summarize_executions,
    workflow_row,
)

__all__ = [
    "JOB_COLUMNS", "WORKFLOW_COLUMNS", "Definition", "History", "JobInfo", "build",
    "describe_schedule", "due_times", "frames", "is_overdue", "job_ids_from_definition",
    "job_rows", "last_due", "mail_window", "mails_its_window", "new_failures",
    "summarize_executions", "workflow_row",
]
