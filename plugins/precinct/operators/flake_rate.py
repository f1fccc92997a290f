"""The flake-rate refresh's task bodies: settings, last publish, gates + alert, publish.

`dags/flake_rate_refresh.py` wires these into tasks; the benchmark calls the same functions to
time the refresh. The logic they apply lives in `precinct.flake_rate` (no Airflow there); this
module adds the Airflow side: the run's date, the Sheets hook and the operators' e-mail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from precinct import connections
from precinct import settings as deployment
from precinct.flake_rate import (
    FLAKE_RATE_TAB,
    UPCOMING_TAB,
    GateReport,
    InvalidSetting,
    SheetFormatError,
    flake_rate_frame,
    from_sheet,
    resolve_settings,
    run_gates,
    to_sheet,
    upcoming_frame,
    validate_dataset,
)
from precinct.flake_rate.gates import GateFailure
from precinct.tracker.dates import zone

log = logging.getLogger(__name__)

DAG_ID = "flake_rate_refresh"
# The campaign timezone (PRECINCT_CAMPAIGN_TIMEZONE, default America/Chicago), as shift_reset.
CAMPAIGN_TZ = zone()
# Beside the data, with one empty column between: the tables are 13 and 6 columns wide.
LAST_REFRESHED_CELL = {FLAKE_RATE_TAB: "O1", UPCOMING_TAB: "H1"}
CURRENT_WEEK_COLOR = "#FFF2CC"
UNREADABLE_LAST_PUBLISH = "last_publish_readable"
# The queries of the `query_warehouse` task (names -> SQL files in include/sql/).
FLAKE_RATE_QUERY, UPCOMING_QUERY = "flake_rate", "upcoming"
QUERIES = {FLAKE_RATE_QUERY: "flake_rate.sql", UPCOMING_QUERY: "flake_rate_upcoming.sql"}


def run_date(context: Mapping[str, Any], tz: ZoneInfo = CAMPAIGN_TZ) -> date:
    """The campaign-local date the run is for: when it was due (scheduled) or asked (manual)."""
    dag_run = context.get("dag_run")
    moment = getattr(dag_run, "run_after", None) or context.get("logical_date")
    if moment is None:
        moment = datetime.now(tz)
    return moment.astimezone(tz).date()


def deployment_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The params with `dataset` and `spreadsheet_id` resolved: the form's value, else the
    Airflow Variables `flake_rate_refresh_dataset` / `flake_rate_refresh_spreadsheet_id`.
    Neither set, or a value that does not pass the form's check, fails the task without retries.
    """
    return {
        **params,
        "dataset": deployment.required(params.get("dataset"), dag_id=DAG_ID, param="dataset",
                                       check=validate_dataset),
        "spreadsheet_id": deployment.required(params.get("spreadsheet_id"), dag_id=DAG_ID,
                                              param="spreadsheet_id"),
    }


def settings_for_run(params: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, Any]:
    """Checked settings plus the two queries' parameters, as JSON for the downstream tasks.

    A value that cannot be used fails the task at once: retrying cannot fix a form.
    """
    resolved = deployment_params(params)
    with deployment.invalid_form_values(InvalidSetting):
        settings = resolve_settings(resolved, run_date(context))
    return {
        **settings.to_json(),
        "query_params": {
            FLAKE_RATE_QUERY: settings.flake_rate_parameters(),
            UPCOMING_QUERY: settings.upcoming_parameters(),
        },
    }


def read_published(spreadsheet_id: str, tab: str = FLAKE_RATE_TAB,
                   gcp_conn_id: str = connections.GOOGLE_CLOUD) -> list[list] | None:
    """The tab as published now (formatted cells), or None when the tab does not exist yet."""
    from precinct.hooks.sheets import SheetsError, SheetsHook

    hook = SheetsHook(gcp_conn_id=gcp_conn_id)
    try:
        return hook.read_tab(spreadsheet_id, tab)
    except SheetsError:
        metadata = hook.http.fetch_sheet_metadata(spreadsheet_id)
        titles = {sheet["properties"]["title"] for sheet in metadata.get("sheets", [])}
        if tab not in titles:
            log.info("Spreadsheet %s has no %r tab yet: this is the first publish",
                     spreadsheet_id, tab)
            return None
        raise


