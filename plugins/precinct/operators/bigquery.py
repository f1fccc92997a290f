"""Run aggregate BigQuery queries and return their (small) results, re-attaching on retries.

`BigQueryAggregateOperator` runs standard-SQL queries through the Google provider's
`BigQueryHook` (credentials from the connection; in devstack the same hook reaches the
bqemulator stand-in through `BIGQUERY_EMULATOR_HOST`) with named query parameters, and returns
the result rows as its XCom. It is meant for aggregates: the rows are checked against
`max_rows` *before* any is downloaded, so a query that would ship raw rows out of the warehouse
fails instead. Several queries of one task are submitted together and run concurrently.

Job ids are explicit and derived from the run, not the try: `airflow_<dag>_<task>_<query
name>_<run id>_<hash of the job configuration>`, plus `_c<n>` once the task instance was
cleared (a clear queries afresh, its own retries re-attach; see `retry_series`). On the first
try of the task in its run (`try_number` 1) no job of this run can exist yet, so the jobs are
submitted straight away: a look-up would only cost a round trip per query (and real BigQuery's
409 on a duplicate id still leads to re-attaching, below). From the second try on, or when the
try is unknown, the operator looks the id up before submitting:

- no such job: submit it. If real BigQuery answers 409 (another try got there first), re-attach.
- the job is PENDING or RUNNING (a retry after a worker died mid-query): re-attach and wait.
- the job is DONE without error (the query ran, the task failed afterwards): re-attach and read
  its results (BigQuery keeps them for about a day) instead of running the query a second time.
- the job is DONE with an error: that attempt is spent, try `<id>_r1`, `<id>_r2`... the same way.

The same rules hold on the emulator, which never answers 409: the look-up does the work. The
provider's `BigQueryInsertJobOperator` was not enough here: with `force_rerun=False` it fails on
a DONE job instead of reading it, and it returns a job id, not the rows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from precinct import connections
from precinct.flake_rate.sql import parameters_used, query_parameters, render
from precinct.operators.tries import retry_series

MAX_ATTEMPT_IDS = 10
_JOB_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def job_id_for(dag_id: str, task_id: str, run_id: str, configuration: Mapping[str, Any]) -> str:
    """The run's job id: same for every try of the task in this run and this configuration."""
    digest = hashlib.md5(  # noqa: S324 - an id suffix, not security
        json.dumps(configuration, sort_keys=True).encode()
    ).hexdigest()[:12]
    base = _JOB_ID_UNSAFE.sub("_", f"airflow_{dag_id}_{task_id}_{run_id}")
    return f"{base[:1000]}_{digest}"


