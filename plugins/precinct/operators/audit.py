"""The Civis workflow audit's task bodies: collect from Civis, compute, write the tabs, mail.

Collecting with as few calls as the API allows (see docs/audit.md):

- `GET /workflows?scheduled=true` paged (50 a page): id, name, owner, schedule, time zone,
  state of the latest execution, `updatedAt`. Watched unscheduled workflows: one
  `GET /workflows/{id}` each (it carries the definition too).
- Per workflow, only what the list lacks: the definition (`GET /workflows/{id}`), skipped when
  the previous audit already parsed the definition at the same `updatedAt`; the executions
  (`GET /workflows/{id}/executions`, newest first, 50 a page, one page unless the failure streak
  is longer), skipped for workflows that never ran (list state `scheduled`/`idle`).
- Jobs: `GET /jobs` paged (50 a page, each with `lastRun`) when more than a page of jobs is
  wanted, otherwise `GET /jobs/{id}` each; a job the list does not show (the key cannot read it,
  archived) gets one `GET /jobs/{id}`, whose error becomes the row's error.

Per-workflow and per-job reads run concurrently over the hook's async client (the `civis`
client serialises every request of a process behind one lock). 429 and 502/503/504 are
retried with backoff by the hook (500 too on the synchronous reads).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from precinct.audit import core

log = logging.getLogger(__name__)

EXECUTIONS_PAGE = 50
CONCURRENCY = 16
NEVER_RAN_STATES = frozenset({"scheduled", "idle"})
HIGHLIGHT_FAILED = "#F4CCCC"
HIGHLIGHT_OVERDUE = "#FCE8B2"


def collect(hook: Any, watched: Iterable[int] = (), cache: Mapping[str, Any] | None = None,
            *, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """Everything the audit needs from Civis, as JSON-able data (snake_case)."""
    started = time.monotonic()
    calls_before = hook.api_calls
    workflows: dict[int, dict] = {}
    for item in hook.list_workflows(scheduled=True):
        item = core.snake(item)
        workflows[int(item["id"])] = item
    listed = dict(workflows)
    watched = [int(w) for w in watched if int(w) not in workflows]
    result = asyncio.run(_gather(hook, workflows, listed, watched, dict(cache or {}),
                                 concurrency))
    result["api_calls"] = hook.api_calls - calls_before
    kinds = result["calls_by_kind"]
    kinds["workflow lists"] = result["api_calls"] - sum(kinds.values())
    result["seconds"] = round(time.monotonic() - started, 2)
    log.info("Collected %d workflows and %d jobs in %d Civis API calls (%.1fs): %s",
             len(result["workflows"]), len(result["jobs"]) + len(result["job_errors"]),
             result["api_calls"], result["seconds"], result["calls_by_kind"])
    return result


async def _gather(hook: Any, workflows: dict[int, dict], listed: dict[int, dict],
                  watched: list[int], cache: dict[str, Any], concurrency: int) -> dict:
    from precinct.hooks.civis import CivisHookError

    api = await hook._api()
    gate = asyncio.Semaphore(concurrency)
    kinds = {"workflow lists": 0, "workflow gets": 0, "execution lists": 0, "job lists": 0,
             "job gets": 0}
    errors: dict[str, str] = {}
    definitions: dict[str, dict] = {}
    executions: dict[str, list] = {}

    async def get(path: str, kind: str) -> Any:
        async with gate:
            kinds[kind] += 1
            return await api.request("GET", path)

    async def read_watched(wf_id: int) -> None:
        try:
            detail = core.snake(await get(f"workflows/{wf_id}", "workflow gets"))
            if not detail.get("archived"):
                workflows[wf_id] = detail
        except CivisHookError as exc:
            workflows[wf_id] = {"id": wf_id, "name": f"workflow {wf_id}", "schedule": {}}
            errors[str(wf_id)] = f"cannot read the workflow: {exc}"

    async def read_definition(wf_id: int) -> None:
        wf = workflows[wf_id]
        if str(wf_id) in errors:
            return
        stamp = wf.get("updated_at")
        cached = cache.get(str(wf_id))
        if wf_id in listed and cached and cached.get("updated_at") == stamp:
            definitions[str(wf_id)] = cached
            return
        text = wf.get("definition")
        if text is None:
            try:
                detail = core.snake(await get(f"workflows/{wf_id}", "workflow gets"))
            except CivisHookError as exc:
                errors[str(wf_id)] = f"cannot read the definition: {exc}"
                return
            text = detail.get("definition")
        parsed = core.job_ids_from_definition(text)
        definitions[str(wf_id)] = {"updated_at": stamp, "job_ids": parsed.job_ids,
                                   "error": parsed.error}

    async def read_executions(wf_id: int) -> None:
        if str(wf_id) in errors or workflows[wf_id].get("state") in NEVER_RAN_STATES:
            executions[str(wf_id)] = []
            return
        runs: list = []
        page = 1
        try:
            while True:
                batch = await get(f"workflows/{wf_id}/executions?limit={EXECUTIONS_PAGE}"
                                  f"&page_num={page}&order=id&order_dir=desc", "execution lists")
                runs += [core.snake(r) for r in batch or []]
                if len(batch or []) < EXECUTIONS_PAGE or core.summarize_executions(runs).complete:
                    break
                page += 1
        except CivisHookError as exc:
            errors[str(wf_id)] = f"cannot read the executions: {exc}"
        executions[str(wf_id)] = runs

    await asyncio.gather(*(read_watched(w) for w in watched))
    await asyncio.gather(*(read_definition(w) for w in list(workflows)),
                         *(read_executions(w) for w in list(workflows)))

    wanted = sorted({j for d in definitions.values() for j in d["job_ids"]})
    jobs: dict[str, dict] = {}
    job_errors: dict[str, str] = {}
    if len(wanted) > EXECUTIONS_PAGE:
        calls = hook.api_calls
        wanted_set = set(wanted)
        for item in hook.list_jobs():
            if int(item["id"]) in wanted_set:
                jobs[str(item["id"])] = core.snake(item)
        kinds["job lists"] += hook.api_calls - calls
    missing = [j for j in wanted if str(j) not in jobs]

    async def read_job(job_id: int) -> None:
        try:
            jobs[str(job_id)] = core.snake(await get(f"jobs/{job_id}", "job gets"))
        except CivisHookError as exc:
            job_errors[str(job_id)] = f"cannot read job {job_id}: {exc}"

    await asyncio.gather(*(read_job(j) for j in missing))
    await hook.aclose()
    return {"workflows": [_slim(w, WORKFLOW_FIELDS) for w in workflows.values()],
            "definitions": definitions,
            "executions": {k: [_slim(r, EXECUTION_FIELDS) for r in v]
                           for k, v in executions.items()},
            "errors": errors, "jobs": {k: _slim(v, JOB_FIELDS) for k, v in jobs.items()},
            "job_errors": job_errors, "calls_by_kind": kinds}


WORKFLOW_FIELDS = ("id", "name", "user", "schedule", "time_zone", "state", "created_at",
                   "updated_at")
EXECUTION_FIELDS = ("id", "state", "started_at", "finished_at", "created_at", "updated_at",
                    "mistral_state_info")
JOB_FIELDS = ("id", "name", "type", "state", "last_run")


def _slim(item: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields the audit reads (the XCom stays small; no definitions or e-mails)."""
    out = {k: item.get(k) for k in fields}
    if isinstance(out.get("user"), Mapping):
        out["user"] = {k: out["user"].get(k) for k in ("id", "name", "username")}
    return out


