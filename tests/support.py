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


def run_id_of(output: str) -> str:
    """The run id `airflow dags test` printed (a manual run's)."""
    import re

    match = re.search(r"run_id=(manual__[^\s,>]+)", output)
    assert match, output[-3000:]
    return match.group(1)


def task_tries(dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
    """Each task instance's final state and try number in one run, from the metadata DB:
    `task_id` for a task, `task_id[map index]` for each of a mapped task's instances."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dag_id,
                                       TaskInstance.run_id == run_id)
        ).all()
        return {
            (ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"):
                (str(ti.state), ti.try_number)
            for ti in tis
        }
