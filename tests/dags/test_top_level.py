"""DAG files do no I/O at parse time: no network, no metadata DB, no Variables or Connections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devstack import s3
from tests.dags.dag_files import dag_files
from tests.support import airflow_env

SCRIPT = Path(__file__).resolve().parent / "parse_isolated.py"


def _parse(path: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(path)],
        env=airflow_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", dag_files(), ids=lambda p: p.name)
def test_parses_without_network_or_database(path):
    outcome = _parse(path)
    assert outcome["errors"] == {}
    assert outcome["dags"], f"{path.name} defines no DAG"
    assert outcome["clients"] == [], f"{path.name} imports client libraries at parse time"


def test_the_check_catches_top_level_io(tmp_path, devstack_env):
    """The isolation really bites: a DAG calling a live local server at top level is reported."""
    bad = tmp_path / "bad_dag.py"
    bad.write_text(
        "from datetime import datetime\n"
        "import urllib.request\n"
        "from airflow.sdk import DAG\n"
        f"urllib.request.urlopen('{s3.SERVICE.url}/moto-api/', timeout=5)\n"
        "with DAG('bad', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        "    pass\n"
    )
    outcome = _parse(bad)
    assert "network access at DAG parse time" in json.dumps(outcome["errors"])


def test_the_check_catches_a_client_library_import(tmp_path):
    """A DAG file importing a hook module that loads its client at top level is reported."""
    heavy = tmp_path / "heavy_dag.py"
    heavy.write_text(
        "from datetime import datetime\n"
        "from airflow.sdk import DAG\n"
        "from precinct.hooks.elasticsearch import ElasticsearchHook  # noqa: F401\n"
        "with DAG('heavy', schedule=None, start_date=datetime(2026, 1, 1)):\n"
        "    pass\n"
    )
    assert "elasticsearch" in _parse(heavy)["clients"]
