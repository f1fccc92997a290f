"""The tracker SQL files: every statement the reset needs, bound parameters only."""

from __future__ import annotations

import re

from precinct.tracker.nightly import SQL_DIR, queries, summary_line

EXPECTED = {
    "lock_run", "lock_daily_tables", "tracker_day", "clear_sync_window", "copy_sync",
    "backup_shift", "backup_canvass_group", "backup_note", "clear_shift",
    "clear_canvass_group", "clear_note", "upsert_locations", "upsert_volunteers",
    "drop_gone_day_shifts", "load_day_shifts", "count_day_shifts", "recompute_next_shifts",
    "count_next_shifts", "log_run", "doors_knocked",
}


def test_every_statement_is_there_once():
    assert set(queries()) == EXPECTED
    text = (SQL_DIR / "nightly.sql").read_text()
    assert len(re.findall(r"^-- name:", text, re.M)) == len(EXPECTED)


def test_parameters_are_bound_never_formatted():
    for name, sql in queries().items():
        assert "{" not in sql, name  # no str.format / f-string placeholders
        for placeholder in re.findall(r"%\(?\w*\)?s?", sql):
            assert re.fullmatch(r"%\(\w+\)s", placeholder), (name, placeholder)
        assert ";" not in sql, f"{name}: one statement per name"


def test_schema_is_idempotent_ddl():
    schema = (SQL_DIR / "schema.sql").read_text()
    statements = [s.strip() for s in re.sub(r"--.*", "", schema).split(";") if s.strip()]
    assert statements
    for statement in statements:
        assert re.match(r"CREATE (TABLE|INDEX) IF NOT EXISTS", statement), statement
    for table in ("volunteer", "location", "shift", "canvass_group", "note", "sync_shift",
                  "backup_shift", "backup_canvass_group", "backup_note"):
        assert f"CREATE TABLE IF NOT EXISTS {table} (" in schema
    assert not any(re.match(r"(DROP|TRUNCATE|ALTER)\b", s) for s in statements)


def test_summary_line():
    counts = {"pulled": 812, "backed_up_total": 0, "loaded": 140, "skipped": 3,
              "skipped_by_reason": {"no_person": 0, "no_location": 2, "no_start": 1}}
    assert summary_line(counts) == (
        "pulled 812 sign-ups, backed up 0, loaded 140 shifts, skipped 3 "
        "(no location 2, no start 1)"
    )
    assert summary_line({**counts, "skipped": 0, "skipped_by_reason": {},
                         "unknown_status": 4}).endswith("skipped 0, unknown status 4")
