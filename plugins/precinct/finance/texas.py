"""Texas Ethics Commission bulk file (`TEC_CF_CSV.zip`) to Precinct documents.

Scope (Rulings for Precinct, reference section 3):
- Recipients: filers whose trimmed `contestSeekOfficeCd` is `STATEREP` (house "lower") or
  `STATESEN` ("upper"), district from `contestSeekOfficeDistrict`; plus committees linked to such
  a filer in `spacs.csv` with position `SUPPORT` or `ASSIST` (terminated ones too). Recipients
  absent from `filers.csv` are out of scope. A committee linked to several legislative
  candidates is attributed to one: `SUPPORT` before `ASSIST`, then the lowest candidate id.
- Monetary only: every schedule except `A2 A2SS AS2 C2 C4` (those rows are *skipped*).
- `infoOnlyFlag = Y` rows belong to a report a later one superseded: rejected as "superseded".
- Only `contribs_NN.csv` shards are read; `cont_ss.csv`/`cont_t.csv` items are re-reported on the
  next regular report and would be counted twice.
- Reports come from `cover.csv` for in-scope recipients. The candidate's party is the
  `politicalPartyCd` of their most recently received cover sheet (filers.csv has none).

Parsing: columns are bound by header name per member (the 36- and 37-column contribution layouts
both occur); a BOM is tolerated (`utf-8-sig`); quoted commas and line breaks are handled by
`csv`; short `filers.csv` rows are padded; codes are trimmed. The members are decoded with
`surrogateescape`, so a row with bytes that are not UTF-8 is rejected as "undecodable" instead of
aborting the member. That test runs only on rows that would become documents (an undecodable
out-of-scope row is skipped like any other out-of-scope row). Document ids are
`tx-{contributionInfoId}` and, in the reports index, `tx-{reportInfoIdent}`.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from typing import ClassVar

from precinct.finance.archive import Archive
from precinct.finance.base import StateIngestor
from precinct.finance.decoding import ERRORS, ESCAPED, count_surrogates
from precinct.finance.dedupe import SeenIds, hashed_key, numeric_key
from precinct.finance.errors import LayoutError, MissingSourceFile
from precinct.finance.models import (
    BAD_AMOUNT,
    BAD_DATE,
    DUPLICATE_ID,
    LOWER,
    MISSING_DATE,
    MISSING_ID,
    NON_MONETARY,
    NOT_LEGISLATIVE,
    SHORT_ROW,
    SUPERSEDED,
    UNDECODABLE,
    UPPER,
    WRONG_COLUMN_COUNT,
    Candidate,
    ContributionDoc,
    Document,
    Reject,
    ReportDoc,
)
from precinct.finance.source import Source
from precinct.finance.values import normalize_district, parse_amount, yyyymmdd_parser

ARCHIVE = "TEC_CF_CSV.zip"
FILERS = "filers.csv"
SPACS = "spacs.csv"
COVER = "cover.csv"
CONTRIBS = re.compile(r"contribs_(\d+)\.csv")

LEGISLATIVE_OFFICES = {"STATEREP": LOWER, "STATESEN": UPPER}
NON_MONETARY_SCHEDULES = frozenset({"A2", "A2SS", "AS2", "C2", "C4"})
# The monetary codes of the code table; any other value is trimmed, then tested as in-kind.
MONETARY_SCHEDULES = frozenset({"A1", "AJ1", "AL", "AS1", "C1", "C3"})
LINK_POSITIONS = ("SUPPORT", "ASSIST")  # preference order when a committee has several links


CONTRIB_COLUMNS = (
    "formTypeCd",
    "schedFormTypeCd",
    "reportInfoIdent",
    "receivedDt",
    "infoOnlyFlag",
    "filerIdent",
    "filerTypeCd",
    "filerName",
    "contributionInfoId",
    "contributionDt",
    "contributionAmount",
    "contributionDescr",
    "contributorPersentTypeCd",
    "contributorNameOrganization",
    "contributorNameLast",
    "contributorNameSuffixCd",
    "contributorNameFirst",
    "contributorStreetCity",
    "contributorStreetStateCd",
    "contributorStreetPostalCode",
    "contributorEmployer",
    "contributorOccupation",
    "contributorJobTitle",
)
FILER_COLUMNS = (
    "filerIdent",
    "filerTypeCd",
    "filerName",
    "contestSeekOfficeCd",
    "contestSeekOfficeDistrict",
)
SPAC_COLUMNS = ("spacFilerIdent", "spacPositionCd", "candidateFilerIdent")
COVER_COLUMNS = (
    "formTypeCd",
    "reportInfoIdent",
    "receivedDt",
    "infoOnlyFlag",
    "filerIdent",
    "filerTypeCd",
    "filerName",
    "reportTypeCd1",
    "periodStartDt",
    "periodEndDt",
    "totalContribAmount",
    "totalExpendAmount",
    "contribsMaintainedAmount",
    "politicalPartyCd",
)


def contribs_members(members: list[str]) -> list[str]:
    """The `contribs_NN.csv` shards at the archive root, in numeric order."""
    shards = [(int(m.group(1)), name) for name in members if (m := CONTRIBS.fullmatch(name))]
    return [name for _, name in sorted(shards)]


def _bind(header: list[str], wanted: tuple[str, ...], where: str) -> dict[str, int]:
    """Column name -> position, from the member's own header (layouts drift between years)."""
    positions = {name.strip(): index for index, name in enumerate(header)}
    missing = [name for name in wanted if name not in positions]
    if missing:
        raise LayoutError(where, missing)
    return positions


