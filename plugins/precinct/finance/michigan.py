"""Michigan Bureau of Elections CFR bulk files to Precinct documents.

Inputs, directly under the source:
- `YEAR_mi_cfr_contributions_NN.zip` parts, each holding one `.txt`. Parts are cut by size, so
  they are read per year in numeric order (`_00`, `_01`, ...), with the header that only `_00`
  carries. A gap in the numbering is a missing file.
- `micfrcansummary.txt.zip`: one row per candidate-committee statement. Committees whose Office
  Sought is exactly `Representative in State Legislature` (house "lower") or `State Senator`
  ("upper") are in scope, with district and party from their latest statement (highest
  Document Sequence#). Each in-scope summary row is also a report document (`mi-{doc_seq_no}`).

Parsing: Latin-1, tab-delimited, no quoting at all (`"` is an ordinary character, so a stray quote
never merges rows: lines are split on tabs, not fed to `csv`). A data row must have 25 cells, or 26
with an empty last one (a trailing tab); fewer is a "short row", more (a tab typed inside a value)
is a "wrong column count". A line break typed inside a value splits the row into two short rows,
both rejected. Every cell is trimmed, and the CR of CRLF endings dropped. Contributions of every
`contribtype` are kept (the layout documents no in-kind marker); the type is kept in
`source.contribution_type` so searchers can filter.

Document id: `mi-{doc_seq_no}_{contribution_id}`, plus `_{cont_detail_id}` when that is non-zero
(Rulings for Precinct). KNOWN LIMITATION: an amended statement is filed under a new
`doc_seq_no` and repeats the original's `contribution_id`s, so both the original and the amended
copy of an item are indexed under different ids (amounts may be counted twice for amended
statements). The legacy layout has no link from an amendment to the statement it replaces; when
the summary's statement types make that link reliable, drop the superseded statement's rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import ClassVar

from precinct.finance.archive import Archive
from precinct.finance.base import StateIngestor
from precinct.finance.dedupe import SeenIds, hashed_key
from precinct.finance.errors import LayoutError, MissingSourceFile
from precinct.finance.models import (
    BAD_AMOUNT,
    BAD_DATE,
    DUPLICATE_ID,
    LOWER,
    MISSING_DATE,
    MISSING_ID,
    NOT_LEGISLATIVE,
    SHORT_ROW,
    UPPER,
    WRONG_COLUMN_COUNT,
    Candidate,
    ContributionDoc,
    Document,
    Reject,
    ReportDoc,
)
from precinct.finance.source import Source
from precinct.finance.values import (
    join_name,
    mmddyyyy_parser,
    normalize_district,
    parse_amount,
)

SUMMARY = "micfrcansummary.txt.zip"
PART = re.compile(r"(\d{4})_mi_cfr_contributions_(\d+)\.zip")
ENCODING = "latin-1"

LEGISLATIVE_OFFICES = {"Representative in State Legislature": LOWER, "State Senator": UPPER}

CONTRIB_COLUMNS = (
    "doc_seq_no",
    "page_no",
    "contribution_id",
    "cont_detail_id",
    "doc_stmnt_year",
    "doc_type_desc",
    "com_legal_name",
    "common_name",
    "cfr_com_id",
    "com_type",
    "can_first_name",
    "can_last_name",
    "contribtype",
    "f_name",
    "l_name_or_org",
    "address",
    "city",
    "state",
    "zip",
    "occupation",
    "employer",
    "received_date",
    "amount",
    "aggregate",
    "extra_desc",
)
DATA_CELLS = len(CONTRIB_COLUMNS)  # 25; a 26th (empty) cell is a trailing tab

# Summary columns (0-based). Labels bind the verified ones when the header has them; otherwise,
# and for the unlabelled ones, the positions two independent importers use (reference 2.3).
SUMMARY_COLUMNS = {
    "committee_id": ("Committee ID#", 0),
    "doc_seq_no": ("Document Sequence#", 1),
    "committee_type": ("Committee Type", 2),
    "committee_name": ("Committee Name", 3),
    "first_name": ("Candidate First Name", 4),
    "middle_name": ("Candidate Middle Name", 5),
    "last_name": ("Candidate Last Name", 6),
    "party": ("Political Party Affiliation", 7),
    "office": ("Office Sought", 8),
    "district": ("District Sought", 9),
    "statement_year": ("Statement Year", 10),
    "statement_type": (None, 11),
    "received_date": (None, 12),
    "period_start": (None, 13),
    "period_end": (None, 14),
    "contributions": (None, 15),
    "expenditures": (None, 21),
    "ending_balance": (None, 28),
}
SUMMARY_MIN_CELLS = 10  # positions 1-10 are the verified ones; a row needs them all

# Michigan ids pack exactly into a 63-bit dedupe key when they fit these widths.
_SEQ_BITS, _CID_BITS, _DETAIL_BITS = 32, 20, 10


def _label(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _cells(line: str) -> list[str]:
    """Tab cells of a summary line, trimmed of blanks and the quotes some exports add."""
    return [cell.strip().strip('"').strip() for cell in line.rstrip("\r\n").split("\t")]


def contribution_parts(names: list[str]) -> dict[str, list[tuple[int, str]]]:
    """Year -> [(part number, file name)] in numeric order."""
    years: dict[str, list[tuple[int, str]]] = {}
    for name in names:
        match = PART.fullmatch(name)
        if match:
            years.setdefault(match.group(1), []).append((int(match.group(2)), name))
    return {year: sorted(parts) for year, parts in sorted(years.items())}


def _dedupe_key(seq: str, cid: str, detail_text: str, doc_id: str) -> int:
    """Exact packed key when all three parts are small integers, else a hash of the id."""
    digits = seq + cid + (detail_text or "0")
    if (
        seq.isdigit()
        and cid.isdigit()
        and (not detail_text or detail_text.isdigit())
        and (digits.isascii())
    ):
        s, c, detail = int(seq), int(cid), int(detail_text or 0)
        if s < 1 << _SEQ_BITS and c < 1 << _CID_BITS and detail < 1 << _DETAIL_BITS:
            return (s << (_CID_BITS + _DETAIL_BITS)) | (c << _DETAIL_BITS) | detail
    return hashed_key(doc_id)


class MichiganIngestor(StateIngestor):
    """Michigan Bureau of Elections campaign-finance (CFR) bulk export, legacy layout."""

    state: ClassVar[str] = "mi"
    name: ClassVar[str] = "Michigan Bureau of Elections"

    def __init__(self) -> None:
        super().__init__()
        self._committees: dict[str, Candidate] = {}
        self._loaded = False
        # Summary column positions; rebound from the header labels each time the file is read.
        self._summary_index = {key: default for key, (_, default) in SUMMARY_COLUMNS.items()}
        self._parse_date = mmddyyyy_parser()

    # -- inputs -------------------------------------------------------------------------------

    def required_files(self, source: Source) -> list[str]:
        """The summary and every part from `_00` up to the highest one present, per year."""
        required = [SUMMARY]
        years = contribution_parts(source.list())
        if not years:
            return [*required, "*_mi_cfr_contributions_00.zip"]
        for year, parts in years.items():
            # Keep the publisher's zero padding ("_01") when naming a missing part.
            width = max(len(name) - len(f"{year}_mi_cfr_contributions_.zip") for _, name in parts)
            for number in range(parts[-1][0] + 1):
                required.append(f"{year}_mi_cfr_contributions_{number:0{width}d}.zip")
        return required

    def check_contents(self, source: Source) -> None:
        """Each zip must open and hold its text file."""
        for name in self.required_files(source):
            with Archive(source, name) as archive:
                self._text_member(archive)

    @staticmethod
    def _text_member(archive: Archive) -> str:
        members = archive.members()
        texts = [m for m in members if m.lower().endswith(".txt")] or members
        if not texts:
            stem = archive.name.removesuffix(".zip")
            raise MissingSourceFile(
                f"{archive.name}/{stem}", archive.where, "archive holds no text file"
            )
        return texts[0]

    def _summary_rows(self, archive: Archive) -> Iterator[tuple[int, list[str] | None]]:
        """(line number, cells) of data rows; cells None for a row too short to use."""
        member = self._text_member(archive)
        with archive.open_text(member, ENCODING, newline="\n") as text:
            header = _cells(next(text, ""))
            positions = {_label(label): i for i, label in enumerate(header) if label}
            self._summary_index = {
                key: positions.get(_label(label), default) if label else default
                for key, (label, default) in SUMMARY_COLUMNS.items()
            }
            for number, line in enumerate(text, start=2):
                if not line.strip():
                    continue
                cells = _cells(line)
                if len(cells) < SUMMARY_MIN_CELLS:
                    if number == 2:
                        continue  # line 2 is the export's run date, not a statement
                    yield number, None
                    continue
                yield number, cells

    def _summary_cell(self, cells: list[str], key: str) -> str:
        """A summary cell by meaning; "" when the row stops before it (positions 11+)."""
        index = self._summary_index[key]
        return cells[index] if index < len(cells) else ""

    # -- lookups ------------------------------------------------------------------------------

    def pre(self, source: Source) -> None:
        """Legislative candidate committees from the summary (latest statement wins)."""
        latest: dict[str, tuple[int, Candidate]] = {}
        with Archive(source, SUMMARY) as archive:
            for _, cells in self._summary_rows(archive):
                if cells is None:
                    continue
                cell = self._summary_cell
                house = LEGISLATIVE_OFFICES.get(cell(cells, "office"))
                committee_id = cell(cells, "committee_id")
                if house is None or not committee_id:
                    continue
                seq = cell(cells, "doc_seq_no")
                order = int(seq) if seq.isdigit() else -1
                if committee_id in latest and latest[committee_id][0] > order:
                    continue
                latest[committee_id] = (
                    order,
                    Candidate(
                        id=committee_id,
                        name=join_name(
                            cell(cells, "first_name"),
                            cell(cells, "middle_name"),
                            cell(cells, "last_name"),
                        ),
                        party=cell(cells, "party") or None,
                        house=house,
                        district=normalize_district(cell(cells, "district")),
                    ),
                )
        self._committees = {committee_id: c for committee_id, (_, c) in latest.items()}
        self._loaded = True

    def post(self) -> None:
        self._committees = {}
        self._loaded = False

    # -- documents ----------------------------------------------------------------------------

    def produce(self, source: Source) -> Iterator[Document | Reject]:
        if not self._loaded:
            self.pre(source)
        with Archive(source, SUMMARY) as archive:
            yield from self._reports(archive)
        seen = SeenIds()
        for year, parts in contribution_parts(source.list()).items():
            columns: dict[str, int] | None = None
            for number, name in parts:
                with Archive(source, name) as archive:
                    member = self._text_member(archive)
                    if columns is None or number == 0:
                        columns = self._header(archive, member)
                    yield from self._contributions(
                        archive, member, seen, columns, year, has_header=number == 0
                    )

    @staticmethod
    def _header(archive: Archive, member: str) -> dict[str, int]:
        """Column positions from a `_00` part's header (the 26th, `RUNTIME...`, is ignored)."""
        with archive.open_text(member, ENCODING, newline="\n") as text:
            header = [cell.strip() for cell in next(text, "").rstrip("\r\n").split("\t")]
        positions = {name.lower(): i for i, name in enumerate(header)}
        missing = [name for name in CONTRIB_COLUMNS if name not in positions]
        if missing:
            raise LayoutError(f"{archive.name}/{member}", missing)
        return {name: positions[name] for name in CONTRIB_COLUMNS}

    def _reports(self, archive: Archive) -> Iterator[ReportDoc | Reject]:
        where = f"{SUMMARY}/{self._text_member(archive)}"
        committees = self._committees
        parse_date = self._parse_date
        seen = SeenIds(initial_bits=10)
        skipped = 0
        cell = self._summary_cell
        try:
            for line, cells in self._summary_rows(archive):
                if cells is None:
                    yield Reject(SHORT_ROW, where, line, f"fewer than {SUMMARY_MIN_CELLS} cells")
                    continue
                committee_id = cell(cells, "committee_id")
                candidate = committees.get(committee_id)
                if candidate is None or cell(cells, "office") not in LEGISLATIVE_OFFICES:
                    skipped += 1
                    continue
                seq = cell(cells, "doc_seq_no")
                if not seq:
                    yield Reject(MISSING_ID, where, line, "Document Sequence# is empty")
                    continue
                if not seen.add(int(seq) if seq.isdigit() and len(seq) < 19 else hashed_key(seq)):
                    yield Reject(DUPLICATE_ID, where, line, f"mi-{seq}")
                    continue
                yield ReportDoc(
                    doc_id=f"mi-{seq}",
                    state="mi",
                    report_id=seq,
                    type=cell(cells, "statement_type"),
                    period_start=parse_date(cell(cells, "period_start")),
                    period_end=parse_date(cell(cells, "period_end")),
                    received_date=parse_date(cell(cells, "received_date")),
                    contributions=parse_amount(cell(cells, "contributions")),
                    expenditures=parse_amount(cell(cells, "expenditures")),
                    ending_balance=parse_amount(cell(cells, "ending_balance")),
                    filer_id=committee_id,
                    filer_type=cell(cells, "committee_type"),
                    filer_name=cell(cells, "committee_name"),
                    candidate=candidate,
                    source_file=where,
                    source_line=line,
                    source_extra={
                        "statement_year": cell(cells, "statement_year"),
                        "party": cell(cells, "party"),
                        "district": cell(cells, "district"),
                    },
                )
        finally:
            self.stats.skipped[NOT_LEGISLATIVE] += skipped

    def _contributions(
        self,
        archive: Archive,
        member: str,
        seen: SeenIds,
        columns: dict[str, int],
        year: str,
        *,
        has_header: bool,
    ) -> Iterator[ContributionDoc | Reject]:
        """One part; only `_00` (`has_header`) starts with the header line."""
        where = f"{archive.name}/{member}"
        committees_get = self._committees.get
        parse_date = self._parse_date
        not_legislative = 0
        with archive.open_text(member, ENCODING, newline="\n") as text:
            line_no = 0
            if has_header:
                next(text, "")
                line_no = 1
            (
                i_seq,
                i_page,
                i_cid,
                i_detail,
                i_year,
                i_doctype,
                i_legal,
                _i_common,
                i_com,
                i_comtype,
                _i_canf,
                _i_canl,
                i_ctype,
                i_first,
                i_last,
                _i_addr,
                i_city,
                i_state,
                i_zip,
                i_occupation,
                i_employer,
                i_date,
                i_amount,
                i_aggregate,
                i_extra,
            ) = (columns[name] for name in CONTRIB_COLUMNS)
            try:
                for line in text:
                    line_no += 1
                    cells = line.rstrip("\r\n").split("\t")
                    count = len(cells)
                    if count != DATA_CELLS:
                        if count == 1 and not cells[0].strip():
                            continue  # blank line
                        if count < DATA_CELLS:
                            yield Reject(SHORT_ROW, where, line_no, f"{count} cells, need 25")
                            continue
                        if count > DATA_CELLS + 1 or cells[DATA_CELLS].strip():
                            yield Reject(
                                WRONG_COLUMN_COUNT, where, line_no, f"{count} cells, need 25"
                            )
                            continue
                    committee_id = cells[i_com].strip()
                    candidate = committees_get(committee_id)
                    if candidate is None:
                        not_legislative += 1
                        continue
                    seq = cells[i_seq].strip()
                    cid = cells[i_cid].strip()
                    detail_text = cells[i_detail].strip()
                    item = f"{seq}_{cid}"
                    if detail_text and not (detail_text.isdigit() and int(detail_text) == 0):
                        item = f"{item}_{detail_text}"
                    doc_id = "mi-" + item
                    raw_date = cells[i_date].strip()
                    if not raw_date:
                        yield Reject(MISSING_DATE, where, line_no, f"{doc_id}: no received_date")
                        continue
                    when = parse_date(raw_date)
                    if when is None:
                        yield Reject(BAD_DATE, where, line_no, f"{doc_id}: {raw_date!r}")
                        continue
                    raw_amount = cells[i_amount].strip()
                    amount = parse_amount(raw_amount)
                    if amount is None:
                        yield Reject(BAD_AMOUNT, where, line_no, f"{doc_id}: {raw_amount!r}")
                        continue
                    if not seq or not cid:
                        yield Reject(MISSING_ID, where, line_no, "no doc_seq_no or contribution_id")
                        continue
                    if not seen.add(_dedupe_key(seq, cid, detail_text, doc_id)):
                        yield Reject(DUPLICATE_ID, where, line_no, doc_id)
                        continue
                    first = cells[i_first].strip()
                    last = cells[i_last].strip()
                    if first:
                        ctype, cname = "individual", f"{first} {last}" if last else first
                    else:
                        ctype, cname = ("entity" if last else None), last
                    yield ContributionDoc(
                        doc_id,
                        "mi",
                        item,
                        when,
                        amount,
                        cells[i_extra].strip(),
                        committee_id,
                        cells[i_comtype].strip(),
                        cells[i_legal].strip(),
                        candidate,
                        ctype,
                        cname,
                        cells[i_city].strip(),
                        cells[i_state].strip(),
                        cells[i_zip].strip(),
                        cells[i_employer].strip(),
                        cells[i_occupation].strip(),
                        None,
                        where,
                        line_no,
                        {
                            "doc_seq_no": seq,
                            "page_no": cells[i_page].strip(),
                            "statement_year": cells[i_year].strip(),
                            "statement_type": cells[i_doctype].strip(),
                            "contribution_type": cells[i_ctype].strip(),
                            "aggregate": cells[i_aggregate].strip(),
                            "file_year": year,
                        },
                    )
            finally:
                self.stats.skipped[NOT_LEGISLATIVE] += not_legislative
