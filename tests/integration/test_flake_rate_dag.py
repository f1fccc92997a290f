"""flake_rate_refresh end to end with `airflow dags test`: BigQuery emulator -> gates -> Sheets.

The DAG publishes both tabs, and every published cell matches the independent pandas
computation over the same synthetic data; a refresh of unchanged data passes even zero-tolerance
gates; a refresh whose closed weeks moved fails its gate, leaves the Sheet exactly as it was and
sends the operators exactly one e-mail saying which gate failed and why.
"""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest

from devstack import bigquery as bq_stack
from devstack import seed_flake_rate as seed
from devstack import sheets, smtp
from tests.integration.flake_rate_expected import (
    assert_same_cells,
    expected_flake_rate,
    expected_upcoming,
    saturday,
)
from tests.support import run_airflow, run_id_of, task_tries

pytestmark = pytest.mark.integration

SPREADSHEET = "flake-rate-dag-test"
VARIABLE_SPREADSHEET = "flake-rate-dag-variable"
DATASET_VARIABLE = "flake_rate_refresh_dataset"
SPREADSHEET_VARIABLE = "flake_rate_refresh_spreadsheet_id"
DATASET, MOVED = "flake_dag_test", "flake_dag_moved"
TYPES = seed.DEFAULT_EVENT_TYPE_IDS
FLAKE_COLUMNS = ["Region", "Organizer", "Week_Start", "Week_End", "Current_Week", "Completed",
                 "No_Show", "Cancelled", "Declined", "Scheduled", "Total", "Total_Flakes",
                 "Flake_Rate"]
UPCOMING_COLUMNS = ["Region", "Organizer", "Week_Start", "Week_End", "Scheduled", "Signups"]
STAMP = re.compile(r"^Last refreshed \d{4}-\d\d-\d\d \d\d:\d\d \w+$")


def _moved(data: seed.SeedData) -> seed.SeedData:
    """The same data with half of North Side's closed-week sign-ups gone from the sync."""
    tables = {name: frame.copy() for name, frame in data.tables.items()}
    mapping = tables["location_regions"]
    north = set(mapping.loc[mapping["region"] == "North Side", "location_id"])
    events = tables["events"]
    this_week = saturday(data.today)
    closed = events[events["location_id"].isin(north)
                    & (events["starts_at"].dt.date < this_week)]["event_id"]
    signups = tables["event_signups"]
    drop = signups["event_id"].isin(set(closed)) & (signups["event_signup_id"] % 2 == 0)
    tables["event_signups"] = signups[~drop].reset_index(drop=True)
    return seed.SeedData(today=data.today, tables=tables, edge=data.edge)


def our_mail() -> list:
    """Captured e-mails about this DAG (the capture is shared with whatever else runs)."""
    return [m for m in smtp.messages() if "flake_rate_refresh" in (m["Subject"] or "")]


def refresh(dataset: str, **conf):
    result = run_airflow(
        "dags", "test", "flake_rate_refresh", "-c",
        json.dumps({"dataset": dataset, "spreadsheet_id": SPREADSHEET, **conf}),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert "state=success" in output, output[-4000:]
    return output


def variables(dataset: str, spreadsheet: str) -> dict[str, str]:
    """The Airflow Variables a run with empty params falls back to ("" = not set)."""
    return {f"AIRFLOW_VAR_{DATASET_VARIABLE.upper()}": dataset,
            f"AIRFLOW_VAR_{SPREADSHEET_VARIABLE.upper()}": spreadsheet}


def refresh_with(conf: dict, env: dict[str, str]) -> str:
    """A refresh with exactly this form (empty: the Variables) and these Variables."""
    result = run_airflow("dags", "test", "flake_rate_refresh", "-c", json.dumps(conf),
                         extra_env={"PRECINCT_RETRY_DELAY_SECONDS": "1", **env})
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def data(devstack_env, airflow_db):
    client = bq_stack.client()
    today = bq_stack.campaign_today()
    data = seed.generate(today, signups=4000, seed=11)
    seed.load(client, DATASET, data)
    seed.load(client, MOVED, _moved(data))
    sheets.create_spreadsheet(SPREADSHEET, title="Flake rate (test)", sheets=["Sheet1"])
    smtp.clear()
    output = refresh(DATASET)  # the first publish
    yield data, output
    for dataset in (DATASET, MOVED):
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)
    sheets.admin("DELETE", f"spreadsheets/{SPREADSHEET}")


def _typed(values: list[list[str]], columns: list[str]) -> list[dict]:
    """Published cells (as a person sees them) back to values, by header."""
    header = values[0]
    rows = []
    for cells in values[1:]:
        row = dict(zip(header, cells, strict=False))
        out = {}
        for column in columns:
            text = row[column]
            if column in ("Region", "Organizer", "Week_Start", "Week_End"):
                out[column] = text
            elif column == "Current_Week":
                assert text in ("TRUE", "FALSE"), text
                out[column] = text == "TRUE"
            elif column == "Flake_Rate":
                out[column] = float(text)
            else:
                assert text.isdigit(), (column, text)
                out[column] = int(text)
        rows.append(out)
    return rows


