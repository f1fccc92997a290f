"""Which states Precinct can ingest.

Adding a state is one module with a `StateIngestor` subclass plus one line in `INGESTORS`; the
DAG's state multi-select and the operator read this mapping, so nothing else changes.
"""

from __future__ import annotations

from precinct.finance.base import StateIngestor
from precinct.finance.michigan import MichiganIngestor
from precinct.finance.texas import TexasIngestor

INGESTORS: dict[str, type[StateIngestor]] = {
    TexasIngestor.state: TexasIngestor,
    MichiganIngestor.state: MichiganIngestor,
}


def registered_states() -> list[str]:
    """Postal codes of the registered states, sorted (the DAG form's choices)."""
    return sorted(INGESTORS)


def get_ingestor(state: str) -> type[StateIngestor]:
    """The ingestor class for `state` (case-insensitive postal code)."""
    key = state.strip().lower() if isinstance(state, str) else state
    try:
        return INGESTORS[key]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown state {state!r}; registered states: {', '.join(registered_states())}"
        ) from None
