"""Civis: our own stand-in of the Civis Platform API (devstack/civis_standin.py).

It routes every call through the API spec bundled in the `civis` package, checks the API key,
runs SQL scripts on the devstack PostgreSQL database `civis` (the Redshift stand-in) and moves
other runs through queued -> running -> succeeded/failed on a timer. Tests drive it through the
admin helpers below (429s, latency, call counts, seeded workflows and jobs).
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from typing import Any

from devstack import postgres
from devstack.core import Service, conn_json, python_argv

PORT = 18081
# The key the stand-in accepts. It is not a secret, but it is shaped like one so tests can check
# that the hook never logs or raises it.
API_KEY = "civis-devstack-4f1c9a7e2b6d48a1"
DATABASE = "redshift-general"  # the one database the stand-in offers (PostgreSQL db `civis`)


def command(service: Service) -> list[str]:
    return python_argv("devstack.civis_standin", "--port", str(service.port))


def healthy(service: Service) -> bool:
    with urllib.request.urlopen(f"{service.url}/__admin/health", timeout=2) as resp:  # noqa: S310
        return resp.status == 200


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_CIVIS_DEFAULT": conn_json(
            conn_type="generic", host=f"{service.url}/", password=API_KEY
        ),
        # The stand-in's runs take seconds, not Civis's minutes: poll deferred runs every
        # second (precinct.dag_defaults.CIVIS_POLL_SECONDS, read when DAGs are parsed).
        "PRECINCT_CIVIS_POLL_SECONDS": "1",
    }


SERVICE = Service(
    name="civis",
    port=PORT,
    command=command,
    healthy=healthy,
    env=env,
    extra_env={
        "CIVIS_STANDIN_API_KEYS": API_KEY,
        "CIVIS_STANDIN_DSN": postgres.dsn("civis"),
    },
)


# -- admin helpers for tests, the demo and benchmarks ----------------------------------------


def admin(method: str, path: str, body: Any = None, *, service: Service = SERVICE) -> Any:
    """Call one of the stand-in's `/__admin/` endpoints and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL built from our own config
        f"{service.url}/__admin{path}", data=data, method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
        return json.loads(resp.read() or b"null")


def reset() -> None:
    """Forget every job, workflow, run, file, fault and counter."""
    admin("POST", "/reset")


def calls(since: float | None = None, prefix: str | None = None,
          log: bool = False) -> dict[str, Any]:
    """API calls received: {"total": n, "by_route": {"GET /jobs/{id}": n}, "log": [...]}.

    With `since` (epoch seconds) and/or `prefix` (a request path prefix such as `/jobs/12/`),
    only the matching calls, so tests sharing the stand-in can count their own.
    """
    query = {k: v for k, v in (("since", since), ("prefix", prefix)) if v is not None}
    if log:
        query["log"] = "1"
    return admin("GET", "/calls" + ("?" + urllib.parse.urlencode(query) if query else ""))


def reset_calls() -> None:
    admin("POST", "/calls/reset")


def inject_fault(status: int = 429, count: int = 1, retry_after: float | None = 1,
                 method: str | None = None, path: str | None = None) -> None:
    """Answer the next `count` matching API calls with `status` (and Retry-After)."""
    admin("POST", "/faults", {"status": status, "count": count, "retry_after": retry_after,
                              "method": method, "path": path})


def set_latency(seconds: float) -> None:
    admin("POST", "/latency", {"seconds": seconds})


def create_job(kind: str = "container", name: str | None = None, **behaviour: Any) -> dict:
    """A job with stand-in behaviour: queued_seconds, running_seconds, fail_message, fail_runs,
    forbidden, runs (seeded history), schedule, owner, fields."""
    return admin("POST", "/jobs", {"kind": kind, "name": name, **behaviour})


def create_workflow(name: str, definition: str, **attrs: Any) -> dict:
    """A workflow: schedule, time_zone, owner, archived, executions (seeded history), and the
    behaviour of new executions (queued_seconds, running_seconds, fail_message)."""
    return admin("POST", "/workflows", {"name": name, "definition": definition, **attrs})


def update_workflow(workflow_id: int, **changes: Any) -> dict:
    """Change a workflow as its owner would in Civis: `definition` (new YAML; `updatedAt`
    moves), or the behaviour of new executions."""
    return admin("PATCH", f"/workflows/{workflow_id}", changes)


def job_runs(job_id: int) -> list[dict]:
    """Every run of a job, as the stand-in sees it (no API call counted)."""
    return admin("GET", f"/jobs/{job_id}")["runs"]


def seed(workflows: int = 300, jobs_per_workflow: int = 3, seed: int = 7,
         now: str | None = None) -> dict:
    """Seed a realistic mix of workflows and jobs; returns the workflow ids per category."""
    return admin("POST", "/seed", {"workflows": workflows, "jobs_per_workflow":
                                   jobs_per_workflow, "seed": seed, "now": now})
