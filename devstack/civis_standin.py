"""A Civis Platform API stand-in, driven by the API spec the `civis` package bundles.

Every request is routed through `civis.resources.API_SPEC_PATH` (Swagger 2.0): an unknown path
answers 404 and a known path with the wrong method 405, in Civis's error shape
`{"error": ..., "errorDescription": ..., "code": ...}`. Auth is HTTP Basic with the API key as the
user name (what `civis.APIClient` sends) or a Bearer token; a wrong key gets 401 with the
`WWW-Authenticate` header the client reads. Request bodies are checked loosely against the
operation's body schema (the client sends snake_case top-level keys, the schemas are camelCase)
and every JSON answer is shaped by the operation's response schema: exactly the schema's keys,
`null` where the stand-in has no value (the spec has no nullability flags).

What is implemented (what Precinct uses):

- scripts: SQL, container, Python 3 and custom scripts (create, get, runs start/list/get/cancel,
  outputs, logs), `POST /scripts/{id}/cancel`; imports runs; the generic `/jobs` endpoints
  (list with filters and paging, get with `lastRun`, runs start/list/get/cancel/outputs/logs);
- workflows: list (paging via `page_num`/`limit` and the `X-Pagination-*` headers), create, get
  (with the `definition` YAML), executions list/get/create/cancel;
- databases, credentials (the default database credential), `users/me`, files (`GET
  /files/{id}`; outputs are served gzip-compressed from an unauthenticated, presigned-style URL).

SQL scripts really run: their SQL executes on the devstack PostgreSQL database `civis` (the
Redshift stand-in) and the last statement's result set becomes the run's output file, so
`civis.io.read_civis_sql` works end to end. Other runs move queued -> running -> succeeded or
failed on a timer (per-job durations, optional failure message); a cancelled run is
`cancelled`.

Test controls live under `/__admin/` (no auth; loopback only): health, reset, call counters,
injected faults (e.g. 429 with Retry-After for the next N calls), per-call latency, default run
durations, creating jobs/workflows with explicit behaviour or history, editing a workflow's
definition (`PATCH /__admin/workflows/{id}`, which moves its `updatedAt`), and seeding a realistic
mix of workflows and jobs (`POST /__admin/seed`). State is in memory only.

Extension point for other Civis features (e.g. Data Match and CASS/NCOA enhancements): a module
named in `CIVIS_STANDIN_PLUGINS` (comma separated; default `devstack.civis_enhancements` when it
exists) is imported at start and its `install(app)` is called with the `Standin`; it can add
routes with `@app.route(method, spec_path)` and run behaviour with
`app.register_executor(kind, fn)` (see `RunContext`).
"""

from __future__ import annotations

import argparse
import base64
import csv
import functools
import gzip
import hashlib
import importlib
import importlib.util
import io
import itertools
import json
import os
import random
import re
import secrets
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit
from zoneinfo import ZoneInfo

DEFAULT_PORT = 18081
DEFAULT_DATABASE = "redshift-general"
DEFAULT_PLUGINS = ("devstack.civis_enhancements",)
ADMIN_PREFIX = "/__admin"
FILES_PREFIX = "/__files"

# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def iso(ts: float | None) -> str | None:
    """Civis's timestamp format: `2026-05-27T15:44:29.000Z`."""
    if ts is None:
        return None
    moment = datetime.fromtimestamp(ts, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(value: Any) -> float | None:
    """An ISO timestamp (or epoch seconds) from an admin payload, as epoch seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def camel_to_snake(word: str) -> str:
    word = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", word)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", word).replace("-", "_").lower()


def snake_to_camel(word: str) -> str:
    head, *rest = word.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


class ApiError(Exception):
    """An error answer in Civis's shape."""

    def __init__(self, code: int, error: str, description: str, headers: dict | None = None):
        super().__init__(description)
        self.code = code
        self.error = error
        self.description = description
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "errorDescription": self.description, "code": self.code}


def not_found(what: str = "The requested resource could not be found.") -> ApiError:
    return ApiError(404, "not_found", what)


# --------------------------------------------------------------------------------------------
# The spec: routing, schemas, shaping and loose validation
# --------------------------------------------------------------------------------------------


def spec_path() -> str:
    from civis.resources import API_SPEC_PATH

    return API_SPEC_PATH


@dataclass
class Route:
    template: str  # as written in the spec, e.g. "/workflows/" or "/jobs/{id}/runs/{run_id}"
    segments: tuple[str, ...]
    operations: dict[str, dict]  # lower-case verb -> operation object
    literal_count: int
    param_types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for op in self.operations.values():
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    self.param_types[param["name"]] = param.get("type", "string")

    @property
    def key(self) -> str:
        return "/" + "/".join(self.segments)

    def match(self, parts: list[str]) -> dict[str, Any] | None:
        if len(parts) != len(self.segments):
            return None
        values: dict[str, Any] = {}
        for seg, part in zip(self.segments, parts, strict=True):
            if seg.startswith("{"):
                name = seg[1:-1]
                kind = self.param_types.get(name, "string")
                if kind == "integer":
                    if not part.isdigit():
                        return None
                    values[name] = int(part)
                else:
                    values[name] = part
            elif seg != part:
                return None
        return values


class Spec:
    """The bundled Civis API spec, indexed for routing and schema checks."""

    def __init__(self, path: str | None = None):
        with open(path or spec_path()) as handle:
            raw = json.load(handle)
        self.raw = raw
        self.definitions: dict[str, dict] = raw["definitions"]
        routes = []
        for template, ops in raw["paths"].items():
            segments = tuple(s for s in template.strip("/").split("/") if s)
            literal = sum(1 for s in segments if not s.startswith("{"))
            operations = {verb.lower(): op for verb, op in ops.items()}
            routes.append(Route(template, segments, operations, literal))
        # The most literal route first: /scripts/sql beats /scripts/{id}.
        routes.sort(key=lambda r: (-r.literal_count, len(r.segments)))
        self.routes = routes
        self.by_key = {route.key: route for route in routes}

    def resolve(self, path: str) -> tuple[Route | None, list[Route], dict[str, Any]]:
        parts = [p for p in path.strip("/").split("/") if p]
        matched = []
        first_params: dict[str, Any] = {}
        for route in self.routes:
            params = route.match(parts)
            if params is not None:
                if not matched:
                    first_params = params
                matched.append((route, params))
        if not matched:
            return None, [], {}
        return matched[0][0], [r for r, _ in matched], first_params

    def route_for(self, method: str, path: str) -> tuple[Route, dict, dict[str, Any]]:
        """The route, operation and path parameters for a request, or a 404/405 ApiError."""
        parts = [p for p in path.strip("/").split("/") if p]
        allowed: set[str] = set()
        for route in self.routes:
            params = route.match(parts)
            if params is None:
                continue
            op = route.operations.get(method.lower())
            if op is not None:
                return route, op, params
            allowed.update(v.upper() for v in route.operations)
        if not allowed:
            raise ApiError(404, "not_found", "The requested endpoint could not be found.")
        raise ApiError(
            405,
            "method_not_allowed",
            f"The {method.upper()} method is not allowed on {path}.",
            headers={"Allow": ", ".join(sorted(allowed))},
        )

    def operation(self, method: str, template: str) -> dict:
        route = self.by_key.get("/" + template.strip("/"))
        if route is None or method.lower() not in route.operations:
            raise KeyError(f"{method.upper()} {template} is not in the Civis API spec")
        return route.operations[method.lower()]

    # -- schemas --------------------------------------------------------------------------

    def deref(self, schema: dict | None) -> dict:
        seen = 0
        while schema and "$ref" in schema:
            schema = self.definitions[schema["$ref"].rsplit("/", 1)[-1]]
            seen += 1
            if seen > 50:
                raise ValueError("reference loop")
        return schema or {}

    def response(self, op: dict) -> tuple[int, dict | None]:
        """The success status and (dereferenced) schema of an operation."""
        code, resp = next(iter(op["responses"].items()))
        schema = resp.get("schema")
        return int(code), (self.deref(schema) if schema else None)

    def shape(self, schema: dict | None, value: Any) -> Any:
        """`value` with exactly the schema's keys (missing ones null), recursively."""
        if value is None or not schema:
            return value
        schema = self.deref(schema)
        kind = schema.get("type")
        if kind == "array" or (kind is None and "items" in schema):
            if not isinstance(value, list):
                return value
            items = schema.get("items")
            return [self.shape(items, item) for item in value]
        props = schema.get("properties")
        if (kind == "object" or props) and isinstance(value, dict):
            if not props:
                return value
            return {name: self.shape(sub, value.get(name)) for name, sub in props.items()}
        return value

    def body_schema(self, op: dict) -> dict | None:
        for param in op.get("parameters", []):
            if param.get("in") == "body":
                return self.deref(param.get("schema"))
        return None

    def normalise_body(self, op: dict, body: Any) -> dict[str, Any]:
        """Top-level keys to the schema's camelCase names; 400 on unknown/missing/mistyped."""
        schema = self.body_schema(op)
        if body in (None, b"", ""):
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "bad_request", "The request body must be a JSON object.")
        if schema is None:
            return body
        props: dict[str, dict] = schema.get("properties", {})
        lookup = {name: name for name in props}
        lookup.update({camel_to_snake(name): name for name in props})
        out: dict[str, Any] = {}
        problems = []
        for key, value in body.items():
            name = lookup.get(key)
            if name is None:
                problems.append(f"unknown parameter '{key}'")
                continue
            if not _type_ok(self.deref(props[name]), value):
                problems.append(f"'{key}' must be {props[name].get('type', 'an object')}")
            out[name] = value
        for name in schema.get("required", []):
            if out.get(name) is None:
                problems.append(f"'{camel_to_snake(name)}' is required")
        if problems:
            raise ApiError(400, "bad_request", "Invalid request: " + "; ".join(problems) + ".")
        return out

    def paging(self, op: dict) -> tuple[int, int]:
        """(default, maximum) page size, read from the `limit` parameter's description."""
        for param in op.get("parameters", []):
            if param.get("name") == "limit":
                text = param.get("description") or ""
                if m := re.search(r"Defaults to its maximum of (\d+)", text):
                    return int(m.group(1)), int(m.group(1))
                default = re.search(r"Defaults to (\d+)", text)
                maximum = re.search(r"Maximum allowed is (\d+)", text)
                d = int(default.group(1)) if default else 20
                return d, int(maximum.group(1)) if maximum else max(d, 1000)
        return 20, 1000


