"""voterfile_match end to end with `airflow dags test` on the seeded small list (400 rows).

Against the Civis stand-in (Data Match and CASS/NCOA plug-in) and the devstack PostgreSQL
database `civis`; each test writes its own output table and reads the outcome from the tables
and the captured e-mails.
"""

from __future__ import annotations

import ast
import json
import re
import uuid

import psycopg
import pytest

from devstack import civis as civis_standin
from devstack import postgres, smtp
from devstack.demo_voterfile import figures
from devstack.seed_voterfile import SMALL_ROWS, ensure_seeded
from tests.support import run_airflow

pytestmark = pytest.mark.usefixtures("airflow_db")
SMALL = "demo.voterfile_signups_small"


@pytest.fixture(scope="module", autouse=True)
def seeded(devstack_env):
    ensure_seeded()


@pytest.fixture
def output():
    name = f"vf_test_{uuid.uuid4().hex[:8]}"
    yield name
    with psycopg.connect(postgres.dsn("civis"), autocommit=True) as conn:
        for table in tables(name):
            conn.execute(f'DROP TABLE IF EXISTS demo."{table}"')


def tables(prefix: str) -> list[str]:
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return [r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'demo' "
            "AND LEFT(table_name, %s) = %s ORDER BY 1", (len(prefix), prefix))]


def count(table: str) -> int:
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return conn.execute(f'SELECT COUNT(*) FROM demo."{table}"').fetchone()[0]  # noqa: S608


def run_dag(**conf) -> tuple[str, str]:
    """(final DAG run state, the CLI output)."""
    conf = {"input_table": SMALL, "cass_chunk_rows": 50, **conf}
    result = run_airflow("dags", "test", "voterfile_match", "-c", json.dumps(conf),
                         extra_env={"PRECINCT_RETRY_DELAY_SECONDS": "1"}, timeout=600)
    out = result.stdout + result.stderr
    found = re.findall(r"DagRun Finished: .*?state=(\w+)", out)
    return (found[-1] if found else "unknown"), out


# What each task logs when it did its work (the CLI prints the task logs).
MARKERS = {"stage_universe": r"Universe: ",
           "match_pass_1": r"Created Civis Data Match job \d+ writing \S+__stg_match1",
           "cass_ncoa": r"Created CASS/NCOA job \d+ writing \S+__stg_cass_\d+",
           "drop_staging": r"staging table\(s\)"}


def ran(out: str, task_id: str) -> bool:
    return re.search(MARKERS[task_id], out) is not None


def deferred(out: str) -> list[str]:
    """The task ids that deferred (each waited for its Civis run in the trigger, run inline
    by `airflow dags test`), in order."""
    return re.findall(r"Pausing task as DEFERRED\..*?task_id=(\w+)", out)


def kept(out: str) -> int:
    """This run's kept matches (both passes), from the counts the qa task logged."""
    found = re.findall(r"QA: (\{[^{}]*\})", out)
    assert found, "qa logged its counts"
    counts = ast.literal_eval(found[-1])
    return int(counts["pass1_kept"]) + int(counts["pass2_kept"])


def history_duplicates(output: str) -> int:
    """History rows beyond one per (source_id, run_id, match_pass)."""
    with psycopg.connect(postgres.dsn("civis")) as conn:
        return conn.execute(
            f"SELECT COUNT(*) - COUNT(DISTINCT (source_id, run_id, match_pass)) "  # noqa: S608
            f'FROM demo."{output}_all_matches"').fetchone()[0]


# The tasks that wait for a Civis run in the trigger, in order (CASS/NCOA chunks after the 4th).
SQL_WAITS = ["stage_universe", "match_pass_1", "dedupe_pass_1", "plan_cass_chunks",
             "coalesce_and_recover", "match_pass_2", "dedupe_pass_2", "publish"]


