"""The civis_workflow_audit DAG run with `airflow dags test` against the Civis and Sheets
stand-ins: the tabs' cells as a person sees them, one e-mail per failure (across consecutive
runs, a skipped tick, a cleared mail task or run, a manual run), 429 retries on both services,
and a failed sheet write keeping the old tab.

`airflow dags test` makes every run a manual one with the timetable's interval for its logical
date (the date itself, for the cron timetable), so a run on a :00 or :30 logical date is what
the scheduler's run for that tick does, and one between ticks is a manual run triggered then.
The mailed-through mark is one Airflow Variable for the whole metadata DB: each test that
depends on it sets it first.

The Civis stand-in is shared: the test seeds its own uniquely named workflows and jobs, scopes
its faults to their paths and asserts on its own rows only.
"""

from __future__ import annotations

import ast
import html
import json
import re
import time
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from devstack import civis, sheets, smtp
from precinct.hooks.civis import CivisHook
from tests.support import run_airflow, run_id_of, task_tries

DAG_ID = "civis_workflow_audit"
SPREADSHEET_VARIABLE = "civis_workflow_audit_spreadsheet_id"
SPREADSHEET_ENV = f"AIRFLOW_VAR_{SPREADSHEET_VARIABLE.upper()}"
HOURLY = {"scheduled": True, "scheduledDays": list(range(7)), "scheduledHours": list(range(24)),
          "scheduledRunsPerHour": 1}
DAILY_2330 = {"scheduled": True, "scheduledDays": list(range(7)), "scheduledHours": [23],
              "scheduledMinutes": [30]}
CHICAGO = ZoneInfo("America/Chicago")
MARK = "civis_workflow_audit_mailed_through"


def set_mark(moment: datetime | None) -> None:
    """The mailed-through mark as a run left it (None: no run has mailed yet)."""
    from airflow.models.variable import Variable

    if moment is None:
        Variable.delete(MARK)
    else:
        Variable.set(MARK, iso(moment))


def mark() -> datetime | None:
    from airflow.models.variable import Variable

    value = Variable.get(MARK, default_var=None)
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def definition(*job_ids: int) -> str:
    lines = ["version: '2.0'", "workflow:", "  tasks:"]
    for i, job_id in enumerate(job_ids):
        lines += [f"    step_{i}:", "      action: civis.run_job", "      input:",
                  f"        job_id: {job_id}"]
    return "\n".join(lines) + "\n"


def run(logical: datetime, spreadsheet: str | None, env: dict[str, str] | None = None,
        **conf) -> str:
    """One audit with `airflow dags test`; `spreadsheet` None leaves the Param empty."""
    if spreadsheet is not None:
        conf = {"spreadsheet_id": spreadsheet, **conf}
    result = run_airflow(
        "dags", "test", DAG_ID, logical.strftime("%Y-%m-%dT%H:%M:%S+00:00"), "-c",
        json.dumps(conf),
        extra_env={"PRECINCT_RETRY_DELAY_SECONDS": "1", **(env or {})}, timeout=600,
    )
    return result.stdout + result.stderr


def mails_about(name: str, since: float) -> list:
    found = []
    for message in smtp.messages():
        body = message.get_body(("html", "plain"))
        text = str(message["Subject"]) + (body.get_content() if body else "")
        if name in text and message.get("Date") and \
                message["Date"].datetime.timestamp() >= since - 1:
            found.append(message)
    return found


