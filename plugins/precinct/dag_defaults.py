"""Default arguments every Precinct DAG uses, enforced by tests/dags/test_dag_integrity.py.

Two retries with exponential backoff absorb the transient API failures campaign data lives with
(429s, flaky VPNs); the failure callback e-mails operators once, after the final try.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from precinct.notifications import notify_failure

OWNER = "precinct"

# Tests and the local demo shorten the waits between tries (an environment variable, read at
# parse time like any setting: no I/O). Production leaves it unset.
_RETRY_DELAY = float(os.environ.get("PRECINCT_RETRY_DELAY_SECONDS", "120"))
# Seconds between status checks of a deferred Civis run (the triggerer's polls). Enhancements
# and long scripts take minutes on Civis; devstack sets 1 for its stand-in's short runs.
CIVIS_POLL_SECONDS = float(os.environ.get("PRECINCT_CIVIS_POLL_SECONDS", "30"))

DEFAULT_ARGS: dict[str, Any] = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(seconds=_RETRY_DELAY),
    "retry_exponential_backoff": 2.0,
    "max_retry_delay": timedelta(seconds=max(_RETRY_DELAY, 1) * 15),
    "on_failure_callback": notify_failure,
}


def default_args(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of the defaults with a DAG's own overrides (never mutate the shared dict)."""
    return {**DEFAULT_ARGS, **overrides}
