"""Form validation: patterns, ranges, column existence and the match target, each failure
naming its field."""

from __future__ import annotations

import pytest

from precinct.voterfile.validation import (
    InvalidParam,
    check_columns,
    check_database,
    check_match_target,
    check_voterfile,
    parse_params,
    qualified,
    resolved_columns,
)

GOOD = {
    "input_table": "demo.signups", "primary_key": "id", "first_name_column": "first_name",
    "last_name_column": "last_name", "email_column": "", "phone_column": None,
    "output_table": "demo.signups_matched", "voterfile_table": "public.voterfile",
    "match_target": 1, "max_matches": 3, "rematch_threshold": 0.6, "cutoff": 0.4,
    "cass_ncoa": True, "match_rate_floor": 0.5, "cass_chunk_rows": 250_000,
}


def test_good_params_parse_and_blank_columns_are_not_used():
    config = parse_params(GOOD)
    assert (config.input_schema, config.input_table) == ("demo", "signups")
    assert config.columns == {"first_name": "first_name", "last_name": "last_name"}
    assert config.staging("universe") == "signups_matched__stg_universe"
    assert config.history_table == "signups_matched_all_matches"


@pytest.mark.parametrize(("field", "value"), [
    ("input_table", "demo.signups; DROP TABLE x"),
    ("input_table", "signups"),
    ("input_table", 'demo."signups"'),
    ("primary_key", "id--"),
    ("primary_key", ""),
    ("first_name_column", "first name"),
    ("email_column", "e'mail"),
    ("output_table", "demo.1table"),
    ("output_table", "demo." + "x" * 41),
    ("voterfile_table", "public.voter-file"),
    ("match_target", "abc"),
    ("cutoff", 1.5),
    ("rematch_threshold", "high"),
    ("cass_chunk_rows", 250_001),
])
def test_a_bad_value_fails_naming_the_field(field, value):
    with pytest.raises(InvalidParam) as err:
        parse_params({**GOOD, field: value})
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}:")


def test_no_pii_column_at_all_is_refused():
    params = {**GOOD, "first_name_column": "", "last_name_column": " "}
    with pytest.raises(InvalidParam):
        parse_params(params)


def test_columns_must_exist_in_the_input_table():
    config = parse_params(GOOD)
    check_columns(config, ["ID", "first_name", "last_name", "other"])  # case-insensitive
    with pytest.raises(InvalidParam) as err:
        check_columns(config, ["id", "first_name"])
    assert err.value.field == "last_name_column"
    with pytest.raises(InvalidParam) as err:
        check_columns(config, ["first_name", "last_name"])
    assert err.value.field == "primary_key"
    with pytest.raises(InvalidParam) as err:
        check_columns(config, [])
    assert err.value.field == "input_table"


def test_qualified_splits_schema_and_table():
    assert qualified(" demo.t1 ", "f") == ("demo", "t1")
    with pytest.raises(InvalidParam):
        qualified("a.b.c", "f")


TARGETS = [  # as CivisHook.list_match_targets returns them (GET /match_targets)
    {"id": 7, "name": "Ohio file", "target_file_name": "oh", "archived": False},
    {"id": 1, "name": "National voterfile", "target_file_name": "us", "archived": False},
    {"id": 3, "name": "Old file", "target_file_name": "old", "archived": True},
]


def test_the_match_target_must_be_one_of_the_accounts():
    assert check_match_target(parse_params(GOOD), TARGETS)["name"] == "National voterfile"
    with pytest.raises(InvalidParam) as err:
        check_match_target(parse_params({**GOOD, "match_target": 99}), TARGETS)
    assert err.value.field == "match_target"
    assert str(err.value) == ("match_target: 99 is not a match target of this Civis account "
                              "(available: 1 (National voterfile), 7 (Ohio file))")


def test_an_archived_match_target_is_refused_and_not_offered():
    with pytest.raises(InvalidParam) as err:
        check_match_target(parse_params({**GOOD, "match_target": 3}), TARGETS)
    assert str(err.value) == ("match_target: 3 is archived (available: 1 (National voterfile), "
                              "7 (Ohio file))")
    with pytest.raises(InvalidParam, match=r"\(available: none\)"):
        check_match_target(parse_params(GOOD), [])


DATABASES = [  # as CivisHook.list_databases returns them (GET /databases)
    {"id": 1, "name": "redshift-general", "adapter": "redshift", "databaseName": "dev"},
    {"id": 4, "name": "Analytics", "adapter": "postgresql", "databaseName": "analytics"},
]


def test_the_database_must_be_one_the_key_can_use():
    assert check_database("redshift-general", DATABASES)["id"] == 1
    assert check_database(" 4 ", DATABASES)["name"] == "Analytics"  # by id too
    with pytest.raises(InvalidParam) as err:
        check_database("redshift-genral", DATABASES)
    assert err.value.field == "database"
    assert str(err.value) == ("database: 'redshift-genral' is not a Civis database this API "
                              "key can use (available: Analytics, redshift-general)")
    for blank in ("", "  ", None):
        with pytest.raises(InvalidParam, match=r"^database: name the Civis database"):
            check_database(blank, DATABASES)
    with pytest.raises(InvalidParam, match=r"\(available: none\)"):
        check_database("redshift-general", [])


def test_the_voterfile_table_must_have_the_extra_match_columns():
    config = parse_params(GOOD)
    check_voterfile(config, ["person_id", "voterbase_id", "state", "first_name", "last_name"])
    with pytest.raises(InvalidParam) as err:
        check_voterfile(config, [])
    assert err.value.field == "voterfile_table"
    assert str(err.value) == "voterfile_table: public.voterfile does not exist or has no columns"
    with pytest.raises(InvalidParam) as err:
        check_voterfile(config, ["person_id", "State", "first_name"])  # the SQL reads `state`
    assert str(err.value) == ("voterfile_table: public.voterfile has no columns 'state', "
                              "'last_name' (the extra-match rule reads person_id, state, "
                              "first_name, last_name)")


def test_column_names_are_resolved_to_the_catalogs_spelling():
    # The SQL quotes names: the form's `First_Name` must be written as the column `first_name`.
    config = parse_params({**GOOD, "primary_key": "Id", "first_name_column": "First_Name",
                           "last_name_column": "LASTNAME"})
    resolved = check_columns(config, ["id", "first_name", "LastName", "other"])
    assert resolved.primary_key == "id"
    assert resolved.columns == {"first_name": "first_name", "last_name": "LastName"}
    assert resolved_columns(config, resolved) == [
        ("primary_key", "Id", "id"), ("first_name_column", "First_Name", "first_name"),
        ("last_name_column", "LASTNAME", "LastName")]
    # An exact name wins over others differing in case only; several others are ambiguous.
    exact = check_columns(parse_params(GOOD), ["id", "first_name", "First_Name", "last_name"])
    assert exact.columns["first_name"] == "first_name"
    with pytest.raises(InvalidParam) as err:
        check_columns(config, ["id", "first_name", "FIRST_NAME", "LastName"])
    assert str(err.value) == ("first_name_column: column 'First_Name' is ambiguous in "
                              "demo.signups: 'FIRST_NAME', 'first_name' (use the exact name)")
    # A catalog name that only lower-cases to the form's (Kelvin sign) is not an identifier.
    assert "\u212aey".lower() == "key"
    with pytest.raises(InvalidParam, match=r"^primary_key: column 'key' is not in"):
        check_columns(parse_params({**GOOD, "primary_key": "key"}),
                      ["\u212aey", "first_name", "last_name"])
