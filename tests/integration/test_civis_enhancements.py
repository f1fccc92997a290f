"""The Civis stand-in's Data Match and CASS/NCOA plug-in (devstack/civis_enhancements.py).

Against the running stand-in and the seeded voterfile: every answer is validated against the
spec's response schema (the same check as tests/unit/test_civis_standin_spec.py), runs go
queued -> running -> succeeded/failed, the output tables hold what the pipeline reads, and
`/match_targets` lists the seeded voterfile.
"""

# The test schema's name is generated here (uuid hex), never user input.
# ruff: noqa: S608
from __future__ import annotations

import uuid

import psycopg
import pytest

from devstack import civis, postgres
from devstack.seed_voterfile import MATCH_TARGET_ID, ensure_seeded
from tests.unit.test_civis_standin_spec import Api

pytestmark = pytest.mark.usefixtures("devstack_env")


class LiveApi(Api):
    def __init__(self):
        from devstack.civis_standin import Spec

        self.base = civis.SERVICE.url
        self.spec = Spec()
        import requests

        self.session = requests.Session()
        self.session.auth = (civis.API_KEY, "")

    def wait(self, path: str, done=("succeeded", "failed", "cancelled")) -> dict:
        import time

        states = []
        for _ in range(300):
            data, _ = self.call("GET", path)
            states.append(data["state"])
            if data["state"] in done:
                data["seen"] = states
                return data
            time.sleep(0.1)
        raise AssertionError(f"{path} never finished: {states[-5:]}")


@pytest.fixture(scope="module")
def api(devstack_env) -> LiveApi:
    ensure_seeded()
    return LiveApi()


@pytest.fixture
def schema():
    name = f"vfenh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"CREATE TABLE {name}.src AS SELECT * FROM demo.voterfile_signups "
                     f"WHERE id <= 60")
    yield name
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def test_data_match_scores_and_writes_civis_output_columns(api: LiveApi, schema):
    body = {"name": "dm test", "input_field_mapping": {
        "primary_key": "id", "first_name": "first_name", "last_name": "last_name",
        "email": "email", "phone": "phone", "full_address": "address", "zip": "zip",
        "birth_date": "birth_date", "state_code": "state"},
        "input_table": {"databaseName": "redshift-general", "schema": schema, "table": "src"},
        "match_target_id": MATCH_TARGET_ID,
        "output_table": {"databaseName": "redshift-general", "schema": schema, "table": "out"},
        "max_matches": 2, "threshold": 0.3}
    job, _ = api.call("POST", "/enhancements/civis-data-match/", body)
    got, _ = api.call("GET", f"/enhancements/civis-data-match/{job['id']}")
    assert got["maxMatches"] == 2 and got["inputTable"]["table"] == "src"
    run, _ = api.call("POST", f"/enhancements/civis-data-match/{job['id']}/runs")
    assert run["civisDataMatchId"] == job["id"] and run["state"] == "queued"
    done = api.wait(f"/enhancements/civis-data-match/{job['id']}/runs/{run['id']}")
    assert done["state"] == "succeeded" and "running" in done["seen"]
    runs, _ = api.call("GET", f"/enhancements/civis-data-match/{job['id']}/runs")
    assert [r["id"] for r in runs] == [run["id"]]
    generic, _ = api.call("GET", f"/jobs/{job['id']}/runs/{run['id']}")
    assert generic["state"] == "succeeded"
    with psycopg.connect(postgres.dsn("civis")) as conn:
        cols = [r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND "
            "table_name = 'out' ORDER BY ordinal_position", (schema,))]
        assert cols == ["source_id", "person_id", "voterbase_id", "score", "match_rank"]
        rows = conn.execute(f"SELECT o.source_id, o.person_id, o.score, o.match_rank, "
                            f"t.person_id FROM {schema}.out o JOIN demo.voterfile_signups_truth"
                            f" t ON t.id::text = o.source_id").fetchall()
    assert rows and all(0.3 <= float(r[2]) <= 1 and r[3] in (1, 2) for r in rows)
    top = [r for r in rows if r[3] == 1 and float(r[2]) >= 0.6]
    assert top and sum(r[1] == r[4] for r in top) / len(top) > 0.95


