"""Validate the `voterfile_match` form before any SQL runs.

Every identifier must match `IDENTIFIER` (a plain lower/upper-case SQL name), the database must
be one the API key can use, every input column must exist in the input table (compared without
regard to case, then written into the SQL as the catalog spells it), the voterfile table must
exist with the columns the extra-match rule reads and the match target must be one of the
account's (not archived); a bad value raises `InvalidParam` naming the form field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Staging names append up to 23 characters (`__stg_cass_NNNN`, `_all_matches`): keep the output
# table short enough for Redshift's and PostgreSQL's 63-character limit.
MAX_OUTPUT_TABLE = 40
MAX_CHUNK_ROWS = 250_000
# The voterfile columns the dedupe step's extra-match rule reads (unquoted in its SQL, so they
# must exist under these lower-case names).
VOTERFILE_COLUMNS = ("person_id", "state", "first_name", "last_name")

# Form param -> Civis Data Match input field. Blank = not used.
PII_FIELDS: dict[str, str] = {
    "first_name_column": "first_name",
    "middle_name_column": "middle_name",
    "last_name_column": "last_name",
    "phone_column": "phone",
    "email_column": "email",
    "full_address_column": "full_address",
    "house_number_column": "house_number",
    "street_column": "street",
    "unit_column": "unit",
    "city_column": "city",
    "state_column": "state",
    "zip_column": "zip",
    "birth_date_column": "birth_date",
    "birth_year_column": "birth_year",
    "birth_month_column": "birth_month",
    "birth_day_column": "birth_day",
    "gender_column": "gender",
}


class InvalidParam(ValueError):
    """A form value that cannot be used; the message names the field."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


@dataclass(frozen=True)
class MatchConfig:
    input_schema: str
    input_table: str
    primary_key: str
    columns: dict[str, str]  # Data Match field -> input column (only the ones used)
    output_schema: str
    output_table: str
    voterfile_schema: str
    voterfile_table: str
    match_target_id: int
    max_matches: int = 3
    rematch_threshold: float = 0.6
    cutoff: float = 0.4
    cass_ncoa: bool = True
    match_rate_floor: float = 0.0
    chunk_rows: int = MAX_CHUNK_ROWS
    extra: dict[str, Any] = field(default_factory=dict)

    def staging(self, name: str) -> str:
        return f"{self.output_table}__stg_{name}"

    @property
    def staging_prefix(self) -> str:
        return f"{self.output_table}__stg_"

    @property
    def history_table(self) -> str:
        return f"{self.output_table}_all_matches"

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MatchConfig:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def identifier(value: Any, field_name: str) -> str:
    text = "" if value is None else str(value).strip()
    if not IDENTIFIER.match(text):
        raise InvalidParam(field_name, f"{text!r} is not a valid SQL identifier (letters, digits "
                           "and _, starting with a letter or _, at most 63 characters)")
    return text


def qualified(value: Any, field_name: str) -> tuple[str, str]:
    """`schema.table` -> (schema, table), both validated."""
    text = "" if value is None else str(value).strip()
    parts = text.split(".")
    if len(parts) != 2:
        raise InvalidParam(field_name, f"{text!r} must be schema.table")
    return identifier(parts[0], field_name), identifier(parts[1], field_name)


def _number(params: Mapping[str, Any], name: str, low: float, high: float) -> float:
    try:
        value = float(params[name])
    except (KeyError, TypeError, ValueError):
        raise InvalidParam(name, f"{params.get(name)!r} is not a number") from None
    if not low <= value <= high:
        raise InvalidParam(name, f"{value} is outside {low}..{high}")
    return value


def parse_params(params: Mapping[str, Any]) -> MatchConfig:
    """Check the form's patterns and ranges (no database yet)."""
    in_schema, in_table = qualified(params.get("input_table"), "input_table")
    pk = identifier(params.get("primary_key"), "primary_key")
    columns: dict[str, str] = {}
    for form_field, dm_field in PII_FIELDS.items():
        value = params.get(form_field)
        if value is None or str(value).strip() == "":
            continue
        columns[dm_field] = identifier(value, form_field)
    if not columns:
        raise InvalidParam("first_name_column", "map at least one PII column")
    out_schema, out_table = qualified(params.get("output_table"), "output_table")
    if len(out_table) > MAX_OUTPUT_TABLE:
        raise InvalidParam("output_table", f"the table name must be at most {MAX_OUTPUT_TABLE} "
                           "characters (staging tables add a suffix)")
    vf_schema, vf_table = qualified(params.get("voterfile_table"), "voterfile_table")
    try:
        target = int(str(params.get("match_target")).strip())
    except ValueError:
        raise InvalidParam("match_target", f"{params.get('match_target')!r} is not a "
                           "numeric match target id") from None
    cutoff = _number(params, "cutoff", 0, 1)
    rematch = _number(params, "rematch_threshold", 0, 1)
    return MatchConfig(
        input_schema=in_schema, input_table=in_table, primary_key=pk, columns=columns,
        output_schema=out_schema, output_table=out_table, voterfile_schema=vf_schema,
        voterfile_table=vf_table, match_target_id=target,
        max_matches=int(_number(params, "max_matches", 1, 10)),
        rematch_threshold=rematch, cutoff=cutoff,
        cass_ncoa=bool(params.get("cass_ncoa", True)),
        match_rate_floor=_number(params, "match_rate_floor", 0, 1),
        chunk_rows=int(_number(params, "cass_chunk_rows", 1, MAX_CHUNK_ROWS)),
    )