@pytest.fixture(scope="module")
def seeded(devstack_env, airflow_db) -> dict:
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    # The first run's logical date: a half-hour boundary in the past; its mail window is the
    # 30 minutes before it, and the failure finished inside it.
    logical = now.replace(minute=0 if now.minute < 30 else 30, second=0,
                          microsecond=0) - timedelta(hours=1)
    fail_at = logical - timedelta(minutes=10)
    sync = civis.create_job("container", f"Sync {tag}",
                            runs=[{"state": "succeeded", "started_at": iso(fail_at - timedelta(
                                minutes=9)), "finished_at": iso(fail_at - timedelta(minutes=6))}])
    load = civis.create_job("sql", f"Load {tag}", runs=[{
        "state": "failed", "started_at": iso(fail_at - timedelta(minutes=5)),
        "finished_at": iso(fail_at), "error": "ERROR: relation \"staging.x\" does not exist\n"
                                              "LINE 1: select"}])
    secret = civis.create_job("container", f"Secret {tag}", forbidden=True)
    night_a = civis.create_job("python3", f"Night A {tag}", runs=[{
        "state": "succeeded", "started_at": iso(datetime(2026, 11, 22, 23, 40, tzinfo=CHICAGO)),
        "finished_at": iso(datetime(2026, 11, 23, 0, 5, tzinfo=CHICAGO))}])
    start = now - timedelta(hours=3)
    failing = civis.create_workflow(
        f"Failing {tag}", definition(sync["id"], load["id"], secret["id"]), schedule=HOURLY,
        time_zone="UTC", owner="Maya Rodriguez", created_at=iso(now - timedelta(days=30)),
        executions=[
            {"state": "succeeded", "started_at": iso(start), "finished_at": iso(start + timedelta(
                minutes=4))},
            {"state": "failed", "started_at": iso(fail_at - timedelta(minutes=70)),
             "finished_at": iso(fail_at - timedelta(minutes=65)), "error": "Task x failed"},
            {"state": "failed", "started_at": iso(fail_at - timedelta(minutes=10)),
             "finished_at": iso(fail_at), "error": "Task step_1 failed: relation does not exist"},
        ])
    midnight_start = datetime(2026, 11, 22, 23, 40, tzinfo=CHICAGO)
    nightly = civis.create_workflow(
        f"Nightly {tag}", definition(night_a["id"]), schedule=DAILY_2330,
        time_zone="America/Chicago", owner="Sam Okafor", created_at=iso(now - timedelta(days=60)),
        executions=[{"state": "succeeded", "started_at": iso(midnight_start),
                     "finished_at": iso(midnight_start + timedelta(minutes=50))}])
    broken = civis.create_workflow(
        f"Broken {tag}", "version: '2.0'\nworkflow:\n  tasks: ['unterminated\n", schedule=HOURLY,
        time_zone="UTC", created_at=iso(now - timedelta(days=5)))
    watched = civis.create_workflow(
        f"Watched {tag}", definition(sync["id"]), schedule={"scheduled": False},
        executions=[{"state": "succeeded", "started_at": iso(now - timedelta(days=2)),
                     "finished_at": iso(now - timedelta(days=2) + timedelta(seconds=75))}])
    unwatched = civis.create_workflow(f"Unwatched {tag}", definition(sync["id"]),
                                      schedule={"scheduled": False})
    spreadsheet = f"audit-{tag}"
    sheets.create_spreadsheet(spreadsheet, sheets=["Sheet1"])
    return {"tag": tag, "logical": logical, "spreadsheet": spreadsheet, "failing": failing,
            "nightly": nightly, "broken": broken, "watched": watched, "unwatched": unwatched,
            "jobs": {"sync": sync, "load": load, "secret": secret, "night_a": night_a}}


def rows_by_id(values: list[list[str]], key: str) -> dict[str, dict[str, str]]:
    header = values[0]
    return {row[header.index(key)]: dict(zip(header, row, strict=False)) for row in values[1:]
            if len(row) > header.index(key)}


@pytest.fixture(scope="module")
def first_run(seeded) -> dict:
    set_mark(None)  # the first audit of a deployment: it mails the 30 minutes before its tick
    since = time.time()
    failing = seeded["failing"]["id"]
    # One 429 on Civis (this workflow's executions) and one on Sheets (this spreadsheet).
    civis.inject_fault(429, count=1, retry_after=1, path=f"/workflows/{failing}/executions")
    sheets.inject_fault(429, count=1, path=rf"/spreadsheets/{seeded['spreadsheet']}:batchUpdate$",
                        retry_after=1)
    output = run(seeded["logical"], seeded["spreadsheet"],
                 watched_workflow_ids=[seeded["watched"]["id"]])
    return {"output": output, "since": since,
            "civis_calls": civis.calls(since=since, prefix=f"/workflows/{failing}/executions",
                                       log=True),
            "sheets_calls": [c for c in sheets.calls()
                             if seeded["spreadsheet"] in c["path"]]}


