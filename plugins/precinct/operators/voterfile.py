"""Task bodies of the `voterfile_match` DAG's SQL steps: each runs SQL on Civis through
`CivisHook`; the SQL comes from `precinct.voterfile.sql`. The Data Match and CASS/NCOA steps are
operators (`precinct.operators.enhancements`) so that their long waits defer to the triggerer.

Imported inside the DAG's tasks only.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from precinct.hooks.civis import CivisHook
from precinct.voterfile import sql
from precinct.voterfile.chunks import chunk_numbers
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
    """Runs Steps on a Civis database."""

    def __init__(self, database: str, conn_id: str = CivisHook.default_conn_name):
        self.hook = CivisHook(conn_id)
        self.database = database

    def execute(self, step: sql.Step, name: str) -> None:
        self.hook.run_sql(sql.render(step), self.database, name=f"voterfile_match: {name}",
                          poll_interval=POLL_SECONDS)

    def query(self, step: sql.Step) -> list[dict[str, Any]]:
        rows = self.hook.read_sql(sql.render(step), self.database,
                                  polling_interval=POLL_SECONDS)
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


def stage_universe_task(config: dict) -> int:
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    runner.execute(sql.create_history(cfg), "history table")
    runner.execute(sql.stage_universe(cfg), "stage universe")
    count = int(runner.query(sql.count_rows(cfg, "universe"))[0]["n"])
    log.info("Universe: %d rows to match", count)
    return count


def dedupe_task(config: dict, source: str, matches: str, best: str) -> int:
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    runner.execute(sql.dedupe(cfg, source, matches, best), f"dedupe {best}")
    kept = int(runner.query(sql.count_rows(cfg, best))[0]["n"])
    log.info("%s: %d source ids kept", best, kept)
    return kept


def plan_chunks_task(config: dict) -> list[int]:
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    runner.execute(sql.stage_rest(cfg), "stage rest")
    rest = int(runner.query(sql.count_rows(cfg, "rest"))[0]["n"])
    chunks = chunk_numbers(rest, cfg.chunk_rows) if cfg.cass_ncoa else []
    log.info("Rest: %d rows, %d CASS/NCOA chunk(s) of at most %d", rest, len(chunks),
             cfg.chunk_rows)
    return chunks


def coalesce_task(config: dict, chunks: list[int]) -> None:
    """`chunks`: the CASS/NCOA chunks this run planned (every one succeeded, or none ran)."""
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    runner.execute(sql.coalesce_and_recover(cfg, sorted(int(c) for c in chunks or [])),
                   "coalesce addresses, recover names")


def qa_task(config: dict) -> dict:
    cfg = _config(config)
    runner = Runner(cfg.extra["database"])
    counts = {k: int(v) for k, v in runner.query(sql.qa_counts(cfg))[0].items()}
    rate = sql.match_rate(counts)
    result = {**counts, "match_rate": rate, "floor": cfg.match_rate_floor,
              "publish": rate is None or rate >= cfg.match_rate_floor}
    log.info("QA: %s", result)
    return result


def publish_task(config: dict, qa: dict, run_id: str) -> dict:
    from airflow.sdk.exceptions import AirflowSkipException

    from precinct.notifications import send_alert

    cfg = _config(config)
    if not qa["publish"]:
        send_alert(
            f"voterfile_match: not published, match rate below the floor "
            f"({cfg.output_schema}.{cfg.output_table})",
            {"match rate": f"{qa['match_rate']:.1%}", "floor": f"{cfg.match_rate_floor:.1%}",
             "staged rows": qa["universe"], "kept, pass 1": qa["pass1_kept"],
             "kept, pass 2": qa["pass2_kept"], "run": run_id},
        )
        raise AirflowSkipException(
            f"match rate {qa['match_rate']:.3f} is below the floor {cfg.match_rate_floor}")
    runner = Runner(cfg.extra["database"])
    runner.execute(sql.publish(cfg, run_id, datetime.now(UTC).date()), "publish")
    published = int(runner.query(sql.count_output(cfg))[0]["n"])
    log.info("Published %s.%s: %d rows", cfg.output_schema, cfg.output_table, published)
    return {"published_rows": published, "match_rate": qa["match_rate"]}


def drop_staging_task(params: dict) -> int:
    """Drop every `{output}__stg_*` table; runs whatever happened upstream (from the params, not
    XCom, so it also works when validation or staging failed)."""
    from precinct.voterfile.validation import InvalidParam

    try:
        cfg = parse_params(params)
    except InvalidParam as exc:
        log.info("Nothing to drop: %s", exc)
        return 0
    runner = Runner(params["database"])
    tables = [r["table_name"] for r in runner.query(sql.list_staging(cfg))]
    if tables:
        runner.execute(sql.drop_tables(cfg, tables), "drop staging")
    log.info("Dropped %d staging table(s)", len(tables))
    return len(tables)
