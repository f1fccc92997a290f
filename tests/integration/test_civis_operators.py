"""CivisRunOperator, CivisQueryOperator and CivisRunTrigger against the devstack Civis stand-in.

Most tests execute the operators in-process (`execute`, the trigger driven with asyncio, then
`execute_complete`) with an in-memory note store in place of Airflow Variables. One test runs a
real `airflow dags test` from a temporary DAG folder, kills that process right after the run
has started (a worker crash), runs the same DAG run again and checks that Civis got exactly one
run: that one uses the real Variable-backed note.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import psycopg.sql
import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, TaskDeferred

from devstack import civis as civis_standin
from devstack import postgres
from precinct.hooks.civis import CivisHook
from precinct.operators import civis as civis_operators
from precinct.operators.civis import CivisQueryOperator, CivisRunOperator
from precinct.triggers.civis import CivisRunTrigger
from tests.integration.civis_support import (
    FakeTI,
    MemoryRegistry,
    WorkerCrash,
    execute,
    run_trigger,
)
from tests.support import run_airflow

pytestmark = pytest.mark.integration


def job(**behaviour) -> int:
    behaviour.setdefault("queued_seconds", 0.1)
    behaviour.setdefault("running_seconds", 0.6)
    return civis_standin.create_job(behaviour.pop("kind", "container"), "operator test",
                                    **behaviour)["id"]


def unique(prefix: str) -> str:
    return f"{prefix}_{os.getpid()}_{time.monotonic_ns()}"


@pytest.mark.parametrize("deferrable", [True, False])
def test_run_succeeds(registry, deferrable):
    job_id = job()
    op = CivisRunOperator(task_id=unique("ok"), job_id=job_id, job_type="container",
                          deferrable=deferrable, poll_interval=0.2)
    result = execute(op, {"ti": FakeTI(op.task_id)})
    assert result["state"] == "succeeded" and result["job_id"] == job_id
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["succeeded"]
    assert registry.notes == {}, "the note is cleared once the run ended"


@pytest.mark.parametrize("deferrable", [True, False])
def test_failed_run_fails_the_task_with_civis_message(registry, deferrable):
    message = "ERROR: relation \"staging.signups\" does not exist"
    job_id = job(fail_message=message)
    op = CivisRunOperator(task_id=unique("fail"), job_id=str(job_id), deferrable=deferrable,
                          poll_interval=0.2)
    with pytest.raises(AirflowException) as error:
        execute(op, {"ti": FakeTI(op.task_id)})
    assert message in str(error.value)
    assert f"Civis run {civis_standin.job_runs(job_id)[0]['id']} of script job {job_id} failed" \
        in str(error.value)
    assert registry.notes == {}, "a retry starts a new run"


def test_execute_defers_while_the_run_is_still_going(registry):
    """The worker is released at once: execute hands the wait to the triggerer while Civis is
    still working (worker slot-seconds are measured in benchmarks/civis_runs.py)."""
    job_id = job(running_seconds=2)
    op = CivisRunOperator(task_id=unique("defer"), job_id=job_id, poll_interval=0.5)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute({"ti": FakeTI(op.task_id)})
    assert [r["state"] for r in civis_standin.job_runs(job_id)] in (["queued"], ["running"]), \
        "the task deferred while Civis was still working"
    trigger = deferred.value.trigger
    assert trigger.serialize()[1]["poll_first"] is False
    event = run_trigger(trigger)
    assert event["status"] == "success"
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["succeeded"]


def test_on_kill_cancels_the_civis_run(registry):
    job_id = job(running_seconds=120)
    op = CivisRunOperator(task_id=unique("kill"), job_id=job_id, deferrable=False,
                          poll_interval=0.2)
    outcome: dict[str, BaseException] = {}

    def worker() -> None:
        try:
            op.execute({"ti": FakeTI(op.task_id)})
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    for _ in range(100):
        runs = civis_standin.job_runs(job_id)
        if runs and runs[0]["state"] == "running":
            break
        time.sleep(0.1)
    op.on_kill()
    thread.join(timeout=30)
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["cancelled"]
    assert "cancelled" in str(outcome["error"])
    assert registry.notes == {}


def test_a_run_that_cannot_be_noted_is_cancelled_not_left_behind(devstack_env, monkeypatch):
    """A live run a retry could not find would get a second one beside it. Outside a task
    runner Airflow's Variables can be read (none is set) but not written: the real note store
    fails to save."""
    monkeypatch.setattr(CivisRunOperator, "registry", civis_operators.RunRegistry())
    job_id = job(running_seconds=120)
    op = CivisRunOperator(task_id=unique("unnoted"), job_id=job_id)
    with pytest.raises(AirflowException, match="was cancelled so that a retry starts one run"):
        op.execute({"ti": FakeTI(op.task_id)})
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["cancelled"]


class UnreadableRegistry(MemoryRegistry):
    def load(self, ti):
        raise OSError("the Variable store is down")


def test_an_unreadable_note_store_starts_nothing(devstack_env, monkeypatch):
    monkeypatch.setattr(CivisRunOperator, "registry", UnreadableRegistry())
    job_id = job()
    op = CivisRunOperator(task_id=unique("no_store"), job_id=job_id, deferrable=False)
    with pytest.raises(AirflowException, match="Could not read the Civis re-attach note"):
        op.execute({"ti": FakeTI(op.task_id)})
    assert civis_standin.job_runs(job_id) == []


def test_trigger_on_kill_cancels_the_civis_run(devstack_env):
    job_id = job(running_seconds=120)
    run = CivisHook().start_run("script", job_id)
    trigger = CivisRunTrigger("script", job_id, run.run_id, poll_interval=0.2)
    asyncio.run(trigger.on_kill())
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["cancelled"]


def test_run_timeout_cancels_the_run(registry):
    job_id = job(running_seconds=120)
    op = CivisRunOperator(task_id=unique("timeout"), job_id=job_id, poll_interval=0.2,
                          run_timeout=1)
    with pytest.raises(AirflowException, match="did not finish within 1s; it was cancelled"):
        execute(op, {"ti": FakeTI(op.task_id)})
    assert [r["state"] for r in civis_standin.job_runs(job_id)] == ["cancelled"]


@pytest.mark.parametrize("deferrable", [True, False])
def test_reattaches_after_a_worker_crash(registry, deferrable):
    job_id = job(running_seconds=2)
    task_id = unique("reattach")

    class Crashing(CivisRunOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash

    first = Crashing(task_id=task_id, job_id=job_id, deferrable=deferrable, poll_interval=0.2)
    with pytest.raises(WorkerCrash):
        first.execute({"ti": FakeTI(task_id, try_number=1)})
    assert len(registry.notes) == 1

    # The retry: a fresh operator instance for the same task instance, next try.
    second = CivisRunOperator(task_id=task_id, job_id=job_id, deferrable=deferrable,
                              poll_interval=0.2)
    result = execute(second, {"ti": FakeTI(task_id, try_number=2)})
    runs = civis_standin.job_runs(job_id)
    assert len(runs) == 1, "Civis got exactly one run"
    assert result["run_id"] == runs[0]["id"] and result["state"] == "succeeded"
    assert registry.notes == {}


def test_a_run_noted_before_the_task_was_cleared_is_not_adopted(registry):
    job_id = job(running_seconds=0.5)
    task_id = unique("cleared")

    class Crashing(CivisRunOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash

    ti = FakeTI(task_id, try_number=1)
    ti.max_tries = 2  # the run's own series (retries=2)
    with pytest.raises(WorkerCrash):
        Crashing(task_id=task_id, job_id=job_id, deferrable=False, retries=2).execute(
            {"ti": ti})
    # Cleared after try 3: tries 4 to 6 are a new series and start their own run.
    cleared = FakeTI(task_id, try_number=4)
    cleared.max_tries = 5
    result = execute(CivisRunOperator(task_id=task_id, job_id=job_id, deferrable=False,
                                      retries=2, poll_interval=0.2), {"ti": cleared})
    runs = civis_standin.job_runs(job_id)
    assert len(runs) == 2 and result["run_id"] == runs[-1]["id"], "a new run, not the old one"
    assert result["state"] == "succeeded" and registry.notes == {}


def test_a_noted_run_that_failed_is_not_adopted(registry):
    job_id = job(fail_message="boom", fail_runs=1, running_seconds=0.2)
    task_id = unique("refail")

    class Crashing(CivisRunOperator):
        def on_run_started(self, run, context):
            raise WorkerCrash

    with pytest.raises(WorkerCrash):
        Crashing(task_id=task_id, job_id=job_id, deferrable=False).execute(
            {"ti": FakeTI(task_id)})
    time.sleep(1)  # the first run fails meanwhile
    result = execute(CivisRunOperator(task_id=task_id, job_id=job_id, deferrable=False,
                                      poll_interval=0.2), {"ti": FakeTI(task_id, 2)})
    states = [r["state"] for r in civis_standin.job_runs(job_id)]
    assert states == ["failed", "succeeded"] and result["state"] == "succeeded"


def test_a_noted_run_that_civis_no_longer_has_is_not_adopted(registry):
    job_id = job(running_seconds=0.2)
    op = CivisRunOperator(task_id=unique("gone"), job_id=job_id, job_type="container",
                          deferrable=False, poll_interval=0.2)
    ti = FakeTI(op.task_id)
    registry.save(ti, {"job_type": "container", "job_id": job_id, "run_id": 987654321,
                       "fingerprint": op.fingerprint()})
    assert execute(op, {"ti": ti})["state"] == "succeeded"
    assert len(civis_standin.job_runs(job_id)) == 1 and registry.notes == {}


def test_query_operator_runs_sql_on_postgresql_and_the_result_is_readable(registry, tmp_path,
                                                                          monkeypatch):
    table = unique("query_op")
    sql_dir = tmp_path / "include_sql"
    (sql_dir / "civis_test").mkdir(parents=True)
    (sql_dir / "civis_test" / "load.sql").write_text(textwrap.dedent("""\
        create table public.{{ params.table }} (id int, label text);
        insert into public.{{ params.table }}
        select n, 'row ' || n from generate_series(1, {{ params.rows }}) as n;
        select count(*) as loaded, sum(id) as total from public.{{ params.table }};
        """))
    monkeypatch.setattr(civis_operators, "INCLUDE_SQL_DIR", sql_dir)
    with DAG("civis_query_test", schedule=None) as dag:
        op = CivisQueryOperator(task_id=unique("query"), sql="civis_test/load.sql",
                                database=civis_standin.DATABASE, poll_interval=0.2)
    context = {"ti": FakeTI(op.task_id), "params": {"table": table, "rows": 25}}
    op.render_template_fields(context, dag.get_template_env())
    assert f"create table public.{table}" in op.sql, "the file under include/sql/ was rendered"
    result = execute(op, context)
    assert result["state"] == "succeeded"
    name = psycopg.sql.Identifier("public", table)
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        count = psycopg.sql.SQL("select count(*) from {}").format(name)
        assert conn.execute(count).fetchone() == (25,)
        conn.execute(psycopg.sql.SQL("drop table {}").format(name))
    [output] = result["output"]
    assert output["object_type"] == "File"
    hook = CivisHook()
    client = hook.get_conn()
    url = client.files.get(output["object_id"])["download_url"]
    import gzip
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - stand-in URL
        assert gzip.decompress(response.read()).decode() == "loaded,total\n25,325\n"


def test_query_operator_fails_with_the_database_error(registry):
    op = CivisQueryOperator(task_id=unique("badquery"), sql="select * from missing_table_x",
                            database=civis_standin.DATABASE, poll_interval=0.2)
    with pytest.raises(AirflowException, match='relation "missing_table_x" does not exist'):
        execute(op, {"ti": FakeTI(op.task_id)})


CRASH_DAG = '''
"""Temporary DAG for test_civis_operators: a worker crash right after a Civis run started."""
import os
import signal

import pendulum
from airflow.sdk import DAG

from precinct.operators.civis import CivisQueryOperator, CivisRunOperator


class CrashAfterStart(CivisRunOperator):
    def on_run_started(self, run, context):
        if os.environ.get("CIVIS_TEST_CRASH") == "1":
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies, the note stays


with DAG("civis_reattach_probe", schedule=None, catchup=False,
         start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    query = CivisQueryOperator(
        task_id="query", sql="probe.sql", database="{{ params.database }}",
        params={"database": "redshift-general"}, poll_interval=0.3,
    )
    job = CrashAfterStart(
        task_id="job", job_id=int(os.environ["CIVIS_TEST_JOB_ID"]), job_type="container",
        deferrable=False, poll_interval=0.3,
    )
    query >> job
'''


def test_reattach_survives_a_killed_airflow_process(airflow_db, tmp_path: Path):
    """A real task instance (fixed run id), its process SIGKILLed right after the run started,
    then the same task instance run again: one Civis run, waited on, and the note cleared.
    The DAG's deferrable query task also runs under Airflow (trigger inline)."""
    job_id = job(running_seconds=20)
    (tmp_path / "civis_reattach_probe.py").write_text(CRASH_DAG)
    (tmp_path / "probe.sql").write_text("select {{ 40 + 2 }} as answer")
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(tmp_path), "CIVIS_TEST_JOB_ID": str(job_id)}
    run_id = unique("civis_probe")
    try:
        for command in (("dags", "reserialize"),
                        ("dags", "trigger", "civis_reattach_probe", "--run-id", run_id)):
            result = run_airflow(*command, extra_env=env)
            assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]

        crashed = run_airflow("tasks", "test", "civis_reattach_probe", "job", run_id,
                              extra_env={**env, "CIVIS_TEST_CRASH": "1"})
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        assert [r["state"] in ("queued", "running") for r in civis_standin.job_runs(job_id)] == [
            True]

        again = run_airflow("tasks", "test", "civis_reattach_probe", "job", run_id,
                            extra_env=env)
        output = again.stdout + again.stderr
        assert again.returncode == 0, output[-3000:]
        # The run is normally still running here; on a loaded machine the CLI's start-up can
        # outlast it, and re-attaching to the run that succeeded meanwhile is just as right.
        assert re.search(r"Re-attaching to Civis container \d+ run \d+ \((running|succeeded)\)",
                         output), output[-3000:]
        runs = civis_standin.job_runs(job_id)
        assert [r["state"] for r in runs] == ["succeeded"], "exactly one Civis run"
        notes = run_airflow("variables", "list", "-o", "plain", extra_env=env).stdout
        assert f"precinct_civis_run.civis_reattach_probe.job.-1.{run_id}" not in notes

        query = run_airflow("tasks", "test", "civis_reattach_probe", "query", run_id,
                            extra_env=env)
        output = query.stdout + query.stderr
        assert query.returncode == 0, output[-3000:]
        assert "Pausing task as DEFERRED" in output and "Trigger completed" in output
    finally:
        note = f"precinct_civis_run.civis_reattach_probe.job.-1.{run_id}"
        run_airflow("variables", "delete", note, extra_env=env)  # only if the test failed
        run_airflow("dags", "delete", "civis_reattach_probe", "--yes", extra_env=env)
