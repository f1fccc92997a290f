"""CivisRunTrigger: wait for a Civis run (or workflow execution) without holding a worker slot.

The trigger polls `GET` the run every `poll_interval` seconds over `httpx` (async, through
`CivisHook.aget_run`, with the client's retry policy for 429/5xx) and fires one event when the run
is done: `{"status": "success" | "failed" | "cancelled", "run": {...}}`, where `run["error"]` is
Civis's own error message. If the run cannot be read (bad key, deleted job, retries exhausted)
it fires `{"status": "error", "message": ..., "run": {...last known...}}` so the operator can
fail (a retry re-attaches to the same run).

When a user kills the deferred task (mark failed / clear / mark success), Airflow 3.3 calls
`on_kill()`, which cancels the Civis run. A triggerer restart or a trigger moving to another
triggerer does not call it: the run keeps going and the re-created trigger keeps waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from precinct.hooks.civis import CivisHook, CivisHookError, CivisRun

CLASSPATH = "precinct.triggers.civis.CivisRunTrigger"


class CivisRunTrigger(BaseTrigger):
    """Poll one Civis run until it is done.

    :param job_type: `script`, `sql`, `container`, `python3`, `custom`, `import` or `workflow`.
    :param job_id: the job (or workflow) id.
    :param run_id: the run (or execution) id.
    :param civis_conn_id: the Airflow connection (API key in the password, base URL in host).
    :param poll_interval: seconds between polls.
    :param poll_first: poll at once; otherwise wait one interval first (the operator has just
        started the run, so it is known to be queued: this saves one call per run).
    :param cancel_on_kill: cancel the Civis run when a user kills the task.
    :param deadline: epoch seconds; past it the trigger cancels the run and fires
        `{"status": "timeout"}` (the operator's `run_timeout`, enforced here rather than by
        Airflow's deferral timeout so that the run is cancelled, not left running).
    """

    def __init__(self, job_type: str, job_id: int, run_id: int,
                 civis_conn_id: str = CivisHook.default_conn_name, poll_interval: float = 10.0,
                 poll_first: bool = True, cancel_on_kill: bool = True,
                 deadline: float | None = None):
        super().__init__()
        self.job_type = job_type
        self.job_id = int(job_id)
        self.run_id = int(run_id)
        self.civis_conn_id = civis_conn_id
        self.poll_interval = float(poll_interval)
        self.poll_first = poll_first
        self.cancel_on_kill = cancel_on_kill
        self.deadline = deadline

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return CLASSPATH, {
            "job_type": self.job_type,
            "job_id": self.job_id,
            "run_id": self.run_id,
            "civis_conn_id": self.civis_conn_id,
            "poll_interval": self.poll_interval,
            "poll_first": self.poll_first,
            "cancel_on_kill": self.cancel_on_kill,
            "deadline": self.deadline,
        }

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = CivisHook(self.civis_conn_id)
        last = CivisRun(self.job_type, self.job_id, self.run_id, "unknown")
        try:
            try:
                await hook.aprepare()
            except CivisHookError as exc:
                yield TriggerEvent({"status": "error", "message": str(exc),
                                    "run": last.to_dict(), "api_calls": hook.api_calls})
                return
            if not self.poll_first:
                await asyncio.sleep(self.poll_interval)
            while True:
                try:
                    last = await hook.aget_run(self.job_type, self.job_id, self.run_id)
                except CivisHookError as exc:
                    yield TriggerEvent({"status": "error", "message": str(exc),
                                        "run": last.to_dict(), "api_calls": hook.api_calls})
                    return
                if last.done:
                    status = "success" if last.succeeded else last.state
                    self.log.info("Civis %s %s run %s is %s", self.job_type, self.job_id,
                                  self.run_id, last.state)
                    yield TriggerEvent({"status": status, "run": last.to_dict(),
                                        "api_calls": hook.api_calls})
                    return
                if self.deadline is not None and time.time() >= self.deadline:
                    try:
                        await hook.acancel_run(self.job_type, self.job_id, self.run_id)
                    except CivisHookError as exc:
                        self.log.warning("Could not cancel run %s: %s", self.run_id, exc)
                    yield TriggerEvent({"status": "timeout", "run": last.to_dict(),
                                        "api_calls": hook.api_calls})
                    return
                delay = self.poll_interval
                if self.deadline is not None:
                    delay = max(0.0, min(delay, self.deadline - time.time()))
                await asyncio.sleep(delay)
        finally:
            await hook.aclose()

    async def on_kill(self) -> None:
        """The user killed the deferred task: cancel the Civis run."""
        if not self.cancel_on_kill:
            return
        hook = CivisHook(self.civis_conn_id)
        try:
            await hook.acancel_run(self.job_type, self.job_id, self.run_id)
        finally:
            await hook.aclose()
