"""Every step of voterfile_match's SQL, on the devstack PostgreSQL (the Redshift stand-in).

Each test builds a tiny input, voterfile and Data Match / CASS output by hand in its own schema,
runs one builder's SQL with bound values (and once through `render`, as Civis gets it), and
checks the rows.
"""

# The test schema's name is generated here (uuid hex), never user input.
# ruff: noqa: S608
from __future__ import annotations

import threading
import uuid
from datetime import date

import psycopg
import pytest

from devstack import postgres
from precinct.voterfile import sql
from precinct.voterfile.names import recover_name
from precinct.voterfile.validation import parse_params

pytestmark = pytest.mark.usefixtures("devstack_env")


@pytest.fixture
def db():
    schema = f"vfsql_{uuid.uuid4().hex[:8]}"
    conn = psycopg.connect(postgres.dsn("civis"), autocommit=True)
    conn.execute(f"CREATE SCHEMA {schema}")
    conn.execute(f"""
        CREATE TABLE {schema}.voters (person_id bigint, voterbase_id text, first_name text,
          last_name text, state text);
        INSERT INTO {schema}.voters VALUES
          (1, 'VB1', 'JONATHAN', 'SMITH', 'IL'), (2, 'VB2', 'MARY', 'JONES', 'IL'),
          (3, 'VB3', 'JOHN', 'SMITH', 'WI'), (4, 'VB4', 'ASHLEY', 'HAYBY', 'OH');
        CREATE TABLE {schema}.input (rid integer, fname text, lname text, mail text,
          house text, street text, apt text, town text, st text, postal text,
          by integer, bm integer, bd integer);
        INSERT INTO {schema}.input VALUES
          (1, 'Jon', 'Smith', NULL, '12', 'Main St', NULL, 'Chicago', 'il', '60601', 1980, 2, 3),
          (2, 'Mary and Bob', 'Jones', NULL, NULL, NULL, NULL, NULL, 'IL', NULL, NULL, NULL,
           NULL),
          (3, 'Ashley Hayby', NULL, NULL, '9', 'Oak Ave', 'Apt 2', 'Akron', 'OH', '44301',
           NULL, NULL, NULL),
          (4, NULL, NULL, 'mary.jones@x.org', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           NULL),
          (5, 'Old', 'Match', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
          (NULL, 'No', 'Key', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    """)
    yield conn, schema
    conn.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


def config_for(schema: str, **overrides):
    params = {
        "input_table": f"{schema}.input", "primary_key": "rid", "first_name_column": "fname",
        "last_name_column": "lname", "email_column": "mail", "house_number_column": "house",
        "street_column": "street", "unit_column": "apt", "city_column": "town",
        "state_column": "st", "zip_column": "postal", "birth_year_column": "by",
        "birth_month_column": "bm", "birth_day_column": "bd",
        "output_table": f"{schema}.matched", "voterfile_table": f"{schema}.voters",
        "match_target": 1, "max_matches": 3, "rematch_threshold": 0.6, "cutoff": 0.4,
        "cass_ncoa": True, "match_rate_floor": 0.5, "cass_chunk_rows": 2, **overrides,
    }
    return parse_params(params)


def run(conn, step: sql.Step, rendered: bool = False):
    with conn.cursor() as cur:
        if rendered:
            cur.execute(sql.render(step))
        else:
            for part in sql.statements(step):
                cur.execute(part.sql, part.params)
        return cur.fetchall() if cur.description else None


def rows(conn, query: str):
    return conn.execute(query).fetchall()


def stage(conn, config):
    run(conn, sql.create_history(config))
    run(conn, sql.stage_universe(config))


def test_table_columns_lists_the_input_and_voterfile_tables(db):
    conn, schema = db
    config = config_for(schema)
    found = [dict(zip(("table_schema", "table_name", "column_name"), r, strict=True))
             for r in run(conn, sql.table_columns(config))]
    assert sql.columns_of(found, schema, "input")[:3] == ["rid", "fname", "lname"]
    assert sql.columns_of(found, schema, "voters") == ["person_id", "voterbase_id",
                                                       "first_name", "last_name", "state"]
    assert {r["table_name"] for r in found} == {"input", "voters"}


