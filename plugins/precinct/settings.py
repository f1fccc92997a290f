"""Per-deployment settings: the trigger form's value, else the Airflow Variable `<dag_id>_<param>`.

Scheduled runs use the Params' defaults, so a setting that differs per deployment (a spreadsheet
id, a BigQuery dataset, a bucket URL) defaults to None in the DAG file and is configured once as
an Airflow Variable named after the DAG and the Param (`flake_rate_refresh_dataset`). A manual
run may still fill the Param in, and then the form wins. devstack writes its values to
`.devstack/airflow.env` (`AIRFLOW_VAR_<NAME>`), so `make demo` runs every DAG on its defaults.

Everything here runs inside a task: Airflow is imported in the functions, and the DAG files
never call them (no Variable is read at parse time). A missing or invalid setting fails the task
at once with `AirflowFailException`: a retry cannot fix configuration, and its message names
both the Param and the Variable, so the failure e-mail says what to set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

log = logging.getLogger(__name__)


def variable_name(dag_id: str, param: str) -> str:
    """The Airflow Variable a Param falls back to: `<dag_id>_<param>`."""
    return f"{dag_id}_{param}"


def text(value: Any) -> str | None:
    """A form or Variable value as stripped text; None when it is unset or blank."""
    if value is None:
        return None
    return str(value).strip() or None


def variable(name: str) -> str | None:
    """The Variable's value, stripped; None when it is unset or blank. Run time only."""
    from airflow.sdk import Variable

    return text(Variable.get(name, default=None))


def fail(message: str) -> NoReturn:
    """Fail the task now, without retries (a retry cannot fix a setting)."""
    from airflow.sdk.exceptions import AirflowFailException

    # `from None`: called while handling the check's ValueError, whose message this repeats.
    raise AirflowFailException(message) from None


def optional(value: Any, *, dag_id: str, param: str) -> str | None:
    """The form value, else the Variable `<dag_id>_<param>`, else None (for optional settings)."""
    form = text(value)
    if form is not None:
        return form
    return variable(variable_name(dag_id, param))


def required(value: Any, *, dag_id: str, param: str,
             check: Callable[[str], Any] | None = None) -> str:
    """The form value, else the Variable `<dag_id>_<param>`; fail the task if neither is set.

    `check` validates the value the way the form's value is validated (it raises ValueError
    saying why); a value it refuses fails the task with a message naming where it came from.
    Its return value, when not None, replaces the value (a normalised form).
    """
    name = variable_name(dag_id, param)
    resolved = text(value)
    origin = f"the Param {param!r}"
    if resolved is None:
        resolved = variable(name)
        origin = f"the Airflow Variable {name!r} (the Param {param!r} is empty)"
        if resolved is None:
            fail(f"{param} is not set: the Param {param!r} is empty and the Airflow Variable "
                 f"{name!r} is not set. Set the Variable (scheduled runs use it), or fill in "
                 f"the Param when triggering the DAG.")
        log.info("%s: the Param is empty, using the Airflow Variable %r", param, name)
    if check is not None:
        try:
            checked = check(resolved)
        except ValueError as exc:
            fail(f"Invalid value of {origin}: {exc}")
        if checked is not None:
            resolved = checked
    return resolved


@contextmanager
def invalid_form_values(errors: type[Exception] | tuple[type[Exception], ...] = ValueError
                        ) -> Iterator[None]:
    """Turn the errors (default ValueError) a form value's check raises into a failure without
    retries, keeping the check's message (which names the Param)."""
    try:
        yield
    except errors as exc:
        fail(f"Invalid form value: {exc}")
