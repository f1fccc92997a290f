"""Deterministic synthetic state campaign-finance bulk files, in the official layouts.

`make demo`, the integration tests and `benchmarks/finance_parse.py` need Texas and Michigan
files that look like the real downloads, dirt included, without fetching gigabytes. The layouts
(column names and orders) follow ../shared/reference/state_finance_formats.md; the mess is what
the real files are known to contain:

Texas `TEC_CF_CSV.zip`: a BOM on `filers.csv` and the first contributions shard; TEC's selective
quoting (anything with a space or comma is quoted, inner quotes doubled) with quoted commas and
real line breaks in values; several `contribs_NN.csv` shards, one in the 36-column 2016 layout;
refunds (negative amounts); the same `contributionInfoId` repeated across shards; in-kind rows
(A2, C2...); superseded reports (`infoOnlyFlag=Y`); missing and impossible dates; short rows; a
row with bytes that are not UTF-8; committees supporting, assisting and opposing legislative and
non-legislative candidates; short `filers.csv` rows, codes with a leading space, an e-mail
`filerIdent`; `cont_ss.csv`/`cont_t.csv` that repeat regular items.

Michigan `YEAR_mi_cfr_contributions_NN.zip` + `micfrcansummary.txt.zip`: Latin-1 names, header
only in `_00` (ending with a `RUNTIME` cell), trailing tabs on some lines, CRLF in one part, stray
`"` characters, a tab typed inside a value, a line break inside a value, padded cells, missing
dates, refunds, duplicate ids across parts, amended statements re-filed under a new
`doc_seq_no`, committees for other offices (including "Representative in Congress").

Writing streams: rows go to the zip member in batches, never held for the whole file, so
millions of rows take seconds and little memory. Same arguments, same bytes.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import IO

# --- Texas layouts (reference 1.2 - 1.5) ---------------------------------------------------------

TEC_CONTRIB_COLUMNS = tuple(
    """recordType formTypeCd schedFormTypeCd reportInfoIdent receivedDt infoOnlyFlag filerIdent
    filerTypeCd filerName contributionInfoId contributionDt contributionAmount contributionDescr
    itemizeFlag travelFlag contributorPersentTypeCd contributorNameOrganization contributorNameLast
    contributorNameSuffixCd contributorNameFirst contributorNamePrefixCd contributorNameShort
    contributorStreetCity contributorStreetStateCd contributorStreetCountyCd
    contributorStreetCountryCd contributorStreetPostalCode contributorStreetRegion
    contributorEmployer contributorOccupation contributorJobTitle contributorPacFein
    contributorOosPacFlag contributorLawFirmName contributorSpouseLawFirmName
    contributorParent1LawFirmName contributorParent2LawFirmName""".split()
)
# The 2016 layout: no contributorLawFirmName, later columns one place left.
TEC_CONTRIB_COLUMNS_2016 = tuple(c for c in TEC_CONTRIB_COLUMNS if c != "contributorLawFirmName")

_PERSON = (
    "PersentTypeCd NameOrganization NameLast NameSuffixCd NameFirst NamePrefixCd NameShort".split()
)
_STREET = (
    "StreetAddr1 StreetAddr2 StreetCity StreetStateCd StreetCountyCd StreetCountryCd "
    "StreetPostalCode StreetRegion".split()
)
_MAILING = [name.replace("Street", "Mailing") for name in _STREET]
_PHONE = "PrimaryUsaPhoneFlag PrimaryPhoneNumber PrimaryPhoneExt".split()
_OFFICE = "OfficeCd OfficeDistrict OfficePlace OfficeDescr OfficeCountyCd OfficeCountyDescr".split()


def _prefixed(prefix: str, names: Iterable[str]) -> list[str]:
    return [prefix + name for name in names]


def _cat(*parts: Iterable[str]) -> tuple[str, ...]:
    return tuple(name for part in parts for name in part)


TEC_FILER_COLUMNS = _cat(
    [
        "recordType",
        "filerIdent",
        "filerTypeCd",
        "filerName",
        "unexpendContribFilerFlag",
        "modifiedElectCycleFlag",
        "filerJdiCd",
        "committeeStatusCd",
    ],
    _prefixed("ctaSeek", _OFFICE),
    _prefixed("filer", _PERSON + _STREET + _MAILING + _PHONE),
    _prefixed("filerHold", _OFFICE),
    ["filerFilerpersStatusCd", "filerEffStartDt", "filerEffStopDt"],
    _prefixed("contestSeek", _OFFICE),
    _prefixed("treas", _PERSON + _STREET + _MAILING + _PHONE),
    [
        "treasAppointorNameLast",
        "treasAppointorNameFirst",
        "treasFilerpersStatusCd",
        "treasEffStartDt",
        "treasEffStopDt",
    ],
    _prefixed("assttreas", _PERSON + _STREET + _PHONE),
    ["assttreasAppointorNameLast", "assttreasAppointorNameFirst"],
    _prefixed("chair", _PERSON + _STREET + _MAILING + _PHONE),
)

TEC_SPAC_COLUMNS = _cat(
    [
        "recordType",
        "spacFilerIdent",
        "spacFilerTypeCd",
        "spacFilerName",
        "spacFilerNameShort",
        "spacCommitteeStatusCd",
        "spactreasEffStartDt",
        "spactreasEffStopDt",
        "spacPositionCd",
        "candidateFilerIdent",
        "candidateFilerTypeCd",
        "candidateFilerName",
        "candidateFilerpersStatusCd",
        "candidateEffStartDt",
        "candidateEffStopDt",
    ],
    _prefixed("candidateHold", _OFFICE),
    _prefixed("candidateSeek", _OFFICE),
    _prefixed("ctaSeek", _OFFICE),
    ["candtreasFilerpersStatusCd", "candtreasEffStartDt", "candtreasEffStopDt"],
)

TEC_COVER_COLUMNS = _cat(
    [
        "recordType",
        "formTypeCd",
        "reportInfoIdent",
        "receivedDt",
        "infoOnlyFlag",
        "filerIdent",
        "filerTypeCd",
        "filerName",
    ],
    [f"reportTypeCd{n}" for n in range(1, 11)],
    """sourceCategoryCd dueDt filedDt periodStartDt periodEndDt unitemizedContribAmount
    totalContribAmount unitemizedExpendAmount totalExpendAmount loanBalanceAmount
    contribsMaintainedAmount unitemizedPledgeAmount unitemizedLoanAmount totalInterestEarnedAmount
    electionDt electionTypeCd electionTypeDescr noActivityFlag politicalPartyCd politicalDivisionCd
    politicalPartyOtherDescr politicalPartyCountyCd timelyCorrectionFlag semiannualCheckboxFlag
    highContribThreshholdCd softwareRelease internetVisibleFlag signerPrintedName
    addrChangeFilerFlag addrChangeTreasFlag addrChangeChairFlag""".split(),
    _prefixed("filer", _PERSON + _STREET),
    _prefixed("filerHold", _OFFICE),
    _prefixed("filerSeek", _OFFICE),
    _prefixed("treas", _PERSON + _STREET + _MAILING + _PHONE),
    _prefixed("chair", _PERSON + _STREET + _MAILING + _PHONE),
)


# --- Michigan layouts (reference 2.2, 2.3) -------------------------------------------------------

MI_CONTRIB_COLUMNS = tuple(
    """doc_seq_no page_no contribution_id cont_detail_id doc_stmnt_year doc_type_desc
    com_legal_name common_name cfr_com_id com_type can_first_name can_last_name contribtype f_name
    l_name_or_org address city state zip occupation employer received_date amount aggregate
    extra_desc""".split()
)
# Labels 1-10 are the verified ones; 11 onwards are reconstructed (see the reference, 2.3).
MI_SUMMARY_LABELS = (
    "Committee ID#",
    "Document Sequence#",
    "Committee Type",
    "Committee Name",
    "Candidate First Name",
    "Candidate Middle Name",
    "Candidate Last Name",
    "Political Party Affiliation",
    "Office Sought",
    "District Sought",
    "Statement Year",
    "Statement Type",
    "Received Date",
    "Period Beginning Date",
    "Period Ending Date",
    "Total Contributions",
    "Total Other Receipts",
    "Total In-Kind",
    "Total Loans",
    "Total Receipts",
    "Beginning Balance",
    "Total Expenditures",
    "Total In-Kind Expenditures",
    "Total Loan Payments",
    "Total Debts",
    "Total Independent Expenditures",
    "Total Obligations",
    "Net Balance",
    "Ending Balance",
)
MI_LEGISLATIVE_OFFICES = ("Representative in State Legislature", "State Senator")

# --- values --------------------------------------------------------------------------------------

FIRST_NAMES = (
    "Maria James Linda Robert Patricia John Jennifer Michael Elizabeth David Barbara William "
    "Susan Richard Jessica Joseph Sarah Thomas Karen Charles Nancy Daniel Lisa Matthew Betty "
    "Anthony Sandra Mark Ashley Donald Emily Steven Dorothy Paul Kimberly Andrew Carol Joshua "
    "Michelle Kenneth Amanda Kevin Melissa Brian Deborah George Stephanie Timothy Rebecca"
).split()
LAST_NAMES = (
    "Garcia Smith Johnson Williams Brown Jones Miller Davis Rodriguez Martinez Hernandez Lopez "
    "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
    "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill "
    "Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts O'Brien"
).split()
ACCENTED = ("Peña", "Muñoz", "Müller", "Núñez", "Gómez")  # surnames
ACCENTED_FIRST = ("Zoë", "Chloé", "José", "André", "Inés")
CITIES_TX = (
    "Austin|Houston|Dallas|El Paso|San Antonio|Fort Worth|Corpus Christi|Lubbock|Laredo|Waco|"
    "Amarillo|Brownsville|McAllen|Tyler|Abilene"
).split("|")
CITIES_MI = (
    "Detroit|Grand Rapids|Lansing|Ann Arbor|Flint|Kalamazoo|Saginaw|Traverse City|Marquette|"
    "Dearborn|Troy|Livonia|Warren|Sterling Heights|Muskegon"
).split("|")
EMPLOYERS = (
    "Self-employed|Retired|H-E-B|Dell Technologies|University of Texas|Baker, Botts LLP|"
    "City of Austin|Acme Oil & Gas, Inc.|Memorial Hermann|AT&T|Whole Foods Market|Not employed|"
    "General Motors|Ford Motor Co.|Spectrum Health|Michigan State University|Dow, Inc."
).split("|")
OCCUPATIONS = (
    "Attorney|Teacher|Physician|Retired|Engineer|Homemaker|Consultant|Rancher|Nurse|Owner|"
    "Software Developer|Accountant|Realtor|Pastor|Electrician|Sales"
).split("|")
JOB_TITLES = ("Partner|Director|Manager|President|CEO|Principal|Vice President|Analyst|").split("|")
ORGS = (
    "Texans for Lawsuit Reform PAC|Texas Trial Lawyers Association PAC|HillCo PAC|"
    "Associated Republicans of Texas|Texas Medical Association PAC|"
    "Smith, Jones & Partners, LLP|Texas Realtors PAC|AT&T Texas Employee PAC|"
    "Texas Association of Business|Valero Energy Corp. PAC"
).split("|")
MI_ORGS = (
    "Michigan Education Association PAC|UAW Michigan V-CAP|Michigan Chamber PAC|"
    "Consumers Energy Employees for Better Government|DTE Energy PAC|"
    "Michigan Realtors PAC|Blue Cross, Blue Shield of Michigan PAC"
).split("|")
MEMOS = (
    "Fundraiser dinner, Austin",
    'Reception at the "Capitol Grill"',
    "Dinner\nfundraiser",  # a real line break inside a quoted value
    "Annual gala\\nsilent auction",  # TEC's documented two-character \n
    "Golf tournament sponsorship",
)

_TEC_BARE = re.compile(r"[A-Za-z0-9!@#$%*\-_+:;./]*")
_TEC_DATES_START = date(2023, 1, 1)


def tec_quote(value: str) -> str:
    """TEC's selective quoting: bare only if every character is a letter, digit or !@#$%*-_+:;./"""
    if _TEC_BARE.fullmatch(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def tec_line(values: Sequence[str]) -> str:
    """One CSV line (CRLF, as TEC's Windows export writes) in TEC's quoting."""
    return ",".join(tec_quote(v) for v in values) + "\r\n"


def _row(columns: Sequence[str], values: dict[str, str]) -> list[str]:
    unknown = set(values) - set(columns)
    if unknown:
        raise KeyError(f"not in layout: {sorted(unknown)}")
    return [values.get(column, "") for column in columns]


def _money(rng: random.Random, high: int) -> str:
    return f"{rng.randrange(0, high)}.{rng.randrange(100):02d}"


def _ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def _mdy(day: date) -> str:
    return day.strftime("%m/%d/%Y")


class _Batch:
    """Collects encoded lines and writes them to a zip member in large chunks."""

    def __init__(self, stream: IO[bytes], encoding: str, size: int = 20_000) -> None:
        self.stream = stream
        self.encoding = encoding
        self.size = size
        self.lines: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)
        if len(self.lines) >= self.size:
            self.flush()

    def raw(self, data: bytes) -> None:
        self.flush()
        self.stream.write(data)

    def flush(self) -> None:
        if self.lines:
            self.stream.write("".join(self.lines).encode(self.encoding))
            self.lines.clear()