# -- task bodies (called from dags/civis_workflow_audit.py) -------------------------------------


def collect_task(params: Mapping[str, Any], ti: Any = None) -> dict[str, Any]:
    from precinct.hooks.civis import CivisHook

    cache = {}
    if ti is not None:
        try:
            previous = ti.xcom_pull(task_ids="collect", key="definitions",
                                    include_prior_dates=True)
            cache = dict(previous or {})
        except Exception as exc:  # noqa: BLE001 - a cold cache only costs calls
            log.warning("No definition cache from the previous audit (%s)", exc)
    hook = CivisHook()
    collected = collect(hook, params.get("watched_workflow_ids") or [], cache)
    if ti is not None:
        ti.xcom_push(key="definitions", value=collected["definitions"])
    return collected


def compute_task(collected: Mapping[str, Any], data_interval_start: Any = None,
                 data_interval_end: Any = None, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    wf_rows, jb_rows = core.build(collected, now)
    start, end = core.mail_window(data_interval_start, data_interval_end)
    fresh = core.new_failures(wf_rows, start, end)
    for row in wf_rows:
        row["_last_failure"] = core.format_time(row["_last_failure"])
    figures = {
        "workflows": len(wf_rows),
        "jobs": len(jb_rows),
        "failed": sum(r["status"] == "failed" for r in wf_rows),
        "errors": sum(r["status"] == "error" for r in wf_rows),
        "overdue": sum(r["overdue"] == "yes" for r in wf_rows),
        "running": sum(r["status"] == "running" for r in wf_rows),
        "new_failures": len(fresh),
        "api_calls": collected.get("api_calls"),
    }
    log.info("Audit: %s; mail window %s to %s", figures, start.isoformat(), end.isoformat())
    return {"workflows": wf_rows, "jobs": jb_rows, "figures": figures,
            "new_failures": [{k: r[k] for k in ("workflow_id", "workflow", "owner",
                                                "failure_streak", "failing_jobs", "error",
                                                "last_finish")} for r in fresh]}


def write_task(audit: Mapping[str, Any], spreadsheet_id: str) -> dict[str, Any]:
    from precinct.hooks.sheets import SheetsHook

    workflows, jobs = core.frames(list(audit["workflows"]), list(audit["jobs"]))
    hook = SheetsHook()
    stamp = f"Last updated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    failed = [{"column": "status", "equals": v, "color": HIGHLIGHT_FAILED}
              for v in ("failed", "error")]
    written = {
        "Workflows": hook.write_dataframe(
            spreadsheet_id, "Workflows", workflows,
            highlight=[*failed, {"column": "overdue", "equals": "yes",
                                 "color": HIGHLIGHT_OVERDUE}],
            last_updated_cell=_after(len(workflows.columns)), last_updated_value=stamp),
        "Jobs": hook.write_dataframe(
            spreadsheet_id, "Jobs", jobs,
            highlight=[{"column": "state", "equals": v, "color": HIGHLIGHT_FAILED}
                       for v in ("failed", "cancelled", "error")],
            last_updated_cell=_after(len(jobs.columns)), last_updated_value=stamp),
    }
    return {tab: result["rows"] for tab, result in written.items()}


def _after(columns: int) -> str:
    from precinct.hooks.sheets import column_letters

    return f"{column_letters(columns + 1)}1"  # one blank column after the data


def mail_task(audit: Mapping[str, Any], enabled: bool) -> int:
    from precinct.notifications import send_alert

    fresh = list(audit.get("new_failures") or [])
    if not fresh or not enabled:
        log.info("%d new failure(s); e-mail %s", len(fresh), "on" if enabled else "off")
        return 0
    subject = (f"Civis audit: {len(fresh)} workflow(s) failed" if len(fresh) > 1 else
               f"Civis audit: workflow {fresh[0]['workflow']} ({fresh[0]['workflow_id']}) failed")
    lines = {
        f"{r['workflow']} ({r['workflow_id']})":
            f"failed {r['last_finish']}; streak {r['failure_streak']}; owner {r['owner']}; "
            f"failing jobs: {r['failing_jobs'] or '-'}; {r['error'] or ''}".rstrip("; ")
        for r in fresh
    }
    send_alert(subject, lines)
    return len(fresh)