def test_run_succeeds_and_logs_the_call_count(first_run):
    output = first_run["output"]
    assert "state=success" in output, output[-4000:]
    found = re.search(r"Collected \d+ workflows and \d+ jobs in (\d+) Civis API calls "
                      r"\([\d.]+s\): (\{.*?\})", output)
    assert found, output[-4000:]
    # Calls by kind add up to the total, less the one 429 the fixture injected (retried).
    by_kind = ast.literal_eval(found.group(2))
    assert sum(by_kind.values()) + 1 == int(found.group(1)), by_kind
    assert by_kind["workflow gets"] > 0 and by_kind["execution lists"] > 0
    assert civis.API_KEY not in output


def test_workflows_tab_cells(seeded, first_run):
    tab = sheets.tab_state(seeded["spreadsheet"], "Workflows")
    values = tab["values"]
    assert values[0][:13] == ["status", "workflow_id", "workflow", "owner", "schedule",
                              "overdue", "failure_streak", "last_success", "last_start",
                              "last_finish", "last_runtime", "failing_jobs", "error"]
    rows = rows_by_id(values, "workflow_id")
    failing = rows[str(seeded["failing"]["id"])]
    load, secret = seeded["jobs"]["load"]["id"], seeded["jobs"]["secret"]["id"]
    assert failing["status"] == "failed"
    assert failing["owner"] == "Maya Rodriguez"
    assert failing["schedule"] == "hourly (UTC)"
    assert failing["failure_streak"] == "2"
    assert failing["failing_jobs"] == f"{load} Load {seeded['tag']}, {secret} (unreadable)"
    assert failing["error"] == "Task step_1 failed: relation does not exist"
    assert failing["last_runtime"] == "0:10:00"
    assert failing["overdue"] == "yes"  # hourly, nothing started in the last hour
    nightly = rows[str(seeded["nightly"]["id"])]
    assert nightly["status"] == "succeeded"
    assert nightly["schedule"] == "daily at 23:30 (America/Chicago)"
    assert nightly["last_runtime"] == "0:50:00"  # 23:40 -> 00:30 local
    assert nightly["last_success"] == "2026-11-23 06:30:00 UTC"
    assert nightly["overdue"] == "yes"  # only ran on the 22nd
    broken = rows[str(seeded["broken"]["id"])]
    assert broken["status"] == "never run" and broken["error"].startswith("Invalid YAML")
    watched = rows[str(seeded["watched"]["id"])]
    assert watched["schedule"] == "not scheduled" and watched["overdue"] == "no"
    assert watched["last_runtime"] == "0:01:15"
    assert str(seeded["unwatched"]["id"]) not in rows
    # failures first: every error/failed row comes before any succeeded row
    statuses = [row[0] for row in values[1:] if row and row[0]]
    first_ok = statuses.index("succeeded") if "succeeded" in statuses else len(statuses)
    assert all(s not in ("failed", "error") for s in statuses[first_ok:])
    assert tab["properties"]["gridProperties"]["frozenRowCount"] == 1
    # failed rows highlighted red, a succeeded row not at all; the stamp right of the data
    line = 1 + next(i for i, row in enumerate(values)
                    if row[1] == str(seeded["failing"]["id"]))
    ok_line = 1 + next(i for i, row in enumerate(values)
                       if row[1] == str(seeded["watched"]["id"]))
    assert tab["formats"][f"A{line}"]["backgroundColor"] == pytest.approx(
        {"red": 0.957, "green": 0.8, "blue": 0.8}, abs=0.001)  # #F4CCCC
    assert "backgroundColor" not in tab["formats"].get(f"A{ok_line}", {})
    # a succeeded but overdue row in amber (#FCE8B2), across the row
    late_line = 1 + next(i for i, row in enumerate(values)
                         if row[1] == str(seeded["nightly"]["id"]))
    for cell in (f"A{late_line}", f"M{late_line}"):
        assert tab["formats"][cell]["backgroundColor"] == pytest.approx(
            {"red": 0.988, "green": 0.91, "blue": 0.698}, abs=0.001)
    assert values[0][14].startswith("Last updated ")


