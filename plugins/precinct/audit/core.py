"""The Civis workflow audit's computations: plain data in, rows out (no Airflow, no HTTP).

Inputs are the API's JSON (camelCase from HTTP, snake_case from the `civis` client: `snake()`
makes them one shape). Every time is an aware UTC `datetime`; schedules are expanded in the
workflow's own time zone, so due times are right across midnight and daylight-saving changes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OVERDUE_GRACE = timedelta(minutes=15)
# The audit's schedule (`*/30 * * * *`): with no mailed-through mark yet, the first run mails the
# failures of the 30 minutes before its window's end (what a run mailed before there was a mark).
MAIL_PERIOD = timedelta(minutes=30)
# How far back a run catches up on failures no run mailed (an outage): older ones are on the
# sheet, and a day of failures in one e-mail is already more than anyone reads.
MAIL_CATCHUP = timedelta(hours=24)
# What the e-mail shows of a failed workflow (compute hands the mail task only these).
MAIL_FIELDS = ("workflow_id", "workflow", "owner", "status", "failure_streak", "failing_jobs",
               "error")
ACTIVE_STATES = frozenset({"queued", "running"})
FAILED_STATES = frozenset({"failed", "cancelled"})
SUCCESS_STATES = frozenset({"succeeded", "success"})
NEVER_RUN = "never run"
DAY_NAMES = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]  # Civis: 0 = Sunday
LOOKBACK_DAYS = 40

WORKFLOW_COLUMNS = [
    "status", "workflow_id", "workflow", "owner", "schedule", "overdue", "failure_streak",
    "last_success", "last_start", "last_finish", "last_runtime", "failing_jobs", "error",
]
JOB_COLUMNS = [
    "state", "workflow_id", "workflow", "job_id", "job", "type", "last_start", "last_finish",
    "last_runtime", "error",
]
STATUS_ORDER = {"error": 0, "failed": 1, "running": 2, NEVER_RUN: 3, "succeeded": 4}


# -- shapes ----------------------------------------------------------------------------------


def snake(value: Any) -> Any:
    """Keys of every nested mapping in snake_case (`startedAt` -> `started_at`)."""
    if isinstance(value, Mapping):
        return {re.sub(r"(?<!^)(?=[A-Z])", "_", str(k)).lower(): snake(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [snake(v) for v in value]
    return value


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO 8601 string (or datetime); naive means UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):  # a plain datetime (pendulum's arithmetic differs)
        moment = datetime.fromisoformat(value.isoformat())
    else:
        text = str(value).strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def format_time(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else ""


def iso_time(moment: datetime | None) -> str | None:
    """ISO 8601 in UTC, microseconds kept (`parse_time` reads it back exactly)."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def format_duration(seconds: float | None) -> str:
    """H:MM:SS (hours may exceed 24); empty for unknown."""
    if seconds is None:
        return ""
    total = max(0, round(seconds))
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def first_line(text: Any) -> str:
    if not text:
        return ""
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()
    return ""


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# -- workflow definitions --------------------------------------------------------------------


@dataclass
class Definition:
    job_ids: list[int] = field(default_factory=list)
    error: str | None = None


def job_ids_from_definition(text: str | None) -> Definition:
    """The job ids a Civis (Mistral v2) workflow runs, in task order, from its YAML.

    Walks every workflow of the document (a workbook's `workflows:` too) and every task,
    including tasks nested in sub-workflow bodies: a task whose `action` is a Civis job action
    (`civis.run_job`, `civis.enhancement...`, `civis.import...`) names its job in
    `input.job_id`. A definition that does not parse, or a `job_id` that is not a number,
    gives an error (the ids found so far are kept).
    """
    import yaml

    if not text or not str(text).strip():
        return Definition(error="The workflow has no definition.")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return Definition(error=f"Invalid YAML: {' '.join(str(exc).split())}")
    if not isinstance(doc, dict) or "version" not in doc:
        return Definition(error="The definition must be a mapping with a 'version' key.")
    found: list[int] = []
    problems: list[str] = []
    workflows = {k: v for k, v in doc.items() if k not in ("version", "name", "description")}
    if isinstance(doc.get("workflows"), dict):  # a workbook
        workflows.pop("workflows")
        workflows.update(doc["workflows"])
    if not any(isinstance(body, dict) for body in workflows.values()):
        return Definition(error="The definition has no workflow.")
    for name, body in workflows.items():
        if isinstance(body, dict):
            _walk_workflow(str(name), body, found, problems)
    ids = list(dict.fromkeys(found))
    return Definition(ids, "; ".join(problems) or None)


