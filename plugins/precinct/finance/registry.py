"""Which states Precinct can ingest.

Adding a state is one module with a `StateIngestor` subclass plus one line in `INGESTORS`; the
DAG's state multi-select and the operator read this mapping, so nothing else changes.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from precinct.finance.base import StateIngestor

# state -> "module:Class". Import paths, not classes: the DAG file lists the states at parse
# time, and the parsers are imported only by the task that runs one.
INGESTORS: dict[str, str] = {
    "tx": "precinct.finance.texas:TexasIngestor",
    "mi": "precinct.finance.michigan:MichiganIngestor",
}


def registered_states() -> list[str]:
    """Postal codes of the registered states, sorted (the DAG form's choices)."""
    return sorted(INGESTORS)


def get_ingestor(state: str) -> type[StateIngestor]:
    """The ingestor class for `state` (case-insensitive postal code)."""
    key = state.strip().lower() if isinstance(state, str) else state
    try:
        target = INGESTORS[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown state {state!r}; registered states: {', '.join(registered_states())}"
        ) from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
