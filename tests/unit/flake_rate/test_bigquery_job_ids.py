"""Job ids derived from the run: a retry re-attaches (or reads the finished job), never re-runs.

A fake warehouse stands in for BigQuery here, answering like real BigQuery does (409 on a
duplicate id); tests/integration/test_flake_rate_sql.py runs the same path on the emulator.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from google.api_core.exceptions import Conflict, NotFound

from precinct.operators.bigquery import BigQueryAggregateOperator, job_id_for
from precinct.operators.tries import retry_series

SQL = "SELECT region, COUNT(*) AS n FROM `{dataset}.events` WHERE d >= @as_of GROUP BY region"


class Warehouse:
    """Jobs by id, like BigQuery: a second insert of the same id is a 409."""

    def __init__(self, race: bool = False):
        self.jobs: dict[str, SimpleNamespace] = {}
        self.race = race

    def get_job(self, job_id, location=None):
        if job_id not in self.jobs:
            raise NotFound(f"job {job_id}")
        return self.jobs[job_id]

    def query(self, sql, job_config=None, job_id=None, location=None, job_retry=None):
        if self.race:  # another try inserted it between our look-up and our insert
            self.race = False
            self.jobs[job_id] = SimpleNamespace(job_id=job_id, state="RUNNING",
                                                error_result=None, sql=sql)
        if job_id in self.jobs:
            raise Conflict(f"Already Exists: Job {job_id}")
        job = SimpleNamespace(job_id=job_id, state="RUNNING", error_result=None, sql=sql)
        self.jobs[job_id] = job
        return job


class _Op(BigQueryAggregateOperator):
    """The operator with its one query's configuration at hand."""

    def configuration(self, name: str = "counts") -> dict:
        return super().configuration(name)


def _operator():
    return _Op(
        task_id="query_warehouse", queries={"counts": SQL}, dataset="van_tx",
        query_params={"counts": {"as_of": ("DATE", "2026-10-14"), "unused": ("INT64", 1)}},
    )


def _base(op):
    return job_id_for("flake_rate_refresh", "query_warehouse_counts",
                      "scheduled__2026-10-14T12:00:00+00:00", op.configuration())


def test_configuration_binds_only_the_parameters_the_sql_uses():
    query = _operator().configuration()["query"]
    assert query["useLegacySql"] is False and query["parameterMode"] == "NAMED"
    assert [p["name"] for p in query["queryParameters"]] == ["as_of"]
    assert "`van_tx.events`" in query["query"]


def test_unbound_parameter_is_refused():
    op = _operator()
    op.query_params = {}
    with pytest.raises(Exception, match="unbound parameter"):
        op.configuration()


def test_job_id_is_the_same_for_every_try_and_safe():
    op = _operator()
    base = _base(op)
    assert base == _base(op)
    assert base.startswith(
        "airflow_flake_rate_refresh_query_warehouse_counts_scheduled__2026-10-14T")
    assert set(base) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
    other = job_id_for("flake_rate_refresh", "query_warehouse_counts", "manual__x",
                       op.configuration())
    assert other != base
    changed = _operator()
    changed.query_params = {"counts": {"as_of": ("DATE", "2026-10-15")}}
    assert job_id_for("flake_rate_refresh", "query_warehouse_counts",
                      "scheduled__2026-10-14T12:00:00+00:00", changed.configuration()) != base


def test_first_try_submits_one_job():
    op, warehouse = _operator(), Warehouse()
    _job, reattached = op._job(warehouse, _base(op), op.configuration())
    assert not reattached and list(warehouse.jobs) == [_base(op)]


@pytest.mark.parametrize("state", ["PENDING", "RUNNING", "DONE"])
def test_retry_reattaches_to_this_runs_job(state):
    op, warehouse = _operator(), Warehouse()
    first, _ = op._job(warehouse, _base(op), op.configuration())
    first.state = state
    again, reattached = op._job(warehouse, _base(op), op.configuration())
    assert reattached and again is first
    assert len(warehouse.jobs) == 1, "the query must not run twice"


def test_retry_after_a_failed_job_runs_a_new_one():
    op, warehouse = _operator(), Warehouse()
    first, _ = op._job(warehouse, _base(op), op.configuration())
    first.state, first.error_result = "DONE", {"message": "Resources exceeded"}
    second, reattached = op._job(warehouse, _base(op), op.configuration())
    assert not reattached and second.job_id == _base(op) + "_r1"
    second.state = "DONE"
    third, reattached = op._job(warehouse, _base(op), op.configuration())
    assert reattached and third is second and len(warehouse.jobs) == 2


def test_a_409_from_a_concurrent_insert_reattaches():
    op, warehouse = _operator(), Warehouse(race=True)
    job, reattached = op._job(warehouse, _base(op), op.configuration())
    assert reattached and job.job_id == _base(op) and len(warehouse.jobs) == 1


class CountingWarehouse(Warehouse):
    """The same warehouse, counting the job look-ups it answers (each a round trip)."""

    def __init__(self, race: bool = False):
        super().__init__(race)
        self.lookups = 0

    def get_job(self, job_id, location=None):
        self.lookups += 1
        return super().get_job(job_id, location)


def test_a_first_try_submits_without_a_look_up():
    op, warehouse = _operator(), CountingWarehouse()
    job, reattached = op._job(warehouse, _base(op), op.configuration(), look_up=False)
    assert not reattached and job.job_id == _base(op) and list(warehouse.jobs) == [_base(op)]
    assert warehouse.lookups == 0, "no job of this run can exist before its first try"


@pytest.mark.parametrize("state", ["RUNNING", "DONE"])
def test_a_first_try_whose_id_exists_reattaches_on_the_409(state):
    # The same run id again (a repeated `airflow dags test` of one date): BigQuery answers 409.
    op, warehouse = _operator(), CountingWarehouse()
    first, _ = op._job(warehouse, _base(op), op.configuration(), look_up=False)
    first.state = state
    again, reattached = op._job(warehouse, _base(op), op.configuration(), look_up=False)
    assert reattached and again is first and len(warehouse.jobs) == 1


def test_a_first_try_whose_id_failed_before_runs_the_next_id():
    op, warehouse = _operator(), CountingWarehouse()
    first, _ = op._job(warehouse, _base(op), op.configuration(), look_up=False)
    first.state, first.error_result = "DONE", {"message": "Resources exceeded"}
    second, reattached = op._job(warehouse, _base(op), op.configuration(), look_up=False)
    assert not reattached and second.job_id == _base(op) + "_r1"
    assert sorted(warehouse.jobs) == [_base(op), _base(op) + "_r1"]


@pytest.mark.parametrize(("max_tries", "series"), [
    (2, 0),  # the run's own task instance, retries=2: tries 1 to 3
    (5, 3),  # cleared after try 3: tries 4 to 6 are a new series
    (None, 0),  # no max_tries (run outside a task runner): the run's own
])
def test_retry_series_is_the_same_for_a_series_and_new_after_a_clear(max_tries, series):
    ti = SimpleNamespace(max_tries=max_tries) if max_tries is not None else SimpleNamespace()
    assert retry_series(ti, 2) == series
