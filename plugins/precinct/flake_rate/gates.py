"""Quality gates the flake-rate table must pass before it replaces the published one.

Each gate is a pure function over DataFrames (as `precinct.flake_rate.frames` types them) that
returns a list of `GateFailure`s: which gate, and why in words an operator can act on. They
carry regions, weeks and counts only, never a volunteer's or organizer's name.

`last` is the table as published now, read back from the Sheet itself: what the dashboard shows
is exactly what a refresh must not silently contradict, and it needs no state of our own that
could drift from the Sheet (a failed refresh leaves the Sheet, and so the baseline, unchanged).
With no previous publish the two comparison gates have nothing to compare and pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from precinct.flake_rate.frames import KEY

NOT_EMPTY = "not_empty"
ONE_ROW_PER_REGION_WEEK = "one_row_per_region_week"
RATES_IN_RANGE = "rates_in_range"
CLOSED_WEEKS_STABLE = "closed_weeks_stable"
ROW_COUNT_STABLE = "row_count_stable"
GATES = (NOT_EMPTY, ONE_ROW_PER_REGION_WEEK, RATES_IN_RANGE, CLOSED_WEEKS_STABLE,
         ROW_COUNT_STABLE)
# A closed week's total may always move by this many sign-ups (late close-outs of one or two
# shifts are normal, and a percentage of a small total would flag them).
MIN_TOTAL_CHANGE = 2
# Organizers close shifts out (Completed / No Show) in the days after them, so a week that has
# just ended still moves; it counts as closed once it ended this many days ago.
DEFAULT_CLOSEOUT_DAYS = 7
EXAMPLES = 5


@dataclass(frozen=True)
class GateFailure:
    gate: str
    why: str


@dataclass
class GateReport:
    failures: list[GateFailure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        if self.passed:
            return f"all {len(GATES)} gates passed"
        return "; ".join(f"{f.gate}: {f.why}" for f in self.failures)


def _key(row: pd.Series) -> str:
    return f"{row['Region']} week of {row['Week_Start']}"


def _examples(items: list[str], total: int) -> str:
    shown = ", ".join(items[:EXAMPLES])
    return shown + (f" and {total - EXAMPLES} more" if total > EXAMPLES else "")


def not_empty(current: pd.DataFrame) -> list[GateFailure]:
    if len(current) == 0:
        return [GateFailure(NOT_EMPTY, "the query returned no rows: no sign-ups for these event "
                            "types and dates, or the VAN sync tables are empty")]
    return []


def one_row_per_region_week(current: pd.DataFrame) -> list[GateFailure]:
    counts = current.groupby(KEY, dropna=False).size()
    doubled = counts[counts > 1]
    if doubled.empty:
        return []
    items = [f"{region} week of {week} ({n} rows)" for (region, week), n in doubled.items()]
    return [GateFailure(ONE_ROW_PER_REGION_WEEK,
                        f"{len(doubled)} (region, week) pair(s) have more than one row: "
                        + _examples(items, len(items)))]


def rates_in_range(current: pd.DataFrame) -> list[GateFailure]:
    rates = current["Flake_Rate"]
    bad = current[~rates.between(0, 1) | rates.isna()]
    if bad.empty:
        return []
    items = [f"{_key(row)}: {row['Flake_Rate']}" for _i, row in bad.iterrows()]
    return [GateFailure(RATES_IN_RANGE, f"{len(bad)} flake rate(s) outside [0, 1]: "
                        + _examples(items, len(items)))]


def _overlap(current: pd.DataFrame, last: pd.DataFrame) -> tuple[str, str] | None:
    """The week range both tables cover (ISO dates compare as text)."""
    if current.empty or last.empty:
        return None
    first = max(current["Week_Start"].min(), last["Week_Start"].min())
    final = min(current["Week_Start"].max(), last["Week_Start"].max())
    return (first, final) if first <= final else None


def closed_weeks_stable(current: pd.DataFrame, last: pd.DataFrame | None, tolerance: float,
                        as_of: date, closeout_days: int = DEFAULT_CLOSEOUT_DAYS,
                        min_change: int = MIN_TOTAL_CHANGE) -> list[GateFailure]:
    """Closed weeks keep their published Total (within tolerance).

    Closed: not the current week at the last publish, and ended at least `closeout_days` before
    `as_of` (the refresh date), so shifts have been closed out. A (region, week) missing on one
    side counts as 0 there. Allowed move: the larger of `tolerance` x the published Total and
    `min_change` sign-ups.
    """
    if last is None or (span := _overlap(current, last)) is None:
        return []
    settled = (as_of - timedelta(days=closeout_days)).isoformat()
    closed = last[~last["Current_Week"] & last["Week_Start"].between(*span)
                  & (last["Week_End"] <= settled)]
    if closed.empty:
        return []
    weeks = set(closed["Week_Start"])
    now = current[current["Week_Start"].isin(weeks)][[*KEY, "Total"]]
    both = closed[[*KEY, "Total"]].merge(now, on=KEY, how="outer", suffixes=("_last", "_now"))
    both = both.fillna({"Total_last": 0, "Total_now": 0})
    moved = (both["Total_now"] - both["Total_last"]).abs()
    allowed = (both["Total_last"] * tolerance).clip(lower=min_change)
    bad = both[moved > allowed + 1e-9].sort_values(KEY)
    if bad.empty:
        return []
    items = [
        f"{row['Region']} week of {row['Week_Start']} {int(row['Total_last'])} -> "
        f"{int(row['Total_now'])}" for _i, row in bad.iterrows()
    ]
    return [GateFailure(
        CLOSED_WEEKS_STABLE,
        f"{len(bad)} of {len(both)} closed (region, week) totals moved by more than "
        f"{tolerance:.0%} (or {min_change} sign-ups) since the last publish: "
        + _examples(items, len(items)),
    )]


def row_count_stable(current: pd.DataFrame, last: pd.DataFrame | None,
                     tolerance: float) -> list[GateFailure]:
    """Over the weeks both cover, the row count stays within `tolerance` of the last publish.

    Comparing only the common weeks lets the window roll (a week added, the oldest dropped)
    and the start date change without tripping the gate; lost or new regions still do.
    """
    if last is None or (span := _overlap(current, last)) is None:
        return []
    before = int(last["Week_Start"].between(*span).sum())
    after = int(current["Week_Start"].between(*span).sum())
    allowed = max(tolerance * before, 1)
    if abs(after - before) <= allowed + 1e-9:
        return []
    change = (after - before) / before if before else math.inf
    return [GateFailure(
        ROW_COUNT_STABLE,
        f"{after} rows for the weeks of {span[0]} to {span[1]} against {before} at the last "
        f"publish ({change:+.0%}; at most {tolerance:.0%} allowed)",
    )]


def run_gates(current: pd.DataFrame, last: pd.DataFrame | None, *, tolerance: float,
              row_count_tolerance: float, as_of: date,
              closeout_days: int = DEFAULT_CLOSEOUT_DAYS) -> GateReport:
    """Every gate, in order; the comparisons only run on a table that is well-formed."""
    report = GateReport()
    report.failures += not_empty(current)
    report.failures += one_row_per_region_week(current)
    report.failures += rates_in_range(current)
    if last is None:
        report.notes.append("no previous publish: nothing to compare closed weeks and row "
                            "counts with")
    elif report.passed:
        report.failures += closed_weeks_stable(current, last, tolerance, as_of, closeout_days)
        report.failures += row_count_stable(current, last, row_count_tolerance)
    return report