def _walk_workflow(name: str, body: dict, found: list[int], problems: list[str]) -> None:
    tasks = body.get("tasks")
    if not isinstance(tasks, dict) or not tasks:
        problems.append(f"Workflow '{name}' has no tasks.")
        return
    for task_name, task in tasks.items():
        if not isinstance(task, dict):
            problems.append(f"Task '{task_name}' of workflow '{name}' is not a mapping.")
            continue
        action = task.get("action")
        if isinstance(action, str) and action.startswith("civis."):
            given = (task.get("input") or {}).get("job_id") if isinstance(
                task.get("input"), dict) else None
            if isinstance(given, bool) or given is None:
                problems.append(f"Task '{task_name}' ({action}) has no input.job_id.")
            elif isinstance(given, int) or (isinstance(given, str) and given.strip().isdigit()):
                found.append(int(given))
            else:
                problems.append(f"Task '{task_name}': job_id {given!r} is not a number.")
        for key in ("workflows", "workflow"):  # an inline sub-workflow body
            nested = task.get(key)
            if isinstance(nested, dict):
                inner = nested.items() if key == "workflows" else [(f"{task_name}", nested)]
                for sub_name, sub in inner:
                    if isinstance(sub, dict) and "tasks" in sub:
                        _walk_workflow(str(sub_name), sub, found, problems)


# -- schedules -------------------------------------------------------------------------------


def is_scheduled(schedule: Mapping[str, Any] | None) -> bool:
    return bool(schedule and schedule.get("scheduled"))