_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _type_ok(schema: dict, value: Any) -> bool:
    kind = schema.get("type")
    if value is None or kind is None:
        return True
    expected = _JSON_TYPES.get(kind)
    if expected is None:
        return True
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, expected)


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------

ACTIVE = ("queued", "running")
MISTRAL_STATE = {
    "queued": "running",
    "running": "running",
    "succeeded": "success",
    "failed": "error",
    "cancelled": "cancelled",
}


@dataclass(frozen=True)
class Kind:
    """A kind of Civis job and the names the API uses for it."""

    name: str  # our name: sql, container, python3, custom, import, ...
    job_type: str  # `type` in /jobs: JobTypes::SqlRunner
    script_type: str  # `type` in /scripts/...: SQL, Container
    category: str  # script, import, export, enhancement
    parent_key: str  # the run's pointer to its job: sqlId, containerId


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("sql", "JobTypes::SqlRunner", "SQL", "script", "sqlId"),
        Kind("container", "JobTypes::ContainerDocker", "Container", "script", "containerId"),
        Kind("python3", "JobTypes::PythonDocker", "Python", "script", "pythonId"),
        Kind("custom", "JobTypes::CustomScript", "Custom", "script", "customId"),
        Kind("import", "JobTypes::Import", "Import", "import", "importId"),
        Kind("query", "JobTypes::Query", "Query", "script", "queryId"),
    )
}
# The path segment /scripts/{segment} for each script kind.
SCRIPT_SEGMENTS = {
    "sql": "sql", "containers": "container", "python3": "python3", "custom": "custom",
}


@dataclass
class User:
    id: int
    name: str
    username: str

    def simple(self) -> dict[str, Any]:
        initials = "".join(part[:1] for part in self.name.split()[:2]).upper()
        return {
            "id": self.id, "name": self.name, "username": self.username,
            "initials": initials, "online": False,
        }


@dataclass
class Run:
    """A job run or a workflow execution.

    Timed runs (`driver is None`) derive their state from the clock: queued until
    `created_at + queued_s`, running for `running_s`, then `outcome`. Driven runs (SQL, plugin
    executors, seeded history) carry explicit state that their driver updates.
    """

    id: int
    parent_id: int
    created_at: float
    queued_s: float = 0.0
    running_s: float = 0.0
    outcome: str = "succeeded"
    error: str | None = None
    driver: str | None = None  # None = timed; "executor" or "seeded"
    state_: str = "queued"
    started_at_: float | None = None
    finished_at_: float | None = None
    cancel_requested: bool = False
    cancelled_at: float | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    logs: list[tuple[float, str, str]] = field(default_factory=list)
    cancel_hooks: list[Callable[[], None]] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    # -- derived state --------------------------------------------------------------------
    def timeline(self, now: float) -> tuple[str, float | None, float | None]:
        if self.driver is not None:
            return self.state_, self.started_at_, self.finished_at_
        start = self.created_at + self.queued_s
        end = start + self.running_s
        if self.cancelled_at is not None and self.cancelled_at < end:
            started = start if start <= self.cancelled_at else None
            return "cancelled", started, self.cancelled_at
        if now < start:
            return "queued", None, None
        if now < end:
            return "running", start, None
        return self.outcome, start, end

    def state(self, now: float) -> str:
        return self.timeline(now)[0]

    def updated_at(self, now: float) -> float:
        _, started, finished = self.timeline(now)
        return finished or started or self.created_at

    def view(self, now: float) -> dict[str, Any]:
        state, started, finished = self.timeline(now)
        return {
            "id": self.id,
            "state": state,
            "createdAt": iso(self.created_at),
            "startedAt": iso(started),
            "finishedAt": iso(finished),
            "error": self.error if state == "failed" else None,
            "isCancelRequested": self.cancel_requested,
        }

    # -- transitions (driven runs) --------------------------------------------------------
    def mark(self, state: str, when: float | None = None, error: str | None = None) -> None:
        when = when or time.time()
        if self.state_ in ("succeeded", "failed", "cancelled"):
            return
        self.state_ = state
        if state == "running" and self.started_at_ is None:
            self.started_at_ = when
        if state in ("succeeded", "failed", "cancelled"):
            self.finished_at_ = when
            if state == "failed":
                self.error = error or self.error or "The run failed."

    def cancel(self, now: float) -> bool:
        """Request cancellation; True if the run was still active."""
        if self.state(now) not in ACTIVE:
            return False
        self.cancel_requested = True
        if self.driver is None:
            self.cancelled_at = now
        else:
            self.mark("cancelled", now)
            for hook in self.cancel_hooks:
                try:
                    hook()
                except Exception:  # noqa: BLE001, S110 - best effort (e.g. the query just ended)
                    pass
        self.logs.append((now, "info", "Run cancelled by user."))
        return True


@dataclass
class Job:
    id: int
    kind: str
    name: str
    author: User
    created_at: float
    updated_at: float
    fields: dict[str, Any] = field(default_factory=dict)  # camelCase, as created
    schedule: dict[str, Any] = field(default_factory=dict)
    archived: bool = False
    hidden: bool = False
    forbidden: bool = False  # the key cannot read it: 403
    queued_s: float | None = None
    running_s: float | None = None
    fail_message: str | None = None
    fail_runs: int | None = None  # how many upcoming runs fail (None: all, if fail_message)
    runs: list[Run] = field(default_factory=list)

    @property
    def info(self) -> Kind:
        return KINDS.get(self.kind) or Kind(self.kind, f"JobTypes::{self.kind}", self.kind,
                                            "script", "jobId")

    def last_run(self) -> Run | None:
        return self.runs[-1] if self.runs else None

    def state(self, now: float) -> str:
        last = self.last_run()
        if last is not None:
            return last.state(now)
        return "scheduled" if self.schedule.get("scheduled") else "idle"


@dataclass
class Workflow:
    id: int
    name: str
    user: User
    definition: str
    created_at: float
    updated_at: float
    description: str | None = None
    schedule: dict[str, Any] = field(default_factory=dict)
    time_zone: str = "America/Chicago"
    archived: bool = False
    hidden: bool = False
    allow_concurrent: bool = False
    queued_s: float | None = None
    running_s: float | None = None
    fail_message: str | None = None
    fail_runs: int | None = None
    executions: list[Run] = field(default_factory=list)

    def validation(self) -> tuple[bool, str | None, dict | None]:
        return validate_workflow_yaml(self.definition)

    def state(self, now: float) -> str:
        if self.executions:
            return self.executions[-1].state(now)
        return "scheduled" if self.schedule.get("scheduled") else "idle"


@dataclass
class StoredFile:
    id: int
    name: str
    data: bytes
    token: str
    created_at: float
    author: User
    compression: str = "gzip"
    delimiter: str = "comma"
    include_header: bool = True
    columns: list[tuple[str, str]] = field(default_factory=list)


@functools.lru_cache(maxsize=4096)
def validate_workflow_yaml(text: str) -> tuple[bool, str | None, dict | None]:
    """(valid, validation errors, parsed document) for a Civis (Mistral v2) workflow.

    Cached per definition text: every workflow view reports `valid`, and parsing the same YAML
    for each view was most of a list page's cost. Callers only read the parsed document.
    """
    import yaml

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        return False, f"Invalid YAML: {' '.join(str(exc).split())}", None
    if not isinstance(doc, dict) or "version" not in doc:
        return False, "The definition must be a mapping with a 'version' key.", None
    workflows = {k: v for k, v in doc.items() if k != "version" and isinstance(v, dict)}
    if not workflows:
        return False, "The definition has no workflow.", None
    for name, body in workflows.items():
        if not isinstance(body.get("tasks"), dict) or not body["tasks"]:
            return False, f"Workflow '{name}' has no tasks.", None
    return True, None, doc


def workflow_tasks(doc: dict | None) -> list[tuple[str, dict]]:
    if not doc:
        return []
    tasks: list[tuple[str, dict]] = []
    for name, body in doc.items():
        if name == "version" or not isinstance(body, dict):
            continue
        for task_name, task in (body.get("tasks") or {}).items():
            tasks.append((str(task_name), task if isinstance(task, dict) else {}))
    return tasks


# --------------------------------------------------------------------------------------------
# Schedules (Civis: days of week 0 = Sunday, hours, minutes or runs per hour, days of month)
# --------------------------------------------------------------------------------------------


def schedule_times(schedule: dict, tz_name: str, start: float, end: float) -> list[float]:
    """Every time the schedule was/is due in [start, end), in epoch seconds."""
    if not schedule or not schedule.get("scheduled"):
        return []
    tz = ZoneInfo(tz_name or "UTC")
    days = set(schedule.get("scheduledDays") or [])
    dom = set(schedule.get("scheduledDaysOfMonth") or [])
    hours = sorted(set(schedule.get("scheduledHours") or [])) or list(range(24))
    per_hour = schedule.get("scheduledRunsPerHour")
    if per_hour:
        step = max(1, 60 // int(per_hour))
        minutes = list(range(0, 60, step))
    else:
        minutes = sorted(set(schedule.get("scheduledMinutes") or [0]))
    out = []
    day = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, tz).date() + timedelta(days=1)
    while day <= last:
        weekday = (day.weekday() + 1) % 7  # Civis: 0 = Sunday
        if (not days and not dom) or weekday in days or day.day in dom:
            for hour in hours:
                for minute in minutes:
                    moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
                    ts = moment.timestamp()
                    if start <= ts < end:
                        out.append(ts)
        day += timedelta(days=1)
    return sorted(out)


