"""Civis Platform hook on the official `civis` client, configured from one Airflow connection.

Connection (`civis_default` by default, type generic): **password** = the API key; **host** = the
API base URL (default `https://api.civisanalytics.com/`; the devstack stand-in, or another Civis
region, is just another URL). Optional extras: `max_retry_attempts` (default 10) and
`max_retry_seconds` (default 600) for the client's 429/5xx retries.

The client is built offline from the API spec bundled in the package
(`local_api_spec=civis.resources.API_SPEC_PATH`): no `/endpoints` call, no network at build
time. Its base URL has no constructor argument: `civis` reads `CIVIS_API_ENDPOINT` from the
environment when each endpoint object is constructed (`civis.base.Endpoint.__init__` ->
`get_base_url()`) and keeps it on the object. The hook therefore sets that variable only while
it builds the client, under a module-level lock, restores the previous value right after, and
then checks that every endpoint object captured the intended URL. Two hooks for different
connections building at the same time in one process cannot mix their URLs, and nothing else in
the process sees the variable changed for longer than the (sub-second) build. Generating the
client's classes costs ~0.6 s of CPU, so hooks in one process share one client per connection
(key, URL and retry settings).

Retries: the client retries 429 on every verb and 502/503/504 on GET/PUT/DELETE (503 on POST),
waiting at least Retry-After, with random exponential backoff (10 attempts / 600 s by default).
Where it does not retry, this hook adds backoff: dropped connections, timeouts and 500s on
idempotent reads; for POSTs (which start runs) only a connection that was never established is
retried, since a retried POST that had reached Civis would start a second run.

Secrets: the key is registered with Airflow's secrets masker, never stored in a log message or
an exception, and scrubbed from the message of every error the hook raises (`CivisHookError`,
whose cause chain is cut so the client's request object, which carries the Authorization
header, is not attached). `repr(hook)` shows the connection id and base URL only.

Runs: `start_run` / `get_run` / `cancel_run` / `wait_for_run` for `script` (any job, through
the generic `/jobs` endpoints), `sql`, `container`, `python3`, `custom`, `import` and
`workflow` (executions); enhancements (`create_enhancement`: Civis Data Match, CASS/NCOA) run
as `script` jobs. `aget_run` / `acancel_run` are the same calls over `httpx` for triggers, and
`aget` / `aget_page` / `alist` are plain async reads (one object, one page, every page) for
callers that read many things at once (the workflow audit): the `civis` client serialises every
request of the process through one class-level lock (`civis.base.Endpoint._lock`, held during
its Retry-After sleeps too), so many deferred tasks polling through it from one triggerer would
queue behind each other. The async reads retry as the synchronous ones do (500 included).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import BaseHook

from precinct.scrub import scrub

if TYPE_CHECKING:
    import civis
    import httpx

DEFAULT_BASE_URL = "https://api.civisanalytics.com/"
USER_AGENT = "precinct-airflow"
T = TypeVar("T")

# One build at a time: CIVIS_API_ENDPOINT is process-global while a client is being built.
_ENDPOINT_LOCK = threading.Lock()
# Built clients, per (key digest, URL, retry settings): generating the client's classes from the
# spec costs ~0.6 s of CPU, so hooks of one process share a client per connection.
_CLIENTS: dict[tuple[str, str, int, float], Any] = {}
_CLIENTS_LOCK = threading.Lock()  # one build per connection, others wait and share it
# One TLS context for every async client of the process: building one costs ~20 ms of CPU,
# which a triggerer starting 50 triggers would otherwise spend on its event loop.
_SSL_CONTEXT: Any = None

DONE_STATES = frozenset({"succeeded", "success", "failed", "cancelled"})
SUCCESS_STATES = frozenset({"succeeded", "success"})


class CivisHookError(RuntimeError):
    """A Civis API call failed. The message never contains the API key."""

    def __init__(self, message: str, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class CivisRunTimeout(CivisHookError):
    """A run was still going when the wait gave up."""


class CivisRunFailed(CivisHookError):
    """A Civis run ended failed or cancelled; `run` has Civis's own error message."""

    def __init__(self, run: CivisRun):
        super().__init__(run.describe_failure())
        self.run = run


