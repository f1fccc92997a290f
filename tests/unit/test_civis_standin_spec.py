"""The Civis stand-in answers in the shapes of the API spec bundled in the `civis` package.

An in-process stand-in (no devstack needed: SQL scripts get a stub executor) is driven through
every route it implements; every JSON answer is validated with jsonschema against the spec's
response schema for that operation (nullable everywhere, since the spec has no nullability
flags, and no keys beyond the schema's). The test fails if a route the stand-in implements was
not exercised, so a new route needs a check here. Errors use Civis's error shape.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

import jsonschema
import pytest
import requests

from devstack import civis_standin as standin

KEY = "unit-test-civis-key-0123456789"


def _nullable(schema: Any) -> Any:
    """A Swagger 2.0 schema as JSON Schema draft 4: every type also allows null, and objects
    with declared properties allow no others."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key.startswith("x-") or key in ("description", "example", "format"):
            continue
        if key in ("properties", "definitions"):
            out[key] = {name: _nullable(sub) for name, sub in value.items()}
        elif key == "items":
            out[key] = _nullable(value)
        else:
            out[key] = value
    if isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    if "properties" in schema and schema.get("type", "object") == "object":
        out["additionalProperties"] = False
    return out


@cache
def _definitions() -> dict[str, Any]:
    return {name: _nullable(sub) for name, sub in standin.Spec().definitions.items()}


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, standin.Standin]]:
    app = standin.build_app("postgresql://nowhere/none", [KEY], plugins=[])

    def stub_sql(ctx: standin.RunContext) -> None:
        ctx.add_output_file(f"{ctx.job.name}.csv.gz", [(1, "a"), (2, None)], ["n", "s"],
                            types=["int4", "varchar"])

    app.register_executor("sql", stub_sql)
    app.store.defaults.update(queued_seconds=0.05, running_seconds=0.2)
    httpd = standin.make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", app
    httpd.shutdown()
    httpd.server_close()


class Api:
    """Calls the stand-in and validates every answer against the spec."""

    def __init__(self, base: str, app: standin.Standin):
        self.base = base
        self.app = app
        self.spec = app.spec
        self.session = requests.Session()
        self.session.auth = (KEY, "")

    def call(self, method: str, path: str, body: dict | None = None, expect: int | None = None,
             **params: Any) -> Any:
        response = self.session.request(method, self.base + path, json=body, params=params,
                                        timeout=10)
        route, op, _ = self.spec.route_for(method, path)
        status, _schema = self.spec.response(op)
        assert response.status_code == (expect or status), (method, path, response.text)
        data = response.json() if response.content else None
        if response.status_code == status:
            self.validate(op, status, data, f"{method} {route.template}")
        else:
            assert set(data) == {"error", "errorDescription", "code"}, data
        return data, response

    def validate(self, op: dict, status: int, data: Any, label: str) -> None:
        schema = op["responses"][str(status)].get("schema")
        if schema is None:
            assert data is None, f"{label}: the spec declares no body, got {data!r}"
            return
        root = {**_nullable(schema), "definitions": _definitions()}
        errors = sorted(jsonschema.Draft4Validator(root).iter_errors(data), key=str)
        assert not errors, f"{label}: {[f'{list(e.path)}: {e.message}' for e in errors[:5]]}"

    def wait(self, path: str, done=("succeeded", "failed", "cancelled")) -> dict:
        for _ in range(100):
            data, _ = self.call("GET", path)
            if data["state"] in done:
                return data
            time.sleep(0.05)
        raise AssertionError(f"{path} never finished")


@pytest.fixture(scope="module")
def api(server) -> Api:
    return Api(*server)


