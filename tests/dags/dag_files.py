"""Which DAG files the integrity tests check: every deployable DAG plus the failure probe."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DAGS_DIR = REPO / "dags"
FIXTURE_DAGS_DIR = Path(__file__).resolve().parent / "fixtures"


def dag_files() -> list[Path]:
    files = sorted(DAGS_DIR.glob("*.py")) + sorted(FIXTURE_DAGS_DIR.glob("*.py"))
    return [f for f in files if not f.name.startswith("_")]
