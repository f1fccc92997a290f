"""Run Civis jobs and SQL from Airflow: `CivisRunOperator` and `CivisQueryOperator`.

Both start one Civis run and wait for it: deferred by default (a `CivisRunTrigger` polls in the
triggerer, no worker slot is held), or polling in the worker with `deferrable=False`. A run that
ends failed or cancelled fails the task with Civis's own error message. Killing the task cancels
the run (`on_kill` in the worker; the trigger's `on_kill` while deferred).

Re-attaching after a worker crash
---------------------------------
As soon as a run is started, the operator notes it in an Airflow Variable named after the task
instance (`precinct_civis_run.<dag_id>.<task_id>.<map_index>.<run_id>`, JSON `{job_type,
job_id, run_id, fingerprint, try_number}`), and deletes the note once it has seen the run end
(success, failure or cancel). A Variable rather than XCom because Airflow 3 clears a task
instance's XComs at the start of every new try, which is exactly when the note is needed; a
Variable survives retries, worker crashes and `airflow dags test` re-runs of the same logical
date. Before starting anything, `execute` looks for that note: if it names a run of the same job
(same fingerprint: job type and id, or database and SQL for queries) that is still queued or
running, or that succeeded, the task waits on that run instead of starting a second one. A noted
run that failed or was cancelled is not adopted (that is what a retry is for): a new run starts.
Nor is a note from before the task instance was cleared (another series of tries, see
`precinct.operators.tries`): a clear starts afresh. The only window left is a crash between
Civis accepting the start and the Variable write (one API round trip).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

from precinct.operators.tries import retry_series

if TYPE_CHECKING:
    import jinja2
    from airflow.sdk import Context

    from precinct.hooks.civis import CivisHook, CivisRun

# include/sql/ of this repository (plugins/precinct/operators/civis.py -> repository root).
INCLUDE_SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql"
VARIABLE_PREFIX = "precinct_civis_run"
# `CivisHook.default_conn_name`. The hook is imported inside methods only: DAG files import this
# module at parse time, and building the hook module's dataclasses costs ~2 ms per parse.
DEFAULT_CONN_ID = "civis_default"


class RunRegistry:
    """Notes which Civis run a task instance started, in an Airflow Variable (see above)."""

    def key(self, ti: Any) -> str:
        map_index = getattr(ti, "map_index", -1)
        key = f"{VARIABLE_PREFIX}.{ti.dag_id}.{ti.task_id}.{map_index}.{ti.run_id}"
        if len(key) > 250:  # Airflow's limit on Variable keys
            digest = hashlib.sha256(key.encode()).hexdigest()[:24]
            key = f"{VARIABLE_PREFIX}.{ti.dag_id[:80]}.{ti.task_id[:80]}.{digest}"
        return key

    def load(self, ti: Any) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        value = Variable.get(self.key(ti), default=None)
        if not value:
            return None
        try:
            return json.loads(value)
        except ValueError:
            return None

    def save(self, ti: Any, record: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key(ti), json.dumps(record),
                     description="Civis run started by this task instance (re-attach note)")

    def clear(self, ti: Any) -> None:
        from airflow.sdk import Variable

        Variable.delete(self.key(ti))


class CivisRunOperator(BaseOperator):
    """Run an existing Civis job (or workflow) by id and wait for it.

    :param job_id: the job id (templated).
    :param job_type: `script` (any job, generic `/jobs` endpoints; the default), `container`,
        `python3`, `sql`, `custom`, `import` or `workflow` (templated).
    :param civis_conn_id: the Airflow connection (`civis_default`).
    :param deferrable: wait in the triggerer (default) instead of the worker.
    :param poll_interval: seconds between status checks.
    :param run_timeout: give up (and cancel the run) after this many seconds; None: no limit.
    :param cancel_on_kill: cancel the Civis run when the task is killed.

    Returns (XCom) the run: `{job_type, job_id, run_id, state, error, created_at, started_at,
    finished_at}`. See the module docstring for how a re-run re-attaches to its run.
    """

    template_fields: Sequence[str] = ("job_id", "job_type")
    ui_color = "#d6e9f8"
    registry: ClassVar[RunRegistry] = RunRegistry()

    def __init__(self, *, job_id: int | str | None = None, job_type: str = "script",
                 civis_conn_id: str = DEFAULT_CONN_ID, deferrable: bool = True,
                 poll_interval: float = 10.0, run_timeout: float | None = None,
                 cancel_on_kill: bool = True, **kwargs: Any):
        super().__init__(**kwargs)
        self.job_id = job_id
        self.job_type = job_type
        self.civis_conn_id = civis_conn_id
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.run_timeout = run_timeout
        self.cancel_on_kill = cancel_on_kill
        self._run: CivisRun | None = None
        self._hook: CivisHook | None = None
        self._ti: Any = None

    # -- what to run (CivisQueryOperator overrides these two) -------------------------------

    def fingerprint(self) -> str:
        """Identifies the work: a noted run is adopted only if its fingerprint matches."""
        return f"{self.job_type}:{int(self.job_id)}"

    def start_run(self, hook: CivisHook, context: Context) -> CivisRun:
        return hook.start_run(self.job_type, int(self.job_id))

    def on_run_started(self, run: CivisRun, context: Context) -> None:
        """Called once the run is started and noted (a place for subclasses to log or push)."""

    # -- execution --------------------------------------------------------------------------

    @property
    def hook(self) -> CivisHook:
        if self._hook is None:
            from precinct.hooks.civis import CivisHook

            self._hook = CivisHook(self.civis_conn_id)
        return self._hook

    def execute(self, context: Context) -> dict[str, Any]:
        from precinct.hooks.civis import CivisRunTimeout

        self._validate()
        self._ti = context["ti"]
        run = self._reattach(context)
        if run is None:
            run = self.start_run(self.hook, context)
            self._run = run
            self._note(run, context)
            self.log.info("Started Civis %s %s run %s (%s)", run.job_type, run.job_id,
                          run.run_id, run.state)
            self.on_run_started(run, context)
            just_started = True
        else:
            self._run = run
            just_started = False
        if run.done:
            return self._finish(run)
        if self.deferrable:
            from precinct.triggers.civis import CivisRunTrigger

            self.defer(
                trigger=CivisRunTrigger(
                    job_type=run.job_type, job_id=run.job_id, run_id=run.run_id,
                    civis_conn_id=self.civis_conn_id, poll_interval=self.poll_interval,
                    poll_first=not just_started, cancel_on_kill=self.cancel_on_kill,
                    deadline=time.time() + self.run_timeout if self.run_timeout else None,
                ),
                method_name="execute_complete",
            )
        try:
            final = self.hook.wait_for_run(run.job_type, run.job_id, run.run_id,
                                           poll_interval=self.poll_interval,
                                           timeout=self.run_timeout,
                                           poll_first=not just_started)
        except CivisRunTimeout as exc:
            self._cancel("it ran longer than run_timeout")
            raise AirflowException(str(exc)) from None
        return self._finish(final)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Resume after the trigger fired: succeed, or fail with Civis's message."""
        from precinct.hooks.civis import CivisRun

        self._ti = context["ti"]
        run = CivisRun.from_dict(event["run"])
        self._run = run
        if event.get("status") == "timeout":
            self._forget()
            raise AirflowException(
                f"Civis {run.job_type} {run.job_id} run {run.run_id} did not finish within "
                f"{self.run_timeout}s; it was cancelled"
            )
        if event.get("status") == "error":
            # The run could not be read; it may still be going. Keep the note so that a retry
            # re-attaches instead of starting a second run.
            raise AirflowException(
                f"Could not follow Civis {run.job_type} {run.job_id} run {run.run_id}: "
                f"{event.get('message')}"
            )
        return self._finish(run)

    def on_kill(self) -> None:
        if self.cancel_on_kill:
            self._cancel("the task was killed")

    # -- internals --------------------------------------------------------------------------

    def _validate(self) -> None:
        from precinct.hooks.civis import JOB_TYPES

        if self.job_type not in JOB_TYPES:
            raise AirflowException(
                f"job_type {self.job_type!r} is not one of {', '.join(JOB_TYPES)}")
        if self.job_id is None or not str(self.job_id).strip().isdigit():
            raise AirflowException(f"job_id must be a Civis job id, got {self.job_id!r}")

    def _finish(self, run: CivisRun) -> dict[str, Any]:
        self._forget()
        self._run = None
        if not run.succeeded:
            raise AirflowException(run.describe_failure())
        self.log.info("Civis %s %s run %s succeeded", run.job_type, run.job_id, run.run_id)
        return run.to_dict()

    def _cancel(self, why: str, *, forget: bool = True) -> None:
        run = self._run
        if run is None or run.done:
            return
        self.log.info("Cancelling Civis %s %s run %s: %s", run.job_type, run.job_id,
                      run.run_id, why)
        try:
            self.hook.cancel_run(run.job_type, run.job_id, run.run_id)
        except Exception as exc:  # noqa: BLE001 - killing must not raise; the log says why
            self.log.warning("Could not cancel Civis run %s: %s", run.run_id, exc)
            return
        if forget:
            self._forget()

    def _note(self, run: CivisRun, context: Context) -> None:
        record = {"job_type": run.job_type, "job_id": run.job_id, "run_id": run.run_id,
                  "fingerprint": self.fingerprint_of(run),
                  "try_number": getattr(context["ti"], "try_number", None),
                  "series": retry_series(context["ti"], self.retries)}
        try:
            self.registry.save(context["ti"], record)
        except Exception as exc:  # noqa: BLE001 - whatever the store raised
            if run.done:  # nothing left for a retry to find: this try finishes it now
                self.log.warning("Could not note Civis run %s for re-attach (%s); it has "
                                 "already ended", run.run_id, type(exc).__name__)
                return
            # Un-noted, a live run is invisible to the retry, which would start a second one.
            # What is noted stays (an enhancement's job: its retry runs that job again).
            self._cancel("its re-attach note could not be saved", forget=False)
            raise AirflowException(
                f"Could not note Civis {run.job_type} {run.job_id} run {run.run_id} for "
                f"re-attach ({type(exc).__name__}); the run was cancelled so that a retry "
                "starts one run, not a second beside it") from None

    def fingerprint_of(self, run: CivisRun) -> str:
        return self.fingerprint()

    def _forget(self) -> None:
        if self._ti is None:
            return
        try:
            self.registry.clear(self._ti)
        except Exception as exc:  # noqa: BLE001 - the note is only an optimisation here
            self.log.warning("Could not clear the Civis re-attach note: %s", exc)

    def _noted(self, context: Context) -> dict[str, Any] | None:
        """This task instance's note, if it is for the same work (same fingerprint)."""
        try:
            record = self.registry.load(context["ti"])
        except Exception as exc:  # noqa: BLE001 - whatever the store raised
            # Unread, an earlier try's live run would get a second one beside it.
            raise AirflowException(
                f"Could not read the Civis re-attach note ({type(exc).__name__}); nothing was "
                "started") from None
        if not record:
            return None
        if record.get("fingerprint") != self.fingerprint():
            self.log.info("Ignoring a noted Civis run for different work (%s)",
                          record.get("fingerprint"))
            return None
        series = retry_series(context["ti"], self.retries)
        if record.get("series", 0) != series:
            # The task instance was cleared since: start afresh (a clear usually means the
            # input changed, and the old run's output may already be gone).
            self.log.info("Ignoring a Civis run noted before the task was cleared (series %s, "
                          "now %s)", record.get("series", 0), series)
            return None
        return record

    def _reattach(self, context: Context) -> CivisRun | None:
        record = self._noted(context)
        return self._attach(record) if record else None

    def _attach(self, record: dict[str, Any]) -> CivisRun | None:
        """The noted run, if it is still going or succeeded (a failed one is not adopted)."""
        from precinct.hooks.civis import CivisHookError

        try:
            run = self.hook.get_run(record["job_type"], int(record["job_id"]),
                                    int(record["run_id"]))
        except CivisHookError as exc:
            if exc.status_code not in (403, 404):
                raise
            self.log.info("The run noted by an earlier try is gone (%s); starting a new one",
                          exc.status_code)
            self._forget()
            return None
        if run.done and not run.succeeded:
            self.log.info("The run noted by an earlier try (%s) ended %s; starting a new one",
                          run.run_id, run.state)
            return None
        self.log.info("Re-attaching to Civis %s %s run %s (%s), started by try %s",
                      run.job_type, run.job_id, run.run_id, run.state, record.get("try_number"))
        return run


