"""Parsing of the scalar values every state has: dates, amounts, districts, person names.

Dates are parsed through a small cache because a bulk file holds millions of rows but only a few
thousand distinct dates: a dict hit is several times cheaper than building a `datetime.date`,
and this sits on the per-row hot path. Validation still goes through `datetime.date` once per
distinct string, so 20230231 is a bad date, not a string that merely looks like one.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

# Years outside this range are typing errors in the filings (0203, 2302), not real dates.
MIN_YEAR = 1900
MAX_YEAR = 2100
_CACHE_LIMIT = 100_000  # bounded: junk values must not make the cache grow with the file

_LEADING_DIGITS = re.compile(r"\s*0*(\d+)")


def _iso(year: str, month: str, day: str) -> str | None:
    if not (year.isdigit() and month.isdigit() and day.isdigit() and year.isascii()):
        return None
    y, m, d = int(year), int(month), int(day)
    if not MIN_YEAR <= y <= MAX_YEAR:
        return None
    try:
        return date(y, m, d).isoformat()
    except ValueError:
        return None


def _yyyymmdd(text: str) -> str | None:
    text = text.strip()
    if len(text) != 8:
        return None
    return _iso(text[:4], text[4:6], text[6:])


def _mmddyyyy(text: str) -> str | None:
    parts = text.strip().split("/")
    if len(parts) != 3 or len(parts[2]) != 4 or len(parts[0]) > 2 or len(parts[1]) > 2:
        return None
    return _iso(parts[2], parts[0], parts[1])


def cached_date_parser(parse: Callable[[str], str | None]) -> Callable[[str], str | None]:
    """Wrap `parse` (raw text -> ISO date or None) in a bounded memo; returns the lookup."""
    cache: dict[str, str | None] = {}
    sentinel = object()

    def lookup(text: str) -> str | None:
        hit = cache.get(text, sentinel)
        if hit is not sentinel:
            return hit  # type: ignore[return-value]
        value = parse(text)
        if len(cache) < _CACHE_LIMIT:
            cache[text] = value
        return value

    return lookup


def yyyymmdd_parser() -> Callable[[str], str | None]:
    """Parser for TEC dates (`20240131` -> `2024-01-31`; invalid -> None)."""
    return cached_date_parser(_yyyymmdd)


def mmddyyyy_parser() -> Callable[[str], str | None]:
    """Parser for Michigan dates (`01/31/2024` or `1/31/2024` -> `2024-01-31`; invalid -> None)."""
    return cached_date_parser(_mmddyyyy)


def parse_amount(text: str) -> float | None:
    """A signed decimal amount; None when it is not a finite number."""
    try:
        value = float(text)
    except ValueError:
        return None
    if value - value != 0.0:  # inf and nan
        return None
    return value


def normalize_district(text: str | None) -> str | None:
    """Leading district number without zeros (`025` and `025th District` -> `25`), else the text.

    Texas writes bare numbers, Michigan a phrase starting with the number: normalising lets one
    term query find a district in either state.
    """
    if not text:
        return None
    match = _LEADING_DIGITS.match(text)
    if match:
        return str(int(match.group(1)))
    return text.strip() or None


def join_name(*parts: str | None) -> str | None:
    """Non-empty parts joined by single spaces; None when nothing is left."""
    name = " ".join(part.strip() for part in parts if part and part.strip())
    return name or None
