"""Benchmark: 50 concurrent CivisRunOperator tasks against the Civis stand-in.

A private Civis stand-in (devstack/civis_standin.py, a separate process on a free port, so its
call counter sees only this benchmark and the shared devstack is not disturbed) holds 50
container jobs whose runs take a few seconds (queued 0.5 s, running 3.3 s by default: 3.8 s, not
a multiple of the 1 s poll interval, so that polls do not line up with the runs' ends by luck).
The 50 tasks are run as Airflow runs them, in one process:

- worker slots: a pool of 50 threads stands for 50 worker slots; a task holds a slot while its
  `execute` (and, after deferral, `execute_complete`) runs;
- the triggerer: one asyncio event loop in its own thread; a deferred task's trigger is
  re-created from `serialize()` and run there, its event resumes the task in a worker slot.

(Running 50 real Airflow task processes plus a triggerer would not fit on a 2-core machine; the
operator, trigger, hook and HTTP calls are the real ones, only the scheduling around them is
simulated. The re-attach note store is in memory: Airflow Variables need a task runner.)

Measured, for deferrable mode (the target) and, for comparison, non-deferrable mode:

- worker slots held while waiting: the peak number of busy worker slots, sampled every 20 ms
  between the moment every run has started and the moment the first run finishes (target 0 in
  deferrable mode); plus the slot-seconds all tasks held in total;
- API calls per run, from the stand-in's own call log (every call on the job's paths: the start
  and each poll), against the budget 2 + runtime / poll interval, runtime being the run's own
  duration as Civis reports it (createdAt to finishedAt);
- overhead: each task's end-to-end time (execute start to completion) minus its run's own
  duration, split into start latency (task start to the run's createdAt: the start calls of 50
  tasks queue behind the civis client's process-wide request lock here, which separate task
  processes would not) and completion latency (finishedAt to the task's completion: polling
  granularity, at most one poll interval, plus resuming).

The civis client is built once up front (~0.6 s of CPU; in Airflow each task process builds
it once) so neither mode's figures include 50 threads waiting for that build.

Each mode runs `--repeats` times; figures are medians across repeats. Ends with one JSON line.

Usage: python benchmarks/civis_runs.py [--tasks 50] [--poll 1.0] [--queued 0.5] [--running 3.3]
       [--repeats 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

KEY = "civis-benchmark-key-5b0e7d21"
CONN_ID = "civis_benchmark"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateStandin:
    """The Civis stand-in in its own process, for this benchmark only."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "CIVIS_STANDIN_API_KEYS": KEY, "CIVIS_STANDIN_PLUGINS": "",
               "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devstack.civis_standin", "--port", str(self.port)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                self.admin("GET", "/health")
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(self.proc.stderr.read().decode()) from None
                time.sleep(0.1)
        raise RuntimeError("the Civis stand-in did not start")

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback stand-in
            f"{self.url}/__admin{path}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def parse_iso(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def run_scenario(standin: PrivateStandin, *, deferrable: bool, tasks: int, poll: float,
                 queued: float, running: float) -> dict[str, Any]:
    from airflow.sdk.exceptions import TaskDeferred

    from precinct.operators.civis import CivisRunOperator, RunRegistry
    from precinct.triggers.civis import CivisRunTrigger

    class MemoryRegistry(RunRegistry):
        def __init__(self) -> None:
            self.notes: dict[str, dict] = {}
            self.lock = threading.Lock()

        def load(self, ti):
            with self.lock:
                return self.notes.get(self.key(ti))

        def save(self, ti, record):
            with self.lock:
                self.notes[self.key(ti)] = record

        def clear(self, ti):
            with self.lock:
                self.notes.pop(self.key(ti), None)

    class TI:
        def __init__(self, task_id: str) -> None:
            self.dag_id, self.task_id, self.run_id = "civis_runs_benchmark", task_id, "bench"
            self.map_index, self.try_number = -1, 1

    CivisRunOperator.registry = MemoryRegistry()
    standin.admin("POST", "/reset")
    jobs = [standin.admin("POST", "/jobs", {"kind": "container", "name": f"bench {i}",
                                            "queued_seconds": queued,
                                            "running_seconds": running})["id"]
            for i in range(tasks)]
    since = time.time()

    busy = 0
    busy_lock = threading.Lock()
    held: list[float] = [0.0]  # slot-seconds
    started_at: dict[int, float] = {}
    slot_released: dict[int, float] = {}
    finished_at: dict[int, float] = {}
    results: dict[int, Any] = {}
    all_done = threading.Event()
    samples: list[tuple[float, int]] = []

    class Slot:
        def __enter__(self):
            nonlocal busy
            self.t = time.time()
            with busy_lock:
                busy += 1

        def __exit__(self, *exc):
            nonlocal busy
            with busy_lock:
                busy -= 1
                held[0] += time.time() - self.t

    loop = asyncio.new_event_loop()
    triggerer = threading.Thread(target=loop.run_forever, name="triggerer", daemon=True)
    triggerer.start()
    pool = ThreadPoolExecutor(max_workers=tasks, thread_name_prefix="worker-slot")

    def finish(i: int, value: Any) -> None:
        results[i] = value
        finished_at[i] = time.time()
        if len(finished_at) == tasks:
            all_done.set()

    async def first_event(trigger: CivisRunTrigger) -> dict:
        async for event in trigger.run():
            return event.payload
        raise RuntimeError("trigger ended without an event")

    def complete(i: int, op: Any, context: dict, method: str, event: dict) -> None:
        try:
            with Slot():
                value = getattr(op, method)(context, event)
        except Exception as exc:  # noqa: BLE001 - recorded, reported below
            value = exc
        finish(i, value)

    def start(i: int) -> None:
        op = CivisRunOperator(task_id=f"run_{i}", job_id=jobs[i], job_type="container",
                              civis_conn_id=CONN_ID, deferrable=deferrable,
                              poll_interval=poll)
        context = {"ti": TI(op.task_id)}
        started_at[i] = time.time()
        try:
            with Slot():
                value = op.execute(context)
        except TaskDeferred as deferred:
            slot_released[i] = time.time()
            _classpath, kwargs = deferred.trigger.serialize()
            trigger = CivisRunTrigger(**kwargs)
            method = deferred.method_name
            future = asyncio.run_coroutine_threadsafe(first_event(trigger), loop)
            future.add_done_callback(lambda f: pool.submit(
                complete, i, op, context, method, f.result()))
            return
        except Exception as exc:  # noqa: BLE001 - recorded, reported below
            value = exc
        finish(i, value)

    def sampler() -> None:
        while not all_done.is_set():
            with busy_lock:
                samples.append((time.time(), busy))
            time.sleep(0.02)

    sampling = threading.Thread(target=sampler, daemon=True)
    sampling.start()
    wall_start = time.time()
    for i in range(tasks):
        pool.submit(start, i)
    if not all_done.wait(timeout=300):
        raise RuntimeError("the tasks did not finish within 5 minutes")
    wall = time.time() - wall_start
    sampling.join()
    pool.shutdown(wait=True)
    loop.call_soon_threadsafe(loop.stop)
    triggerer.join(timeout=5)

    failures = [r for r in results.values() if isinstance(r, BaseException)]
    if failures:
        raise RuntimeError(f"{len(failures)} tasks failed, e.g. {failures[0]!r}")

    runs = {}
    for i, job_id in enumerate(jobs):
        [run] = standin.admin("GET", f"/jobs/{job_id}")["runs"]
        runs[i] = (parse_iso(run["createdAt"]), parse_iso(run["finishedAt"]), run["state"])
    assert all(state == "succeeded" for _, _, state in runs.values())
    log = standin.admin("GET", f"/calls?since={since}&log=1")["log"]
    calls_per_job = {job_id: 0 for job_id in jobs}
    for call in log:
        parts = call["path"].strip("/").split("/")
        for part in parts:
            if part.isdigit() and int(part) in calls_per_job:
                calls_per_job[int(part)] += 1
                break
    runtimes = [finished - created for created, finished, _ in runs.values()]
    over_budget = sum(1 for i, job_id in enumerate(jobs)
                      if calls_per_job[job_id] > 2 + (runs[i][1] - runs[i][0]) / poll)
    overheads = [(finished_at[i] - started_at[i]) - (runs[i][1] - runs[i][0])
                 for i in range(tasks)]
    start_latency = [runs[i][0] - started_at[i] for i in range(tasks)]
    completion_latency = [finished_at[i] - runs[i][1] for i in range(tasks)]
    window_start = max(max(started_at.values()),
                       max(created for created, _, _ in runs.values()))
    if deferrable:
        window_start = max(window_start, max(slot_released.values()))
    window_end = min(finished for _, finished, _ in runs.values())
    waiting = [n for t, n in samples if window_start <= t <= window_end]
    return {
        "worker_slots_held_while_waiting": max(waiting) if waiting else None,
        "wait_window_samples": len(waiting),
        "worker_slot_seconds": round(held[0], 2),
        "api_calls_per_run_mean": round(statistics.mean(calls_per_job.values()), 2),
        "api_calls_per_run_max": max(calls_per_job.values()),
        "api_call_budget_per_run": round(2 + statistics.median(runtimes) / poll, 2),
        "runs_over_api_call_budget": over_budget,
        "run_seconds_median": round(statistics.median(runtimes), 2),
        "overhead_seconds_median": round(statistics.median(overheads), 2),
        "overhead_seconds_p95": round(sorted(overheads)[int(0.95 * (tasks - 1))], 2),
        "start_latency_seconds_median": round(statistics.median(start_latency), 2),
        "completion_latency_seconds_median": round(statistics.median(completion_latency), 2),
        "completion_latency_seconds_max": round(max(completion_latency), 2),
        "wall_seconds": round(wall, 2),
    }


