"""The Civis workflow audit's task bodies: collect from Civis, compute, write the tabs, mail.

Collecting with as few calls as the API allows (the bundled API spec has no endpoint that
returns definitions or executions for many workflows at once; README, "API calls"):

- `GET /workflows?scheduled=true` paged (50 a page, the spec's maximum; by creation time, so a
  workflow edited while the pages are read does not move between pages): id, name, owner,
  schedule, time zone, state of the latest execution, `updatedAt`. Watched unscheduled
  workflows: one `GET /workflows/{id}` each (it carries the definition too).
- Per workflow, only what the list lacks: the definition (`GET /workflows/{id}`), skipped when
  the previous audit already parsed the definition at the same `updatedAt`; the executions
  (`GET /workflows/{id}/executions`, newest first, 50 a page, one page unless the failure streak
  is longer), skipped for workflows that never ran (list state `scheduled`/`idle`). Executions
  are read on every audit: the list's `state` and `updatedAt` do not change when a workflow runs
  again and ends as it did before, so the previous audit's executions cannot be trusted.
- Jobs: when more than a page of jobs is wanted, `GET /jobs` page 1 says how many pages the
  list has; the rest of the list (each job with `lastRun`) is read if that is fewer calls than
  one `GET /jobs/{id}` per job still wanted, else the jobs are read one by one. A job the list
  does not show (the key cannot read it, archived) gets one `GET /jobs/{id}`, whose error
  becomes the row's error.

Every read goes through the hook's async client, `CONCURRENCY` at a time (list pages too, once
page 1 has said how many there are): the `civis` client serialises every request of a process
behind one lock. 429, 500 and 502/503/504 are retried with backoff by the hook.

What collect returns is its XCom, stored in the metadata DB on every run: only what
`core.build` reads goes on, each workflow's executions as their `core.history_summary`. On the
benchmark's 1,000-workflow seed (802 audited) collect's return value is 894 KB (2,233 KB when it
carried the executions), its definition cache 73 KB, compute's rows 963 KB (README, "XCom").
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

DAG_ID = "civis_workflow_audit"
PAGE = 50  # the spec's maximum `limit` for the workflows, executions and jobs lists
EXECUTIONS_PAGE = PAGE
CONCURRENCY = 16
NEVER_RAN_STATES = frozenset({"scheduled", "idle"})
HIGHLIGHT_FAILED = "#F4CCCC"
HIGHLIGHT_OVERDUE = "#FCE8B2"


def collect(hook: Any, watched: Iterable[int] = (), cache: Mapping[str, Any] | None = None,
            *, concurrency: int = CONCURRENCY) -> dict[str, Any]:
    """What the audit needs from Civis, reduced to what `core.build` reads (JSON, snake_case):
    `workflows` (`core.workflow_summary` each), `definitions` (job ids and error per workflow
    id), `histories` (`core.history_summary` of each workflow's executions; none for a workflow
    that never ran), `jobs` (`core.job_summary` per job id), `errors`, `job_errors`, call
    counts, `read_at` (when the reading began: no later failure is in it); and
    `definition_cache`, which `collect_xcoms` keeps out of the return value.

    `cache` is the previous audit's `definition_cache` (parsed job ids per workflow id, with the
    `updated_at` they were parsed at).
    """
    started = time.monotonic()
    read_at = core.iso_time(datetime.now(UTC))  # before the first call (`core.mail_end`)
    calls_before = hook.api_calls
    result = asyncio.run(_gather(hook, [int(w) for w in watched], dict(cache or {}),
                                 concurrency))
    result["read_at"] = read_at
    result["api_calls"] = hook.api_calls - calls_before
    result["seconds"] = round(time.monotonic() - started, 2)
    log.info("Collected %d workflows and %d jobs in %d Civis API calls (%.1fs): %s",
             len(result["workflows"]), len(result["jobs"]) + len(result["job_errors"]),
             result["api_calls"], result["seconds"], result["calls_by_kind"])
    return result


async def _gather(hook: Any, watched: list[int], cache: dict[str, Any], concurrency: int
                  ) -> dict:
    try:
        return await _read(hook, watched, cache, concurrency)
    finally:
        await hook.aclose()


async def _read(hook: Any, watched_ids: list[int], cache: dict[str, Any], concurrency: int
                ) -> dict:
    from precinct.hooks.civis import CivisHookError

    gate = asyncio.Semaphore(concurrency)
    kinds = {"workflow lists": 0, "workflow gets": 0, "execution lists": 0, "job lists": 0,
             "job gets": 0}
    errors: dict[str, str] = {}
    definitions: dict[str, dict] = {}
    histories: dict[str, dict] = {}

    # Counted per read here (the hook's own total, retries included, is logged beside it):
    # a difference of hook.api_calls across an await would count the other reads in flight.
    async def get(path: str, kind: str, **params: Any) -> Any:
        async with gate:
            kinds[kind] += 1
            return await hook.aget(path, **params)

    async def page(path: str, number: int, kind: str, **params: Any
                   ) -> tuple[list[dict], int | None]:
        async with gate:
            kinds[kind] += 1
            return await hook.aget_page(path, page=number, limit=PAGE, **params)

    async def pages(path: str, kind: str, first: tuple[list[dict], int | None], **params: Any
                    ) -> list[dict]:
        """Page 1 (given) and every later page: concurrently when page 1 gave the count."""
        batches = [first[0]]
        if first[1] is None:
            while len(batches[-1]) >= PAGE:
                batches.append((await page(path, len(batches) + 1, kind, **params))[0])
        else:
            rest = await asyncio.gather(*(page(path, n, kind, **params)
                                          for n in range(2, first[1] + 1)))
            batches += [batch for batch, _ in rest]
        return [item for batch in batches for item in batch]

    listing = {"scheduled": "true", "archived": "false", "order": "created_at",
               "order_dir": "asc"}
    workflows: dict[int, dict] = {}
    first = await page("workflows", 1, "workflow lists", **listing)
    for item in await pages("workflows", "workflow lists", first, **listing):
        workflows[int(item["id"])] = core.snake(item)
    listed = dict(workflows)
    watched = [w for w in watched_ids if w not in workflows]

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
        if wf_id in listed and isinstance(cached, Mapping) and stamp and \
                cached.get("updated_at") == stamp:
            definitions[str(wf_id)] = dict(cached)
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
                                   **({"error": parsed.error} if parsed.error else {})}

    async def read_executions(wf_id: int) -> None:
        """The executions' summary (`core.history_summary`), not the executions: a page of up
        to 50 per workflow would be most of the XCom (README, "Civis workflow audit")."""
        if str(wf_id) in errors or workflows[wf_id].get("state") in NEVER_RAN_STATES:
            return
        runs: list = []
        number = 1
        try:
            while True:
                batch = await get(f"workflows/{wf_id}/executions", "execution lists",
                                  limit=EXECUTIONS_PAGE, page_num=number, order="id",
                                  order_dir="desc")
                runs += [core.snake(r) for r in batch or []]
                if len(batch or []) < EXECUTIONS_PAGE or core.summarize_executions(runs).complete:
                    break
                number += 1
        except CivisHookError as exc:
            errors[str(wf_id)] = f"cannot read the executions: {exc}"
        summary = core.history_summary([_slim(r, EXECUTION_FIELDS) for r in runs])
        if summary:  # {}: never ran
            histories[str(wf_id)] = summary

    await asyncio.gather(*(read_watched(w) for w in watched))
    await asyncio.gather(*(read_definition(w) for w in list(workflows)),
                         *(read_executions(w) for w in list(workflows)))

    wanted = sorted({j for d in definitions.values() for j in d["job_ids"]})
    jobs: dict[str, dict] = {}
    job_errors: dict[str, str] = {}

    def keep(items: Iterable[Mapping[str, Any]]) -> None:
        for item in items:
            if int(item["id"]) in wanted_set:
                jobs[str(item["id"])] = core.snake(item)

    wanted_set = set(wanted)
    if len(wanted) > PAGE:
        first = await page("jobs", 1, "job lists")
        keep(first[0])
        left = sum(str(j) not in jobs for j in wanted)
        if first[1] is not None and first[1] - 1 < left:  # the rest of the list is fewer calls
            keep(await pages("jobs", "job lists", first))

    async def read_job(job_id: int) -> None:
        try:
            jobs[str(job_id)] = core.snake(await get(f"jobs/{job_id}", "job gets"))
        except CivisHookError as exc:
            job_errors[str(job_id)] = f"cannot read job {job_id}: {exc}"

    await asyncio.gather(*(read_job(j) for j in wanted if str(j) not in jobs))
    # Only what `core.build` reads goes on (the XCom; no definitions, e-mails or executions).
    return {"workflows": [core.workflow_summary(w) for w in workflows.values()],
            "definitions": {k: core.definition_summary(v) for k, v in definitions.items()},
            "histories": histories, "errors": errors,
            "jobs": {k: core.job_summary(v) for k, v in jobs.items()},
            "job_errors": job_errors, "calls_by_kind": kinds, "definition_cache": definitions}


EXECUTION_FIELDS = ("id", "state", "started_at", "finished_at", "created_at", "updated_at",
                    "mistral_state_info")


def _slim(item: Mapping[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """Only the fields the audit reads of an execution (the ones its history is made from)."""
    return {k: item.get(k) for k in fields}


# -- task bodies (called from dags/civis_workflow_audit.py) -------------------------------------


def spreadsheet_for_run(params: Mapping[str, Any]) -> str:
    """The Param `spreadsheet_id`, else the Airflow Variable `civis_workflow_audit_spreadsheet_id`
    (what scheduled runs use); neither set fails the task at once, naming both."""
    from precinct import settings

    return settings.required(params.get("spreadsheet_id"), dag_id=DAG_ID,
                             param="spreadsheet_id")


def collect_task(params: Mapping[str, Any], ti: Any = None) -> dict[str, Any]:
    """Everything from Civis, plus the spreadsheet the tabs go to: resolved first, so a
    deployment without one fails before any Civis call."""
    from precinct.hooks.civis import CivisHook

    spreadsheet_id = spreadsheet_for_run(params)
    cache = previous_definitions(ti) if ti is not None else {}
    hook = CivisHook()
    xcoms = collect_xcoms(collect(hook, params.get("watched_workflow_ids") or [], cache))
    if ti is not None:
        ti.xcom_push(key="definitions", value=xcoms["definitions"])
    return {**xcoms["return_value"], "spreadsheet_id": spreadsheet_id}


def collect_xcoms(collected: dict[str, Any]) -> dict[str, Any]:
    """The collect task's XComs by key: `return_value` (what compute reads) and `definitions`
    (the definition cache the next audit pulls: job ids, error and the `updated_at` they were
    parsed at, per workflow id)."""
    value = {k: v for k, v in collected.items() if k != "definition_cache"}
    return {"return_value": value, "definitions": collected["definition_cache"]}


def previous_definitions(ti: Any) -> dict[str, Any]:
    """The parsed definitions the latest earlier audit pushed (empty: every one is read).

    `map_indexes=-1` matters: without it the Task SDK pulls every matching XCom of every
    earlier run (a list once there are two), not the latest one.
    """
    try:
        previous = ti.xcom_pull(task_ids="collect", key="definitions", include_prior_dates=True,
                                map_indexes=-1)
    except Exception as exc:  # noqa: BLE001 - a cold cache only costs calls
        log.warning("No definition cache from the previous audit (%s)", exc)
        return {}
    if not isinstance(previous, Mapping):
        if previous is not None:
            log.warning("Ignoring a definition cache of type %s", type(previous).__name__)
        return {}
    log.info("Definition cache from the previous audit: %d workflows", len(previous))
    return dict(previous)


def compute_task(collected: Mapping[str, Any], data_interval_end: Any = None,
                 now: datetime | None = None) -> dict[str, Any]:
    """The tabs' rows, and what the mail task needs: `mail`, this run's window end
    (`core.mail_end`: the interval's end, never after collect's read of Civis) and the workflows
    whose latest failure finished within the catch-up bound before it (`core.mail_candidates`).
    The mail task picks from them by the mailed-through mark, which only it reads: a cleared or
    late mail task must see the mark as it is when it sends, not as it was at compute."""
    now = now or datetime.now(UTC)
    wf_rows, jb_rows = core.build(collected, now)
    end = core.mail_end(data_interval_end, collected.get("read_at") or now)
    candidates = core.mail_candidates(wf_rows, end)
    for row in wf_rows:
        del row["_last_failure"]  # the mail rule's: the write task does not read it
    figures = {
        "workflows": len(wf_rows),
        "jobs": len(jb_rows),
        "failed": sum(r["status"] == "failed" for r in wf_rows),
        "errors": sum(r["status"] == "error" for r in wf_rows),
        "overdue": sum(r["overdue"] == "yes" for r in wf_rows),
        "running": sum(r["status"] == "running" for r in wf_rows),
        "failed_within_catchup": len(candidates),
        "api_calls": collected.get("api_calls"),
    }
    log.info("Audit: %s; mail window ends %s", figures, end.isoformat())
    return {"workflows": wf_rows, "jobs": jb_rows, "figures": figures,
            "spreadsheet_id": collected.get("spreadsheet_id"),
            "mail": {"end": core.iso_time(end), "failures": candidates}}


def write_task(audit: Mapping[str, Any], spreadsheet_id: str) -> dict[str, Any]:
    """Both tabs in one atomic write: staff never see Workflows from this run next to Jobs from
    the last one, and a failed write leaves both as they were."""
    from precinct.hooks.sheets import SheetsHook, TabWrite

    workflows, jobs = core.frames(list(audit["workflows"]), list(audit["jobs"]))
    stamp = f"Last updated {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC"
    failed = [{"column": "status", "equals": v, "color": HIGHLIGHT_FAILED}
              for v in ("failed", "error")]
    written = SheetsHook().write_dataframes(spreadsheet_id, {
        "Workflows": TabWrite(
            workflows,
            highlight=[*failed, {"column": "overdue", "equals": "yes",
                                 "color": HIGHLIGHT_OVERDUE}],
            last_updated_cell=_after(len(workflows.columns)), last_updated_value=stamp),
        "Jobs": TabWrite(
            jobs,
            highlight=[{"column": "state", "equals": v, "color": HIGHLIGHT_FAILED}
                       for v in ("failed", "cancelled", "error")],
            last_updated_cell=_after(len(jobs.columns)), last_updated_value=stamp),
    })
    return {tab: result["rows"] for tab, result in written["tabs"].items()}


def _after(columns: int) -> str:
    from precinct.hooks.sheets import column_letters

    return f"{column_letters(columns + 1)}1"  # one blank column after the data


MAILED_THROUGH_VARIABLE = f"{DAG_ID}_mailed_through"


def mailed_through() -> datetime | None:
    """The mark: the finish time up to which failures have been mailed (None: no run has mailed
    yet). A value that is not an ISO 8601 time is reported and read as no mark."""
    from airflow.sdk import Variable

    value = Variable.get(MAILED_THROUGH_VARIABLE, default=None)
    try:
        return core.parse_time(value)
    except (TypeError, ValueError):
        log.warning("The Airflow Variable %r is not an ISO 8601 time; mailing as if no run had "
                    "mailed yet", MAILED_THROUGH_VARIABLE)
        return None


def mail_task(audit: Mapping[str, Any], enabled: bool) -> int:
    """E-mail the failures no run mailed yet, then move the mark: each failure is mailed once.

    The window is [mark, end) (`core.mail_window`): a tick no run held (scheduler down, a long
    audit) is caught up by the next run, up to `core.MAIL_CATCHUP`; a cleared mail task or run,
    or a run whose end is behind the mark, mails nothing. The mark moves to the end only after
    the send succeeded (or there was nothing to send): a failed send fails the task, whose retry
    mails the same window. With e-mail off the mark moves too, so turning it back on does not
    mail what happened meanwhile (that is on the sheet). Returns how many workflows were mailed.
    """
    from airflow.sdk import Variable

    from precinct.notifications import send_alert

    mail = audit.get("mail") or {}
    if not mail.get("end"):
        log.warning("Compute handed no mail window (a run from before the mailed-through mark); "
                    "nothing mailed, the mark is left as it is")
        return 0
    mark = mailed_through()
    window = core.mail_window(mark, mail["end"])
    if window.cut_from is not None:
        log.warning("Failures that finished between %s and %s are not mailed: the catch-up is "
                    "bounded to %s (they are on the sheet)", window.cut_from.isoformat(),
                    window.start.isoformat(), core.MAIL_CATCHUP)
    fresh = core.to_mail(mail.get("failures") or [], window)
    log.info("Mail window %s to %s (mailed through %s): %d new failure(s); e-mail %s",
             window.start.isoformat(), window.end.isoformat(),
             mark.isoformat() if mark else "nothing yet", len(fresh), "on" if enabled else "off")
    if fresh and enabled and not send_alert(*failure_mail(fresh)):
        log.warning("The new failures were not e-mailed; the mark stays, the next run mails them")
        return 0
    through = core.advanced_mark(mark, window.end)
    if through != mark:
        try:
            Variable.set(MAILED_THROUGH_VARIABLE, core.iso_time(through))
        except Exception as exc:  # noqa: BLE001 - whatever the Variable store raised
            # The mail is out: failing here would have each retry send it again. The next run
            # mails this window once more at most, from the mark as it was.
            log.warning("The mail went out but the mark could not be moved to %s (%s); the "
                        "next run may mail these failures once more", through.isoformat(),
                        type(exc).__name__)
    return len(fresh) if enabled else 0


def failure_mail(fresh: list[Mapping[str, Any]]) -> tuple[str, dict[str, str]]:
    """Subject and lines of the new-failures e-mail (one line per workflow)."""
    subject = (f"Civis audit: {len(fresh)} workflow(s) failed" if len(fresh) > 1 else
               f"Civis audit: workflow {fresh[0]['workflow']} ({fresh[0]['workflow_id']}) failed")
    lines = {
        f"{r['workflow']} ({r['workflow_id']})":
            f"failed {core.format_time(core.parse_time(r['failed_at']))}; "
            f"streak {r['failure_streak']}; now {r['status']}; owner {r['owner']}; "
            f"failing jobs: {r['failing_jobs'] or '-'}; {r['error'] or ''}".rstrip("; ")
        for r in fresh
    }
    return subject, lines