def test_publishes_best_rows_keeps_history_and_drops_staging(output):
    state, out = run_dag(output_table=f"demo.{output}")
    assert state == "success", out[-4000:]
    published = count(output)
    history = count(f"{output}_all_matches")
    assert published == history > 0.8 * SMALL_ROWS
    assert history == kept(out) and history_duplicates(output) == 0
    assert tables(output) == [output, f"{output}_all_matches"]  # no __stg_ table left
    assert ran(out, "cass_ncoa")  # the rest went through CASS/NCOA in mapped chunks
    # Every Civis wait (SQL steps, Data Match, CASS/NCOA) was deferred to the trigger, none
    # held a worker; drop_staging's few DROPs wait in the worker.
    waits = deferred(out)
    chunks = len(re.findall(r"Created CASS/NCOA job", out))
    assert waits == [*SQL_WAITS[:4], *["cass_ncoa"] * chunks, *SQL_WAITS[4:]], waits
    assert chunks >= 2 and out.count("[DAG TEST] Trigger completed") == len(waits)
    f = figures(f"demo.{output}", SMALL)
    assert f["precision"] > 0.95 and f["recall"] > 0.9, f
    with psycopg.connect(postgres.dsn("civis")) as conn:
        dupes = conn.execute(f'SELECT COUNT(*) - COUNT(DISTINCT id) FROM demo."{output}"'  # noqa: S608
                             ).fetchone()[0]
    assert dupes == 0

    # Again: good matches are not re-sent; the history is kept and grows only by re-matches.
    state, out = run_dag(output_table=f"demo.{output}")
    assert state == "success", out[-4000:]
    universe = re.findall(r"Universe: (\d+) rows to match", out)
    assert universe and int(universe[-1]) < SMALL_ROWS - published * 0.8
    # Exactly this run's kept matches added, each once.
    assert count(f"{output}_all_matches") == history + kept(out)
    assert history_duplicates(output) == 0
    assert count(output) == published
    assert tables(output) == [output, f"{output}_all_matches"]


def test_a_failed_step_still_drops_the_staging_tables(output):
    # Civis refuses every CASS/NCOA job (500): cass_ncoa fails after staging and the first
    # Data Match pass.
    civis_standin.inject_fault(500, count=1000, retry_after=None, method="POST",
                               path="/enhancements/cass-ncoa")
    try:
        state, out = run_dag(output_table=f"demo.{output}")
    finally:
        civis_standin.admin("DELETE", "/faults")
    assert state == "failed"
    assert ran(out, "match_pass_1") and ran(out, "drop_staging")
    assert not ran(out, "cass_ncoa")
    assert re.search(r"Dropped [1-9]\d* staging table", out)
    assert tables(output) == [f"{output}_all_matches"]  # staging gone, nothing published


def test_below_the_floor_publish_is_skipped_with_one_email(output):
    state, out = run_dag(output_table=f"demo.{output}", match_rate_floor=1.0)
    assert state == "success", out[-4000:]
    mails = [m for m in smtp.messages() if output in (m["Subject"] or "")]
    assert len(mails) == 1
    assert "below the floor" in mails[0]["Subject"]
    assert tables(output) == [f"{output}_all_matches"]  # not published, staging dropped


@pytest.mark.parametrize(("field", "value"), [
    ("primary_key", "id; DROP TABLE demo.voterfile_signups"),
    ("phone_column", "telephone"),  # a valid name, but no such column in the input
    ("match_target", 99),  # a valid id, but not one of the account's match targets
    ("database", "redshift-genral"),  # not a database the key can use
    ("voterfile_table", "public.no_voterfile"),  # a valid name, but no such table
])
def test_a_bad_value_fails_the_first_task_naming_the_field(output, field, value):
    state, out = run_dag(output_table=f"demo.{output}", **{field: value})
    assert state == "failed"
    assert f"Invalid form value: {field}:" in out
    assert "new_state=up_for_retry" not in out  # failed at once: retrying cannot fix a form
    if field == "match_target":  # the message lists the targets the account can use
        assert ("match_target: 99 is not a match target of this Civis account (available: "
                "1 (Voterfile (devstack public.voterfile)))") in out
    if field == "database":  # ... and the databases the key can use
        assert ("database: 'redshift-genral' is not a Civis database this API key can use "
                "(available: redshift-general)") in out
    assert not ran(out, "stage_universe")
    assert tables(output) == []


def test_without_cass_ncoa_the_rest_still_gets_its_second_pass_and_is_published(output):
    # No CASS/NCOA chunk is mapped (the mapped task expands to nothing and is skipped): the
    # second pass still runs on the input's own addresses, and the run publishes.
    state, out = run_dag(output_table=f"demo.{output}", cass_ncoa=False)
    assert state == "success", out[-4000:]
    assert not ran(out, "cass_ncoa")
    assert deferred(out) == SQL_WAITS
    assert count(output) == count(f"{output}_all_matches") > 0.8 * SMALL_ROWS
    assert tables(output) == [output, f"{output}_all_matches"]