def test_every_implemented_route_answers_in_the_spec_shape(api: Api, server):
    _, app = server
    api.call("GET", "/users/me")
    dbs, _ = api.call("GET", "/databases/")
    api.call("GET", f"/databases/{dbs[0]['id']}")
    creds, _ = api.call("GET", "/credentials/", default="True", type="Database")
    api.call("GET", f"/credentials/{creds[0]['id']}")

    # SQL script: create, get, run, poll, list, outputs, logs, output file, cancel
    script, _ = api.call("POST", "/scripts/sql", {
        "name": "spec check", "remote_host_id": dbs[0]["id"],
        "credential_id": creds[0]["id"], "sql": "select 1", "csv_settings": {
            "compression": "gzip"}})
    sid = script["id"]
    api.call("GET", f"/scripts/sql/{sid}")
    run, _ = api.call("POST", f"/scripts/sql/{sid}/runs")
    done = api.wait(f"/scripts/sql/{sid}/runs/{run['id']}")
    assert done["state"] == "succeeded" and done["output"]
    api.call("GET", f"/scripts/sql/{sid}/runs")
    api.call("GET", f"/scripts/sql/{sid}/runs/{run['id']}/outputs")
    api.call("GET", f"/scripts/sql/{sid}/runs/{run['id']}/logs")
    file_id = done["output"][0]["fileId"]
    meta, _ = api.call("GET", f"/files/{file_id}")
    download = requests.get(done["output"][0]["path"], timeout=10)  # presigned: no auth
    assert gzip.decompress(download.content).decode() == "n,s\n1,a\n2,\n"
    assert meta["fileSize"] == len(download.content)
    api.call("DELETE", f"/scripts/sql/{sid}/runs/{run['id']}")
    api.call("GET", f"/scripts/{sid}")

    # container, python3 and custom scripts
    app.store.defaults.update(running_seconds=30)
    created = {
        "containers": api.call("POST", "/scripts/containers", {
            "name": "c", "required_resources": {"cpu": 256, "memory": 512},
            "docker_image_name": "civisanalytics/datascience-python",
            "docker_command": "echo hi"})[0],
        "python3": api.call("POST", "/scripts/python3", {"name": "p", "source": "print(1)"})[0],
        "custom": api.call("POST", "/scripts/custom", {"from_template_id": 1234})[0],
    }
    for segment, script in created.items():
        base_path = f"/scripts/{segment}/{script['id']}"
        api.call("GET", base_path)
        run, _ = api.call("POST", f"{base_path}/runs")
        api.call("GET", f"{base_path}/runs/{run['id']}")
        api.call("GET", f"{base_path}/runs")
        api.call("GET", f"{base_path}/runs/{run['id']}/outputs")
        api.call("GET", f"{base_path}/runs/{run['id']}/logs")
        api.call("DELETE", f"{base_path}/runs/{run['id']}")
        cancelled, _ = api.call("GET", f"{base_path}/runs/{run['id']}")
        assert cancelled["state"] == "cancelled"
    cid = created["containers"]["id"]
    api.call("POST", f"/scripts/containers/{cid}/runs")
    cancel, _ = api.call("POST", f"/scripts/{cid}/cancel")
    assert cancel["isCancelRequested"] is True

    # imports (made through the admin endpoint: creating one needs a real remote host)
    imp = standin.admin_create_job(app.store, {"kind": "import", "name": "VAN import",
                                               "running_seconds": 30})
    api.call("GET", f"/imports/{imp.id}")
    started, _ = api.call("POST", f"/imports/{imp.id}/runs")
    conflict, _ = api.call("POST", f"/imports/{imp.id}/runs", expect=409)
    assert conflict == {"error": "conflict", "errorDescription":
                        "The import cannot be queued because it is already active.",
                        "code": 409}
    api.call("GET", f"/imports/{imp.id}/runs")
    api.call("GET", f"/imports/{imp.id}/runs/{started['runId']}/logs")

    # generic jobs
    app.store.defaults.update(running_seconds=0.2)
    listing, response = api.call("GET", "/jobs/", limit=3)
    assert len(listing) == 3
    assert int(response.headers["X-Pagination-Total-Pages"]) >= 2
    api.call("GET", f"/jobs/{cid}")
    run, _ = api.call("POST", f"/jobs/{cid}/runs")
    api.call("GET", f"/jobs/{cid}/runs")
    api.wait(f"/jobs/{cid}/runs/{run['id']}")
    api.call("GET", f"/jobs/{cid}/runs/{run['id']}/outputs")
    api.call("GET", f"/jobs/{cid}/runs/{run['id']}/logs")
    api.call("DELETE", f"/jobs/{cid}/runs/{run['id']}")

    # workflows: a seeded mix, paged; create; executions
    summary = standin.seed(app.store, workflows=30, seed=3)
    first, response = api.call("GET", "/workflows/", limit=7, page_num=1)
    assert response.headers["X-Pagination-Per-Page"] == "7"
    total = int(response.headers["X-Pagination-Total-Entries"])
    assert total == 30 - len(summary["by_category"]["archived"])
    pages = int(response.headers["X-Pagination-Total-Pages"])
    seen = list(first)
    for page in range(2, pages + 2):
        items, _ = api.call("GET", "/workflows/", limit=7, page_num=page)
        seen += items
    assert len(seen) == total and len({w["id"] for w in seen}) == total  # last page: empty
    definition = ("version: '2.0'\nworkflow:\n  tasks:\n    step_1:\n"
                  "      action: civis.run_job\n      input:\n"
                  f"        job_id: {cid}\n")
    wf, _ = api.call("POST", "/workflows/", {"name": "spec wf", "definition": definition})
    detail, _ = api.call("GET", f"/workflows/{wf['id']}")
    assert detail["definition"] == definition and detail["valid"] is True
    execution, _ = api.call("POST", f"/workflows/{wf['id']}/executions", {})
    api.call("GET", f"/workflows/{wf['id']}/executions")
    api.call("GET", f"/workflows/{wf['id']}/executions/{execution['id']}")
    cancelled, _ = api.call("POST",
                            f"/workflows/{wf['id']}/executions/{execution['id']}/cancel")
    assert cancelled["state"] == "cancelled"
    for wf_id in summary["by_category"]["failing"][:3] + summary["by_category"]["broken_yaml"]:
        detail, _ = api.call("GET", f"/workflows/{wf_id}")
        api.call("GET", f"/workflows/{wf_id}/executions")

    exercised = {key for key in app.store.calls if key != "total"}
    implemented = {f"{method} {template}" for method, template in app.handlers}
    assert implemented <= exercised, sorted(implemented - exercised)