def test_stage_universe_is_incremental_and_maps_columns(db):
    conn, schema = db
    config = config_for(schema)
    run(conn, sql.create_history(config))
    conn.execute(f"INSERT INTO {schema}.matched_all_matches (source_id, person_id, score) "
                 "VALUES ('5', 9, 0.7), ('1', 1, 0.5)")
    run(conn, sql.stage_universe(config), rendered=True)
    got = {r[0]: r for r in rows(conn, f"SELECT source_id, first_name, address, state, "
                                       f"birth_date, unit FROM {schema}.matched__stg_universe")}
    # 5 matched at 0.7 >= 0.6: not re-sent; 1 matched at 0.5: re-sent; no NULL key.
    assert sorted(got) == ["1", "2", "3", "4"]
    assert got["1"][1:] == ("Jon", "12 Main St", "IL", "1980-02-03", None)
    assert got["3"][2] == "9 Oak Ave" and got["3"][5] == "Apt 2"


def test_dedupe_prefers_extra_match_then_score_with_cutoff(db):
    conn, schema = db
    config = config_for(schema)
    stage(conn, config)
    conn.execute(f"""
        CREATE TABLE {schema}.matched__stg_match1 (source_id varchar(256), person_id bigint,
          voterbase_id varchar(20), score numeric(6,4), match_rank integer);
        INSERT INTO {schema}.matched__stg_match1 VALUES
          ('1', 3, 'VB3', 0.90, 1), ('1', 1, 'VB1', 0.55, 2),  -- extra match (IL, JON, SMITH)
          ('2', 2, 'VB2', 0.30, 1),                            -- 'MAR' + JONES + IL: extra
          ('3', 1, 'VB1', 0.35, 1),                            -- below cutoff, not extra
          ('4', 2, 'VB2', 0.45, 1), ('4', 3, 'VB3', 0.80, 2);  -- best score wins
    """)
    run(conn, sql.dedupe(config, "universe", "match1", "best1"))
    got = {r[0]: r[1:] for r in rows(conn, f"SELECT source_id, person_id, score, extra_match "
                                           f"FROM {schema}.matched__stg_best1")}
    assert set(got) == {"1", "2", "4"}
    assert got["1"][0] == 1 and got["1"][2] is True
    assert got["2"][0] == 2 and got["2"][2] is True
    assert got["4"][0] == 3 and float(got["4"][1]) == 0.8


def _best1(conn, schema, ids):
    conn.execute(f"CREATE TABLE {schema}.matched__stg_best1 (source_id varchar(256), "
                 f"person_id bigint, voterbase_id varchar(20), score numeric(6,4), "
                 f"extra_match boolean)")
    for i in ids:
        conn.execute(f"INSERT INTO {schema}.matched__stg_best1 VALUES (%s, 1, 'VB1', 0.9, true)",
                     (i,))


def test_stage_rest_numbers_chunks_of_at_most_the_size(db):
    conn, schema = db
    config = config_for(schema)  # chunk_rows 2
    stage(conn, config)
    _best1(conn, schema, ["1"])
    run(conn, sql.stage_rest(config), rendered=True)
    got = rows(conn, f"SELECT source_id, chunk_no FROM {schema}.matched__stg_rest "
                     f"ORDER BY source_id")
    assert [r[0] for r in got] == ["2", "3", "4", "5"]
    assert [r[1] for r in got] == [0, 0, 1, 1]
    assert run(conn, sql.count_rows(config, "rest")) == [(4,)]


