"""Helpers the Civis operator tests share: an in-memory re-attach note store, a stand-in task
instance, and running an operator as Airflow would (execute, the trigger, then resume)."""

from __future__ import annotations

import asyncio
from typing import Any

from airflow.sdk.exceptions import TaskDeferred

from precinct.operators.civis import CivisRunOperator, RunRegistry
from precinct.triggers.civis import CivisRunTrigger


class MemoryRegistry(RunRegistry):
    """The Variable-backed note, kept in a dict (a worker crash does not lose it)."""

    def __init__(self) -> None:
        self.notes: dict[str, dict] = {}

    def load(self, ti: Any) -> dict | None:
        return self.notes.get(self.key(ti))

    def save(self, ti: Any, record: dict) -> None:
        self.notes[self.key(ti)] = record

    def clear(self, ti: Any) -> None:
        self.notes.pop(self.key(ti), None)


class FakeTI:
    def __init__(self, task_id: str, run_id: str = "manual__test", try_number: int = 1,
                 map_index: int = -1):
        self.dag_id = "civis_operator_tests"
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = try_number


class WorkerCrash(BaseException):
    """Stands for the worker process dying right after the run started."""


def run_trigger(trigger: CivisRunTrigger) -> dict:
    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(first_event())


def execute(op: CivisRunOperator, context: dict) -> dict:
    """Run an operator as Airflow would: execute, and if it defers, the trigger then resume."""
    try:
        return op.execute(context)
    except TaskDeferred as deferred:
        # The trigger is re-created from its serialized form, as the triggerer does.
        classpath, kwargs = deferred.trigger.serialize()
        assert classpath == "precinct.triggers.civis.CivisRunTrigger"
        event = run_trigger(CivisRunTrigger(**kwargs))
        return getattr(op, deferred.method_name)(context, event)