def test_jobs_tab_cells(seeded, first_run):
    tab = sheets.tab_state(seeded["spreadsheet"], "Jobs")
    values = tab["values"]
    rows = rows_by_id(values, "job_id")
    # failed and unreadable jobs first, highlighted red; a succeeded job not at all
    line = {row[3]: 1 + i for i, row in enumerate(values) if len(row) > 3}
    red = {"red": 0.957, "green": 0.8, "blue": 0.8}
    for job in ("load", "secret"):
        cell = tab["formats"][f"A{line[str(seeded['jobs'][job]['id'])]}"]
        assert cell["backgroundColor"] == pytest.approx(red, abs=0.001), job
    sync_line = line[str(seeded["jobs"]["sync"]["id"])]
    assert "backgroundColor" not in tab["formats"].get(f"A{sync_line}", {})
    assert max(line[str(seeded["jobs"][j]["id"])] for j in ("load", "secret")) < sync_line
    load = rows[str(seeded["jobs"]["load"]["id"])]
    assert load["state"] == "failed" and load["type"]
    assert load["workflow"] == f"Failing {seeded['tag']}"
    assert load["error"] == 'ERROR: relation "staging.x" does not exist'
    assert load["last_runtime"] == "0:05:00"
    secret = rows[str(seeded["jobs"]["secret"]["id"])]
    assert secret["state"] == "error" and "403" in secret["error"]
    night = rows[str(seeded["jobs"]["night_a"]["id"])]
    assert night["last_runtime"] == "0:25:00"  # across midnight in Chicago


def test_429_on_civis_and_sheets_were_retried(first_run):
    statuses = [c["status"] for c in first_run["civis_calls"]["log"]]
    assert statuses[:2] == [429, 200], statuses
    sheet_statuses = [c["status"] for c in first_run["sheets_calls"]]
    assert 429 in sheet_statuses and sheet_statuses[-1] == 200, sheet_statuses


def test_one_mail_for_the_failure_and_none_on_the_next_run(seeded, first_run):
    name = f"Failing {seeded['tag']}"
    mails = mails_about(name, first_run["since"])
    assert len(mails) == 1, [m["Subject"] for m in mails]
    failed_at = seeded["logical"] - timedelta(minutes=10)
    assert f"failed {failed_at:%Y-%m-%d %H:%M:%S} UTC" in mails[0].get_body().get_content()
    assert mark() == seeded["logical"]  # mailed through the first run's tick
    since = time.time()
    output = run(seeded["logical"] + timedelta(minutes=30), seeded["spreadsheet"])
    assert "state=success" in output, output[-4000:]
    assert mails_about(name, since) == []
    assert mark() == seeded["logical"] + timedelta(minutes=30)


def test_a_manual_run_between_ticks_does_not_mail_the_failure_again(seeded, first_run):
    # Triggered at :10 past the first run's tick, after the next tick's run: both already
    # mailed through their ticks, so this run's window (up to :10) is empty.
    name = f"Failing {seeded['tag']}"
    set_mark(seeded["logical"] + timedelta(minutes=30))
    since = time.time()
    output = run(seeded["logical"] + timedelta(minutes=10), seeded["spreadsheet"])
    assert "state=success" in output, output[-4000:]
    assert re.search(r"Mail window \S+ to \S+ \(mailed through \S+\): 0 new failure", output)
    assert mails_about(name, since) == []
    assert len(mails_about(name, first_run["since"])) == 1
    assert mark() == seeded["logical"] + timedelta(minutes=30)  # not moved back


def test_an_empty_spreadsheet_param_writes_to_the_variables_spreadsheet(seeded, first_run):
    spreadsheet = f"audit-{seeded['tag']}-variable"
    sheets.create_spreadsheet(spreadsheet, sheets=["Sheet1"])
    demo_calls = demo_spreadsheet_calls()
    output = run(seeded["logical"] + timedelta(minutes=150), None,
                 env={SPREADSHEET_ENV: spreadsheet}, email_new_failures=False)
    assert "state=success" in output, output[-4000:]
    assert f"spreadsheet_id: the Param is empty, using the Airflow Variable " \
           f"'{SPREADSHEET_VARIABLE}'" in output
    rows = rows_by_id(sheets.tab_state(spreadsheet, "Workflows")["values"], "workflow_id")
    assert rows[str(seeded["failing"]["id"])]["status"] == "failed"
    jobs = rows_by_id(sheets.tab_state(spreadsheet, "Jobs")["values"], "job_id")
    assert jobs[str(seeded["jobs"]["load"]["id"])]["state"] == "failed"
    # Nothing went to devstack's own spreadsheet (the Variable devstack sets was overridden).
    assert demo_spreadsheet_calls() == demo_calls


def demo_spreadsheet_calls() -> int:
    return sum(f"/spreadsheets/{sheets.DEMO_SPREADSHEET_ID}" in c["path"]
               for c in sheets.calls())


