"""Civis workflow audit: the pure computations (no Airflow import).

See the README, "Civis workflow audit".
"""

from precinct.audit.core import (
    JOB_COLUMNS,
    WORKFLOW_COLUMNS,
    Definition,
    History,
    JobInfo,
    MailWindow,
    advanced_mark,
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
    mail_candidates,
    mail_end,
    mail_window,
    summarize_executions,
    to_mail,
    workflow_row,
    workflow_summary,
)

__all__ = [
    "JOB_COLUMNS", "WORKFLOW_COLUMNS", "Definition", "History", "JobInfo", "MailWindow",
    "advanced_mark", "build", "definition_summary", "describe_schedule", "due_times", "frames",
    "history_from_summary", "history_summary", "is_overdue", "job_ids_from_definition",
    "job_rows", "job_summary", "last_due", "mail_candidates", "mail_end", "mail_window",
    "summarize_executions", "to_mail", "workflow_row", "workflow_summary",
]
