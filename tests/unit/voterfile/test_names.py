"""Name recovery and the dedupe rule (the Python reference of the SQL)."""

from __future__ import annotations

import pytest

from precinct.voterfile.names import best_match, extra_match, recover_name


@pytest.mark.parametrize(("first", "last", "email", "expected"), [
    ("Robert and Mary", "Smith", None, ("Robert", "Smith", "couple")),
    ("Robert & Mary", "Smith", "", ("Robert", "Smith", "couple")),
    ("Robert AND Mary", "Smith", None, ("Robert", "Smith", "couple")),
    ("Ashley Hayby", None, None, ("Ashley", "Hayby", "full_name")),
    ("Ashley Van Dyke", "", None, ("Ashley", "Van Dyke", "full_name")),
    (None, None, "mary.smith@gmail.com", ("Mary", "Smith", "email")),
    ("", " ", "Mary.Smith@Example.org", ("Mary", "Smith", "email")),
    (None, None, "msmith@gmail.com", (None, None, None)),
    (None, None, "mary.smith2@gmail.com", (None, None, None)),
    ("Mary", "Smith", "other.name@x.org", ("Mary", "Smith", None)),
    ("Alexandra", "Smith", None, ("Alexandra", "Smith", None)),  # "and" inside a name
    ("Mary Ann", "Smith", None, ("Mary Ann", "Smith", None)),  # last name present: kept
])
def test_recover_name(first, last, email, expected):
    assert recover_name(first, last, email) == expected


def test_extra_match_needs_state_first_three_letters_and_last_name():
    src = {"state": "IL", "first_name": "Jonathan", "last_name": "Smith"}
    assert extra_match(src, {"state": "il", "first_name": "JONAS", "last_name": "SMITH"})
    assert not extra_match(src, {"state": "WI", "first_name": "Jonathan", "last_name": "Smith"})
    assert not extra_match(src, {"state": "IL", "first_name": "John", "last_name": "Smith"})
    assert not extra_match(src, {"state": "IL", "first_name": "Jonathan", "last_name": "Smyth"})
    assert not extra_match({**src, "state": None}, {"state": None, "first_name": "Jonathan",
                                                    "last_name": "Smith"})


def test_dedupe_prefers_extra_match_then_score_and_applies_the_cutoff():
    a = {"person_id": 1, "score": 0.9, "extra_match": False}
    b = {"person_id": 2, "score": 0.5, "extra_match": True}
    c = {"person_id": 3, "score": 0.9, "extra_match": False}
    assert best_match([a, b, c], cutoff=0.4) is b
    assert best_match([c, a], cutoff=0.4) is a  # tie on score: lower person_id
    low = {"person_id": 4, "score": 0.3, "extra_match": False}
    assert best_match([low], cutoff=0.4) is None
    low_extra = {"person_id": 5, "score": 0.3, "extra_match": True}
    assert best_match([low, low_extra], cutoff=0.4) is low_extra
    assert best_match([], cutoff=0.4) is None
