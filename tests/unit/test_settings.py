"""precinct.settings: the form's value, else the Airflow Variable `<dag_id>_<param>`.

The Variables are real ones, read by Airflow's own environment-variable secrets backend
(`AIRFLOW_VAR_<NAME>`), the way devstack and many deployments set them.
"""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from precinct import settings

DAG_ID = "precinct_settings_test"
VARIABLE = "precinct_settings_test_spreadsheet_id"
ENV = f"AIRFLOW_VAR_{VARIABLE.upper()}"


def refuse_spaces(value: str) -> str:
    if " " in value:
        raise ValueError(f"no spaces allowed, got {value!r}")
    return value.lower()


@pytest.fixture
def variable(monkeypatch: pytest.MonkeyPatch):
    """Set (or blank) the test's Variable for one test."""
    def set_to(value: str) -> None:
        monkeypatch.setenv(ENV, value)
    set_to("")  # blank counts as unset
    return set_to


def test_variable_name_is_dag_id_underscore_param():
    assert settings.variable_name("flake_rate_refresh", "dataset") == "flake_rate_refresh_dataset"


@pytest.mark.parametrize(("raw", "expected"), [
    (None, None), ("", None), ("   ", None), (" sheet-1 \n", "sheet-1"), (42, "42"),
])
def test_text_strips_and_treats_blank_as_unset(raw, expected):
    assert settings.text(raw) == expected


def test_the_form_value_wins_over_the_variable(variable):
    variable("from-the-variable")
    assert settings.required(" from-the-form ", dag_id=DAG_ID, param="spreadsheet_id") == \
        "from-the-form"
    assert settings.optional("from-the-form", dag_id=DAG_ID, param="spreadsheet_id") == \
        "from-the-form"


@pytest.mark.parametrize("empty", [None, "", "  "])
def test_an_empty_param_falls_back_to_the_variable(variable, empty):
    variable("  from-the-variable ")
    assert settings.required(empty, dag_id=DAG_ID, param="spreadsheet_id") == \
        "from-the-variable"
    assert settings.optional(empty, dag_id=DAG_ID, param="spreadsheet_id") == \
        "from-the-variable"


def test_neither_set_fails_without_retry_naming_the_param_and_the_variable(variable):
    with pytest.raises(AirflowFailException) as failed:
        settings.required(None, dag_id=DAG_ID, param="spreadsheet_id")
    message = str(failed.value)
    assert "Param 'spreadsheet_id'" in message
    assert f"Airflow Variable '{VARIABLE}'" in message
    # An optional setting is simply absent.
    assert settings.optional(None, dag_id=DAG_ID, param="spreadsheet_id") is None


def test_the_check_applies_to_a_form_value_and_names_the_param(variable):
    assert settings.required("Sheet", dag_id=DAG_ID, param="spreadsheet_id",
                             check=refuse_spaces) == "sheet"  # the check's normal form
    with pytest.raises(AirflowFailException) as failed:
        settings.required("my sheet", dag_id=DAG_ID, param="spreadsheet_id",
                          check=refuse_spaces)
    assert str(failed.value) == (
        "Invalid value of the Param 'spreadsheet_id': no spaces allowed, got 'my sheet'")


def test_the_check_applies_to_the_variable_and_names_it(variable):
    variable("my sheet")
    with pytest.raises(AirflowFailException) as failed:
        settings.required(None, dag_id=DAG_ID, param="spreadsheet_id", check=refuse_spaces)
    message = str(failed.value)
    assert message.startswith(f"Invalid value of the Airflow Variable '{VARIABLE}'")
    assert "the Param 'spreadsheet_id' is empty" in message
    assert "no spaces allowed" in message
    # The failure does not drag the check's ValueError along as its context.
    assert failed.value.__suppress_context__


def test_a_check_returning_none_keeps_the_value(variable):
    variable("kept")
    assert settings.required(None, dag_id=DAG_ID, param="spreadsheet_id",
                             check=lambda _value: None) == "kept"


def test_invalid_form_values_fail_without_retry_keeping_the_message():
    with pytest.raises(AirflowFailException, match=r"^Invalid form value: keep_indices must"):
        with settings.invalid_form_values():
            raise ValueError("keep_indices must be at least 1 (the live index), got 0")

    class DomainError(ValueError):
        pass

    with pytest.raises(AirflowFailException, match="tolerance"):
        with settings.invalid_form_values(DomainError):
            raise DomainError("tolerance must be between 0 and 1, got 1.5")
    # Anything else is not a form value's problem: it passes through (and is retried).
    with pytest.raises(ValueError, match="a bug"):
        with settings.invalid_form_values(DomainError):
            raise ValueError("a bug")
    with pytest.raises(KeyError):
        with settings.invalid_form_values():
            raise KeyError("x")
