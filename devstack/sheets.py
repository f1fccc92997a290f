"""Google Sheets: our v4 REST stand-in (devstack/sheets_standin.py) and its OAuth token endpoint.

The `google_cloud_default` connection it writes is a real service-account connection: a
`keyfile_dict` whose RSA key was generated once into .devstack/sheets/ and whose `token_uri`
points at the stand-in, plus `sheets_endpoint` so that SheetsHook sends Google's API hosts there.
google-auth signs a JWT, trades it for a bearer token at the stand-in and sends it on each call,
exactly as it would against Google. The helpers below are the stand-in's test controls, used by
the tests and the demo to read a spreadsheet back as a person would see it.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from devstack.core import HOST, STATE_DIR, Service, conn_json, python_argv
from devstack.sheets_standin import ensure_keyfile

PORT = 18083  # plus PRECINCT_DEVSTACK_PORT_OFFSET: use SERVICE.url
KEYFILE = STATE_DIR / "sheets" / "service_account.json"
STATE_FILE = STATE_DIR / "sheets" / "state.json"
PROJECT = "demo"
# A spreadsheet that always exists in devstack, for the demo and manual DAG runs.
DEMO_SPREADSHEET_ID = "precinct-devstack"


def command(service: Service) -> list[str]:
    return python_argv(
        "devstack.sheets_standin",
        "--host", HOST,
        "--port", str(service.port),
        "--state-file", str(STATE_FILE),
        "--keyfile", str(KEYFILE),
        "--seed", DEMO_SPREADSHEET_ID,
    )


def healthy(service: Service) -> bool:
    with urllib.request.urlopen(f"{service.url}/__admin/health", timeout=2) as response:  # noqa: S310
        return response.status == 200 and json.load(response).get("status") == "ok"


def prepare(service: Service) -> None:
    ensure_keyfile(KEYFILE, f"{service.url}/token", project=PROJECT)


def env(service: Service) -> dict[str, str]:
    keyfile = json.loads(KEYFILE.read_text())
    return {
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": conn_json(
            conn_type="google_cloud_platform",
            extra={
                "project": PROJECT,
                "keyfile_dict": json.dumps(keyfile),
                "sheets_endpoint": service.url,
            },
        ),
        # The DAGs' spreadsheet Params default to None (a deployment sets these Variables):
        # devstack's spreadsheet, so `make demo` runs the audit and the refresh on their defaults.
        "AIRFLOW_VAR_CIVIS_WORKFLOW_AUDIT_SPREADSHEET_ID": DEMO_SPREADSHEET_ID,
        "AIRFLOW_VAR_FLAKE_RATE_REFRESH_SPREADSHEET_ID": DEMO_SPREADSHEET_ID,
    }


SERVICE = Service(
    name="sheets", port=PORT, command=command, healthy=healthy, env=env, prepare=prepare
)


# -- test controls (loopback, no auth) --------------------------------------------------------


def admin(method: str, path: str, body: dict | None = None, base_url: str | None = None) -> Any:
    """Call one of the stand-in's /__admin/ routes and return its JSON answer."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - loopback stand-in
        f"{base_url or SERVICE.url}/__admin/{path.lstrip('/')}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def create_spreadsheet(
    spreadsheet_id: str, title: str | None = None, sheets: list[str] | None = None,
    *, replace: bool = True,
) -> dict:
    """Create (or, by default, replace) a spreadsheet; its metadata as spreadsheets.get shows it."""
    body = {"spreadsheetId": spreadsheet_id, "title": title, "sheets": sheets, "replace": replace}
    return admin("POST", "spreadsheets", body)


def spreadsheet_state(spreadsheet_id: str) -> dict:
    """Every sheet's properties, formatted `values`, `unformattedValues`, `formats` by cell."""
    return admin("GET", f"spreadsheets/{spreadsheet_id}")


def tab_state(spreadsheet_id: str, title: str) -> dict:
    """One tab of `spreadsheet_state` (KeyError if there is no such tab)."""
    for sheet in spreadsheet_state(spreadsheet_id)["sheets"]:
        if sheet["properties"]["title"] == title:
            return sheet
    raise KeyError(title)


def inject_fault(
    status: int = 429, count: int = 1, *, method: str | None = None, path: str | None = None,
    retry_after: float | None = None, landed: bool = False,
) -> None:
    """Make the next `count` /v4 calls matching method and path (a regex) answer `status`.

    `landed`: each of those calls takes effect first, then answers `status` (a lost answer).
    """
    admin("POST", "faults", {"status": status, "count": count, "method": method, "path": path,
                             "retry_after": retry_after, "landed": landed})


def clear_faults() -> None:
    admin("DELETE", "faults")


def calls() -> list[dict]:
    """The /v4 and /token calls the stand-in answered, oldest first (method, path, status)."""
    return admin("GET", "calls")["calls"]


def clear_calls() -> None:
    admin("DELETE", "calls")
