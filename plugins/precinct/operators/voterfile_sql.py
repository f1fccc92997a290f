"""The SQL steps of `voterfile_match` that write (stage, dedupe, rest, coalesce, publish, drop) as
one deferrable operator, `VoterfileSqlOperator`.

Why an operator and not a `@task` calling `CivisHook.run_sql`: each try of such a task created
and started a new Civis SQL script and polled it in the worker. A worker that died during
`publish` left its script running, and the retry started the same SQL beside it (two copies of
the run's history rows on PostgreSQL, where neither transaction sees the other's uncommitted
inserts); a killed step went on in Civis and could re-create `__stg_*` tables after the
`drop_staging` teardown. Built on `CivisQueryOperator`, each step now

- notes its SQL script run for re-attach as soon as it starts: a retry in the same series of
  tries (`precinct.operators.tries`) with the same SQL waits on that run instead of starting a
  second; the fingerprint is the database and a hash of the SQL, so changed SQL (a cleared task
  after a form change) starts a new run;
- waits in the triggerer (`CivisRunTrigger`), not in a worker slot, by default;
- cancels its run when the task is killed, and fails with Civis's own message.

The SQL is rendered at execute time from the validated form (the `validate` task's XCom,
templated `config`) with `precinct.voterfile.sql`; every value in it is fixed per DAG run (the
publish date is the run's `run_after` date, not the clock), so that a retry renders the same SQL
and finds its note. Short read-only queries around a step (the history table's key, the staging
tables to drop, row counts for the XCom and the log) run in the worker through `CivisHook.
read_sql`: they take seconds, change nothing and are harmless to repeat or abandon.

Imported by the DAG file at parse time: the hook and `precinct.voterfile` are imported inside
methods.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk.exceptions import AirflowException

from precinct.operators.civis import CivisQueryOperator, CivisRunOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from precinct.hooks.civis import CivisRun
    from precinct.voterfile.sql import Step
    from precinct.voterfile.validation import MatchConfig

log = logging.getLogger(__name__)
READ_POLL_SECONDS = 1.0


class VoterfileSqlOperator(CivisQueryOperator):
    """Run one write step of `voterfile_match` on Civis, re-attachable and deferrable.

    :param step: `stage_universe` (history table, with its key, and the universe),
        `dedupe` (needs `source`, `matches`, `best`), `stage_rest` (returns the CASS/NCOA
        chunks), `coalesce_and_recover` (needs `chunks`), `publish` (needs `qa`; skipped with
        an e-mail below the match-rate floor) or `drop_staging` (from the DAG's params, so it
        works whatever failed upstream).
    :param config: the `validate` task's result (templated: pass its XComArg), or None to pull
        it from the task `config_task_id` at run time (for a task that must not be a direct
        downstream of the setup task).
    :param source, matches, best: `dedupe`'s staging table names.
    :param chunks: `coalesce_and_recover`'s CASS/NCOA chunks (templated; this run's plan).
    :param qa: `publish`'s QA result (templated).

    The other arguments are `CivisRunOperator`'s. Returns (XCom) what the DAG's next steps use:
    the row count (`stage_universe`, `dedupe`), the chunk numbers (`stage_rest`),
    `{published_rows, match_rate}` (`publish`), the tables dropped (`drop_staging`).
    """

    steps: ClassVar[tuple[str, ...]] = ("stage_universe", "dedupe", "stage_rest",
                                        "coalesce_and_recover", "publish", "drop_staging")
    template_fields: Sequence[str] = ("config", "chunks", "qa")
    template_fields_renderers: ClassVar[dict[str, str]] = {"config": "json", "sql": "sql"}
    ui_color = "#c9e4f5"

    def __init__(self, *, step: str, config: Any = None, config_task_id: str = "validate",
                 source: str | None = None, matches: str | None = None,
                 best: str | None = None, chunks: Any = None, qa: Any = None, **kwargs: Any):
        if step not in self.steps:
            raise ValueError(f"step {step!r} is not one of {', '.join(self.steps)}")
        # The SQL and database come from the config at execute time.
        super().__init__(sql="", database="", **kwargs)
        self.step = step
        self.config = config
        self.config_task_id = config_task_id
        self.source, self.matches, self.best = source, matches, best
        self.chunks = chunks
        self.qa = qa
        self._context: Any = None
        self._dropped = 0

    # -- execute: render the step, then CivisQueryOperator runs it ------------------------

    def execute(self, context: Context) -> Any:
        from precinct.voterfile import sql

        self._context = context
        cfg = self._match_config(context)
        if cfg is None:  # drop_staging without a valid form: nothing can have been staged
            return 0
        step = self.build(cfg, context)
        if step is None:
            return self.outcome(cfg)
        self.sql = sql.render(step)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        self._context = context
        return super().execute_complete(context, event)

    def build(self, cfg: MatchConfig, context: Context) -> Step | None:
        """The step's SQL; None when there is nothing to run."""
        from precinct.voterfile import sql

        if self.step == "stage_universe":
            return _join(sql.create_history(cfg), sql.stage_universe(cfg))
        if self.step == "dedupe":
            for key in ("source", "matches", "best"):
                if not getattr(self, key):
                    raise AirflowException(f"dedupe needs {key}")
            return sql.dedupe(cfg, self.source, self.matches, self.best)
        if self.step == "stage_rest":
            return sql.stage_rest(cfg)
        if self.step == "coalesce_and_recover":
            return sql.coalesce_and_recover(cfg, sorted(int(c) for c in self.chunks or []))
        if self.step == "publish":
            self._gate(cfg, context)
            return sql.publish(cfg, context["run_id"], _run_date(context))
        # drop_staging
        tables = [r["table_name"] for r in self._read(sql.list_staging(cfg))]
        self._dropped = len(tables)
        if not tables:
            return None
        # A few DROPs take seconds; waiting in the worker keeps the count (for the log and the
        # XCom) on this instance. The run is still noted for re-attach and cancelled on kill.
        self.deferrable = False
        return sql.drop_tables(cfg, tables)

    def _gate(self, cfg: MatchConfig, context: Context) -> None:
        """Below the match-rate floor nothing is published: e-mail the operators and skip."""
        from airflow.sdk.exceptions import AirflowSkipException

        from precinct.notifications import send_alert

        qa = self.qa or {}
        if qa.get("publish"):
            return
        send_alert(
            f"voterfile_match: not published, match rate below the floor "
            f"({cfg.output_schema}.{cfg.output_table})",
            {"match rate": f"{qa['match_rate']:.1%}", "floor": f"{cfg.match_rate_floor:.1%}",
             "staged rows": qa["universe"], "kept, pass 1": qa["pass1_kept"],
             "kept, pass 2": qa["pass2_kept"], "run": context["run_id"]},
        )
        raise AirflowSkipException(
            f"match rate {qa['match_rate']:.3f} is below the floor {cfg.match_rate_floor}")

    # -- after the run succeeded ------------------------------------------------------------

    def _finish(self, run: CivisRun) -> Any:
        # CivisRunOperator's: clear the note, fail with Civis's message. Not the query
        # operator's output listing: these steps' scripts return no rows.
        CivisRunOperator._finish(self, run)
        return self.outcome(self._match_config(self._context))

    def outcome(self, cfg: MatchConfig) -> Any:
        """The XCom: short counts read after the step (in the worker; read-only)."""
        from precinct.voterfile import sql
        from precinct.voterfile.chunks import chunk_numbers

        if self.step == "stage_universe":
            count = self._count(sql.count_rows(cfg, "universe"))
            self.log.info("Universe: %d rows to match", count)
            return count
        if self.step == "dedupe":
            kept = self._count(sql.count_rows(cfg, self.best))
            self.log.info("%s: %d source ids kept", self.best, kept)
            return kept
        if self.step == "stage_rest":
            rest = self._count(sql.count_rows(cfg, "rest"))
            chunks = chunk_numbers(rest, cfg.chunk_rows) if cfg.cass_ncoa else []
            self.log.info("Rest: %d rows, %d CASS/NCOA chunk(s) of at most %d", rest,
                          len(chunks), cfg.chunk_rows)
            return chunks
        if self.step == "publish":
            published = self._count(sql.count_output(cfg))
            self.log.info("Published %s.%s: %d rows", cfg.output_schema, cfg.output_table,
                          published)
            return {"published_rows": published, "match_rate": (self.qa or {}).get("match_rate")}
        if self.step == "drop_staging":
            self.log.info("Dropped %d staging table(s)", self._dropped)
            return self._dropped
        return None

    # -- internals --------------------------------------------------------------------------

    def _match_config(self, context: Context) -> MatchConfig | None:
        from precinct.voterfile.validation import InvalidParam, MatchConfig, parse_params

        if self.step == "drop_staging":
            params = context["params"]
            try:
                cfg = parse_params(params)
            except InvalidParam as exc:
                self.log.info("Nothing to drop: %s", exc)
                return None
            self.database = str(params["database"])
            return cfg
        data = self.config
        if data is None:
            data = context["ti"].xcom_pull(task_ids=self.config_task_id)
        if not isinstance(data, dict):
            raise AirflowException(f"config must be the {self.config_task_id} task's result "
                                   f"(a dict), got {type(data).__name__}")
        cfg = MatchConfig.from_dict(data)
        self.database = str((cfg.extra or {}).get("database") or "")
        return cfg

    def _read(self, step: Step) -> list[dict[str, Any]]:
        from precinct.operators.voterfile import read_rows

        return read_rows(self.hook, step, self.database, READ_POLL_SECONDS)

    def _count(self, step: Step) -> int:
        return int(self._read(step)[0]["n"])


def _join(*steps: Step) -> Step:
    """Several steps as one script (one Civis run, one transaction on the stand-in)."""
    from precinct.voterfile.sql import Step

    params: dict[str, Any] = {}
    for step in steps:
        params.update(step.params)
    return Step(";\n".join(step.sql for step in steps), params)


def _run_date(context: Context) -> Any:
    """The date the publish stamps on history rows: the DAG run's, so that every try renders
    the same SQL (and re-attaches) even across midnight."""
    dag_run = context.get("dag_run")
    moment = (getattr(dag_run, "run_after", None) or context.get("logical_date")
              or datetime.now(UTC))
    return moment.date()