@dataclass(frozen=True)
class JobType:
    """How to start, read and cancel runs of one kind of Civis job.

    Each call is (client resource, method name, HTTP verb, path template); the sync path calls
    the official client's generated method, the async path the same verb and path.
    """

    name: str
    start: tuple[str, str, str, str]
    get: tuple[str, str, str, str]
    cancel: tuple[str, str, str, str]
    runs: tuple[str, str, str, str]
    run_id_key: str = "id"


def _script_type(segment: str, name: str) -> JobType:
    method = segment
    return JobType(
        name=name,
        start=("scripts", f"post_{method}_runs", "POST", f"scripts/{segment}/{{id}}/runs"),
        get=("scripts", f"get_{method}_runs", "GET", f"scripts/{segment}/{{id}}/runs/{{run_id}}"),
        cancel=("scripts", f"delete_{method}_runs", "DELETE",
                f"scripts/{segment}/{{id}}/runs/{{run_id}}"),
        runs=("scripts", f"list_{method}_runs", "GET", f"scripts/{segment}/{{id}}/runs"),
    )


_JOBS_GET = ("jobs", "get_runs", "GET", "jobs/{id}/runs/{run_id}")
_JOBS_CANCEL = ("jobs", "delete_runs", "DELETE", "jobs/{id}/runs/{run_id}")
_JOBS_LIST = ("jobs", "list_runs", "GET", "jobs/{id}/runs")

JOB_TYPES: dict[str, JobType] = {
    t.name: t
    for t in (
        # Any job (script of any language, import, enhancement) through the generic endpoints,
        # as civis.utils.run_job does.
        JobType("script", ("jobs", "post_runs", "POST", "jobs/{id}/runs"), _JOBS_GET,
                _JOBS_CANCEL, _JOBS_LIST),
        _script_type("sql", "sql"),
        _script_type("containers", "container"),
        _script_type("python3", "python3"),
        _script_type("custom", "custom"),
        # Imports have no GET .../imports/{id}/runs/{run_id}: read and cancel via /jobs.
        JobType("import", ("imports", "post_runs", "POST", "imports/{id}/runs"), _JOBS_GET,
                _JOBS_CANCEL, ("imports", "list_runs", "GET", "imports/{id}/runs"),
                run_id_key="runId"),
        JobType(
            "workflow",
            ("workflows", "post_executions", "POST", "workflows/{id}/executions"),
            ("workflows", "get_executions", "GET", "workflows/{id}/executions/{run_id}"),
            ("workflows", "post_executions_cancel", "POST",
             "workflows/{id}/executions/{run_id}/cancel"),
            ("workflows", "list_executions", "GET", "workflows/{id}/executions"),
        ),
    )
}


# Enhancement kind -> (client method, API path) for `CivisHook.create_enhancement`.
ENHANCEMENTS: dict[str, tuple[str, str]] = {
    "civis_data_match": ("post_civis_data_match", "/enhancements/civis-data-match"),
    "cass_ncoa": ("post_cass_ncoa", "/enhancements/cass-ncoa"),
}

def job_type(name: str) -> JobType:
    try:
        return JOB_TYPES[name]
    except KeyError:
        raise ValueError(
            f"Unknown Civis job type {name!r}; expected one of {', '.join(JOB_TYPES)}"
        ) from None