def _minutes(schedule: Mapping[str, Any]) -> list[int]:
    per_hour = schedule.get("scheduled_runs_per_hour")
    if per_hour:
        step = max(1, 60 // int(per_hour))
        return list(range(0, 60, step))
    return sorted(set(schedule.get("scheduled_minutes") or [0]))


def _runs_on(schedule: Mapping[str, Any], day: date) -> bool:
    days = set(schedule.get("scheduled_days") or [])
    dom = set(schedule.get("scheduled_days_of_month") or [])
    return (not days and not dom) or (day.weekday() + 1) % 7 in days or day.day in dom


def due_times(schedule: Mapping[str, Any], tz_name: str | None, start: datetime,
              end: datetime) -> list[datetime]:
    """Every time the schedule is due in [start, end), as aware UTC datetimes.

    Each due time is the wall-clock time in the workflow's zone on that local day, so a 23:30
    schedule stays 23:30 local through daylight-saving changes (a time the spring change skips
    is read with the offset before the change; a repeated autumn time counts once).
    """
    schedule = snake(schedule or {})
    if not is_scheduled(schedule):
        return []
    tz = zone(tz_name)
    hours = sorted(set(schedule.get("scheduled_hours") or [])) or list(range(24))
    minutes = _minutes(schedule)
    day = start.astimezone(tz).date() - timedelta(days=1)
    last = end.astimezone(tz).date() + timedelta(days=1)
    out = []
    while day <= last:
        if _runs_on(schedule, day):
            for hour in hours:
                for minute in minutes:
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    moment = moment.astimezone(UTC)
                    if start <= moment < end:
                        out.append(moment)
        day += timedelta(days=1)
    return sorted(set(out))


def last_due(schedule: Mapping[str, Any], tz_name: str | None, before: datetime
             ) -> datetime | None:
    """The latest due time at or before `before` (within LOOKBACK_DAYS)."""
    step = timedelta(days=2)
    end = before + timedelta(microseconds=1)
    floor = before - timedelta(days=LOOKBACK_DAYS)
    while end > floor:
        times = due_times(schedule, tz_name, max(end - step, floor), end)
        if times:
            return times[-1]
        end -= step
    return None


def describe_schedule(schedule: Mapping[str, Any] | None, tz_name: str | None) -> str:
    """The schedule in words, e.g. 'daily at 23:30 (America/Chicago)'."""
    if not is_scheduled(schedule):
        return "not scheduled"
    schedule = snake(schedule)
    days = sorted(set(schedule.get("scheduled_days") or []))
    dom = sorted(set(schedule.get("scheduled_days_of_month") or []))
    hours = sorted(set(schedule.get("scheduled_hours") or []))
    per_hour = schedule.get("scheduled_runs_per_hour")
    if dom:
        when_days = "on day " + ", ".join(str(d) for d in dom) + " of the month"
        if days and len(days) < 7:
            when_days += " and " + ", ".join(DAY_NAMES[d] for d in days)
    elif not days or len(days) == 7:
        when_days = "daily"
    elif days == [1, 2, 3, 4, 5]:
        when_days = "weekdays"
    else:
        when_days = ", ".join(DAY_NAMES[d] for d in days if 0 <= d < 7)
    if per_hour:
        every = 60 // max(1, int(per_hour))
        times = "hourly" if every == 60 else f"every {every} min"
        if hours and len(hours) < 24:
            times += " during " + ", ".join(f"{h:02d}h" for h in hours)
        text = f"{when_days}, {times}" if when_days != "daily" else times
    else:
        minutes = _minutes(schedule)
        hour_list = hours or list(range(24))
        if not hours and len(minutes) == 1:
            clock = f"hourly at :{minutes[0]:02d}"
            text = clock if when_days == "daily" else f"{when_days}, {clock}"
        else:
            clock = ", ".join(f"{h:02d}:{m:02d}" for h in hour_list for m in minutes)
            text = f"{when_days} at {clock}"
    return f"{text} ({tz_name or 'UTC'})"


# -- executions ------------------------------------------------------------------------------


@dataclass
class History:
    status: str = NEVER_RUN
    failure_streak: int = 0
    last_success: datetime | None = None
    last_failure: datetime | None = None  # when the latest failed execution finished
    last_start: datetime | None = None  # latest execution's start (or creation if queued)
    last_finish: datetime | None = None
    last_runtime: float | None = None  # seconds, latest finished execution
    error: str = ""
    complete: bool = True  # False: every execution read failed; older pages may extend it


def summarize_executions(executions: Sequence[Mapping[str, Any]], now: datetime | None = None
                         ) -> History:
    """Status, failure streak, last success/failure and last runtime from executions.

    `executions` are snake_case execution summaries in any order (sorted newest first here by
    id). The streak counts consecutive failed (or cancelled) executions, newest first, looking
    past an execution that is still queued or running.
    """
    runs = sorted((snake(e) for e in executions), key=lambda e: int(e.get("id") or 0),
                  reverse=True)
    history = History()
    if not runs:
        return history
    latest = runs[0]
    state = str(latest.get("state") or "")
    history.status = ("running" if state in ACTIVE_STATES else
                      "failed" if state in FAILED_STATES else
                      "succeeded" if state in SUCCESS_STATES else state or "unknown")
    history.last_start = parse_time(latest.get("started_at")) or parse_time(
        latest.get("created_at"))
    history.last_finish = parse_time(latest.get("finished_at"))
    counting = True
    for run in runs:
        state = str(run.get("state") or "")
        finished = parse_time(run.get("finished_at"))
        if state in ACTIVE_STATES:
            continue
        if history.last_runtime is None:
            started = parse_time(run.get("started_at"))
            if started and finished:
                history.last_runtime = (finished - started).total_seconds()
        if state in FAILED_STATES:
            if history.last_failure is None:
                history.last_failure = finished or parse_time(run.get("updated_at"))
                history.error = first_line(run.get("mistral_state_info") or run.get("error"))
            if counting:
                history.failure_streak += 1
        else:
            counting = False
            if state in SUCCESS_STATES and history.last_success is None:
                history.last_success = finished
    history.complete = not counting
    if history.status != "failed":
        history.error = ""
    return history


def history_summary(executions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What `build` needs of a workflow's executions, as JSON: the `History` of them.

    This is what the collect task hands on instead of the executions themselves (one page of
    up to 50 per workflow, every 30 minutes): status, failure streak, last success, the latest
    failure's finish (the mail-once rule) and error, the latest execution's start and finish,
    the latest finished one's runtime. Times are ISO 8601 strings at full precision (overdue and
    the mail window compare them); a field equal to a never-run workflow's is left out (a
    workflow that never ran is `{}`). `complete` is not carried: only collect's paging reads it.
    """
    history = summarize_executions(executions)
    empty = History()
    out: dict[str, Any] = {}
    for name in HISTORY_FIELDS:
        value = getattr(history, name)
        if value != getattr(empty, name):
            out[name] = iso_time(value) if isinstance(value, datetime) else value
    return out


def history_from_summary(summary: Mapping[str, Any] | None) -> History:
    """The `History` a `history_summary` was made from."""
    summary = summary or {}
    history = History()
    for name in HISTORY_FIELDS:
        if name in summary:
            value = summary[name]
            setattr(history, name, parse_time(value) if name in HISTORY_TIMES else value)
    return history


HISTORY_FIELDS = tuple(f.name for f in fields(History) if f.name != "complete")
HISTORY_TIMES = frozenset({"last_success", "last_failure", "last_start", "last_finish"})


def is_overdue(schedule: Mapping[str, Any] | None, tz_name: str | None,
               last_start: datetime | None, now: datetime,
               created_at: datetime | None = None) -> bool:
    """Scheduled, and no execution started within 15 minutes of the latest due time.

    Only due times at least 15 minutes old count (a run may still be starting); a due time
    before the workflow existed does not count.
    """
    if not is_scheduled(schedule):
        return False
    due = last_due(schedule or {}, tz_name, now - OVERDUE_GRACE)
    if due is None or (created_at is not None and created_at > due):
        return False
    return last_start is None or last_start < due


# -- what collect hands on (its XCom, stored in the metadata DB on every run) ----------------


def workflow_summary(workflow: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a workflow that `build` reads, plus `state` (the list's: whether it ever
    ran): id, name, owner's name (the username only when there is no name), schedule, time zone,
    creation time. Empty values are left out (`build` reads a missing one the same way)."""
    wf = snake(workflow)
    user = wf.get("user") if isinstance(wf.get("user"), Mapping) else {}
    owner = ({"name": user["name"]} if user.get("name") else
             {"username": user["username"]} if user.get("username") else {})
    schedule = wf.get("schedule") if isinstance(wf.get("schedule"), Mapping) else {}
    out = {"id": wf.get("id"), "name": wf.get("name"), "user": owner,
           "schedule": {k: v for k, v in schedule.items() if v is not None and v != []},
           "time_zone": wf.get("time_zone"), "state": wf.get("state"),
           "created_at": wf.get("created_at")}
    return {k: v for k, v in out.items() if k == "id" or v not in (None, "", {})}