def next_due(schedule: dict, tz_name: str, after: float) -> float | None:
    """The first due time after `after`, within 40 days.

    Expanded in contiguous windows (2 days, then the rest), so the answer is the same as
    expanding all 40 days, but an hourly schedule costs 48 candidate times instead of 960.
    """
    horizon = after + 40 * 86400
    start = after
    for end in (min(after + 2 * 86400, horizon), horizon):
        times = schedule_times(schedule, tz_name, start, end)
        if times:
            return times[0]
        start = end
    return None


def empty_schedule(scheduled: bool | None = None) -> dict[str, Any]:
    return {
        "scheduled": scheduled, "scheduledDays": [], "scheduledHours": [], "scheduledMinutes": [],
        "scheduledRunsPerHour": None, "scheduledDaysOfMonth": [],
    }


# --------------------------------------------------------------------------------------------
# Executors: what a driven run does
# --------------------------------------------------------------------------------------------


@dataclass
class RunContext:
    """What an executor gets: the job, the run, and ways to touch the world."""

    store: Store
    job: Job
    run: Run
    base_url: str

    def connect(self):
        """A psycopg connection to the Redshift stand-in database (the devstack `civis` DB)."""
        import psycopg

        conn = psycopg.connect(self.store.dsn, connect_timeout=5)
        self.run.cancel_hooks.append(conn.cancel)
        return conn

    def cancelled(self) -> bool:
        return self.run.cancel_requested

    def log(self, message: str, level: str = "info") -> None:
        with self.store.lock:
            self.run.logs.append((time.time(), level, message))

    def add_output_file(self, name: str, rows: Iterable[Iterable[Any]], columns: list[str],
                        *, compression: str = "gzip", delimiter: str = "comma",
                        include_header: bool = True, types: list[str] | None = None) -> StoredFile:
        stored = self.store.add_file(
            name, rows, columns, author=self.job.author, compression=compression,
            delimiter=delimiter, include_header=include_header, types=types,
        )
        with self.store.lock:
            self.run.outputs.append({"objectType": "File", "objectId": stored.id, "name": name})
        return stored


Executor = Callable[[RunContext], None]


def sql_executor(ctx: RunContext) -> None:
    """Run a SQL script's SQL on PostgreSQL; the last result set becomes the output file."""
    sql = ctx.job.fields.get("sql") or ""
    settings = ctx.job.fields.get("csvSettings") or {}
    with ctx.connect() as conn:
        cur = conn.cursor()
        cur.execute(sql)
        columns: list[str] | None = None
        types: list[str] = []
        rows: list[tuple] = []
        while True:
            if cur.description is not None:
                columns = [d.name for d in cur.description]
                types = [_pg_type_name(conn, d.type_code) for d in cur.description]
                rows = cur.fetchall()
            if not cur.nextset():
                break
        conn.commit()
    if columns is not None:
        ctx.add_output_file(
            f"{ctx.job.name}.csv" + (".gz" if settings.get("compression", "gzip") == "gzip"
                                     else ""),
            rows, columns,
            compression=settings.get("compression") or "gzip",
            delimiter=settings.get("columnDelimiter") or "comma",
            include_header=settings.get("includeHeader", True) is not False,
            types=types,
        )
        ctx.log(f"Exported {len(rows)} rows.")


def _pg_type_name(conn, oid: int) -> str:
    from psycopg.types import TypeInfo

    info = conn.adapters.types.get(oid)
    if info is None:
        info = TypeInfo.fetch(conn, oid) if oid else None
    return info.name if info is not None else "unknown"


