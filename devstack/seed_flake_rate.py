"""Synthetic VAN-synced event data for the flake-rate refresh: generated, and loaded into BigQuery.

The tables have the shape a VAN warehouse sync gives a campaign's BigQuery project (one dataset
per state), plus the campaign's own location-to-region mapping:

- `event_types`: event_type_id, event_type_name
- `locations`: location_id, location_name, city, state, zip
- `events`: event_id, event_name, event_type_id, location_id, starts_at (DATETIME, local time)
- `event_signups`: event_signup_id, event_id, van_id, event_shift_id, created_at (TIMESTAMP)
- `event_signups_statuses` (the status history): event_signups_status_id, event_signup_id,
  event_status_id, event_status_name, created_at (TIMESTAMP)
- `location_regions`: location_id, region, organizer (NULL when the region has none)

Everything is a pure function of `(today, signups, seed)`: devstack loads it relative to the
campaign's today (so the current week is real in `make demo`), the tests generate it around a
fixed date, and the benchmark scales it to a million status rows. Events run from `weeks_back`
weeks before today to `weeks_ahead` weeks after it; each sign-up starts Scheduled, some are
Confirmed, past ones get a final status (often entered days after the event, sometimes corrected
later), and future ones may be cancelled or declined ahead of time. A fixed set of edge cases is
always present (`EDGE`): the Friday 23:30 / Saturday 00:00 week boundary, a status corrected
after the event, a status nobody told the query about, a location with no region, and a shift
later today.

`load(client, dataset)` writes the tables with CSV load jobs (the emulator refuses JSON loads).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

DEFAULT_SEED = 20261103
DEFAULT_SIGNUPS = 6000
WEEKS_BACK = 16
WEEKS_AHEAD = 3
# Status rows per requested sign-up (those not made yet by today included) average about 2.0:
# a million status rows need ~500,000.
STATUS_ROWS_PER_SIGNUP = 2.0

# VAN's global event-status ids and names (the ones the flake rate counts, and others).
SCHEDULED, COMPLETED, DECLINED, INVITED, CANCELLED, NO_SHOW = 1, 2, 3, 4, 5, 6
CONFIRMED, TENTATIVE, WALK_IN, LEFT_MSG = 11, 14, 15, 18
# A committee-specific status the query has never heard of: it must count nowhere.
UNKNOWN_STATUS = 57
STATUS_NAMES: dict[int, str] = {
    SCHEDULED: "Scheduled", COMPLETED: "Completed", DECLINED: "Declined", INVITED: "Invited",
    CANCELLED: "Cancelled", NO_SHOW: "No Show", CONFIRMED: "Confirmed", TENTATIVE: "Tentative",
    WALK_IN: "Walk In", LEFT_MSG: "Left Msg", UNKNOWN_STATUS: "Needs Ride",
}
# The final status of a past shift, and how often.
PAST_FINAL = [COMPLETED, NO_SHOW, CANCELLED, DECLINED, SCHEDULED, CONFIRMED, WALK_IN, LEFT_MSG,
              TENTATIVE, INVITED, UNKNOWN_STATUS]
PAST_WEIGHTS = [52, 14, 11, 5, 5, 4, 3, 2, 1, 1, 2]

CANVASS, PHONE_BANK, VOTER_REGISTRATION, TRAINING = 143850, 143856, 143861, 143864
EVENT_TYPES: dict[int, str] = {
    CANVASS: "Canvass", PHONE_BANK: "Phone Bank", VOTER_REGISTRATION: "Voter Registration",
    TRAINING: "Volunteer Training",
}
EVENT_TYPE_WEIGHTS = [55, 30, 10, 5]
# What the refresh counts by default (training shifts are not recruitment shifts).
DEFAULT_EVENT_TYPE_IDS = [CANVASS, PHONE_BANK, VOTER_REGISTRATION]

REGIONS = ["North Side", "South Side", "West Suburbs", "Lakefront", "River Valley", "Prairie"]
# Organizer per region; None = the region has no organizer yet ("when present").
ORGANIZERS = {"North Side": "Dana Whitfield", "South Side": "Marcus Oyelaran",
              "West Suburbs": "Priya Natarajan", "Lakefront": None,
              "River Valley": "Tomás Herrera", "Prairie": None}
CITIES = ["Chicago", "Evanston", "Oak Park", "Cicero", "Berwyn", "Skokie", "Joliet", "Aurora"]
LOCATIONS_PER_REGION = 4
# The staging location nobody mapped to a region: its shifts land in "Unassigned".
UNMAPPED_LOCATION_ID = 9001
DATASET = "van_demo"

SCHEMAS: dict[str, list[tuple[str, str, str]]] = {
    "event_types": [("event_type_id", "INT64", "REQUIRED"),
                    ("event_type_name", "STRING", "NULLABLE")],
    "locations": [("location_id", "INT64", "REQUIRED"), ("location_name", "STRING", "NULLABLE"),
                  ("city", "STRING", "NULLABLE"), ("state", "STRING", "NULLABLE"),
                  ("zip", "STRING", "NULLABLE")],
    "location_regions": [("location_id", "INT64", "REQUIRED"), ("region", "STRING", "REQUIRED"),
                         ("organizer", "STRING", "NULLABLE")],
    "events": [("event_id", "INT64", "REQUIRED"), ("event_name", "STRING", "NULLABLE"),
               ("event_type_id", "INT64", "REQUIRED"), ("location_id", "INT64", "NULLABLE"),
               ("starts_at", "DATETIME", "REQUIRED")],
    "event_signups": [("event_signup_id", "INT64", "REQUIRED"), ("event_id", "INT64", "REQUIRED"),
                      ("van_id", "INT64", "REQUIRED"), ("event_shift_id", "INT64", "NULLABLE"),
                      ("created_at", "TIMESTAMP", "REQUIRED")],
    "event_signups_statuses": [("event_signups_status_id", "INT64", "REQUIRED"),
                               ("event_signup_id", "INT64", "REQUIRED"),
                               ("event_status_id", "INT64", "REQUIRED"),
                               ("event_status_name", "STRING", "NULLABLE"),
                               ("created_at", "TIMESTAMP", "REQUIRED")],
}
# Campaign local time to UTC for the status timestamps. A fixed offset is enough: only the
# order of one sign-up's statuses matters, and they are hours or days apart.
UTC_OFFSET = timedelta(hours=6)


@dataclass
class SeedData:
    """The generated tables and the ids of the hand-made edge cases in them."""

    today: date
    tables: dict[str, pd.DataFrame]
    edge: dict[str, int] = field(default_factory=dict)

    @property
    def status_rows(self) -> int:
        return len(self.tables["event_signups_statuses"])


def signups_for_status_rows(rows: int) -> int:
    """How many sign-ups give about `rows` status-history rows."""
    return round(rows / STATUS_ROWS_PER_SIGNUP)


def week_start(day: date) -> date:
    """The Saturday that starts `day`'s Saturday-to-Friday week."""
    return day - timedelta(days=(day.weekday() - 5) % 7)