def evaluate(flake_rows: list[Mapping[str, Any]], published: list[list] | None,
             settings: Mapping[str, Any]) -> GateReport:
    """Run the gates on this run's table against the published one."""
    current = flake_rate_frame(flake_rows)
    try:
        last = from_sheet(published, FLAKE_RATE_TAB) if published else None
    except SheetFormatError as exc:
        report = GateReport()
        report.failures.append(GateFailure(
            UNREADABLE_LAST_PUBLISH,
            f"{exc}. The published tab cannot be compared with; fix or clear it by hand",
        ))
        return report
    return run_gates(current, last, tolerance=settings["tolerance"],
                     row_count_tolerance=settings["row_count_tolerance"],
                     as_of=date.fromisoformat(settings["as_of"]),
                     closeout_days=settings["closeout_days"])


def alert_fields(report: GateReport, settings: Mapping[str, Any], context: Mapping[str, Any],
                 row_count: int) -> dict[str, str]:
    """The gate e-mail: which gate failed and why, and what the refresh was about."""
    ti = context.get("ti")
    fields = {
        "DAG": str(getattr(ti, "dag_id", DAG_ID)),
        "Run id": str(getattr(ti, "run_id", "")),
        "Outcome": "Not published: the Sheet keeps the last good numbers (the dashboard is "
                   "frozen until a refresh passes its gates)",
        "Dataset": settings["dataset"],
        "Weeks": f"{settings['start_date']} to {settings['as_of']} (Saturday to Friday)",
        "Spreadsheet": settings["spreadsheet_id"],
        "Rows computed": str(row_count),
    }
    for failure in report.failures:
        fields[f"Gate failed: {failure.gate}"] = failure.why
    return fields


def check_gates(results: Mapping[str, Any], published: list[list] | None,
                settings: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """True to publish. On a failed gate: one e-mail to the operators, and False (skip)."""
    from precinct.notifications import send_alert

    flake_result = results[FLAKE_RATE_QUERY]
    report = evaluate(flake_result["rows"], published, settings)
    for note in report.notes:
        log.info("Gates: %s", note)
    if report.passed:
        log.info("Quality gates passed on %d rows: publishing", len(flake_result["rows"]))
        return True
    log.warning("Quality gate(s) failed, not publishing: %s", report.summary())
    gates = ", ".join(f.gate for f in report.failures)
    send_alert(f"[precinct] flake_rate_refresh: quality gate failed ({gates}), Sheet not updated",
               alert_fields(report, settings, context, len(flake_result["rows"])))
    return False


def last_refreshed(now: datetime | None = None, tz: ZoneInfo = CAMPAIGN_TZ) -> str:
    moment = (now or datetime.now(tz)).astimezone(tz)
    return f"Last refreshed {moment:%Y-%m-%d %H:%M} {moment.tzname()}"


def publish(results: Mapping[str, Any], settings: Mapping[str, Any],
            gcp_conn_id: str = connections.GOOGLE_CLOUD,
            now: datetime | None = None) -> dict[str, Any]:
    """Replace the `Flake rate` and `Upcoming` tabs together, in one atomic write, stamped.

    One hook (one set of credentials, one token) and `SheetsHook.write_dataframes`: a metadata
    read, then ONE spreadsheets.batchUpdate holding both tabs' cells, trims and formats; 2 Sheets
    calls where writing the tabs one by one takes 4, each a round trip of a few hundred
    milliseconds against Google. Readers never see a half-written tab or this week's numbers
    under last week's highlight, and the two tabs never disagree about when they were refreshed.
    If the write fails, both tabs keep their previous values and formats, the task fails and its
    retry writes both again, which is idempotent.
    """
    from precinct.hooks.sheets import SheetsHook, TabWrite

    stamp = last_refreshed(now)
    spreadsheet_id = settings["spreadsheet_id"]
    tabs = {
        FLAKE_RATE_TAB: TabWrite(
            to_sheet(flake_rate_frame(results[FLAKE_RATE_QUERY]["rows"])),
            highlight=[{"column": "Current_Week", "equals": True, "color": CURRENT_WEEK_COLOR}],
            last_updated_cell=LAST_REFRESHED_CELL[FLAKE_RATE_TAB], last_updated_value=stamp),
        UPCOMING_TAB: TabWrite(
            upcoming_frame(results[UPCOMING_QUERY]["rows"]),
            last_updated_cell=LAST_REFRESHED_CELL[UPCOMING_TAB], last_updated_value=stamp),
    }
    written = SheetsHook(gcp_conn_id=gcp_conn_id).write_dataframes(spreadsheet_id, tabs)
    return {"spreadsheet_id": spreadsheet_id,
            "flake_rate_rows": written["tabs"][FLAKE_RATE_TAB]["rows"],
            "upcoming_rows": written["tabs"][UPCOMING_TAB]["rows"], "last_refreshed": stamp,
            "sheets_api_calls": written["api_calls"]}
