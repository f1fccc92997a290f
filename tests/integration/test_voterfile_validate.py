"""voterfile_match's `validate` task (and the step after it) against the Civis stand-in and the
devstack PostgreSQL database `civis`: what the form names must exist before anything is staged,
and a bad value fails at once (`AirflowFailException`: no retry) naming the form field.

Each test builds its own tiny input and voterfile tables in a schema of its own.
"""

# The test schema's name is generated here (uuid hex), never user input.
# ruff: noqa: S608
from __future__ import annotations

import uuid
from datetime import datetime
from types import SimpleNamespace

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from devstack import postgres
from precinct.operators import voterfile
from precinct.operators.civis import CivisRunOperator
from precinct.operators.voterfile_sql import VoterfileSqlOperator
from tests.integration.civis_support import FakeTI, MemoryRegistry, execute

pytestmark = pytest.mark.usefixtures("devstack_env")


@pytest.fixture
def schema():
    name = f"vfval_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
        conn.execute(f"""
            CREATE TABLE {name}.voters (person_id bigint, voterbase_id text, first_name text,
              last_name text, state text);
            CREATE TABLE {name}.input (id integer, first_name text, last_name text,
              "ZipCode" text, state text);
            INSERT INTO {name}.input VALUES (1, 'Ann', 'Lee', '60601', 'il'),
              (2, 'Bo', 'Diaz', NULL, 'WI');
        """)
    yield name
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def params(schema: str, **overrides) -> dict:
    """The form as the DAG's Params hand it over (unused PII fields blank)."""
    return {
        "input_table": f"{schema}.input", "primary_key": "id",
        "first_name_column": "first_name", "last_name_column": "last_name",
        "state_column": "state", "zip_column": None,
        "output_table": f"{schema}.matched", "voterfile_table": f"{schema}.voters",
        "match_target": 1, "max_matches": 3, "rematch_threshold": 0.6, "cutoff": 0.4,
        "cass_ncoa": True, "match_rate_floor": 0.5, "cass_chunk_rows": 250_000,
        "database": "redshift-general", **overrides,
    }


def refused(form: dict) -> str:
    with pytest.raises(AirflowFailException) as err:
        voterfile.validate_task(form)
    return str(err.value)


def test_good_form_passes_and_carries_the_database(schema):
    config = voterfile.validate_task(params(schema))
    assert config["extra"] == {"database": "redshift-general"}
    assert config["columns"] == {"first_name": "first_name", "last_name": "last_name",
                                 "state": "state"}


def test_a_database_the_key_cannot_use_fails_naming_the_field_and_listing_the_databases(
        schema):
    message = refused(params(schema, database="redshift-genral"))
    assert message == ("Invalid form value: database: 'redshift-genral' is not a Civis "
                       "database this API key can use (available: redshift-general)")
    assert refused(params(schema, database="")).startswith("Invalid form value: database: ")
    assert refused(params(schema, database="99")).startswith("Invalid form value: database: ")


def test_the_database_may_be_given_by_id_and_later_tasks_get_its_name(schema):
    assert voterfile.validate_task(params(schema, database="1"))["extra"] == {
        "database": "redshift-general"}


def test_a_missing_voterfile_table_fails_before_anything_is_staged(schema):
    message = refused(params(schema, voterfile_table=f"{schema}.no_voters"))
    assert message == (f"Invalid form value: voterfile_table: {schema}.no_voters does not "
                       "exist or has no columns")


def test_a_voterfile_table_without_the_extra_match_columns_fails_naming_the_field(schema):
    # The input table exists, but has no person_id: the dedupe step could not read it.
    message = refused(params(schema, voterfile_table=f"{schema}.input"))
    assert message == (f"Invalid form value: voterfile_table: {schema}.input has no column "
                       "'person_id' (the extra-match rule reads person_id, state, first_name, "
                       "last_name)")


def staged(schema: str) -> list[tuple]:
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return conn.execute(f"SELECT source_id, first_name, last_name, state, zip FROM "
                            f"{schema}.matched__stg_universe ORDER BY source_id").fetchall()


def test_column_names_in_another_case_resolve_to_the_catalogs_and_staging_works(schema,
                                                                              monkeypatch):
    monkeypatch.setattr(CivisRunOperator, "registry", MemoryRegistry())
    # The form's names differ in case from the catalog's (`first_name`, `"ZipCode"`): validate
    # passes them on as the catalog spells them, so the quoted names in the SQL exist.
    config = voterfile.validate_task(params(schema, primary_key="ID",
                                            first_name_column="First_Name",
                                            zip_column="zipcode"))
    assert config["primary_key"] == "id"
    assert config["columns"] == {"first_name": "first_name", "last_name": "last_name",
                                 "state": "state", "zip": "ZipCode"}
    op = VoterfileSqlOperator(task_id="stage_universe", step="stage_universe", config=config,
                              deferrable=False)
    context = {"ti": FakeTI(op.task_id), "run_id": "manual__case", "params": {},
               "dag_run": SimpleNamespace(run_after=datetime(2026, 11, 3, 10))}
    assert execute(op, context) == 2
    assert staged(schema) == [("1", "Ann", "Lee", "IL", "60601"),
                              ("2", "Bo", "Diaz", "WI", None)]
