"""S3: moto in server mode, for raw state files and rejected rows."""

from __future__ import annotations

from devstack.core import HOST, Service, conn_json, http_ok, python_argv
from devstack.finance_data import BUCKET, RAW_PREFIX

PORT = 15005
REGION = "us-east-1"


def command(service: Service) -> list[str]:
    return python_argv("moto.server", "-H", HOST, "-p", str(service.port))


def env(service: Service) -> dict[str, str]:
    return {
        "AIRFLOW_CONN_AWS_DEFAULT": conn_json(
            conn_type="aws",
            login="devstack",
            password="devstack-secret",  # noqa: S106 - moto accepts any key pair
            extra={"endpoint_url": service.url, "region_name": REGION},
        ),
        # state_finance_ingest's location Params default to None (a deployment sets these
        # Variables to buckets it owns): the bucket the stand-in is seeded with.
        "AIRFLOW_VAR_STATE_FINANCE_INGEST_SOURCE": f"s3://{BUCKET}/{RAW_PREFIX}",
        "AIRFLOW_VAR_STATE_FINANCE_INGEST_REJECTS_LOCATION": f"s3://{BUCKET}",
    }


def seed(service: Service) -> None:
    """moto keeps objects in memory: put the pipelines' raw files back each time it starts."""
    from devstack.finance_data import seed_s3

    seed_s3(service)


SERVICE = Service(
    name="s3", port=PORT, command=command, healthy=http_ok("/moto-api/"), env=env, after_start=seed
)
