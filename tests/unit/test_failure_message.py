"""The failure e-mail's fields, from the context Airflow hands the callback."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from precinct.notifications import failure_message


def _context(try_number: int, max_tries: int | None, retries: int = 2) -> dict:
    ti = SimpleNamespace(dag_id="shift_reset", task_id="sync_and_reset", run_id="scheduled__x",
                         map_index=-1, try_number=try_number, log_url=None)
    if max_tries is not None:
        ti.max_tries = max_tries
    return {"ti": ti, "task": SimpleNamespace(retries=retries),
            "exception": RuntimeError("VAN answered 503\nsecond line"),
            "logical_date": datetime(2026, 12, 1, 9, tzinfo=UTC)}


def test_final_try_of_a_first_series():
    subject, fields = failure_message(_context(try_number=3, max_tries=2))
    assert subject == "[precinct] shift_reset.sync_and_reset failed"
    assert fields["Try"] == "3 of 3"
    assert fields["Error"] == "RuntimeError: VAN answered 503"


def test_a_cleared_task_counts_its_tries_as_airflow_does():
    # Cleared after 3 failed tries: Airflow raises max_tries to 3 + 2 retries; the last is 6.
    assert failure_message(_context(try_number=6, max_tries=5))[1]["Try"] == "6 of 6"


def test_without_max_tries_the_task_retries_say_it():
    assert failure_message(_context(try_number=3, max_tries=None))[1]["Try"] == "3 of 3"