# --- Texas ---------------------------------------------------------------------------------------


class _TexasWorld:
    """Filers, committee links and reports: small, built in memory, shared by all members."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.filers: list[dict[str, str]] = []
        self.spacs: list[dict[str, str]] = []
        self.reports: dict[str, list[tuple[str, str, str, str]]] = {}
        self.in_scope: list[str] = []  # recipients whose rows Precinct keeps
        self.out_of_scope: list[str] = []
        self.names: dict[str, tuple[str, str]] = {}  # id -> (type, display name)
        next_id = iter(range(10_001, 99_999))

        def person() -> tuple[str, str]:
            return rng.choice(FIRST_NAMES), rng.choice([*LAST_NAMES, "Peña", "Muñoz"])

        def add_filer(ftype: str, office: str, district: str, **extra: str) -> str:
            filer_id = extra.pop("filerIdent", None) or f"{next(next_id):08d}"
            if ftype in ("COH", "JCOH"):
                first, last = person()
                name = f"{last}, {first}"
                values = {
                    "filerPersentTypeCd": "INDIVIDUAL",
                    "filerNameLast": last,
                    "filerNameFirst": first,
                }
            else:
                name = extra.pop("name")
                values = {"filerPersentTypeCd": "ENTITY", "filerNameOrganization": name}
            values.update(
                recordType="FILER",
                filerIdent=filer_id,
                filerTypeCd=ftype,
                filerName=name,
                committeeStatusCd="ACTIVE" if ftype != "COH" else "",
                filerStreetCity=rng.choice(CITIES_TX),
                filerStreetStateCd="TX",
                filerStreetCountryCd="USA",
                filerStreetPostalCode=f"7{rng.randrange(5000, 9999)}",
                filerFilerpersStatusCd="CURRENT",
                filerEffStartDt="20220101",
                contestSeekOfficeCd=office,
                contestSeekOfficeDistrict=district,
                contestSeekOfficeDescr=office.strip().title() if office.strip() else "",
                ctaSeekOfficeCd=office.strip(),
                ctaSeekOfficeDistrict=district,
                treasPersentTypeCd="INDIVIDUAL",
                treasNameLast=rng.choice(LAST_NAMES),
                treasNameFirst=rng.choice(FIRST_NAMES),
                treasStreetCity=rng.choice(CITIES_TX),
                treasStreetStateCd="TX",
                treasPrimaryPhoneNumber=f"(512) 555-{rng.randrange(1000, 9999)}",
                **extra,
            )
            self.filers.append(values)
            self.names[filer_id] = (ftype, name)
            return filer_id

        legislators = []
        for district in range(1, 151):
            legislators.append(add_filer("COH", "STATEREP", str(district)))
        for district in range(1, 32):
            office = " STATESEN" if district == 7 else "STATESEN"  # a code with a leading space
            legislators.append(
                add_filer("COH", office, f"{district:03d}" if district == 7 else str(district))
            )
        self.legislators = legislators
        others = [
            add_filer("COH", office, district)
            for office, district in (
                ("GOVERNOR", ""),
                ("LTGOVERNOR", ""),
                ("ATTYGEN", ""),
                ("COMPTROLLER", ""),
                ("LANDCOMM", ""),
                ("AGRICULTUR", ""),
                ("RRCOMM", ""),
                ("SOS", ""),
                ("STATEEDU", "5"),
                ("STATEEDU", "9"),
                ("DISTATTY", "53"),
                ("OTHER", ""),
                (" NONE", ""),
                (" LANDCOMM", ""),
            )
        ]
        others += [add_filer("JCOH", "JUDGEDIST", str(d)) for d in (14, 98, 201, 353)]
        others += [add_filer("GPAC", "", "", name=org) for org in ORGS]
        others.append(
            add_filer(
                "GPAC", "", "", name="Friends of Good Government", filerIdent="treasurer@fogg.org"
            )  # TEC has a few e-mail filer ids
        )
        # The bulk of a real file goes to recipients Precinct does not index: judges, district
        # attorneys, general-purpose PACs, county parties.
        others += [add_filer("JCOH", "JUDGEDIST", str(d)) for d in range(400, 520)]
        others += [add_filer("COH", "DISTATTY", str(d)) for d in range(1, 101)]
        others += [
            add_filer("GPAC", "", "", name=f"Texas {industry} PAC {n}")
            for n in range(1, 17)
            for industry in ("Builders", "Dental", "Nurses", "Trucking", "Credit Union")
        ]
        others += [
            add_filer("CEC", "", "", name=f"{county} County {party} Party")
            for county in (
                "Travis",
                "Harris",
                "Dallas",
                "Bexar",
                "Tarrant",
                "El Paso",
                "Collin",
                "Denton",
                "Hidalgo",
                "Fort Bend",
            )
            for party in ("Democratic", "Republican")
        ]
        # Committees (SPACs) linked to candidates.
        in_scope_spacs: list[str] = []
        out_spacs: list[str] = []
        links = (
            [("SUPPORT", legislators[i], "ACTIVE", True) for i in range(0, 40, 3)]
            + [("ASSIST", legislators[i], "ACTIVE", True) for i in range(60, 75, 5)]
            + [("SUPPORT", legislators[152], "TERMINATED", True)]
            + [("OPPOSE", legislators[i], "ACTIVE", False) for i in (10, 20, 30)]
            + [("SUPPORT", others[i], "ACTIVE", False) for i in (0, 1, 2)]
        )
        for n, (position, candidate_id, status, kept) in enumerate(links):
            ctype, cname = self.names[candidate_id]
            spac_name = f"Friends of {cname.split(',')[0]} Committee {n}"
            spac_id = add_filer("SPAC", "", "", name=spac_name)
            (in_scope_spacs if kept else out_spacs).append(spac_id)
            cand = next(f for f in self.filers if f["filerIdent"] == candidate_id)
            self.spacs.append(
                {
                    "recordType": "SPAC",
                    "spacFilerIdent": spac_id,
                    "spacFilerTypeCd": "SPAC",
                    "spacFilerName": spac_name,
                    "spacCommitteeStatusCd": status,
                    "spactreasEffStartDt": "20220301",
                    "spacPositionCd": position,
                    "candidateFilerIdent": candidate_id,
                    "candidateFilerTypeCd": ctype,
                    "candidateFilerName": cname,
                    "candidateFilerpersStatusCd": "CURRENT",
                    "candidateSeekOfficeCd": cand["contestSeekOfficeCd"].strip(),
                    "candidateSeekOfficeDistrict": cand["contestSeekOfficeDistrict"],
                }
            )
        # A committee linked to a legislator but missing from filers.csv: out of scope.
        ghost = "00099998"
        self.spacs.append(
            {
                "recordType": "SPAC",
                "spacFilerIdent": ghost,
                "spacFilerTypeCd": "SPAC",
                "spacFilerName": "Ghost Committee",
                "spacCommitteeStatusCd": "ACTIVE",
                "spacPositionCd": "SUPPORT",
                "candidateFilerIdent": legislators[0],
            }
        )
        self.names[ghost] = ("SPAC", "Ghost Committee")
        out_spacs.append(ghost)
        self.in_scope = legislators + in_scope_spacs
        self.out_of_scope = others + out_spacs

        # Reports: four per recipient, about 3% superseded by a later filing.
        report_id = iter(range(700_000, 9_999_999))
        periods = (
            ("SEMIJUL", date(2023, 1, 1), date(2023, 6, 30)),
            ("SEMIJAN", date(2023, 7, 1), date(2023, 12, 31)),
            ("E30DAYBEF", date(2024, 1, 1), date(2024, 1, 25)),
            ("SEMIJUL", date(2024, 1, 26), date(2024, 6, 30)),
        )
        self.cover: list[dict[str, str]] = []
        for filer_id in self.in_scope + self.out_of_scope:
            ftype, fname = self.names[filer_id]
            party = rng.choice(("DEM", "REP", "REP", "DEM", "LIB")) if ftype == "COH" else ""
            form = ftype
            reports = []
            for rtype, start, end in periods:
                rid = str(next(report_id))
                received = end + timedelta(days=rng.randrange(1, 20))
                info = "Y" if rng.random() < 0.03 else "N"
                reports.append((form, rid, _ymd(received), info))
                self.cover.append(
                    {
                        "recordType": "CVR1",
                        "formTypeCd": form,
                        "reportInfoIdent": rid,
                        "receivedDt": _ymd(received),
                        "infoOnlyFlag": info,
                        "filerIdent": filer_id,
                        "filerTypeCd": ftype,
                        "filerName": fname,
                        "reportTypeCd1": rtype,
                        "sourceCategoryCd": "ELECTRONIC",
                        "dueDt": _ymd(end + timedelta(days=15)),
                        "filedDt": _ymd(received),
                        "periodStartDt": _ymd(start),
                        "periodEndDt": _ymd(end),
                        "totalContribAmount": _money(rng, 500_000),
                        "totalExpendAmount": _money(rng, 400_000),
                        "contribsMaintainedAmount": f"{rng.randrange(0, 900_000)}.00",
                        "politicalPartyCd": party,
                        "signerPrintedName": fname,
                    }
                )
            self.reports[filer_id] = reports


def _tec_contributor_pool(rng: random.Random, columns: Sequence[str], size: int) -> list[str]:
    """Pre-quoted contributor blocks (contributorPersentTypeCd onwards) for fast row assembly."""
    start = columns.index("contributorPersentTypeCd")
    block_columns = columns[start:]
    pool = []
    for n in range(size):
        values: dict[str, str] = {}
        if n % 7 == 0:
            values.update(
                contributorPersentTypeCd="ENTITY", contributorNameOrganization=rng.choice(ORGS)
            )
        else:
            first = rng.choice(FIRST_NAMES + list(ACCENTED_FIRST))
            last = rng.choice(LAST_NAMES + list(ACCENTED))
            values.update(
                contributorPersentTypeCd="INDIVIDUAL",
                contributorNameFirst=first,
                contributorNameLast=last,
                contributorNameSuffixCd="JR" if n % 53 == 0 else "",
                contributorEmployer=rng.choice(EMPLOYERS),
                contributorOccupation=rng.choice(OCCUPATIONS),
                contributorJobTitle=rng.choice(JOB_TITLES),
            )
        values.update(
            contributorStreetCity=rng.choice(CITIES_TX),
            contributorStreetStateCd="TX" if n % 11 else rng.choice(("CA", "NY", "LA")),
            contributorStreetCountryCd="USA",
            contributorStreetPostalCode=f"7{rng.randrange(5000, 9999)}"
            + ("" if n % 5 else f"-{rng.randrange(1000, 9999)}"),
        )
        if "contributorLawFirmName" in block_columns and n % 29 == 0:
            values["contributorLawFirmName"] = "Baker, Botts LLP"
        pool.append(",".join(tec_quote(values.get(c, "")) for c in block_columns))
    return pool


def _write_csv_member(
    zf: zipfile.ZipFile,
    name: str,
    columns: Sequence[str],
    rows: Iterable[dict[str, str]],
    *,
    bom: bool = False,
    short_every: int = 0,
) -> None:
    with zf.open(name, "w", force_zip64=True) as stream:
        batch = _Batch(stream, "utf-8")
        if bom:
            batch.raw(b"\xef\xbb\xbf")
        batch.add(tec_line(columns))
        for n, values in enumerate(rows):
            row = _row(columns, values)
            if short_every and n % short_every == short_every - 1:
                # TEC drops trailing empty columns on some filers.csv rows.
                last = max(i for i, v in enumerate(row) if v) + 1
                row = row[: max(last, 60)]
            batch.add(tec_line(row))
        batch.flush()


SCHEDULES = ["A1"] * 86 + ["A2"] * 5 + ["C1"] * 3 + ["C2", "C4", "A2SS", "AS2", "AJ1", "C3"]
AMOUNTS = [
    f"{a}.00" for a in (5, 10, 20, 25, 25, 50, 50, 100, 100, 100, 250, 250, 500, 1000, 2500, 5000)
] + ["35.50", "12.34", "99.99", "1234.56", "7.25"]


def write_texas(
    out_dir: str | Path,
    contributions: int = 10_000,
    seed: int = 0,
    *,
    shard_rows: int = 500_000,
    compresslevel: int = 1,
) -> Path:
    """Write `TEC_CF_CSV.zip` with about `contributions` contribution rows; return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    world = _TexasWorld(rng)
    path = out / "TEC_CF_CSV.zip"
    shards = max(3, -(-contributions // shard_rows))
    per_shard = -(-contributions // shards) if contributions else 0
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel) as zf:
        _write_csv_member(
            zf, "filers.csv", TEC_FILER_COLUMNS, world.filers, bom=True, short_every=17
        )
        _write_csv_member(zf, "spacs.csv", TEC_SPAC_COLUMNS, world.spacs)
        _write_csv_member(zf, "cover.csv", TEC_COVER_COLUMNS, world.cover)
        written = 0
        carry: str | None = None  # a row repeated at the start of the next shard
        pools = {
            37: _tec_contributor_pool(rng, TEC_CONTRIB_COLUMNS, 4000),
            36: _tec_contributor_pool(rng, TEC_CONTRIB_COLUMNS_2016, 4000),
        }
        cid = 100_000_000
        for shard in range(1, shards + 1):
            rows = min(per_shard, contributions - written)
            layout = TEC_CONTRIB_COLUMNS_2016 if shard == 2 else TEC_CONTRIB_COLUMNS
            with zf.open(f"contribs_{shard:02d}.csv", "w", force_zip64=True) as stream:
                batch = _Batch(stream, "utf-8")
                if shard == 1:
                    batch.raw(b"\xef\xbb\xbf")
                batch.add(tec_line(layout))
                if carry is not None and rows:
                    # The previous shard's last item again (same contributionInfoId).
                    batch.add(
                        _relayout(
                            carry,
                            TEC_CONTRIB_COLUMNS if shard != 3 else TEC_CONTRIB_COLUMNS_2016,
                            layout,
                        )
                    )
                    rows -= 1
                    written += 1
                carry, cid = _write_tec_rows(batch, world, pools[len(layout)], rng, rows, cid)
                written += rows
                batch.flush()
        # Special-session members share the layout and repeat regular items: never read.
        for name in ("cont_ss.csv", "cont_t.csv"):
            with zf.open(name, "w") as stream:
                batch = _Batch(stream, "utf-8")
                batch.add(tec_line(TEC_CONTRIB_COLUMNS))
                _write_tec_rows(batch, world, pools[37], random.Random(seed + 1), 50, 100_000_000)
                batch.flush()
    return path


def _relayout(line: str, source: Sequence[str], target: Sequence[str]) -> str:
    """One TEC line re-emitted in another layout (a repeated item in a 36-column shard)."""
    if source == target:
        return line
    values = dict(zip(source, next(csv.reader([line])), strict=True))
    return tec_line([values.get(column, "") for column in target])


def _write_tec_rows(
    batch: _Batch,
    world: _TexasWorld,
    contributors: list[str],
    rng: random.Random,
    rows: int,
    cid: int,
) -> tuple[str | None, int]:
    """The hot loop: one `random()` picks recipient, report, contributor, schedule and amount."""
    recipients = []
    for filer_id in world.in_scope + world.out_of_scope:  # about 36% of rows in scope
        ftype, fname = world.names[filer_id]
        block = f"{tec_quote(filer_id)},{ftype},{tec_quote(fname)}"
        for form, rid, received, info in world.reports[filer_id]:
            recipients.append((f"RCPT,{form},", f",{rid},{received},{info},{block},"))
    dates = [_ymd(_TEC_DATES_START + timedelta(days=d)) for d in range(540)]
    memos = [tec_quote(m) for m in MEMOS] + [""] * 45
    n_rec, n_con, n_dates, n_memos = len(recipients), len(contributors), len(dates), len(memos)
    n_sched, n_amounts = len(SCHEDULES), len(AMOUNTS)
    rand = rng.random
    add = batch.add
    last_line: str | None = None
    for n in range(rows):
        x = int(rand() * 9007199254740992)  # 53 random bits
        head, tail = recipients[x % n_rec]
        x //= n_rec
        contributor = contributors[x % n_con]
        x //= n_con
        day = dates[x % n_dates]
        x = int(rand() * 9007199254740992)  # 53 more for the rest
        sched = SCHEDULES[x % n_sched]
        x //= n_sched
        amount = AMOUNTS[x % n_amounts]
        x //= n_amounts
        memo = memos[x % n_memos]
        x //= n_memos
        special = x % 1000
        if special < 12:  # refunds
            amount = "-" + amount
        elif special < 14:
            day = ""  # missing date
        elif special == 14:
            day = "20230231"  # impossible date
        cid += 1
        line = f"{head}{sched}{tail}{cid},{day},{amount},{memo},Y,N,{contributor}\r\n"
        if special == 15 and n % 7 == 0:
            add(line[: line.index(",", line.index(str(cid)) + 12)] + "\r\n")  # short row
            continue
        if special == 16 and n % 5 == 0 and last_line is not None:
            add(last_line)  # the same item reported twice
            continue
        if special == 17 and n % 11 == 0:
            batch.raw(line.replace(",Y,N,", ",Y,N,", 1).encode("utf-8").replace(b"a", b"\xe1", 1))
            continue  # bytes that are not UTF-8 (a Latin-1 a-acute)
        add(line)
        last_line = line
    return last_line, cid


# --- Michigan ------------------------------------------------------------------------------------


def _ordinal(number: int) -> str:
    if number % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")


def _mi_committees(rng: random.Random) -> list[dict[str, str]]:
    committees = []
    com_id = iter(range(500_100, 599_999))
    offices = (
        [(MI_LEGISLATIVE_OFFICES[0], d) for d in range(1, 111)]
        + [(MI_LEGISLATIVE_OFFICES[1], d) for d in range(1, 39)]
        + [("Governor", 0), ("Secretary of State", 0), ("Attorney General", 0)]
        + [("Representative in Congress", d) for d in range(1, 14)]
        + [("Judge of Probate", d) for d in (3, 7)]
        + [("State Representative", 4)]  # not the exact office string: out of scope
    )
    for office, district in offices:
        first = rng.choice(FIRST_NAMES + list(ACCENTED_FIRST))
        last = rng.choice(LAST_NAMES + list(ACCENTED))
        committees.append(
            {
                "id": str(next(com_id)),
                "type": "GUB" if office == "Governor" else "CAN",
                "name": f"Committee to Elect {first} {last}",
                "first": first,
                "middle": rng.choice(("", "A", "J.", "Marie")),
                "last": last,
                "party": rng.choice(
                    ("DEMOCRAT", "REPUBLICAN", "REPUBLICAN", "DEMOCRAT", "LIBERTARIAN")
                ),
                "office": office,
                "district": f"{district:03d}{_ordinal(district)} District" if district else "",
            }
        )
    for org in MI_ORGS:  # PACs: not in the candidate summary at all
        committees.append(
            {
                "id": str(next(com_id)),
                "type": "IND",
                "name": org,
                "first": "",
                "middle": "",
                "last": "",
                "party": "",
                "office": "",
                "district": "",
            }
        )
    return committees


def write_michigan(
    out_dir: str | Path,
    contributions: int = 10_000,
    seed: int = 0,
    *,
    year: int = 2024,
    part_rows: int = 400_000,
) -> list[Path]:
    """Write the contribution parts and the candidate summary; return the paths written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    committees = _mi_committees(rng)
    # Statements: three per candidate committee, plus an amended copy of some.
    seq = iter(range(310_000, 999_999))
    statements: list[tuple[dict[str, str], str, str, date, date]] = []
    kinds = (
        ("PRE-PRIMARY CS", date(2024, 1, 1), date(2024, 7, 21)),
        ("POST-PRIMARY CS", date(2024, 7, 22), date(2024, 8, 26)),
        ("PRE-GENERAL CS", date(2024, 8, 27), date(2024, 10, 20)),
    )
    for committee in committees:
        for kind, start, end in kinds:
            statements.append((committee, str(next(seq)), kind, start, end))
    amended = [
        (c, str(next(seq)), "AMENDED " + k, s, e)
        for (c, _, k, s, e) in statements[: len(statements) : 25]
    ]
    paths = [_write_mi_summary(out, committees, statements + amended, rng, year)]

    parts = max(2, -(-contributions // part_rows))
    per_part = -(-contributions // parts) if contributions else 0
    written = 0
    carry: str | None = None
    item_counter: dict[str, int] = {}
    for part in range(parts):
        rows = min(per_part, contributions - written)
        name = f"{year}_mi_cfr_contributions_{part:02d}"
        path = out / f"{name}.zip"
        eol = "\r\n" if part == 1 else "\n"
        with (
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf,
            zf.open(f"{name}.txt", "w", force_zip64=True) as stream,
        ):
            batch = _Batch(stream, "latin-1")
            if part == 0:
                batch.add("\t".join(MI_CONTRIB_COLUMNS) + "\tRUNTIME:2024-11-24 03:15:00" + eol)
            if carry is not None and rows:
                batch.add(carry)  # the same item again, at the top of the next part
                rows -= 1
                written += 1
            carry = _write_mi_rows(batch, statements, amended, rng, rows, eol, item_counter, year)
            written += rows
            batch.flush()
        paths.append(path)
    return paths


def _write_mi_summary(
    out: Path,
    committees: list[dict[str, str]],
    statements: list[tuple[dict[str, str], str, str, date, date]],
    rng: random.Random,
    year: int,
) -> Path:
    path = out / "micfrcansummary.txt.zip"
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf,
        zf.open("micfrcansummary.txt", "w") as stream,
    ):
        batch = _Batch(stream, "latin-1")
        batch.add("\t".join(MI_SUMMARY_LABELS) + "\n")
        batch.add("Run Date: 11/24/2024 03:15 AM\n")
        for committee, doc_seq, kind, start, end in statements:
            if committee["type"] not in ("CAN", "GUB"):
                continue
            cells = [""] * len(MI_SUMMARY_LABELS)
            cells[:16] = [
                committee["id"],
                doc_seq,
                committee["type"],
                committee["name"],
                committee["first"],
                committee["middle"],
                committee["last"],
                committee["party"],
                committee["office"],
                committee["district"],
                str(year),
                kind,
                _mdy(end + timedelta(days=rng.randrange(2, 12))),
                _mdy(start),
                _mdy(end),
                f"{rng.randrange(0, 250_000)}.{rng.randrange(100):02d}",
            ]
            cells[21] = f"{rng.randrange(0, 200_000)}.{rng.randrange(100):02d}"
            cells[28] = f"{rng.randrange(0, 300_000)}.00"
            batch.add("\t".join(cells) + "\n")
        batch.add("500999\t\tCAN\tBroken row\n")  # a row too short to use
        batch.flush()
    return path


def _write_mi_rows(
    batch: _Batch,
    statements: list[tuple[dict[str, str], str, str, date, date]],
    amended: list[tuple[dict[str, str], str, str, date, date]],
    rng: random.Random,
    rows: int,
    eol: str,
    item_counter: dict[str, int],
    year: int,
) -> str | None:
    contributors = []
    for n in range(3000):
        if n % 9 == 0:
            first, last = "", rng.choice(MI_ORGS)
            occupation = employer = ""
        else:
            first = rng.choice(FIRST_NAMES + list(ACCENTED_FIRST))
            last = rng.choice(LAST_NAMES + list(ACCENTED))
            occupation = rng.choice(OCCUPATIONS)
            if n % 37 == 0:
                occupation = "Owner \"Joe's Diner"  # a stray quote is plain text
            employer = rng.choice(EMPLOYERS)
        city = rng.choice(CITIES_MI)
        zip_code = f"4{rng.randrange(8000, 9999)}" + ("-0000" if n % 3 == 0 else "")
        pad = " " if n % 13 == 0 else ""  # stray padding around some cells
        contributors.append(
            f"{pad}{first}{pad}\t{last}\t{rng.randrange(1, 9999)} Main St\t{city}\tMI\t"
            f"{zip_code}\t{occupation}\t{employer}"
        )
    days = [_mdy(date(year - 1, 10, 1) + timedelta(days=d)) for d in range(400)]
    amounts = list(AMOUNTS)
    rand = rng.random
    add = batch.add
    last_line = None
    n_st, n_con, n_days, n_amt = len(statements), len(contributors), len(days), len(amounts)
    for n in range(rows):
        x = int(rand() * 9007199254740992)
        committee, doc_seq, kind, _, _ = statements[x % n_st]
        x //= n_st
        contributor = contributors[x % n_con]
        x //= n_con
        day = days[x % n_days]
        x = int(rand() * 9007199254740992)
        amount = amounts[x % n_amt]
        x //= n_amt
        special = x % 1000
        if special < 3 and amended:
            committee, doc_seq, kind, _, _ = amended[x % len(amended)]
        item = item_counter.get(doc_seq, 0) + 1
        item_counter[doc_seq] = item
        detail = "0"
        if special in (3, 4):
            detail = "1"
        if special < 15 and special >= 5:
            amount = "-" + amount
        elif special == 15:
            day = ""
        elif special == 16:
            day = "13/45/2024"
        trailing = "\t" if n % 4 == 0 else ""  # 26 cells, the last empty
        extra = "Fundraiser at the Lansing Center" if special == 20 else ""
        line = (
            f"{doc_seq}\t0\t{item}\t{detail}\t{year}\t{kind}\t{committee['name']}\t"
            f"{committee['name'][:20]}\t{committee['id']}\t{committee['type']}\t"
            f"{committee['first']}\t{committee['last']}\tDIRECT\t{contributor}\t{day}\t"
            f"{amount}\t{amount}\t{extra}{trailing}"
        )
        if special == 17 and n % 3 == 0:
            # A tab typed in a value: one cell too many (two with the trailing tab).
            add(line.replace("Main St", "Main\tSt", 1) + "\tx" + eol)
            continue
        if special == 18 and n % 3 == 0:
            add(line.replace("Main St", "Main" + eol + "St", 1) + eol)  # a line break
            continue
        if special == 19 and n % 3 == 0 and last_line is not None:
            add(last_line)  # a duplicate item
            continue
        line += eol
        add(line)
        last_line = line
    return last_line


# --- command line --------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m devstack.seed_finance --out DIR --tx-rows N --mi-rows N [--seed S]`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write into")
    parser.add_argument("--tx-rows", type=int, default=10_000, help="Texas contribution rows")
    parser.add_argument("--mi-rows", type=int, default=10_000, help="Michigan contribution rows")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    args = parser.parse_args(argv)
    if args.tx_rows:
        print(write_texas(args.out / "tx", args.tx_rows, args.seed))
    if args.mi_rows:
        for path in write_michigan(args.out / "mi", args.mi_rows, args.seed):
            print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