def _pg_text(value: Any) -> str:
    """A value as PostgreSQL's text output would write it (what an UNLOAD produces)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


# --------------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------------


@dataclass
class Fault:
    status: int
    remaining: int
    retry_after: float | None = None
    method: str | None = None
    path: str | None = None  # a prefix of the request path
    message: str | None = None


class Store:
    def __init__(self, dsn: str, api_keys: list[str]):
        self.lock = threading.RLock()
        self.dsn = dsn
        self.api_keys = list(api_keys)
        self.executors: dict[str, Executor] = {"sql": sql_executor}
        self.reset()

    # -- bookkeeping ----------------------------------------------------------------------
    def reset(self) -> None:
        with self.lock:
            self.ids = itertools.count(1)
            self.run_ids = itertools.count(1)
            self.users: dict[int, User] = {}
            self.jobs: dict[int, Job] = {}
            self.workflows: dict[int, Workflow] = {}
            self.files: dict[int, StoredFile] = {}
            self.calls: Counter[str] = Counter()
            self.call_log: list[dict[str, Any]] = []
            self.faults: list[Fault] = []
            self.latency = 0.0
            self.defaults = {"queued_seconds": 0.5, "running_seconds": 2.0}
            self.me = self.add_user("Precinct Devstack", "precinct-devstack")
            self.databases = [
                {"id": 1, "name": DEFAULT_DATABASE, "adapter": "redshift",
                 "clusterIdentifier": "devstack", "host": "127.0.0.1", "port": 54329,
                 "databaseName": "civis", "managed": False},
            ]
            now = time.time()
            self.credentials = [
                {"id": 1, "name": "precinct-devstack", "type": "Database",
                 "username": "postgres", "description": "Default database credential",
                 "owner": self.me.username, "user": self.me.simple(), "remoteHostId": None,
                 "remoteHostName": None, "state": None, "createdAt": iso(now),
                 "updatedAt": iso(now), "default": True, "oauth": False, "provider": None,
                 "providerMetadata": None},
            ]

    def next_id(self) -> int:
        return next(self.ids)

    def add_user(self, name: str, username: str) -> User:
        with self.lock:
            user = User(self.next_id(), name, username)
            self.users[user.id] = user
            return user

    def record_call(self, method: str, route: str, path: str, status: int) -> None:
        with self.lock:
            self.calls["total"] += 1
            self.calls[f"{method} {route}"] += 1
            self.call_log.append({"t": time.time(), "method": method, "route": route,
                                  "path": path, "status": status})
            if len(self.call_log) > 50000:
                del self.call_log[:10000]

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method.upper() != method:
                    continue
                if fault.path and not path.startswith(fault.path):
                    continue
                if fault.remaining <= 0:
                    continue
                fault.remaining -= 1
                return fault
            self.faults = [f for f in self.faults if f.remaining > 0]
            return None

    # -- jobs and runs --------------------------------------------------------------------
    def add_job(self, kind: str, name: str | None = None, *, fields: dict | None = None,
                author: User | None = None, schedule: dict | None = None,
                created_at: float | None = None, **behaviour: Any) -> Job:
        with self.lock:
            now = time.time()
            job = Job(
                id=self.next_id(), kind=kind, name=name or f"{kind} job",
                author=author or self.me, created_at=created_at or now,
                updated_at=created_at or now, fields=dict(fields or {}),
                schedule={**empty_schedule(), **(schedule or {})},
            )
            for key, value in behaviour.items():
                setattr(job, key, value)
            self.jobs[job.id] = job
            return job

    def job(self, job_id: int, kind: str | None = None) -> Job:
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None or (kind is not None and job.kind != kind):
                raise not_found(f"The requested job {job_id} could not be found.")
            if job.forbidden:
                raise ApiError(403, "forbidden",
                               "You do not have permission to view this resource.")
            return job

    def start_run(self, job: Job, base_url: str) -> Run:
        with self.lock:
            now = time.time()
            if job.kind == "import" and any(r.state(now) in ACTIVE for r in job.runs):
                raise ApiError(409, "conflict",
                               "The import cannot be queued because it is already active.")
            fails = bool(job.fail_message) and (job.fail_runs is None or job.fail_runs > 0)
            if fails and job.fail_runs is not None:
                job.fail_runs -= 1
            run = Run(
                id=next(self.run_ids), parent_id=job.id, created_at=now,
                queued_s=_pick(job.queued_s, self.defaults["queued_seconds"]),
                running_s=_pick(job.running_s, self.defaults["running_seconds"]),
                outcome="failed" if fails else "succeeded",
                error=job.fail_message if fails else None,
            )
            run.logs.append((now, "info", "Run queued."))
            executor = self.executors.get(job.kind)
            if executor is not None:
                run.driver = "executor"
                run.running_s = _pick(job.running_s, 0.0)
                run.queued_s = _pick(job.queued_s, min(self.defaults["queued_seconds"], 0.2))
            job.runs.append(run)
        if executor is not None:
            ctx = RunContext(self, job, run, base_url)
            threading.Thread(target=self._drive, args=(ctx, executor, fails), daemon=True,
                             name=f"civis-run-{run.id}").start()
        return run

    def _drive(self, ctx: RunContext, executor: Executor, fails: bool) -> None:
        run = ctx.run
        time.sleep(run.queued_s)
        with self.lock:
            if run.cancel_requested:
                return
            run.mark("running")
            run.logs.append((time.time(), "info", "Run started."))
        began = time.monotonic()
        try:
            if fails:
                raise RuntimeError(ctx.job.fail_message)
            executor(ctx)
            remaining = run.running_s - (time.monotonic() - began)
            if remaining > 0:
                time.sleep(remaining)
            with self.lock:
                run.mark("succeeded")
                run.logs.append((time.time(), "info", "Run succeeded."))
        except Exception as exc:  # noqa: BLE001 - any failure is the run's failure
            message = _error_message(exc)
            with self.lock:
                if run.cancel_requested:
                    run.mark("cancelled")
                else:
                    run.mark("failed", error=message)
                    run.logs.append((time.time(), "error", message))
            if not isinstance(exc, (RuntimeError, *_db_errors())):
                traceback.print_exc()

    def find_run(self, job: Job, run_id: int) -> Run:
        for run in job.runs:
            if run.id == run_id:
                return run
        raise not_found(f"The requested run {run_id} could not be found.")

    # -- workflows ------------------------------------------------------------------------
    def add_workflow(self, name: str, definition: str, *, user: User | None = None,
                     created_at: float | None = None, **attrs: Any) -> Workflow:
        with self.lock:
            now = time.time()
            wf = Workflow(id=self.next_id(), name=name, user=user or self.me,
                          definition=definition, created_at=created_at or now,
                          updated_at=created_at or now)
            for key, value in attrs.items():
                if key == "schedule":
                    value = {**empty_schedule(), **(value or {})}
                setattr(wf, key, value)
            self.workflows[wf.id] = wf
            return wf

    def workflow(self, wf_id: int) -> Workflow:
        with self.lock:
            wf = self.workflows.get(wf_id)
            if wf is None:
                raise not_found(f"The requested workflow {wf_id} could not be found.")
            return wf

    def start_execution(self, wf: Workflow, input_: dict | None, included: list | None) -> Run:
        with self.lock:
            now = time.time()
            valid, errors, _ = wf.validation()
            if not valid:
                raise ApiError(422, "invalid_workflow", errors or "Invalid workflow.")
            if not wf.allow_concurrent and any(e.state(now) in ACTIVE for e in wf.executions):
                raise ApiError(409, "conflict", "This workflow is already running.")
            fails = bool(wf.fail_message) and (wf.fail_runs is None or wf.fail_runs > 0)
            if fails and wf.fail_runs is not None:
                wf.fail_runs -= 1
            run = Run(
                id=next(self.run_ids), parent_id=wf.id, created_at=now,
                queued_s=_pick(wf.queued_s, self.defaults["queued_seconds"]),
                running_s=_pick(wf.running_s, self.defaults["running_seconds"]),
                outcome="failed" if fails else "succeeded",
                error=wf.fail_message if fails else None,
                extra={"input": input_ or {}, "includedTasks": included or [],
                       "definition": wf.definition, "user": self.me.simple()},
            )
            wf.executions.append(run)
            return run

    # -- files ----------------------------------------------------------------------------
    def add_file(self, name: str, rows: Iterable[Iterable[Any]], columns: list[str], *,
                 author: User, compression: str = "gzip", delimiter: str = "comma",
                 include_header: bool = True, types: list[str] | None = None) -> StoredFile:
        sep = {"comma": ",", "tab": "\t", "pipe": "|"}.get(delimiter, ",")
        text = io.StringIO()
        writer = csv.writer(text, delimiter=sep, lineterminator="\n")
        if include_header:
            writer.writerow(columns)
        for row in rows:
            writer.writerow([_pg_text(v) for v in row])
        data = text.getvalue().encode()
        if compression == "gzip":
            data = gzip.compress(data, mtime=0)
        with self.lock:
            stored = StoredFile(
                id=self.next_id(), name=name, data=data, token=secrets.token_urlsafe(12),
                created_at=time.time(), author=author, compression=compression,
                delimiter=delimiter, include_header=include_header,
                columns=list(zip(columns, types or ["varchar"] * len(columns), strict=False)),
            )
            self.files[stored.id] = stored
            return stored

    def file_url(self, stored: StoredFile, base_url: str) -> str:
        return f"{base_url}{FILES_PREFIX}/{stored.id}/{stored.token}/{quote(stored.name)}"


def _pick(value: float | None, default: float) -> float:
    return float(default if value is None else value)


def _db_errors() -> tuple[type, ...]:
    try:
        import psycopg

        return (psycopg.Error,)
    except ImportError:  # pragma: no cover
        return ()


def _error_message(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text


# --------------------------------------------------------------------------------------------
# Views (camelCase dicts, shaped by the spec on the way out)
# --------------------------------------------------------------------------------------------


def job_run_view(run: Run, now: float) -> dict[str, Any]:
    return run.view(now)


def script_run_view(job: Job, run: Run, now: float, base_url: str, store: Store) -> dict:
    view = run.view(now)
    view[job.info.parent_key] = job.id
    view["output"] = [
        {"outputName": o["name"], "fileId": o["objectId"],
         "path": store.file_url(store.files[o["objectId"]], base_url)}
        for o in run.outputs if o.get("objectType") == "File" and o["objectId"] in store.files
    ]
    view["outputCachedOn"] = None
    view["maxMemoryUsage"] = None
    view["maxCpuUsage"] = None
    return view


def outputs_view(run: Run, store: Store, base_url: str) -> list[dict[str, Any]]:
    out = []
    for o in run.outputs:
        item = dict(o)
        if o.get("objectType") == "File" and o["objectId"] in store.files:
            item["link"] = store.file_url(store.files[o["objectId"]], base_url)
        out.append(item)
    return out


def logs_view(run: Run) -> list[dict[str, Any]]:
    return [
        {"id": i + 1, "createdAt": iso(t), "message": message, "level": level}
        for i, (t, level, message) in enumerate(run.logs)
    ]


def job_view(job: Job, now: float, *, detail: bool) -> dict[str, Any]:
    last = job.last_run()
    view: dict[str, Any] = {
        "id": job.id,
        "name": job.name,
        "type": job.info.job_type,
        "fromTemplateId": job.fields.get("fromTemplateId"),
        "state": job.state(now),
        "createdAt": iso(job.created_at),
        "updatedAt": iso(max(job.updated_at, last.updated_at(now) if last else 0)),
        "lastRunUpdatedAt": iso(last.updated_at(now)) if last else None,
        "lastRun": last.view(now) if last else None,
        "archived": job.archived,
        "hidden": job.hidden,
        "author": job.author.simple(),
        "schedule": job.schedule,
        "myPermissionLevel": "manage",
        "runningAsUser": job.author.username,
        "runByUser": job.author.username,
    }
    if detail:
        view["runs"] = [r.view(now) for r in reversed(job.runs[-10:])]
    return view


def script_view(job: Job, now: float) -> dict[str, Any]:
    last = job.last_run()
    kind = job.info
    view = {
        **job.fields,
        "id": job.id,
        "name": job.name,
        "type": kind.script_type,
        "category": kind.category,
        "createdAt": iso(job.created_at),
        "updatedAt": iso(job.updated_at),
        "author": job.author.simple(),
        "runningAs": job.author.simple(),
        "state": job.state(now),
        "finishedAt": iso(last.timeline(now)[2]) if last else None,
        "lastRun": last.view(now) if last else None,
        "schedule": job.schedule,
        "archived": job.archived,
        "hidden": job.hidden,
        "myPermissionLevel": "manage",
        "projects": [],
        "params": job.fields.get("params") or [],
        "arguments": job.fields.get("arguments") or {},
        "isTemplate": False,
        "userContext": job.fields.get("userContext") or "runner",
        "links": {"details": f"api/scripts/{job.id}", "runs": f"api/scripts/{job.id}/runs"},
    }
    if job.kind == "sql":
        settings = {"includeHeader": True, "compression": "gzip", "columnDelimiter": "comma",
                    "unquoted": False, "forceMultifile": False, "filenamePrefix": None,
                    "maxFileSize": None, **(job.fields.get("csvSettings") or {})}
        view["csvSettings"] = settings
        view["codePreview"] = (job.fields.get("sql") or "")[:200]
        view["expandedArguments"] = {}
    return view


def workflow_view(wf: Workflow, now: float, *, detail: bool) -> dict[str, Any]:
    valid, errors, _ = wf.validation()
    due = next_due(wf.schedule, wf.time_zone, now) if wf.schedule.get("scheduled") else None
    view: dict[str, Any] = {
        "id": wf.id,
        "name": wf.name,
        "description": wf.description,
        "valid": valid,
        "fileId": str(wf.id + 100000),
        "user": wf.user.simple(),
        "state": wf.state(now),
        "schedule": wf.schedule,
        "allowConcurrentExecutions": wf.allow_concurrent,
        "timeZone": wf.time_zone,
        "nextExecutionAt": iso(due),
        "archived": wf.archived,
        "createdAt": iso(wf.created_at),
        "updatedAt": iso(wf.updated_at),
    }
    if detail:
        view.update({
            "definition": wf.definition,
            "validationErrors": errors,
            "lastExecutionId": wf.executions[-1].id if wf.executions else None,
            "notifications": {"urls": [], "successEmailSubject": None, "successEmailBody": None,
                              "successEmailAddresses": [], "failureEmailAddresses": [],
                              "stallWarningMinutes": None, "successOn": False,
                              "failureOn": True},
            "hidden": wf.hidden,
            "myPermissionLevel": "manage",
        })
    return view


def execution_view(store: Store, wf: Workflow, run: Run, now: float, *, detail: bool) -> dict:
    state, started, finished = run.timeline(now)
    info = run.error if state == "failed" else (
        "Execution is running" if state in ACTIVE else None)
    view: dict[str, Any] = {
        "id": run.id,
        "state": state,
        "mistralState": MISTRAL_STATE.get(state, "running"),
        "mistralStateInfo": info,
        "user": run.extra.get("user") or wf.user.simple(),
        "startedAt": iso(started),
        "finishedAt": iso(finished),
        "createdAt": iso(run.created_at),
        "updatedAt": iso(run.updated_at(now)),
    }
    if detail:
        definition = run.extra.get("definition", wf.definition)
        _, _, doc = validate_workflow_yaml(definition)
        tasks = []
        task_runs: dict[str, list[dict]] = run.extra.get("taskRuns") or {}
        for name, _task in workflow_tasks(doc):
            mistral = {"queued": "waiting", "running": "running", "succeeded": "success",
                       "failed": "error", "cancelled": "cancelled"}.get(state, "idle")
            tasks.append({"name": name, "mistralState": mistral,
                          "mistralStateInfo": run.error if state == "failed" else None,
                          "runs": task_runs.get(name, []), "executions": []})
        view.update({"definition": definition, "input": run.extra.get("input") or {},
                     "includedTasks": run.extra.get("includedTasks") or [], "tasks": tasks})
    return view


# --------------------------------------------------------------------------------------------
# The application: routes and dispatch
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One API request, after routing and auth."""

    method: str
    path: str
    template: str
    params: dict[str, Any]
    query: dict[str, Any]
    body: dict[str, Any]
    base_url: str
    op: dict
    store: Store

    def q(self, name: str, default: Any = None) -> Any:
        return self.query.get(name, default)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json; charset=utf-8"


