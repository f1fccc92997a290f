"""A stand-in for the NGP VAN v4 REST API: the event, sign-up and people endpoints Precinct uses.

Run with `python -m devstack.van_standin --port 18082` (devstack does it). It follows VAN's
published shapes:

- HTTP Basic auth: user = application name, password = `api_key|mode` (0 VoterFile, 1
  MyCampaign). A wrong name, key or mode answers 401 in VAN's error envelope
  `{"errors": [{"code": ..., "text": ...}]}`. Each mode has its own data (other VAN ids, other
  events), as a VoterFile and a MyCampaign database do.
- Paged lists: `{"items": [...], "count": N, "nextPageLink": "<absolute URL>" | null}` with
  `$top` (default 50, at most 200; more is a 400 INVALID_PARAMETER) and `$skip`.
- `GET /v4/events` (`eventTypeIds`, `startingAfter`, `startingBefore`, `$expand` of
  `locations,shifts,roles,codes,notes`), `GET /v4/events/{eventId}`, `GET /v4/events/types`,
  `GET /v4/signups?eventId=` (or `vanID=`), `GET /v4/signups/{eventSignupId}`,
  `PUT /v4/signups/{eventSignupId}` (204), `GET /v4/signups/statuses`,
  `GET /v4/people/{vanId}`.

Seed data is deterministic (a seed and an anchor date, default today in the committee's
timezone): >= 2,000 events over the 61 days around the anchor and 50,000 sign-ups across
statuses, with a small, fixed share of the flaws real exports have (a sign-up without person,
location or shift, a custom status nobody told us about).

Test controls, without auth, under `/__admin/`:
`GET health`, `GET calls` (request counters), `POST calls/reset`,
`POST throttle {"count": N, "retry_after": S}` (the next N API calls answer 429 with
Retry-After), `POST fail {"count": N, "status": 503}` (the next N answer 5xx),
`POST reseed {"seed", "anchor", "events", "signups"}`, `POST fixtures {"mode", "events",
"signups", "people"}` (add hand-written VAN objects), `GET stats?mode=1`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hmac
import json
import os
import random
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo

APP_NAME = os.environ.get("VAN_STANDIN_APP", "precinct-devstack")
API_KEY = os.environ.get("VAN_STANDIN_KEY", "devstack-van-0c1d5e-not-a-real-key")
TIMEZONE = ZoneInfo(os.environ.get("VAN_STANDIN_TZ", "America/Chicago"))
DEFAULT_SEED = int(os.environ.get("VAN_STANDIN_SEED", "20261103"))
DEFAULT_EVENTS = 2000
DEFAULT_SIGNUPS = 50000
DEFAULT_TOP = 50
MAX_TOP = 200
DAYS_AROUND_ANCHOR = 30
MODES = (0, 1)

# VAN's sign-up statuses (ids are global in VAN) and how often the seed uses each.
STATUSES: dict[int, str] = {
    1: "Scheduled", 2: "Completed", 3: "Declined", 4: "Invited", 5: "Cancelled", 6: "No Show",
    11: "Confirmed", 14: "Tentative", 15: "Walk In", 18: "Left Msg", 23: "Conf Twice",
    30: "Sched-Web",
}
STATUS_WEIGHTS: dict[int, int] = {
    1: 28, 11: 20, 4: 9, 18: 8, 30: 10, 3: 5, 5: 5, 2: 5, 6: 3, 14: 3, 15: 2, 23: 2,
}
# A status configured in one committee that nobody told the tracker about.
CUSTOM_STATUS = {"statusId": 57, "name": "Needs Ride"}

EVENT_TYPES: list[dict[str, Any]] = [
    {"eventTypeId": 143850, "name": "Canvass",
     "roles": [{"roleId": 111680, "name": "Canvasser", "isEventLead": False},
               {"roleId": 111681, "name": "Canvass Captain", "isEventLead": True}]},
    {"eventTypeId": 143856, "name": "Phone Bank",
     "roles": [{"roleId": 111689, "name": "Phone Banker", "isEventLead": False},
               {"roleId": 111687, "name": "Host", "isEventLead": True}]},
    {"eventTypeId": 143861, "name": "Voter Registration",
     "roles": [{"roleId": 111692, "name": "Registrar", "isEventLead": False}]},
    {"eventTypeId": 143864, "name": "Volunteer Training",
     "roles": [{"roleId": 111695, "name": "Trainee", "isEventLead": False},
               {"roleId": 111696, "name": "Trainer", "isEventLead": True}]},
]
EVENT_TYPE_WEIGHTS = [55, 30, 10, 5]

REGIONS = ["North Side", "South Side", "West Suburbs", "Lakefront", "River Valley", "Prairie"]
STREETS = ["Grove St", "Oak Ave", "Harlem Ave", "Archer Ave", "Clark St", "Halsted St",
           "Milwaukee Ave", "Western Ave", "Pulaski Rd", "Cicero Ave", "Ashland Ave",
           "Roosevelt Rd"]
SITES = ["Field Office", "Staging Location", "Union Hall", "Library Annex", "Community Center",
         "Church Basement", "Coffee House", "Campaign HQ"]
CITIES = ["Chicago", "Evanston", "Oak Park", "Cicero", "Berwyn", "Skokie", "Joliet", "Aurora"]
# Volunteer names: deliberately distinctive, so a test can prove none reaches a task log.
FIRST_NAMES = [
    "Adaeze", "Bartholomew", "Consolata", "Dagny", "Eamonn", "Fenella", "Gwendolyn", "Hamish",
    "Ingeborg", "Jovanka", "Kazimir", "Leocadia", "Marisol", "Nikolai", "Oluwaseun", "Perpetua",
    "Quillon", "Rosalind", "Svetlana", "Thaddeus", "Ulrika", "Valentin", "Wilhelmina", "Xiomara",
    "Yevgenia", "Zebulon", "Anselm", "Brunhilde", "Cosimo", "Dragomir", "Esmeralda", "Florentyna",
]
LAST_NAMES = [
    "Abernathy", "Baptiste", "Castellanos", "Dvorakova", "Eberhardt", "Fitzwilliam", "Gallagher",
    "Hollingsworth", "Iwasaki", "Jablonski", "Kowalczyk", "Lindqvist", "Mbeki", "Nakamura",
    "Oyelaran", "Przybylski", "Quintanilla", "Rasmussen", "Szczepanski", "Thistlewood",
    "Umberger", "Vandersloot", "Wojciechowski", "Xanthopoulos", "Yamamoto", "Zielinski",
    "Achterberg", "Bramwell", "Chukwuemeka", "Delacroix",
]


def error_body(code: str, text: str, properties: list[str] | None = None) -> dict[str, Any]:
    """VAN's standard error envelope."""
    item: dict[str, Any] = {"code": code, "text": text}
    if properties:
        item["properties"] = properties
    return {"errors": [item]}


