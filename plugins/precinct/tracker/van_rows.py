"""VAN events and their sign-ups -> the rows staged in `sync_shift`, and why others were skipped.

Rules (VAN v4 shapes: an event expanded with `locations` and `shifts`, its sign-ups as listed by
`GET /signups?eventId=`):

- person: the sign-up's `person.vanId`; none -> skipped, reason `no_person`.
- start: the sign-up's `startTimeOverride`, else the start of its shift (`shift.eventShiftId` in
  the event's shifts); neither, or an unreadable time -> skipped, `no_start`. The end comes the
  same way and may be missing.
- location: the sign-up's `location.locationId`, else the event's only location; none, or an
  ambiguous choice between several -> skipped, `no_location`.
- status: kept exactly as VAN sent it. A status name outside VAN's standard list is counted as
  `unknown_status` (the row is staged, and never loaded as an active shift).
- day: the start's date in the campaign timezone; sign-ups outside the pulled days are ignored
  (counted as `outside_window`, not as skipped).
- the same `eventSignupId` twice (a list that shifted between pages): the last one wins.

Nothing here raises on bad input: every sign-up ends up staged, skipped with a reason, or
outside the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from precinct.tracker.dates import local_day, zone

# Statuses loaded into the day's `shift` table (the sign-up still counts on the volunteer).
ACTIVE_STATUSES: tuple[str, ...] = ("Invited", "Left Msg", "Confirmed", "Scheduled", "Sched-Web")
CONFIRMED_STATUS = "Confirmed"
# VAN's standard sign-up statuses; anything else is a committee's own and is reported.
KNOWN_STATUSES: frozenset[str] = frozenset({
    "Scheduled", "Completed", "Declined", "Invited", "Cancelled", "No Show", "Confirmed",
    "Tentative", "Walk In", "Left Msg", "Conf Twice", "Sched-Web", "Texted",
})

SKIP_NO_PERSON = "no_person"
SKIP_NO_START = "no_start"
SKIP_NO_LOCATION = "no_location"
SKIP_REASONS = (SKIP_NO_PERSON, SKIP_NO_LOCATION, SKIP_NO_START)

# Column order of `sync_shift` as staged (pulled_at is added by the database side).
SYNC_COLUMNS: tuple[str, ...] = (
    "shift_day", "event_signup_id", "van_id", "first_name", "last_name", "event_id",
    "event_name", "event_type_id", "event_type", "event_shift_id", "role_name", "status_id",
    "status_name", "location_id", "location_name", "region", "start_time", "end_time",
)


@dataclass(frozen=True)
class StagedShift:
    shift_day: date
    event_signup_id: int
    van_id: int
    first_name: str | None
    last_name: str | None
    event_id: int
    event_name: str | None
    event_type_id: int | None
    event_type: str | None
    event_shift_id: int | None
    role_name: str | None
    status_id: int | None
    status_name: str | None
    location_id: int
    location_name: str | None
    region: str | None
    start_time: datetime
    end_time: datetime | None

    def as_tuple(self) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in SYNC_COLUMNS)

    @property
    def active(self) -> bool:
        return self.status_name in ACTIVE_STATUSES


@dataclass
class PullResult:
    """What a pull produced: staged rows and counts (counts carry no personal data)."""

    rows: list[StagedShift] = field(default_factory=list)
    events: int = 0
    signups: int = 0
    outside_window: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    unknown_status: Counter[str] = field(default_factory=Counter)

    def counts(self) -> dict[str, Any]:
        skipped = sum(self.skipped.values())
        return {
            "events": self.events,
            "fetched": self.signups,  # every sign-up VAN listed for the events asked for
            "pulled": len(self.rows) + skipped,  # those for the pulled days
            "staged": len(self.rows),
            "outside_window": self.outside_window,
            "duplicates": self.duplicates,
            "skipped": skipped,
            "skipped_by_reason": {r: self.skipped.get(r, 0) for r in SKIP_REASONS},
            "unknown_status": sum(self.unknown_status.values()),
            # Status names are VAN configuration, not personal data.
            "unknown_status_names": dict(sorted(self.unknown_status.items())),
        }


def parse_time(value: Any) -> datetime | None:
    """A VAN date-time (ISO 8601 with offset, or Z); None for anything unusable or naive."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None and parsed.utcoffset() is not None else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _obj(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def normalize(
    events: Iterable[Mapping[str, Any]],
    signups_by_event: Mapping[int, Iterable[Mapping[str, Any]]],
    first_day: date,
    last_day: date,
    tz: str | ZoneInfo | None = None,
) -> PullResult:
    """Stage the sign-ups of `events` whose start falls on first_day..last_day (inclusive)."""
    z = zone(tz)
    result = PullResult()
    by_id: dict[int, StagedShift] = {}
    for event in events:
        event = _obj(event)
        event_id = _int(event.get("eventId"))
        if event_id is None:
            continue
        result.events += 1
        shifts = {}
        for s in event.get("shifts") or []:
            s = _obj(s)
            if (sid := _int(s.get("eventShiftId"))) is not None:
                shifts[sid] = s
        locations = [_obj(loc) for loc in event.get("locations") or []]
        locations = [loc for loc in locations if _int(loc.get("locationId")) is not None]
        event_type = _obj(event.get("eventType"))
        region = _text(event.get("districtFieldValue"))
        event_start_time = parse_time(event.get("startDate"))
        event_start = local_day(event_start_time, z) if event_start_time else None
        for signup in signups_by_event.get(event_id, []) or []:
            signup = _obj(signup)
            result.signups += 1
            signup_id = _int(signup.get("eventSignupId"))
            person = _obj(signup.get("person"))
            van_id = _int(person.get("vanId"))
            if van_id is None or signup_id is None:
                result.skipped[SKIP_NO_PERSON] += 1
                continue
            shift_ref = _obj(signup.get("shift"))
            shift = shifts.get(_int(shift_ref.get("eventShiftId")) or -1, {})
            start = parse_time(signup.get("startTimeOverride")) or parse_time(
                shift.get("startTime")
            )
            if start is None:
                # Its day is unknown: judge by the event's start whether it concerns this pull.
                if event_start is not None and not first_day <= event_start <= last_day:
                    result.outside_window += 1
                else:
                    result.skipped[SKIP_NO_START] += 1
                continue
            day = local_day(start, z)
            if not first_day <= day <= last_day:
                result.outside_window += 1
                continue
            end = parse_time(signup.get("endTimeOverride")) or parse_time(shift.get("endTime"))
            location = _obj(signup.get("location"))
            location_id = _int(location.get("locationId"))
            if location_id is None and len(locations) == 1:
                location = locations[0]
                location_id = _int(location.get("locationId"))
            if location_id is None:
                result.skipped[SKIP_NO_LOCATION] += 1
                continue
            status = _obj(signup.get("status"))
            status_name = _text(status.get("name"))
            if status_name not in KNOWN_STATUSES:
                result.unknown_status[status_name or "(none)"] += 1
            role = _obj(signup.get("role"))
            row = StagedShift(
                shift_day=day,
                event_signup_id=signup_id,
                van_id=van_id,
                first_name=_text(person.get("firstName")),
                last_name=_text(person.get("lastName")),
                event_id=event_id,
                event_name=_text(event.get("name")),
                event_type_id=_int(event_type.get("eventTypeId")),
                event_type=_text(event_type.get("name")),
                event_shift_id=_int(shift_ref.get("eventShiftId")),
                role_name=_text(role.get("name")),
                status_id=_int(status.get("statusId")),
                status_name=status_name,
                location_id=location_id,
                location_name=_text(location.get("name")),
                region=region,
                start_time=start,
                end_time=end,
            )
            if signup_id in by_id:
                result.duplicates += 1
            by_id[signup_id] = row
    result.rows = list(by_id.values())
    return result


def nameless_van_ids(rows: Iterable[StagedShift]) -> set[int]:
    """Volunteers VAN sent without any name (look them up with GET /people/{vanId})."""
    return {r.van_id for r in rows if r.first_name is None and r.last_name is None}


def fill_names(
    rows: list[StagedShift], people: Mapping[int, Mapping[str, Any] | None]
) -> list[StagedShift]:
    """Rows with names taken from VAN person records where the sign-up had none."""
    out = []
    for row in rows:
        person = people.get(row.van_id) if row.first_name is None and row.last_name is None \
            else None
        if person:
            row = replace(row, first_name=_text(person.get("firstName")),
                          last_name=_text(person.get("lastName")))
        out.append(row)
    return out
