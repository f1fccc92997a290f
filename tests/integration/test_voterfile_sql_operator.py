"""VoterfileSqlOperator (voterfile_match's write steps) against the devstack Civis stand-in.

The operator, hook, trigger and HTTP calls are real; the stand-in runs each step's SQL script on
the devstack PostgreSQL (the Redshift stand-in). As in test_civis_operators, the operator runs
in-process (execute, the trigger re-created from its serialized form, then `execute_complete`)
with an in-memory re-attach note in place of the Airflow Variable; one test runs publish under a
real task runner (`airflow tasks test`, the note in a real Variable), SIGKILLs it right after its
script started and runs the task instance again. SQL scripts started are counted in the stand-in
(`/__admin/jobs`); outcomes are rows in the tables.
"""

# The test schema's name is generated here (uuid hex), never user input.
# ruff: noqa: S608
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import TaskDeferred

from devstack import civis as civis_standin
from devstack import postgres
from devstack.seed_voterfile import MATCH_TARGET_ID, ensure_seeded
from precinct.operators.voterfile_sql import VoterfileSqlOperator
from precinct.voterfile import sql
from precinct.voterfile.validation import parse_params
from tests.integration.civis_support import FakeTI, WorkerCrash, execute
from tests.support import REPO, airflow_env, run_airflow

pytestmark = pytest.mark.integration
OUTPUT = "signups_matched"
RUN_ID = "manual__2026-11-03T10:00:00+00:00"
QA_OK = {"publish": True, "match_rate": 0.9}


@pytest.fixture(scope="module")
def seeded(devstack_env) -> None:
    ensure_seeded()


@pytest.fixture
def schema(seeded):
    """The tables publish reads, as the earlier steps leave them: the history table, 30 kept
    first-pass matches and 10 second-pass ones (sign-up ids 1-40 of the seeded input)."""
    name = f"vfsqlop_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(sql.render(sql.create_history(match_config(name))))
        for best, ids in (("best1", (1, 30)), ("best2", (31, 40))):
            conn.execute(
                f"CREATE TABLE {name}.{OUTPUT}__stg_{best} AS SELECT id::varchar(256) AS "
                f"source_id, id::bigint AS person_id, ('VB' || id)::varchar(20) AS "
                f"voterbase_id, 0.9::numeric(6,4) AS score, TRUE AS extra_match FROM "
                f"demo.voterfile_signups WHERE id BETWEEN {ids[0]} AND {ids[1]}")
    yield name
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def match_config(schema: str):
    return parse_params({
        "input_table": "demo.voterfile_signups", "primary_key": "id",
        "first_name_column": "first_name", "last_name_column": "last_name",
        "output_table": f"{schema}.{OUTPUT}", "voterfile_table": "public.voterfile",
        "match_target": MATCH_TARGET_ID, "max_matches": 2, "rematch_threshold": 0.6,
        "cutoff": 0.4, "cass_ncoa": True, "match_rate_floor": 0.5, "cass_chunk_rows": 20,
    })


def config(schema: str) -> dict:
    """What the `validate` task returns."""
    return {**match_config(schema).to_dict(), "extra": {"database": civis_standin.DATABASE}}


