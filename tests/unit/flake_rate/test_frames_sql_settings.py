"""Reading the published tab back, the dataset identifier, parameters and run settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from precinct.flake_rate import (
    FLAKE_RATE_COLUMNS,
    InvalidSetting,
    SheetFormatError,
    from_sheet,
    render,
    resolve_settings,
    to_sheet,
    validate_dataset,
    week_start,
)
from precinct.flake_rate.sql import parameters_used, query_parameters, strip_comments
from tests.unit.flake_rate.builders import as_sheet, table

SQL_DIR = Path(__file__).resolve().parents[3] / "include" / "sql"


def test_sheet_round_trip_keeps_every_value():
    current = to_sheet(table())
    back = from_sheet(as_sheet(current))
    assert list(back.columns) == FLAKE_RATE_COLUMNS
    assert back.equals(current)


def test_empty_or_missing_tab_is_no_previous_publish():
    assert from_sheet([]) is None
    assert from_sheet([["", ""]]) is None


def test_tab_edited_out_of_shape_is_an_error():
    values = as_sheet(table())
    values[0][values[0].index("Total")] = "Sum"
    with pytest.raises(SheetFormatError, match="no column"):
        from_sheet(values)
    values = as_sheet(table())
    values[3][values[0].index("Completed")] = "lots"
    with pytest.raises(SheetFormatError, match="not what we publish"):
        from_sheet(values)


def test_blank_rows_and_extra_columns_are_ignored():
    values = as_sheet(table(weeks=1))
    values[0].append("Notes")
    values.insert(2, [""] * len(values[0]))
    back = from_sheet(values)
    assert len(back) == 3


@pytest.mark.parametrize("good", ["van_tx", "demo.van_demo", "my-project-42.VAN_sync_2026"])
def test_valid_dataset_ids(good):
    assert validate_dataset(good) == good


@pytest.mark.parametrize("bad", [
    "", "van tx", "van`; DROP TABLE x; --", "a.b.c", "van_tx.events`", "proj.da-ta",
    "Proj.data", "van_tx\n", "`van_tx`", "x.y", "van'tx", "../etc",
])
def test_invalid_dataset_ids_are_refused(bad):
    with pytest.raises(ValueError, match="not a BigQuery dataset id"):
        validate_dataset(bad)


def test_render_substitutes_only_a_valid_dataset():
    assert render("SELECT * FROM `{dataset}.events`", "van_tx") == "SELECT * FROM `van_tx.events`"
    with pytest.raises(ValueError):
        render("SELECT * FROM `{dataset}.events`", "x`.y")
    with pytest.raises(ValueError, match="marker"):
        render("SELECT 1", "van_tx")


@pytest.mark.parametrize("name", ["flake_rate.sql", "flake_rate_upcoming.sql"])
def test_sql_files_bind_every_value_and_keep_at_signs_out_of_comments(name):
    sql = (SQL_DIR / name).read_text()
    assert "{dataset}" in sql
    # The emulator counts parameters with a regex that does not skip comments.
    code_at_signs = strip_comments(sql).count("@")
    assert code_at_signs == sql.count("@")
    expected = {"as_of", "event_type_ids"} | ({"start_date"} if name == "flake_rate.sql" else set())
    assert parameters_used(sql) == expected
    # The emulator-divergent constructs of standins.md are not used.
    code = strip_comments(sql).upper()
    assert "DAYOFWEEK" not in code and "ISOWEEK" not in code


def test_query_parameters_rest_shape():
    assert query_parameters({
        "as_of": ("DATE", date(2026, 10, 14)),
        "event_type_ids": ("ARRAY<INT64>", [1, 2]),
        "flag": ("BOOL", True),
    }) == [
        {"name": "as_of", "parameterType": {"type": "DATE"},
         "parameterValue": {"value": "2026-10-14"}},
        {"name": "event_type_ids",
         "parameterType": {"type": "ARRAY", "arrayType": {"type": "INT64"}},
         "parameterValue": {"arrayValues": [{"value": "1"}, {"value": "2"}]}},
        {"name": "flag", "parameterType": {"type": "BOOL"},
         "parameterValue": {"value": "true"}},
    ]
    with pytest.raises(ValueError):
        query_parameters({"x": ("ARRAY<INT64>", "1,2")})
    with pytest.raises(ValueError):
        query_parameters({"x": ("TABLE", "t")})


def test_week_starts_on_saturday():
    assert week_start(date(2026, 10, 10)) == date(2026, 10, 10)  # Saturday
    assert week_start(date(2026, 10, 16)) == date(2026, 10, 10)  # Friday
    assert week_start(date(2026, 10, 17)) == date(2026, 10, 17)
    assert week_start(date(2026, 10, 12)) == date(2026, 10, 10)  # Monday


def test_settings_defaults_and_checks():
    params = {"dataset": "van_tx", "event_type_ids": [143856, 143850, 143850],
              "spreadsheet_id": "sheet-1"}
    settings = resolve_settings(params, date(2026, 10, 14))
    assert settings.event_type_ids == (143850, 143856)
    assert settings.start_date == date(2026, 7, 18)  # 12 weeks before the week of Oct 10
    assert settings.tolerance == 0.05 and settings.row_count_tolerance == 0.10
    assert settings.closeout_days == 7
    assert settings.flake_rate_parameters()["start_date"] == ("DATE", "2026-07-18")
    assert settings.to_json()["as_of"] == "2026-10-14"
    explicit = resolve_settings({**params, "start_date": "2026-09-01", "tolerance": 0},
                                date(2026, 10, 14))
    assert explicit.start_date == date(2026, 9, 1) and explicit.tolerance == 0.0
    for bad, message in [
        ({"dataset": "van tx"}, "dataset"),
        ({"event_type_ids": []}, "event_type_ids"),
        ({"event_type_ids": ["canvass"]}, "event_type_ids"),
        ({"start_date": "10/01/2026"}, "start_date"),
        ({"start_date": "2026-12-01"}, "after the refresh date"),
        ({"spreadsheet_id": " "}, "spreadsheet_id"),
        ({"tolerance": 1.5}, "tolerance"),
        ({"closeout_days": -1}, "closeout_days"),
        ({"closeout_days": 2.5}, "closeout_days"),
    ]:
        with pytest.raises(InvalidSetting, match=message) as refused:
            resolve_settings({**params, **bad}, date(2026, 10, 14))
        # The domain error names the param; the task turns it into a failure without retry.
        assert refused.value.param == next(iter(bad))
        assert isinstance(refused.value, ValueError)