def test_data_match_with_an_unknown_target_fails_with_a_message(api: LiveApi, schema):
    body = {"name": "dm bad", "input_field_mapping": {"primary_key": "id"},
            "input_table": {"schema": schema, "table": "src"}, "match_target_id": 999,
            "output_table": {"schema": schema, "table": "out"}}
    job, _ = api.call("POST", "/enhancements/civis-data-match/", body)
    run, _ = api.call("POST", f"/enhancements/civis-data-match/{job['id']}/runs")
    done = api.wait(f"/enhancements/civis-data-match/{job['id']}/runs/{run['id']}")
    assert done["state"] == "failed" and "Match target 999" in done["error"]


def test_match_targets_list_the_seeded_voterfile_in_the_spec_shape(api: LiveApi):
    targets, _ = api.call("GET", "/match_targets/")  # validated against the spec's Matchtarget
    active = [t for t in targets if not t["archived"]]
    assert [t["id"] for t in active] == [MATCH_TARGET_ID]
    assert any(t["archived"] for t in targets)
    one, _ = api.call("GET", f"/match_targets/{MATCH_TARGET_ID}")
    assert one == active[0]
    api.call("GET", "/match_targets/999", expect=404)


def test_data_match_with_an_archived_target_fails(api: LiveApi, schema):
    archived = next(t["id"] for t in api.call("GET", "/match_targets/")[0] if t["archived"])
    body = {"name": "dm archived", "input_field_mapping": {"primary_key": "id"},
            "input_table": {"schema": schema, "table": "src"}, "match_target_id": archived,
            "output_table": {"schema": schema, "table": "out"}}
    job, _ = api.call("POST", "/enhancements/civis-data-match/", body)
    run, _ = api.call("POST", f"/enhancements/civis-data-match/{job['id']}/runs")
    done = api.wait(f"/enhancements/civis-data-match/{job['id']}/runs/{run['id']}")
    assert done["state"] == "failed" and f"Match target {archived} not found" in done["error"]


def test_cass_ncoa_standardises_and_forwards_moved_addresses(api: LiveApi, schema):
    body = {"name": "cass test",
            "source": {"databaseTable": {"schema": schema, "table": "src",
                                         "multipartKey": ["id"]}},
            "destination": {"databaseTable": {"schema": schema, "table": "cass"}},
            "column_mapping": {"address1": "address", "address2": "unit", "city": "city",
                               "state": "state", "zip": "zip", "name": "last_name"},
            "perform_ncoa": True, "limiting_sql": "id <= 40"}
    job, _ = api.call("POST", "/enhancements/cass-ncoa", body)
    run, _ = api.call("POST", f"/enhancements/cass-ncoa/{job['id']}/runs")
    assert run["cassNcoaId"] == job["id"]
    done = api.wait(f"/enhancements/cass-ncoa/{job['id']}/runs/{run['id']}")
    assert done["state"] == "succeeded"
    with psycopg.connect(postgres.dsn("civis")) as conn:
        rows = conn.execute(
            f"SELECT c.id, c.cass_address1, c.cass_status, v.address1 = c.cass_address1 "
            f"FROM {schema}.cass c JOIN demo.voterfile_signups_truth t USING (id) "
            f"JOIN public.voterfile v ON v.person_id = t.person_id "
            f"WHERE t.kind IN ('moved', 'unstandardised')").fetchall()
        total = conn.execute(f"SELECT COUNT(*) FROM {schema}.cass").fetchone()[0]
    assert total == 40  # limitingSQL applied
    assert rows and all(r[3] for r in rows)  # standardised / forwarded to the voterfile's
    assert any(r[2] == "moved" for r in rows)
