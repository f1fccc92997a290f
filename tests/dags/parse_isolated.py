"""Parse one DAG file with the network cut and no reachable metadata DB; print its import errors.

Run as a subprocess by test_top_level.py: anything a DAG file does at top level that needs a
socket or the database (Variable.get, Connection lookups, HTTP calls) shows up as an import error.
It also prints which service client libraries the parse imported: a DAG file must not pull them
in (hooks and operators import them when a task runs), since every parse would pay for them.
"""

from __future__ import annotations

import json
import os
import socket
import sys

os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = "postgresql://nobody@127.0.0.1:9/no_db"


class NetworkCut(OSError):
    pass


def _refuse(*_args, **_kwargs):
    raise NetworkCut("network access at DAG parse time")


socket.socket.connect = _refuse  # type: ignore[method-assign]
socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
socket.create_connection = _refuse  # type: ignore[assignment]
socket.getaddrinfo = _refuse  # type: ignore[assignment]

from airflow.dag_processing.dagbag import DagBag  # noqa: E402

CLIENTS = ("civis", "elasticsearch", "gspread", "pandas", "google.cloud.bigquery", "psycopg",
           "boto3", "requests")
before = {name for name in CLIENTS if name in sys.modules}
path = sys.argv[1]
bag = DagBag(dag_folder=path, bundle_path=os.path.dirname(path))
errors = {name: str(error) for name, error in bag.import_errors.items()}
clients = sorted(name for name in CLIENTS if name in sys.modules and name not in before)
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": errors, "clients": clients}))
