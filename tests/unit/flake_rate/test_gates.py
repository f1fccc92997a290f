"""The quality gates: each passes a good table and fails a bad one, saying why."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from precinct.flake_rate import from_sheet, run_gates
from precinct.flake_rate.gates import (
    CLOSED_WEEKS_STABLE,
    NOT_EMPTY,
    ONE_ROW_PER_REGION_WEEK,
    RATES_IN_RANGE,
    ROW_COUNT_STABLE,
    closed_weeks_stable,
    not_empty,
    one_row_per_region_week,
    rates_in_range,
    row_count_stable,
)
from tests.unit.flake_rate.builders import AS_OF, FIRST_WEEK, as_sheet, table

GOOD = dict(tolerance=0.05, row_count_tolerance=0.10, as_of=AS_OF)


def _gates(report):
    return [failure.gate for failure in report.failures]


def test_a_good_table_with_no_previous_publish_passes():
    report = run_gates(table(), None, **GOOD)
    assert report.passed, report.summary()
    assert "no previous publish" in report.notes[0]


def test_the_same_table_read_back_from_the_sheet_passes():
    current = table()
    report = run_gates(current, from_sheet(as_sheet(current)), tolerance=0, row_count_tolerance=0,
                       as_of=AS_OF, closeout_days=0)
    assert report.passed, report.summary()


def test_empty_result_fails():
    empty = table().iloc[0:0]
    failures = not_empty(empty)
    assert [f.gate for f in failures] == [NOT_EMPTY]
    assert "no rows" in failures[0].why
    assert _gates(run_gates(empty, None, **GOOD)) == [NOT_EMPTY]


def test_duplicate_region_week_fails_and_names_it():
    current = table()
    doubled = current.iloc[[0]].copy()
    broken = pd.concat([current, doubled], ignore_index=True)
    failures = one_row_per_region_week(broken)
    assert [f.gate for f in failures] == [ONE_ROW_PER_REGION_WEEK]
    assert f"North Side week of {FIRST_WEEK.isoformat()} (2 rows)" in failures[0].why
    assert one_row_per_region_week(current) == []


def test_rates_outside_zero_one_or_missing_fail():
    current = table()
    current.loc[0, "Flake_Rate"] = 1.2
    current.loc[1, "Flake_Rate"] = -0.1
    current.loc[2, "Flake_Rate"] = float("nan")
    failures = rates_in_range(current)
    assert [f.gate for f in failures] == [RATES_IN_RANGE]
    assert failures[0].why.startswith("3 flake rate(s) outside [0, 1]")
    assert "1.2" in failures[0].why
    ok = table()
    ok.loc[0, "Flake_Rate"], ok.loc[1, "Flake_Rate"] = 0.0, 1.0
    assert rates_in_range(ok) == []


def test_closed_week_total_moving_beyond_tolerance_fails():
    last = table()
    current = table()
    # A closed week loses 10 of 27 sign-ups: far more than 5%.
    current.loc[0, "Total"] = 17
    failures = closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF)
    assert [f.gate for f in failures] == [CLOSED_WEEKS_STABLE]
    assert f"North Side week of {FIRST_WEEK.isoformat()} 27 -> 17" in failures[0].why
    # Weeks 1 and 2 ended over 7 days before Sep 30; week 3 (ended Sep 25) is still closing.
    assert failures[0].why.startswith("1 of 6 closed (region, week) totals moved")


def test_a_week_still_being_closed_out_may_move():
    last = table()
    current = table()
    week3 = (FIRST_WEEK + timedelta(weeks=2)).isoformat()  # ended Friday Sep 25
    current.loc[current["Week_Start"] == week3, "Total"] = 40  # late Completed / No Show
    assert closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF) == []
    # With no close-out period it is a closed week like the others.
    failures = closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF, closeout_days=0)
    assert failures and failures[0].why.startswith("3 of 9 closed")


def test_small_moves_and_the_open_week_do_not_trip_it():
    last = table()
    current = table()
    current.loc[0, "Total"] = 29  # +2 sign-ups: always allowed
    current.loc[1, "Total"] = 28  # +1 and within 5%
    current.loc[len(current) - 1, "Total"] = 99  # the week that was open at the last publish
    assert closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF) == []


def test_a_closed_week_region_that_disappears_counts_as_zero():
    last = table()
    current = table().iloc[1:].reset_index(drop=True)  # North Side's first week is gone
    failures = closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF)
    assert failures and "27 -> 0" in failures[0].why


def test_weeks_outside_the_overlap_are_not_compared():
    last = table(weeks=4)
    # The window rolled by one week and the oldest week's numbers are not ours any more.
    current = table(weeks=4, first=FIRST_WEEK + timedelta(weeks=1))
    current.loc[current["Week_Start"] == FIRST_WEEK.isoformat(), "Total"] = 0
    assert closed_weeks_stable(current, last, tolerance=0.05, as_of=AS_OF) == []
    assert row_count_stable(current, last, tolerance=0.0) == []


def test_row_count_change_beyond_tolerance_fails():
    last = table(weeks=4, regions=["A", "B", "C", "D", "E"])
    current = table(weeks=4, regions=["A", "B", "C"])
    failures = row_count_stable(current, last, tolerance=0.10)
    assert [f.gate for f in failures] == [ROW_COUNT_STABLE]
    assert failures[0].why.startswith("12 rows for the weeks of 2026-09-05 to 2026-09-26 "
                                      "against 20 at the last publish (-40%")


def test_one_more_row_is_within_tolerance():
    last = table(weeks=4, regions=["A", "B"])
    current = table(weeks=4, regions=["A", "B"])
    current = pd.concat([current, table(weeks=1, regions=["Unassigned"])], ignore_index=True)
    assert row_count_stable(current, last, tolerance=0.0) == []


def test_comparisons_run_only_on_a_well_formed_table():
    last = table()
    current = table()
    current.loc[0, "Flake_Rate"] = 2.0
    current.loc[0, "Total"] = 0
    assert _gates(run_gates(current, last, **GOOD)) == [RATES_IN_RANGE]


def test_failure_text_has_no_names():
    last = table()
    last["Organizer"] = "Dana Whitfield"
    current = table()
    current.loc[0, "Total"] = 1
    report = run_gates(current, last, **GOOD)
    assert not report.passed
    assert "Dana" not in report.summary()