class ApiError(Exception):
    def __init__(self, status: int, code: str, text: str, properties: list[str] | None = None):
        super().__init__(text)
        self.status, self.body = status, error_body(code, text, properties)


def parse_when(value: str, name: str) -> datetime:
    """An ISO 8601 date or date-time; a bare date means local midnight in the committee's zone."""
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), TIMEZONE)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=TIMEZONE)
    except ValueError as exc:
        raise ApiError(
            400, "INVALID_PARAMETER", f"{name} must be an ISO 8601 date", [name]
        ) from exc


def local_iso(day: date, minutes: int) -> str:
    """A local wall-clock time on `day`, with its UTC offset (DST-correct).

    Wall-clock arithmetic on the naive local time, then the zone: 10:00 on a DST day is 10:00.
    """
    naive = datetime.combine(day, time(0)) + timedelta(minutes=minutes)
    return naive.replace(tzinfo=TIMEZONE).isoformat(timespec="seconds")


@dataclass
class Event:
    event_id: int
    name: str
    short_name: str
    type_index: int
    day: date
    shifts: list[tuple[int, str, int, int]]  # (eventShiftId, name, start minute, end minute)
    locations: list[int]  # indexes into Dataset.locations
    created: str
    raw: dict[str, Any] | None = None  # a fixture: rendered as given

    @property
    def start(self) -> datetime:
        if self.raw is not None:
            return parse_when(self.raw["startDate"], "startDate")
        return datetime.fromisoformat(local_iso(self.day, self.shifts[0][2]))


