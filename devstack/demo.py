"""`make demo`: run every DAG in dags/ once on its default params and say what each produced.

Each DAG runs with `airflow dags test` against devstack (no cloud credentials). A pipeline adds
a summary function to SUMMARIES that reads what the run produced (documents, rows, sheet cells)
from the stand-ins, so the line printed is evidence, not the DAG's own claim.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devstack.core import REPO_ROOT, read_env_file

DAGS_DIR = REPO_ROOT / "dags"

# dag_id -> "module:function" returning the key figures of what the run produced (imported only
# when that DAG ran, so one pipeline's client libraries never slow another's demo).
SUMMARIES: dict[str, str] = {
    "civis_workflow_audit": "devstack.demo_audit:summary",
    "flake_rate_refresh": "devstack.demo_flake_rate:summary",
    "shift_reset": "devstack.demo_shift_reset:summary",
    "state_finance_ingest": "devstack.demo_finance:summary",
    "voterfile_match": "devstack.demo_voterfile:summary",
}


# dag_id -> "module:function" that puts the demo's input in place before the run (seed data the
# stand-ins do not hold from the start).
PREPARES: dict[str, str] = {
    "civis_workflow_audit": "devstack.demo_audit:prepare",
}


def _demo_hook(dag_id: str, table: dict[str, str] | None = None) -> Callable[[], Any] | None:
    target = (SUMMARIES if table is None else table).get(dag_id)
    if not target:
        return None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def discover_dag_ids(folder: Path = DAGS_DIR) -> list[str]:
    """DAG ids defined in dags/, in file order (parsing only, no database)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=folder, bundle_path=folder)
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"import error in {path}:\n{error}", file=sys.stderr)
        raise SystemExit(1)
    return sorted(bag.dag_ids)


def run_dag(dag_id: str) -> tuple[bool, str]:
    """Run one DAG with `airflow dags test`; return (succeeded, last error line or '')."""
    env = {**os.environ, **read_env_file(), "AIRFLOW_HOME": str(REPO_ROOT)}
    # A demo that fails should say so in seconds, not after production retry waits.
    env.setdefault("PRECINCT_RETRY_DELAY_SECONDS", "2")
    log_dir = REPO_ROOT / ".airflow" / "demo"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{dag_id}.log"
    with open(log_path, "w") as log:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "test", dag_id],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO_ROOT,
            check=False,
        )
    if result.returncode == 0 and "state=failed" not in log_path.read_text(errors="replace"):
        return True, ""
    return False, f"{_last_error(log_path)} (log: {log_path.relative_to(REPO_ROOT)})"


def _last_error(log_path: Path) -> str:
    lines = log_path.read_text(errors="replace").splitlines()
    for line in reversed(lines):
        if re.match(r"^\w*(Error|Exception)\b.*:", line.strip()):
            return line.strip()[:300]
    return "the DAG run failed"


def main() -> int:
    import logging

    dag_ids = discover_dag_ids()
    # The summaries use the real clients; their request logs would bury the summary lines.
    logging.disable(logging.INFO)
    if not dag_ids:
        print("no pipelines yet: dags/ defines no DAG")
        return 0
    results: list[str] = []
    failed = False
    for dag_id in dag_ids:
        print(f"running {dag_id} ...", flush=True)
        prepare = _demo_hook(dag_id, PREPARES)
        if prepare:
            prepare()
        ok, reason = run_dag(dag_id)
        if ok:
            try:
                summary = _demo_hook(dag_id)
                figures = summary() if summary else "ran"
            except Exception as exc:  # noqa: BLE001 - report the summary problem, keep going
                ok, reason = False, f"could not read what it produced: {exc}"
        if ok:
            results.append(f"{dag_id}: success — {figures}")
        else:
            failed = True
            results.append(f"{dag_id}: failed — {reason}")
    print()
    for line in results:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
