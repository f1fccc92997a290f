"""devstack.seed_finance: official layouts, deterministic, and every kind of mess present."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from devstack.seed_finance import (
    MI_CONTRIB_COLUMNS,
    TEC_CONTRIB_COLUMNS,
    TEC_CONTRIB_COLUMNS_2016,
    TEC_COVER_COLUMNS,
    TEC_FILER_COLUMNS,
    TEC_SPAC_COLUMNS,
    main,
    write_michigan,
    write_texas,
)
from precinct.finance import LocalSource, get_ingestor


def digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                h.update(info.filename.encode() + zf.read(info))
    return h.hexdigest()


def test_layout_positions_match_the_reference() -> None:
    # 1-based positions from state_finance_formats.md
    assert (len(TEC_CONTRIB_COLUMNS), len(TEC_CONTRIB_COLUMNS_2016)) == (37, 36)
    assert (len(TEC_FILER_COLUMNS), len(TEC_SPAC_COLUMNS), len(TEC_COVER_COLUMNS)) == (132, 36, 128)
    assert TEC_CONTRIB_COLUMNS[9] == "contributionInfoId"
    assert TEC_CONTRIB_COLUMNS[33] == "contributorLawFirmName"
    assert TEC_FILER_COLUMNS[49:51] == ("contestSeekOfficeCd", "contestSeekOfficeDistrict")
    assert TEC_FILER_COLUMNS[131] == "chairPrimaryPhoneExt"
    assert TEC_SPAC_COLUMNS[8:10] == ("spacPositionCd", "candidateFilerIdent")
    assert TEC_COVER_COLUMNS[24] == "totalContribAmount"
    assert TEC_COVER_COLUMNS[28] == "contribsMaintainedAmount"
    assert TEC_COVER_COLUMNS[36] == "politicalPartyCd"
    assert TEC_COVER_COLUMNS[127] == "chairPrimaryPhoneExt"
    assert MI_CONTRIB_COLUMNS[8] == "cfr_com_id" and MI_CONTRIB_COLUMNS[21] == "received_date"


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_texas(tmp_path / run / "tx", 3000, seed=3)
        write_michigan(tmp_path / run / "mi", 3000, seed=3)
    assert digest(tmp_path / "a" / "tx") == digest(tmp_path / "b" / "tx")
    assert digest(tmp_path / "a" / "mi") == digest(tmp_path / "b" / "mi")
    write_texas(tmp_path / "c", 3000, seed=4)
    assert digest(tmp_path / "c") != digest(tmp_path / "a" / "tx")


def test_texas_seed_has_the_mess(tmp_path: Path) -> None:
    write_texas(tmp_path, 30_000, seed=0)
    with zipfile.ZipFile(tmp_path / "TEC_CF_CSV.zip") as zf:
        names = zf.namelist()
        assert {"filers.csv", "spacs.csv", "cover.csv", "cont_ss.csv", "cont_t.csv"} <= set(names)
        assert [n for n in names if n.startswith("contribs_")] == [
            "contribs_01.csv",
            "contribs_02.csv",
            "contribs_03.csv",
        ]
        assert zf.read("contribs_01.csv").startswith(b"\xef\xbb\xbf")
        header_02 = zf.read("contribs_02.csv").split(b"\r\n", 1)[0].split(b",")
        assert len(header_02) == 36
    ingestor = get_ingestor("tx")()
    for _ in ingestor.ingest(LocalSource(tmp_path)):
        pass
    stats = ingestor.stats
    assert stats.produced["contributions"] > 5000
    for reason in ("superseded", "missing date", "bad date", "short row", "duplicate id"):
        assert stats.rejected[reason] > 0, reason
    assert stats.skipped["not legislative"] > 0 and stats.skipped["non-monetary"] > 0
    assert stats.rejected_share() < 0.1


def test_michigan_seed_has_the_mess(tmp_path: Path) -> None:
    write_michigan(tmp_path, 30_000, seed=0)
    ingestor = get_ingestor("mi")()
    amounts = []
    for item in ingestor.ingest(LocalSource(tmp_path)):
        amount = getattr(item, "amount", None)
        if amount is not None:
            amounts.append(amount)
    stats = ingestor.stats
    assert stats.produced["contributions"] > 10_000 and stats.produced["reports"] > 100
    for reason in ("short row", "wrong column count", "missing date", "bad date", "duplicate id"):
        assert stats.rejected[reason] > 0, reason
    assert min(amounts) < 0
    assert stats.skipped["not legislative"] > 0


def test_command_line(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path), "--tx-rows", "500", "--mi-rows", "400"]) == 0
    assert (tmp_path / "tx" / "TEC_CF_CSV.zip").is_file()
    assert sorted(p.name for p in (tmp_path / "mi").iterdir()) == [
        "2024_mi_cfr_contributions_00.zip",
        "2024_mi_cfr_contributions_01.zip",
        "micfrcansummary.txt.zip",
    ]
