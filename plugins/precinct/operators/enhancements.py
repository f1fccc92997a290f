"""Civis Data Match and CASS/NCOA runs for `voterfile_match`, as deferrable operators.

`CivisDataMatchOperator` and `CivisCassNcoaOperator` create one enhancement job in Civis from the
validated form (`validate`'s XCom, a `MatchConfig` dict; mappings and limiting SQL from
`precinct.voterfile.sql`), start its run through the generic `/jobs` endpoints, and then wait
exactly like `CivisRunOperator`: deferred to `CivisRunTrigger` by default (no worker slot is held
for the minutes or hours Civis takes), the run cancelled when the task is killed or passes
`run_timeout`, and a failed run failing the task with Civis's own error message.

Re-attaching without a second enhancement
-----------------------------------------
Creating an enhancement is not idempotent: every POST is a new job in Civis. On top of
`CivisRunOperator`'s run note (see `precinct.operators.civis`), these operators note the new job
in the same Variable as soon as Civis answers the create, before starting its run. A retry of
the same task instance whose fingerprint (enhancement kind, output table, hash of the request)
matches the note then

- waits on the noted run if it is queued, running or succeeded (no new job, no new run);
- starts a run of the noted job if its run never started or ended failed/cancelled (or adopts
  a live run of that job the note missed), instead of creating another enhancement;
- creates a new enhancement only when there is no note, the request changed, or Civis no longer
  has the noted job.

A run that succeeded clears the note. A run that failed or was cancelled leaves the job noted
without a run, so each retry runs the same job again; and before starting a noted job, the
operator adopts a queued, running or succeeded run of it (one an earlier try started but died
before noting). Only a crash between Civis creating the job and the note being written (one
round trip) can leave an unused job behind.

Imported by the DAG file at parse time: this module and what it imports at top level must stay
cheap: the hook (and through it `civis` and `httpx`) and `precinct.voterfile` are imported
inside methods.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.exceptions import AirflowException

from precinct.operators.civis import CivisRunOperator
from precinct.operators.tries import retry_series

if TYPE_CHECKING:
    from airflow.sdk import Context

    from precinct.hooks.civis import CivisHook, CivisRun
    from precinct.voterfile.validation import MatchConfig

# Runs of enhancement jobs are read, cancelled and started again through the generic endpoints.
JOB_TYPE = "script"


class _EnhancementOperator(CivisRunOperator):
    """Create one Civis enhancement job from the validated voterfile_match config, run it, wait.

    :param config: the `validate` task's return value (templated; pass its XComArg): a
        `MatchConfig` dict with `extra.database`.
    The other arguments are `CivisRunOperator`'s (`civis_conn_id`, `deferrable`,
    `poll_interval`, `run_timeout`, `cancel_on_kill`); there is no `job_id` to pass (the job is
    created) and the run is always followed as a `script` job.
    """

    kind: ClassVar[str]  # the enhancement: `civis_data_match` or `cass_ncoa`
    label: ClassVar[str]  # for logs and messages
    template_fields: Sequence[str] = ("config",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"config": "json"}
    ui_color = "#c9e4f5"

    # No __init__ here: every __init__ level of an operator deep-copies the DAG's params at parse
    # time (BaseOperatorMeta), and voterfile_match has many. The subclasses set `config`.
    config: Any = None
    _reuse_job_id: int | None = None

    # -- what to create (subclasses) ------------------------------------------------------

    def request(self) -> dict[str, Any]:
        """The create request's keyword arguments (client method's names), without anything
        that needs an API call to find: the fingerprint hashes it."""
        raise NotImplementedError

    def output_table(self) -> str:
        """`schema.table` the enhancement writes."""
        raise NotImplementedError

    def create_request(self, hook: CivisHook) -> dict[str, Any]:
        """The full create request (may look things up in Civis, e.g. a database id)."""
        return self.request()

    def result(self) -> dict[str, Any]:
        """What the XCom adds to the run."""
        return {"enhancement": self.kind, "output_table": self.output_table()}

    # -- CivisRunOperator hooks -----------------------------------------------------------

    @property
    def match_config(self) -> MatchConfig:
        from precinct.voterfile.validation import MatchConfig

        return MatchConfig.from_dict(self.config)

    @property
    def database(self) -> str:
        return str((self.config.get("extra") or {}).get("database") or "")

    def fingerprint(self) -> str:
        """Same enhancement, same output, same request: only then is a noted job or run reused
        (a changed form in a cleared task instance creates a new enhancement)."""
        body = json.dumps(self.request(), sort_keys=True, default=str)
        digest = hashlib.sha256(f"{self.database}\n{body}".encode()).hexdigest()[:16]
        return f"{self.kind}:{self.output_table()}:{digest}"

    def start_run(self, hook: CivisHook, context: Context) -> CivisRun:
        from precinct.hooks.civis import CivisHookError

        if self._reuse_job_id is not None:
            job_id = self._reuse_job_id
            try:
                # Only this task instance runs this job: a live or succeeded run on it is one an
                # earlier try started but could not note (it died, or the start's answer was
                # lost). Adopt it rather than start a second run writing the same table.
                latest = hook.list_runs(JOB_TYPE, job_id, limit=1)
                if latest and (not latest[0].done or latest[0].succeeded):
                    self.log.info("Adopting run %s (%s) of %s job %s, started by an earlier "
                                  "try", latest[0].run_id, latest[0].state, self.label, job_id)
                    return latest[0]
                run = hook.start_run(JOB_TYPE, job_id)
            except CivisHookError as exc:
                if exc.status_code not in (403, 404):
                    raise
                self.log.info("The %s job %s noted by an earlier try is gone (%s); creating a "
                              "new one", self.label, job_id, exc.status_code)
            else:
                self.log.info("Started a new run of %s job %s, created by an earlier try "
                              "(no second enhancement)", self.label, job_id)
                return run
        name = self.enhancement_name()
        job_id = hook.create_enhancement(self.kind, name, **self.create_request(hook))
        self._note_job(job_id, context["ti"], before_run=True)
        self.log.info("Created %s job %s writing %s", self.label, job_id, self.output_table())
        return hook.start_run(JOB_TYPE, job_id)

    def enhancement_name(self) -> str:
        return f"{self.dag_id}.{self.task_id} {self.output_table()}"

    def _validate(self) -> None:
        from precinct.voterfile.validation import IDENTIFIER

        if not isinstance(self.config, dict):
            raise AirflowException(
                f"config must be the validate task's result (a dict), got "
                f"{type(self.config).__name__}")
        missing = [k for k in ("output_schema", "output_table", "match_target_id")
                   if self.config.get(k) in (None, "")]
        if missing:
            raise AirflowException(f"config lacks {', '.join(missing)}: pass the validate "
                                   "task's result")
        for key in ("output_schema", "output_table"):
            if not IDENTIFIER.match(str(self.config[key])):
                raise AirflowException(f"config {key} {self.config[key]!r} is not a valid SQL "
                                       "identifier")
        if not self.database:
            raise AirflowException("config has no extra.database: name the Civis database")

    def _reattach(self, context: Context) -> CivisRun | None:
        self._reuse_job_id = None
        return super()._reattach(context)

    def _attach(self, record: dict[str, Any]) -> CivisRun | None:
        """The base re-attach, plus: a noted job of the same work is reused by `start_run`
        (its run never started, or ended failed) instead of creating a second enhancement."""
        if record.get("job_id"):
            self._reuse_job_id = int(record["job_id"])
        if record.get("run_id") is None:
            self.log.info("%s job %s was created by try %s but not started; starting it",
                          self.label, self._reuse_job_id, record.get("try_number"))
            return None
        return super()._attach(record)

    def _note_job(self, job_id: int, ti: Any, *, before_run: bool = False) -> None:
        """Note the job with no run: before its run starts (the create is the step a retry must
        not repeat), and again after a failed run (a retry runs the same job again)."""
        record = {"job_type": JOB_TYPE, "job_id": int(job_id), "run_id": None,
                  "fingerprint": self.fingerprint(),
                  "try_number": getattr(ti, "try_number", None),
                  "series": retry_series(ti, self.retries)}
        try:
            self.registry.save(ti, record)
        except Exception as exc:  # noqa: BLE001 - whatever the store raised
            if before_run:  # a paid run nobody could find again: do not start it
                raise AirflowException(
                    f"Could not note {self.label} job {job_id} for re-attach "
                    f"({type(exc).__name__}); its run was not started") from None
            self.log.warning("Could not note %s job %s for re-attach (%s)", self.label, job_id,
                             type(exc).__name__)

    def _finish(self, run: CivisRun) -> dict[str, Any]:
        if run.succeeded or self._ti is None:
            return {**super()._finish(run), **self.result()}
        # A failed or cancelled run: keep the job (not the run) noted, so that the retry starts
        # a new run of it instead of creating one more enhancement per try.
        self._run = None
        self._note_job(run.job_id, self._ti)
        raise AirflowException(run.describe_failure())


class CivisDataMatchOperator(_EnhancementOperator):
    """Civis Data Match of one staging table of `voterfile_match` against the match target.

    :param config: the validated form (templated: the `validate` task's XComArg).
    :param input_stage: the staging table to match (`{output}__stg_<input_stage>`), e.g.
        `universe`.
    :param output_stage: the staging table Data Match writes (`{output}__stg_<output_stage>`),
        e.g. `match1`.
    :param threshold: Data Match's candidate floor (default `sql.CANDIDATE_THRESHOLD`, low so
        that extra matches scoring below the cutoff are still seen).

    Returns (XCom) the run plus `enhancement` and `output_table`.
    """

    kind = "civis_data_match"
    label = "Civis Data Match"
    template_fields: Sequence[str] = ("config", "input_stage", "output_stage")

    def __init__(self, *, config: dict[str, Any] | Any, input_stage: str, output_stage: str,
                 threshold: float | None = None, **kwargs: Any):
        kwargs["job_type"] = JOB_TYPE
        super().__init__(**kwargs)
        self.config = config
        self.input_stage = input_stage
        self.output_stage = output_stage
        self.threshold = threshold

    def output_table(self) -> str:
        cfg = self.match_config
        return f"{cfg.output_schema}.{cfg.staging(self.output_stage)}"

    def request(self) -> dict[str, Any]:
        from precinct.voterfile import sql

        cfg = self.match_config
        return {
            "input_field_mapping": dict(sql.DATA_MATCH_MAPPING),
            "input_table": {"databaseName": self.database, "schema": cfg.output_schema,
                            "table": cfg.staging(self.input_stage)},
            "match_target_id": int(cfg.match_target_id),
            "output_table": {"databaseName": self.database, "schema": cfg.output_schema,
                             "table": cfg.staging(self.output_stage)},
            "max_matches": int(cfg.max_matches),
            "threshold": float(sql.CANDIDATE_THRESHOLD if self.threshold is None
                               else self.threshold),
        }

    def _validate(self) -> None:
        from precinct.voterfile.validation import IDENTIFIER

        super()._validate()
        for key in ("input_stage", "output_stage"):
            value = getattr(self, key)
            if not isinstance(value, str) or not IDENTIFIER.match(value):
                raise AirflowException(f"{key} {value!r} is not a staging table name")


class CivisCassNcoaOperator(_EnhancementOperator):
    """CASS/NCOA of one chunk of `voterfile_match`'s rest (`{output}__stg_rest`).

    :param config: the validated form (templated: the `validate` task's XComArg).
    :param chunk: the chunk number (templated; mapped with `.expand(chunk=...)`): the rows with
        `chunk_no = chunk` (`sql.cass_limiting_sql`) are standardised into
        `{output}__stg_cass_<chunk>`.

    Returns (XCom) the run plus `enhancement`, `output_table` and `chunk`.
    """

    kind = "cass_ncoa"
    label = "CASS/NCOA"
    template_fields: Sequence[str] = ("config", "chunk")

    def __init__(self, *, config: dict[str, Any] | Any, chunk: int | str, **kwargs: Any):
        kwargs["job_type"] = JOB_TYPE
        super().__init__(**kwargs)
        self.config = config
        self.chunk = chunk

    def output_table(self) -> str:
        from precinct.voterfile import sql

        cfg = self.match_config
        return f"{cfg.output_schema}.{cfg.staging(sql.cass_table(int(self.chunk)))}"

    def request(self) -> dict[str, Any]:
        from precinct.voterfile import sql

        cfg = self.match_config
        chunk = int(self.chunk)
        return {
            "source": {"databaseTable": {"schema": cfg.output_schema,
                                         "table": cfg.staging("rest"),
                                         "multipartKey": ["source_id"]}},
            "destination": {"databaseTable": {"schema": cfg.output_schema,
                                              "table": cfg.staging(sql.cass_table(chunk))}},
            "column_mapping": dict(sql.CASS_MAPPING),
            "perform_ncoa": True,
            "limiting_sql": sql.cass_limiting_sql(chunk),
            "output_level": "all",
        }

    def create_request(self, hook: CivisHook) -> dict[str, Any]:
        body = self.request()
        body["source"]["databaseTable"]["remoteHostId"] = hook.database_id(self.database)
        return body

    def enhancement_name(self) -> str:
        return f"{super().enhancement_name()} chunk {int(self.chunk)}"

    def result(self) -> dict[str, Any]:
        return {**super().result(), "chunk": int(self.chunk)}

    def _validate(self) -> None:
        super()._validate()
        if not str(self.chunk).strip().isdigit():
            raise AirflowException(f"chunk must be a chunk number, got {self.chunk!r}")