@dataclass(frozen=True)
class CivisRun:
    """The state of one run (or workflow execution), as plain JSON-able values."""

    job_type: str
    job_id: int
    run_id: int
    state: str
    error: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def succeeded(self) -> bool:
        return self.state in SUCCESS_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CivisRun:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})

    @classmethod
    def from_api(cls, kind: str, job_id: int, data: dict[str, Any]) -> CivisRun:
        """From a run/execution JSON (camelCase or snake_case keys)."""

        def pick(*names: str) -> Any:
            for name in names:
                if data.get(name) is not None:
                    return data[name]
            return None

        state = str(pick("state") or "unknown")
        error = pick("error")
        if kind == "workflow" and state == "failed" and not error:
            error = pick("mistralStateInfo", "mistral_state_info")
        return cls(
            job_type=kind,
            job_id=int(job_id),
            run_id=int(pick("id", "runId", "run_id")),
            state=state,
            error=error,
            created_at=pick("createdAt", "created_at"),
            started_at=pick("startedAt", "started_at"),
            finished_at=pick("finishedAt", "finished_at"),
        )

    def describe_failure(self) -> str:
        what = "Workflow execution" if self.job_type == "workflow" else "Civis run"
        parent = "workflow" if self.job_type == "workflow" else f"{self.job_type} job"
        head = f"{what} {self.run_id} of {parent} {self.job_id} {self.state}"
        if self.error:
            return f"{head}: {self.error}"
        return f"{head} (Civis gave no error message)"


