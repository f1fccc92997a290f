"""The audit's mail task when the mailed-through mark cannot be saved after the send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devstack import smtp
from precinct.audit import core
from precinct.operators import audit

pytestmark = pytest.mark.usefixtures("devstack_env")


def test_a_sent_mail_is_not_sent_again_when_the_mark_cannot_be_saved(capsys, caplog):
    """Outside a task runner Airflow's Variables can be read (no mark yet) but not written: the
    mail goes out once and the task does not fail (its retry would send it again)."""
    end = datetime.now(UTC).replace(microsecond=0)
    failure = {field: f"{field} value" for field in core.MAIL_FIELDS}
    failure.update(workflow="Nightly sync", workflow_id=42,
                   failed_at=core.iso_time(end - timedelta(minutes=5)))
    smtp.clear()
    sent = audit.mail_task({"mail": {"end": core.iso_time(end), "failures": [failure]}},
                           enabled=True)
    assert sent == 1
    [mail] = smtp.messages()
    assert mail["Subject"] == "Civis audit: workflow Nightly sync (42) failed"
    output = capsys.readouterr()
    # Through structlog's console or the logging handlers, depending on how logging is set up.
    assert "the mark could not be moved" in output.out + output.err + caplog.text
