"""The pipeline's SQL, one builder per step (PostgreSQL and Redshift).

Each builder returns a `Step`: SQL with `%(name)s` placeholders and the values to bind. Only
identifiers from a validated `MatchConfig` are written into the SQL (double-quoted). `render`
inlines the values as SQL literals for runners that take no bind parameters (Civis SQL scripts);
values are numbers, dates or text escaped by doubling quotes, never raw text.

Staging tables live next to the output table as `{output}__stg_<name>`; every one of them is
dropped by `drop_staging` (the DAG runs it even when a step failed).
"""

# Identifiers are validated (IDENTIFIER) and quoted; values are bound or int/float-formatted.
# ruff: noqa: S608
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from precinct.voterfile.validation import IDENTIFIER, MatchConfig

HISTORY_COLUMNS = ("source_id varchar(256), person_id bigint, voterbase_id varchar(20), "
                   "score numeric(6,4), extra_match boolean, match_pass integer, "
                   "matched_date date, run_id varchar(250)")
HISTORY_NAMES = ("source_id, person_id, voterbase_id, score, extra_match, match_pass, "
                 "matched_date, run_id")
# One row per source id, run and pass. PostgreSQL enforces it (a concurrent twin of `publish`
# fails instead of committing a second copy); Redshift does not enforce unique constraints, so
# `publish` also inserts only rows not already there.
HISTORY_KEY = "source_id, run_id, match_pass"
# The canonical staging columns (Data Match input fields of the staged universe).
STAGE_FIELDS = ("first_name", "middle_name", "last_name", "phone", "email", "address", "unit",
                "city", "state", "zip", "birth_date", "gender")
DATA_MATCH_MAPPING = {"primary_key": "source_id", "first_name": "first_name",
                      "middle_name": "middle_name", "last_name": "last_name", "phone": "phone",
                      "email": "email", "full_address": "address", "unit": "unit",
                      "city": "city", "state_code": "state", "zip": "zip",
                      "birth_date": "birth_date", "gender": "gender"}
CASS_MAPPING = {"address1": "address", "address2": "unit", "city": "city", "state": "state",
                "zip": "zip", "name": "last_name"}
# Data Match's candidate floor: lower-scoring candidates are still returned, so that the dedupe
# step can keep an "extra match" (same state, first-name prefix and last name) scoring below the
# cutoff.
CANDIDATE_THRESHOLD = 0.2


@dataclass(frozen=True)
class Step:
    sql: str
    params: dict[str, Any] = field(default_factory=dict)


def q(*names: str) -> str:
    """Quoted (schema.)name from validated identifiers."""
    for name in names:
        if not IDENTIFIER.match(name):
            raise ValueError(f"not a validated identifier: {name!r}")
    return ".".join(f'"{n}"' for n in names)


def literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite number")
        return repr(value)
    if isinstance(value, datetime | date):
        return f"'{value.isoformat()}'"
    text = str(value)
    if "\x00" in text:
        raise ValueError("NUL in a SQL value")
    return "'" + text.replace("'", "''") + "'"


def render(step: Step) -> str:
    """The SQL with its values inlined as literals (for Civis SQL scripts)."""
    return re.sub(r"%\((\w+)\)s", lambda m: literal(step.params[m.group(1)]),
                  step.sql).replace("%%", "%")


def statements(step: Step) -> list[Step]:
    """A multi-statement step as one Step per statement (for drivers that bind server-side);
    the builders separate statements with `;` and a newline."""
    out = []
    for text in step.sql.split(";\n"):
        if text.strip():
            names = set(re.findall(r"%\((\w+)\)s", text))
            out.append(Step(text, {k: v for k, v in step.params.items() if k in names}))
    return out


def _stg(config: MatchConfig, name: str) -> str:
    return q(config.output_schema, config.staging(name))


# -- input checks ------------------------------------------------------------------------------