def job_summary(item: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a job (a `/jobs` item or `GET /jobs/{id}`) that `build` reads: name, type,
    its last run's state, start and finish, and the first line of the run's error when the job
    is failing (the only time the row shows it); the job's own state only when the last run has
    none. Empty values are left out."""
    job = snake(item)
    info = JobInfo(0, job)
    run = info.last_run
    last = {k: run[k] for k in ("state", "started_at", "finished_at") if run.get(k)}
    error = first_line(run.get("error")) if info.failing else ""
    if error:
        last["error"] = error
    out = {"name": job.get("name"), "type": job.get("type"),
           "state": None if run.get("state") else job.get("state"), "last_run": last}
    return {k: v for k, v in out.items() if v}


def definition_summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """Of a parsed definition (`job_ids`, `error`, and the cache's `updated_at`), what `build`
    reads: the job ids, and the error if there is one."""
    out: dict[str, Any] = {"job_ids": list(entry.get("job_ids") or [])}
    if entry.get("error"):
        out["error"] = entry["error"]
    return out


# -- rows ------------------------------------------------------------------------------------


@dataclass
class JobInfo:
    """One job as the audit read it: the /jobs list item (snake_case) or an error."""

    job_id: int
    item: Mapping[str, Any] | None = None
    error: str | None = None

    @property
    def name(self) -> str:
        return str((self.item or {}).get("name") or "")

    @property
    def last_run(self) -> Mapping[str, Any]:
        return (self.item or {}).get("last_run") or {}

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        state = str(self.last_run.get("state") or (self.item or {}).get("state") or "")
        return {"success": "succeeded"}.get(state, state) or NEVER_RUN

    @property
    def failing(self) -> bool:
        return self.state in FAILED_STATES or self.state == "error"


def workflow_row(workflow: Mapping[str, Any],
                 history: History | Sequence[Mapping[str, Any]] | None,
                 definition: Definition | None, jobs: Mapping[int, JobInfo], now: datetime,
                 error: str | None = None) -> dict[str, Any]:
    """One `Workflows` row (plus private `_` fields the mail rule and sorting use), from the
    workflow's `History` or its executions."""
    wf = snake(workflow)
    schedule = wf.get("schedule") or {}
    tz = wf.get("time_zone")
    if not isinstance(history, History):
        history = summarize_executions(history or [], now)
    problems = [p for p in (error, definition.error if definition else None) if p]
    failing = []
    for job_id in definition.job_ids if definition else []:
        info = jobs.get(job_id)
        if info is not None and info.failing:
            failing.append(f"{job_id} {info.name}".strip() if not info.error
                           else f"{job_id} (unreadable)")
    status = "error" if error else history.status
    owner = wf.get("user") or {}
    row = {
        "status": status,
        "workflow_id": int(wf.get("id") or 0),
        "workflow": str(wf.get("name") or ""),
        "owner": str(owner.get("name") or owner.get("username") or ""),
        "schedule": describe_schedule(schedule, tz),
        "overdue": "yes" if (not error and is_overdue(
            schedule, tz, history.last_start, now, parse_time(wf.get("created_at")))) else "no",
        "failure_streak": history.failure_streak,
        "last_success": format_time(history.last_success),
        "last_start": format_time(history.last_start),
        "last_finish": format_time(history.last_finish),
        "last_runtime": format_duration(history.last_runtime),
        "failing_jobs": ", ".join(failing),
        "error": "; ".join(problems + ([history.error] if history.error else [])),
        "_last_failure": history.last_failure,
    }
    return row


def job_rows(workflow: Mapping[str, Any], definition: Definition | None,
             jobs: Mapping[int, JobInfo]) -> list[dict[str, Any]]:
    """The `Jobs` rows of one workflow, in definition order."""
    wf = snake(workflow)
    rows = []
    for job_id in definition.job_ids if definition else []:
        info = jobs.get(job_id) or JobInfo(job_id, error="not read")
        run = info.last_run
        started, finished = parse_time(run.get("started_at")), parse_time(run.get("finished_at"))
        job_type = str((info.item or {}).get("type") or "")
        rows.append({
            "state": info.state,
            "workflow_id": int(wf.get("id") or 0),
            "workflow": str(wf.get("name") or ""),
            "job_id": job_id,
            "job": info.name,
            "type": job_type.removeprefix("JobTypes::"),
            "last_start": format_time(started),
            "last_finish": format_time(finished),
            "last_runtime": format_duration((finished - started).total_seconds()
                                            if started and finished else None),
            "error": first_line(info.error or (run.get("error") if info.failing else "")),
        })
    return rows


def mail_end(data_interval_end: Any, read_at: Any) -> datetime:
    """Where a run's mail window ends: its data interval's end (a scheduled run's tick; a manual
    run's trigger time), but never after `read_at`, when collect began reading Civis.

    The mailed-through mark moves to this end, so it must not lie after what the run saw: a
    failure that finished after the read and before the end would be in no later run's window.
    Anything earlier is safe, since a failure after the end is in the next run's window. A run
    without an interval end (a manual run without a logical date) ends at the read.
    """
    read = parse_time(read_at)
    end = parse_time(data_interval_end)
    if read is None:
        if end is None:
            raise ValueError("a mail window needs an end or the time Civis was read")
        return end
    return read if end is None or end > read else end


def mail_candidates(rows: Iterable[Mapping[str, Any]], end: datetime,
                    bound: timedelta = MAIL_CATCHUP) -> list[dict[str, Any]]:
    """What compute hands the mail task (its XCom, kept small): the workflows whose latest
    failure finished in [end - bound, end), each as the e-mail's fields (`MAIL_FIELDS`) and
    `failed_at`, that failure's finish (ISO 8601). Only the mail task knows the mark, so it picks
    from these; an older failure could only be mailed past the catch-up bound."""
    out = []
    for row in rows:
        failed = row.get("_last_failure")
        if failed is not None and end - bound <= failed < end:
            out.append({**{k: row[k] for k in MAIL_FIELDS}, "failed_at": iso_time(failed)})
    return out


@dataclass(frozen=True)
class MailWindow:
    """The failures a run mails: latest failure finished in [start, end).

    `cut_from` is where the window would have started without the catch-up bound (None when the
    bound cut nothing): the failures between it and `start` are not mailed.
    """

    start: datetime
    end: datetime
    cut_from: datetime | None = None

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


def mail_window(mark: Any, end: Any, first: timedelta = MAIL_PERIOD,
                bound: timedelta = MAIL_CATCHUP) -> MailWindow:
    """[mark, end): every failure after what earlier runs mailed, up to this run's end.

    No mark yet (the first run): the `first` period before the end. A mark more than `bound`
    before the end (an outage) starts the window at the bound, with `cut_from` saying where it
    would have started. A mark at or after the end (a later run already mailed through it: a
    cleared task or run, a scheduled run after a manual one) gives an empty window, so nothing
    is mailed twice.
    """
    end = parse_time(end)
    if end is None:
        raise ValueError("a mail window needs an end")
    start = parse_time(mark) or end - first
    if start >= end:
        return MailWindow(end, end)
    if start < end - bound:
        return MailWindow(end - bound, end, cut_from=start)
    return MailWindow(start, end)


def to_mail(candidates: Iterable[Mapping[str, Any]], window: MailWindow
            ) -> list[Mapping[str, Any]]:
    """The candidates (`mail_candidates`) whose latest failure finished inside the window."""
    return [c for c in candidates
            if c.get("failed_at") and window.holds(parse_time(c["failed_at"]))]


def advanced_mark(mark: Any, end: Any) -> datetime:
    """The mailed-through mark after a run mailed through `end`: never earlier than it was, so a
    run that ends before the mark (see `mail_window`) cannot make a later run mail again."""
    end = parse_time(end)
    mark = parse_time(mark)
    return end if mark is None or end > mark else mark


def _order(row: Mapping[str, Any], state_key: str) -> tuple:
    state = str(row.get(state_key) or "")
    rank = STATUS_ORDER.get(state, 0 if state in ("failed", "cancelled", "error") else 3)
    if state_key == "state" and state in FAILED_STATES:
        rank = 1
    return (rank, str(row.get("workflow") or "").lower(), row.get("workflow_id") or 0,
            row.get("job_id") or 0)


def sort_workflow_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failures first (unreadable, failed, other errors such as broken YAML, overdue), then
    running, never run, succeeded; by workflow name within each."""
    def key(row: Mapping[str, Any]) -> tuple:
        rank, *rest = _order(row, "status")
        if row.get("error") and rank > 1:
            rank = 1.2
        elif row.get("overdue") == "yes" and rank > 1:
            rank = 1.5
        return (rank, *rest)
    return sorted(rows, key=key)


def sort_job_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: _order(r, "state"))


def frames(workflow_rows: list[dict[str, Any]], jobs: list[dict[str, Any]]):
    """The two DataFrames for the `Workflows` and `Jobs` tabs, failures first."""
    import pandas as pd

    wf = pd.DataFrame([{c: r[c] for c in WORKFLOW_COLUMNS}
                       for r in sort_workflow_rows(workflow_rows)], columns=WORKFLOW_COLUMNS)
    jb = pd.DataFrame([{c: r[c] for c in JOB_COLUMNS} for r in sort_job_rows(jobs)],
                      columns=JOB_COLUMNS)
    return wf, jb


def build(collected: Mapping[str, Any], now: datetime) -> tuple[list[dict], list[dict]]:
    """Workflow rows and job rows from what `collect` read (see precinct.operators.audit).

    Per workflow id, `histories` holds its executions' `history_summary` (what collect hands
    on; a workflow without one never ran); `executions`, the executions themselves, is read too
    (it wins for a workflow in both).
    """
    definitions = {int(k): Definition(list(v.get("job_ids") or []), v.get("error"))
                   for k, v in (collected.get("definitions") or {}).items()}
    jobs: dict[int, JobInfo] = {}
    for key, item in (collected.get("jobs") or {}).items():
        jobs[int(key)] = JobInfo(int(key), snake(item) if item else None)
    for key, message in (collected.get("job_errors") or {}).items():
        jobs[int(key)] = JobInfo(int(key), None, message)
    errors = {int(k): v for k, v in (collected.get("errors") or {}).items()}
    histories = {int(k): history_from_summary(v)
                 for k, v in (collected.get("histories") or {}).items()}
    histories.update({int(k): summarize_executions(v or [], now)
                      for k, v in (collected.get("executions") or {}).items()})
    wf_rows, jb_rows = [], []
    for workflow in collected.get("workflows") or []:
        wf = snake(workflow)
        wf_id = int(wf["id"])
        definition = definitions.get(wf_id)
        wf_rows.append(workflow_row(wf, histories.get(wf_id, History()), definition, jobs,
                                    now, errors.get(wf_id)))
        jb_rows.extend(job_rows(wf, definition, jobs))
    return wf_rows, jb_rows
