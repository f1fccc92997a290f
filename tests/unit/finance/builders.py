"""Small hand-written state files for the finance tests, written as exact bytes into tmp_path.

The column layouts come from devstack.seed_finance (checked against the reference in
test_layouts.py); the rows are written here by hand so every quirk is deliberate and visible.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from devstack.seed_finance import (
    MI_CONTRIB_COLUMNS,
    MI_SUMMARY_LABELS,
    TEC_CONTRIB_COLUMNS,
    TEC_CONTRIB_COLUMNS_2016,
    TEC_COVER_COLUMNS,
    TEC_FILER_COLUMNS,
    TEC_SPAC_COLUMNS,
    tec_line,
)

BOM = b"\xef\xbb\xbf"


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def tec_row(columns: tuple[str, ...], **values: str) -> str:
    unknown = set(values) - set(columns)
    assert not unknown, unknown
    return tec_line([values.get(column, "") for column in columns])


def filer(filer_id: str, ftype: str, name: str, office: str = "", district: str = "") -> str:
    return tec_row(
        TEC_FILER_COLUMNS,
        recordType="FILER",
        filerIdent=filer_id,
        filerTypeCd=ftype,
        filerName=name,
        contestSeekOfficeCd=office,
        contestSeekOfficeDistrict=district,
        treasNameLast="Treasurer",
    )


def spac(spac_id: str, position: str, candidate_id: str, status: str = "ACTIVE") -> str:
    return tec_row(
        TEC_SPAC_COLUMNS,
        recordType="SPAC",
        spacFilerIdent=spac_id,
        spacFilerTypeCd="SPAC",
        spacFilerName=f"Committee {spac_id}",
        spacCommitteeStatusCd=status,
        spacPositionCd=position,
        candidateFilerIdent=candidate_id,
    )


def cover(report_id: str, filer_id: str, received: str, party: str, info: str = "N") -> str:
    return tec_row(
        TEC_COVER_COLUMNS,
        recordType="CVR1",
        formTypeCd="COH",
        reportInfoIdent=report_id,
        receivedDt=received,
        infoOnlyFlag=info,
        filerIdent=filer_id,
        filerTypeCd="COH",
        filerName=f"Filer {filer_id}",
        reportTypeCd1="SEMIJAN",
        reportTypeCd2="E30DAYBEF",
        periodStartDt="20230701",
        periodEndDt="20231231",
        totalContribAmount="15000.50",
        totalExpendAmount="9000.25",
        contribsMaintainedAmount="6000.25",
        politicalPartyCd=party,
    )


def contrib(
    cid: str,
    filer_id: str,
    *,
    columns: tuple[str, ...] = TEC_CONTRIB_COLUMNS,
    sched: str = "A1",
    date: str = "20240105",
    amount: str = "100.00",
    info: str = "N",
    ftype: str = "COH",
    **contributor: str,
) -> str:
    values = {
        "contributorPersentTypeCd": "INDIVIDUAL",
        "contributorNameFirst": "Ann",
        "contributorNameLast": "Lee",
        "contributorStreetCity": "Austin",
        "contributorStreetStateCd": "TX",
        "contributorStreetPostalCode": "78701",
        **contributor,
    }
    return tec_row(
        columns,
        recordType="RCPT",
        formTypeCd="COH",
        schedFormTypeCd=sched,
        reportInfoIdent="500",
        receivedDt="20240115",
        infoOnlyFlag=info,
        filerIdent=filer_id,
        filerTypeCd=ftype,
        filerName=f"Filer {filer_id}",
        contributionInfoId=cid,
        contributionDt=date,
        contributionAmount=amount,
        itemizeFlag="Y",
        travelFlag="N",
        **values,
    )


PENA = "00010001"  # STATEREP district 025
SMITH = "00010002"  # " STATESEN" district 7, short filers.csv row
ABBOTT = "00010003"  # GOVERNOR
FRIENDS_OF_PENA = "00020001"  # SPAC, SUPPORT Peña
AGAINST_SMITH = "00020002"  # SPAC, OPPOSE Smith
GOV_HELPERS = "00020003"  # SPAC, SUPPORT the governor candidate
OLD_FRIENDS_OF_SMITH = "00020004"  # SPAC, TERMINATED, ASSIST Smith
GHOST = "00099999"  # in spacs.csv, SUPPORT Peña, absent from filers.csv


def texas_members() -> dict[str, bytes]:
    """Every member of the hand-written TEC_CF_CSV.zip (tests may drop or replace some)."""
    smith = filer(SMITH, "COH", "Smith, John", " STATESEN", "7").rstrip("\r\n").split(",")
    smith_short = ",".join(smith[:52]) + "\r\n"  # TEC drops trailing empty columns: pad them
    filers = (
        tec_line(TEC_FILER_COLUMNS)
        + filer(PENA, "COH", "Peña, María", "STATEREP", "025")
        + smith_short
        + filer(ABBOTT, "COH", "Abbott, Greg", "GOVERNOR")
        + filer(FRIENDS_OF_PENA, "SPAC", "Friends of María Peña")
        + filer(AGAINST_SMITH, "SPAC", "Texans Against Smith")
        + filer(GOV_HELPERS, "SPAC", "Governor's Helpers")
        + filer(OLD_FRIENDS_OF_SMITH, "SPAC", "Old Friends of Smith")
        + filer("treasurer@pac.org", "GPAC", "E-mail PAC")
    )
    spacs = (
        tec_line(TEC_SPAC_COLUMNS)
        + spac(FRIENDS_OF_PENA, "SUPPORT", PENA)
        + spac(AGAINST_SMITH, "OPPOSE", SMITH)
        + spac(GOV_HELPERS, "SUPPORT", ABBOTT)
        + spac(OLD_FRIENDS_OF_SMITH, "ASSIST", SMITH, status="TERMINATED")
        + spac(GHOST, "SUPPORT", PENA)
    )
    covers = (
        tec_line(TEC_COVER_COLUMNS)
        + cover("500", PENA, "20240115", "DEM")
        + cover("501", PENA, "20240710", "DEM")
        + cover("502", SMITH, "20240801", "LIB", info="Y")  # superseded: rejected, party ignored
        + cover("503", SMITH, "20240115", "REP")
        + cover("504", ABBOTT, "20240115", "REP")  # not legislative: skipped
        + cover("505", FRIENDS_OF_PENA, "20240115", "")
    )
    header = tec_line(TEC_CONTRIB_COLUMNS)
    # Line numbers (1-based, header = 1) are noted where tests assert them.
    shard1 = (
        header
        + contrib(
            "1001",
            PENA,
            contributorNameFirst="José",
            contributorNameLast="García",
            contributorStreetCity="San Antonio",
            amount="250.00",
            contributorEmployer="H-E-B",
            contributorOccupation="Grocer",
            contributorJobTitle="Store Manager",
        )  # line 2
        # line 3-4: an entity with a quoted comma, a refund, a real line break in the memo
        + 'RCPT,COH,A1,500,20240115,N,00010001,COH,"Filer 00010001",1002,20240106,-50.00,'
        '"Refund\nreturned check",Y,N,ENTITY,"Acme, Inc.",,,,,,Dallas,TX,,USA,75201,,,,,,,,,,\r\n'
        + contrib("1003", PENA, sched="A2")  # line 5: in-kind, skipped
        + contrib("1004", FRIENDS_OF_PENA, ftype="SPAC", amount="75.25")  # line 6
        + contrib("1005", AGAINST_SMITH, ftype="SPAC")  # line 7: opposes: skipped
        + contrib("1006", ABBOTT)  # line 8: governor: skipped
        + contrib("1007", SMITH, date="")  # line 9: missing date
        + contrib("1008", SMITH, info="Y")  # line 10: superseded
        + "RCPT,COH,A1,500,20240115,N,00010002,COH\r\n"  # line 11: short row
        + contrib("1009", SMITH, date="20230231")  # line 12: bad date
        + contrib("1010", SMITH, amount="12,50")  # line 13: bad amount
    )
    undecodable = contrib("1011", SMITH, contributorNameLast="Nu\u00f1ez").encode("utf-8")
    undecodable = undecodable.replace("ñ".encode(), b"\xf1")  # line 14: Latin-1 byte in UTF-8
    shard1_tail = (
        contrib("1012", GHOST, ftype="SPAC")  # line 15: committee absent from filers.csv
        + contrib("1013", OLD_FRIENDS_OF_SMITH, ftype="SPAC", amount="1000")  # line 16
        + contrib("1014", " 00010002 ", sched=" C2")  # line 17: padded codes, in-kind
    )
    shard2 = (
        tec_line(TEC_CONTRIB_COLUMNS_2016)
        + contrib("1001", PENA, columns=TEC_CONTRIB_COLUMNS_2016)  # duplicate of shard 1
        + contrib(
            "1015",
            SMITH,
            columns=TEC_CONTRIB_COLUMNS_2016,
            amount="100.00",
            contributorPersentTypeCd=" INDIVIDUAL",
            contributorNameSuffixCd="JR",
        )
    )
    special = header + contrib("1016", PENA)  # cont_ss / cont_t re-report regular items
    return {
        "filers.csv": BOM + filers.encode("utf-8"),
        "spacs.csv": spacs.encode("utf-8"),
        "cover.csv": covers.encode("utf-8"),
        "contribs_01.csv": BOM + shard1.encode("utf-8") + undecodable + shard1_tail.encode(),
        "contribs_02.csv": shard2.encode("utf-8"),
        "cont_ss.csv": special.encode("utf-8"),
        "cont_t.csv": special.encode("utf-8"),
        "expend_01.csv": b"recordType\r\nEXPN\r\n",
    }


def write_texas(base: Path, members: dict[str, bytes] | None = None) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    return write_zip(base / "TEC_CF_CSV.zip", texas_members() if members is None else members)


# --- Michigan --------------------------------------------------------------------------------

ANA = "500001"  # Representative in State Legislature, 012th District
BOB = "500002"  # State Senator, 003rd District
GOV = "500003"  # Governor
CONG = "500004"  # Representative in Congress


def summary_row(
    com_id: str, seq: str, office: str, district: str, party: str, first: str, last: str
) -> str:
    cells = [""] * len(MI_SUMMARY_LABELS)
    cells[:16] = [
        com_id,
        seq,
        "CAN",
        f"Committee to Elect {first} {last}",
        first,
        "",
        last,
        party,
        office,
        district,
        "2024",
        "PRE-PRIMARY CS",
        "07/30/2024",
        "01/01/2024",
        "07/21/2024",
        "1500.00",
    ]
    cells[21] = "700.00"
    cells[28] = "800.00"
    return "\t".join(cells) + "\n"


def mi_row(
    seq: str,
    cid: str,
    detail: str,
    com_id: str,
    *,
    first: str = "Ann",
    last: str = "Lee",
    date: str = "01/15/2024",
    amount: str = "100.00",
    occupation: str = "Teacher",
    address: str = "1 Main St",
) -> str:
    cells = [
        seq,
        "0",
        cid,
        detail,
        "2024",
        "PRE-PRIMARY CS",
        f"Committee {com_id}",
        "Cmte",
        com_id,
        "CAN",
        "Cand",
        "Idate",
        "DIRECT",
        first,
        last,
        address,
        "Lansing",
        "MI",
        "48933-0000",
        occupation,
        "State of Michigan",
        date,
        amount,
        amount,
        "",
    ]
    assert len(cells) == len(MI_CONTRIB_COLUMNS)
    return "\t".join(cells)


def michigan_files() -> dict[str, dict[str, bytes]]:
    """zip name -> {member: bytes} for the hand-written Michigan files."""
    summary = (
        "\t".join(MI_SUMMARY_LABELS)
        + "\n"
        + "Run Date: 11/24/2024\n"
        + summary_row(
            ANA,
            "9001",
            "Representative in State Legislature",
            "012th District",
            "DEMOCRAT",
            "Ana",
            "Peña",
        )
        + summary_row(
            ANA,
            "9005",
            "Representative in State Legislature",
            "012th District",
            "DEMOCRAT",
            "Ana",
            "Peña",
        )
        + summary_row(BOB, "9002", "State Senator", "003rd District", "REPUBLICAN", "Bob", "Müller")
        + summary_row(GOV, "9003", "Governor", "", "DEMOCRAT", "Gov", "Ernor")
        + summary_row(
            CONG,
            "9004",
            "Representative in Congress",
            "005th District",
            "REPUBLICAN",
            "Con",
            "Gress",
        )
        + "500009\t9009\tCAN\n"  # line 8: too short to use
    )
    header = "\t".join(MI_CONTRIB_COLUMNS) + "\tRUNTIME: 11/24/2024 03:15\n"
    part0 = (
        header
        + mi_row("9001", "1", "0", ANA, first="Jürgen", last="Müller")
        + "\n"  # line 2
        + mi_row("9001", "2", "1", ANA, amount="-25.00")
        + "\n"  # line 3: refund, sub-item
        + mi_row("9003", "1", "0", GOV)
        + "\n"  # line 4: governor: skipped
        # line 5: trailing tab (26 cells), CRLF, a stray quote that must not merge rows
        + mi_row("9002", "1", "0", BOB, first="", last="UAW V-CAP", occupation="Owner \"Joe's")
        + "\t\r\n"
        # lines 6-7: a line break typed inside the address: two short rows
        + mi_row("9001", "5", "0", ANA, address="1 Main\nSt")
        + "\n"
        # line 8: a tab typed inside the address, and a trailing tab: 27 cells
        + mi_row("9001", "6", "0", ANA, address="1 Main\tSt")
        + "\t\n"
        + mi_row("9001", "3", "0", ANA, date="")
        + "\n"  # line 9: missing date
        + mi_row("9001", "4", "0", ANA, date="02/30/2024")
        + "\n"  # line 10: bad date
        + mi_row("9100", "1", "0", "600001")
        + "\n"  # line 11: a PAC not in the summary
    )
    part1 = (
        mi_row("9001", "1", "0", ANA)
        + "\n"  # line 1: duplicate of part 0 line 2
        + mi_row("9005", "1", "0", ANA)
        + "\n"  # line 2: amended statement, same item number
        + "  9002 \t0\t 2\t0 \t2024\tANNUAL CS\tCommittee\tCmte\t 500002\tCAN\tBob\tMüller\t"
        "DIRECT\tZoë\tPeña\t2 Elm St\tDetroit\tMI\t48201\t\t\t 3/4/2024 \t 60.00 \t60.00\t\n"
    )
    return {
        "micfrcansummary.txt.zip": {"micfrcansummary.txt": summary.encode("latin-1")},
        "2024_mi_cfr_contributions_00.zip": {
            "2024_mi_cfr_contributions_00.txt": part0.encode("latin-1")
        },
        "2024_mi_cfr_contributions_01.zip": {
            "2024_mi_cfr_contributions_01.txt": part1.encode("latin-1")
        },
    }


def write_michigan(base: Path, files: dict[str, dict[str, bytes]] | None = None) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for name, members in (michigan_files() if files is None else files).items():
        write_zip(base / name, members)
    return base


def ingest_all(ingestor, source, *, unique_reports: bool = True):
    """Run an ingestor to the end: (ingestor, contributions by id, reports by id, rejects).

    A contribution id seen twice is a test failure (the ingestor must reject duplicates);
    `unique_reports` holds reports to the same rule.
    """
    from precinct.finance.models import ContributionDoc, Reject

    contributions, reports, rejects = {}, {}, []
    for item in ingestor.ingest(source):
        if isinstance(item, Reject):
            rejects.append(item)
        elif isinstance(item, ContributionDoc):
            assert item.doc_id not in contributions
            contributions[item.doc_id] = item
        else:
            assert not unique_reports or item.doc_id not in reports
            reports[item.doc_id] = item
    return ingestor, contributions, reports, rejects
