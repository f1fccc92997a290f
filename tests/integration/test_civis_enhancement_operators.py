"""CivisDataMatchOperator and CivisCassNcoaOperator against the devstack Civis stand-in.

The operators, hook, trigger and HTTP calls are real; the stand-in really matches and
standardises the staged rows on the devstack PostgreSQL database. As in test_civis_operators,
the operators run in-process (execute, the trigger re-created from its serialized form, then
`execute_complete` on a fresh operator instance, as after a real deferral) with an in-memory
re-attach note in place of the Airflow Variable. One test runs the task under a real task runner
(`airflow tasks test` from a temporary DAG folder, the note in a real Variable), SIGKILLs it
right after the enhancement job was created and noted, and runs the task instance again.
Enhancements created are counted in the stand-in (`/__admin/jobs`), never inferred from our own
code.
"""

# The test schema's name is generated here (uuid hex), never user input.
# ruff: noqa: S608
from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from devstack import civis as civis_standin
from devstack import postgres
from devstack.seed_voterfile import MATCH_TARGET_ID, ensure_seeded
from precinct.hooks.civis import CivisHook
from precinct.operators import civis as civis_operators
from precinct.operators.civis import CivisRunOperator
from precinct.operators.enhancements import CivisCassNcoaOperator, CivisDataMatchOperator
from precinct.triggers.civis import CivisRunTrigger
from precinct.voterfile.validation import parse_params
from tests.integration.civis_support import (
    FakeTI,
    MemoryRegistry,
    WorkerCrash,
    execute,
    run_trigger,
)
from tests.support import run_airflow

pytestmark = pytest.mark.integration
OUTPUT = "signups_matched"
STAGE_COLUMNS = ("first_name, middle_name, last_name, phone, email, address, unit, city, state, "
                 "zip, birth_date, gender")


@pytest.fixture(scope="module")
def seeded(devstack_env) -> None:
    ensure_seeded()


@pytest.fixture
def schema(seeded):
    """A schema holding the staging tables the DAG's earlier steps would have written: the
    universe (60 sign-ups, canonical columns) and the rest (chunk_no: 20 rows per chunk)."""
    name = f"vfop_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"CREATE TABLE {name}.{OUTPUT}__stg_universe AS SELECT id::text AS "
                     f"source_id, {STAGE_COLUMNS} FROM demo.voterfile_signups WHERE id <= 60")
        conn.execute(f"CREATE TABLE {name}.{OUTPUT}__stg_rest AS SELECT id::text AS source_id, "
                     f"{STAGE_COLUMNS}, (ROW_NUMBER() OVER (ORDER BY id) - 1) / 20 AS chunk_no "
                     f"FROM demo.voterfile_signups WHERE id <= 60")
    yield name
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def config(schema: str, **overrides: Any) -> dict:
    """What the `validate` task returns for a form writing `{schema}.signups_matched`."""
    cfg = parse_params({
        "input_table": "demo.voterfile_signups", "primary_key": "id",
        "first_name_column": "first_name", "last_name_column": "last_name",
        "output_table": f"{schema}.{OUTPUT}", "voterfile_table": "public.voterfile",
        "match_target": MATCH_TARGET_ID, "max_matches": 2, "rematch_threshold": 0.6,
        "cutoff": 0.4, "cass_ncoa": True, "match_rate_floor": 0.5, "cass_chunk_rows": 20,
    })
    return {**cfg.to_dict(), "extra": {"database": civis_standin.DATABASE}, **overrides}


def data_match(task_id: str, cfg: dict, **kwargs: Any) -> CivisDataMatchOperator:
    return CivisDataMatchOperator(task_id=task_id, config=cfg, input_stage="universe",
                                  output_stage="match1", poll_interval=0.3, **kwargs)


def columns(schema: str, table: str) -> list[str]:
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
            "table_name = %s ORDER BY ordinal_position", (schema, table))]


def count(schema: str, table: str) -> int:
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return conn.execute(f'SELECT COUNT(*) FROM {schema}."{table}"').fetchone()[0]


def enhancements(schema: str) -> list[dict]:
    """The enhancement jobs the stand-in holds for this test's output tables."""
    return [job for job in civis_standin.admin("GET", "/jobs")
            if job["kind"] in ("civis_data_match", "cass_ncoa") and f" {schema}." in job["name"]]


