"""The audit's computed columns on seeded histories (no Airflow, no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from precinct.audit import (
    JOB_COLUMNS,
    WORKFLOW_COLUMNS,
    MailWindow,
    advanced_mark,
    build,
    definition_summary,
    describe_schedule,
    due_times,
    frames,
    history_from_summary,
    history_summary,
    is_overdue,
    job_ids_from_definition,
    job_summary,
    mail_candidates,
    mail_end,
    mail_window,
    summarize_executions,
    to_mail,
    workflow_summary,
)

NOW = datetime(2026, 11, 24, 15, 10, tzinfo=UTC)
CHICAGO = ZoneInfo("America/Chicago")
DAILY_2330 = {"scheduled": True, "scheduledDays": list(range(7)), "scheduledHours": [23],
              "scheduledMinutes": [30], "scheduledRunsPerHour": None, "scheduledDaysOfMonth": []}
HOURLY = {"scheduled": True, "scheduledDays": list(range(7)), "scheduledHours": list(range(24)),
          "scheduledMinutes": [], "scheduledRunsPerHour": 1, "scheduledDaysOfMonth": []}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def execution(id_: int, state: str, start: datetime | None, minutes: float | None,
              error: str | None = None) -> dict:
    finish = start + timedelta(minutes=minutes) if start and minutes is not None else None
    return {"id": id_, "state": state, "startedAt": iso(start) if start else None,
            "finishedAt": iso(finish) if finish else None,
            "createdAt": iso(start) if start else None, "mistralStateInfo": error}


def definition(*job_ids: int) -> str:
    lines = ["version: '2.0'", "workflow:", "  tasks:"]
    for i, job_id in enumerate(job_ids):
        lines += [f"    step_{i}:", "      action: civis.run_job", "      input:",
                  f"        job_id: {job_id}"]
    return "\n".join(lines) + "\n"


# -- definitions -----------------------------------------------------------------------------


def test_job_ids_follow_the_task_graph_in_order():
    assert job_ids_from_definition(definition(12, 7, 12, 30)).job_ids == [12, 7, 30]


def test_nested_workflows_and_workbooks_are_walked():
    text = """
version: '2.0'
workflows:
  main:
    tasks:
      load:
        action: civis.run_job
        input: {job_id: 101}
        on-success: [sub]
      sub:
        workflow: cleanup
  cleanup:
    tasks:
      dedupe:
        action: civis.run_job
        input:
          job_id: "102"
      note:
        action: std.echo
        input: {output: "job_id: 999"}
      inline:
        workflow:
          tasks:
            deep:
              action: civis.enhancement.cass_ncoa
              input: {job_id: 103}
