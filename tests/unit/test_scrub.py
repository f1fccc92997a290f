from __future__ import annotations

import pytest

from precinct.scrub import first_line, scrub


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("GET https://app:s3cr3t-value@api.example.org/v4 failed", "s3cr3t-value"),
        ("postgresql://tracker:pg-pass-123@db:5432/tracker refused", "pg-pass-123"),
        ("api_key=abcd1234efgh rejected", "abcd1234efgh"),
        ('{"password": "correct horse"}', "correct"),
        ("Authorization: Bearer ya29.a0AfH6SMBxyz12345", "ya29.a0AfH6SMBxyz12345"),
        ("Basic YXBwOmtleXwx returned 401", "YXBwOmtleXwx"),
        ("token: tok_live_998877", "tok_live_998877"),
    ],
)
def test_secret_shaped_values_are_masked(raw, secret):
    cleaned = scrub(raw)
    assert secret not in cleaned
    assert "***" in cleaned


def test_known_secrets_are_masked_anywhere():
    assert scrub("the key abc-123-xyz leaked", ["abc-123-xyz"]) == "the key *** leaked"


def test_ordinary_text_is_left_alone():
    text = "Table voterfile.people has no column first_name (row 12)"
    assert scrub(text) == text


def test_first_line_skips_blank_lines_and_truncates():
    assert first_line("\n\n  boom: bad row 7  \nsecond") == "boom: bad row 7"
    assert len(first_line("x" * 900, limit=100)) == 100
