"""The failure e-mail policy every Precinct DAG shares.

Operators want one e-mail per real failure, with enough to act on (which task, which run, what
went wrong, where the log is) and nothing that leaks: the exception's first line is scrubbed of
secrets and no task data is included. Retries do not e-mail: the callback is attached per task
(`on_failure_callback`, via `precinct.dag_defaults`), which Airflow calls only after the last try.

Imports are deferred into the functions: every DAG file imports this module (through
`precinct.dag_defaults`) at parse time, and the dag-processor pays for each import on every parse.

The callback never raises: a broken mail setup must not hide the original failure, so problems
are logged as warnings instead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

log = logging.getLogger(__name__)

ALERT_EMAILS_VARIABLE = "precinct_alert_emails"
SMTP_CONN_ID = "smtp_default"
_EMAIL = r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$"


def alert_recipients() -> list[str]:
    """Addresses from the `precinct_alert_emails` Variable, read now (never at parse time)."""
    import re

    from airflow.sdk import Variable

    raw = Variable.get(ALERT_EMAILS_VARIABLE, default=None) or ""
    recipients, rejected = [], []
    for item in raw.split(","):
        address = item.strip()
        if address:
            (recipients if re.match(_EMAIL, address) else rejected).append(address)
    if rejected:
        log.warning(
            "Ignoring %d malformed address(es) in Variable %s", len(rejected), ALERT_EMAILS_VARIABLE
        )
    return recipients


def send_alert(subject: str, lines: Mapping[str, Any] | Iterable[str]) -> bool:
    """E-mail the operators. Returns False (and logs why) when no mail could be sent.

    `lines` is either label -> value pairs (rendered as a table) or plain lines of text; values
    are HTML-escaped, so nothing in them can inject markup.
    """
    recipients = alert_recipients()
    if not recipients:
        log.warning(
            "Alert not e-mailed: the Airflow Variable %r is unset or empty. Set it to a "
            "comma-separated list of operator addresses. Alert was: %s",
            ALERT_EMAILS_VARIABLE,
            subject,
        )
        return False
    body = _render(subject, lines)
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
        hook.send_email_smtp(to=recipients, subject=subject, html_content=body)
    log.info("Alert e-mailed to %d operator(s): %s", len(recipients), subject)
    return True


def failure_message(context: Mapping[str, Any]) -> tuple[str, dict[str, str]]:
    """Subject and fields of the failure e-mail for a task's final failure."""
    from precinct.scrub import first_line, scrub

    ti = context["ti"]
    exception = context.get("exception")
    task = context.get("task")
    # The task instance's max_tries grows when a task is cleared (try 4 of a cleared task with
    # 2 retries is "4 of 6", as in Airflow's own e-mails); the task's retries only as a fallback.
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(max_tries, int):
        retries = getattr(task, "retries", None)
        max_tries = retries if isinstance(retries, int) else 0
    max_tries += 1
    if exception is None:
        error = "(no exception recorded)"
    else:
        error = f"{type(exception).__name__}: {first_line(scrub(_airflow_redact(str(exception))))}"
    logical_date = context.get("logical_date")
    subject = f"[precinct] {ti.dag_id}.{ti.task_id} failed"
    fields = {
        "DAG": ti.dag_id,
        "Task": ti.task_id + (f" [map index {ti.map_index}]" if _mapped(ti) else ""),
        "Run id": str(ti.run_id),
        "Logical date": logical_date.isoformat() if logical_date else "(none: manual run)",
        "Try": f"{ti.try_number} of {max_tries}",
        "Error": error,
        "Log": _log_url(ti),
    }
    return subject, fields


def notify_failure(context: Mapping[str, Any]) -> None:
    """`on_failure_callback` for every Precinct task: one e-mail after the final try."""
    try:
        subject, fields = failure_message(context)
        send_alert(subject, fields)
    except Exception:
        log.warning("Failure e-mail could not be sent", exc_info=True)


def _render(subject: str, lines: Mapping[str, Any] | Iterable[str]) -> str:
    import html

    if isinstance(lines, Mapping):
        rows = "".join(
            f"<tr><th align='left'>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
            for k, v in lines.items()
        )
        content = f"<table>{rows}</table>"
    else:
        content = "".join(f"<p>{html.escape(str(line))}</p>" for line in lines)
    return f"<h3>{html.escape(subject)}</h3>{content}"


def _mapped(ti: Any) -> bool:
    index = getattr(ti, "map_index", -1)
    return isinstance(index, int) and index >= 0


def _log_url(ti: Any) -> str:
    try:
        return str(ti.log_url)
    except Exception:  # noqa: BLE001 - the URL is a convenience; the mail matters more
        return "(log URL unavailable)"


def _airflow_redact(text: str) -> str:
    """Mask the secrets Airflow has registered in this process (connection passwords, keys)."""
    try:
        from airflow.sdk._shared.secrets_masker import redact

        return str(redact(text))
    except Exception:  # noqa: BLE001 - masker internals moved: the regex scrub still applies
        return text
