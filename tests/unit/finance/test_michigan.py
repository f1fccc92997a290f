"""MichiganIngestor against hand-written CFR files (see builders.michigan_files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from precinct.finance import LocalSource
from precinct.finance.errors import MissingSourceFile
from precinct.finance.michigan import MichiganIngestor, contribution_parts
from tests.unit.finance import builders
from tests.unit.finance.builders import ANA, BOB

PART0 = "2024_mi_cfr_contributions_00.zip/2024_mi_cfr_contributions_00.txt"
PART1 = "2024_mi_cfr_contributions_01.zip/2024_mi_cfr_contributions_01.txt"
SUMMARY = "micfrcansummary.txt.zip/micfrcansummary.txt"


def run(source: LocalSource):
    return builders.ingest_all(MichiganIngestor(), source, unique_reports=False)


@pytest.fixture
def michigan(tmp_path: Path) -> LocalSource:
    return LocalSource(builders.write_michigan(tmp_path / "mi"))


def test_exactly_the_legislative_contributions_come_out(michigan: LocalSource) -> None:
    _, contributions, reports, _ = run(michigan)
    # 9005 is an amended copy of 9001 item 1: both kept (documented limitation).
    assert sorted(contributions) == [
        "mi-9001_1",
        "mi-9001_2_1",
        "mi-9002_1",
        "mi-9002_2",
        "mi-9005_1",
    ]
    assert sorted(reports) == ["mi-9001", "mi-9002", "mi-9005"]


def test_rejects_and_skips(michigan: LocalSource) -> None:
    ingestor, _, _, rejects = run(michigan)
    assert sorted((r.reason, r.file, r.line) for r in rejects) == sorted(
        [
            ("short row", SUMMARY, 8),
            ("short row", PART0, 6),  # a line break typed inside the address...
            ("short row", PART0, 7),  # ...splits the row in two
            ("wrong column count", PART0, 8),  # a tab typed inside the address
            ("missing date", PART0, 9),
            ("bad date", PART0, 10),
            ("duplicate id", PART1, 1),  # header only in _00: part 1 starts with data
        ]
    )
    assert ingestor.stats.skipped == {"not legislative": 4}  # governor, congress (x2), PAC
    assert ingestor.stats.produced == {"contributions": 5, "reports": 3}


def test_latin1_names_and_fields(michigan: LocalSource) -> None:
    _, contributions, _, _ = run(michigan)
    doc = contributions["mi-9001_1"].to_source()
    assert doc["contributor"] == {
        "type": "individual",
        "name": "Jürgen Müller",
        "city": "Lansing",
        "state": "MI",
        "zip": "48933-0000",
        "employer": "State of Michigan",
        "occupation": "Teacher",
        "job_title": None,
    }
    assert doc["candidate"] == {
        "id": ANA,
        "name": "Ana Peña",
        "party": "DEMOCRAT",
        "house": "lower",
        "district": "12",
    }
    assert doc["filer"] == {"id": ANA, "type": "CAN", "name": "Committee 500001"}
    assert (doc["contribution_date"], doc["amount"]) == ("2024-01-15", 100.0)
    assert doc["contribution_id"] == "9001_1"
    assert doc["source"]["file"] == PART0 and doc["source"]["line"] == 2
    assert doc["source"]["statement_type"] == "PRE-PRIMARY CS"


def test_refund_sub_item_and_entity(michigan: LocalSource) -> None:
    _, contributions, _, _ = run(michigan)
    refund = contributions["mi-9001_2_1"]
    assert refund.amount == -25.0
    assert refund.contribution_id == "9001_2_1"
    entity = contributions["mi-9002_1"]
    assert (entity.contributor_type, entity.contributor_name) == ("entity", "UAW V-CAP")
    assert entity.contributor_occupation == "Owner \"Joe's"  # quotes are plain text
    assert (entity.candidate.id, entity.candidate.house, entity.candidate.district) == (
        BOB,
        "upper",
        "3",
    )
    assert entity.candidate.name == "Bob Müller"


def test_padded_cells_are_trimmed(michigan: LocalSource) -> None:
    _, contributions, _, _ = run(michigan)
    doc = contributions["mi-9002_2"]
    assert (doc.contribution_date, doc.amount) == ("2024-03-04", 60.0)
    assert doc.filer_id == BOB
    assert doc.contributor_name == "Zoë Peña"
    assert doc.source_file == PART1 and doc.source_line == 3


def test_report_fields(michigan: LocalSource) -> None:
    _, _, reports, _ = run(michigan)
    doc = reports["mi-9002"].to_source()
    assert doc["report_id"] == "9002"
    assert doc["type"] == "PRE-PRIMARY CS"
    assert (doc["period_start"], doc["period_end"], doc["received_date"]) == (
        "2024-01-01",
        "2024-07-21",
        "2024-07-30",
    )
    assert (doc["contributions"], doc["expenditures"], doc["ending_balance"]) == (
        1500.0,
        700.0,
        800.0,
    )
    assert doc["candidate"]["house"] == "upper"


def test_missing_summary_is_named(tmp_path: Path) -> None:
    files = builders.michigan_files()
    del files["micfrcansummary.txt.zip"]
    builders.write_michigan(tmp_path, files)
    with pytest.raises(MissingSourceFile) as caught:
        MichiganIngestor().check(LocalSource(tmp_path))
    assert str((tmp_path / "micfrcansummary.txt.zip").resolve()) in str(caught.value)


def test_gap_in_parts_names_the_missing_part(tmp_path: Path) -> None:
    files = builders.michigan_files()
    files["2024_mi_cfr_contributions_02.zip"] = files.pop("2024_mi_cfr_contributions_01.zip")
    builders.write_michigan(tmp_path, files)
    with pytest.raises(MissingSourceFile, match=r"2024_mi_cfr_contributions_01\.zip"):
        MichiganIngestor().check(LocalSource(tmp_path))


def test_no_parts_at_all(tmp_path: Path) -> None:
    files = {"micfrcansummary.txt.zip": builders.michigan_files()["micfrcansummary.txt.zip"]}
    builders.write_michigan(tmp_path, files)
    with pytest.raises(MissingSourceFile, match=r"_mi_cfr_contributions_00\.zip"):
        MichiganIngestor().check(LocalSource(tmp_path))


def test_empty_zip_is_a_missing_text_file(tmp_path: Path) -> None:
    files = builders.michigan_files()
    files["2024_mi_cfr_contributions_01.zip"] = {}
    builders.write_michigan(tmp_path, files)
    with pytest.raises(MissingSourceFile, match="2024_mi_cfr_contributions_01"):
        MichiganIngestor().check(LocalSource(tmp_path))


def test_check_passes_on_complete_files(michigan: LocalSource) -> None:
    MichiganIngestor().check(michigan)


def test_parts_are_read_in_numeric_order() -> None:
    names = [
        "2024_mi_cfr_contributions_10.zip",
        "2024_mi_cfr_contributions_02.zip",
        "2023_mi_cfr_contributions_00.zip",
        "micfrcansummary.txt.zip",
        "2024_mi_cfr_contributions_00.zip",
    ]
    assert contribution_parts(names) == {
        "2023": [(0, "2023_mi_cfr_contributions_00.zip")],
        "2024": [
            (0, "2024_mi_cfr_contributions_00.zip"),
            (2, "2024_mi_cfr_contributions_02.zip"),
            (10, "2024_mi_cfr_contributions_10.zip"),
        ],
    }


def test_summary_columns_bind_by_label_when_reordered(tmp_path: Path) -> None:
    files = builders.michigan_files()
    text = files["micfrcansummary.txt.zip"]["micfrcansummary.txt"].decode("latin-1")
    swapped = []
    for line in text.split("\n"):
        cells = line.split("\t")
        if len(cells) > 9:
            cells[7], cells[8] = cells[8], cells[7]  # party <-> office, labels follow
        swapped.append("\t".join(cells))
    files["micfrcansummary.txt.zip"] = {"micfrcansummary.txt": "\n".join(swapped).encode("latin-1")}
    _, contributions, reports, _ = run(LocalSource(builders.write_michigan(tmp_path, files)))
    assert contributions["mi-9002_1"].candidate.house == "upper"
    assert contributions["mi-9002_1"].candidate.party == "REPUBLICAN"
    assert sorted(reports) == ["mi-9001", "mi-9002", "mi-9005"]
