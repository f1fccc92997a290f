"""The Airflow connection ids Precinct uses by default (fixed in DESIGN.md).

Every hook takes a `*_conn_id` argument; these are the defaults a deployment must configure.
"""

from __future__ import annotations

CIVIS = "civis_default"
VAN = "van_default"
GOOGLE_CLOUD = "google_cloud_default"
ELASTICSEARCH = "elasticsearch_default"
TRACKER_DB = "tracker_db"
AWS = "aws_default"
SMTP = "smtp_default"

ALL: tuple[str, ...] = (CIVIS, VAN, GOOGLE_CLOUD, ELASTICSEARCH, TRACKER_DB, AWS, SMTP)


def env_var(conn_id: str) -> str:
    """The environment variable Airflow reads a connection from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"