def test_publishes_both_tabs_matching_an_independent_computation(data):
    seed_data, _output = data
    today = seed_data.today
    start = saturday(today) - timedelta(weeks=12)  # the DAG's default start date
    assert our_mail() == [], "a publish that passes its gates sends no e-mail"

    flake = sheets.tab_state(SPREADSHEET, "Flake rate")["values"]
    assert flake[0][:13] == FLAKE_COLUMNS and flake[0][13] == ""
    assert STAMP.match(flake[0][14]), flake[0][14]
    expected = expected_flake_rate(seed_data.tables, start_date=start, as_of=today,
                                   event_type_ids=TYPES)
    assert len(expected) >= 13 * len(seed.REGIONS)
    # Rates are published rounded to 4 decimals.
    assert_same_cells(_typed(flake, FLAKE_COLUMNS), expected, rate_places=5e-5)

    upcoming = sheets.tab_state(SPREADSHEET, "Upcoming")["values"]
    assert upcoming[0][:6] == UPCOMING_COLUMNS and STAMP.match(upcoming[0][7])
    assert_same_cells(_typed(upcoming, UPCOMING_COLUMNS),
                      expected_upcoming(seed_data.tables, as_of=today, event_type_ids=TYPES))


def test_a_refresh_of_unchanged_data_passes_zero_tolerance_gates(data):
    before = sheets.tab_state(SPREADSHEET, "Flake rate")["values"]
    smtp.clear()
    output = refresh(DATASET, tolerance=0, row_count_tolerance=0)
    assert "Quality gates passed" in output
    after = sheets.tab_state(SPREADSHEET, "Flake rate")["values"]
    assert [row[:13] for row in after] == [row[:13] for row in before]
    assert our_mail() == []


def test_a_failing_gate_leaves_the_sheet_untouched_and_sends_one_email(data):
    before = sheets.spreadsheet_state(SPREADSHEET)
    smtp.clear()
    output = refresh(MOVED)
    assert "Quality gate(s) failed, not publishing" in output
    assert sheets.spreadsheet_state(SPREADSHEET) == before, "the Sheet must not change at all"

    messages = our_mail()
    assert len(messages) == 1, [m["Subject"] for m in messages]
    mail = messages[0]
    assert mail["Subject"] == ("[precinct] flake_rate_refresh: quality gate failed "
                               "(closed_weeks_stable), Sheet not updated")
    assert mail["To"] == "ops@precinct.test"
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", mail.get_body().get_content())).split())
    assert "Gate failed: closed_weeks_stable" in text
    assert re.search(r"\d+ of \d+ closed \(region, week\) totals moved by more than 5%", text)
    assert re.search(r"North Side week of \d{4}-\d\d-\d\d \d+ -> \d+", text)
    assert "Not published: the Sheet keeps the last good numbers" in text
    assert f"Dataset {MOVED}" in text
    assert "Dana Whitfield" not in text, "no names in alerts"


# -- empty params: the Airflow Variables; nothing usable: a failure without retries -----------


def test_empty_params_publish_from_the_variables_dataset_to_the_variables_sheet(data):
    seed_data, _output = data
    sheets.create_spreadsheet(VARIABLE_SPREADSHEET, title="Flake rate (Variable)",
                              sheets=["Sheet1"])
    try:
        output = refresh_with({}, variables(DATASET, VARIABLE_SPREADSHEET))
        assert "state=success" in output, output[-4000:]
        for param, variable in (("dataset", DATASET_VARIABLE),
                                ("spreadsheet_id", SPREADSHEET_VARIABLE)):
            assert f"{param}: the Param is empty, using the Airflow Variable '{variable}'" \
                in output
        flake = sheets.tab_state(VARIABLE_SPREADSHEET, "Flake rate")["values"]
        today = seed_data.today
        expected = expected_flake_rate(seed_data.tables,
                                       start_date=saturday(today) - timedelta(weeks=12),
                                       as_of=today, event_type_ids=TYPES)
        assert_same_cells(_typed(flake, FLAKE_COLUMNS), expected, rate_places=5e-5)
    finally:
        sheets.admin("DELETE", f"spreadsheets/{VARIABLE_SPREADSHEET}")


def _failed_at_once(output: str) -> dict[str, tuple[str, int]]:
    assert "state=failed" in output, output[-4000:]
    tries = task_tries("flake_rate_refresh", run_id_of(output))
    assert tries["settings"] == ("failed", 1), tries  # a setting: no retry can fix it
    assert tries["query_warehouse"][0] == "upstream_failed", tries
    return tries


def test_no_dataset_anywhere_fails_at_once_naming_the_param_and_the_variable(data):
    before = sheets.spreadsheet_state(SPREADSHEET)
    output = refresh_with({"spreadsheet_id": SPREADSHEET}, variables("", ""))
    _failed_at_once(output)
    assert ("dataset is not set: the Param 'dataset' is empty and the Airflow Variable "
            f"'{DATASET_VARIABLE}' is not set") in output
    assert sheets.spreadsheet_state(SPREADSHEET) == before


def test_a_bad_variable_or_form_value_fails_at_once(data):
    # The Variable's dataset is checked exactly as the form's (it goes into the SQL's FROM).
    output = refresh_with({"spreadsheet_id": SPREADSHEET},
                          variables("van_tx`; DROP TABLE x; --", SPREADSHEET))
    _failed_at_once(output)
    assert (f"Invalid value of the Airflow Variable '{DATASET_VARIABLE}' (the Param 'dataset' "
            "is empty): not a BigQuery dataset id") in output
    # A form value the form's schema lets through but the refresh cannot use.
    output = refresh_with({"dataset": DATASET, "spreadsheet_id": SPREADSHEET,
                           "start_date": "2099-01-06"}, {})
    _failed_at_once(output)
    assert "Invalid form value: start_date 2099-01-06 is after the refresh date" in output