class TexasIngestor(StateIngestor):
    """Texas Ethics Commission campaign-finance bulk export."""

    state: ClassVar[str] = "tx"
    name: ClassVar[str] = "Texas Ethics Commission"

    def __init__(self) -> None:
        super().__init__()
        self._archive: Archive | None = None
        # filerIdent (candidate or linked committee) -> the legislative candidate it counts for.
        self._recipients: dict[str, Candidate] = {}
        self._loaded = False
        self._parse_date = yyyymmdd_parser()

    # -- inputs -------------------------------------------------------------------------------

    def required_files(self, source: Source) -> list[str]:
        return [ARCHIVE]

    def _open(self, source: Source) -> Archive:
        if self._archive is None:
            self._archive = Archive(source, ARCHIVE)
        return self._archive

    def check_contents(self, source: Source) -> None:
        """Every member we read must be in the zip, and at least one contributions shard."""
        archive = self._open(source)
        try:
            for member in (FILERS, SPACS, COVER):
                archive.require(member)
            if not contribs_members(archive.members()):
                raise MissingSourceFile(
                    f"{ARCHIVE}/contribs_01.csv", archive.where, "no contribs_NN.csv in archive"
                )
        except MissingSourceFile:
            self.post()  # nothing else will run: release the (possibly spooled) archive
            raise

    def _where(self, member: str) -> str:
        return f"{ARCHIVE}/{member}"

    def _reader(self, archive: Archive, member: str, errors: str) -> tuple[Iterator, list[str]]:
        text = archive.open_text(member, "utf-8-sig", errors=errors, newline="")
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            raise LayoutError(self._where(member), ["(header row: member is empty)"])
        return reader, header

    # -- lookups ------------------------------------------------------------------------------

    def pre(self, source: Source) -> None:
        """Resolve which recipients are in scope, and each candidate's party."""
        archive = self._open(source)
        links = self._read_spac_links(archive)
        candidates, filer_ids = self._read_legislative_filers(archive, set(links))
        parties = self._read_parties(archive, candidates)
        for filer_id, candidate in list(candidates.items()):
            party = parties.get(filer_id)
            if party:
                candidates[filer_id] = Candidate(
                    candidate.id, candidate.name, party, candidate.house, candidate.district
                )
        recipients: dict[str, Candidate] = {}
        for spac_id, spac_links in links.items():
            if spac_id not in filer_ids:
                continue  # a recipient absent from filers.csv is out of scope
            ranked = sorted(
                (LINK_POSITIONS.index(position), candidate_id)
                for position, candidate_id in spac_links
                if candidate_id in candidates
            )
            if ranked:
                recipients[spac_id] = candidates[ranked[0][1]]
        recipients.update(candidates)  # a legislative filer is its own candidate
        self._recipients = recipients
        self._loaded = True

    def _read_spac_links(self, archive: Archive) -> dict[str, list[tuple[str, str]]]:
        """Committee id -> [(position, candidate id)] for SUPPORT/ASSIST links."""
        reader, header = self._reader(archive, SPACS, "replace")
        cols = _bind(header, SPAC_COLUMNS, self._where(SPACS))
        i_spac, i_pos, i_cand = (cols[c] for c in SPAC_COLUMNS)
        width = max(i_spac, i_pos, i_cand) + 1
        links: dict[str, list[tuple[str, str]]] = {}
        for row in reader:
            if len(row) < width:
                row += [""] * (width - len(row))
            position = row[i_pos].strip().upper()
            if position in LINK_POSITIONS:
                links.setdefault(row[i_spac].strip(), []).append((position, row[i_cand].strip()))
        return links

    def _read_legislative_filers(
        self, archive: Archive, wanted: set[str]
    ) -> tuple[dict[str, Candidate], set[str]]:
        """Legislative candidates by filer id, and which of `wanted` ids exist in filers.csv."""
        reader, header = self._reader(archive, FILERS, "replace")
        cols = _bind(header, FILER_COLUMNS, self._where(FILERS))
        i_id, _i_type, i_name, i_office, i_district = (cols[c] for c in FILER_COLUMNS)
        width = len(header)
        candidates: dict[str, Candidate] = {}
        present: set[str] = set()
        for row in reader:
            if not row:
                continue
            if len(row) < width:  # TEC drops trailing empty columns on some rows: pad
                row += [""] * (width - len(row))
            filer_id = row[i_id].strip()
            if filer_id in wanted:
                present.add(filer_id)
            house = LEGISLATIVE_OFFICES.get(row[i_office].strip().upper())
            if house is not None and filer_id:
                candidates[filer_id] = Candidate(
                    id=filer_id,
                    name=row[i_name].strip() or None,
                    party=None,
                    house=house,
                    district=normalize_district(row[i_district]),
                )
        return candidates, present

    def _read_parties(self, archive: Archive, candidates: dict[str, Candidate]) -> dict[str, str]:
        """Party of each candidate from their most recently received, non-superseded cover."""
        reader, header = self._reader(archive, COVER, "replace")
        cols = _bind(header, COVER_COLUMNS, self._where(COVER))
        i_filer, i_received, i_party, i_info = (
            cols["filerIdent"],
            cols["receivedDt"],
            cols["politicalPartyCd"],
            cols["infoOnlyFlag"],
        )
        width = max(i_filer, i_received, i_party, i_info) + 1
        latest: dict[str, tuple[str, str]] = {}
        for row in reader:
            if len(row) < width:
                continue
            filer_id = row[i_filer].strip()
            if filer_id not in candidates or "Y" in row[i_info]:  # superseded: not the latest word
                continue
            party = row[i_party].strip()
            received = row[i_received].strip()
            if party and (filer_id not in latest or received >= latest[filer_id][0]):
                latest[filer_id] = (received, party)
        return {filer_id: party for filer_id, (_, party) in latest.items()}

    def post(self) -> None:
        self._recipients = {}
        self._loaded = False
        if self._archive is not None:
            self._archive.close()
            self._archive = None

    # -- documents ----------------------------------------------------------------------------

    def produce(self, source: Source) -> Iterator[Document | Reject]:
        archive = self._open(source)
        if not self._loaded:
            self.pre(source)
        yield from self._reports(archive)
        seen = SeenIds()
        for member in contribs_members(archive.members()):
            yield from self._contributions(archive, member, seen)

    def _reports(self, archive: Archive) -> Iterator[ReportDoc | Reject]:
        where = self._where(COVER)
        reader, header = self._reader(archive, COVER, ERRORS)
        cols = _bind(header, COVER_COLUMNS, where)
        ncols = len(header)
        type_columns = [cols[name] for n in range(1, 11) if (name := f"reportTypeCd{n}") in cols]
        recipients = self._recipients
        parse_date = self._parse_date
        seen = SeenIds(initial_bits=10)
        skipped = 0
        end_line = 1
        try:
            for row in reader:
                line = end_line + 1
                end_line = reader.line_num
                if not row:
                    continue
                if len(row) != ncols:
                    yield self._shape_reject(where, line, len(row), ncols)
                    continue
                candidate = recipients.get(row[cols["filerIdent"]].strip())
                if candidate is None:
                    skipped += 1
                    continue
                report_id = row[cols["reportInfoIdent"]].strip()
                if "Y" in row[cols["infoOnlyFlag"]]:
                    yield Reject(SUPERSEDED, where, line, f"report {report_id} infoOnlyFlag=Y")
                    continue
                if count_surrogates("".join(row)):  # cover is small: scan every kept row
                    yield Reject(UNDECODABLE, where, line, f"report {report_id}: not UTF-8")
                    continue
                if not report_id:
                    yield Reject(MISSING_ID, where, line, "reportInfoIdent is empty")
                    continue
                if not seen.add(numeric_key(report_id)):
                    yield Reject(DUPLICATE_ID, where, line, f"tx-{report_id}")
                    continue
                types = [row[i].strip() for i in type_columns if row[i].strip()]
                yield ReportDoc(
                    doc_id=f"tx-{report_id}",
                    state="tx",
                    report_id=report_id,
                    type=types[0] if types else None,
                    period_start=parse_date(row[cols["periodStartDt"]]),
                    period_end=parse_date(row[cols["periodEndDt"]]),
                    received_date=parse_date(row[cols["receivedDt"]]),
                    contributions=parse_amount(row[cols["totalContribAmount"]]),
                    expenditures=parse_amount(row[cols["totalExpendAmount"]]),
                    ending_balance=parse_amount(row[cols["contribsMaintainedAmount"]]),
                    filer_id=row[cols["filerIdent"]].strip(),
                    filer_type=row[cols["filerTypeCd"]].strip(),
                    filer_name=row[cols["filerName"]].strip(),
                    candidate=candidate,
                    source_file=where,
                    source_line=line,
                    source_extra={
                        "form_type": row[cols["formTypeCd"]].strip(),
                        "report_types": " ".join(types),
                        "party": row[cols["politicalPartyCd"]].strip(),
                    },
                )
        except csv.Error as exc:
            yield Reject(WRONG_COLUMN_COUNT, where, reader.line_num, f"unparsable CSV: {exc}")
        finally:
            self.stats.skipped[NOT_LEGISLATIVE] += skipped

    @staticmethod
    def _shape_reject(where: str, line: int, got: int, expected: int) -> Reject:
        reason = SHORT_ROW if got < expected else WRONG_COLUMN_COUNT
        return Reject(reason, where, line, f"{got} columns, header has {expected}")

    def _contributions(
        self, archive: Archive, member: str, seen: SeenIds
    ) -> Iterator[ContributionDoc | Reject]:
        """One shard: the hot path, so it is written for speed.

        Positions are bound once per member; a dropped row costs two lookups; codes are only
        trimmed when they do not match as they are; undecodable bytes are only looked for while
        the decoder reports some not yet found (see `decoding.py`).
        """
        where = self._where(member)
        escaped = ESCAPED
        found = escaped[0]  # before opening: the first chunk is decoded with the header
        reader, header = self._reader(archive, member, ERRORS)
        cols = _bind(header, CONTRIB_COLUMNS, where)
        ncols = len(header)
        (
            i_form,
            i_sched,
            i_report,
            i_received,
            i_info,
            i_filer,
            i_ftype,
            i_fname,
            i_cid,
            i_date,
            i_amount,
            i_descr,
            i_ptype,
            i_org,
            i_last,
            i_suffix,
            i_first,
            i_city,
            i_state,
            i_zip,
            i_employer,
            i_occupation,
            i_job,
        ) = (cols[name] for name in CONTRIB_COLUMNS)
        recipients_get = self._recipients.get
        parse_date = self._parse_date
        seen_add = seen.add
        in_kind = NON_MONETARY_SCHEDULES
        monetary = MONETARY_SCHEDULES
        not_legislative = non_monetary = 0
        end_line = 1
        try:
            while True:  # resumes the same reader after a csv.Error on one row
                try:
                    for row in reader:
                        line = end_line + 1
                        end_line = reader.line_num
                        undecodable = 0
                        if escaped[0] != found:
                            undecodable = count_surrogates("".join(row))
                            found += undecodable
                        if len(row) != ncols:
                            if row:
                                yield self._shape_reject(where, line, len(row), ncols)
                            continue
                        filer_id = row[i_filer]
                        candidate = recipients_get(filer_id)
                        if candidate is None:
                            filer_id = filer_id.strip()
                            candidate = recipients_get(filer_id)
                            if candidate is None:
                                not_legislative += 1
                                continue
                        sched = row[i_sched]
                        if sched not in monetary:
                            if sched in in_kind or sched.strip() in in_kind:
                                non_monetary += 1
                                continue
                            sched = sched.strip()
                        cid = row[i_cid].strip()
                        if "Y" in row[i_info]:
                            yield Reject(SUPERSEDED, where, line, f"tx-{cid} infoOnlyFlag=Y")
                            continue
                        if undecodable:
                            yield Reject(UNDECODABLE, where, line, f"tx-{cid}: not UTF-8")
                            continue
                        raw_date = row[i_date]
                        if not raw_date or raw_date.isspace():
                            yield Reject(MISSING_DATE, where, line, f"tx-{cid}: no contributionDt")
                            continue
                        when = parse_date(raw_date)
                        if when is None:
                            yield Reject(BAD_DATE, where, line, f"tx-{cid}: {raw_date!r}")
                            continue
                        raw_amount = row[i_amount]
                        try:
                            amount = float(raw_amount)
                        except ValueError:
                            amount = None
                        if amount is None or amount - amount != 0.0:
                            yield Reject(BAD_AMOUNT, where, line, f"tx-{cid}: {raw_amount!r}")
                            continue
                        if not cid:
                            yield Reject(MISSING_ID, where, line, "contributionInfoId is empty")
                            continue
                        if not seen_add(
                            int(cid)
                            if cid.isdigit() and cid.isascii() and len(cid) < 19
                            else hashed_key(cid)
                        ):
                            yield Reject(DUPLICATE_ID, where, line, f"tx-{cid}")
                            continue
                        ptype = row[i_ptype]
                        if ptype != "INDIVIDUAL" and ptype != "ENTITY":
                            ptype = ptype.strip().upper()
                        first = row[i_first]
                        last = row[i_last]
                        if ptype == "INDIVIDUAL" or (ptype != "ENTITY" and (first or last)):
                            ctype = "individual"
                            cname = f"{first} {last}" if first and last else first or last
                            suffix = row[i_suffix]
                            if suffix:
                                cname = f"{cname} {suffix}"
                        else:
                            cname = row[i_org]
                            ctype = "entity" if ptype == "ENTITY" or cname else None
                        memo = row[i_descr]
                        if "\\n" in memo:  # TEC writes in-value line breaks as the two chars \n
                            memo = memo.replace("\\n", "\n")
                        yield ContributionDoc(
                            "tx-" + cid,
                            "tx",
                            cid,
                            when,
                            amount,
                            memo,
                            filer_id,
                            row[i_ftype],
                            row[i_fname],
                            candidate,
                            ctype,
                            cname,
                            row[i_city],
                            row[i_state],
                            row[i_zip],
                            row[i_employer],
                            row[i_occupation],
                            row[i_job],
                            where,
                            line,
                            {
                                "schedule": sched,
                                "form_type": row[i_form],
                                "report_id": row[i_report],
                                "received_date": parse_date(row[i_received]),
                            },
                        )
                    break
                except csv.Error as exc:
                    yield Reject(
                        WRONG_COLUMN_COUNT, where, reader.line_num, f"unparsable CSV row: {exc}"
                    )
                    end_line = reader.line_num
        finally:
            self.stats.skipped[NOT_LEGISLATIVE] += not_legislative
            self.stats.skipped[NON_MONETARY] += non_monetary