def test_no_spreadsheet_anywhere_fails_at_once_before_any_civis_call(seeded, first_run):
    since = time.time()
    output = run(seeded["logical"] + timedelta(minutes=180), None, env={SPREADSHEET_ENV: ""})
    assert "state=failed" in output, output[-4000:]
    message = (f"spreadsheet_id is not set: the Param 'spreadsheet_id' is empty and the "
               f"Airflow Variable '{SPREADSHEET_VARIABLE}' is not set")
    assert message in output
    tries = task_tries(DAG_ID, run_id_of(output))
    assert tries["collect"] == ("failed", 1), tries  # no retry: configuration, not a glitch
    assert tries["write_tabs"][0] == "upstream_failed"
    assert civis.calls(since=since)["total"] == 0
    failure = [m for m in smtp.messages()
               if m["Subject"] == f"[precinct] {DAG_ID}.collect failed"
               and m["Date"].datetime.timestamp() >= since - 1]
    assert len(failure) == 1
    assert SPREADSHEET_VARIABLE in html.unescape(failure[0].get_body().get_content())


def test_failed_sheet_write_keeps_the_old_tab(seeded, first_run):
    # The sheet stops accepting the write (a 403: the service account lost edit access), on
    # every try of the write task: the run fails, and both tabs keep what staff saw before.
    # (Retries of 429/5xx before giving up are covered by tests/integration/test_sheets.py.)
    before = {tab: sheets.tab_state(seeded["spreadsheet"], tab)
              for tab in ("Workflows", "Jobs")}  # values, highlights, grid
    sheets.inject_fault(403, count=50, method="POST",
                        path=rf"/spreadsheets/{seeded['spreadsheet']}:batchUpdate$")
    civis.create_workflow(f"Later {seeded['tag']}", definition(seeded["jobs"]["sync"]["id"]),
                          schedule=HOURLY)
    try:
        output = run(seeded["logical"] + timedelta(minutes=60), seeded["spreadsheet"],
                     email_new_failures=False)
    finally:
        sheets.clear_faults()
    assert "state=failed" in output, output[-3000:]
    assert "403" in output
    assert {tab: sheets.tab_state(seeded["spreadsheet"], tab)
            for tab in ("Workflows", "Jobs")} == before


# -- between audits: the definition cache across real DAG runs, and what is always re-read -------


@pytest.fixture(scope="module")
def later_runs(seeded, first_run) -> dict:
    """Two more audits (each with at least two earlier audits in the metadata DB), and between
    them: one workflow's definition edited, another run again to the same end state."""
    tag = seeded["tag"]
    spreadsheet = f"audit-{tag}-cache"
    sheets.create_spreadsheet(spreadsheet, sheets=["Sheet1"])
    sync, night_a = seeded["jobs"]["sync"]["id"], seeded["jobs"]["night_a"]["id"]
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    rerun = civis.create_workflow(
        f"Rerun {tag}", definition(sync), schedule=HOURLY, time_zone="UTC",
        created_at=iso(two_days_ago - timedelta(days=1)), queued_seconds=0.1,
        running_seconds=0.3,
        executions=[{"state": "succeeded", "started_at": iso(two_days_ago),
                     "finished_at": iso(two_days_ago + timedelta(minutes=2))}])
    first = run(seeded["logical"] + timedelta(minutes=90), spreadsheet, email_new_failures=False)
    assert "state=success" in first, first[-4000:]
    before = {"workflows": sheets.tab_state(spreadsheet, "Workflows")["values"],
              "jobs": sheets.tab_state(spreadsheet, "Jobs")["values"]}

    civis.update_workflow(seeded["nightly"]["id"], definition=definition(night_a, sync))
    hook = CivisHook()
    started = hook.start_run("workflow", rerun["id"])
    finished = hook.wait_for_run("workflow", rerun["id"], started.run_id, poll_interval=0.2,
                                 timeout=30)
    assert finished.state == "succeeded"

    since = time.time()
    second = run(seeded["logical"] + timedelta(minutes=120), spreadsheet,
                 email_new_failures=False)
    assert "state=success" in second, second[-4000:]
    return {"rerun": rerun, "run": finished, "before": before, "since": since,
            "after": {"workflows": sheets.tab_state(spreadsheet, "Workflows")["values"],
                      "jobs": sheets.tab_state(spreadsheet, "Jobs")["values"]}}