"""
    parsed = job_ids_from_definition(text)
    assert parsed.job_ids == [101, 102, 103]
    assert parsed.error is None


@pytest.mark.parametrize("text", [
    definition(1).replace("      input:\n", "      input: {job_id: [\n", 1),
    definition(1).replace("  tasks:", "  tasks:\n\t  bad_indent: true", 1),
    "version: '2.0'\nworkflow:\n  tasks: ['unterminated\n",
    "just a string",
    "",
])
def test_broken_definitions_give_an_error_not_a_crash(text):
    parsed = job_ids_from_definition(text)
    assert parsed.job_ids == []
    assert parsed.error


def test_a_templated_job_id_is_an_error_but_keeps_the_other_ids():
    text = definition(5) + "    step_x:\n      action: civis.run_job\n      input:\n" \
                           "        job_id: <% $.job %>\n"
    parsed = job_ids_from_definition(text)
    assert parsed.job_ids == [5]
    assert "step_x" in parsed.error


# -- executions ------------------------------------------------------------------------------


def test_streak_last_success_and_runtime():
    t = NOW - timedelta(days=3)
    runs = [execution(1, "succeeded", t, 10),
            execution(2, "succeeded", t + timedelta(days=1), 12),
            execution(3, "failed", t + timedelta(days=2), 5, "Task step_1 failed: boom\nmore"),
            execution(4, "cancelled", t + timedelta(days=2, hours=1), 1),
            execution(5, "failed", t + timedelta(days=3), 7.5, "Task step_2 failed: KeyError")]
    history = summarize_executions(list(reversed(runs)))
    assert history.status == "failed"
    assert history.failure_streak == 3
    assert history.last_success == t + timedelta(days=1, minutes=12)
    assert history.last_runtime == 7.5 * 60
    assert history.last_failure == t + timedelta(days=3, minutes=7.5)
    assert history.error == "Task step_2 failed: KeyError"


def test_running_execution_is_looked_past_for_the_streak():
    t = NOW - timedelta(hours=5)
    runs = [execution(1, "failed", t, 5), execution(2, "failed", t + timedelta(hours=1), 5),
            execution(3, "running", NOW - timedelta(minutes=3), None)]
    history = summarize_executions(runs)
    assert (history.status, history.failure_streak) == ("running", 2)
    assert history.last_start == NOW - timedelta(minutes=3)
    assert history.last_runtime == 300 and history.last_success is None


def test_never_run():
    history = summarize_executions([])
    assert (history.status, history.failure_streak, history.last_success) == ("never run", 0,
                                                                              None)


def test_runtime_across_midnight_and_time_zones():
    start = datetime(2026, 11, 23, 23, 40, tzinfo=CHICAGO)  # 05:40 UTC on the 24th
    finish = datetime(2026, 11, 24, 0, 30, tzinfo=CHICAGO)
    run = {"id": 9, "state": "succeeded", "startedAt": start.isoformat(),  # -06:00 offset
           "finishedAt": finish.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    history = summarize_executions([run])
    assert history.last_runtime == 50 * 60
    assert history.last_success == datetime(2026, 11, 24, 6, 30, tzinfo=UTC)


# -- schedules -------------------------------------------------------------------------------


def test_due_times_keep_local_wall_clock_across_dst():
    tz = "America/New_York"  # DST ends 2026-11-01 02:00
    times = due_times({**DAILY_2330}, tz, datetime(2026, 10, 30, tzinfo=UTC),
                      datetime(2026, 11, 3, 12, tzinfo=UTC))
    local = [t.astimezone(ZoneInfo(tz)) for t in times]
    assert [(t.day, t.hour, t.minute) for t in local] == [(29, 23, 30), (30, 23, 30),
                                                          (31, 23, 30), (1, 23, 30),
                                                          (2, 23, 30)]
    assert [t.hour for t in times] == [3, 3, 3, 4, 4]  # UTC moves by the offset change
    assert all(t.tzinfo is not None for t in times)


def test_spring_forward_gap_is_due_once():
    sched = {**DAILY_2330, "scheduledHours": [2], "scheduledMinutes": [30]}
    times = due_times(sched, "America/Chicago", datetime(2026, 3, 7, 12, tzinfo=UTC),
                      datetime(2026, 3, 9, 12, tzinfo=UTC))
    assert len(times) == 2 and len(set(times)) == 2


def test_overdue_hourly():
    hourly = {k: v for k, v in HOURLY.items()}
    snake = {"scheduled": True, "scheduled_runs_per_hour": 1,
             "scheduled_days": hourly["scheduledDays"],
             "scheduled_hours": hourly["scheduledHours"]}
    # Due at 14:00 and 15:00 UTC; at 15:10 the 15:00 run may still be starting (grace 15 min).
    assert is_overdue(snake, "UTC", NOW.replace(hour=14, minute=1), NOW) is False
    assert is_overdue(snake, "UTC", NOW.replace(hour=13, minute=1), NOW) is True
    assert is_overdue(snake, "UTC", None, NOW) is True
    late = NOW.replace(minute=20)  # 15:20: the 15:00 run is now 20 minutes late
    assert is_overdue(snake, "UTC", NOW.replace(hour=14, minute=1), late) is True
    assert is_overdue(snake, "UTC", NOW.replace(hour=15, minute=2), late) is False
    # Created after the last due time: nothing was due yet.
    assert is_overdue(snake, "UTC", None, NOW, created_at=NOW - timedelta(minutes=30)) is False
    assert is_overdue({"scheduled": False}, "UTC", None, NOW) is False


def test_overdue_daily_in_the_workflows_zone_across_midnight():
    sched = {"scheduled": True, "scheduled_days": list(range(7)), "scheduled_hours": [23],
             "scheduled_minutes": [30]}
    # 2026-11-24 06:00 UTC is 00:00 in Chicago: the 23:30 local run of the 23rd is due.
    now = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
    ran = datetime(2026, 11, 23, 23, 31, tzinfo=CHICAGO)
    assert is_overdue(sched, "America/Chicago", ran, now) is False
    assert is_overdue(sched, "America/Chicago", ran - timedelta(days=1), now) is True
    # In UTC the same schedule was due at 23:30 UTC on the 23rd, before the local run.
    assert is_overdue(sched, "UTC", ran, now) is False


@pytest.mark.parametrize(("schedule", "tz", "words"), [
    (DAILY_2330, "America/Chicago", "daily at 23:30 (America/Chicago)"),
    (HOURLY, "UTC", "hourly (UTC)"),
    ({**HOURLY, "scheduledRunsPerHour": 2, "scheduledDays": [1, 2, 3, 4, 5]}, "UTC",
     "weekdays, every 30 min (UTC)"),
    ({**DAILY_2330, "scheduledDays": [0], "scheduledHours": [9], "scheduledMinutes": [0]},
     "America/New_York", "Sun at 09:00 (America/New_York)"),
    ({**DAILY_2330, "scheduledDays": [], "scheduledDaysOfMonth": [1, 15],
      "scheduledHours": [6], "scheduledMinutes": [15]}, "UTC",
     "on day 1, 15 of the month at 06:15 (UTC)"),
    ({"scheduled": False}, "UTC", "not scheduled"),
])
def test_schedule_in_words(schedule, tz, words):
    from precinct.audit.core import snake

    assert describe_schedule(snake(schedule), tz) == words


# -- rows ------------------------------------------------------------------------------------


def workflow(id_: int, name: str, schedule: dict, tz: str = "UTC", **extra) -> dict:
    return {"id": id_, "name": name, "user": {"id": 1, "name": "Maya Rodriguez"},
            "schedule": schedule, "timeZone": tz, "state": "succeeded",
            "createdAt": "2025-01-01T00:00:00Z", "updatedAt": "2025-02-01T00:00:00Z", **extra}


def job(id_: int, name: str, state: str, start: datetime | None, minutes: float | None = None,
        error: str | None = None) -> dict:
    finish = start + timedelta(minutes=minutes) if start and minutes is not None else None
    return {"id": id_, "name": name, "type": "JobTypes::ContainerDocker", "state": state,
            "lastRun": None if start is None else {
                "id": id_ * 10, "state": state, "startedAt": iso(start),
                "finishedAt": iso(finish) if finish else None, "error": error}}


@pytest.fixture
def collected() -> dict:
    fail_at = NOW - timedelta(minutes=20)
    midnight = datetime(2026, 11, 23, 23, 40, tzinfo=CHICAGO)
    return {
        "workflows": [
            workflow(1, "Nightly match", DAILY_2330, "America/Chicago"),
            workflow(2, "Hourly sync", HOURLY),
            workflow(3, "Broken", HOURLY),
            workflow(4, "New one", HOURLY, state="scheduled"),
            workflow(5, "Secret", HOURLY),
        ],
        "definitions": {
            "1": {"job_ids": [11, 12], "error": None},
            "2": {"job_ids": [21, 22, 23], "error": None},
            "3": {"job_ids": [], "error": "Invalid YAML: mapping values are not allowed"},
            "4": {"job_ids": [41], "error": None},
        },
        "executions": {
            "1": [execution(101, "succeeded", midnight, 50)],
            "2": [execution(201, "succeeded", NOW - timedelta(hours=3), 4),
                  execution(202, "failed", NOW - timedelta(hours=2), 4, "Task x failed: a\nb"),
                  execution(203, "failed", fail_at - timedelta(minutes=5), 5,
                            "Task step_2 failed: ERROR: relation does not exist")],
            "3": [], "4": [],
        },
        "errors": {"5": "cannot read the workflow: (403) Forbidden"},
        "jobs": {
            "11": job(11, "Import VAN", "succeeded", midnight, 20),
            "12": job(12, "Score", "succeeded", midnight + timedelta(minutes=20), 30),
            "21": job(21, "Sync", "succeeded", fail_at - timedelta(minutes=5), 2),
            "22": job(22, "Load", "failed", fail_at - timedelta(minutes=3), 3,
                      "ERROR: relation does not exist\nLINE 1: select"),
            "41": job(41, "Fresh", "scheduled", None),
        },
        "job_errors": {"23": "cannot read job 23: (403) Forbidden"},
    }


def test_every_workflow_column(collected):
    rows, _ = build(collected, NOW)
    by_id = {r["workflow_id"]: r for r in rows}
    nightly = by_id[1]
    assert {k: nightly[k] for k in WORKFLOW_COLUMNS} == {
        "status": "succeeded", "workflow_id": 1, "workflow": "Nightly match",
        "owner": "Maya Rodriguez", "schedule": "daily at 23:30 (America/Chicago)",
        "overdue": "no", "failure_streak": 0,
        "last_success": "2026-11-24 06:30:00 UTC", "last_start": "2026-11-24 05:40:00 UTC",
        "last_finish": "2026-11-24 06:30:00 UTC", "last_runtime": "0:50:00",
        "failing_jobs": "", "error": "",
    }
    hourly = by_id[2]
    assert hourly["status"] == "failed" and hourly["failure_streak"] == 2
    assert hourly["overdue"] == "no"  # the 14:00 run started at 14:45
    assert hourly["last_success"] == "2026-11-24 12:14:00 UTC"
    assert hourly["last_runtime"] == "0:05:00"
    assert hourly["failing_jobs"] == "22 Load, 23 (unreadable)"
    assert hourly["error"] == "Task step_2 failed: ERROR: relation does not exist"
    broken = by_id[3]
    assert broken["status"] == "never run" and broken["overdue"] == "yes"
    assert broken["error"].startswith("Invalid YAML")
    assert by_id[4]["status"] == "never run" and by_id[4]["overdue"] == "yes"
    assert by_id[5]["status"] == "error" and "403" in by_id[5]["error"]


def test_a_running_workflow_row(collected):
    """Running now, after two failures: status running, the streak of the finished runs, and
    the runtime of the last finished run (the running one has none yet)."""
    collected["executions"]["2"].append(
        execution(204, "running", NOW - timedelta(minutes=3), None))
    rows, _ = build(collected, NOW)
    hourly = {r["workflow_id"]: r for r in rows}[2]
    assert (hourly["status"], hourly["failure_streak"]) == ("running", 2)
    assert hourly["last_start"] == "2026-11-24 15:07:00 UTC"  # NOW - 3 min
    assert hourly["overdue"] == "no"


def test_every_job_column(collected):
    _, jobs = build(collected, NOW)
    by_id = {r["job_id"]: r for r in jobs}
    assert {k: by_id[22][k] for k in JOB_COLUMNS} == {
        "state": "failed", "workflow_id": 2, "workflow": "Hourly sync", "job_id": 22,
        "job": "Load", "type": "ContainerDocker", "last_start": "2026-11-24 14:47:00 UTC",
        "last_finish": "2026-11-24 14:50:00 UTC", "last_runtime": "0:03:00",
        "error": "ERROR: relation does not exist",
    }
    assert by_id[12]["last_runtime"] == "0:30:00"  # 00:00 -> 00:30 Chicago, after midnight
    assert by_id[23]["state"] == "error" and "403" in by_id[23]["error"]
    assert by_id[41]["state"] == "scheduled" and by_id[41]["last_start"] == ""
    assert by_id[21]["error"] == ""


def test_failures_first_in_both_frames(collected):
    rows, jobs = build(collected, NOW)
    wf, jb = frames(rows, jobs)
    assert list(wf.columns) == WORKFLOW_COLUMNS and list(jb.columns) == JOB_COLUMNS
    assert list(wf["status"])[:2] == ["error", "failed"]
    assert list(wf["overdue"])[2:4] == ["yes", "yes"]
    assert list(wf["status"])[-1] == "succeeded"
    assert list(jb["state"])[:2] == ["error", "failed"]


TICK = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # a tick of the audit's */30 schedule


def test_compute_hands_the_mail_task_the_failures_within_the_catch_up_bound(collected):
    rows, _ = build(collected, NOW)
    failed = NOW - timedelta(minutes=20)  # workflow 2's latest failure, 14:50
    assert mail_candidates(rows, NOW) == [{
        "workflow_id": 2, "workflow": "Hourly sync", "owner": "Maya Rodriguez",
        "status": "failed", "failure_streak": 2, "failing_jobs": "22 Load, 23 (unreadable)",
        "error": "Task step_2 failed: ERROR: relation does not exist",
        "failed_at": "2026-11-24T14:50:00Z"}]
    assert mail_candidates(rows, failed) == []  # the end is not in the window
    assert [c["workflow_id"] for c in mail_candidates(rows, failed + timedelta(hours=24))] == [2]
    assert mail_candidates(rows, failed + timedelta(hours=24, seconds=1)) == []


def test_the_window_runs_from_the_mark_to_the_end():
    mark = TICK - timedelta(minutes=30)
    assert mail_window(mark, TICK) == MailWindow(mark, TICK)
    assert mail_window("2026-11-24T14:30:00Z", TICK.isoformat()) == MailWindow(mark, TICK)
    # A skipped tick: the window reaches back to the last mailed end.
    assert mail_window(TICK - timedelta(hours=2), TICK).start == TICK - timedelta(hours=2)


def test_without_a_mark_the_first_run_mails_the_30_minutes_before_its_end():
    assert mail_window(None, TICK) == MailWindow(TICK - timedelta(minutes=30), TICK)


def test_the_catch_up_after_an_outage_is_bounded_and_says_what_it_cut():
    mark = TICK - timedelta(days=3)
    window = mail_window(mark, TICK)
    assert window == MailWindow(TICK - timedelta(hours=24), TICK, cut_from=mark)
    assert mail_window(TICK - timedelta(hours=24), TICK).cut_from is None


def test_the_mark_never_moves_backwards():
    later = TICK + timedelta(minutes=10)  # a manual run at 15:10 already mailed through it
    window = mail_window(later, TICK)  # the 15:00 run, cleared or late
    assert window.start == window.end and not window.holds(TICK - timedelta(minutes=1))
    assert advanced_mark(later, TICK) == later
    assert advanced_mark(TICK - timedelta(minutes=30), TICK) == TICK
    assert advanced_mark(None, TICK) == TICK


def test_the_end_is_the_interval_end_but_never_after_the_read():
    read = TICK + timedelta(minutes=2)
    assert mail_end(TICK, read) == TICK  # a scheduled run: its tick
    assert mail_end(TICK.isoformat(), "2026-11-24T15:02:00Z") == TICK
    assert mail_end(None, read) == read  # a manual run without a logical date
    assert mail_end(TICK + timedelta(hours=1), read) == read  # an interval ahead of the read


def test_each_failure_is_mailed_exactly_once_across_runs():
    """Runs in the order they happen: the 15:00 tick, 15:30 skipped (scheduler down), 16:00,
    16:00 again (its mail task cleared), a manual run at 16:10, then 16:30 and a late 16:00."""
    failures = {n: TICK - timedelta(minutes=25) + timedelta(minutes=7) * n for n in range(14)}
    rows = [{"workflow_id": n, "workflow": f"w{n}", "owner": "", "status": "failed",
             "failure_streak": 1, "failing_jobs": "", "error": "", "_last_failure": at}
            for n, at in failures.items()]
    mailed: list[int] = []
    mark = None
    for end in [TICK, TICK + timedelta(minutes=60), TICK + timedelta(minutes=60),
                TICK + timedelta(minutes=70), TICK + timedelta(minutes=90),
                TICK + timedelta(minutes=60)]:
        seen = [r for r in rows if r["_last_failure"] < end]  # what that run read
        window = mail_window(mark, end)
        mailed += [c["workflow_id"] for c in to_mail(mail_candidates(seen, end), window)]
        mark = advanced_mark(mark, end)
    expected = [n for n, at in failures.items() if at < TICK + timedelta(minutes=90)]
    assert sorted(mailed) == expected and len(mailed) == len(set(mailed))


# -- what collect hands on: summaries, not executions ----------------------------------------


def test_a_history_summary_is_json_and_gives_back_the_history(collected):
    import json

    t = NOW - timedelta(days=3)
    histories = [
        [execution(1, "succeeded", t, 10), execution(2, "failed", t + timedelta(days=1), 5.25,
                                                     "Task step_1 failed: boom\nmore"),
         execution(3, "running", NOW - timedelta(minutes=3, microseconds=7), None)],
        [execution(7, "cancelled", t, 0)],
        *collected["executions"].values(),
    ]
    for runs in histories:
        expected = summarize_executions(runs)
        summary = json.loads(json.dumps(history_summary(runs)))
        back = history_from_summary(summary)
        back.complete = expected.complete  # not carried: only collect's paging reads it
        assert back == expected
    assert history_summary([]) == {}
    assert history_from_summary({}) == summarize_executions([])


def test_rows_from_summaries_are_the_rows_from_executions(collected):
    summarized = {k: v for k, v in collected.items() if k != "executions"}
    summarized["histories"] = {k: history_summary(v) for k, v in
                               collected["executions"].items() if v}
    assert build(summarized, NOW) == build(collected, NOW)


def test_rows_from_the_summaries_of_workflows_jobs_and_definitions(collected):
    """What collect hands on for the workflows, jobs and definitions gives the same rows."""
    jobs = {**collected["jobs"],
            "31": {**job(31, "Old failure", "succeeded", NOW - timedelta(hours=1), 2,
                         "ERROR: only shown while failing"), "id": 31},
            "32": {"id": 32, "name": "No run", "type": "JobTypes::Import", "state": "idle",
                   "lastRun": None}}
    workflows = [*collected["workflows"],
                 workflow(6, "Unnamed owner", {"scheduled": False, "scheduledDays": []},
                          user={"id": 2, "name": "", "username": "sam.o"})]
    full = {**collected, "workflows": workflows, "jobs": jobs,
            "definitions": {**collected["definitions"],
                            "6": {"updated_at": "2025-02-01T00:00:00Z", "job_ids": [31, 32],
                                  "error": None}}}
    summarized = {**full, "workflows": [workflow_summary(w) for w in workflows],
                  "jobs": {k: job_summary(v) for k, v in jobs.items()},
                  "definitions": {k: definition_summary(v)
                                  for k, v in full["definitions"].items()}}
    assert build(summarized, NOW) == build(full, NOW)
    assert workflow_summary(workflows[-1])["user"] == {"username": "sam.o"}
    assert "error" not in job_summary(jobs["31"])["last_run"]
    assert job_summary(jobs["22"])["last_run"]["error"] == "ERROR: relation does not exist"