def test_errors_use_the_civis_error_shape(api: Api):
    response = api.session.get(api.base + "/no/such/endpoint", timeout=10)
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "errorDescription":
                               "The requested endpoint could not be found.", "code": 404}

    response = api.session.delete(api.base + "/workflows/", timeout=10)
    assert response.status_code == 405
    assert response.json()["code"] == 405 and "GET" in response.headers["Allow"]

    # /scripts/sql has only POST: GET is 405, not /scripts/{id} with id "sql"
    assert api.session.get(api.base + "/scripts/sql", timeout=10).status_code == 405

    response = requests.get(api.base + "/users/me", auth=("wrong-key", ""), timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert response.headers["WWW-Authenticate"]  # civis raises CivisAPIKeyError from it
    assert requests.get(api.base + "/users/me", timeout=10).status_code == 401

    response = api.session.post(api.base + "/scripts/sql", json={"name": "x", "bogus": 1},
                                timeout=10)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "bad_request" and "'sql' is required" in body["errorDescription"]
    assert "unknown parameter 'bogus'" in body["errorDescription"]

    response = api.session.get(api.base + "/jobs/999999", timeout=10)
    assert response.status_code == 404 and response.json()["error"] == "not_found"


def test_429_switch_answers_with_retry_after_then_recovers(api: Api, server):
    _, app = server
    app.store.faults.append(standin.Fault(status=429, remaining=2, retry_after=3,
                                          path="/users/me"))
    first = api.session.get(api.base + "/users/me", timeout=10)
    second = api.session.get(api.base + "/users/me", timeout=10)
    third = api.session.get(api.base + "/users/me", timeout=10)
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.headers["Retry-After"] == "3"
    assert first.json() == {"error": "rate_limit_exceeded",
                            "errorDescription": "Rate limit exceeded.", "code": 429}
