"""docker-compose.yaml mounts what exists and configures every connection the DAGs use."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from precinct import connections

REPO = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
DESIGN = REPO.parent / "shared" / "DESIGN.md"
AIRFLOW_COMPONENTS = [
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker",
    "airflow-triggerer", "airflow-init",
]


def _bind_mounts():
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                yield name, source


def test_the_official_stack_is_there():
    services = set(COMPOSE["services"])
    assert set(AIRFLOW_COMPONENTS) <= services
    assert {"postgres", "redis", "elasticsearch", "tracker-db", "mailpit"} <= services
    env = COMPOSE["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Required from .env, never a default written here (a public secret signs task tokens).
    assert re.fullmatch(r"\$\{AIRFLOW_JWT_SECRET:\?[^}]+\}", env["AIRFLOW__API_AUTH__JWT_SECRET"])
    assert "AIRFLOW_UID" in COMPOSE["x-airflow-common"]["user"]
    assert COMPOSE["services"]["elasticsearch"]["image"].split(":")[-1].startswith("9.")


@pytest.mark.parametrize(("service", "source"), list(_bind_mounts()))
def test_every_mounted_path_exists(service, source):
    assert (REPO / source).exists(), f"{service} mounts {source}, which is not in the repository"


def test_task_logs_go_to_the_logs_volume():
    env = COMPOSE["x-airflow-common"]["environment"]
    mounts = dict(v.split(":")[:2] for v in COMPOSE["x-airflow-common"]["volumes"])
    assert mounts.get("airflow-logs") == env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]


def test_dags_plugins_include_and_config_are_mounted():
    targets = {v.split(":")[1] for v in COMPOSE["x-airflow-common"]["volumes"]}
    for folder in ("dags", "plugins", "include", "airflow.cfg"):
        assert f"/opt/airflow/{folder}" in targets


@pytest.mark.parametrize("conn_id", connections.ALL)
def test_every_connection_is_configured(conn_id):
    raw = COMPOSE["x-airflow-common"]["environment"].get(connections.env_var(conn_id))
    assert raw, f"{conn_id} is not configured"
    # Substitute compose's ${VAR:-default} with its default to check the JSON is well formed.
    resolved = re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", lambda m: m.group(1), raw)
    assert json.loads(resolved)["conn_type"]


def test_connection_ids_match_the_design():
    assert DESIGN.exists(), "../shared/DESIGN.md must be beside this checkout (as on CI)"
    table = DESIGN.read_text().split("## Connections", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `([a-z_]+)` \|", table, re.M)) == set(connections.ALL)
