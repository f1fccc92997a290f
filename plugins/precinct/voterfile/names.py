"""Name recovery and the dedupe rule, in Python (the reference the SQL in `sql.py` mirrors).

- a couple typed in the first-name field ("Robert and Mary", "Robert & Mary"): the first person;
- the full name typed in the first-name field, last name blank ("Ashley Hayby"): split it;
- no name at all but an e-mail `first.last@...`: the name from the e-mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

COUPLE = re.compile(r" +([Aa][Nn][Dd]|&) +.*$")
EMAIL_NAME = re.compile(r"^[a-z]+[.][a-z]+@")


def _blank(value: Any) -> bool:
    return value is None or str(value).strip() == ""


def recover_name(first: str | None, last: str | None, email: str | None
                 ) -> tuple[str | None, str | None, str | None]:
    """(first, last, how) where how is None, 'couple', 'full_name' or 'email'."""
    f = None if _blank(first) else str(first).strip()
    lname = None if _blank(last) else str(last).strip()
    if f is not None and COUPLE.search(f):
        return COUPLE.sub("", f), lname, "couple"
    if f is not None and lname is None and " " in f:
        head, _, rest = f.partition(" ")
        return head, rest.strip(), "full_name"
    if f is None and lname is None and not _blank(email) and EMAIL_NAME.match(
            str(email).strip().lower()):
        local = str(email).strip().lower().split("@", 1)[0]
        a, b = local.split(".", 1)
        return a.capitalize(), b.split(".", 1)[0].capitalize(), "email"
    return f, lname, None


def extra_match(source: Mapping[str, Any], voter: Mapping[str, Any]) -> bool:
    """Same state, same first three letters of the first name, same last name."""
    def up(v: Any) -> str:
        return str(v or "").strip().upper()

    return (bool(up(source.get("state"))) and up(source.get("state")) == up(voter.get("state"))
            and bool(up(source.get("first_name")))
            and up(source.get("first_name"))[:3] == up(voter.get("first_name"))[:3]
            and bool(up(source.get("last_name")))
            and up(source.get("last_name")) == up(voter.get("last_name")))


def best_match(candidates: Iterable[Mapping[str, Any]], cutoff: float
               ) -> Mapping[str, Any] | None:
    """One best candidate ({person_id, score, extra_match}): extra match first, then score,
    then the lower person_id; kept only if score >= cutoff or it is an extra match."""
    ranked = sorted(candidates, key=lambda c: (not c["extra_match"], -float(c["score"]),
                                               c["person_id"]))
    if not ranked:
        return None
    best = ranked[0]
    return best if best["extra_match"] or float(best["score"]) >= cutoff else None
