"""Elasticsearch: osmem-server, an in-memory OpenSearch-API-compatible server (PyPI, MIT).

No Elasticsearch or OpenSearch server can be installed here, so the demo and the tests use the
static binary the osmem-server wheel bundles (ready in about half a second). It rejects the
elasticsearch-py 9 compatibility media type, which is why the connection sets the
`plain_media_types` extra that `precinct.hooks.elasticsearch.ElasticsearchHook` honours.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

from devstack.core import HOST, DevstackError, Service, conn_json

PORT = 19200


def binary() -> str:
    """The osmem-server executable: on PATH or next to this interpreter, else the wheel's own."""
    beside = Path(sys.executable).parent / "osmem-server"
    if beside.exists():
        return str(beside)
    if found := shutil.which("osmem-server"):
        return found
    try:
        from osmem_server import resolve_binary
    except ImportError as exc:
        raise DevstackError(
            "osmem-server is not installed: `pip install osmem-server` (see requirements.txt)"
        ) from exc
    return resolve_binary()


def command(service: Service) -> list[str]:
    # --no-stdin-watch: devstack gives the server no stdin; --no-ja: no Japanese analysis needed.
    return [binary(), "--addr", f"{HOST}:{service.port}", "--no-stdin-watch", "--no-ja"]


def healthy(service: Service) -> bool:
    url = f"{service.url}/_cluster/health"
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback URL
        body = json.load(response)
    return response.status == 200 and body.get("status") in {"green", "yellow"}


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": conn_json(
            conn_type="elasticsearch",
            host=HOST,
            port=service.port,
            schema="http",
            extra={"plain_media_types": True},
        ),
    }


SERVICE = Service(name="elasticsearch", port=PORT, command=command, healthy=healthy, env=env)