class Paged(list):
    """A handler's list answer that the dispatcher pages (limit/page_num) and shapes.

    `Paged(models, view=fn)` holds the model objects and builds the JSON of only the requested
    page's items: a 50-item page of a 1,000-item list should not cost 1,000 views (a workflow's
    view parses its YAML and expands its schedule). `Paged(views)` (no `view`) still works.
    """

    def __init__(self, items: Iterable[Any] = (), view: Callable[[Any], Any] | None = None):
        super().__init__(items)
        self.view = view


Handler = Callable[[Call], Any]


class Standin:
    def __init__(self, store: Store, spec: Spec):
        self.store = store
        self.spec = spec
        self.handlers: dict[tuple[str, str], Handler] = {}

    # -- plugin API -----------------------------------------------------------------------
    def route(self, method: str, template: str) -> Callable[[Handler], Handler]:
        """Register a handler for a path of the spec (the spec's own spelling)."""
        self.spec.operation(method, template)  # refuse paths the real API does not have
        key = (method.upper(), "/" + template.strip("/"))

        def register(fn: Handler) -> Handler:
            self.handlers[key] = fn
            return fn

        return register

    def register_executor(self, kind: str, executor: Executor) -> None:
        self.store.executors[kind] = executor

    # -- dispatch -------------------------------------------------------------------------
    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes,
               base_url: str) -> Reply:
        split = urlsplit(raw_path)
        path = split.path
        if path.startswith(ADMIN_PREFIX):
            return admin(self, method, path[len(ADMIN_PREFIX):], _parse_json(body), split.query)
        if path.startswith(FILES_PREFIX + "/"):
            return self.download(path)
        store = self.store
        status = 500
        template = "?"
        try:
            try:
                if not self.authorised(headers):
                    raise ApiError(
                        401, "invalid_token", "The access token is invalid.",
                        headers={"WWW-Authenticate": 'Basic realm="Civis API", '
                                 'error="invalid_token", '
                                 'error_description="The API key is invalid"'},
                    )
                route, op, params = self.spec.route_for(method, path)
                template = route.key
                if store.latency:
                    time.sleep(store.latency)
                fault = store.take_fault(method, path)
                if fault is not None:
                    extra = {}
                    if fault.retry_after is not None:
                        extra["Retry-After"] = f"{fault.retry_after:g}"
                    code = fault.status
                    name = "rate_limit_exceeded" if code == 429 else "service_unavailable"
                    raise ApiError(code, name, fault.message or (
                        "Rate limit exceeded." if code == 429 else "Service unavailable."),
                        headers=extra)
                handler = self.handlers.get((method, route.key))
                if handler is None:
                    raise ApiError(501, "not_implemented",
                                   f"The stand-in does not implement {method} {route.template}.")
                query = _parse_query(split.query)
                call = Call(method, path, route.key, params, query,
                            self.spec.normalise_body(op, _parse_json(body))
                            if method in ("POST", "PUT", "PATCH") else {},
                            base_url, op, store)
                reply = self.render(call, handler(call))
            except ApiError as exc:
                reply = Reply(exc.code, exc.body(), dict(exc.headers))
            status = reply.status
            return reply
        finally:
            store.record_call(method, template, path, status)

    def render(self, call: Call, result: Any) -> Reply:
        status, schema = self.spec.response(call.op)
        headers: dict[str, str] = {}
        if isinstance(result, Reply):
            return result
        if isinstance(result, Paged):
            default, maximum = self.spec.paging(call.op)
            limit = min(max(_int(call.q("limit"), default), 1), maximum)
            page = max(_int(call.q("page_num"), 1), 1)
            total = len(result)
            pages = (total + limit - 1) // limit
            view = result.view
            result = list(result[(page - 1) * limit: page * limit])
            if view is not None:
                result = [view(item) for item in result]
            headers.update({
                "X-Pagination-Current-Page": str(page),
                "X-Pagination-Per-Page": str(limit),
                "X-Pagination-Total-Entries": str(total),
                "X-Pagination-Total-Pages": str(pages),
            })
        if status == 204 or (schema is None and not result):
            return Reply(status, None, headers)
        return Reply(status, self.spec.shape(schema, result), headers)

    def authorised(self, headers: dict[str, str]) -> bool:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        key = None
        if scheme.lower() == "basic":
            try:
                key = base64.b64decode(token).decode().split(":", 1)[0]
            except (ValueError, UnicodeDecodeError):
                return False
        elif scheme.lower() == "bearer":
            key = token.strip()
        return bool(key) and any(secrets.compare_digest(key, k) for k in self.store.api_keys)

    def download(self, path: str) -> Reply:
        parts = path[len(FILES_PREFIX) + 1:].split("/")
        if len(parts) < 2 or not parts[0].isdigit():
            return Reply(404, raw=b"Not Found", content_type="text/plain")
        stored = self.store.files.get(int(parts[0]))
        if stored is None or not secrets.compare_digest(parts[1], stored.token):
            return Reply(403, raw=b"<Error><Code>AccessDenied</Code></Error>",
                         content_type="application/xml")
        kind = "application/gzip" if stored.compression == "gzip" else "text/csv"
        return Reply(200, raw=stored.data, content_type=kind)


def _parse_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "bad_request", "The request body is not valid JSON.") from exc