def table_columns(config: MatchConfig) -> Step:
    """The columns of the input table and of the voterfile table (one catalog read for both
    checks): `table_schema`, `table_name`, `column_name`, in column order."""
    return Step("SELECT table_schema, table_name, column_name FROM information_schema.columns "
                "WHERE (table_schema = %(in_schema)s AND table_name = %(in_table)s) "
                "OR (table_schema = %(vf_schema)s AND table_name = %(vf_table)s) "
                "ORDER BY table_schema, table_name, ordinal_position",
                {"in_schema": config.input_schema, "in_table": config.input_table,
                 "vf_schema": config.voterfile_schema, "vf_table": config.voterfile_table})


def columns_of(rows: list[dict], schema: str, table: str) -> list[str]:
    """One table's column names from `table_columns`' rows."""
    return [r["column_name"] for r in rows
            if r["table_schema"] == schema and r["table_name"] == table]


# -- stage the universe --------------------------------------------------------------------

def _text(column: str | None) -> str:
    return f"NULLIF(TRIM(CAST(i.{q(column)} AS varchar(256))), '')" if column else \
        "CAST(NULL AS varchar(256))"


def create_history(config: MatchConfig) -> Step:
    """The history table, created with its unique key (PostgreSQL enforces it; on Redshift,
    which does not, the inserts' NOT EXISTS is what keeps one row per key). A table created by
    an earlier version has no key and is left as it is: altering it needs its owner, and
    rewriting it risks the history if the script is cut short; the NOT EXISTS inserts keep
    new duplicates out of it all the same."""
    history = q(config.output_schema, config.history_table)
    return Step(f"CREATE SCHEMA IF NOT EXISTS {q(config.output_schema)};\n"
                f"CREATE TABLE IF NOT EXISTS {history} ({HISTORY_COLUMNS}, "
                f"UNIQUE ({HISTORY_KEY}))")


def stage_universe(config: MatchConfig) -> Step:
    """Input rows never matched, or matched only below the rematch threshold."""
    c = config.columns
    if "full_address" in c:
        address = _text(c["full_address"])
    elif "house_number" in c or "street" in c:
        address = (f"NULLIF(TRIM(COALESCE({_text(c.get('house_number'))}, '') || ' ' || "
                   f"COALESCE({_text(c.get('street'))}, '')), '')")
    else:
        address = _text(None)
    if "birth_date" in c:
        birth = f"LEFT({_text(c['birth_date'])}, 10)"
    elif "birth_year" in c:
        parts = [f"LPAD({_text(c[k])}, {w}, '0')" for k, w in
                 (("birth_year", 4), ("birth_month", 2), ("birth_day", 2)) if k in c]
        birth = " || '-' || ".join(parts)
    else:
        birth = _text(None)
    exprs = {
        "first_name": _text(c.get("first_name")), "middle_name": _text(c.get("middle_name")),
        "last_name": _text(c.get("last_name")), "phone": _text(c.get("phone")),
        "email": _text(c.get("email")), "address": address, "unit": _text(c.get("unit")),
        "city": _text(c.get("city")), "state": f"UPPER({_text(c.get('state'))})",
        "zip": _text(c.get("zip")), "birth_date": birth, "gender": _text(c.get("gender")),
    }
    select = ",\n  ".join(f"CAST({exprs[f]} AS varchar(256)) AS {f}" for f in STAGE_FIELDS)
    universe = _stg(config, "universe")
    history = q(config.output_schema, config.history_table)
    return Step(
        f"DROP TABLE IF EXISTS {universe};\n"
        f"CREATE TABLE {universe} AS\nSELECT CAST(i.{q(config.primary_key)} AS varchar(256)) "
        f"AS source_id,\n  {select}\nFROM {q(config.input_schema, config.input_table)} i\n"
        f"WHERE i.{q(config.primary_key)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {history} h "
        f"WHERE h.source_id = CAST(i.{q(config.primary_key)} AS varchar(256)) "
        f"AND h.score >= %(rematch)s)",
        {"rematch": config.rematch_threshold},
    )


# -- dedupe --------------------------------------------------------------------------------

