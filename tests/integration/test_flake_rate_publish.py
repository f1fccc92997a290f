"""flake_rate_refresh's publish step against the Sheets stand-in: both tabs, one write.

`publish()` is what the DAG's `publish` task runs. The rows it gets here are the independent
pandas computation over synthetic data (no BigQuery needed), and every assertion reads the
spreadsheet back from the stand-in: both tabs replaced together in two Sheets calls (a metadata
read and one batchUpdate), and a write that fails leaves both tabs exactly as they were, values
and highlights, so the dashboard keeps its last numbers.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from devstack import seed_flake_rate as seed
from devstack import sheets
from precinct.hooks.sheets import SheetsError
from precinct.operators.flake_rate import CAMPAIGN_TZ, publish
from tests.integration.flake_rate_expected import (
    expected_flake_rate,
    expected_upcoming,
    saturday,
)

pytestmark = pytest.mark.integration

SPREADSHEET = "flake-rate-publish-test"
TODAY = date(2026, 11, 18)
TYPES = seed.DEFAULT_EVENT_TYPE_IDS
HIGHLIGHT = {"red": 1.0, "green": 0.949, "blue": 0.8}  # #FFF2CC, the current week


def _results(tables: dict, *, weeks: int) -> dict:
    """The `query_warehouse` XCom for `weeks` weeks before the current one."""
    start = saturday(TODAY) - timedelta(weeks=weeks)
    return {
        "flake_rate": {"rows": expected_flake_rate(tables, start_date=start, as_of=TODAY,
                                                   event_type_ids=TYPES)},
        "upcoming": {"rows": expected_upcoming(tables, as_of=TODAY, event_type_ids=TYPES)},
    }


def _at(hour: int) -> datetime:
    return datetime(2026, 11, 18, hour, 0, tzinfo=CAMPAIGN_TZ)


def _sheet_calls() -> list[tuple[str, str]]:
    """The /v4 calls the stand-in answered for this spreadsheet (token requests excluded)."""
    return [(c["method"], c["path"].split(SPREADSHEET, 1)[1]) for c in sheets.calls()
            if SPREADSHEET in c["path"]]


@pytest.fixture(scope="module")
def tables(devstack_env) -> dict:
    return seed.generate(TODAY, signups=3000, seed=7).tables


@pytest.fixture
def spreadsheet(devstack_env) -> str:
    sheets.create_spreadsheet(SPREADSHEET, title="Flake rate (publish test)", sheets=["Sheet1"])
    sheets.clear_faults()
    sheets.clear_calls()
    yield SPREADSHEET
    sheets.clear_faults()
    sheets.admin("DELETE", f"spreadsheets/{SPREADSHEET}")


def test_both_tabs_are_written_together_in_two_calls(tables, spreadsheet):
    wide = _results(tables, weeks=12)
    first = publish(wide, {"spreadsheet_id": spreadsheet}, now=_at(7))
    # The first publish also adds both tabs, in the same batchUpdate that fills them.
    assert _sheet_calls() == [("GET", ""), ("POST", ":batchUpdate")]
    assert first["sheets_api_calls"] == 2
    assert first["flake_rate_rows"] == len(wide["flake_rate"]["rows"])

    sheets.clear_calls()
    narrow = _results(tables, weeks=4)
    second = publish(narrow, {"spreadsheet_id": spreadsheet}, now=_at(8))
    assert _sheet_calls() == [("GET", ""), ("POST", ":batchUpdate")]
    assert second["sheets_api_calls"] == 2

    flake = sheets.tab_state(spreadsheet, "Flake rate")
    rows = narrow["flake_rate"]["rows"]
    assert len(rows) < len(wide["flake_rate"]["rows"])
    assert [r[:4] for r in flake["values"][1:]] == [
        [r["Region"], r["Organizer"], r["Week_Start"], r["Week_End"]] for r in rows]
    assert [r[10] for r in flake["values"][1:]] == [str(r["Total"]) for r in rows]
    assert flake["properties"]["gridProperties"]["rowCount"] == len(rows) + 1, "trimmed"
    current = {str(n + 2) for n, r in enumerate(rows) if r["Current_Week"]}
    assert current, "the synthetic data has a current week"
    highlighted = {cell[1:] for cell, fmt in flake["formats"].items()
                   if fmt.get("backgroundColor") == HIGHLIGHT}
    assert highlighted == current

    upcoming = sheets.tab_state(spreadsheet, "Upcoming")
    assert [r[0] for r in upcoming["values"][1:]] == [
        r["Region"] for r in narrow["upcoming"]["rows"]]
    # One stamp for both tabs: they were written in the same call.
    assert flake["values"][0][14] == upcoming["values"][0][7] == second["last_refreshed"]
    assert second["last_refreshed"] == "Last refreshed 2026-11-18 08:00 CST"


def test_a_failed_write_leaves_both_tabs_as_they_were(tables, spreadsheet):
    publish(_results(tables, weeks=12), {"spreadsheet_id": spreadsheet}, now=_at(7))
    before = sheets.spreadsheet_state(spreadsheet)
    # The service account lost edit access, say: a 403 is not retried.
    sheets.inject_fault(403, count=1, method="POST", path=r":batchUpdate$")

    with pytest.raises(SheetsError) as failure:
        publish(_results(tables, weeks=4), {"spreadsheet_id": spreadsheet}, now=_at(8))

    assert "tabs 'Flake rate', 'Upcoming'" in str(failure.value)
    assert sheets.spreadsheet_state(spreadsheet) == before, "neither tab may change"
    assert any(fmt.get("backgroundColor") == HIGHLIGHT for fmt in sheets.tab_state(
        spreadsheet, "Flake rate")["formats"].values()), "the current week keeps its highlight"

    # The task's retry writes both tabs again.
    retried = publish(_results(tables, weeks=4), {"spreadsheet_id": spreadsheet}, now=_at(8))
    flake = sheets.tab_state(spreadsheet, "Flake rate")["values"]
    assert len(flake) == retried["flake_rate_rows"] + 1
    assert flake[0][14] == "Last refreshed 2026-11-18 08:00 CST"
