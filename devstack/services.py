"""The registry of stand-ins `python -m devstack` manages, in start order.

A pipeline's stand-in plugs in by adding its module's SERVICE here.
"""

from __future__ import annotations

from devstack import bigquery, civis, elasticsearch, postgres, s3, sheets, smtp, van
from devstack.core import Service

SERVICES: list[Service] = [
    postgres.SERVICE,
    civis.SERVICE,
    smtp.SERVICE,
    s3.SERVICE,
    elasticsearch.SERVICE,
    sheets.SERVICE,
    van.SERVICE,
    bigquery.SERVICE,
]


def by_name(names: list[str] | None = None) -> list[Service]:
    """The named services (all when none are named), refusing unknown names."""
    if not names:
        return list(SERVICES)
    known = {service.name: service for service in SERVICES}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown service(s) {', '.join(unknown)}; known: {', '.join(known)}")
    return [known[name] for name in names]