def dedupe(config: MatchConfig, source: str, matches: str, best: str) -> Step:
    """One best match per source id: extra match first, then score, then person_id; kept if
    score >= cutoff or extra match. `source`/`matches`/`best` are staging names."""
    vf = q(config.voterfile_schema, config.voterfile_table)
    return Step(
        f"DROP TABLE IF EXISTS {_stg(config, best)};\n"
        f"CREATE TABLE {_stg(config, best)} AS\n"
        f"SELECT source_id, person_id, voterbase_id, score, extra_match FROM (\n"
        f"  SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.source_id ORDER BY "
        f"CASE WHEN x.extra_match THEN 0 ELSE 1 END, x.score DESC, x.person_id) AS rn\n"
        f"  FROM (\n"
        f"    SELECT m.source_id, m.person_id, m.voterbase_id, CAST(m.score AS numeric(6,4)) "
        f"AS score,\n"
        f"      COALESCE(u.state = UPPER(TRIM(v.state))\n"
        f"        AND LEFT(UPPER(TRIM(u.first_name)), 3) = LEFT(UPPER(TRIM(v.first_name)), 3)\n"
        f"        AND UPPER(TRIM(u.last_name)) = UPPER(TRIM(v.last_name)), FALSE) AS extra_match\n"
        f"    FROM {_stg(config, matches)} m\n"
        f"    JOIN {_stg(config, source)} u ON u.source_id = m.source_id\n"
        f"    JOIN {vf} v ON v.person_id = m.person_id\n"
        f"  ) x\n"
        f") ranked\nWHERE rn = 1 AND (score >= %(cutoff)s OR extra_match)",
        {"cutoff": config.cutoff},
    )


# -- the rest: CASS/NCOA and name recovery ------------------------------------------------

def stage_rest(config: MatchConfig) -> Step:
    """Universe rows without a kept first-pass match, numbered into CASS/NCOA chunks."""
    rest = _stg(config, "rest")
    return Step(
        f"DROP TABLE IF EXISTS {rest};\n"
        f"CREATE TABLE {rest} AS\nSELECT u.*, CAST((ROW_NUMBER() OVER (ORDER BY u.source_id) - 1)"
        f" / %(chunk_rows)s AS integer) AS chunk_no\nFROM {_stg(config, 'universe')} u\n"
        f"WHERE NOT EXISTS (SELECT 1 FROM {_stg(config, 'best1')} b "
        f"WHERE b.source_id = u.source_id)",
        {"chunk_rows": config.chunk_rows},
    )


def count_rows(config: MatchConfig, name: str) -> Step:
    return Step(f"SELECT COUNT(*) AS n FROM {_stg(config, name)}")


def cass_table(chunk: int) -> str:
    return f"cass_{int(chunk)}"


def cass_limiting_sql(chunk: int) -> str:
    """The CASS/NCOA job's limitingSQL for one chunk (an int: nothing to escape)."""
    return f"chunk_no = {int(chunk)}"


# Name recovery, mirroring precinct.voterfile.names.recover_name.
_COUPLE = "' +([Aa][Nn][Dd]|&) +.*$'"
_IS_COUPLE = f"r.first_name ~ {_COUPLE}"
_FULL = "(r.first_name IS NOT NULL AND r.last_name IS NULL AND POSITION(' ' IN r.first_name) > 0)"
_EMAIL = ("(r.first_name IS NULL AND r.last_name IS NULL "
          "AND LOWER(TRIM(r.email)) ~ '^[a-z]+[.][a-z]+@')")
_LOCAL = "SPLIT_PART(LOWER(TRIM(r.email)), '@', 1)"
RECOVERED_FIRST = (
    f"CASE WHEN {_IS_COUPLE} THEN REGEXP_REPLACE(r.first_name, {_COUPLE}, '')\n"
    f"    WHEN {_FULL} THEN SPLIT_PART(r.first_name, ' ', 1)\n"
    f"    WHEN {_EMAIL} THEN INITCAP(SPLIT_PART({_LOCAL}, '.', 1))\n"
    f"    ELSE r.first_name END")
RECOVERED_LAST = (
    f"CASE WHEN {_IS_COUPLE} THEN r.last_name\n"
    f"    WHEN {_FULL} THEN TRIM(SUBSTRING(r.first_name, POSITION(' ' IN r.first_name) + 1))\n"
    f"    WHEN {_EMAIL} THEN INITCAP(SPLIT_PART({_LOCAL}, '.', 2))\n"
    f"    ELSE r.last_name END")
