"""Benchmark: one Civis workflow audit vs the naive approach, 1,000 workflows / 3,000 jobs.

Starts a PRIVATE Civis stand-in (its own port, so the shared devstack one is not disturbed),
seeds 1,000 workflows with about 3 jobs each, adds 50 ms latency to every API call, then
measures side by side:

- the audit's collection (`precinct.operators.audit.collect`, 16 reads at a time over the
  hook's async client) plus its computation, cold (no definition cache: every definition is
  read) and warm (the previous audit's parsed definitions, as the DAG keeps them between runs);
  both read every audited workflow's executions, which the naive approach does not;
- the naive approach: one paged workflows list, then one `GET /workflows/{id}` per workflow and
  one `GET /jobs/{id}` per job of their definitions, in sequence.

Calls are counted by the stand-in itself, in total and per endpoint (printed, and in the JSON
line's metrics). Beside them, the floor of a cold audit on this API: the workflow list's pages,
one definition read per audited workflow and one executions read per audited workflow that has
run (the spec has no endpoint returning definitions or executions of many workflows at once).
Also printed (metrics, no target): the JSON bytes of the XComs an audit stores in the metadata
DB on every run: collect's return value, its definition cache, and compute's return value (the
rows for the write and mail tasks). Targets (issue 7): the audit under 60 s, and at most a third
of the naive approach's calls and time, cold and warm; `met` is true only if every one holds.
Ends with one JSON line.

    .venv/bin/python benchmarks/audit.py [--workflows 1000] [--repeat 3] [--naive-repeat 1]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
os.environ.setdefault("AIRFLOW_HOME", str(REPO))

from devstack import civis, postgres  # noqa: E402

LATENCY = 0.05
CONN_ID = "civis_audit_bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin(url: str, method: str, path: str, body: object = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}/__admin{path}", data=data, method=method,  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=120) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read() or b"null")


def start_standin(port: int) -> subprocess.Popen:
    env = {**os.environ, "CIVIS_STANDIN_API_KEYS": civis.API_KEY,
           "CIVIS_STANDIN_DSN": postgres.dsn("civis"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "devstack.civis_standin", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            admin(url, "GET", "/health")
            return proc
        except OSError:
            if proc.poll() is not None:
                detail = proc.stderr.read().decode()[-2000:]
                raise SystemExit(f"stand-in exited: {detail}") from None
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("stand-in did not start")


def calls(url: str) -> int:
    return int(admin(url, "GET", "/calls")["total"])


def calls_by_endpoint(url: str) -> dict[str, int]:
    """The stand-in's call counts since the last reset, per `METHOD /spec/path`."""
    routes = admin(url, "GET", "/calls")["by_route"]
    return dict(sorted(routes.items(), key=lambda kv: (-kv[1], kv[0])))


def json_bytes(value: object) -> int:
    """The size of an XCom as the metadata DB stores it (JSON, Airflow's default separators)."""
    return len(json.dumps(value).encode())


def run_audit(url: str, cache: dict | None) -> tuple[float, int, dict]:
    from precinct.audit import build
    from precinct.hooks.civis import CivisHook
    from precinct.operators.audit import NEVER_RAN_STATES, collect, collect_xcoms, compute_task

    admin(url, "POST", "/calls/reset")
    started = time.perf_counter()
    collected = collect(CivisHook(CONN_ID), [], cache)
    rows, jobs = build(collected, datetime.now(UTC))
    seconds = time.perf_counter() - started
    assert len(rows) == len(collected["workflows"])
    xcoms = collect_xcoms(collected)
    computed = compute_task(xcoms["return_value"], now=datetime.now(UTC))
    xcom_bytes = {"collect": json_bytes(xcoms["return_value"]),
                  "definitions": json_bytes(xcoms["definitions"]),
                  "compute": json_bytes(computed)}
    by_endpoint = calls_by_endpoint(url)
    ran = sum(w.get("state") not in NEVER_RAN_STATES for w in collected["workflows"])
    floor = by_endpoint.get("GET /workflows", 0) + len(collected["workflows"]) + ran
    return seconds, calls(url), {"collected": collected, "rows": len(rows), "jobs": len(jobs),
                                 "by_endpoint": by_endpoint, "floor": floor,
                                 "cache": xcoms["definitions"], "xcom_bytes": xcom_bytes}