class CivisQueryOperator(CivisRunOperator):
    """Run SQL on a Civis database (by name) as a SQL script, and wait for it.

    :param sql: the SQL (templated), or a path ending in `.sql`, looked up in the DAG folder,
        the DAG's `template_searchpath`, then this repository's `include/sql/`
        (e.g. `sql="my_pipeline/stage.sql"` for `include/sql/my_pipeline/stage.sql`); the file
        is rendered with Jinja too.
    :param database: the Civis database name (templated), e.g. `redshift-general`.
    :param name: the SQL script's name in Civis (default `<dag_id>.<task_id>`).
    :param credential_id: the database credential (default: the key's default credential).
    :param csv_settings: Civis CSV export settings for the result (default gzip CSV).

    The other arguments are `CivisRunOperator`'s. Returns the run plus its `output` files (ids
    and names; read a result with `CivisHook.read_sql` or the file id).
    """

    template_fields: Sequence[str] = ("sql", "database", "name")
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers = {"sql": "sql"}

    def __init__(self, *, sql: str, database: str, name: str | None = None,
                 credential_id: int | None = None, csv_settings: dict | None = None,
                 **kwargs: Any):
        kwargs.setdefault("job_type", "sql")
        super().__init__(**kwargs)
        self.sql = sql
        self.database = database
        self.name = name
        self.credential_id = credential_id
        self.csv_settings = csv_settings

    def fingerprint(self) -> str:
        digest = hashlib.sha256(f"{self.database}\n{self.sql}".encode()).hexdigest()[:16]
        return f"sql:{self.database}:{digest}"

    def start_run(self, hook: CivisHook, context: Context) -> CivisRun:
        name = self.name or f"{self.dag_id}.{self.task_id}"
        return hook.start_sql(self.sql, self.database, name=name,
                              credential_id=self.credential_id,
                              csv_settings=self.csv_settings)

    def _validate(self) -> None:
        if not isinstance(self.sql, str) or not self.sql.strip():
            raise AirflowException("sql is empty")
        if re.fullmatch(r"\S+\.sql", self.sql.strip()):
            raise AirflowException(
                f"SQL file {self.sql!r} was not found in the DAG folder, its "
                f"template_searchpath or {INCLUDE_SQL_DIR}"
            )
        if not self.database:
            raise AirflowException("database is empty: name the Civis database")

    def _finish(self, run: CivisRun) -> dict[str, Any]:
        result = super()._finish(run)
        try:
            result["output"] = self.hook.run_outputs(run.job_type, run.job_id, run.run_id)
        except Exception as exc:  # noqa: BLE001 - the query succeeded; outputs are a bonus
            self.log.warning("Could not list the query's outputs: %s", exc)
            result["output"] = []
        return result

    # -- templates: also look in include/sql/ ----------------------------------------------

    def get_template_env(self, dag: Any = None) -> jinja2.Environment:
        return _with_include_sql(super().get_template_env(dag=dag))

    def render_template_fields(self, context: Context,
                               jinja_env: jinja2.Environment | None = None) -> None:
        env = _with_include_sql(jinja_env) if jinja_env is not None else None
        super().render_template_fields(context, env)


def _with_include_sql(env: jinja2.Environment) -> jinja2.Environment:
    import jinja2

    include = jinja2.FileSystemLoader(str(INCLUDE_SQL_DIR))
    loader = jinja2.ChoiceLoader([env.loader, include]) if env.loader else include
    return env.overlay(loader=loader)