def test_coalesce_uses_cass_addresses_and_recovers_names_like_python(db):
    conn, schema = db
    config = config_for(schema)
    stage(conn, config)
    _best1(conn, schema, ["1"])
    run(conn, sql.stage_rest(config))
    for chunk, (sid, addr) in enumerate([("3", "77 ELM ST"), ("4", None)]):
        conn.execute(f"CREATE TABLE {schema}.matched__stg_cass_{chunk} (source_id varchar(256), "
                     f"cass_address1 varchar(128), cass_address2 varchar(64), cass_city "
                     f"varchar(64), cass_state varchar(2), cass_zip varchar(10), ncoa_moved "
                     f"boolean, cass_status varchar(16))")
        conn.execute(f"INSERT INTO {schema}.matched__stg_cass_{chunk} VALUES "
                     f"(%s, %s, NULL, 'AKRON', 'OH', '44302', %s, 'moved')",
                     (sid, addr, addr is not None))
    run(conn, sql.coalesce_and_recover(config, [0, 1]))
    got = {r[0]: r[1:] for r in rows(
        conn, f"SELECT source_id, first_name, last_name, name_recovered, address, unit, zip, "
              f"ncoa_moved FROM {schema}.matched__stg_rest_clean")}
    assert got["3"][3:] == ("77 ELM ST", None, "44302", True)  # moved: the new address
    assert got["2"][3] is None  # no CASS row: the input's (none)
    source = {r[0]: r[1:] for r in rows(
        conn, f"SELECT source_id, first_name, last_name, email FROM "
              f"{schema}.matched__stg_rest")}
    for sid, (first, last, email) in source.items():
        assert got[sid][:3] == recover_name(first, last, email), sid
    assert got["2"][:3] == ("Mary", "Jones", "couple")
    assert got["3"][:3] == ("Ashley", "Hayby", "full_name")
    assert got["4"][:3] == ("Mary", "Jones", "email")


def test_coalesce_without_cass(db):
    conn, schema = db
    config = config_for(schema, cass_ncoa=False)
    stage(conn, config)
    _best1(conn, schema, [])
    run(conn, sql.stage_rest(config))
    run(conn, sql.coalesce_and_recover(config, []))
    assert rows(conn, f"SELECT address FROM {schema}.matched__stg_rest_clean "
                      f"WHERE source_id = '1'") == [("12 Main St",)]


def _full_pipeline_tables(conn, schema, config):
    stage(conn, config)
    _best1(conn, schema, ["1", "2"])
    run(conn, sql.stage_rest(config))
    run(conn, sql.coalesce_and_recover(config, []))
    for name in ("match1", "match2"):
        conn.execute(f"CREATE TABLE {schema}.matched__stg_{name} (source_id varchar(256), "
                     f"person_id bigint, voterbase_id varchar(20), score numeric(6,4), "
                     f"match_rank integer)")
    conn.execute(f"INSERT INTO {schema}.matched__stg_match2 VALUES ('3', 4, 'VB4', 0.65, 1)")
    run(conn, sql.dedupe(config, "rest_clean", "match2", "best2"))


def test_qa_counts_and_match_rate(db):
    conn, schema = db
    config = config_for(schema)
    _full_pipeline_tables(conn, schema, config)
    with conn.cursor() as cur:
        cur.execute(sql.qa_counts(config).sql)
        counts = dict(zip([d.name for d in cur.description], cur.fetchone(), strict=True))
    assert counts["universe"] == 5 and counts["pass1_kept"] == 2 and counts["rest"] == 3
    assert counts["pass2_kept"] == 1 and counts["names_recovered"] == 2
    assert counts["input_rows"] == 5  # the row without a key does not count
    assert sql.match_rate(counts) == 0.6
    assert sql.match_rate({"input_rows": 0, "universe": 0}) is None
    # Incremental: 3 rows matched well before, 2 staged, 1 kept now -> 4 of 5.
    assert sql.match_rate({"input_rows": 5, "universe": 2, "pass1_kept": 1}) == 0.8


def test_publish_appends_history_once_per_run_and_keeps_one_best_row(db):
    conn, schema = db
    config = config_for(schema)
    _full_pipeline_tables(conn, schema, config)
    for _ in range(2):  # a retry of the same run does not duplicate history
        run(conn, sql.publish(config, "run-1", date(2026, 11, 1)), rendered=True)
    assert rows(conn, f"SELECT COUNT(*) FROM {schema}.matched_all_matches") == [(3,)]
    out = rows(conn, f"SELECT rid, person_id, score, fname, postal FROM {schema}.matched "
                     f"ORDER BY rid")
    assert [(r[0], r[1]) for r in out] == [(1, 1), (2, 1), (3, 4)]
    assert out[0][3:] == ("Jon", "60601")
    # A later run with a better extra match for 3: history keeps both, output has the best.
    conn.execute(f"UPDATE {schema}.matched__stg_best2 SET person_id = 2, score = 0.95")
    conn.execute(f"DELETE FROM {schema}.matched__stg_best1")
    run(conn, sql.publish(config, "run-2", date(2026, 11, 2)))
    assert rows(conn, f"SELECT COUNT(*) FROM {schema}.matched_all_matches") == [(4,)]
    assert rows(conn, f"SELECT person_id FROM {schema}.matched WHERE rid = 3") == [(2,)]
    assert rows(conn, f"SELECT COUNT(*) FROM {schema}.matched") == [(3,)]
    assert run(conn, sql.count_output(config)) == [(3,)]