def _gets(since: float, workflow_id: int) -> dict[str, int]:
    log = civis.calls(since=since, prefix=f"/workflows/{workflow_id}", log=True)["log"]
    return {"definition": sum(c["path"] == f"/workflows/{workflow_id}" for c in log),
            "executions": sum(c["path"] == f"/workflows/{workflow_id}/executions" for c in log)}


def test_unchanged_definitions_come_from_the_previous_run(seeded, later_runs):
    for name in ("failing", "broken"):
        workflow_id = seeded[name]["id"]
        assert _gets(later_runs["since"], workflow_id)["definition"] == 0, name
    # ... and give the same rows as when they were read
    before = rows_by_id(later_runs["before"]["workflows"], "workflow_id")
    after = rows_by_id(later_runs["after"]["workflows"], "workflow_id")
    for name in ("failing", "broken"):
        key = str(seeded[name]["id"])
        assert after[key] == before[key]
    assert after[str(seeded["broken"]["id"])]["error"].startswith("Invalid YAML")
    jobs = rows_by_id(later_runs["after"]["jobs"], "job_id")
    assert jobs[str(seeded["jobs"]["load"]["id"])]["workflow"] == f"Failing {seeded['tag']}"


def test_an_edited_definition_is_read_again(seeded, later_runs):
    nightly = seeded["nightly"]["id"]
    assert _gets(later_runs["since"], nightly)["definition"] == 1
    sync = str(seeded["jobs"]["sync"]["id"])

    def jobs_of_nightly(values: list[list[str]]) -> list[str]:
        header = values[0]
        return sorted(r[header.index("job_id")] for r in values[1:]
                      if len(r) > 3 and r[header.index("workflow_id")] == str(nightly))

    night_a = str(seeded["jobs"]["night_a"]["id"])
    assert jobs_of_nightly(later_runs["before"]["jobs"]) == [night_a]
    assert jobs_of_nightly(later_runs["after"]["jobs"]) == sorted([night_a, sync])


def test_a_workflow_that_ran_again_to_the_same_state_shows_the_new_run(later_runs):
    """The list's state ('succeeded') and updatedAt did not change, yet the row must."""
    rerun, new_run = later_runs["rerun"], later_runs["run"]
    key = str(rerun["id"])
    before = rows_by_id(later_runs["before"]["workflows"], "workflow_id")[key]
    after = rows_by_id(later_runs["after"]["workflows"], "workflow_id")[key]
    assert before["status"] == after["status"] == "succeeded"
    assert before["overdue"] == "yes" and after["overdue"] == "no"
    started = datetime.fromisoformat(new_run.started_at.replace("Z", "+00:00"))
    assert after["last_start"] == started.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert after["last_success"] == after["last_finish"] != before["last_success"]
    assert _gets(later_runs["since"], rerun["id"])["executions"] == 1


def test_the_metadata_db_keeps_summaries_once(seeded, later_runs):
    """What an audit leaves in the metadata DB (every 30 minutes): collect's return value with
    each workflow's execution summary, not its executions, and the definition cache under its
    own key; compute's rows without the mail rule's private field; no copy of each dict key."""
    from airflow.models.dagrun import DagRun
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    logical = seeded["logical"] + timedelta(minutes=120)  # later_runs' second audit
    with create_session() as session:
        run_id = session.scalar(select(DagRun.run_id).where(
            DagRun.dag_id == DAG_ID, DagRun.logical_date == logical))
        xcoms = {(x.task_id, x.key): XComModel.deserialize_value(x) for x in session.scalars(
            select(XComModel).where(XComModel.dag_id == DAG_ID, XComModel.run_id == run_id,
                                    XComModel.task_id.in_(["collect", "compute"])))}
    assert set(xcoms) == {("collect", "return_value"), ("collect", "definitions"),
                          ("compute", "return_value")}
    collected = xcoms[("collect", "return_value")]
    failing, broken = str(seeded["failing"]["id"]), str(seeded["broken"]["id"])
    assert "executions" not in collected
    assert collected["histories"][failing]["failure_streak"] == 2
    assert broken not in collected["histories"]  # never ran
    cache = xcoms[("collect", "definitions")]
    assert cache[failing]["updated_at"] and cache[broken]["error"].startswith("Invalid YAML")
    rows = xcoms[("compute", "return_value")]["workflows"]
    assert rows and all(not key.startswith("_") for row in rows for key in row)