def _parse_query(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        if key.endswith("[]"):
            out.setdefault(key[:-2], []).append(value)
        else:
            out[key] = value
    return out


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _bool(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("true", "1", "yes")


def _list(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        items = value
    else:
        items = [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _order(items: list, call: Call, keys: dict[str, Callable[[Any], Any]], default: str):
    order = call.q("order") or default
    key = keys.get(order, keys[default])
    reverse = (call.q("order_dir") or "desc").lower() != "asc"
    return sorted(items, key=key, reverse=reverse)


# --------------------------------------------------------------------------------------------
# The API handlers
# --------------------------------------------------------------------------------------------


def install_core(app: Standin) -> None:
    store = app.store

    # -- identity, databases, credentials, files -------------------------------------------
    @app.route("GET", "/users/me")
    def users_me(call: Call):
        me = store.me
        return {**me.simple(), "email": f"{me.username}@precinct.test", "featureFlags": {},
                "roles": [], "groups": [], "organizationName": "Precinct",
                "organizationSlug": "precinct", "createdAt": iso(time.time() - 86400 * 365)}

    @app.route("GET", "/databases/")
    def databases_list(call: Call):
        return list(store.databases)

    @app.route("GET", "/databases/{id}")
    def databases_get(call: Call):
        for db in store.databases:
            if db["id"] == call.params["id"]:
                return db
        raise not_found("The requested database could not be found.")

    @app.route("GET", "/credentials/")
    def credentials_list(call: Call):
        creds = list(store.credentials)
        if _bool(call.q("default")):
            creds = [c for c in creds if c["default"]]
        if types := _list(call.q("type")):
            creds = [c for c in creds if c["type"] in types]
        if call.q("remote_host_id"):
            creds = [c for c in creds if c["remoteHostId"] in (None, _int(call.q(
                "remote_host_id"), -1))]
        return Paged(creds)

    @app.route("GET", "/credentials/{id}")
    def credentials_get(call: Call):
        for cred in store.credentials:
            if cred["id"] == call.params["id"]:
                return cred
        raise not_found("The requested credential could not be found.")

    @app.route("GET", "/files/{id}")
    def files_get(call: Call):
        stored = store.files.get(call.params["id"])
        if stored is None:
            raise not_found("The requested file could not be found.")
        url = store.file_url(stored, call.base_url)
        return {
            "id": stored.id, "name": stored.name, "createdAt": iso(stored.created_at),
            "fileSize": len(stored.data), "expiresAt": iso(stored.created_at + 30 * 86400),
            "description": None, "author": stored.author.simple(), "downloadUrl": url,
            "fileUrl": url, "myPermissionLevel": "manage",
            "detectedInfo": {
                "includeHeader": stored.include_header, "columnDelimiter": stored.delimiter,
                "compression": stored.compression,
                "tableColumns": [{"name": n, "sqlType": t} for n, t in stored.columns],
            },
        }

    # -- scripts ----------------------------------------------------------------------------
    def create_script(kind: str):
        def handler(call: Call):
            body = dict(call.body)
            name = body.pop("name", None) or f"{KINDS[kind].script_type} script"
            if kind == "sql":
                remote = body.get("remoteHostId")
                if remote not in {db["id"] for db in store.databases}:
                    raise ApiError(422, "unprocessable_entity",
                                   f"Remote host {remote} could not be found.")
            job = store.add_job(kind, name, fields=body, schedule=body.get("schedule"))
            job.hidden = bool(body.get("hidden"))
            return script_view(job, time.time())
        return handler

    def get_script(kind: str):
        def handler(call: Call):
            return script_view(store.job(call.params["id"], kind), time.time())
        return handler

    def start_script_run(kind: str):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            run = store.start_run(job, call.base_url)
            return script_run_view(job, run, time.time(), call.base_url, store)
        return handler

    def list_script_runs(kind: str):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            now = time.time()
            runs = _order(job.runs, call, {"id": lambda r: r.id}, "id")
            return Paged(script_run_view(job, r, now, call.base_url, store) for r in runs)
        return handler

    def get_script_run(kind: str):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            run = store.find_run(job, call.params["run_id"])
            return script_run_view(job, run, time.time(), call.base_url, store)
        return handler

    def cancel_script_run(kind: str):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            with store.lock:
                store.find_run(job, call.params["run_id"]).cancel(time.time())
            return None
        return handler

    def run_outputs(kind: str | None):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            run = store.find_run(job, call.params["run_id"])
            return Paged(outputs_view(run, store, call.base_url))
        return handler

    def run_logs(kind: str | None):
        def handler(call: Call):
            job = store.job(call.params["id"], kind)
            run = store.find_run(job, call.params["run_id"])
            logs = logs_view(run)
            last_id = _int(call.q("last_id"), 0)
            logs = [entry for entry in logs if entry["id"] > last_id]
            return Paged(logs[: _int(call.q("limit"), 10000)])
        return handler

    for segment, kind in SCRIPT_SEGMENTS.items():
        base = f"/scripts/{segment}"
        app.route("POST", base)(create_script(kind))
        app.route("GET", f"{base}/{{id}}")(get_script(kind))
        app.route("POST", f"{base}/{{id}}/runs")(start_script_run(kind))
        app.route("GET", f"{base}/{{id}}/runs")(list_script_runs(kind))
        app.route("GET", f"{base}/{{id}}/runs/{{run_id}}")(get_script_run(kind))
        app.route("DELETE", f"{base}/{{id}}/runs/{{run_id}}")(cancel_script_run(kind))
        app.route("GET", f"{base}/{{id}}/runs/{{run_id}}/outputs")(run_outputs(kind))
        app.route("GET", f"{base}/{{id}}/runs/{{run_id}}/logs")(run_logs(kind))

    @app.route("GET", "/scripts/{id}")
    def scripts_get(call: Call):
        job = store.job(call.params["id"])
        if job.info.category not in ("script",):
            raise not_found("The requested script could not be found.")
        return script_view(job, time.time())

    @app.route("POST", "/scripts/{id}/cancel")
    def scripts_cancel(call: Call):
        job = store.job(call.params["id"])
        now = time.time()
        with store.lock:
            active = [r for r in job.runs if r.state(now) in ACTIVE]
            if not active:
                raise ApiError(404, "not_found", "The script has no active run to cancel.")
            run = active[-1]
            run.cancel(now)
        return {"id": run.id, "state": run.state(now), "isCancelRequested": True}

    # -- imports ----------------------------------------------------------------------------
    @app.route("GET", "/imports/{id}")
    def imports_get(call: Call):
        job = store.job(call.params["id"], "import")
        now = time.time()
        last = job.last_run()
        return {**job.fields, "id": job.id, "name": job.name, "state": job.state(now),
                "createdAt": iso(job.created_at), "updatedAt": iso(job.updated_at),
                "lastRun": last.view(now) if last else None, "user": job.author.simple(),
                "schedule": job.schedule, "archived": job.archived, "hidden": job.hidden,
                "myPermissionLevel": "manage", "runningAs": job.author.simple()}

    @app.route("POST", "/imports/{id}/runs")
    def imports_run(call: Call):
        job = store.job(call.params["id"], "import")
        return {"runId": store.start_run(job, call.base_url).id}

    @app.route("GET", "/imports/{id}/runs")
    def imports_runs(call: Call):
        job = store.job(call.params["id"], "import")
        now = time.time()
        runs = _order(job.runs, call, {"id": lambda r: r.id}, "id")
        return Paged({**r.view(now), "importId": job.id} for r in runs)

    app.route("GET", "/imports/{id}/runs/{run_id}/logs")(run_logs("import"))

    # -- jobs -------------------------------------------------------------------------------
    @app.route("GET", "/jobs/")
    def jobs_list(call: Call):
        now = time.time()
        with store.lock:
            jobs = [j for j in store.jobs.values() if not j.forbidden]
        archived = (call.q("archived") or "false").lower()
        if archived != "all":
            jobs = [j for j in jobs if j.archived == (archived == "true")]
        hidden = _bool(call.q("hidden"))
        jobs = [j for j in jobs if j.hidden == bool(hidden)]
        if states := _list(call.q("state")):
            jobs = [j for j in jobs if j.state(now) in states]
        if types := _list(call.q("type")):
            jobs = [j for j in jobs if j.info.job_type in types]
        if (scheduled := _bool(call.q("scheduled"))) is not None:
            jobs = [j for j in jobs if bool(j.schedule.get("scheduled")) == scheduled]
        if authors := _list(call.q("author")):
            jobs = [j for j in jobs if str(j.author.id) in authors]
        if q := call.q("q"):
            needle = q.lower()
            jobs = [j for j in jobs if needle in f"{j.id} {j.name} {j.info.job_type}".lower()]
        jobs = _order(jobs, call, {
            "updated_at": lambda j: (max(j.updated_at, j.runs[-1].updated_at(now)
                                         if j.runs else 0), j.id),
            "last_run_updated_at": lambda j: (j.runs[-1].updated_at(now) if j.runs else 0,
                                              j.id),
        }, "updated_at")
        return Paged(jobs, view=lambda j: job_view(j, now, detail=False))

    @app.route("GET", "/jobs/{id}")
    def jobs_get(call: Call):
        return job_view(store.job(call.params["id"]), time.time(), detail=True)

    @app.route("POST", "/jobs/{id}/runs")
    def jobs_run(call: Call):
        job = store.job(call.params["id"])
        return store.start_run(job, call.base_url).view(time.time())

    @app.route("GET", "/jobs/{id}/runs")
    def jobs_runs(call: Call):
        job = store.job(call.params["id"])
        now = time.time()
        runs = _order(job.runs, call, {"id": lambda r: r.id}, "id")
        return Paged(r.view(now) for r in runs)

    @app.route("GET", "/jobs/{id}/runs/{run_id}")
    def jobs_run_get(call: Call):
        job = store.job(call.params["id"])
        return store.find_run(job, call.params["run_id"]).view(time.time())

    @app.route("DELETE", "/jobs/{id}/runs/{run_id}")
    def jobs_run_cancel(call: Call):
        job = store.job(call.params["id"])
        with store.lock:
            store.find_run(job, call.params["run_id"]).cancel(time.time())
        return None

    app.route("GET", "/jobs/{id}/runs/{run_id}/outputs")(run_outputs(None))
    app.route("GET", "/jobs/{id}/runs/{run_id}/logs")(run_logs(None))

    # -- workflows --------------------------------------------------------------------------
    @app.route("GET", "/workflows/")
    def workflows_list(call: Call):
        now = time.time()
        with store.lock:
            flows = list(store.workflows.values())
        archived = (call.q("archived") or "false").lower()
        if archived != "all":
            flows = [w for w in flows if w.archived == (archived == "true")]
        hidden = _bool(call.q("hidden"))
        flows = [w for w in flows if w.hidden == bool(hidden)]
        if (scheduled := _bool(call.q("scheduled"))) is not None:
            flows = [w for w in flows if bool(w.schedule.get("scheduled")) == scheduled]
        if states := _list(call.q("state")):
            flows = [w for w in flows if w.state(now) in states]
        if authors := _list(call.q("author")):
            flows = [w for w in flows if str(w.user.id) in authors]
        flows = _order(flows, call, {
            "updated_at": lambda w: (w.updated_at, w.id),
            "created_at": lambda w: (w.created_at, w.id),
            "name": lambda w: (w.name.lower(), w.id),
        }, "updated_at")
        return Paged(flows, view=lambda w: workflow_view(w, now, detail=False))

    @app.route("POST", "/workflows/")
    def workflows_create(call: Call):
        body = call.body
        wf = store.add_workflow(
            body["name"], body.get("definition") or "", description=body.get("description"),
            schedule=body.get("schedule"), time_zone=body.get("timeZone") or "America/Chicago",
            allow_concurrent=bool(body.get("allowConcurrentExecutions")),
            hidden=bool(body.get("hidden")),
        )
        return workflow_view(wf, time.time(), detail=True)

    @app.route("GET", "/workflows/{id}")
    def workflows_get(call: Call):
        return workflow_view(store.workflow(call.params["id"]), time.time(), detail=True)

    @app.route("GET", "/workflows/{id}/executions")
    def executions_list(call: Call):
        wf = store.workflow(call.params["id"])
        now = time.time()
        runs = _order(wf.executions, call, {
            "id": lambda r: r.id,
            "updated_at": lambda r: (r.updated_at(now), r.id),
            "created_at": lambda r: (r.created_at, r.id),
        }, "id")
        return Paged(runs, view=lambda r: execution_view(store, wf, r, now, detail=False))

    @app.route("POST", "/workflows/{id}/executions")
    def executions_create(call: Call):
        wf = store.workflow(call.params["id"])
        run = store.start_execution(wf, call.body.get("input"), call.body.get("includedTasks"))
        return execution_view(store, wf, run, time.time(), detail=True)

    def find_execution(call: Call) -> tuple[Workflow, Run]:
        wf = store.workflow(call.params["id"])
        for run in wf.executions:
            if run.id == call.params["execution_id"]:
                return wf, run
        raise not_found("The requested execution could not be found.")

    @app.route("GET", "/workflows/{id}/executions/{execution_id}")
    def executions_get(call: Call):
        wf, run = find_execution(call)
        return execution_view(store, wf, run, time.time(), detail=True)

    @app.route("POST", "/workflows/{id}/executions/{execution_id}/cancel")
    def executions_cancel(call: Call):
        wf, run = find_execution(call)
        now = time.time()
        with store.lock:
            run.cancel(now)
        return execution_view(store, wf, run, now, detail=True)


# --------------------------------------------------------------------------------------------
# Admin endpoints (tests, demo, benchmarks)
# --------------------------------------------------------------------------------------------

JOB_BEHAVIOUR = ("queued_seconds", "running_seconds", "fail_message", "fail_runs", "forbidden",
                 "archived", "hidden")


def admin(app: Standin, method: str, path: str, body: Any, query: str) -> Reply:
    store = app.store
    body = body or {}
    try:
        if path == "/health" and method == "GET":
            return Reply(200, {"ok": True, "jobs": len(store.jobs),
                               "workflows": len(store.workflows)})
        if path == "/reset" and method == "POST":
            store.reset()
            return Reply(200, {"ok": True})
        if path == "/calls" and method == "GET":
            params = _parse_query(query)
            with store.lock:
                if "since" not in params and "prefix" not in params:
                    return Reply(200, {"total": store.calls["total"],
                                       "by_route": {k: v for k, v in store.calls.items()
                                                    if k != "total"},
                                       "log": list(store.call_log) if _bool(params.get("log"))
                                       else []})
                log = [c for c in store.call_log
                       if c["t"] >= float(params.get("since") or 0)
                       and c["path"].startswith(params.get("prefix") or "")]
            by_route = Counter(f"{c['method']} {c['route']}" for c in log)
            return Reply(200, {"total": len(log), "by_route": dict(by_route),
                               "log": log if _bool(params.get("log")) else []})
        if path == "/calls/reset" and method == "POST":
            with store.lock:
                store.calls.clear()
                store.call_log.clear()
            return Reply(200, {"ok": True})
        if path == "/faults" and method == "POST":
            fault = Fault(status=int(body.get("status", 429)), remaining=int(body.get("count", 1)),
                          retry_after=body.get("retry_after"), method=body.get("method"),
                          path=body.get("path"), message=body.get("message"))
            with store.lock:
                store.faults.append(fault)
            return Reply(200, {"ok": True})
        if path == "/faults" and method == "DELETE":
            with store.lock:
                store.faults.clear()
            return Reply(200, {"ok": True})
        if path == "/latency" and method == "POST":
            store.latency = float(body.get("seconds", 0.0))
            return Reply(200, {"ok": True, "seconds": store.latency})
        if path == "/config" and method == "POST":
            for key in ("queued_seconds", "running_seconds"):
                if key in body:
                    store.defaults[key] = float(body[key])
            return Reply(200, dict(store.defaults))
        if path == "/jobs" and method == "POST":
            job = admin_create_job(store, body)
            return Reply(201, admin_job_view(job))
        if m := re.fullmatch(r"/jobs/(\d+)", path):
            job = store.jobs.get(int(m.group(1)))
            if job is None:
                return Reply(404, {"error": "not_found"})
            if method == "PATCH":
                with store.lock:
                    apply_behaviour(job, body)
            return Reply(200, admin_job_view(job))
        if path == "/jobs" and method == "GET":
            with store.lock:
                return Reply(200, [admin_job_view(j) for j in store.jobs.values()])
        if path == "/workflows" and method == "GET":
            with store.lock:
                return Reply(200, [{"id": wf.id, "name": wf.name, "archived": wf.archived}
                                   for wf in store.workflows.values()])
        if path == "/workflows" and method == "POST":
            wf = admin_create_workflow(store, body)
            return Reply(201, {"id": wf.id, "name": wf.name,
                               "executions": [e.id for e in wf.executions]})
        if m := re.fullmatch(r"/workflows/(\d+)", path):
            wf = store.workflows.get(int(m.group(1)))
            if wf is None:
                return Reply(404, {"error": "not_found"})
            if method == "PATCH":
                with store.lock:
                    apply_behaviour(wf, body)
                    if "definition" in body:  # an edit in Civis: new YAML, new updatedAt
                        wf.definition = str(body["definition"])
                        wf.updated_at = time.time()
            return Reply(200, {"id": wf.id, "name": wf.name,
                               "executions": [e.id for e in wf.executions]})
        if path == "/seed" and method == "POST":
            summary = seed(store, **body)
            return Reply(200, summary)
        if path == "/files" and method == "GET":
            with store.lock:
                return Reply(200, [{"id": f.id, "name": f.name, "size": len(f.data)}
                                   for f in store.files.values()])
        return Reply(404, {"error": "not_found", "errorDescription": f"No admin route {path}",
                           "code": 404})
    except (KeyError, TypeError, ValueError) as exc:
        return Reply(400, {"error": "bad_request", "errorDescription": str(exc), "code": 400})


def apply_behaviour(obj: Job | Workflow, body: dict) -> None:
    for key in JOB_BEHAVIOUR:
        if key in body:
            attr = {"queued_seconds": "queued_s", "running_seconds": "running_s"}.get(key, key)
            setattr(obj, attr, body[key])


def admin_job_view(job: Job) -> dict[str, Any]:
    now = time.time()
    return {"id": job.id, "kind": job.kind, "name": job.name, "type": job.info.job_type,
            "state": job.state(now), "runs": [r.view(now) for r in job.runs]}


def _seeded_run(store: Store, parent_id: int, spec: dict) -> Run:
    """A run with explicit history: {state, created_at, started_at, finished_at, error}."""
    created = parse_ts(spec.get("created_at") or spec.get("started_at")) or time.time()
    run = Run(id=next(store.run_ids), parent_id=parent_id, created_at=created,
              driver="seeded", state_=spec.get("state", "succeeded"),
              started_at_=parse_ts(spec.get("started_at")),
              finished_at_=parse_ts(spec.get("finished_at")), error=spec.get("error"))
    return run


def admin_create_job(store: Store, body: dict) -> Job:
    kind = body.get("kind", "container")
    if kind not in KINDS and kind not in store.executors:
        raise ValueError(f"unknown job kind {kind!r}; known: {sorted(KINDS)}")
    author = store.me
    if owner := body.get("owner"):
        author = _user_named(store, owner)
    job = store.add_job(kind, body.get("name"), fields=body.get("fields") or {},
                        author=author, schedule=body.get("schedule"),
                        created_at=parse_ts(body.get("created_at")))
    with store.lock:
        apply_behaviour(job, body)
        for spec in body.get("runs") or []:
            job.runs.append(_seeded_run(store, job.id, spec))
    return job


def admin_create_workflow(store: Store, body: dict) -> Workflow:
    author = store.me
    if owner := body.get("owner"):
        author = _user_named(store, owner)
    attrs = {k: body[k] for k in ("description", "schedule", "archived", "hidden")
             if k in body}
    if "time_zone" in body:
        attrs["time_zone"] = body["time_zone"]
    if "allow_concurrent" in body:
        attrs["allow_concurrent"] = bool(body["allow_concurrent"])
    wf = store.add_workflow(body.get("name", "Workflow"), body.get("definition", ""),
                            user=author, created_at=parse_ts(body.get("created_at")), **attrs)
    with store.lock:
        apply_behaviour(wf, body)
        for spec in body.get("executions") or []:
            run = _seeded_run(store, wf.id, spec)
            run.extra = {"definition": wf.definition, "input": {}, "includedTasks": [],
                         "user": author.simple(), "taskRuns": spec.get("task_runs") or {}}
            wf.executions.append(run)
        if body.get("updated_at"):
            wf.updated_at = parse_ts(body["updated_at"]) or wf.updated_at
    return wf


def _user_named(store: Store, owner: str | dict) -> User:
    name = owner["name"] if isinstance(owner, dict) else str(owner)
    with store.lock:
        for user in store.users.values():
            if user.name == name or user.username == name:
                return user
        username = re.sub(r"[^a-z0-9]+", ".", name.lower()).strip(".")
        return store.add_user(name, username)


# --------------------------------------------------------------------------------------------
# Seeding: a realistic mix of workflows and jobs (the audit of issue 7 reads it)
# --------------------------------------------------------------------------------------------

OWNERS = ["Maya Rodriguez", "Sam Okafor", "Priya Natarajan", "Jordan Lee", "Alex Kim",
          "Taylor Brooks", "Chris Nguyen", "Dana Whitfield"]
TIME_ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver",
              "UTC"]
JOB_WORDS = ["Import VAN contacts", "Refresh voterfile", "Score support model", "Export to S3",
             "Sync ActBlue", "Build canvass universe", "Dedupe sign-ups", "Update turf",
             "Load event RSVPs", "Compute flake rate", "Email list hygiene", "Match donors"]
ERRORS = [
    "Container exited with status 1: KeyError: 'van_id'\nTraceback (most recent call last):",
    "ERROR: relation \"staging.signups\" does not exist",
    "Import failed: 412 rows rejected (column 'zip' value too long)",
    "Out of memory: container killed after exceeding 8192 MiB",
    "ERROR: permission denied for schema analytics",
    "Timed out after 3600 seconds",
]
CATEGORIES = ("healthy", "failing", "running", "overdue", "never_run", "unscheduled",
              "broken_yaml", "forbidden_job", "archived", "midnight")


def seed(store: Store, workflows: int = 300, jobs_per_workflow: int = 3, seed: int = 7,
         now: str | float | None = None) -> dict[str, Any]:
    """Seed `workflows` workflows and about `jobs_per_workflow` jobs each, deterministically.

    The mix (by weight): healthy scheduled workflows, failing ones (a streak of 1-5 failed
    executions with a failing job), running ones, overdue ones (scheduled, nothing started since
    a due time more than 15 minutes ago), scheduled but never run, unscheduled ones, broken
    YAML, workflows whose job the key cannot read (403), archived ones, and executions that span
    midnight in the workflow's time zone. Returns the ids per category so tests can assert.
    """
    rng = random.Random(seed)
    clock = parse_ts(now) if now is not None else time.time()
    weights = [40, 12, 6, 6, 4, 14, 4, 3, 5, 6]
    summary: dict[str, list[int]] = {c: [] for c in CATEGORIES}
    job_count = 0
    owners = [_user_named(store, name) for name in OWNERS]
    for index in range(workflows):
        category = rng.choices(CATEGORIES, weights)[0]
        owner = rng.choice(owners)
        tz = rng.choice(TIME_ZONES)
        n_jobs = max(1, min(6, int(rng.gauss(jobs_per_workflow, 1))))
        jobs = []
        for j in range(n_jobs):
            kind = rng.choice(["container", "container", "sql", "python3", "import"])
            job = store.add_job(kind, f"{rng.choice(JOB_WORDS)} #{index}.{j}", author=owner,
                                created_at=clock - rng.uniform(30, 400) * 86400)
            jobs.append(job)
            job_count += 1
        schedule, interval = _random_schedule(rng, category)
        definition = _definition(rng, jobs, broken=(category == "broken_yaml"))
        wf = store.add_workflow(
            f"{rng.choice(['Daily', 'Nightly', 'Hourly', 'Weekly', 'Ad hoc'])} "
            f"{rng.choice(JOB_WORDS).lower()} ({index})",
            definition, user=owner, created_at=clock - rng.uniform(60, 500) * 86400,
            schedule=schedule, time_zone=tz, archived=(category == "archived"),
        )
        wf.updated_at = wf.created_at + rng.uniform(0, 50) * 86400
        summary[category].append(wf.id)
        if category == "forbidden_job":
            jobs[-1].forbidden = True
        _history(store, rng, wf, jobs, category, clock, interval)
    return {"workflows": workflows, "jobs": job_count, "now": iso(clock),
            "by_category": summary}


def _random_schedule(rng: random.Random, category: str) -> tuple[dict, float]:
    if category in ("unscheduled",):
        return empty_schedule(False), 0.0
    choice = rng.random()
    if category == "midnight":
        return {**empty_schedule(True), "scheduledDays": list(range(7)),
                "scheduledHours": [23], "scheduledMinutes": [30]}, 86400.0
    if choice < 0.25:
        return {**empty_schedule(True), "scheduledRunsPerHour": 1,
                "scheduledHours": list(range(24)), "scheduledDays": list(range(7))}, 3600.0
    if choice < 0.85:
        return {**empty_schedule(True), "scheduledDays": list(range(7)),
                "scheduledHours": [rng.randrange(0, 24)],
                "scheduledMinutes": [rng.choice([0, 15, 30, 45])]}, 86400.0
    return {**empty_schedule(True), "scheduledDays": [rng.randrange(0, 7)],
            "scheduledHours": [rng.randrange(5, 22)], "scheduledMinutes": [0]}, 7 * 86400.0


def _definition(rng: random.Random, jobs: list[Job], broken: bool) -> str:
    lines = ["version: '2.0'", "workflow:", "  tasks:"]
    names = [f"step_{i + 1}" for i in range(len(jobs))]
    for i, (name, job) in enumerate(zip(names, jobs, strict=True)):
        lines += [f"    {name}:", "      action: civis.run_job",
                  "      input:", f"        job_id: {job.id}"]
        if i + 1 < len(names):
            lines += ["      on-success:", f"        - {names[i + 1]}"]
    text = "\n".join(lines) + "\n"
    if broken:
        flavour = rng.randrange(3)
        if flavour == 0:
            text = text.replace("      input:\n", "      input: {job_id: [\n", 1)
        elif flavour == 1:
            text = text.replace("  tasks:", "  tasks:\n\t  bad_indent: true", 1)
        else:
            text = "version: '2.0'\nworkflow:\n  tasks: ['unterminated\n"
    return text


def _history(store: Store, rng: random.Random, wf: Workflow, jobs: list[Job], category: str,
             clock: float, interval: float) -> None:
    """Executions (and the jobs' runs) consistent with the category."""
    if category in ("never_run", "broken_yaml"):
        return
    if category == "unscheduled" and rng.random() < 0.4:
        return
    interval = interval or rng.choice([86400.0, 3 * 86400.0, 7 * 86400.0])
    due = schedule_times(wf.schedule, wf.time_zone, clock - 12 * interval, clock) or [
        clock - k * interval for k in range(12, 0, -1)]
    if category == "overdue":
        due = [t for t in due if t < clock - interval - 3600] or due[:1]
    count = min(len(due), rng.randint(3, 10))
    starts = [t + rng.uniform(5, 120) for t in due[-count:]]
    streak = rng.randint(1, 5) if category == "failing" else 0
    failing_job = rng.choice(jobs)
    for i, start in enumerate(starts):
        last = i == len(starts) - 1
        fails = category == "failing" and i >= len(starts) - streak
        if category != "failing" and rng.random() < 0.08 and not last:
            fails = True  # the occasional past failure that later recovered
        running = category == "running" and last
        if running:
            start = clock - rng.uniform(60, 1500)
        duration = rng.uniform(60, 3600)
        if category == "midnight" and last:
            tz = ZoneInfo(wf.time_zone)
            local = datetime.fromtimestamp(clock, tz).replace(hour=23, minute=40, second=0,
                                                              microsecond=0)
            if local.timestamp() > clock - 3 * 3600:
                local -= timedelta(days=1)
            start, duration = local.timestamp(), 50 * 60.0
        task_runs: dict[str, list[dict]] = {}
        offset = start
        state = "running" if running else ("failed" if fails else "succeeded")
        error = None
        for k, job in enumerate(jobs):
            job_state = "succeeded"
            job_error = None
            step = duration / len(jobs)
            if fails and job is failing_job:
                job_state, job_error = "failed", rng.choice(ERRORS)
                error = f"Task step_{k + 1} failed: {job_error.splitlines()[0]}"
            elif running and k == len(jobs) - 1:
                job_state = "running"
            run = Run(id=next(store.run_ids), parent_id=job.id, created_at=offset,
                      driver="seeded", state_=job_state, started_at_=offset + 2,
                      finished_at_=None if job_state == "running" else offset + step,
                      error=job_error)
            job.runs.append(run)
            task_runs[f"step_{k + 1}"] = [{"id": run.id, "jobId": job.id,
                                           "myPermissionLevel": "manage",
                                           "state": job_state, "createdAt": iso(offset),
                                           "startedAt": iso(offset + 2),
                                           "finishedAt": iso(run.finished_at_)}]
            offset += step
            if job_state == "failed":
                break
        execution = Run(id=next(store.run_ids), parent_id=wf.id, created_at=start,
                        driver="seeded", state_=state, started_at_=start + 1,
                        finished_at_=None if running else start + duration, error=error,
                        extra={"definition": wf.definition, "input": {}, "includedTasks": [],
                               "user": wf.user.simple(), "taskRuns": task_runs})
        wf.executions.append(execution)
    for job in jobs:
        job.runs.sort(key=lambda r: r.id)


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server_version = "CivisStandin/1.0"
    protocol_version = "HTTP/1.1"
    # Keep-alive responses written in pieces would otherwise wait ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    app: Standin  # set on the class by `make_server`

    def log_message(self, format: str, *args: Any) -> None:
        if os.environ.get("CIVIS_STANDIN_VERBOSE"):
            super().log_message(format, *args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host = self.headers.get("Host") or f"{self.server.server_address[0]}:" \
                                             f"{self.server.server_address[1]}"
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            reply = self.app.handle(self.command, self.path, headers, body, f"http://{host}")
        except ApiError as exc:
            reply = Reply(exc.code, exc.body(), dict(exc.headers))
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must still answer
            traceback.print_exc()
            reply = Reply(500, {"error": "internal_error", "errorDescription": str(exc),
                                "code": 500})
        if reply.raw is not None:
            payload = reply.raw
        elif reply.body is None:
            payload = b""
        else:
            payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        if payload:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def build_app(dsn: str, api_keys: list[str], plugins: Iterable[str] | None = None) -> Standin:
    app = Standin(Store(dsn, api_keys), Spec())
    install_core(app)
    names = list(plugins) if plugins is not None else _plugin_names()
    for name in names:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        module.install(app)
    return app


def _plugin_names() -> list[str]:
    configured = os.environ.get("CIVIS_STANDIN_PLUGINS")
    if configured is not None:
        return [n.strip() for n in configured.split(",") if n.strip()]
    return list(DEFAULT_PLUGINS)


def make_server(app: Standin, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("CivisHandler", (_Handler,), {"app": app})
    return _Server((host, port), handler)


def key_fingerprint(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--dsn", default=os.environ.get(
        "CIVIS_STANDIN_DSN", "postgresql://postgres@127.0.0.1:54329/civis"))
    parser.add_argument("--api-key-env", default="CIVIS_STANDIN_API_KEYS",
                        help="environment variable holding the accepted keys, comma separated")
    parser.add_argument("--seed-workflows", type=int, default=0)
    args = parser.parse_args(argv)
    keys = [k for k in os.environ.get(args.api_key_env, "").split(",") if k]
    if not keys:
        raise SystemExit(f"set {args.api_key_env} to the accepted API key(s)")
    app = build_app(args.dsn, keys)
    if args.seed_workflows:
        seed(app.store, workflows=args.seed_workflows)
    server = make_server(app, args.host, args.port)
    print(f"Civis stand-in on http://{args.host}:{args.port}/ "
          f"({len(app.handlers)} routes, keys {[key_fingerprint(k) for k in keys]})",
          flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