@dataclass
class Signup:
    signup_id: int
    event_id: int
    person: int | None  # index into Dataset.people; None: the person is missing
    shift: int | None  # index into the event's shifts; None: no shift
    role: int
    status: dict[str, Any]
    location: int | None  # index into the event's locations; None: not given
    override_minutes: int | None = None  # startTimeOverride, minutes after the shift's start
    raw: dict[str, Any] | None = None


@dataclass
class Dataset:
    """One VAN database (a mode): its people, locations, events and sign-ups."""

    mode: int
    seed: int
    anchor: date
    n_events: int
    n_signups: int
    people: list[dict[str, Any]] = field(default_factory=list)
    people_by_id: dict[int, int] = field(default_factory=dict)
    locations: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    events_by_id: dict[int, Event] = field(default_factory=dict)
    signups: dict[int, Signup] = field(default_factory=dict)
    signups_by_event: dict[int, list[int]] = field(default_factory=dict)
    signups_by_person: dict[int, list[int]] = field(default_factory=dict)

    # ---- seeding ---------------------------------------------------------------------------
    def build(self) -> Dataset:
        rng = random.Random(f"{self.seed}:{self.mode}")
        id_base = 100_000_000 if self.mode == 1 else 300_000_000
        for i in range(max(1, self.n_signups // 4)):
            first = rng.choice(FIRST_NAMES)
            last = rng.choice(LAST_NAMES)
            self.people.append({"vanId": id_base + 1 + i * 7, "firstName": first, "lastName": last})
        self.people_by_id = {p["vanId"]: i for i, p in enumerate(self.people)}
        for i in range(60):
            region = REGIONS[i % len(REGIONS)]
            site = f"{rng.choice(SITES)} {region.split()[0]} {i + 1}"
            street = f"{rng.randint(100, 9999)} {rng.choice(STREETS)}"
            city = rng.choice(CITIES)
            self.locations.append({
                "locationId": 2000 + i + (0 if self.mode == 1 else 500),
                "name": site,
                "displayName": f"{site}, {street} {city}, IL ",
                "address": {
                    "addressId": None, "addressLine1": street, "addressLine2": None,
                    "addressLine3": None, "city": city, "stateOrProvince": "IL",
                    "zipOrPostalCode": f"60{rng.randint(100, 999)}", "geoLocation": None,
                    "countryCode": "US", "preview": f"{street} \r\n{city}, IL ", "type": None,
                    "isPreferred": None,
                },
                "region": region,  # stand-in bookkeeping: becomes the events' districtFieldValue
            })
        days = 2 * DAYS_AROUND_ANCHOR + 1
        event_base = 750_000_000 if self.mode == 1 else 760_000_000
        shift_id = 40_000 if self.mode == 1 else 90_000
        for i in range(self.n_events):
            day = self.anchor + timedelta(days=(i % days) - DAYS_AROUND_ANCHOR)
            type_index = rng.choices(range(len(EVENT_TYPES)), EVENT_TYPE_WEIGHTS)[0]
            start = rng.choice([9 * 60, 10 * 60, 12 * 60, 13 * 60 + 30, 17 * 60, 18 * 60])
            shifts = []
            for s in range(rng.choices([1, 2, 3], [50, 35, 15])[0]):
                length = rng.choice([120, 150, 180])
                shift_id += 1
                name = "Default Shift" if s == 0 else f"Shift {s + 1}"
                shifts.append((shift_id, name, start, start + length))
                start += length
            roll = rng.random()
            first_loc = rng.randrange(len(self.locations))
            if roll < 0.005:
                locations: list[int] = []  # an event nobody gave a location
            elif roll < 0.2:
                locations = [first_loc, (first_loc + 1 + rng.randrange(5)) % len(self.locations)]
            else:
                locations = [first_loc]
            kind = EVENT_TYPES[type_index]["name"]
            place = self.locations[locations[0]]["name"] if locations else "TBD"
            event = Event(
                event_id=event_base + i * 3 + 1,
                name=f"{kind} at {place} {day:%b %d}",
                short_name=f"{kind[:4]}{i % 1000:03d}",
                type_index=type_index,
                day=day,
                shifts=shifts,
                locations=locations,
                created=f"{day - timedelta(days=21)}T15:00:00Z",
            )
            self.events.append(event)
        self.events_by_id = {e.event_id: e for e in self.events}
        # Most events draw ~25 sign-ups; one in forty is a day of action drawing hundreds, so
        # sign-up lists page too.
        weights = [12.0 if i % 40 == 7 and e.locations else 1.0
                   for i, e in enumerate(self.events)]
        status_ids, status_weights = zip(*STATUS_WEIGHTS.items(), strict=True)
        signup_base = 10_000_000 if self.mode == 1 else 20_000_000
        chosen = rng.choices(range(len(self.events)), weights, k=self.n_signups)
        for n, event_index in enumerate(chosen):
            event = self.events[event_index]
            roll = rng.random()
            person: int | None = rng.randrange(len(self.people))
            shift: int | None = rng.randrange(len(event.shifts))
            location: int | None = rng.randrange(len(event.locations)) if event.locations else None
            status: dict[str, Any] = {}
            override = None
            if roll < 0.002:
                person = None
            elif roll < 0.012:
                location = None  # the sign-up names no location (fine if the event has one)
            elif roll < 0.015:
                shift = None  # no shift, no override: no start time
            elif roll < 0.018:
                status = dict(CUSTOM_STATUS)
            elif roll < 0.05:
                override = 30
            if not status:
                sid = rng.choices(status_ids, status_weights)[0]
                status = {"statusId": sid, "name": STATUSES[sid]}
            roles = EVENT_TYPES[event.type_index]["roles"]
            role = 0 if rng.random() < 0.9 or len(roles) == 1 else 1
            self._add_signup(Signup(
                signup_id=signup_base + n + 1, event_id=event.event_id, person=person,
                shift=shift, role=role, status=status, location=location,
                override_minutes=override,
            ))
        return self

    def _add_signup(self, signup: Signup) -> None:
        self.signups[signup.signup_id] = signup
        self.signups_by_event.setdefault(signup.event_id, []).append(signup.signup_id)
        van_id = self._van_id(signup)
        if van_id is not None:
            self.signups_by_person.setdefault(van_id, []).append(signup.signup_id)

    def _van_id(self, signup: Signup) -> int | None:
        if signup.raw is not None:
            return (signup.raw.get("person") or {}).get("vanId")
        return None if signup.person is None else self.people[signup.person]["vanId"]

    def add_fixtures(self, payload: dict[str, Any]) -> dict[str, int]:
        """Hand-written VAN objects a test needs (a tricky sign-up, an event on a DST night)."""
        for person in payload.get("people", []):
            self.people_by_id[int(person["vanId"])] = len(self.people)
            self.people.append(dict(person))
        for raw in payload.get("events", []):
            start = parse_when(raw["startDate"], "startDate")
            event = Event(int(raw["eventId"]), raw.get("name", ""), raw.get("shortName", ""),
                          0, start.date(), [], [], raw.get("createdDate", ""), raw=dict(raw))
            self.events.append(event)
            self.events_by_id[event.event_id] = event
        for raw in payload.get("signups", []):
            event_id = int(raw["event"]["eventId"])
            status = raw.get("status") or {}
            self._add_signup(Signup(int(raw["eventSignupId"]), event_id, None, None, 0,
                                    dict(status), None, raw=dict(raw)))
        return {"events": len(payload.get("events", [])),
                "signups": len(payload.get("signups", []))}

    # ---- rendering in VAN's shapes -------------------------------------------------------
    def location_json(self, index: int, brief: bool = False) -> dict[str, Any]:
        loc = self.locations[index]
        if brief:  # how a sign-up refers to its location
            return {k: loc[k] for k in ("locationId", "name", "displayName")}
        out = {k: v for k, v in loc.items() if k != "region"}
        out.update({"id": loc["locationId"], "notes": None, "codes": None})
        return out

    def event_json(self, event: Event, expand: set[str]) -> dict[str, Any]:
        if event.raw is not None:
            return dict(event.raw)
        kind = EVENT_TYPES[event.type_index]
        shifts = [
            {"eventShiftId": sid, "name": name, "startTime": local_iso(event.day, start),
             "endTime": local_iso(event.day, end)}
            for sid, name, start, end in event.shifts
        ]
        region = self.locations[event.locations[0]]["region"] if event.locations else None
        return {
            "eventId": event.event_id,
            "name": event.name,
            "shortName": event.short_name,
            "description": f"{kind['name']} shift. Bring water and a phone charger.",
            "startDate": shifts[0]["startTime"],
            "endDate": shifts[-1]["endTime"],
            "eventType": {"eventTypeId": kind["eventTypeId"], "name": kind["name"]},
            "isOnlyEditableByCreatingUser": False,
            "isPubliclyViewable": None,
            "locations": ([self.location_json(i) for i in event.locations]
                          if "locations" in expand else None),
            "codes": [] if "codes" in expand else None,
            "notes": [] if "notes" in expand else None,
            "shifts": shifts if "shifts" in expand else None,
            "roles": ([dict(r, goal=None, max=None, min=None) for r in kind["roles"]]
                      if "roles" in expand else None),
            "districtFieldValue": region,
            "voterRegistrationBatches": None,
            "createdDate": event.created,
            "isActive": True,
            "dotNetTimeZoneId": None,
        }

    def person_json(self, index: int, brief: bool = True) -> dict[str, Any]:
        person = self.people[index]
        names_missing = person["vanId"] % 97 == 0  # VAN sometimes sends only the id
        first = None if names_missing and brief else person.get("firstName")
        last = None if names_missing and brief else person.get("lastName")
        if brief:
            return {
                "vanId": person["vanId"], "firstName": first, "middleName": None,
                "lastName": last, "contactOrganizationCommonName": None,
                "contactOrganizationOfficialName": None, "contactModeId": 1, "email": None,
                "phone": None,
            }
        return {
            "vanId": person["vanId"], "firstName": first, "middleName": None, "lastName": last,
            "suffix": None, "title": None, "contactMode": None, "nickname": None,
            "salutation": first, "envelopeName": f"{first or ''} {last or ''}".strip() or None,
            "party": None, "employer": None, "occupation": None, "sex": None,
            "dateOfBirth": None, "emails": [], "phones": [], "addresses": [],
            "recordedAddresses": [], "identifiers": [], "codes": None, "customFields": [],
            "suppressions": [], "notes": None, "scores": None, "districts": None,
        }

    def signup_json(self, signup: Signup) -> dict[str, Any]:
        if signup.raw is not None:
            out = dict(signup.raw)
            out["status"] = dict(signup.status)
            return out
        event = self.events_by_id[signup.event_id]
        roles = EVENT_TYPES[event.type_index]["roles"]
        shift = event.shifts[signup.shift] if signup.shift is not None else None
        override = None
        if signup.override_minutes is not None and shift is not None:
            override = local_iso(event.day, shift[2] + signup.override_minutes)
        location = None
        if signup.location is not None:
            location = self.location_json(event.locations[signup.location], brief=True)
        return {
            "eventSignupId": signup.signup_id,
            "person": None if signup.person is None else self.person_json(signup.person),
            "event": {"eventId": event.event_id, "name": event.name,
                      "shortName": event.short_name},
            "shift": None if shift is None else {"eventShiftId": shift[0], "name": shift[1]},
            "role": {"roleId": roles[signup.role]["roleId"], "name": roles[signup.role]["name"]},
            "status": dict(signup.status),
            "location": location,
            "startTimeOverride": override,
            "endTimeOverride": None,
            "printedLists": None,
            "minivanExports": None,
            "supporterGroupId": None,
            "isOfflineSignup": False,
        }

    # ---- queries -----------------------------------------------------------------------------
    def find_events(self, query: dict[str, str]) -> list[Event]:
        types = None
        if query.get("eventTypeIds"):
            try:
                types = {int(t) for t in query["eventTypeIds"].split(",") if t.strip()}
            except ValueError as exc:
                raise ApiError(400, "INVALID_PARAMETER", "eventTypeIds must be integers",
                               ["eventTypeIds"]) from exc
        after = parse_when(query["startingAfter"], "startingAfter") \
            if query.get("startingAfter") else None
        before = parse_when(query["startingBefore"], "startingBefore") \
            if query.get("startingBefore") else None
        found = []
        for event in self.events:
            if types is not None:
                type_id = (event.raw or {}).get("eventType", {}).get("eventTypeId") \
                    if event.raw is not None else EVENT_TYPES[event.type_index]["eventTypeId"]
                if type_id not in types:
                    continue
            start = event.start
            if after is not None and not start > after:
                continue
            if before is not None and not start < before:
                continue
            found.append(event)
        found.sort(key=lambda e: (e.start, e.event_id))
        return found


class State:
    """Everything the server holds, behind one lock (ThreadingHTTPServer serves in threads)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.seed = DEFAULT_SEED
        anchor = os.environ.get("VAN_STANDIN_ANCHOR")
        self.anchor = date.fromisoformat(anchor) if anchor else datetime.now(TIMEZONE).date()
        self.n_events, self.n_signups = DEFAULT_EVENTS, DEFAULT_SIGNUPS
        self.datasets: dict[int, Dataset] = {}
        self.throttle_left = 0
        self.retry_after = 1
        self.fail_left = 0
        self.fail_status = 503
        self.calls: Counter[str] = Counter()
        self.max_top_requested = 0

    def dataset(self, mode: int) -> Dataset:
        with self.lock:
            if mode not in self.datasets:
                self.datasets[mode] = Dataset(
                    mode, self.seed, self.anchor, self.n_events, self.n_signups
                ).build()
            return self.datasets[mode]

    def reseed(self, payload: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.seed = int(payload.get("seed", DEFAULT_SEED))
            anchor = payload.get("anchor")
            self.anchor = date.fromisoformat(anchor) if anchor else datetime.now(TIMEZONE).date()
            self.n_events = int(payload.get("events", DEFAULT_EVENTS))
            self.n_signups = int(payload.get("signups", DEFAULT_SIGNUPS))
            self.datasets.clear()
            return {"seed": self.seed, "anchor": self.anchor.isoformat(),
                    "events": self.n_events, "signups": self.n_signups}


STATE = State()


class Handler(BaseHTTPRequestHandler):
    server_version = "VanStandin/1.0"
    protocol_version = "HTTP/1.1"
    # One write per response and no Nagle: otherwise keep-alive clients wait ~40 ms per call on
    # the delayed ACK between the header and body writes.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    # ---- plumbing ------------------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:  # stdlib's signature
        # Paths and status codes only: no headers (Authorization), no bodies (names).
        sys.stderr.write(f"{self.address_string()} {format % args}\n")

    def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def _read_body(self) -> None:
        # Read it before anything can answer, so a keep-alive connection stays in sync.
        length = int(self.headers.get("Content-Length") or 0)
        self._raw_body = self.rfile.read(length) if length else b""

    def _body(self) -> Any:
        raw = self._raw_body
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ApiError(400, "INVALID_REQUEST_BODY", "The request body is not JSON") from exc

    def _mode(self) -> int:
        """Check Basic auth; return the database mode the key selects."""
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        denied = ApiError(401, "UNAUTHORIZED", "Authorization has been denied for this request.")
        if scheme.lower() != "basic" or not encoded:
            raise denied
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise denied from exc
        key, sep, mode = password.rpartition("|")
        if not sep or mode not in {"0", "1"}:
            raise denied
        ok_user = hmac.compare_digest(user.encode(), APP_NAME.encode())
        ok_key = hmac.compare_digest(key.encode(), API_KEY.encode())
        if not (ok_user and ok_key):
            raise denied
        return int(mode)

    def _base(self) -> str:
        return f"http://{self.headers.get('Host') or self.server.server_address[0]}"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self._read_body()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        parts = [p for p in url.path.split("/") if p]
        try:
            if parts[:1] == ["__admin"]:
                status, body = self._admin(method, parts[1:], query)
                self._send(status, body)
                return
            if parts[:1] != ["v4"]:
                raise ApiError(404, "NOT_FOUND", "The requested resource was not found.")
            with STATE.lock:
                STATE.calls["total"] += 1
                STATE.calls[f"{method} /{'/'.join(parts[:2])}"] += 1
                if STATE.throttle_left > 0:
                    STATE.throttle_left -= 1
                    STATE.calls["throttled"] += 1
                    self._send(429, error_body("TOO_MANY_REQUESTS",
                                               "API rate limit exceeded. Retry later."),
                               {"Retry-After": str(STATE.retry_after)})
                    return
                if STATE.fail_left > 0:
                    STATE.fail_left -= 1
                    STATE.calls["failed"] += 1
                    self._send(STATE.fail_status, error_body(
                        "INTERNAL_SERVER_ERROR", "An unexpected error occurred."))
                    return
            try:
                mode = self._mode()
            except ApiError:
                with STATE.lock:
                    STATE.calls["unauthorized"] += 1
                raise
            status, body = self._api(method, parts[1:], query, STATE.dataset(mode))
            self._send(status, body)
        except ApiError as exc:
            headers = {"WWW-Authenticate": 'Basic realm="VAN"'} if exc.status == 401 else None
            self._send(exc.status, exc.body, headers)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must answer, not hang the client
            self._send(500, error_body("INTERNAL_SERVER_ERROR", f"{type(exc).__name__}"))

    # ---- the API -----------------------------------------------------------------------------
    def _page(self, items: list[Any], query: dict[str, str], render) -> dict[str, Any]:
        try:
            top = int(query.get("$top", DEFAULT_TOP))
            skip = int(query.get("$skip", 0))
        except ValueError as exc:
            raise ApiError(400, "INVALID_PARAMETER", "$top and $skip must be integers",
                           ["$top"]) from exc
        with STATE.lock:
            STATE.max_top_requested = max(STATE.max_top_requested, top)
        if top < 1 or top > MAX_TOP:
            raise ApiError(400, "INVALID_PARAMETER",
                           f"$top must be between 1 and {MAX_TOP}", ["$top"])
        if skip < 0:
            raise ApiError(400, "INVALID_PARAMETER", "$skip must not be negative", ["$skip"])
        page = items[skip: skip + top]
        next_link = None
        if skip + top < len(items):
            params = {k: v for k, v in query.items() if k not in {"$top", "$skip"}}
            params.update({"$top": str(top), "$skip": str(skip + top)})
            next_link = f"{self._base()}{urlsplit(self.path).path}?{urlencode(params)}"
        return {"items": [render(x) for x in page], "count": len(items),
                "nextPageLink": next_link}

    def _api(self, method: str, parts: list[str], query: dict[str, str],
             data: Dataset) -> tuple[int, Any]:
        with STATE.lock:
            return self._api_locked(method, parts, query, data)

    def _api_locked(self, method: str, parts: list[str], query: dict[str, str],
                    data: Dataset) -> tuple[int, Any]:
        resource = parts[0] if parts else ""
        rest = parts[1:]
        not_found = ApiError(404, "NOT_FOUND", "The requested resource was not found.")
        if resource == "events" and method == "GET":
            if rest == ["types"]:
                return 200, [
                    {"eventTypeId": t["eventTypeId"], "name": t["name"],
                     "canHaveMultipleShifts": True, "canHaveMultipleLocations": True,
                     "roles": t["roles"],
                     "statuses": [{"statusId": s, "name": n} for s, n in STATUSES.items()]}
                    for t in EVENT_TYPES
                ]
            expand = {e.strip() for e in query.get("$expand", "").split(",") if e.strip()}
            if rest:
                event = data.events_by_id.get(_int(rest[0]))
                if event is None or len(rest) > 1:
                    raise not_found
                return 200, data.event_json(event, expand)
            events = data.find_events(query)
            return 200, self._page(events, query, lambda e: data.event_json(e, expand))
        if resource == "signups":
            if rest == ["statuses"] and method == "GET":
                return 200, [{"statusId": s, "name": n} for s, n in STATUSES.items()]
            if not rest and method == "GET":
                if query.get("eventId"):
                    ids = data.signups_by_event.get(_int(query["eventId"]), [])
                elif query.get("vanID") or query.get("vanId"):
                    ids = data.signups_by_person.get(
                        _int(query.get("vanID") or query["vanId"]), [])
                else:
                    raise ApiError(400, "INVALID_PARAMETER",
                                   "One of eventId or vanID is required", ["eventId"])
                signups = [data.signups[i] for i in sorted(ids)]
                return 200, self._page(signups, query, data.signup_json)
            signup = data.signups.get(_int(rest[0])) if len(rest) == 1 else None
            if signup is None:
                raise not_found
            if method == "GET":
                return 200, data.signup_json(signup)
            if method == "PUT":
                body = self._body()
                if not isinstance(body, dict):
                    raise ApiError(400, "INVALID_REQUEST_BODY", "Expected a signup object")
                if body.get("eventSignupId") not in (None, signup.signup_id):
                    raise ApiError(400, "INVALID_PARAMETER",
                                   "eventSignupId does not match the URL", ["eventSignupId"])
                status_id = (body.get("status") or {}).get("statusId")
                if status_id not in STATUSES:
                    raise ApiError(400, "INVALID_PARAMETER", "A valid status is required",
                                   ["status.statusId"])
                signup.status = {"statusId": status_id, "name": STATUSES[status_id]}
                return 204, None
        if resource == "people" and method == "GET" and len(rest) == 1:
            index = data.people_by_id.get(_int(rest[0]))
            if index is None:
                raise not_found
            return 200, data.person_json(index, brief=False)
        raise not_found

    # ---- test controls ----------------------------------------------------------------------
    def _admin(self, method: str, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        route = (method, "/".join(parts))
        with STATE.lock:
            if route == ("GET", "health"):
                return 200, {"ok": True}
            if route == ("GET", "calls"):
                return 200, {**STATE.calls, "max_top_requested": STATE.max_top_requested,
                             "throttle_left": STATE.throttle_left}
            if route == ("POST", "calls/reset"):
                STATE.calls.clear()
                STATE.max_top_requested = 0
                STATE.throttle_left = STATE.fail_left = 0
                return 200, {"ok": True}
            if route == ("POST", "throttle"):
                body = self._body()
                STATE.throttle_left = int(body.get("count", 1))
                STATE.retry_after = int(body.get("retry_after", 1))
                return 200, {"throttle_left": STATE.throttle_left}
            if route == ("POST", "fail"):
                body = self._body()
                STATE.fail_left = int(body.get("count", 1))
                STATE.fail_status = int(body.get("status", 503))
                return 200, {"fail_left": STATE.fail_left}
            if route == ("POST", "reseed"):
                return 200, STATE.reseed(self._body())
            if route == ("POST", "fixtures"):
                body = self._body()
                return 200, STATE.dataset(int(body.get("mode", 1))).add_fixtures(body)
            if route == ("GET", "stats"):
                data = STATE.dataset(int(query.get("mode", 1)))
                statuses = Counter(s.status.get("name") for s in data.signups.values())
                return 200, {
                    "anchor": data.anchor.isoformat(), "events": len(data.events),
                    "signups": len(data.signups), "people": len(data.people),
                    "statuses": dict(statuses),
                }
        raise ApiError(404, "NOT_FOUND", "Unknown admin route")


def _int(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(404, "NOT_FOUND", "The requested resource was not found.") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="NGP VAN v4 stand-in")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18082)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    print(f"VAN stand-in on http://{args.host}:{args.port}/v4 (anchor {STATE.anchor})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