def median_of(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for key in rows[0]:
        values = [row[key] for row in rows if row[key] is not None]
        if not values:
            out[key] = None
        elif key in ("worker_slots_held_while_waiting", "runs_over_api_call_budget",
                     "api_calls_per_run_max"):
            out[key] = max(values)  # worst case across repeats
        else:
            out[key] = round(statistics.median(values), 2)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--poll", type=float, default=1.0)
    parser.add_argument("--queued", type=float, default=0.5)
    parser.add_argument("--running", type=float, default=3.3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    os.environ.setdefault("AIRFLOW_HOME", str(REPO))
    logging.disable(logging.WARNING)  # 50 tasks' info logs would bury the figures
    standin = PrivateStandin()
    os.environ[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "generic", "host": standin.url + "/", "password": KEY})
    try:
        from precinct.hooks.civis import CivisHook

        # One client build per process (~0.6 s CPU; in Airflow, once per task process). Done
        # up front so that neither mode's figures include 50 threads queueing on it.
        began = time.monotonic()
        CivisHook(CONN_ID).get_conn()
        client_build = round(time.monotonic() - began, 2)
        figures: dict[str, list[dict[str, Any]]] = {"deferrable": [], "non_deferrable": []}
        for repeat in range(args.repeats):
            for mode in ("deferrable", "non_deferrable"):  # alternate: same machine load
                row = run_scenario(standin, deferrable=mode == "deferrable", tasks=args.tasks,
                                   poll=args.poll, queued=args.queued, running=args.running)
                figures[mode].append(row)
                print(f"repeat {repeat + 1} {mode:15s} " + ", ".join(
                    f"{k}={v}" for k, v in row.items()), file=sys.stderr)
    finally:
        standin.stop()

    deferrable = median_of(figures["deferrable"])
    non_deferrable = median_of(figures["non_deferrable"])
    print(f"{args.tasks} tasks, runs of {args.queued + args.running:g} s, poll every "
          f"{args.poll:g} s, median of {args.repeats}:")
    for label, row in (("deferrable", deferrable), ("non-deferrable", non_deferrable)):
        print(f"  {label:15s} slots held while waiting {row['worker_slots_held_while_waiting']}"
              f", slot-seconds {row['worker_slot_seconds']}, API calls/run "
              f"{row['api_calls_per_run_mean']} (max {row['api_calls_per_run_max']}, budget "
              f"{row['api_call_budget_per_run']}), overhead median "
              f"{row['overhead_seconds_median']} s (p95 {row['overhead_seconds_p95']} s; start "
              f"{row['start_latency_seconds_median']} s, completion noticed after "
              f"{row['completion_latency_seconds_median']} s), wall {row['wall_seconds']} s")
    metrics = {
        "tasks": args.tasks,
        "poll_interval_seconds": args.poll,
        "run_seconds": args.queued + args.running,
        "client_build_seconds": client_build,
        "deferrable": deferrable,
        "non_deferrable": non_deferrable,
    }
    targets = {
        "deferrable.worker_slots_held_while_waiting": "<= 0",
        "deferrable.runs_over_api_call_budget": "<= 0",
    }
    met = (deferrable["worker_slots_held_while_waiting"] == 0
           and deferrable["runs_over_api_call_budget"] == 0)
    print(json.dumps({"benchmark": "civis_runs", "metrics": metrics, "targets": targets,
                      "met": met}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