def check_database(value: Any, databases: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The form's Civis database among the ones the key can use (`GET /databases`), by name
    or id, or `InvalidParam` listing them: a wrong name would otherwise fail inside the hook,
    retried, with a message that does not name the form field."""
    text = "" if value is None else str(value).strip()
    if not text:
        raise InvalidParam("database", "name the Civis database holding the tables")
    databases = list(databases)
    for db in databases:
        if str(db.get("name")) == text or (text.isdigit() and int(db["id"]) == int(text)):
            return db
    available = ", ".join(sorted(str(db.get("name")) for db in databases))
    raise InvalidParam("database", f"{text!r} is not a Civis database this API key can use "
                       f"(available: {available or 'none'})")


def _resolve(column: str, have: list[str], field_name: str, table: str) -> str:
    """The catalog's spelling of `column`: the exact name, else the one name equal to it
    without regard to case (only names that are valid identifiers: they go into SQL)."""
    if column in have:
        return column
    found = [c for c in have if c.lower() == column.lower() and IDENTIFIER.match(c)]
    if len(found) == 1:
        return found[0]
    if found:
        raise InvalidParam(field_name, f"column {column!r} is ambiguous in {table}: "
                           f"{', '.join(repr(c) for c in sorted(found))} (use the exact name)")
    raise InvalidParam(field_name, f"column {column!r} is not in {table}")


def check_columns(config: MatchConfig, existing: Iterable[str]) -> MatchConfig:
    """Every mapped column (and the key) must exist in the input table, compared without regard
    to case (as SQL compares unquoted names). Returns the config with each name as the catalog
    spells it: the SQL quotes names, and a quoted `"First_Name"` is not the column
    `first_name` on PostgreSQL."""
    have = list(dict.fromkeys(existing))
    table = f"{config.input_schema}.{config.input_table}"
    if not have:
        raise InvalidParam("input_table", f"{table} does not exist or has no columns")
    primary_key = _resolve(config.primary_key, have, "primary_key", table)
    reverse = {v: k for k, v in PII_FIELDS.items()}
    columns = {dm_field: _resolve(column, have, reverse[dm_field], table)
               for dm_field, column in config.columns.items()}
    return replace(config, primary_key=primary_key, columns=columns)


def resolved_columns(given: MatchConfig, resolved: MatchConfig) -> list[tuple[str, str, str]]:
    """(form field, the form's name, the catalog's name) for each name `check_columns` respelt."""
    reverse = {v: k for k, v in PII_FIELDS.items()}
    pairs = [("primary_key", given.primary_key, resolved.primary_key)]
    pairs += [(reverse[f], given.columns[f], resolved.columns[f]) for f in given.columns]
    return [p for p in pairs if p[1] != p[2]]


def check_voterfile(config: MatchConfig, existing: Iterable[str]) -> None:
    """The voterfile table must exist with the columns the extra-match rule reads
    (`VOTERFILE_COLUMNS`); otherwise the run would fail at `dedupe_pass_1`, after a paid Data
    Match run."""
    have = set(existing)
    table = f"{config.voterfile_schema}.{config.voterfile_table}"
    if not have:
        raise InvalidParam("voterfile_table", f"{table} does not exist or has no columns")
    missing = [c for c in VOTERFILE_COLUMNS if c not in have]
    if missing:
        raise InvalidParam("voterfile_table", f"{table} has no column{'s' * (len(missing) > 1)} "
                           f"{', '.join(repr(c) for c in missing)} (the extra-match rule reads "
                           f"{', '.join(VOTERFILE_COLUMNS)})")


def check_match_target(config: MatchConfig, targets: Iterable[Mapping[str, Any]]
                       ) -> Mapping[str, Any]:
    """The form's match target among the account's (`GET /match_targets`), or `InvalidParam`
    listing the ones it can use: a wrong id would otherwise fail only inside Civis, after
    staging, with a message that does not say which form field is wrong."""
    targets = list(targets)
    usable = sorted((t for t in targets if not t.get("archived")), key=lambda t: int(t["id"]))
    for target in usable:
        if int(target["id"]) == config.match_target_id:
            return target
    available = ", ".join(f"{int(t['id'])} ({t.get('name') or 'unnamed'})" for t in usable)
    archived = any(int(t["id"]) == config.match_target_id for t in targets)
    why = "is archived" if archived else "is not a match target of this Civis account"
    raise InvalidParam("match_target", f"{config.match_target_id} {why} (available: "
                       f"{available or 'none'})")