def test_the_default_connection_is_the_hooks():
    # The operators do not import the hook at parse time, so they repeat its default id.
    assert civis_operators.DEFAULT_CONN_ID == CivisHook.default_conn_name


def test_data_match_defers_then_completes_with_the_output_table_written(registry, schema):
    cfg = config(schema)
    op = data_match("dm_defer", cfg)
    ti = FakeTI(op.task_id)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": ti})
    classpath, kwargs = deferred.value.trigger.serialize()
    assert classpath == "precinct.triggers.civis.CivisRunTrigger"
    assert kwargs["job_type"] == "script" and kwargs["poll_first"] is False
    assert [r["state"] for r in civis_standin.job_runs(kwargs["job_id"])] in (
        ["queued"], ["running"]), "the task deferred while Civis was still working"
    event = run_trigger(CivisRunTrigger(**kwargs))
    assert event["status"] == "success"

    resumed = data_match("dm_defer", cfg)  # Airflow resumes on a fresh operator instance
    result = resumed.execute_complete({"ti": ti}, event)
    assert result["state"] == "succeeded" and result["job_id"] == kwargs["job_id"]
    assert result["enhancement"] == "civis_data_match"
    assert result["output_table"] == f"{schema}.{OUTPUT}__stg_match1"
    assert columns(schema, f"{OUTPUT}__stg_match1") == [
        "source_id", "person_id", "voterbase_id", "score", "match_rank"]
    assert count(schema, f"{OUTPUT}__stg_match1") > 30  # most of the 60 rows have a candidate
    [job] = enhancements(schema)
    assert job["kind"] == "civis_data_match" and len(job["runs"]) == 1
    assert registry.notes == {}, "the note is cleared once the run ended"


def test_a_failed_enhancement_run_fails_the_task_with_civis_message(registry, schema):
    # validate would refuse this target; here it reaches Civis, whose run fails.
    op = data_match("dm_fail", config(schema, match_target_id=999))
    with pytest.raises(AirflowException) as error:
        execute(op, {"ti": FakeTI(op.task_id)})
    [job] = enhancements(schema)
    [run] = job["runs"]
    assert str(error.value) == (f"Civis run {run['id']} of script job {job['id']} failed: "
                                "Match target 999 not found.")
    [note] = registry.notes.values()
    assert note["job_id"] == job["id"] and note["run_id"] is None, "the job is kept for a retry"

    # The retry runs the same job again: still one enhancement in Civis, now with two runs.
    retry = data_match("dm_fail", config(schema, match_target_id=999))
    with pytest.raises(AirflowException):
        execute(retry, {"ti": FakeTI(retry.task_id, try_number=2)})
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["failed", "failed"]


