"""
### voterfile_match: match a list to the voterfile with Civis Data Match

Started by hand from the form. Matches any list in the Civis database (event sign-ups, petition
signers, donors) to the voterfile, the way the data team does it:

1. **validate**: every table and column named in the form is checked (pattern, then existence
   in the input table, in any case: later steps use the name as the table spells it; the
   voterfile table with the columns the extra-match rule reads), the database among the ones
   the API key can use, and the match target id among the account's match targets, before any
   SQL runs; a bad one fails here, naming the field.
2. **stage_universe**: input rows never matched, or matched below the rematch threshold (good
   matches are not re-sent).
3. **match_pass_1** (Civis Data Match) and **dedupe_pass_1**: one best match per source id,
   preferring an "extra match" (same state, same first three letters of the first name, same
   last name), then the score; kept when score >= cutoff or extra match.
4. **plan_cass_chunks**, **cass_ncoa** (one mapped task per chunk of at most 250,000 rows),
   **coalesce_and_recover**: standardised/forwarding addresses over the input's, names recovered
   ("A and B", `first.last@` e-mails, the full name typed in the first-name field).
5. **match_pass_2** and **dedupe_pass_2** on the rest.
6. **qa**: counts per stage and the match rate (logged and returned).
7. **publish**: appends to `{output}_all_matches` (history, never dropped; one row per source
   id, run and pass, whatever re-runs) and rebuilds `{output}`, one best row per source id.
   Below the match-rate floor it is skipped and the operators are e-mailed.
8. **drop_staging**: drops every `{output}__stg_*` table, whether the run succeeded or not.

Every step that writes (stage_universe, the dedupes, plan_cass_chunks, coalesce_and_recover,
publish, drop_staging: `precinct.operators.voterfile_sql`) and the Data Match and CASS/NCOA
tasks (`precinct.operators.enhancements`) are deferrable: after starting the Civis run they
wait in the triggerer, not in a worker slot; a retry re-attaches to the run (or the enhancement
job) an earlier try started instead of creating a second one, and a killed task cancels its
run. validate and qa only read (short catalog and count queries) and run in the worker.

The defaults match the seeded devstack list. See the README section "voterfile_match".
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from airflow.sdk import DAG, Param
from airflow.sdk.definitions.decorators import task

from precinct.dag_defaults import CIVIS_POLL_SECONDS, default_args
from precinct.operators.enhancements import CivisCassNcoaOperator, CivisDataMatchOperator
from precinct.operators.voterfile_sql import VoterfileSqlOperator


def _column(default: str | None, title: str, what: str) -> Param:
    return Param(default, type=["null", "string"], title=title,
                 description=f"Input column holding {what}. Blank: not used.")


with DAG(
    dag_id="voterfile_match",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["civis", "voterfile", "data-match"],
    doc_md=__doc__,
    params={
        "input_table": Param("demo.voterfile_signups", type="string", title="Input table",
                             description="The list to match, as schema.table in the Civis "
                             "database."),
        "primary_key": Param("id", type="string", title="Primary key column",
                             description="The input column that identifies a row (the source "
                             "id)."),
        "first_name_column": _column("first_name", "First name column", "the first name"),
        "middle_name_column": _column("middle_name", "Middle name column", "the middle name"),
        "last_name_column": _column("last_name", "Last name column", "the last name"),
        "phone_column": _column("phone", "Phone column", "the phone number"),
        "email_column": _column("email", "E-mail column", "the e-mail address"),
        "full_address_column": _column("address", "Full address column",
                                       "the street address (house number and street); leave "
                                       "blank to use house number + street"),
        "house_number_column": _column(None, "House number column", "the house number"),
        "street_column": _column(None, "Street column", "the street name"),
        "unit_column": _column("unit", "Unit column", "the apartment or unit"),
        "city_column": _column("city", "City column", "the city"),
        "state_column": _column("state", "State column", "the two-letter state code"),
        "zip_column": _column("zip", "ZIP column", "the ZIP code"),
        "birth_date_column": _column("birth_date", "Birth date column",
                                     "the birth date (YYYY-MM-DD); or use year/month/day"),
        "birth_year_column": _column(None, "Birth year column", "the birth year"),
        "birth_month_column": _column(None, "Birth month column", "the birth month"),
        "birth_day_column": _column(None, "Birth day column", "the birth day of the month"),
        "gender_column": _column("gender", "Gender column", "the gender"),
        "output_table": Param("demo.voterfile_signups_matched", type="string",
                              title="Output table",
                              description="schema.table for the best match per source id "
                              "(rebuilt); {output}_all_matches keeps every run's matches."),
        "match_target": Param(1, type="integer", minimum=1, title="Match target",
                              description="The Civis Data Match target id (the voterfile to "
                              "match to). Checked against the account's match targets before "
                              "anything runs; a wrong id fails validate, listing them. "
                              "devstack: 1."),
        "voterfile_table": Param("public.voterfile", type="string", title="Voterfile table",
                                 description="schema.table of the match target's people "
                                 "(person_id, state, first_name, last_name), read for the "
                                 "extra-match rule; checked by validate."),
        "max_matches": Param(3, type="integer", minimum=1, maximum=10,
                             title="Max matches per id",
                             description="Candidates Data Match returns per source id."),
        "rematch_threshold": Param(0.6, type="number", minimum=0, maximum=1,
                                   title="Rematch threshold",
                                   description="Rows already matched with at least this score "
                                   "are not sent again."),
        "cutoff": Param(0.4, type="number", minimum=0, maximum=1, title="Cutoff",
                        description="Keep a match with at least this score (or an extra "
                        "match)."),
        "cass_ncoa": Param(True, type="boolean", title="CASS/NCOA",
                           description="Standardise and forward (NCOA) the addresses of the "
                           "rows the first pass did not match, before the second pass."),
        "match_rate_floor": Param(0.5, type="number", minimum=0, maximum=1,
                                  title="Match-rate floor",
                                  description="Below this share of matched rows nothing is "
                                  "published and the operators are e-mailed."),
        "cass_chunk_rows": Param(250_000, type="integer", minimum=1, maximum=250_000,
                                 title="CASS/NCOA chunk size",
                                 description="Rows per parallel CASS/NCOA run (Civis takes at "
                                 "most 250,000)."),
        "database": Param("redshift-general", type="string", title="Civis database",
                          description="The Civis database holding the tables (its name, or id). "
                          "Checked against the databases the API key can use; a wrong one "
                          "fails validate, listing them."),
    },
):

    @task(multiple_outputs=False)
    def validate(params=None) -> dict:
        from precinct.operators import voterfile

        return voterfile.validate_task(params)

    @task(multiple_outputs=False)
    def qa(config: dict, kept: int) -> dict:
        from precinct.operators import voterfile

        return voterfile.qa_task(config)

    # Every step that writes runs as a Civis SQL script through VoterfileSqlOperator: deferred
    # to the triggerer, re-attached by a retry (never a second script beside a running one),
    # cancelled when the task is killed.
    sql_step = partial(VoterfileSqlOperator, poll_interval=CIVIS_POLL_SECONDS)
    config = validate()
    universe = sql_step(task_id="stage_universe", step="stage_universe", config=config)
    # Data Match and CASS/NCOA wait for Civis in the triggerer (deferrable), not in a worker.
    matched1 = CivisDataMatchOperator(task_id="match_pass_1", config=config,
                                      input_stage="universe", output_stage="match1",
                                      poll_interval=CIVIS_POLL_SECONDS)
    kept1 = sql_step(task_id="dedupe_pass_1", step="dedupe", config=config, source="universe",
                     matches="match1", best="best1")
    universe >> matched1 >> kept1
    chunks = sql_step(task_id="plan_cass_chunks", step="stage_rest", config=config)
    kept1 >> chunks
    standardised = CivisCassNcoaOperator.partial(
        task_id="cass_ncoa", config=config, poll_interval=CIVIS_POLL_SECONDS,
        max_active_tis_per_dagrun=8,
    ).expand(chunk=chunks.output)
    # With CASS/NCOA off (or nothing left to match) `cass_ncoa` maps to no chunk and is
    # skipped; the rest still gets its second pass, on the input's own addresses. The config
    # is pulled from `validate` at run time rather than passed: a direct downstream of the
    # setup task must be ALL_SUCCESS, and this task must run when cass_ncoa was skipped. The
    # chunks are this run's plan (after a clear, old map indexes can keep XComs of tables
    # since dropped).
    rest = sql_step(task_id="coalesce_and_recover", step="coalesce_and_recover",
                    chunks=chunks.output, trigger_rule="none_failed")
    standardised >> rest
    matched2 = CivisDataMatchOperator(task_id="match_pass_2", config=config,
                                      input_stage="rest_clean", output_stage="match2",
                                      poll_interval=CIVIS_POLL_SECONDS)
    rest >> matched2
    kept2 = sql_step(task_id="dedupe_pass_2", step="dedupe", config=config,
                     source="rest_clean", matches="match2", best="best2")
    matched2 >> kept2
    counts = qa(config, kept2.output)
    published = sql_step(task_id="publish", step="publish", config=config, qa=counts)
    # A teardown: it runs once validation passed, whatever failed after it, and its own success
    # never hides a failed step from the run's state. It reads the form (params), not XCom, so
    # it also works when validation or staging failed.
    published >> sql_step(task_id="drop_staging", step="drop_staging").as_teardown(
        setups=config)
