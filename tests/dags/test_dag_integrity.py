"""Every DAG follows the project's contract (DESIGN.md): the rules operators rely on."""

from __future__ import annotations

from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag

from precinct.dag_defaults import OWNER
from precinct.notifications import notify_failure
from tests.dags.dag_files import DAGS_DIR, FIXTURE_DAGS_DIR, dag_files


def _bag(folder) -> DagBag:
    return DagBag(dag_folder=folder, bundle_path=folder)


BAGS = {folder: _bag(folder) for folder in (DAGS_DIR, FIXTURE_DAGS_DIR) if folder.exists()}
DAGS = [dag for bag in BAGS.values() for dag in bag.dags.values()]


def test_there_is_something_to_check():
    assert dag_files(), "no DAG files found"
    assert DAGS, "no DAGs were loaded"


@pytest.mark.parametrize("folder", list(BAGS), ids=lambda f: f.name)
def test_no_import_errors(folder):
    assert BAGS[folder].import_errors == {}


@pytest.mark.parametrize("dag", DAGS, ids=lambda d: d.dag_id)
class TestDagContract:
    def test_dag_level(self, dag):
        assert dag.catchup is False
        assert dag.tags, "tags are required"
        assert dag.doc_md and len(dag.doc_md.strip()) > 40, "doc_md=__doc__ with a real docstring"
        assert dag.owner == OWNER

    def test_every_task_retries_with_backoff_and_alerts(self, dag):
        for task in dag.tasks:
            where = f"{dag.dag_id}.{task.task_id}"
            assert task.retries >= 2 or dag.dag_id == "precinct_failure_probe", where
            assert task.retry_exponential_backoff, f"{where}: exponential backoff"
            assert task.max_retry_delay is not None and task.max_retry_delay <= timedelta(hours=1)
            callbacks = task.on_failure_callback
            callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
            assert notify_failure in callbacks, f"{where}: on_failure_callback"

    def test_every_param_has_title_and_description(self, dag):
        for key in dag.params:
            param = dag.params.get_param(key)
            assert param.schema.get("title"), f"{dag.dag_id} param {key!r} has no title"
            assert param.description, f"{dag.dag_id} param {key!r} has no description"

    def test_a_dict_result_is_stored_once_unless_its_keys_are_read(self, dag):
        """A `-> dict` TaskFlow task also stores every key as an XCom of its own (Airflow infers
        multiple_outputs from the annotation): twice the metadata DB for nothing, unless a
        downstream task reads a key (`run["dataset"]`)."""
        keyed = {ref.operator.task_id for task in dag.tasks for ref in _xcom_refs(task)
                 if ref.key != "return_value"}
        for task in dag.tasks:
            if getattr(task, "multiple_outputs", False):
                assert task.task_id in keyed, (
                    f"{dag.dag_id}.{task.task_id} stores each key of its result again; no task "
                    "reads one: @task(multiple_outputs=False)")


def _xcom_refs(task):
    """The XComArgs a task's inputs hold (op_args/op_kwargs and templated fields)."""
    from airflow.sdk.definitions.xcom_arg import PlainXComArg

    def walk(value):
        if isinstance(value, PlainXComArg):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                yield from walk(item)

    fields = set(task.template_fields) | {"op_args", "op_kwargs"}
    for name in fields:
        yield from walk(getattr(task, name, None))