RECOVERED_HOW = (
    f"CASE WHEN {_IS_COUPLE} THEN 'couple' WHEN {_FULL} THEN 'full_name' "
    f"WHEN {_EMAIL} THEN 'email' END")


def coalesce_and_recover(config: MatchConfig, chunks: list[int]) -> Step:
    """The rest with CASS/NCOA addresses where there are some, and recovered names."""
    clean = _stg(config, "rest_clean")
    if chunks:
        union = "\n    UNION ALL ".join(
            f"SELECT source_id, cass_address1, cass_address2, cass_city, cass_state, cass_zip, "
            f"ncoa_moved FROM {_stg(config, cass_table(n))}" for n in chunks)
        join = f"LEFT JOIN (\n    {union}\n  ) c ON c.source_id = r.source_id"
        addr = {"address": "COALESCE(c.cass_address1, r.address)",
                "unit": "CASE WHEN c.cass_address1 IS NOT NULL THEN c.cass_address2 "
                        "ELSE r.unit END",
                "city": "COALESCE(c.cass_city, r.city)",
                "state": "COALESCE(c.cass_state, r.state)",
                "zip": "COALESCE(c.cass_zip, r.zip)"}
        moved = "COALESCE(c.ncoa_moved, FALSE)"
    else:
        join = ""
        addr = {k: f"r.{k}" for k in ("address", "unit", "city", "state", "zip")}
        moved = "FALSE"
    return Step(
        f"DROP TABLE IF EXISTS {clean};\n"
        f"CREATE TABLE {clean} AS\nSELECT r.source_id,\n"
        f"  CAST({RECOVERED_FIRST} AS varchar(256)) AS first_name,\n"
        f"  r.middle_name,\n"
        f"  CAST({RECOVERED_LAST} AS varchar(256)) AS last_name,\n"
        f"  r.phone, r.email,\n"
        f"  CAST({addr['address']} AS varchar(256)) AS address,\n"
        f"  CAST({addr['unit']} AS varchar(256)) AS unit,\n"
        f"  CAST({addr['city']} AS varchar(256)) AS city,\n"
        f"  CAST({addr['state']} AS varchar(256)) AS state,\n"
        f"  CAST({addr['zip']} AS varchar(256)) AS zip,\n"
        f"  r.birth_date, r.gender,\n"
        f"  CAST({RECOVERED_HOW} AS varchar(16)) AS name_recovered,\n"
        f"  {moved} AS ncoa_moved\n"
        f"FROM {_stg(config, 'rest')} r\n  {join}"
    )


# -- QA and publish ------------------------------------------------------------------------

def qa_counts(config: MatchConfig) -> Step:
    """One row: the input's size and the counts per stage."""
    def n(name: str) -> str:
        return f"(SELECT COUNT(*) FROM {_stg(config, name)})"

    return Step(
        f"SELECT (SELECT COUNT(*) FROM {q(config.input_schema, config.input_table)} "
        f"WHERE {q(config.primary_key)} IS NOT NULL) AS input_rows, "
        f"{n('universe')} AS universe, {n('match1')} AS pass1_candidates, "
        f"{n('best1')} AS pass1_kept, {n('rest')} AS rest, "
        f"(SELECT COUNT(*) FROM {_stg(config, 'rest_clean')} WHERE name_recovered IS NOT NULL) "
        f"AS names_recovered, "
        f"(SELECT COUNT(*) FROM {_stg(config, 'rest_clean')} WHERE ncoa_moved) AS ncoa_moved, "
        f"{n('match2')} AS pass2_candidates, {n('best2')} AS pass2_kept")


def match_rate(counts: dict[str, int]) -> float | None:
    """The share of the input matched after this run: rows matched well before (not staged)
    plus this run's kept matches, over the input's rows (None for an empty input). Over the
    whole list, so an incremental re-run that re-sends only the hard rows is not judged on
    them alone."""
    rows = int(counts.get("input_rows") or 0)
    if rows == 0:
        return None
    before = rows - int(counts.get("universe") or 0)
    kept = int(counts.get("pass1_kept") or 0) + int(counts.get("pass2_kept") or 0)
    return (before + kept) / rows


