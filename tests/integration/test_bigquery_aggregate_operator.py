"""BigQueryAggregateOperator on the emulator, through the Google provider's BigQueryHook and the
devstack `google_cloud_default` connection: a retry re-attaches to its run's job and reads it
instead of running the query again; a failed job is replaced; raw rows never leave."""

from __future__ import annotations

import uuid
from datetime import date
from types import SimpleNamespace

import pytest
from google.api_core.exceptions import NotFound

from devstack import bigquery as bq_stack
from devstack import seed_flake_rate as seed
from precinct.operators.bigquery import BigQueryAggregateOperator, job_id_for

pytestmark = pytest.mark.integration

DATASET = "flake_operator_test"
SQL = ("SELECT COUNT(*) AS signups, COUNT(DISTINCT event_id) AS events "
       "FROM `{dataset}.event_signups` WHERE created_at < @before")
PARAMS = {"before": ("TIMESTAMP", "2030-01-01 00:00:00")}


@pytest.fixture(scope="module")
def client(devstack_env):
    client = bq_stack.client()
    client.delete_dataset(DATASET, delete_contents=True, not_found_ok=True)
    yield client
    client.delete_dataset(DATASET, delete_contents=True, not_found_ok=True)


def _context(run_id: str, try_number: int | None = None, max_tries: int | None = None):
    """What the operator reads from the task context (no try number: an unknown try)."""
    ti = SimpleNamespace(dag_id="flake_rate_refresh", task_id="query", run_id=run_id)
    if try_number is not None:
        ti.try_number = try_number
    if max_tries is not None:
        ti.max_tries = max_tries
    return {"ti": ti}


def _operator(**kwargs):
    return BigQueryAggregateOperator(task_id="query", queries={"counts": SQL}, dataset=DATASET,
                                     query_params={"counts": PARAMS}, **kwargs)


def test_failed_job_is_replaced_then_a_retry_reads_the_finished_job(client):
    # A run id of its own: the emulator keeps jobs for as long as it runs, and this run's jobs
    # from an earlier session would be re-attached to instead of failing.
    run_id = f"manual__2026-10-14T12:00:00+00:00_{uuid.uuid4().hex[:8]}"
    op = _operator()
    base = job_id_for("flake_rate_refresh", "query_counts", run_id, op.configuration("counts"))
    # Try 1: the sync has not landed yet, the query fails.
    with pytest.raises(Exception, match=r"(?i)not found|does not exist"):
        op.execute(_context(run_id))
    assert client.get_job(base).error_result
    # Try 2: the tables are there now; the failed id is spent, a new job runs.
    data = seed.generate(date(2026, 10, 14), signups=300)
    seed.load(client, DATASET, data)
    second = _operator().execute(_context(run_id))["counts"]
    assert second["job_id"] == base + "_r1" and second["reattached"] is False
    assert second["rows"] == [{"signups": len(data.tables["event_signups"]),
                               "events": data.tables["event_signups"]["event_id"].nunique()}]
    # Try 3 (the task failed after the query, say): same job, read again, not re-run.
    third = _operator().execute(_context(run_id))["counts"]
    assert third["job_id"] == base + "_r1" and third["reattached"] is True
    assert third["rows"] == second["rows"]
    with pytest.raises(NotFound):
        client.get_job(base + "_r2")


def test_only_aggregates_leave_the_warehouse(client):
    seed.load(client, DATASET, seed.generate(date(2026, 10, 14), signups=300))
    raw = BigQueryAggregateOperator(
        task_id="query", dataset=DATASET, max_rows=100,
        queries={"raw": "SELECT * FROM `{dataset}.event_signups_statuses`"},
    )
    with pytest.raises(Exception, match="only aggregates may leave the warehouse"):
        raw.execute(_context("manual__raw"))
    result = _operator().execute(_context("manual__aggregate"))["counts"]
    assert result["row_count"] == 1 and 0 < result["bytes_received"] < 5000


def test_two_queries_of_one_task_each_get_their_own_job(client):
    data = seed.generate(date(2026, 10, 14), signups=300)
    seed.load(client, DATASET, data)
    both = BigQueryAggregateOperator(
        task_id="query", dataset=DATASET,
        queries={"counts": SQL, "types": "SELECT COUNT(*) AS n FROM `{dataset}.event_types`"},
        query_params={"counts": PARAMS},
    ).execute(_context("manual__both"))
    assert both["types"]["rows"] == [{"n": 4}]
    assert both["counts"]["rows"][0]["signups"] == len(data.tables["event_signups"])
    assert both["types"]["job_id"] != both["counts"]["job_id"]


def test_a_first_try_submits_straight_away_and_the_retry_reads_its_job(client):
    data = seed.generate(date(2026, 10, 14), signups=300)
    seed.load(client, DATASET, data)
    run_id = "scheduled__2026-10-15T12:00:00+00:00"
    first = _operator().execute(_context(run_id, try_number=1))["counts"]
    assert first["reattached"] is False
    assert first["rows"][0]["signups"] == len(data.tables["event_signups"])
    # Try 2 (the task failed after the query): the job of try 1, read again, not re-run.
    retry = _operator().execute(_context(run_id, try_number=2))["counts"]
    assert retry["reattached"] is True and retry["job_id"] == first["job_id"]
    assert retry["rows"] == first["rows"]
    with pytest.raises(NotFound):
        client.get_job(first["job_id"] + "_r1")


def test_a_cleared_task_queries_afresh_and_its_retries_reattach(client):
    # A run id of its own (see above). The operator's default retries are 2 here.
    run_id = f"scheduled__2026-10-16T12:00:00+00:00_{uuid.uuid4().hex[:8]}"
    seed.load(client, DATASET, seed.generate(date(2026, 10, 14), signups=300))
    first = _operator(retries=2).execute(_context(run_id, 1, max_tries=2))["counts"]
    # The VAN sync lands more sign-ups; the operator clears the run's task after its 3rd try.
    newer = seed.generate(date(2026, 10, 14), signups=400)
    seed.load(client, DATASET, newer)
    cleared = _operator(retries=2).execute(_context(run_id, 4, max_tries=5))["counts"]
    assert cleared["reattached"] is False and cleared["job_id"] != first["job_id"]
    assert cleared["rows"][0]["signups"] == len(newer.tables["event_signups"])
    # A retry of the cleared series reads that series' job again.
    retry = _operator(retries=2).execute(_context(run_id, 5, max_tries=5))["counts"]
    assert retry["reattached"] is True and retry["job_id"] == cleared["job_id"]
