"""TexasIngestor against a hand-written TEC_CF_CSV.zip (see builders.texas_members)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO

import pytest

from precinct.finance import ContributionDoc, LocalSource, ReportDoc
from precinct.finance.errors import LayoutError, MissingSourceFile, UnreadableSourceFile
from precinct.finance.texas import TexasIngestor, contribs_members
from tests.unit.finance import builders
from tests.unit.finance.builders import (
    FRIENDS_OF_PENA,
    OLD_FRIENDS_OF_SMITH,
    PENA,
    SMITH,
)

CONTRIBS_01 = "TEC_CF_CSV.zip/contribs_01.csv"


def run(source) -> tuple[TexasIngestor, dict[str, ContributionDoc], dict[str, ReportDoc], list]:
    return builders.ingest_all(TexasIngestor(), source)


@pytest.fixture
def texas(tmp_path: Path) -> LocalSource:
    builders.write_texas(tmp_path / "tx")
    return LocalSource(tmp_path / "tx")


def test_exactly_the_in_scope_monetary_contributions_come_out(texas: LocalSource) -> None:
    _, contributions, reports, _ = run(texas)
    assert sorted(contributions) == ["tx-1001", "tx-1002", "tx-1004", "tx-1013", "tx-1015"]
    assert sorted(reports) == ["tx-500", "tx-501", "tx-503", "tx-505"]


def test_rejects_have_exact_reasons_files_and_lines(texas: LocalSource) -> None:
    _, _, _, rejects = run(texas)
    got = sorted((r.reason, r.file, r.line) for r in rejects)
    assert got == sorted(
        [
            ("superseded", "TEC_CF_CSV.zip/cover.csv", 4),
            ("missing date", CONTRIBS_01, 9),
            ("superseded", CONTRIBS_01, 10),
            ("short row", CONTRIBS_01, 11),
            ("bad date", CONTRIBS_01, 12),
            ("bad amount", CONTRIBS_01, 13),
            ("undecodable", CONTRIBS_01, 14),
            ("duplicate id", "TEC_CF_CSV.zip/contribs_02.csv", 2),
        ]
    )
    duplicate = next(r for r in rejects if r.reason == "duplicate id")
    assert "tx-1001" in duplicate.detail
    assert "20230231" in next(r for r in rejects if r.reason == "bad date").detail


def test_stats_count_rejects_and_skips_separately(texas: LocalSource) -> None:
    ingestor, _, _, _ = run(texas)
    stats = ingestor.stats
    assert stats.produced == {"contributions": 5, "reports": 4}
    assert stats.rejected == {
        "superseded": 2,
        "missing date": 1,
        "short row": 1,
        "bad date": 1,
        "bad amount": 1,
        "undecodable": 1,
        "duplicate id": 1,
    }
    # 1005 (opposing committee), 1006 (governor), 1012 (committee absent from filers.csv) and
    # report 504 (governor); 1003 (A2) and 1014 (C2 with padded codes).
    assert stats.skipped == {"not legislative": 4, "non-monetary": 2}
    assert stats.rejected_share() == pytest.approx(8 / (9 + 8))


def test_contribution_fields_from_a_plain_row(texas: LocalSource) -> None:
    _, contributions, _, _ = run(texas)
    doc = contributions["tx-1001"].to_source()
    assert doc == {
        "state": "tx",
        "filer": {"id": PENA, "type": "COH", "name": "Filer 00010001"},
        "candidate": {
            "id": PENA,
            "name": "Peña, María",
            "party": "DEM",  # from the latest cover sheet (501)
            "house": "lower",
            "district": "25",  # "025" in filers.csv
        },
        "contribution_id": "1001",
        "contribution_date": "2024-01-05",
        "amount": 250.0,
        "memo": None,
        "contributor": {
            "type": "individual",
            "name": "José García",
            "city": "San Antonio",
            "state": "TX",
            "zip": "78701",
            "employer": "H-E-B",
            "occupation": "Grocer",
            "job_title": "Store Manager",
        },
        "source": {
            "file": CONTRIBS_01,
            "line": 2,
            "schedule": "A1",
            "form_type": "COH",
            "report_id": "500",
            "received_date": "2024-01-15",
        },
    }


def test_quoted_comma_newline_and_refund(texas: LocalSource) -> None:
    _, contributions, _, _ = run(texas)
    doc = contributions["tx-1002"]
    assert doc.amount == -50.0
    assert doc.contribution_date == "2024-01-06"
    assert doc.memo == "Refund\nreturned check"
    assert (doc.contributor_type, doc.contributor_name) == ("entity", "Acme, Inc.")
    assert doc.contributor_city == "Dallas"
    assert doc.source_line == 3
    # The row after the two-line row keeps its real line number.
    assert contributions["tx-1004"].source_line == 6


def test_committees_count_for_their_candidate(texas: LocalSource) -> None:
    _, contributions, reports, _ = run(texas)
    spac_doc = contributions["tx-1004"]
    assert (spac_doc.filer_id, spac_doc.filer_type) == (FRIENDS_OF_PENA, "SPAC")
    assert spac_doc.candidate.id == PENA
    assert spac_doc.amount == 75.25
    terminated = contributions["tx-1013"]
    assert terminated.filer_id == OLD_FRIENDS_OF_SMITH
    assert (terminated.candidate.id, terminated.candidate.house) == (SMITH, "upper")
    assert terminated.candidate.district == "7"
    assert terminated.candidate.party == "REP"  # the later LIB cover sheet is superseded
    assert reports["tx-505"].candidate.id == PENA


def test_short_filer_row_is_padded_and_office_code_trimmed(texas: LocalSource) -> None:
    _, contributions, _, _ = run(texas)
    doc = contributions["tx-1015"]  # Smith: " STATESEN" on a row cut after 52 columns
    assert doc.candidate.name == "Smith, John"
    assert doc.candidate.house == "upper"
    # 36-column (2016) shard bound by header name; type code with a leading space.
    assert (doc.contributor_type, doc.contributor_name) == ("individual", "Ann Lee JR")
    assert doc.source_file == "TEC_CF_CSV.zip/contribs_02.csv"


def test_report_fields(texas: LocalSource) -> None:
    _, _, reports, _ = run(texas)
    doc = reports["tx-501"].to_source()
    assert doc["report_id"] == "501"
    assert doc["type"] == "SEMIJAN"
    assert (doc["period_start"], doc["period_end"]) == ("2023-07-01", "2023-12-31")
    assert doc["received_date"] == "2024-07-10"
    assert (doc["contributions"], doc["expenditures"], doc["ending_balance"]) == (
        15000.5,
        9000.25,
        6000.25,
    )
    assert doc["candidate"]["name"] == "Peña, María"
    assert doc["source"]["report_types"] == "SEMIJAN E30DAYBEF"


def test_special_session_members_are_never_read(texas: LocalSource) -> None:
    _, contributions, _, rejects = run(texas)
    assert "tx-1016" not in contributions
    assert not any("cont_" in r.file for r in rejects)


def test_records_is_lazy(tmp_path: Path) -> None:
    ingestor = TexasIngestor()
    records = ingestor.records(LocalSource(tmp_path / "nowhere"))  # nothing exists
    assert iter(records) is records and hasattr(records, "send")  # a generator
    with pytest.raises(FileNotFoundError):
        next(records)  # the first read happens only now


def test_missing_archive_is_named_with_its_full_path(tmp_path: Path) -> None:
    source = LocalSource(tmp_path)
    with pytest.raises(MissingSourceFile) as caught:
        TexasIngestor().check(source)
    assert "TEC_CF_CSV.zip" in str(caught.value)
    assert str((tmp_path / "TEC_CF_CSV.zip").resolve()) in str(caught.value)


@pytest.mark.parametrize("member", ["filers.csv", "spacs.csv", "cover.csv"])
def test_missing_member_is_named(tmp_path: Path, member: str) -> None:
    members = builders.texas_members()
    del members[member]
    builders.write_texas(tmp_path, members)
    ingestor = TexasIngestor()
    with pytest.raises(MissingSourceFile) as caught:
        ingestor.check(LocalSource(tmp_path))
    ingestor.post()
    assert f"TEC_CF_CSV.zip/{member}" in str(caught.value)


def test_no_contribution_shard_is_a_missing_file(tmp_path: Path) -> None:
    members = builders.texas_members()
    del members["contribs_01.csv"], members["contribs_02.csv"]
    builders.write_texas(tmp_path, members)
    ingestor = TexasIngestor()
    with pytest.raises(MissingSourceFile, match=r"contribs_01\.csv"):
        ingestor.check(LocalSource(tmp_path))
    ingestor.post()


def test_not_a_zip_is_unreadable(tmp_path: Path) -> None:
    (tmp_path / "TEC_CF_CSV.zip").write_bytes(b"<html>maintenance</html>")
    with pytest.raises(UnreadableSourceFile, match="not a zip"):
        TexasIngestor().check(LocalSource(tmp_path))


def test_changed_layout_is_a_clear_error(tmp_path: Path) -> None:
    members = builders.texas_members()
    members["contribs_02.csv"] = members["contribs_02.csv"].replace(
        b"contributionAmount", b"contributionAmt", 1
    )
    builders.write_texas(tmp_path, members)
    with pytest.raises(LayoutError, match=r"contribs_02\.csv.*contributionAmount"):
        list(TexasIngestor().ingest(LocalSource(tmp_path)))


class StreamingSource(LocalSource):
    """A source whose streams cannot seek, like an S3 body."""

    def open(self, name: str) -> BinaryIO:
        data = super().open(name)

        class OneWay(io.RawIOBase):
            def readable(self) -> bool:
                return True

            def seekable(self) -> bool:
                return False

            def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
                chunk = data.read(len(buffer))
                buffer[: len(chunk)] = chunk
                return len(chunk)

            def close(self) -> None:
                data.close()
                super().close()

        return io.BufferedReader(OneWay())  # type: ignore[return-value]


def test_non_seekable_source_gives_the_same_documents(texas: LocalSource) -> None:
    _, local, local_reports, local_rejects = run(texas)
    _, streamed, streamed_reports, streamed_rejects = run(StreamingSource(texas.base_dir))
    assert {k: v.to_source() for k, v in streamed.items()} == {
        k: v.to_source() for k, v in local.items()
    }
    assert streamed_reports.keys() == local_reports.keys()
    assert streamed_rejects == local_rejects


def test_contribs_members_numeric_order() -> None:
    names = [
        "contribs_10.csv",
        "cover.csv",
        "contribs_9.csv",
        "contribs_01.csv",
        "x/contribs_2.csv",
    ]
    assert contribs_members(names) == ["contribs_01.csv", "contribs_9.csv", "contribs_10.csv"]