def _append(history: str, best: str, match_pass: int) -> str:
    """Insert one pass's kept matches, skipping rows already there: with the DELETE before it,
    a re-run replaces the run's rows; a twin running at the same time (neither sees the other's
    uncommitted rows) is stopped by the unique key on PostgreSQL; Redshift enforces no keys but
    runs transactions serializably: as if one copy ran after the other (whose NOT EXISTS then
    skips every row), or one of them fails."""
    run_id = "CAST(%(run_id)s AS varchar(250))"
    n = int(match_pass)
    return (f"INSERT INTO {history} ({HISTORY_NAMES})\n"
            f"SELECT b.source_id, b.person_id, b.voterbase_id, b.score, b.extra_match, {n}, "
            f"CAST(%(matched_date)s AS date), {run_id} FROM {best} b\n"
            f"WHERE NOT EXISTS (SELECT 1 FROM {history} h WHERE h.source_id = b.source_id "
            f"AND h.run_id = {run_id} AND h.match_pass = {n})")


def publish(config: MatchConfig, run_id: str, matched_date: date) -> Step:
    """Append this run's kept matches to `{output}_all_matches` (at most once per source id,
    run and pass: a retry, a re-run or a concurrent twin never duplicates them), then
    rebuild `{output}`: one best row per source id over the whole history, with the input's
    key and PII columns; swapped in with a rename so readers never see half a table."""
    history = q(config.output_schema, config.history_table)
    output = q(config.output_schema, config.output_table)
    new = _stg(config, "publish")
    pk = q(config.primary_key)
    pii = [col for col in dict.fromkeys(config.columns.values()) if col != config.primary_key]
    pii_select = "".join(f", i.{q(col)}" for col in pii)
    return Step(
        f"DELETE FROM {history} WHERE run_id = %(run_id)s;\n"
        f"{_append(history, _stg(config, 'best1'), 1)};\n"
        f"{_append(history, _stg(config, 'best2'), 2)};\n"
        f"DROP TABLE IF EXISTS {new};\n"
        f"CREATE TABLE {new} AS\nSELECT i.{pk}, b.person_id, b.voterbase_id, b.score, "
        f"b.extra_match, b.matched_date{pii_select}\nFROM (\n"
        f"  SELECT h.*, ROW_NUMBER() OVER (PARTITION BY h.source_id ORDER BY "
        f"CASE WHEN h.extra_match THEN 0 ELSE 1 END, h.score DESC, h.matched_date DESC, "
        f"h.person_id) AS rn\n  FROM {history} h\n) b\n"
        f"JOIN {q(config.input_schema, config.input_table)} i "
        f"ON CAST(i.{pk} AS varchar(256)) = b.source_id\nWHERE b.rn = 1;\n"
        f"DROP TABLE IF EXISTS {output};\n"
        f"ALTER TABLE {new} RENAME TO {q(config.output_table)}",
        {"run_id": run_id, "matched_date": matched_date},
    )


def count_output(config: MatchConfig) -> Step:
    return Step(f"SELECT COUNT(*) AS n FROM {q(config.output_schema, config.output_table)}")


def list_staging(config: MatchConfig) -> Step:
    prefix = config.staging_prefix
    return Step("SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "%(schema)s AND LEFT(table_name, %(n)s) = %(prefix)s",
                {"schema": config.output_schema, "n": len(prefix), "prefix": prefix})


def drop_tables(config: MatchConfig, tables: list[str]) -> Step:
    """Drop staging tables (only names with the staging prefix: never the output or history)."""
    keep = [t for t in tables if t.startswith(config.staging_prefix) and IDENTIFIER.match(t)]
    return Step("".join(f"DROP TABLE IF EXISTS {q(config.output_schema, t)};\n" for t in keep)
                or "SELECT 1")


def staging_names(config: MatchConfig, chunks: int = 0) -> list[str]:
    fixed = ["universe", "match1", "best1", "rest", "rest_clean", "match2", "best2", "publish"]
    return [config.staging(n) for n in fixed] + [config.staging(cass_table(i))
                                                 for i in range(chunks)]
