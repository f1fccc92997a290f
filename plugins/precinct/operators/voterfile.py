"""Task bodies of the `voterfile_match` DAG's read-only steps, `validate` and `qa`: short
catalog and count queries through `CivisHook.read_sql`, in the worker (they change nothing, so a
retry beside an abandoned one does no harm). Every step that writes is an operator, deferrable
and re-attachable: `precinct.operators.voterfile_sql` (the SQL steps) and
`precinct.operators.enhancements` (Data Match, CASS/NCOA).

Imported inside the DAG's tasks only.
"""

from __future__ import annotations

import logging
from typing import Any

from precinct.hooks.civis import CivisHook
from precinct.voterfile import sql
from precinct.voterfile.validation import (
    MatchConfig,
    check_columns,
    check_database,
    check_match_target,
    check_voterfile,
    parse_params,
    resolved_columns,
)

log = logging.getLogger(__name__)
POLL_SECONDS = 1.0


class Runner:
    """Reads from a Civis database (queries only: writes go through VoterfileSqlOperator)."""

    def __init__(self, database: str, conn_id: str = CivisHook.default_conn_name):
        self.hook = CivisHook(conn_id)
        self.database = database

    def query(self, step: sql.Step) -> list[dict[str, Any]]:
        return read_rows(self.hook, step, self.database)


def read_rows(hook: CivisHook, step: sql.Step, database: str,
              poll_seconds: float = POLL_SECONDS) -> list[dict[str, Any]]:
    """A read-only step's rows as dicts (Civis hands back a header row, then the values)."""
    rows = hook.read_sql(sql.render(step), database, polling_interval=poll_seconds)
    if not rows:
        return []
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


def _config(data: dict) -> MatchConfig:
    return MatchConfig.from_dict(data)


def validate_task(params: dict) -> dict:
    """Patterns, ranges, the database among the ones the key can use, existence of every column
    in the input table and of the voterfile table's extra-match columns, then the match target
    among the account's. A bad value fails the task at once (no retry: retrying cannot fix a
    form)."""
    from airflow.sdk.exceptions import AirflowFailException

    from precinct.voterfile.validation import InvalidParam

    try:
        config = given = parse_params(params)
        runner = Runner("")
        database = check_database(params.get("database"), runner.hook.list_databases())
        runner.database = str(database["name"])
        catalog = runner.query(sql.table_columns(config))
        existing = sql.columns_of(catalog, config.input_schema, config.input_table)
        # Names as the catalog spells them: the SQL quotes them (PostgreSQL: "First_Name" is
        # not first_name).
        config = check_columns(config, existing)
        check_voterfile(config, sql.columns_of(catalog, config.voterfile_schema,
                                               config.voterfile_table))
        target = check_match_target(config, runner.hook.list_match_targets())
    except InvalidParam as exc:
        raise AirflowFailException(f"Invalid form value: {exc}") from None
    for field_name, before, after in resolved_columns(given, config):
        log.info("%s: %r is the column %r of %s.%s", field_name, before, after,
                 config.input_schema, config.input_table)
    log.info("Database %s (%s); input %s.%s: %d columns, %d mapped; match target %s (%s)",
             database["name"], database["id"], config.input_schema, config.input_table,
             len(existing), len(config.columns), target["id"], target["name"])
    # The database as Civis names it (the form may give its id): later tasks and the Data Match
    # request (`databaseName`) use the name.
    return {**config.to_dict(), "extra": {"database": str(database["name"])}}


def qa_task(config: dict) -> dict:
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    counts = {k: int(v) for k, v in runner.query(sql.qa_counts(cfg))[0].items()}
    rate = sql.match_rate(counts)
    result = {**counts, "match_rate": rate, "floor": cfg.match_rate_floor,
              "publish": rate is None or rate >= cfg.match_rate_floor}
    log.info("QA: %s", result)
    return result
