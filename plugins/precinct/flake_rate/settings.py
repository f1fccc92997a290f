"""The refresh's settings, resolved and checked from the DAG's params and the run's date.

A value that cannot be used raises `InvalidSetting` (a ValueError naming the param): the task
layer (`precinct.operators.flake_rate`) turns it into a failure without retries, since retrying
cannot fix a form value. No Airflow here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any

from precinct.flake_rate.sql import validate_dataset

# When no start date is given: this many weeks before the current one, plus the current one.
DEFAULT_LOOKBACK_WEEKS = 12
DEFAULT_TOLERANCE = 0.05
DEFAULT_ROW_COUNT_TOLERANCE = 0.10
DEFAULT_CLOSEOUT_DAYS = 7


class InvalidSetting(ValueError):
    """A param value the refresh cannot use; the message names the param."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


def week_start(day: date) -> date:
    """The Saturday that starts `day`'s Saturday-to-Friday week."""
    return day - timedelta(days=(day.weekday() - 5) % 7)


@dataclass(frozen=True)
class RefreshSettings:
    dataset: str
    event_type_ids: tuple[int, ...]
    start_date: date
    as_of: date
    spreadsheet_id: str
    tolerance: float
    row_count_tolerance: float
    closeout_days: int = DEFAULT_CLOSEOUT_DAYS

    def flake_rate_parameters(self) -> dict[str, tuple[str, Any]]:
        return {
            "start_date": ("DATE", self.start_date.isoformat()),
            "as_of": ("DATE", self.as_of.isoformat()),
            "event_type_ids": ("ARRAY<INT64>", list(self.event_type_ids)),
        }

    def upcoming_parameters(self) -> dict[str, tuple[str, Any]]:
        return {
            "as_of": ("DATE", self.as_of.isoformat()),
            "event_type_ids": ("ARRAY<INT64>", list(self.event_type_ids)),
        }

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["event_type_ids"] = list(self.event_type_ids)
        data["start_date"] = self.start_date.isoformat()
        data["as_of"] = self.as_of.isoformat()
        return data


def resolve_settings(params: Mapping[str, Any], as_of: date) -> RefreshSettings:
    """Check the params (InvalidSetting naming the bad one) and fill in the defaults."""
    try:
        dataset = validate_dataset(str(params.get("dataset") or "").strip())
    except ValueError as exc:
        raise InvalidSetting("dataset", f"dataset: {exc}") from None
    raw_types = params.get("event_type_ids")
    if isinstance(raw_types, str):
        raw_types = [part for part in raw_types.replace(" ", "").split(",") if part]
    try:
        event_types = tuple(sorted({int(t) for t in raw_types or []}))
    except (TypeError, ValueError) as exc:
        raise InvalidSetting("event_type_ids",
                             f"event_type_ids must be VAN event type ids, got {raw_types!r}"
                             ) from exc
    if not event_types or any(t <= 0 for t in event_types):
        raise InvalidSetting("event_type_ids",
                             "event_type_ids needs at least one positive VAN event type id")
    raw_start = params.get("start_date")
    if raw_start in (None, ""):
        start = week_start(as_of) - timedelta(weeks=DEFAULT_LOOKBACK_WEEKS)
    else:
        try:
            start = raw_start if isinstance(raw_start, date) else date.fromisoformat(str(raw_start))
        except ValueError as exc:
            raise InvalidSetting("start_date",
                                 f"start_date must be YYYY-MM-DD, got {raw_start!r}") from exc
    if start > as_of:
        raise InvalidSetting("start_date", f"start_date {start} is after the refresh date {as_of}")
    spreadsheet_id = str(params.get("spreadsheet_id") or "").strip()
    if not spreadsheet_id:
        raise InvalidSetting("spreadsheet_id", "spreadsheet_id is required")
    return RefreshSettings(
        dataset=dataset,
        event_type_ids=event_types,
        start_date=start,
        as_of=as_of,
        spreadsheet_id=spreadsheet_id,
        tolerance=_fraction(params, "tolerance", DEFAULT_TOLERANCE),
        row_count_tolerance=_fraction(params, "row_count_tolerance", DEFAULT_ROW_COUNT_TOLERANCE),
        closeout_days=_days(params, "closeout_days", DEFAULT_CLOSEOUT_DAYS),
    )


def _fraction(params: Mapping[str, Any], key: str, default: float) -> float:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidSetting(key, f"{key} must be a number between 0 and 1, got {raw!r}") from exc
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise InvalidSetting(key, f"{key} must be between 0 and 1, got {raw!r}")
    return value


def _days(params: Mapping[str, Any], key: str, default: int) -> int:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError) as exc:
        raise InvalidSetting(key, f"{key} must be a whole number of days, got {raw!r}") from exc
    if not 0 <= value <= 60 or value != float(raw):
        raise InvalidSetting(key, f"{key} must be between 0 and 60 days, got {raw!r}")
    return value