def test_drop_staging_drops_only_staging_tables(db):
    conn, schema = db
    config = config_for(schema)
    _full_pipeline_tables(conn, schema, config)
    run(conn, sql.publish(config, "run-1", date(2026, 11, 1)))
    staging = [r[0] for r in run(conn, sql.list_staging(config), rendered=True)]
    assert "matched__stg_universe" in staging and "matched" not in staging
    run(conn, sql.drop_tables(config, [*staging, "matched", "matched_all_matches"]))
    left = {r[0] for r in rows(conn, f"SELECT table_name FROM information_schema.tables "
                                     f"WHERE table_schema = '{schema}'")}
    assert left == {"voters", "input", "matched", "matched_all_matches"}


def history_keys(conn, schema) -> tuple[int, int]:
    """(history rows, rows beyond one per (source_id, run_id, match_pass))."""
    return rows(conn, f"SELECT COUNT(*), COUNT(*) - COUNT(DISTINCT (source_id, run_id, "
                      f"match_pass)) FROM {schema}.matched_all_matches")[0]


def test_publish_twins_running_at_once_leave_one_copy_of_the_history(db):
    """Two copies of the same run's publish at the same time (a retry started beside a still
    running first try): neither sees the other's uncommitted rows, so only the unique key
    stops the second copy; the twin fails and the history holds this run's rows once."""
    conn, schema = db
    config = config_for(schema)
    _full_pipeline_tables(conn, schema, config)
    script = sql.render(sql.publish(config, "run-1", date(2026, 11, 1)))
    first = psycopg.connect(postgres.dsn("civis"))
    second = psycopg.connect(postgres.dsn("civis"))
    outcome: dict[str, object] = {}

    def twin():
        try:
            second.execute(script)
            second.commit()
            outcome["twin"] = "committed"
        except psycopg.Error as exc:
            second.rollback()
            outcome["twin"] = exc

    try:
        first.execute(script)  # not committed yet
        thread = threading.Thread(target=twin)
        thread.start()
        thread.join(1.5)
        assert thread.is_alive(), "the twin waits for the first copy's key"
        first.commit()
        thread.join(30)
    finally:
        first.close()
        second.close()
    assert isinstance(outcome["twin"], psycopg.errors.UniqueViolation), outcome
    assert history_keys(conn, schema) == (3, 0)  # best1: 2 rows, best2: 1 row, once each


def test_an_old_history_table_without_the_key_gets_no_duplicates(db):
    """A history table from an earlier version (no unique key) is left as it is; publishing
    the same run twice still adds its rows once (NOT EXISTS)."""
    conn, schema = db
    config = config_for(schema)
    conn.execute(f"CREATE TABLE {schema}.matched_all_matches ({sql.HISTORY_COLUMNS})")
    conn.execute(f"INSERT INTO {schema}.matched_all_matches VALUES "
                 f"('9', 9, 'VB9', 0.9, TRUE, 1, '2026-10-01', 'run-0')")
    _full_pipeline_tables(conn, schema, config)
    run(conn, sql.create_history(config), rendered=True)  # a no-op on the old table
    for _ in range(2):
        run(conn, sql.publish(config, "run-1", date(2026, 11, 1)))
    assert history_keys(conn, schema) == (4, 0)  # run-0's row, and run-1's 3 rows once


def unique_keys(conn, schema) -> int:
    return rows(conn, "SELECT COUNT(*) FROM pg_constraint c JOIN pg_class t ON t.oid = "
                      "c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace WHERE "
                      f"c.contype = 'u' AND n.nspname = '{schema}' AND "
                      "t.relname = 'matched_all_matches'")[0][0]


def test_a_new_history_table_has_the_key(db):
    conn, schema = db
    config = config_for(schema)
    run(conn, sql.create_history(config), rendered=True)
    assert unique_keys(conn, schema) == 1