def test_a_retry_reattaches_to_the_noted_run_without_a_second_enhancement(registry, schema):
    class Crashing(CivisDataMatchOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash

    cfg = config(schema)
    first = Crashing(task_id="dm_retry", config=cfg, input_stage="universe",
                     output_stage="match1", poll_interval=0.3)
    with pytest.raises(WorkerCrash):
        first.execute({"ti": FakeTI("dm_retry", try_number=1)})
    [note] = registry.notes.values()
    assert note["run_id"] is not None and note["fingerprint"].startswith(
        f"civis_data_match:{schema}.{OUTPUT}__stg_match1:")

    # A different request under the same task instance (a cleared task after the form changed)
    # does not adopt it...
    assert data_match("dm_retry", {**cfg, "max_matches": 3}).fingerprint() != note["fingerprint"]
    # ...the same one does: the retry waits on the noted run.
    result = execute(data_match("dm_retry", cfg), {"ti": FakeTI("dm_retry", try_number=2)})
    assert result["state"] == "succeeded" and result["run_id"] == note["run_id"]
    [job] = enhancements(schema)
    assert len(job["runs"]) == 1, "Civis got one enhancement and one run"
    assert count(schema, f"{OUTPUT}__stg_match1") > 0
    assert registry.notes == {}


def test_a_crash_before_the_run_started_runs_the_created_enhancement(registry, schema):
    class CrashAfterCreate(CivisDataMatchOperator):
        def _note_job(self, job_id, ti, **kwargs):
            super()._note_job(job_id, ti, **kwargs)
            raise WorkerCrash  # the job exists in Civis, its run was never started

    cfg = config(schema)
    with pytest.raises(WorkerCrash):
        CrashAfterCreate(task_id="dm_created", config=cfg, input_stage="universe",
                         output_stage="match1").execute({"ti": FakeTI("dm_created")})
    [job] = enhancements(schema)
    assert job["runs"] == []
    result = execute(data_match("dm_created", cfg, deferrable=False),
                     {"ti": FakeTI("dm_created", try_number=2)})
    assert result["state"] == "succeeded" and result["job_id"] == job["id"]
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["succeeded"]


def test_a_run_started_but_never_noted_is_adopted_not_started_again(registry, schema):
    class CrashBeforeNotingTheRun(CivisDataMatchOperator):
        def _note(self, run, context):
            raise WorkerCrash  # Civis started the run; the note still says "no run"

    cfg = config(schema)
    with pytest.raises(WorkerCrash):
        CrashBeforeNotingTheRun(task_id="dm_unnoted", config=cfg, input_stage="universe",
                                output_stage="match1").execute({"ti": FakeTI("dm_unnoted")})
    [note] = registry.notes.values()
    assert note["run_id"] is None
    result = execute(data_match("dm_unnoted", cfg, deferrable=False),
                     {"ti": FakeTI("dm_unnoted", try_number=2)})
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["succeeded"], "one run, adopted by the retry"
    assert result["state"] == "succeeded" and result["run_id"] == job["runs"][0]["id"]


def test_cass_ncoa_standardises_one_chunk_and_names_it(registry, schema):
    op = CivisCassNcoaOperator(task_id="cass", config=config(schema), chunk=1, poll_interval=0.3)
    result = execute(op, {"ti": FakeTI("cass", map_index=1)})
    assert result["state"] == "succeeded" and result["chunk"] == 1
    assert result["output_table"] == f"{schema}.{OUTPUT}__stg_cass_1"
    with psycopg.connect(postgres.dsn("civis")) as conn:
        ids = [r[0] for r in conn.execute(
            f"SELECT source_id::int FROM {schema}.{OUTPUT}__stg_cass_1 ORDER BY 1")]
    assert ids == list(range(21, 41)), "only the chunk's rows (limitingSQL)"
    [job] = enhancements(schema)
    assert job["kind"] == "cass_ncoa" and job["name"].endswith(" chunk 1")


def test_a_noted_run_that_failed_is_run_again_on_the_same_enhancement(registry, schema):
    class Crashing(CivisDataMatchOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash

    cfg = config(schema, match_target_id=999)  # every run of this job fails in Civis
    with pytest.raises(WorkerCrash):
        Crashing(task_id="dm_rerun", config=cfg, input_stage="universe",
                 output_stage="match1").execute({"ti": FakeTI("dm_rerun")})
    [job] = enhancements(schema)
    for _ in range(100):  # the noted run fails while no worker watches it
        if civis_standin.job_runs(job["id"])[0]["state"] == "failed":
            break
        time.sleep(0.1)
    with pytest.raises(AirflowException, match="Match target 999 not found"):
        execute(data_match("dm_rerun", cfg), {"ti": FakeTI("dm_rerun", try_number=2)})
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["failed", "failed"], "a new run, same job"


def test_killing_the_deferred_task_cancels_the_enhancement_run(registry, schema):
    op = data_match("dm_kill", config(schema))
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI(op.task_id)})
    trigger = deferred.value.trigger
    asyncio.run(trigger.on_kill())  # what the triggerer calls when a user kills the task
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["cancelled"]


class RunNotesFail(MemoryRegistry):
    """Notes a job (no run yet), but cannot note a run: the store failed in between."""

    def save(self, ti, record) -> None:
        if record.get("run_id") is not None:
            raise OSError("the Variable store is down")
        super().save(ti, record)


