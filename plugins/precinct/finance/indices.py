"""Index names and the lifecycle rules of a state's indices: which are orphans, which to retire.

Every load goes into a fresh working index `{state}_{kind}_{yyyymmddthhmmssz}` (UTC); the alias
`{state}_{kind}` moves to it only once it is complete. Names sort in time order, so the rules
need no bookkeeping beyond the alias itself:

- an index newer than the live one was never promoted (its run failed or was refused): an orphan,
  deleted at the start of the next run; before the first promotion every index is one;
- an index older than the live one was live once: kept for rollback, up to `keep` indices in all
  (the live one included), the oldest retired first; the live index is never deleted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

KINDS = ("contributions", "reports")
_STATE = re.compile(r"^[a-z]{2}$")
_STAMP = "%Y%m%dt%H%M%Sz"


def check_state(state: str) -> str:
    """A state code safe to put in an index name (two lower-case letters)."""
    if not isinstance(state, str) or not _STATE.match(state):
        raise ValueError(f"state must be a two-letter lower-case code, got {state!r}")
    return state


def alias_name(state: str, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return f"{check_state(state)}_{kind}"


def working_index_name(state: str, kind: str, when: datetime) -> str:
    """`tx_contributions_20261124t031500z` for a load started at that UTC instant."""
    if when.tzinfo is None:
        raise ValueError("working index timestamps must be timezone-aware")
    return f"{alias_name(state, kind)}_{when.astimezone(UTC).strftime(_STAMP)}"


def index_pattern(state: str, kind: str) -> str:
    return f"{alias_name(state, kind)}_*"


def _ours(indices: list[str], state: str, kind: str) -> list[str]:
    pattern = re.compile(rf"^{re.escape(alias_name(state, kind))}_\d{{8}}t\d{{6}}z$")
    return sorted(name for name in indices if pattern.match(name))


def orphans(indices: list[str], live: list[str], state: str, kind: str) -> list[str]:
    """Working indices never promoted: newer than the live one, or all when nothing is live."""
    ours = _ours(indices, state, kind)
    if not live:
        return ours
    newest_live = max(live)
    return [name for name in ours if name > newest_live]


def to_retire(indices: list[str], live: list[str], state: str, kind: str, keep: int) -> list[str]:
    """Previously-live indices beyond the `keep` newest (the live one counts); never a live one."""
    if keep < 1:
        raise ValueError(f"indices to keep must be at least 1 (the live index), got {keep}")
    if not live:
        return []
    newest_live = max(live)
    history = [name for name in _ours(indices, state, kind) if name <= newest_live]
    retire = history[: max(len(history) - keep, 0)]
    return [name for name in retire if name not in live]
