"""A task's final failure sends exactly one scrubbed e-mail; its retry sends none."""

from __future__ import annotations

import re

from devstack import smtp
from tests.dags.dag_files import FIXTURE_DAGS_DIR
from tests.support import run_airflow

FAKE_SECRET = "hunter2-not-a-real-key"


def _probe(extra_env: dict[str, str] | None = None):
    smtp.clear()
    result = run_airflow(
        "dags", "test", "precinct_failure_probe",
        extra_env={"AIRFLOW__CORE__DAGS_FOLDER": str(FIXTURE_DAGS_DIR), **(extra_env or {})},
    )
    assert result.returncode != 0, "the probe DAG must fail"
    return result, smtp.messages()


def test_one_email_after_the_final_try(airflow_db):
    result, messages = _probe()
    assert "up_for_retry" in result.stdout + result.stderr, "the first try should be retried"
    assert len(messages) == 1, [m["Subject"] for m in messages]
    mail = messages[0]
    assert mail["Subject"] == "[precinct] precinct_failure_probe.fail_on_purpose failed"
    assert mail["To"] == "ops@precinct.test"
    body = mail.get_body().get_content()
    text = " ".join(re.sub(r"<[^>]+>", " ", body).split())
    assert "DAG precinct_failure_probe" in text
    assert "Task fail_on_purpose" in text
    assert re.search(r"Run id manual__\d{4}-\d\d-\d\dT", text)
    assert re.search(r"Logical date \d{4}-\d\d-\d\dT", text)
    assert "Try 2 of 2" in text
    assert "RuntimeError: injected failure: could not reach https://analyst:***@" in text
    assert "second line" not in text, "only the exception's first line is mailed"
    assert FAKE_SECRET not in body
    assert re.search(
        r"Log https?://\S+/dags/precinct_failure_probe/runs/\S+/tasks/fail_on_purpose", text
    )


def test_unset_recipients_log_a_warning_and_send_nothing(airflow_db):
    result, messages = _probe({"AIRFLOW_VAR_PRECINCT_ALERT_EMAILS": ""})
    assert messages == []
    output = result.stdout + result.stderr
    assert "Variable 'precinct_alert_emails' is unset or empty" in output
    assert "Failure e-mail could not be sent" not in output
