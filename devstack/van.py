"""VAN: our own stand-in for the NGP VAN v4 API (devstack/van_standin.py), for `van_default`.

The stand-in accepts exactly one application name and key (below; fake, devstack only) and
serves MyCampaign data for mode 1 (what `van_default` uses) and other data for mode 0.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from devstack.core import HOST, Service, conn_json, http_ok, python_argv
from devstack.sheets import DEMO_SPREADSHEET_ID

PORT = 18082
APP_NAME = "precinct-devstack"
API_KEY = "devstack-van-0c1d5e-not-a-real-key"  # the stand-in's fake key, devstack only
MODE = 1  # MyCampaign


def command(service: Service) -> list[str]:
    return python_argv("devstack.van_standin", "--host", HOST, "--port", str(service.port))


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_VAN_DEFAULT": conn_json(
            conn_type="http",
            host=f"{service.url}/v4",
            login=APP_NAME,
            password=API_KEY,
            extra={"mode": MODE},
        ),
        # shift_reset's wiring: its Doors knocked export goes to devstack's Sheets spreadsheet.
        "AIRFLOW_VAR_SHIFT_RESET_DOORS_SPREADSHEET_ID": DEMO_SPREADSHEET_ID,
    }


def admin(path: str, payload: dict[str, Any] | None = None) -> Any:
    """Call one of the stand-in's /__admin/ test controls (POST when a payload is given)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback URL
        f"{SERVICE.url}/__admin/{path}",
        data=data,
        method="GET" if payload is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.load(response)


SERVICE = Service(
    name="van",
    port=PORT,
    command=command,
    healthy=http_ok("/__admin/health"),
    env=env,
    extra_env={"VAN_STANDIN_APP": APP_NAME, "VAN_STANDIN_KEY": API_KEY},
)
