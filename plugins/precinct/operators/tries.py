"""Which series of tries a task instance is in: retries continue a series, a clear starts one.

Operators that re-attach to external work (BigQuery jobs, Civis runs) re-attach within a series
only: a retry picks up what the earlier try started, while a task cleared by an operator (who
usually cleared it because something changed upstream) starts afresh.
"""

from __future__ import annotations

from typing import Any


def retry_series(ti: Any, retries: int | None) -> int:
    """0 for the tries of a run's own task instance; after each clear, a new number.

    A clear gives the task instance a new budget of tries (`max_tries` = tries so far +
    retries), so `max_tries - retries` is the same for the tries of one series and new after a
    clear (Airflow's task runner finds a series' first try the same way). Without `max_tries`
    (run outside a task runner) it is 0.
    """
    max_tries = getattr(ti, "max_tries", None)
    if not isinstance(max_tries, int):
        return 0
    return max(0, max_tries - int(retries or 0))