def context(task_id: str, try_number: int = 1, **ti: Any) -> dict:
    fake = FakeTI(task_id, run_id=RUN_ID, try_number=try_number)
    for key, value in ti.items():
        setattr(fake, key, value)
    return {"ti": fake, "run_id": RUN_ID, "params": {},
            "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 3, 10))}


def publish(task_id: str, schema: str, cls: type = VoterfileSqlOperator,
            **kwargs: Any) -> VoterfileSqlOperator:
    return cls(task_id=task_id, step="publish", config=config(schema), qa=QA_OK,
               poll_interval=0.3, **kwargs)


def sql_scripts(task_id: str) -> list[dict]:
    """The SQL scripts the stand-in holds for this task (named `<dag_id>.<task_id>`)."""
    return [job for job in civis_standin.admin("GET", "/jobs")
            if job["kind"] == "sql" and str(job["name"]).endswith(f".{task_id}")]


def history(schema: str) -> tuple[int, int]:
    """(history rows, rows beyond one per (source_id, run_id, match_pass))."""
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return conn.execute(
            f"SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT (source_id, run_id, match_pass)) "
            f"FROM {schema}.{OUTPUT}_all_matches").fetchone()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("deferrable", [True, False])
def test_a_retry_after_a_worker_crash_reattaches_to_the_running_publish(registry, schema,
                                                                        deferrable):
    task_id = unique("publish_crash")

    class Crashing(VoterfileSqlOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash  # the worker dies right after Civis started the script

    first = publish(task_id, schema, Crashing, deferrable=deferrable)
    with pytest.raises(WorkerCrash):
        first.execute(context(task_id, try_number=1))
    assert len(registry.notes) == 1

    # The retry: a fresh operator instance for the same task instance, next try.
    second = publish(task_id, schema, deferrable=deferrable)
    result = execute(second, context(task_id, try_number=2))
    [script] = sql_scripts(task_id)  # no second script beside the first
    assert [r["state"] for r in civis_standin.job_runs(script["id"])] == ["succeeded"]
    assert result == {"published_rows": 40, "match_rate": 0.9}
    assert history(schema) == (40, 0)
    assert registry.notes == {}


def test_publish_run_twice_for_one_run_id_keeps_one_copy_of_the_history(registry, schema):
    task_id = unique("publish_twice")
    for try_number in (1, 2):  # the second: a new script (the first ended), same run id
        result = execute(publish(task_id, schema), context(task_id, try_number))
        assert result["published_rows"] == 40
    assert len(sql_scripts(task_id)) == 2
    assert history(schema) == (40, 0)  # 30 + 10 kept matches, once each


def test_killing_a_step_cancels_its_civis_run(registry, schema):
    """The publish script blocks on a lock held here; the task is killed while it waits:
    Civis cancels the run and nothing is written (no step left running after teardown)."""
    task_id = unique("publish_kill")
    op = publish(task_id, schema)
    with psycopg.connect(postgres.dsn("civis")) as lock:
        lock.execute(f"LOCK TABLE {schema}.{OUTPUT}_all_matches IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(TaskDeferred):  # started, and waiting in the triggerer
            op.execute(context(task_id))
        [script] = sql_scripts(task_id)
        op.on_kill()
        deadline = time.monotonic() + 10
        while (civis_standin.job_runs(script["id"])[0]["state"] != "cancelled"
               and time.monotonic() < deadline):
            time.sleep(0.2)
        lock.rollback()
    assert [r["state"] for r in civis_standin.job_runs(script["id"])] == ["cancelled"]
    assert history(schema) == (0, 0)
    assert registry.notes == {}


def test_the_fingerprint_follows_the_sql(registry, schema):
    """A noted run is adopted only for the same SQL: a changed form (after a clear) or another
    run date renders other SQL, so another fingerprint."""
    def fingerprint(cfg: dict, when: datetime) -> str:
        op = VoterfileSqlOperator(task_id="fp", step="publish", config=cfg, qa=QA_OK)
        ctx = {**context("fp"), "dag_run": SimpleNamespace(run_after=when)}
        op._match_config(ctx)
        op.sql = sql.render(op.build(op._match_config(ctx), ctx))
        return op.fingerprint()

    day = datetime(2026, 11, 3, 10)
    same = fingerprint(config(schema), day)
    assert fingerprint(config(schema), day) == same
    assert fingerprint(config(schema), datetime(2026, 11, 4, 10)) != same
    other = {**config(schema), "input_table": "voterfile_signups_small"}
    assert fingerprint(other, day) != same


CRASH_DAG = '''
"""Temporary DAG for test_voterfile_sql_operator: a worker crash right after publish's Civis SQL
script run started."""
import json
import os
import signal

import pendulum
from airflow.sdk import DAG

from precinct.operators.voterfile_sql import VoterfileSqlOperator


class CrashAfterStart(VoterfileSqlOperator):
    def on_run_started(self, run, context):
        if os.environ.get("CIVIS_TEST_CRASH") == "1":
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies, the script and note stay


with DAG("voterfile_sql_reattach_probe", schedule=None, catchup=False,
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    CrashAfterStart(task_id="publish", step="publish",
                    config=json.loads(os.environ["CIVIS_TEST_CONFIG"]),
                    qa={"publish": True, "match_rate": 0.9}, poll_interval=0.3)
'''


def test_a_publish_survives_a_killed_airflow_process(airflow_db, schema, tmp_path: Path):
    """A real task instance (real task runner, the note in an Airflow Variable), its process
    SIGKILLed right after publish's SQL script run started. The script waits on a lock held
    here until the same task instance, run again, has re-attached to it (still running): one
    script run, the 40 kept matches published once, and the note cleared."""
    (tmp_path / "voterfile_sql_reattach_probe.py").write_text(CRASH_DAG)
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path),
           "CIVIS_TEST_CONFIG": json.dumps(config(schema))}
    run_id = f"manual__publish_{schema}"
    note = f"precinct_civis_run.voterfile_sql_reattach_probe.publish.-1.{run_id}"
    task = ("tasks", "test", "voterfile_sql_reattach_probe", "publish", run_id)

    def scripts() -> list[dict]:  # this test's: the probe's publish scripts it started
        return [job for job in sql_scripts("publish") if job["id"] not in earlier]

    earlier = {job["id"] for job in sql_scripts("publish")}
    try:
        for command in (("dags", "reserialize"),
                        ("dags", "trigger", "voterfile_sql_reattach_probe", "--run-id", run_id)):
            result = run_airflow(*command, extra_env=env)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

        with psycopg.connect(postgres.dsn("civis")) as lock:
            lock.execute(f"LOCK TABLE {schema}.{OUTPUT}_all_matches IN ACCESS EXCLUSIVE MODE")
            crashed = run_airflow(*task, extra_env={**env, "CIVIS_TEST_CRASH": "1"})
            assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
            [script] = scripts()
            assert [r["state"] for r in civis_standin.job_runs(script["id"])] in (
                ["queued"], ["running"])

            again = subprocess.Popen(  # this interpreter's airflow CLI
                [sys.executable, "-m", "airflow", *task], env=airflow_env(env), cwd=REPO,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            # Should the retry start a second run (blocked on the lock), do not wait forever.
            watchdog = threading.Timer(90, again.kill)
            watchdog.start()
            output = []
            for line in again.stdout:  # the lock goes once the retry waits on the run
                output.append(line)
                if "Re-attaching to Civis" in line:
                    break
            lock.rollback()
        rest, _ = again.communicate(timeout=300)
        watchdog.cancel()
        output = "".join(output) + rest
        assert again.returncode == 0, output[-3000:]
        assert re.search(rf"Re-attaching to Civis \S+ {script['id']} run \d+ \(running\)",
                         output), output[-3000:]
        [script] = scripts()
        assert [r["state"] for r in civis_standin.job_runs(script["id"])] == ["succeeded"]
        assert history(schema) == (40, 0)
        with psycopg.connect(postgres.dsn("civis")) as conn:
            assert conn.execute(f"SELECT COUNT(*) FROM {schema}.{OUTPUT}").fetchone() == (40,)
        notes = run_airflow("variables", "list", "-o", "plain", extra_env=env).stdout
        assert note not in notes
    finally:
        run_airflow("variables", "delete", note, extra_env=env)  # only if the test failed
        run_airflow("dags", "delete", "voterfile_sql_reattach_probe", "--yes", extra_env=env)