def generate(today: date, signups: int = DEFAULT_SIGNUPS, seed: int = DEFAULT_SEED) -> SeedData:
    """Deterministic synthetic VAN-synced tables as they stand on the morning of `today`.

    Each calendar week's events, sign-ups and status entries are a function of (seed, week)
    only, with absolute times; `today` picks the weeks in the window and hides what has not
    happened by 06:00 that day (sign-ups not made yet, statuses not entered yet). So the same
    week has the same history whatever day it is generated on, and day after day recent weeks
    fill in as organizers close out shifts, as in a real sync. `signups` is the total over the
    window's weeks.
    """
    now = np.datetime64(datetime.combine(today, time(6, 0)), "s")
    first_week = week_start(today) - timedelta(weeks=WEEKS_BACK)
    n_weeks = WEEKS_BACK + WEEKS_AHEAD + 1
    per_week = max(0, signups // n_weeks)
    locations, mapping = _locations()
    weeks = [_week(first_week + timedelta(weeks=k), per_week, seed, mapping)
             for k in range(n_weeks)]
    events = pd.concat([w[0] for w in weeks], ignore_index=True)
    event_signups = pd.concat([w[1] for w in weeks], ignore_index=True)
    statuses = pd.concat([w[2] for w in weeks], ignore_index=True)
    # What the sync holds at `now`: sign-ups already made, statuses already entered.
    event_signups = event_signups[event_signups["created_at"] <= now]
    statuses = statuses[(statuses["created_at"] <= now)
                        & statuses["event_signup_id"].isin(event_signups["event_signup_id"])]
    tables = {
        "event_types": pd.DataFrame({"event_type_id": list(EVENT_TYPES),
                                     "event_type_name": list(EVENT_TYPES.values())}),
        "locations": locations,
        "location_regions": mapping,
        "events": events,
        "event_signups": event_signups.reset_index(drop=True),
        "event_signups_statuses": statuses.reset_index(drop=True),
    }
    edge = _add_edge_cases(tables, today)
    status_table = tables["event_signups_statuses"]
    status_table["event_status_name"] = status_table["event_status_id"].map(STATUS_NAMES)
    # Status timestamps are UTC in the sync (TIMESTAMP); event times stay local (DATETIME).
    status_table["created_at"] = status_table["created_at"] + UTC_OFFSET
    tables["event_signups"]["created_at"] = tables["event_signups"]["created_at"] + UTC_OFFSET
    return SeedData(today=today, tables=tables, edge=edge)


def _p(weights: list[int]) -> np.ndarray:
    array = np.asarray(weights, dtype=float)
    return array / array.sum()


def _locations() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, mapping = [], []
    location_id = 2001
    for r, region in enumerate(REGIONS):
        for k in range(LOCATIONS_PER_REGION):
            city = CITIES[(r * LOCATIONS_PER_REGION + k) % len(CITIES)]
            rows.append((location_id, f"{region} Staging {k + 1}", city, "IL", f"606{r}{k}"))
            mapping.append((location_id, region, ORGANIZERS[region]))
            location_id += 1
    rows.append((UNMAPPED_LOCATION_ID, "Pop-up Staging (unmapped)", "Chicago", "IL", "60601"))
    locations = pd.DataFrame(rows, columns=["location_id", "location_name", "city", "state", "zip"])
    regions = pd.DataFrame(mapping, columns=["location_id", "region", "organizer"])
    return locations, regions


def _week(week: date, signups: int, seed: int, mapping: pd.DataFrame):
    """One Saturday-to-Friday week's events, sign-ups and full status history (absolute times).

    Every region holds shifts every week (about 20 sign-ups each) at its mapped sites, on a
    random day and hour; 2% are at the unmapped site. Ids embed the week, so they are stable.
    """
    rng = np.random.default_rng([seed, week.toordinal()])
    key = week.toordinal() - 730_000  # a small positive number per week (2000 onwards)
    mapped = mapping["location_id"].to_numpy().reshape(len(REGIONS), LOCATIONS_PER_REGION)
    per_slot = max(2, signups // (len(REGIONS) * 20))
    n_events = len(REGIONS) * per_slot
    region_index = np.arange(n_events) // per_slot
    day = np.datetime64(week) + rng.integers(0, 7, n_events).astype("timedelta64[D]")
    starts = (day + rng.integers(9, 20, n_events).astype("timedelta64[h]")
              + rng.choice([0, 30], n_events).astype("timedelta64[m]")).astype("datetime64[s]")
    location_ids = mapped[region_index, rng.integers(0, LOCATIONS_PER_REGION, n_events)]
    location_ids[rng.random(n_events) < 0.02] = UNMAPPED_LOCATION_ID
    type_ids = rng.choice(list(EVENT_TYPES), n_events, p=_p(EVENT_TYPE_WEIGHTS))
    event_ids = key * 10_000 + np.arange(1, n_events + 1)
    events = pd.DataFrame({
        "event_id": event_ids,
        "event_name": [f"{EVENT_TYPES[t]} {week:%b %d} #{i}" for i, t in enumerate(type_ids, 1)],
        "event_type_id": type_ids,
        "location_id": location_ids,
        "starts_at": starts,
    })

    # Sign-ups: an event each, made 1 hour to 21 days before it.
    index = rng.integers(0, n_events, signups)
    start = starts[index]
    created = start - rng.integers(3600, 21 * 86400, signups).astype("timedelta64[s]")
    signup_ids = key * 1_000_000 + np.arange(1, signups + 1)
    event_signups = pd.DataFrame({
        "event_signup_id": signup_ids,
        "event_id": event_ids[index],
        "van_id": rng.integers(1_000_000, 9_999_999, signups),
        "event_shift_id": key * 10_000 + 5_000 + index,
        "created_at": created,
    })
    return events, event_signups, _status_history(rng, signup_ids, created, start)


def _status_history(rng, signup_ids, created, start) -> pd.DataFrame:
    """Every status entry a sign-up will ever get, at absolute times (the caller cuts at now).

    Scheduled when made; a third confirm before the shift; one in eight cancels or declines
    ahead of it; the others get a final status after the shift, usually within a day or two
    (exponential, mean 1.5 days, at most two weeks), some never ("Scheduled" stays); 6% of
    Completed / No Show entries are corrected to the other one up to 5 days later.
    """
    n = len(signup_ids)
    span = (start - created).astype("int64")
    entries = [(np.ones(n, bool), np.full(n, SCHEDULED), created)]
    confirm = rng.random(n) < 0.35
    entries.append((confirm, np.full(n, CONFIRMED),
                    created + (span * rng.uniform(0.2, 0.6, n)).astype("timedelta64[s]")))
    ahead = rng.random(n) < 0.12
    entries.append((ahead, rng.choice([CANCELLED, DECLINED, LEFT_MSG], n, p=_p([60, 30, 10])),
                    created + (span * rng.uniform(0.65, 0.95, n)).astype("timedelta64[s]")))
    final = rng.choice(PAST_FINAL, n, p=_p(PAST_WEIGHTS))
    delay = np.minimum(rng.exponential(1.5 * 86400, n), 14 * 86400) - rng.uniform(0, 7200, n)
    entered = start + delay.astype("int64").astype("timedelta64[s]")
    closes = ~ahead & (final != SCHEDULED)
    entries.append((closes, final, entered))
    correct = closes & np.isin(final, [COMPLETED, NO_SHOW]) & (rng.random(n) < 0.06)
    entries.append((correct, np.where(final == COMPLETED, NO_SHOW, COMPLETED),
                    entered + rng.integers(3600, 5 * 86400, n).astype("timedelta64[s]")))
    parts = [
        pd.DataFrame({"event_signups_status_id": signup_ids[mask] * 10 + k,
                      "event_signup_id": signup_ids[mask], "event_status_id": status[mask],
                      "created_at": when[mask].astype("datetime64[s]")})
        for k, (mask, status, when) in enumerate(entries)
    ]
    return pd.concat(parts, ignore_index=True)


def _add_edge_cases(tables: dict[str, pd.DataFrame], today: date) -> dict[str, int]:
    """Hand-made rows every data set contains; returns their ids for the tests."""
    this_week = week_start(today)
    friday = this_week - timedelta(days=8)  # the Friday that ends the week before last
    saturday = friday + timedelta(days=1)  # the first moment of the previous week
    mapped = int(tables["location_regions"]["location_id"].iloc[0])  # North Side
    events = [
        # (event_id, name, type, location, starts_at)
        (990001, "Boundary: Friday late canvass", CANVASS, mapped,
         datetime.combine(friday, time(23, 30))),
        (990002, "Boundary: Saturday midnight canvass", CANVASS, mapped,
         datetime.combine(saturday, time(0, 0))),
        (990003, "Unmapped pop-up phone bank", PHONE_BANK, UNMAPPED_LOCATION_ID,
         datetime.combine(this_week - timedelta(days=14), time(18, 0))),
        (990004, "Tonight's canvass", CANVASS, mapped, datetime.combine(today, time(17, 0))),
        (990005, "Training (excluded type)", TRAINING, mapped,
         datetime.combine(this_week - timedelta(days=5), time(10, 0))),
    ]
    ids = {"friday_event": 990001, "saturday_event": 990002, "unmapped_event": 990003,
           "tonight_event": 990004, "training_event": 990005}
    signups, statuses = [], []

    def add(signup_id: int, event_id: int, history: list[tuple[int, datetime]]) -> None:
        signups.append((signup_id, event_id, 4_000_000 + signup_id % 1000, None, history[0][1]))
        statuses.extend((signup_id * 10 + k, signup_id, status, at)
                        for k, (status, at) in enumerate(history))

    fri = datetime.combine(friday, time(23, 30))
    sat = datetime.combine(saturday, time(0, 0))
    hours, days = timedelta(hours=1), timedelta(days=1)
    add(9900011, 990001, [(SCHEDULED, fri - 6 * days), (NO_SHOW, fri + 2 * hours)])
    add(9900012, 990001, [(SCHEDULED, fri - 5 * days), (COMPLETED, fri + hours)])
    add(9900021, 990002, [(SCHEDULED, sat - 3 * days), (COMPLETED, sat + 3 * hours)])
    # Marked No Show the next day, corrected to Completed four days later (a later week).
    add(9900022, 990002, [(SCHEDULED, sat - timedelta(days=2)), (NO_SHOW, sat + timedelta(days=1)),
                          (COMPLETED, sat + timedelta(days=4))])
    # A committee-specific status nobody told the query about: counted nowhere.
    add(9900023, 990002, [(SCHEDULED, sat - timedelta(days=2)),
                          (UNKNOWN_STATUS, sat + timedelta(hours=5))])
    unmapped = datetime.combine(this_week - timedelta(days=14), time(18, 0))
    add(9900031, 990003, [(SCHEDULED, unmapped - timedelta(days=4)),
                          (CANCELLED, unmapped - timedelta(days=1))])
    add(9900032, 990003, [(SCHEDULED, unmapped - timedelta(days=4)),
                          (COMPLETED, unmapped + timedelta(hours=3))])
    tonight = datetime.combine(today, time(17, 0))
    add(9900041, 990004, [(SCHEDULED, tonight - timedelta(days=3))])
    add(9900042, 990004, [(SCHEDULED, tonight - timedelta(days=3)),
                          (CANCELLED, datetime.combine(today, time(5, 0)))])
    training = datetime.combine(this_week - timedelta(days=5), time(10, 0))
    add(9900051, 990005, [(SCHEDULED, training - timedelta(days=2)),
                          (NO_SHOW, training + timedelta(hours=4))])
    ids.update(boundary_corrected_signup=9900022, unknown_status_signup=9900023)

    tables["events"] = pd.concat([tables["events"], pd.DataFrame(
        events, columns=["event_id", "event_name", "event_type_id", "location_id", "starts_at"])],
        ignore_index=True)
    tables["events"]["starts_at"] = tables["events"]["starts_at"].astype("datetime64[s]")
    new_signups = pd.DataFrame(signups, columns=["event_signup_id", "event_id", "van_id",
                                                 "event_shift_id", "created_at"])
    tables["event_signups"] = pd.concat([tables["event_signups"], new_signups], ignore_index=True)
    tables["event_signups"]["event_shift_id"] = tables["event_signups"]["event_shift_id"].astype(
        "Int64")
    tables["event_signups"]["created_at"] = tables["event_signups"]["created_at"].astype(
        "datetime64[s]")
    new_statuses = pd.DataFrame(statuses, columns=["event_signups_status_id", "event_signup_id",
                                                   "event_status_id", "created_at"])
    history = pd.concat([tables["event_signups_statuses"], new_statuses], ignore_index=True)
    history["created_at"] = history["created_at"].astype("datetime64[s]")
    tables["event_signups_statuses"] = history
    return ids


# -- loading into BigQuery (the emulator in devstack) ------------------------------------------


def to_csv(frame: pd.DataFrame) -> bytes:
    """CSV the way a BigQuery CSV load reads it: header row, ISO dates, empty for NULL."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    return out.to_csv(index=False).encode()


def load(client, dataset: str, data: SeedData, project: str | None = None) -> None:
    """Create `dataset` (if needed) and replace its tables with `data`, by CSV load jobs."""
    from google.cloud import bigquery

    project = project or client.project
    client.create_dataset(f"{project}.{dataset}", exists_ok=True)
    jobs = []
    for name, frame in data.tables.items():
        schema = [bigquery.SchemaField(col, kind, mode=mode) for col, kind, mode in SCHEMAS[name]]
        config = bigquery.LoadJobConfig(
            schema=schema,
            source_format=bigquery.SourceFormat.CSV,
            skip_leading_rows=1,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
        )
        frame = frame[[col for col, _kind, _mode in SCHEMAS[name]]]
        jobs.append(client.load_table_from_file(
            io.BytesIO(to_csv(frame)), f"{project}.{dataset}.{name}", job_config=config))
    for job in jobs:
        job.result()


def is_loaded(client, dataset: str, project: str | None = None) -> bool:
    """True when every table of the data set exists and has rows."""
    from google.api_core.exceptions import NotFound

    project = project or client.project
    try:
        return all(client.get_table(f"{project}.{dataset}.{name}").num_rows for name in SCHEMAS)
    except NotFound:
        return False