def _plain(value: Any) -> Any:
    """A result value as JSON-friendly Python (dates as ISO strings)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class BigQueryAggregateOperator(BaseOperator):
    """Run named aggregate queries with bound parameters; return `{name: {"rows": [...], ...}}`.

    All the queries' jobs are submitted before any result is awaited, so BigQuery runs them at
    the same time; one hook, client and token serve them all.

    :param queries: `{name: sql}`; each sql is a query or a `.sql` file found on the DAG's
        `template_searchpath`. Its `{dataset}` marker is replaced by `dataset` after strict
        validation (`precinct.flake_rate.sql.render`); every value must be a named `@parameter`.
    :param dataset: `dataset` or `project.dataset` holding the tables.
    :param query_params: `{name: {param: (type, value)}}` per query, types like `DATE` or
        `ARRAY<INT64>`. Only the parameters a query uses are sent.
    :param max_rows: refuse (before downloading) a result with more rows than this.
    :param gcp_conn_id: the Google Cloud connection.
    :param project_id: project the jobs run in (default: the connection's).
    :param location: BigQuery location of the jobs (default: the client's).
    """

    template_fields: Sequence[str] = ("queries", "dataset", "query_params", "project_id")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"queries": "json", "query_params": "json"}
    ui_color = "#e6f0ff"

    def __init__(
        self,
        *,
        queries: Mapping[str, str],
        dataset: str,
        query_params: Mapping[str, Mapping[str, Any]] | None = None,
        max_rows: int = 10_000,
        gcp_conn_id: str = connections.GOOGLE_CLOUD,
        project_id: str | None = None,
        location: str | None = None,
        result_timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.queries = queries
        self.dataset = dataset
        self.query_params = query_params or {}
        self.max_rows = max_rows
        self.gcp_conn_id = gcp_conn_id
        self.project_id = project_id
        self.location = location
        self.result_timeout = result_timeout

    def configuration(self, name: str) -> dict[str, Any]:
        """One query's job configuration (BigQuery REST shape): standard SQL, named parameters."""
        sql = render(self.queries[name], self.dataset)
        params = dict(self.query_params.get(name) or {})
        used = parameters_used(sql)
        missing = used - set(params)
        if missing:
            raise AirflowException(f"query {name!r} uses unbound parameter(s): {sorted(missing)}")
        bound = {k: v for k, v in params.items() if k in used}
        return {"query": {
            "query": sql,
            "useLegacySql": False,
            "parameterMode": "NAMED",
            "queryParameters": query_parameters(bound),
        }}

    def execute(self, context: Any) -> dict[str, dict[str, Any]]:
        from airflow.providers.google.cloud.hooks.bigquery import BigQueryHook

        configurations = {name: self.configuration(name) for name in self.queries}
        hook = BigQueryHook(gcp_conn_id=self.gcp_conn_id, location=self.location)
        project = self.project_id or hook.project_id
        client = hook.get_client(project_id=project, location=self.location)
        ti = context["ti"]
        # A first try has no earlier job of this run to find; any other try (or an unknown one)
        # looks its job ids up before submitting.
        look_up = getattr(ti, "try_number", None) != 1
        series = retry_series(ti, self.retries)
        run_key = f"{ti.run_id}_c{series}" if series else ti.run_id
        jobs = {}
        for name, configuration in configurations.items():  # submit all, then wait
            base = job_id_for(ti.dag_id, f"{ti.task_id}_{name}", run_key, configuration)
            jobs[name] = self._job(client, base, configuration, look_up=look_up)
        results = {}
        for name, (job, reattached) in jobs.items():
            result = run_and_fetch(job, max_rows=self.max_rows, timeout=self.result_timeout)
            result.update(job_id=job.job_id, reattached=reattached)
            self.log.info(
                "Query %s, job %s %s: %d aggregate rows, %d bytes received, %s bytes processed",
                name, job.job_id, "re-attached" if reattached else "ran", result["row_count"],
                result["bytes_received"], result["bytes_processed"],
            )
            results[name] = result
        return results

    def _job(self, client: Any, base: str, configuration: dict[str, Any], *,
             look_up: bool = True) -> tuple[Any, bool]:
        """The job to read: an existing one of this run, or a newly submitted one.

        `look_up=False` (a first try) submits the base id without looking it up first.
        """
        from google.api_core.exceptions import Conflict, NotFound
        from google.cloud.bigquery import QueryJobConfig

        for attempt in range(MAX_ATTEMPT_IDS):
            job_id = base if attempt == 0 else f"{base}_r{attempt}"
            job = None
            if look_up or attempt > 0:
                try:
                    job = client.get_job(job_id, location=self.location)
                except NotFound:
                    job = None
            if job is None:
                config = QueryJobConfig.from_api_repr(configuration)
                try:
                    job = client.query(
                        configuration["query"]["query"], job_config=config, job_id=job_id,
                        location=self.location, job_retry=None,
                    )
                    self.log.info("Submitted BigQuery job %s", job_id)
                    return job, False
                except Conflict:  # real BigQuery: this id exists already (another try)
                    job = client.get_job(job_id, location=self.location)
            if job.state == "DONE" and job.error_result:
                self.log.warning("BigQuery job %s of an earlier try failed (%s); trying a new "
                                 "job id", job_id, job.error_result.get("message"))
                continue
            self.log.info("Re-attaching to BigQuery job %s (state %s) instead of running the "
                          "query again", job_id, job.state)
            return job, True
        raise AirflowException(f"{MAX_ATTEMPT_IDS} BigQuery jobs of this run failed ({base}_r*)")


def run_and_fetch(job: Any, *, max_rows: int, timeout: float | None = None) -> dict[str, Any]:
    """Wait for a query job and download its rows, counting the bytes that come back.

    Shared with the benchmark, which runs the same SQL through a bare client for comparison.
    """
    counter = _ByteCounter(job._client)  # the job's own HTTP session
    with counter:
        rows_iter = job.result(timeout=timeout)
        total = rows_iter.total_rows or 0
        if total > max_rows:
            raise AirflowException(
                f"the query returned {total} rows, more than max_rows={max_rows}: only "
                "aggregates may leave the warehouse (refusing to download them)"
            )
        rows = [{key: _plain(value) for key, value in row.items()} for row in rows_iter]
    return {
        "rows": rows,
        "columns": [field.name for field in rows_iter.schema],
        "row_count": len(rows),
        "bytes_received": counter.bytes,
        "bytes_processed": job.total_bytes_processed,
    }


class _ByteCounter:
    """Counts the response bytes a client's HTTP session receives while active."""

    def __init__(self, client: Any) -> None:
        self.session = getattr(client, "_http", None)
        self.bytes = 0

    def _hook(self, response: Any, *_args: Any, **_kwargs: Any) -> Any:
        self.bytes += len(response.content or b"")
        return response

    def __enter__(self) -> _ByteCounter:
        if self.session is not None and hasattr(self.session, "hooks"):
            self.session.hooks.setdefault("response", []).append(self._hook)
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.session is not None and hasattr(self.session, "hooks"):
            hooks = self.session.hooks.get("response", [])
            if self._hook in hooks:
                hooks.remove(self._hook)