# -- the mailed-through mark: skipped ticks, cleared tasks, manual runs --------------------------


@pytest.fixture(scope="module")
def mail_base(seeded) -> dict:
    """Ticks six hours before the module's other runs (no logical date shared with them, no
    window holding their failures), and a spreadsheet of their own."""
    spreadsheet = f"audit-{seeded['tag']}-mail"
    sheets.create_spreadsheet(spreadsheet, sheets=["Sheet1"])
    return {"tick": seeded["logical"] - timedelta(hours=6), "spreadsheet": spreadsheet}


def failing_workflow(seeded: dict, name: str, failed_at: datetime) -> dict:
    return civis.create_workflow(
        name, definition(seeded["jobs"]["sync"]["id"]), schedule=HOURLY, time_zone="UTC",
        created_at=iso(failed_at - timedelta(days=10)),
        executions=[{"state": "failed", "started_at": iso(failed_at - timedelta(minutes=3)),
                     "finished_at": iso(failed_at), "error": "Task step_0 failed"}])


def test_a_skipped_ticks_failure_is_mailed_by_the_next_run_once(seeded, mail_base):
    """The T+30 tick never ran (scheduler down): its failure is mailed by the T+60 run, not by
    the T+90 run, nor when T+60's mail task or the whole T+60 run is run again."""
    tick, spreadsheet = mail_base["tick"], mail_base["spreadsheet"]
    name = f"Skipped {seeded['tag']}"
    failing_workflow(seeded, name, tick + timedelta(minutes=20))
    set_mark(tick)  # the T run mailed; T+30 did not run
    since = time.time()
    output = run(tick + timedelta(minutes=60), spreadsheet)
    assert "state=success" in output, output[-4000:]
    mails = mails_about(name, since)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    assert mark() == tick + timedelta(minutes=60)

    # The mail task cleared and run again in the same run (same compute result).
    again = run_airflow("tasks", "test", DAG_ID, "mail_new_failures", run_id_of(output),
                        extra_env={"PRECINCT_RETRY_DELAY_SECONDS": "1"}, timeout=300)
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert "0 new failure(s)" in again.stdout + again.stderr
    # The whole run cleared (collect reads Civis again; the window still ends at its tick).
    rerun = run(tick + timedelta(minutes=60), spreadsheet)
    assert "state=success" in rerun, rerun[-4000:]
    # The next tick.
    following = run(tick + timedelta(minutes=90), spreadsheet)
    assert "state=success" in following, following[-4000:]
    assert len(mails_about(name, since)) == 1
    assert mark() == tick + timedelta(minutes=90)


def test_a_manual_run_mails_what_no_run_mailed_and_the_next_tick_does_not(seeded, mail_base):
    """After an outage (last run at T+60), an operator triggers a run at T+130: it mails the
    failure of T+100, and the scheduler's T+150 run does not mail it again."""
    tick, spreadsheet = mail_base["tick"], mail_base["spreadsheet"]
    name = f"Manual {seeded['tag']}"
    failing_workflow(seeded, name, tick + timedelta(minutes=100))
    set_mark(tick + timedelta(minutes=60))
    since = time.time()
    output = run(tick + timedelta(minutes=130), spreadsheet)
    assert "state=success" in output, output[-4000:]
    mails = mails_about(name, since)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    assert mark() == tick + timedelta(minutes=130)
    following = run(tick + timedelta(minutes=150), spreadsheet)
    assert "state=success" in following, following[-4000:]
    assert len(mails_about(name, since)) == 1
    assert mark() == tick + timedelta(minutes=150)


def test_with_e_mail_off_the_mark_still_moves(seeded, mail_base):
    """Turning the e-mail back on does not mail what failed while it was off."""
    tick, spreadsheet = mail_base["tick"], mail_base["spreadsheet"]
    name = f"Muted {seeded['tag']}"
    failing_workflow(seeded, name, tick + timedelta(minutes=170))
    set_mark(tick + timedelta(minutes=150))
    since = time.time()
    off = run(tick + timedelta(minutes=180), spreadsheet, email_new_failures=False)
    assert "state=success" in off, off[-4000:]
    assert mark() == tick + timedelta(minutes=180)
    on = run(tick + timedelta(minutes=210), spreadsheet)
    assert "state=success" in on, on[-4000:]
    assert mails_about(name, since) == []