def test_a_run_that_cannot_be_noted_is_cancelled_and_its_job_kept(schema, monkeypatch):
    """The job stays noted, so the retry runs it again: one enhancement, not one per try."""
    store = RunNotesFail()
    monkeypatch.setattr(CivisRunOperator, "registry", store)
    cfg = config(schema)
    with pytest.raises(AirflowException, match="was cancelled so that a retry starts one run"):
        data_match("dm_unnotable", cfg).execute({"ti": FakeTI("dm_unnotable")})
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["cancelled"]
    assert [n["job_id"] for n in store.notes.values()] == [job["id"]]

    store_ok = MemoryRegistry()  # the store is back
    store_ok.notes = store.notes
    monkeypatch.setattr(CivisRunOperator, "registry", store_ok)
    result = execute(data_match("dm_unnotable", cfg, deferrable=False),
                     {"ti": FakeTI("dm_unnotable", try_number=2)})
    assert result["state"] == "succeeded" and result["job_id"] == job["id"]
    [job] = enhancements(schema)
    assert [r["state"] for r in job["runs"]] == ["cancelled", "succeeded"]


CRASH_DAG = '''
"""Temporary DAG for test_civis_enhancement_operators: a worker crash right after the Data
Match job was created and noted, before its run started."""
import json
import os
import signal

import pendulum
from airflow.sdk import DAG

from precinct.operators.enhancements import CivisDataMatchOperator


class CrashAfterCreate(CivisDataMatchOperator):
    def _note_job(self, job_id, ti, **kwargs):
        super()._note_job(job_id, ti, **kwargs)
        if kwargs.get("before_run") and os.environ.get("CIVIS_TEST_CRASH") == "1":
            os.kill(os.getpid(), signal.SIGKILL)  # the job is in Civis and noted, no run yet


with DAG("enhancement_reattach_probe", schedule=None, catchup=False,
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    CrashAfterCreate(task_id="match", config=json.loads(os.environ["CIVIS_TEST_CONFIG"]),
                     input_stage="universe", output_stage="match1", poll_interval=0.3)
'''


def test_a_created_enhancement_survives_a_killed_airflow_process(airflow_db, schema,
                                                                  tmp_path: Path):
    """A real task instance (real task runner, the note in an Airflow Variable), its process
    SIGKILLed right after Civis created the Data Match job and the job was noted, before the
    run started; then the same task instance run again (deferring, the trigger inline): the
    noted job is run, no second enhancement, and the note is cleared."""
    (tmp_path / "enhancement_reattach_probe.py").write_text(CRASH_DAG)
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path),
           "CIVIS_TEST_CONFIG": json.dumps(config(schema))}
    run_id = f"manual__enhancement_{schema}"
    note = f"precinct_civis_run.enhancement_reattach_probe.match.-1.{run_id}"
    try:
        for command in (("dags", "reserialize"),
                        ("dags", "trigger", "enhancement_reattach_probe", "--run-id", run_id)):
            result = run_airflow(*command, extra_env=env)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

        crashed = run_airflow("tasks", "test", "enhancement_reattach_probe", "match", run_id,
                              extra_env={**env, "CIVIS_TEST_CRASH": "1"})
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        [job] = enhancements(schema)
        assert job["kind"] == "civis_data_match" and job["runs"] == []
        noted = run_airflow("variables", "get", note, extra_env=env)
        assert noted.returncode == 0, noted.stderr[-2000:]
        record = json.loads(noted.stdout.strip().splitlines()[-1])
        assert record["job_id"] == job["id"] and record["run_id"] is None

        again = run_airflow("tasks", "test", "enhancement_reattach_probe", "match", run_id,
                            extra_env=env)
        output = again.stdout + again.stderr
        assert again.returncode == 0, output[-3000:]
        assert f"Started a new run of Civis Data Match job {job['id']}" in output, output[-3000:]
        [job] = enhancements(schema)
        assert [r["state"] for r in job["runs"]] == ["succeeded"], "one enhancement, one run"
        assert count(schema, f"{OUTPUT}__stg_match1") > 30
        notes = run_airflow("variables", "list", "-o", "plain", extra_env=env).stdout
        assert note not in notes
    finally:
        run_airflow("variables", "delete", note, extra_env=env)  # only if the test failed
        run_airflow("dags", "delete", "enhancement_reattach_probe", "--yes", extra_env=env)
