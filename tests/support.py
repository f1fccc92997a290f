"""Helpers tests share for running the Airflow CLI against the project's AIRFLOW_HOME."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devstack.core import read_env_file

REPO = Path(__file__).resolve().parent.parent


def airflow_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment an `airflow ...` subprocess of a test runs with."""
    env = {**os.environ, **read_env_file(), "AIRFLOW_HOME": str(REPO)}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "plugins"), str(REPO)])
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra or {})
    return env


def run_airflow(*args: str, extra_env: dict[str, str] | None = None, timeout: int = 300):
    """Run the `airflow` CLI of this interpreter's environment and return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=airflow_env(extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )
