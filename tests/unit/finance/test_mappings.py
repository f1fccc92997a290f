"""The index bodies and the documents' _source agree field for field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from precinct.finance import (
    ContributionDoc,
    LocalSource,
    ReportDoc,
    contributions_index_body,
    index_body,
    reports_index_body,
)
from precinct.finance.michigan import MichiganIngestor
from precinct.finance.texas import TexasIngestor
from tests.unit.finance import builders


def undeclared(doc: dict[str, Any], mapping: dict[str, Any], path: str = "") -> list[str]:
    """Fields a strict mapping would refuse (dynamic: false objects accept anything)."""
    problems = []
    properties = mapping["properties"]
    for key, value in doc.items():
        if key not in properties:
            if mapping.get("dynamic") == "strict":
                problems.append(path + key)
            continue
        if isinstance(value, dict):
            problems += undeclared(value, properties[key], f"{path}{key}.")
    return problems


def all_documents(tmp_path: Path) -> list[ContributionDoc | ReportDoc]:
    builders.write_texas(tmp_path / "tx")
    builders.write_michigan(tmp_path / "mi")
    docs = []
    for ingestor, folder in ((TexasIngestor(), "tx"), (MichiganIngestor(), "mi")):
        for item in ingestor.ingest(LocalSource(tmp_path / folder)):
            if isinstance(item, ContributionDoc | ReportDoc):
                docs.append(item)
    return docs


def test_every_document_fits_its_strict_mapping(tmp_path: Path) -> None:
    docs = all_documents(tmp_path)
    assert {doc.kind for doc in docs} == {"contributions", "reports"}
    for doc in docs:
        mapping = index_body(doc.kind)["mappings"]
        assert undeclared(doc.to_source(), mapping) == [], doc.doc_id


def test_every_mapped_field_is_produced(tmp_path: Path) -> None:
    docs = all_documents(tmp_path)
    for kind in ("contributions", "reports"):
        produced = {key for doc in docs if doc.kind == kind for key in doc.to_source()}
        assert produced == set(index_body(kind)["mappings"]["properties"])


def test_bodies_are_fresh_and_leave_bulk_settings_to_the_loader() -> None:
    first = contributions_index_body()
    first["settings"]["index"]["number_of_replicas"] = 0
    assert "number_of_replicas" not in contributions_index_body()["settings"]["index"]
    for body in (contributions_index_body(), reports_index_body()):
        assert "refresh_interval" not in body["settings"]["index"]
        mappings = body["mappings"]
        assert mappings["dynamic"] == "strict"
        assert mappings["properties"]["source"]["dynamic"] == "false"
        assert mappings["properties"]["candidate"]["properties"]["name"]["fields"]["keyword"]
    props = contributions_index_body()["mappings"]["properties"]
    assert props["amount"] == {"type": "scaled_float", "scaling_factor": 100}
    assert props["contribution_date"]["type"] == "date"
    assert props["contribution_id"] == {"type": "keyword"}
