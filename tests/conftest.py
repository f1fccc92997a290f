"""Shared test setup: Airflow home, the devstack connections, and a migrated metadata DB.

Integration tests talk to the real stand-ins over loopback. `make test` starts them with
`python -m devstack up`; running pytest directly starts whatever is not up yet (and stops only
what it started).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
os.environ["AIRFLOW_HOME"] = str(REPO)
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

from devstack.core import read_env_file, write_env_file  # noqa: E402
from devstack.services import SERVICES  # noqa: E402


@pytest.fixture(scope="session")
def devstack_env() -> dict[str, str]:
    """Every stand-in up, and its AIRFLOW_CONN_* / AIRFLOW_VAR_* variables in os.environ."""
    started = []
    for service in SERVICES:
        if not service.is_up():
            service.start()
            started.append(service)
    env = read_env_file(write_env_file(SERVICES))
    os.environ.update(env)
    yield env
    for service in reversed(started):
        service.stop()


@pytest.fixture(scope="session")
def airflow_db(devstack_env: dict[str, str]) -> Path:
    """A migrated SQLite metadata DB under .airflow/ (what `airflow dags test` needs)."""
    (REPO / ".airflow").mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **devstack_env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return REPO / ".airflow" / "airflow.db"
