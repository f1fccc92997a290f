"""Fixtures shared by the integration tests of the Civis operators."""

from __future__ import annotations

import pytest

from precinct.operators.civis import CivisRunOperator
from tests.integration.civis_support import MemoryRegistry


@pytest.fixture
def registry(devstack_env, monkeypatch) -> MemoryRegistry:
    """The operators' re-attach notes kept in memory (outside a task runner Airflow Variables
    cannot be written); the tests that SIGKILL `airflow tasks test` use the real Variables."""
    memory = MemoryRegistry()
    monkeypatch.setattr(CivisRunOperator, "registry", memory)
    return memory
