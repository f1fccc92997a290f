"""Devstack's campaign-finance files: synthetic Texas and Michigan bulk files in the S3 stand-in.

`state_finance_ingest` reads `s3://precinct-finance/raw/{state}/` by default, so `make demo` and
`make up` exercise the same S3 path a deployment uses. moto keeps objects in memory, so the files
are generated (deterministically, small) and uploaded every time the S3 stand-in starts.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from devstack.core import Service

BUCKET = "precinct-finance"
RAW_PREFIX = "raw"
DEMO_ROWS = {"tx": 6_000, "mi": 4_000}


def write_demo_files(out_dir: Path) -> dict[str, list[Path]]:
    """Generate each state's files under `out_dir/{state}/`."""
    from devstack.seed_finance import write_michigan, write_texas

    return {
        "tx": [write_texas(out_dir / "tx", contributions=DEMO_ROWS["tx"], seed=11)],
        "mi": list(write_michigan(out_dir / "mi", contributions=DEMO_ROWS["mi"], seed=12)),
    }


def seed_s3(service: Service) -> None:
    """Create the bucket and upload every state's files (idempotent: objects are overwritten)."""
    import boto3

    from devstack.s3 import REGION

    client = boto3.client(
        "s3", endpoint_url=service.url, region_name=REGION,
        aws_access_key_id="devstack", aws_secret_access_key="devstack-secret",  # noqa: S106
    )
    existing = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    if BUCKET not in existing:
        client.create_bucket(Bucket=BUCKET)
    with tempfile.TemporaryDirectory(prefix="precinct-finance-") as tmp:
        for state, paths in write_demo_files(Path(tmp)).items():
            for path in paths:
                client.upload_file(str(path), BUCKET, f"{RAW_PREFIX}/{state}/{path.name}")
