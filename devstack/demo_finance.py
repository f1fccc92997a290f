"""What `state_finance_ingest` produced, read back from Elasticsearch and S3 for `make demo`."""

from __future__ import annotations

import csv
import io
from collections import Counter

from devstack.finance_data import BUCKET


def summary() -> str:
    import boto3

    from devstack.s3 import REGION
    from devstack.s3 import SERVICE as S3
    from precinct.finance.registry import registered_states
    from precinct.hooks.elasticsearch import ElasticsearchHook

    es = ElasticsearchHook()
    client = es.get_conn()
    s3 = boto3.client(
        "s3", endpoint_url=S3.url, region_name=REGION,
        aws_access_key_id="devstack", aws_secret_access_key="devstack-secret",  # noqa: S106
    )
    parts = []
    for state in registered_states():
        alias = f"{state}_contributions"
        live = es.alias_indices(alias)
        if not live:
            parts.append(f"{state}: not promoted")
            continue
        documents = es.count(alias)
        total = client.search(
            index=alias, size=0, aggs={"total": {"sum": {"field": "amount"}}}
        )["aggregations"]["total"]["value"]
        reasons = _latest_rejects(s3, state)
        rejected = ", ".join(f"{reason} {n}" for reason, n in sorted(reasons.items())) or "none"
        parts.append(
            f"{state}: {documents} documents in {live[0]}, amounts ${total:,.2f}, "
            f"rejected {sum(reasons.values())} ({rejected})"
        )
    return "; ".join(parts)


def _latest_rejects(s3, state: str) -> Counter[str]:
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"rejects/{state}/").get("Contents", [])
    if not listing:
        return Counter()
    newest = max(listing, key=lambda item: item["LastModified"])
    body = s3.get_object(Bucket=BUCKET, Key=newest["Key"])["Body"].read().decode()
    return Counter(row["reason"] for row in csv.DictReader(io.StringIO(body)))