def run_naive(url: str) -> tuple[float, int, int, dict[str, int]]:
    from precinct.audit import job_ids_from_definition
    from precinct.hooks.civis import CivisHook, CivisHookError

    hook = CivisHook(CONN_ID)
    admin(url, "POST", "/calls/reset")
    started = time.perf_counter()
    listed = list(hook.list_workflows())
    job_ids: list[int] = []
    for item in listed:
        detail = hook.get_workflow(item["id"])
        job_ids += job_ids_from_definition(detail.get("definition")).job_ids
    for job_id in job_ids:
        try:
            hook.get_job(job_id)
        except CivisHookError:
            pass
    return time.perf_counter() - started, calls(url), len(job_ids), calls_by_endpoint(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--workflows", type=int, default=1000)
    parser.add_argument("--jobs-per-workflow", type=float, default=3.5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--naive-repeat", type=int, default=1)
    args = parser.parse_args()

    import logging

    logging.disable(logging.WARNING)
    port = free_port()
    proc = start_standin(port)
    url = f"http://127.0.0.1:{port}"
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "generic", "host": f"{url}/", "password": civis.API_KEY})
    try:
        seeded = admin(url, "POST", "/seed", {"workflows": args.workflows,
                                              "jobs_per_workflow": args.jobs_per_workflow})
        admin(url, "POST", "/latency", {"seconds": LATENCY})
        print(f"seeded {seeded['workflows']} workflows, {seeded['jobs']} jobs; "
              f"{LATENCY * 1000:.0f} ms per call", flush=True)

        cold, warm = [], []
        cache = None
        endpoints: dict[str, dict[str, int]] = {}
        for i in range(args.repeat):
            seconds, n, info = run_audit(url, None)
            cold.append((seconds, n))
            endpoints["cold"] = info["by_endpoint"]
            floor = info["floor"]
            cache = info["cache"]
            xcom_bytes = info["xcom_bytes"]
            print(f"audit cold #{i + 1}: {seconds:.1f}s, {n} calls "
                  f"({info['rows']} workflow rows, {info['jobs']} job rows): "
                  f"{info['by_endpoint']}", flush=True)
            print(f"XCom (JSON bytes): collect {xcom_bytes['collect']:,} (return_value) + "
                  f"{xcom_bytes['definitions']:,} (definitions cache), compute "
                  f"{xcom_bytes['compute']:,}", flush=True)
            seconds, n, info = run_audit(url, cache)
            warm.append((seconds, n))
            endpoints["warm"] = info["by_endpoint"]
            print(f"audit warm #{i + 1}: {seconds:.1f}s, {n} calls: {info['by_endpoint']}",
                  flush=True)
        naive = []
        for i in range(args.naive_repeat):
            seconds, n, jobs, endpoints["naive"] = run_naive(url)
            naive.append((seconds, n))
            print(f"naive #{i + 1}: {seconds:.1f}s, {n} calls ({jobs} job gets): "
                  f"{endpoints['naive']}", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    def med(pairs: list, i: int) -> float:
        return statistics.median(p[i] for p in pairs)

    metrics = {
        "workflows": seeded["workflows"], "jobs": seeded["jobs"], "latency_ms": LATENCY * 1000,
        "audit_cold_seconds": round(med(cold, 0), 2), "audit_cold_calls": med(cold, 1),
        "audit_warm_seconds": round(med(warm, 0), 2), "audit_warm_calls": med(warm, 1),
        "naive_seconds": round(med(naive, 0), 2), "naive_calls": med(naive, 1),
        "cold_floor_calls": floor,
        "collect_xcom_bytes": xcom_bytes["collect"],
        "definitions_xcom_bytes": xcom_bytes["definitions"],
        "compute_xcom_bytes": xcom_bytes["compute"],
    }
    metrics["cold_floor_ratio"] = round(floor / metrics["naive_calls"], 3)
    for kind in ("cold", "warm"):
        metrics[f"{kind}_calls_ratio"] = round(
            metrics[f"audit_{kind}_calls"] / metrics["naive_calls"], 3)
        metrics[f"{kind}_time_ratio"] = round(
            metrics[f"audit_{kind}_seconds"] / metrics["naive_seconds"], 3)
    for kind in ("cold", "warm", "naive"):
        metrics[f"{kind}_calls_by_endpoint"] = endpoints[kind]
    targets = {
        "audit_cold_seconds": "<= 60", "audit_warm_seconds": "<= 60",
        "cold_time_ratio": "<= 0.333", "warm_time_ratio": "<= 0.333",
        "warm_calls_ratio": "<= 0.333", "cold_calls_ratio": "<= 0.333",
    }
    met = all(eval(f"{metrics[k]} {v}") for k, v in targets.items())  # noqa: S307 - our literals
    print(json.dumps({"benchmark": "audit", "metrics": metrics, "targets": targets,
                      "met": met}))


if __name__ == "__main__":
    main()
