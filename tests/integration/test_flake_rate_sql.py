"""include/sql/flake_rate*.sql on the BigQuery emulator, through the real BigQuery client.

The synthetic VAN-synced data (devstack/seed_flake_rate.py) is loaded into two datasets: months
of random sign-ups, compared cell by cell with an independent pandas computation
(flake_rate_expected.py), and the hand-made edge cases alone, checked against numbers written
out here: the Friday 23:30 / Saturday 00:00 week boundary, a status corrected after the event,
a status nobody told the query about, a location with no region ("Unassigned"), the current
week and a shift later today, and an event type that is not counted.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from devstack import bigquery as bq_stack
from devstack import seed_flake_rate as seed
from precinct.flake_rate import resolve_settings
from precinct.flake_rate.sql import parameters_used, query_parameters, render
from tests.integration.flake_rate_expected import (
    assert_same_cells,
    expected_flake_rate,
    expected_upcoming,
)

pytestmark = pytest.mark.integration

SQL_DIR = Path(__file__).resolve().parents[2] / "include" / "sql"
TODAY = date(2026, 10, 14)  # a Wednesday; its week started Saturday 2026-10-10
START = date(2026, 7, 1)
TYPES = seed.DEFAULT_EVENT_TYPE_IDS
FULL, EDGES = "flake_sql_full", "flake_sql_edges"


@pytest.fixture(scope="module")
def warehouse(devstack_env):
    client = bq_stack.client()
    full = seed.generate(TODAY, signups=6000, seed=7)
    edges = seed.generate(TODAY, signups=0)
    seed.load(client, FULL, full)
    seed.load(client, EDGES, edges)
    yield client, full, edges
    for dataset in (FULL, EDGES):
        client.delete_dataset(dataset, delete_contents=True, not_found_ok=True)


def run(client, name: str, dataset: str, as_of: date = TODAY, start: date = START) -> list[dict]:
    """Run one SQL file like the DAG does: validated dataset, bound named parameters."""
    from google.cloud import bigquery

    settings = resolve_settings({"dataset": dataset, "event_type_ids": TYPES,
                                 "start_date": start.isoformat(), "spreadsheet_id": "-"}, as_of)
    sql = render((SQL_DIR / name).read_text(), settings.dataset)
    spec = (settings.flake_rate_parameters() if name == "flake_rate.sql"
            else settings.upcoming_parameters())
    config = bigquery.QueryJobConfig.from_api_repr({"query": {
        "useLegacySql": False, "parameterMode": "NAMED",
        "queryParameters": query_parameters(
            {k: v for k, v in spec.items() if k in parameters_used(sql)}),
    }})
    rows = client.query(sql, job_config=config).result()
    return [{k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}
            for row in rows]


def test_flake_rate_matches_an_independent_computation_cell_by_cell(warehouse):
    client, full, _edges = warehouse
    actual = run(client, "flake_rate.sql", FULL)
    expected = expected_flake_rate(full.tables, start_date=START, as_of=TODAY,
                                   event_type_ids=TYPES)
    assert len(actual) > 80, "months of weeks x regions"
    assert_same_cells(actual, expected)
    statuses = {c for row in actual for c in ("Completed", "No_Show", "Cancelled", "Declined",
                                              "Scheduled") if row[c]}
    assert len(statuses) == 5, "every counted status occurs in the data"
    assert {row["Region"] for row in actual} >= {*seed.REGIONS, "Unassigned"}
    assert [row["Current_Week"] for row in actual].count(True) >= len(seed.REGIONS)


def test_upcoming_matches_an_independent_computation_cell_by_cell(warehouse):
    client, full, _edges = warehouse
    actual = run(client, "flake_rate_upcoming.sql", FULL)
    expected = expected_upcoming(full.tables, as_of=TODAY, event_type_ids=TYPES)
    assert len(actual) >= seed.WEEKS_AHEAD * len(seed.REGIONS) - 2
    assert all(row["Week_Start"] > "2026-10-10" for row in actual)
    assert_same_cells(actual, expected)


def _by_key(rows):
    return {(row["Region"], row["Week_Start"]): row for row in rows}


def _counts(row):
    keys = ("Completed", "No_Show", "Cancelled", "Declined", "Scheduled", "Total", "Total_Flakes")
    return tuple(row[k] for k in keys)


def test_edge_cases(warehouse):
    client, _full, _edges = warehouse
    rows = _by_key(run(client, "flake_rate.sql", EDGES))
    assert set(rows) == {("North Side", "2026-09-26"), ("Unassigned", "2026-09-26"),
                         ("North Side", "2026-10-03"), ("North Side", "2026-10-10")}
    # Friday 2026-10-02 23:30 belongs to the week that started Saturday 2026-09-26 ...
    friday = rows[("North Side", "2026-09-26")]
    assert (friday["Week_End"], friday["Current_Week"]) == ("2026-10-02", False)
    assert _counts(friday) == (1, 1, 0, 0, 0, 2, 1) and friday["Flake_Rate"] == 0.5
    assert friday["Organizer"] == "Dana Whitfield"
    # ... and Saturday 2026-10-03 00:00 starts the next one. There, a No Show corrected to
    # Completed days after the event counts as Completed; the committee's own status "Needs
    # Ride" counts nowhere; the training shift's No Show is another event type.
    saturday = rows[("North Side", "2026-10-03")]
    assert _counts(saturday) == (2, 0, 0, 0, 0, 2, 0) and saturday["Flake_Rate"] == 0.0
    # The pop-up location has no region.
    unassigned = rows[("Unassigned", "2026-09-26")]
    assert _counts(unassigned) == (1, 0, 1, 0, 0, 2, 1) and unassigned["Organizer"] == ""
    # The current week: tonight's shift is still Scheduled; one volunteer already cancelled.
    current = rows[("North Side", "2026-10-10")]
    assert current["Current_Week"] is True
    assert _counts(current) == (0, 0, 1, 0, 1, 1, 1) and current["Flake_Rate"] == 1.0
    assert [r for r in rows.values() if r["Current_Week"]] == [current]


def test_the_current_week_follows_the_refresh_date(warehouse):
    client, _full, _edges = warehouse
    # On Friday 2026-10-09 the week of 2026-10-03 is still current and tonight's shift (the
    # 14th) is in a week not reported yet.
    friday = _by_key(run(client, "flake_rate.sql", EDGES, as_of=date(2026, 10, 9)))
    assert set(friday) == {("North Side", "2026-09-26"), ("Unassigned", "2026-09-26"),
                           ("North Side", "2026-10-03")}
    assert friday[("North Side", "2026-10-03")]["Current_Week"] is True
    # On Saturday 2026-10-10 the new week is current.
    saturday = _by_key(run(client, "flake_rate.sql", EDGES, as_of=date(2026, 10, 10)))
    assert saturday[("North Side", "2026-10-10")]["Current_Week"] is True
    assert saturday[("North Side", "2026-10-03")]["Current_Week"] is False
    # The start date's week is the first reported.
    late = _by_key(run(client, "flake_rate.sql", EDGES, start=date(2026, 10, 2)))
    assert min(week for _region, week in late) == "2026-09-26"