class CivisHook(BaseHook):
    """Talk to Civis Platform through the official client (see the module docstring)."""

    conn_name_attr = "civis_conn_id"
    default_conn_name = "civis_default"
    conn_type = "generic"
    hook_name = "Civis Platform"

    def __init__(self, civis_conn_id: str = default_conn_name, *, max_backoff: float = 30.0,
                 max_attempts: int = 5):
        super().__init__()
        self.civis_conn_id = civis_conn_id
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.api_calls = 0  # requests this hook made (pages included), for cost logging
        self._client: civis.APIClient | None = None
        self._async: _AsyncApi | None = None
        self._base_url: str | None = None
        self._key: str | None = None
        self._extra: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CivisHook(conn_id={self.civis_conn_id!r}, base_url={self._base_url!r})"

    # -- configuration ----------------------------------------------------------------------

    def _configure(self, conn: Any) -> None:
        key = conn.password or ""
        if not key:
            raise CivisHookError(
                f"Connection {self.civis_conn_id!r} has no API key (put it in the password)."
            )
        _mask(key)
        self._key = key
        self._base_url = base_url(conn.host, conn.schema)
        self._extra = dict(conn.extra_dejson or {})

    def _ensure_settings(self) -> None:
        if self._key is None:
            self._configure(self.get_connection(self.civis_conn_id))

    async def _aensure_settings(self) -> None:
        if self._key is None:
            self._configure(await self.aget_connection(self.civis_conn_id))

    @property
    def base_url(self) -> str:
        self._ensure_settings()
        assert self._base_url is not None
        return self._base_url

    def get_conn(self) -> civis.APIClient:
        """The `civis.APIClient` for this connection (built offline, once per process)."""
        with self._lock:
            if self._client is None:
                self._ensure_settings()
                attempts = int(self._extra.get("max_retry_attempts", 10))
                seconds = float(self._extra.get("max_retry_seconds", 600))
                digest = hashlib.sha256((self._key or "").encode()).hexdigest()
                cache_key = (digest, self.base_url, attempts, seconds)
                with _CLIENTS_LOCK:
                    client = _CLIENTS.get(cache_key)
                    if client is None:
                        client = build_client(self._key or "", self.base_url,
                                              _retrying(attempts, seconds))
                        _CLIENTS[cache_key] = client
                self._client = client
            return self._client

    def test_connection(self) -> tuple[bool, str]:
        try:
            me = self._call(lambda c: c.users.get_me(), idempotent=True)
        except CivisHookError as exc:
            return False, str(exc)
        return True, f"Connected to {self.base_url} as {me['username']}"

    # -- calling the client -----------------------------------------------------------------

    def _call(self, fn: Callable[[civis.APIClient], T], *, idempotent: bool,
              what: str = "Civis API call") -> T:
        """Run `fn(client)`: the client's own retries, plus backoff where it has none."""
        import requests
        from civis.base import CivisAPIError, CivisAPIKeyError

        client = self.get_conn()
        attempt = 0
        while True:
            attempt += 1
            self.api_calls += 1
            try:
                return fn(client)
            except CivisAPIKeyError:
                raise CivisHookError(
                    f"{what} refused: the API key of connection {self.civis_conn_id!r} is "
                    f"invalid or expired (401 from {self.base_url})", 401,
                ) from None
            except CivisAPIError as exc:
                status = exc.status_code
                retry = idempotent and status == 500
                if not retry or attempt >= self.max_attempts:
                    raise self._error(f"{what} failed: {exc}", status) from None
            except (requests.ConnectionError, requests.Timeout) as exc:
                retry = idempotent or _never_sent(exc)
                if not retry or attempt >= self.max_attempts:
                    raise self._error(
                        f"{what} failed: could not reach {self.base_url} "
                        f"({exc.__class__.__name__})"
                    ) from None
            delay = _backoff(attempt, self.max_backoff)
            self.log.warning("%s failed (attempt %d of %d); retrying in %.1fs", what, attempt,
                             self.max_attempts, delay)
            time.sleep(delay)

    def _error(self, message: str, status: int | None = None) -> CivisHookError:
        return CivisHookError(scrub(message, [self._key or ""]), status)

    def _invoke(self, spec: tuple[str, str, str, str], job_id: int, *args: Any,
                **kwargs: Any):
        resource, method, verb, path = spec
        run_id = args[0] if args else ""
        return self._call(
            lambda c: getattr(getattr(c, resource), method)(job_id, *args, **kwargs),
            idempotent=verb != "POST",
            what=f"{verb} /{path.format(id=job_id, run_id=run_id)}",
        )

    # -- runs -------------------------------------------------------------------------------

    def start_run(self, kind: str, job_id: int) -> CivisRun:
        """Start a run of a job (or an execution of a workflow) and return its first state."""
        jt = job_type(kind)
        data = self._invoke(jt.start, int(job_id))
        body = _json(data)
        run_id = body.get(jt.run_id_key) or body.get("id") or body.get("run_id")
        self.log.info("Started Civis %s %s run %s", kind, job_id, run_id)
        if "state" not in body:  # imports answer only {"runId": ...}
            return self.get_run(kind, job_id, int(run_id))
        return CivisRun.from_api(kind, int(job_id), body)

    def get_run(self, kind: str, job_id: int, run_id: int) -> CivisRun:
        jt = job_type(kind)
        return CivisRun.from_api(kind, job_id, _json(self._invoke(jt.get, int(job_id),
                                                                  int(run_id))))

    def list_runs(self, kind: str, job_id: int, limit: int = 20) -> list[CivisRun]:
        """The most recent runs (or executions), newest first."""
        jt = job_type(kind)
        data = self._invoke(jt.runs, int(job_id), limit=limit, order="id", order_dir="desc")
        return [CivisRun.from_api(kind, job_id, _json(item)) for item in data]

    def cancel_run(self, kind: str, job_id: int, run_id: int) -> None:
        """Ask Civis to cancel a run; a run that already finished is left as it is."""
        jt = job_type(kind)
        self._invoke(jt.cancel, int(job_id), int(run_id))
        self.log.info("Asked Civis to cancel %s %s run %s", kind, job_id, run_id)

    def wait_for_run(self, kind: str, job_id: int, run_id: int, *, poll_interval: float = 10.0,
                     timeout: float | None = None, poll_first: bool = True) -> CivisRun:
        """Poll until the run is done; return it (whatever its final state).

        `poll_first=False` waits one interval before the first poll (for a run just started,
        which is known to be queued: one call saved per run).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        if not poll_first:
            time.sleep(poll_interval if timeout is None else min(poll_interval, timeout))
        while True:
            run = self.get_run(kind, job_id, run_id)
            if run.done:
                return run
            if deadline is not None and time.monotonic() >= deadline:
                raise CivisRunTimeout(
                    f"Civis {kind} {job_id} run {run_id} still {run.state} after {timeout}s"
                )
            time.sleep(poll_interval)

    def run_outputs(self, kind: str, job_id: int, run_id: int) -> list[dict[str, Any]]:
        """A finished run's outputs (files, tables, JSON values)."""
        if kind == "workflow":
            return []
        data = self._call(lambda c: c.jobs.list_runs_outputs(int(job_id), int(run_id)),
                          idempotent=True, what=f"GET /jobs/{job_id}/runs/{run_id}/outputs")
        return [_json(item) for item in data]

    # -- enhancements (Data Match, CASS/NCOA) ----------------------------------------------

    def create_enhancement(self, kind: str, name: str, **fields: Any) -> int:
        """Create a `civis_data_match` or `cass_ncoa` enhancement job (not run yet); its id.

        `fields` are the client method's keyword arguments (snake_case). Not idempotent: every
        call is a new job in Civis, so the request is never retried once it may have reached
        Civis (callers note the id before starting it, see precinct.operators.enhancements).
        Start it with `start_run("script", job_id)`.
        """
        try:
            method, path = ENHANCEMENTS[kind]
        except KeyError:
            raise ValueError(f"Unknown Civis enhancement {kind!r}; expected one of "
                             f"{', '.join(ENHANCEMENTS)}") from None
        job = self._call(lambda c: getattr(c.enhancements, method)(name, **fields),
                         idempotent=False, what=f"POST {path}")
        job_id = int(_json(job)["id"])
        self.log.info("Created Civis %s enhancement %s", kind, job_id)
        return job_id

    def list_match_targets(self) -> list[dict[str, Any]]:
        """The Data Match targets the key can see (`GET /match_targets`): `id`, `name`,
        `target_file_name`, `archived`, ..."""
        data = self._call(lambda c: c.match_targets.list(), idempotent=True,
                          what="GET /match_targets")
        return [_json(item) for item in data]

    # -- SQL --------------------------------------------------------------------------------

    def list_databases(self) -> list[dict[str, Any]]:
        """The databases the key can use (`GET /databases`, one unpaged list): `id`, `name`,
        `adapter`, `databaseName`, ..."""
        data = self._call(lambda c: c.databases.list(), idempotent=True, what="GET /databases")
        return [_json(item) for item in data]

    def database_id(self, database: str | int) -> int:
        """A database's id from its name (ids pass through)."""
        if isinstance(database, int) or str(database).isdigit():
            return int(database)
        dbs = self.list_databases()
        for db in dbs:
            if db["name"] == database:
                return int(db["id"])
        names = ", ".join(sorted(str(db["name"]) for db in dbs)) or "none"
        raise CivisHookError(f"Civis database {database!r} not found (the key sees: {names})")

    def default_credential_id(self) -> int:
        creds = self._call(
            lambda c: c.credentials.list(default=True, type="Database"),
            idempotent=True, what="GET /credentials",
        )
        if not creds:
            raise CivisHookError("The API key's user has no default database credential")
        return int(creds[0]["id"])

    def create_sql_script(self, sql: str, database: str | int, *, name: str,
                          credential_id: int | None = None, csv_settings: dict | None = None,
                          hidden: bool = True) -> int:
        """Create a SQL script (not run yet) and return its id."""
        remote_host_id = self.database_id(database)
        credential_id = credential_id or self.default_credential_id()
        script = self._call(
            lambda c: c.scripts.post_sql(
                name, remote_host_id=remote_host_id, credential_id=credential_id, sql=sql,
                hidden=hidden, csv_settings=csv_settings or {"compression": "gzip"},
            ),
            idempotent=False, what="POST /scripts/sql",
        )
        return int(script["id"])

    def start_sql(self, sql: str, database: str | int, *, name: str = "Precinct query",
                  credential_id: int | None = None, csv_settings: dict | None = None
                  ) -> CivisRun:
        """Create a SQL script for `sql` on `database` (by name) and start it."""
        script_id = self.create_sql_script(sql, database, name=name,
                                           credential_id=credential_id,
                                           csv_settings=csv_settings)
        return self.start_run("sql", script_id)

    def run_sql(self, sql: str, database: str | int, *, name: str = "Precinct query",
                poll_interval: float = 5.0, timeout: float | None = None) -> CivisRun:
        """Run SQL and wait; raise `CivisRunFailed` with Civis's message if it fails."""
        started = self.start_sql(sql, database, name=name)
        run = self.wait_for_run("sql", started.job_id, started.run_id,
                                poll_interval=poll_interval, timeout=timeout)
        if not run.succeeded:
            raise CivisRunFailed(run)
        return run

    def read_sql(self, sql: str, database: str | int, *, return_as: str = "list",
                 polling_interval: float | None = None, **kwargs: Any) -> Any:
        """Run a query and return its result (`civis.io.read_civis_sql`): rows or a DataFrame."""
        import civis
        from civis.base import CivisJobFailure

        database_id = self.database_id(database)
        try:
            return self._call(
                lambda c: civis.io.read_civis_sql(
                    sql, database_id, client=c, return_as=return_as,
                    polling_interval=polling_interval, hidden=True, **kwargs,
                ),
                idempotent=False, what="read_civis_sql",
            )
        except CivisJobFailure as exc:
            raise self._error(f"Civis query failed: {exc}") from None

    # -- listings ---------------------------------------------------------------------------

    def paged(self, resource: str, method: str, *args: Any, limit: int = 50,
              **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paged list endpoint, page by page.

        Reads `X-Pagination-Total-Pages` to stop after the last page, saving the extra empty-page
        request the client's own `iterator=True` makes.
        """
        page = 1
        while True:
            data = self._call(
                lambda c, page=page: getattr(getattr(c, resource), method)(
                    *args, limit=limit, page_num=page, **params),
                idempotent=True, what=f"{resource}.{method} page {page}",
            )
            items = list(data)
            yield from (_json(item) for item in items)
            total = (getattr(data, "headers", None) or {}).get("X-Pagination-Total-Pages")
            if total is not None:
                if page >= int(total):
                    return
            elif len(items) < limit:
                return
            if not items:
                return
            page += 1

    def list_workflows(self, *, archived: str = "false", **filters: Any
                       ) -> Iterator[dict[str, Any]]:
        """All workflows matching the filters (`scheduled`, `state`, `author`...), paged."""
        return self.paged("workflows", "list", archived=archived, **filters)

    def list_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """All jobs matching the filters (`state`, `type`, `scheduled`...), paged (50/page)."""
        return self.paged("jobs", "list", **filters)

    def get_workflow(self, workflow_id: int) -> dict[str, Any]:
        return _json(self._call(lambda c: c.workflows.get(int(workflow_id)), idempotent=True,
                                what=f"GET /workflows/{workflow_id}"))

    def list_executions(self, workflow_id: int, *, limit: int = 20, page_num: int = 1
                        ) -> list[dict[str, Any]]:
        """A workflow's executions, newest first (one page)."""
        data = self._call(
            lambda c: c.workflows.list_executions(int(workflow_id), limit=limit,
                                                  page_num=page_num, order="id",
                                                  order_dir="desc"),
            idempotent=True, what=f"GET /workflows/{workflow_id}/executions",
        )
        return [_json(item) for item in data]

    def get_job(self, job_id: int) -> dict[str, Any]:
        return _json(self._call(lambda c: c.jobs.get(int(job_id)), idempotent=True,
                                what=f"GET /jobs/{job_id}"))

    # -- async (triggers) -------------------------------------------------------------------

    async def _api(self) -> _AsyncApi:
        if self._async is None:
            await self._aensure_settings()
            self._async = _AsyncApi(self.base_url, self._key or "", self)
        return self._async

    async def aprepare(self) -> None:
        """Read the connection and open the async client now (before a trigger's first wait)."""
        await self._api()

    async def aget(self, path: str, **params: Any) -> Any:
        """`GET /{path}` over the async client, JSON decoded, retried like every read.

        For many reads at once (the workflow audit): the `civis` client would serialise them.
        """
        api = await self._api()
        return await api.request("GET", path.strip("/"), params or None)

    async def aget_page(self, path: str, *, page: int = 1, limit: int = 50, **params: Any
                        ) -> tuple[list[dict[str, Any]], int | None]:
        """One page of a paged list endpoint, and its number of pages
        (`X-Pagination-Total-Pages`; None when the answer does not say)."""
        api = await self._api()
        response = await api.response("GET", path.strip("/"),
                                      {**params, "limit": limit, "page_num": page})
        total = response.headers.get("X-Pagination-Total-Pages", "")
        return list((response.json() if response.content else None) or []), (
            int(total) if total.isdigit() else None)

    async def alist(self, path: str, *, limit: int = 50, concurrency: int = 8, **params: Any
                    ) -> list[dict[str, Any]]:
        """Every item of a paged list endpoint, in page order: page 1, then the other pages
        `concurrency` at a time (page 1 says how many there are), or page by page until a
        short one when the answer has no `X-Pagination-Total-Pages`."""
        first, total = await self.aget_page(path, page=1, limit=limit, **params)
        pages = [first]
        if total is None:
            while len(pages[-1]) >= limit:
                pages.append((await self.aget_page(path, page=len(pages) + 1, limit=limit,
                                                   **params))[0])
        else:
            gate = asyncio.Semaphore(max(1, concurrency))

            async def one(page: int) -> list[dict[str, Any]]:
                async with gate:
                    return (await self.aget_page(path, page=page, limit=limit, **params))[0]

            pages += await asyncio.gather(*(one(page) for page in range(2, total + 1)))
        return [item for batch in pages for item in batch]

    async def aget_run(self, kind: str, job_id: int, run_id: int) -> CivisRun:
        jt = job_type(kind)
        api = await self._api()
        data = await api.request(jt.get[2], jt.get[3].format(id=int(job_id), run_id=int(run_id)))
        return CivisRun.from_api(kind, job_id, data or {})

    async def acancel_run(self, kind: str, job_id: int, run_id: int) -> None:
        jt = job_type(kind)
        api = await self._api()
        await api.request(jt.cancel[2], jt.cancel[3].format(id=int(job_id), run_id=int(run_id)))
        self.log.info("Asked Civis to cancel %s %s run %s", kind, job_id, run_id)

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None


class _AsyncApi:
    """A minimal async Civis API caller (httpx) with the client's retry policy.

    GET/DELETE: retried on 429/502/503/504 (at least Retry-After) and on dropped connections,
    as the official client does, and on 500 up to the hook's `max_attempts`, as the hook's
    synchronous reads are; POST: on 429/503 only (a retried POST could start a second run).
    """

    RETRY_CODES = frozenset({429, 502, 503, 504})
    POST_RETRY_CODES = frozenset({429, 503})
    MAX_HTTP_ATTEMPTS = 10

    def __init__(self, base: str, key: str, hook: CivisHook):
        import httpx

        self._hook = hook
        self._key = key
        self._client: httpx.AsyncClient = httpx.AsyncClient(
            base_url=base, auth=(key, ""), timeout=httpx.Timeout(60.0, connect=10.0),
            verify=_ssl_context(),
            headers={"User-Agent": f"{USER_AGENT} (civis-async)", "Accept": "application/json"},
        )

    async def request(self, method: str, path: str, params: dict[str, Any] | None = None
                      ) -> Any:
        response = await self.response(method, path, params)
        return response.json() if response.content else None

    async def response(self, method: str, path: str, params: dict[str, Any] | None = None
                       ) -> httpx.Response:
        """The successful response (retried as the class says), or `CivisHookError`."""
        import httpx

        retry_codes = self.POST_RETRY_CODES if method == "POST" else self.RETRY_CODES
        attempt = 0
        while True:
            attempt += 1
            self._hook.api_calls += 1
            delay = None
            try:
                response = await self._client.request(method, path, params=params)
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                if method == "POST" and not isinstance(exc, httpx.ConnectError):
                    raise self._error(
                        f"{method} /{path} failed: {exc.__class__.__name__}") from None
                if attempt >= self._hook.max_attempts:
                    raise self._error(f"{method} /{path} failed: could not reach Civis "
                                      f"({exc.__class__.__name__})") from None
            else:
                if response.status_code == 401:
                    raise CivisHookError(
                        f"{method} /{path} refused: the API key of connection "
                        f"{self._hook.civis_conn_id!r} is invalid or expired (401)", 401)
                if response.status_code < 400:
                    return response
                retry = response.status_code in retry_codes and attempt < self.MAX_HTTP_ATTEMPTS
                if response.status_code == 500 and method != "POST":
                    retry = attempt < self._hook.max_attempts
                if not retry:
                    raise self._error(f"{method} /{path} failed: ({response.status_code}) "
                                      f"{_error_description(response)}", response.status_code)
                delay = _retry_after(response.headers.get("Retry-After"))
            wait = max(delay or 0.0, _backoff(attempt, self._hook.max_backoff))
            await asyncio.sleep(wait)

    def _error(self, message: str, status: int | None = None) -> CivisHookError:
        return CivisHookError(scrub(message, [self._key]), status)

    async def aclose(self) -> None:
        await self._client.aclose()


# -- helpers ------------------------------------------------------------------------------------


def base_url(host: str | None, schema: str | None = None) -> str:
    """The API base URL from a connection host: scheme added if missing, trailing slash."""
    if not host:
        return DEFAULT_BASE_URL
    url = host.strip()
    if "://" not in url:
        scheme = schema if schema in ("http", "https") else "https"
        url = f"{scheme}://{url}"
    return url.rstrip("/") + "/"


def _retrying(attempts: int, seconds: float):
    """The client's default retry policy, with the connection's limits."""
    import tenacity

    return tenacity.Retrying(
        wait=tenacity.wait_random_exponential(multiplier=2, max=60),
        stop=tenacity.stop_after_delay(seconds) | tenacity.stop_after_attempt(attempts),
        retry_error_callback=lambda state: state.outcome.result(),
        reraise=True,
    )


def build_client(api_key: str, url: str, retrying: Any = None) -> civis.APIClient:
    """A `civis.APIClient` built offline from the bundled spec, talking to `url`."""
    import civis
    from civis.base import Endpoint
    from civis.resources import API_SPEC_PATH

    with _ENDPOINT_LOCK:
        previous = os.environ.get("CIVIS_API_ENDPOINT")
        os.environ["CIVIS_API_ENDPOINT"] = url
        try:
            client = civis.APIClient(api_key=api_key, local_api_spec=API_SPEC_PATH,
                                     retries=retrying, user_agent=USER_AGENT)
        finally:
            if previous is None:
                os.environ.pop("CIVIS_API_ENDPOINT", None)
            else:
                os.environ["CIVIS_API_ENDPOINT"] = previous
    wrong = [name for name, value in vars(client).items()
             if isinstance(value, Endpoint) and value._base_url != url]
    if wrong:  # pragma: no cover - would mean civis changed how it reads the endpoint
        raise CivisHookError(f"civis client endpoints {wrong[:3]} did not take the base URL")
    return client


def _ssl_context() -> Any:
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        import httpx

        with _CLIENTS_LOCK:
            if _SSL_CONTEXT is None:
                _SSL_CONTEXT = httpx.create_ssl_context()
    return _SSL_CONTEXT


def _json(data: Any) -> dict[str, Any]:
    """A civis Response (or dict) as a plain snake_case dict."""
    if data is None:
        return {}
    if hasattr(data, "json") and not isinstance(data, dict):
        return data.json()
    return dict(data)


def _never_sent(exc: BaseException) -> bool:
    """True when a requests error happened before the request reached the server."""
    import requests
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _backoff(attempt: int, cap: float) -> float:
    """Full-jitter exponential backoff: uniform(0.5, 1.0) x min(cap, 2^attempt)."""
    return min(cap, 2.0 ** attempt) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter only


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _error_description(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("errorDescription") or body.get("error") or response.reason_phrase)
    return response.reason_phrase


def _mask(secret: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older SDK layout
        return
    mask_secret(secret)
