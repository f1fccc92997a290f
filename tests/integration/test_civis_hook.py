"""CivisHook against the devstack Civis stand-in (and its PostgreSQL `civis` database).

Jobs are created per test through the stand-in's admin endpoints and faults are scoped to a
test's own paths, so these tests can share the stand-in with others.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time

import psycopg
import pytest

from devstack import civis as civis_standin
from devstack import postgres
from precinct.hooks.civis import (
    CivisHook,
    CivisHookError,
    CivisRunFailed,
    build_client,
)

pytestmark = pytest.mark.integration

WRONG_KEY = "wrong-civis-key-7d2e1f0c9b8a"


@pytest.fixture
def hook(devstack_env) -> CivisHook:
    return CivisHook(max_backoff=0.5)


@pytest.fixture
def wrong_key_conn(devstack_env, monkeypatch) -> str:
    good = devstack_env["AIRFLOW_CONN_CIVIS_DEFAULT"]
    monkeypatch.setenv("AIRFLOW_CONN_CIVIS_WRONG_KEY",
                       good.replace(civis_standin.API_KEY, WRONG_KEY))
    return "civis_wrong_key"


def quick_job(kind: str = "container", **behaviour) -> int:
    behaviour.setdefault("queued_seconds", 0.1)
    behaviour.setdefault("running_seconds", 0.5)
    return civis_standin.create_job(kind, f"hook test {kind}", **behaviour)["id"]


def statuses(prefix: str, since: float) -> list[int]:
    return [c["status"] for c in civis_standin.calls(since=since, prefix=prefix, log=True)["log"]]


def test_client_is_built_offline_for_the_connection_url(hook):
    before = os.environ.get("CIVIS_API_ENDPOINT")
    since = time.time()
    client = hook.get_conn()
    assert client.workflows._base_url == hook.base_url == civis_standin.SERVICE.url + "/"
    assert os.environ.get("CIVIS_API_ENDPOINT") == before, "the variable is restored"
    assert civis_standin.calls(since=since, prefix="/endpoints")["total"] == 0
    ok, message = hook.test_connection()
    assert ok, message


def test_concurrent_builds_keep_each_clients_url():
    urls = [f"http://region-{i}.civis.test/" for i in range(4)]
    results: dict[int, str] = {}

    def build(i: int) -> None:
        client = build_client("k", urls[i % 4])
        results[i] = {client.jobs._base_url, client.scripts._base_url}

    threads = [threading.Thread(target=build, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results[i] == {urls[i % 4]} for i in range(8)), results


def test_wrong_key_gets_401_and_the_key_never_shows(wrong_key_conn, hook, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("civis", "urllib3", "requests", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    job_id = quick_job()
    bad = CivisHook(wrong_key_conn, max_backoff=0.1)
    with pytest.raises(CivisHookError) as sync_error:
        bad.start_run("container", job_id)
    assert sync_error.value.status_code == 401
    assert "invalid or expired" in str(sync_error.value)

    async def poll():
        try:
            return await bad.aget_run("container", job_id, 1)
        finally:
            await bad.aclose()

    with pytest.raises(CivisHookError) as async_error:
        asyncio.run(poll())
    assert async_error.value.status_code == 401
    # Nothing was started with the wrong key.
    assert civis_standin.job_runs(job_id) == []

    # The good hook does real work, with debug logging on.
    run = hook.start_run("container", job_id)
    hook.cancel_run("container", job_id, run.run_id)

    out, err = capfd.readouterr()
    seen = "\n".join([out, err, caplog.text, str(sync_error.value), repr(sync_error.value),
                      str(async_error.value), repr(bad), repr(hook)])
    assert WRONG_KEY not in seen
    assert civis_standin.API_KEY not in seen
    assert sync_error.value.__cause__ is None and sync_error.value.__suppress_context__


def test_429_with_retry_after_then_success(hook):
    job_id = quick_job()
    run = hook.start_run("script", job_id)
    path = f"/jobs/{job_id}/runs/{run.run_id}"
    civis_standin.inject_fault(429, count=2, retry_after=1, method="GET", path=path)
    since = time.time()
    started = time.monotonic()
    again = hook.get_run("script", job_id, run.run_id)
    assert again.run_id == run.run_id
    assert time.monotonic() - started >= 2.0, "Retry-After (1 s) was honoured twice"
    assert statuses(path, since) == [429, 429, 200]


def test_async_429_then_success(hook):
    job_id = quick_job()
    run = hook.start_run("container", job_id)
    path = f"/scripts/containers/{job_id}/runs/{run.run_id}"
    civis_standin.inject_fault(429, count=2, retry_after=1, method="GET", path=path)
    since = time.time()

    async def poll():
        try:
            started = time.monotonic()
            result = await hook.aget_run("container", job_id, run.run_id)
            return result, time.monotonic() - started
        finally:
            await hook.aclose()

    again, took = asyncio.run(poll())
    assert again.run_id == run.run_id and took >= 2.0
    assert statuses(path, since) == [429, 429, 200]


def test_500_on_a_read_is_retried_by_the_hook(hook):
    job_id = quick_job()
    run = hook.start_run("script", job_id)
    path = f"/jobs/{job_id}/runs/{run.run_id}"
    civis_standin.inject_fault(500, count=1, retry_after=None, method="GET", path=path)
    since = time.time()
    assert hook.get_run("script", job_id, run.run_id).run_id == run.run_id
    assert statuses(path, since) == [500, 200]


def test_async_500_on_a_read_is_retried_like_the_sync_one(hook):
    job_id = quick_job()
    path = f"/jobs/{job_id}"
    civis_standin.inject_fault(500, count=1, retry_after=None, method="GET", path=path)
    since = time.time()

    async def read():
        try:
            return await hook.aget(f"jobs/{job_id}")
        finally:
            await hook.aclose()

    assert asyncio.run(read())["id"] == job_id
    assert statuses(path, since) == [500, 200]


def test_async_500_on_a_post_is_not_retried(hook):
    workflow = civis_standin.create_workflow(
        "async 500 on cancel", "version: '2.0'\n",
        executions=[{"state": "running", "started_at": "2026-01-01T00:00:00Z"}])
    execution = workflow["executions"][0]
    path = f"/workflows/{workflow['id']}/executions/{execution}/cancel"
    civis_standin.inject_fault(500, count=1, retry_after=None, method="POST", path=path)
    since = time.time()

    async def cancel():
        try:
            await hook.acancel_run("workflow", workflow["id"], execution)
        finally:
            await hook.aclose()

    with pytest.raises(CivisHookError) as error:
        asyncio.run(cancel())
    assert error.value.status_code == 500
    assert statuses(path, since) == [500]


def test_a_failed_start_is_not_retried_so_no_second_run(hook):
    job_id = quick_job()
    path = f"/jobs/{job_id}/runs"
    civis_standin.inject_fault(502, count=1, retry_after=None, method="POST", path=path)
    since = time.time()
    with pytest.raises(CivisHookError) as error:
        hook.start_run("script", job_id)
    assert error.value.status_code == 502
    assert statuses(path, since) == [502]
    assert civis_standin.job_runs(job_id) == []


def test_failed_run_carries_civis_error_message(hook):
    message = "Container exited with status 1: KeyError: 'van_id'"
    job_id = quick_job(fail_message=message)
    run = hook.start_run("container", job_id)
    final = hook.wait_for_run("container", job_id, run.run_id, poll_interval=0.2, timeout=30)
    assert final.state == "failed" and final.error == message
    assert message in final.describe_failure()


def test_cancel_run(hook):
    job_id = quick_job(running_seconds=60)
    run = hook.start_run("script", job_id)
    hook.cancel_run("script", job_id, run.run_id)
    assert hook.get_run("script", job_id, run.run_id).state == "cancelled"


@pytest.mark.parametrize("kind", ["script", "container", "python3", "custom", "import", "sql",
                                  "workflow"])
def test_every_job_type_starts_and_finishes(hook, kind):
    if kind == "workflow":
        wf = civis_standin.create_workflow(
            "hook test workflow",
            "version: '2.0'\nworkflow:\n  tasks:\n    only:\n      action: civis.run_job\n",
            queued_seconds=0.1, running_seconds=0.3)
        job_id = wf["id"]
    elif kind == "script":
        job_id = quick_job("python3")
    elif kind == "sql":
        job_id = hook.create_sql_script("select 1", civis_standin.DATABASE, name="hook kinds")
    else:
        job_id = quick_job(kind)
    run = hook.start_run(kind, job_id)
    final = hook.wait_for_run(kind, job_id, run.run_id, poll_interval=0.2, timeout=30)
    assert final.state == "succeeded", final
    assert hook.list_runs(kind, job_id, limit=5)[0].run_id == run.run_id


def test_sql_runs_on_postgresql_and_reads_back(hook):
    table = f"public.hook_test_{os.getpid()}_{int(time.time())}"  # generated, not user input
    load = f"create table {table} (id int, name text); insert into {table} values (1, 'Ada'), (2, 'Grace');"  # noqa: E501, S608 - generated name
    run = hook.run_sql(load, civis_standin.DATABASE, poll_interval=0.2, timeout=60)
    assert run.succeeded
    select = f"select id, name from {table} order by id"  # noqa: S608 - generated name
    with psycopg.connect(postgres.dsn("civis")) as conn:
        rows = conn.execute(select).fetchall()
    assert rows == [(1, "Ada"), (2, "Grace")]
    assert hook.read_sql(select, civis_standin.DATABASE, polling_interval=0.2) == [
        ["id", "name"], ["1", "Ada"], ["2", "Grace"]]
    frame = hook.read_sql(select, civis_standin.DATABASE, return_as="pandas",
                          polling_interval=0.2)
    assert list(frame["name"]) == ["Ada", "Grace"] and list(frame["id"]) == [1, 2]
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"drop table {table}")


def test_sql_error_surfaces_postgresql_message(hook):
    with pytest.raises(CivisRunFailed) as error:
        hook.run_sql("select * from no_such_table_anywhere", civis_standin.DATABASE,
                     poll_interval=0.2, timeout=60)
    assert 'relation "no_such_table_anywhere" does not exist' in str(error.value)
    with pytest.raises(CivisHookError, match="not found"):
        hook.database_id("no-such-database")


def test_listing_pages_by_the_pagination_headers(hook):
    for i in range(3):
        civis_standin.create_workflow(f"paging {i}", "version: '2.0'\n")
    hook.api_calls = 0
    items = list(hook.paged("workflows", "list", limit=2))
    ids = [w["id"] for w in items]
    assert len(ids) == len(set(ids)) >= 3
    assert hook.api_calls == math.ceil(len(ids) / 2), "no extra request for an empty page"
    assert {w["id"] for w in hook.list_workflows()} == set(ids)


def test_async_list_reads_every_page_once_in_order(hook):
    for i in range(5):
        civis_standin.create_workflow(f"async paging {i}", "version: '2.0'\n")
    expected = [w["id"] for w in hook.paged("workflows", "list", limit=2, order="created_at",
                                            order_dir="asc")]
    hook.api_calls = 0

    async def read():
        try:
            return await hook.alist("workflows", limit=2, concurrency=3, order="created_at",
                                    order_dir="asc")
        finally:
            await hook.aclose()

    assert [w["id"] for w in asyncio.run(read())] == expected
    assert hook.api_calls == math.ceil(len(expected) / 2), "one request per page, no empty one"
