"""Scalar parsing and the compact seen-ids set."""

from __future__ import annotations

import random

import pytest

from precinct.finance.dedupe import KeyTable, SeenIds, hashed_key, numeric_key
from precinct.finance.values import (
    join_name,
    mmddyyyy_parser,
    normalize_district,
    parse_amount,
    yyyymmdd_parser,
)


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("20240131", "2024-01-31"),
        (" 20240229 ", "2024-02-29"),
        ("20230229", None),
        ("20231301", None),
        ("2024013", None),
        ("02030101", None),
        ("2024-01-31", None),
        ("\uff12\uff10\uff12\uff14\uff10\uff11\uff13\uff11", None),  # full-width digits
    ],
)
def test_yyyymmdd(raw: str, iso: str | None) -> None:
    parse = yyyymmdd_parser()
    assert parse(raw) == iso
    assert parse(raw) == iso  # cached answer is the same


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("01/31/2024", "2024-01-31"),
        ("1/5/2024", "2024-01-05"),
        ("02/30/2024", None),
        ("13/01/2024", None),
        ("01/31/24", None),
        ("2024-01-31", None),
        ("", None),
    ],
)
def test_mmddyyyy(raw: str, iso: str | None) -> None:
    assert mmddyyyy_parser()(raw) == iso


def test_amounts() -> None:
    assert parse_amount("-25.50") == -25.5
    assert parse_amount(" 100.00 ") == 100.0
    for bad in ("", "12,50", "$5", "nan", "inf", "abc"):
        assert parse_amount(bad) is None


def test_districts_and_names() -> None:
    assert normalize_district("025") == "25"
    assert normalize_district("012th District") == "12"
    assert normalize_district("At Large") == "At Large"
    assert normalize_district("") is None
    assert join_name(" Ana ", None, "", "Peña") == "Ana Peña"
    assert join_name("", None) is None


def test_seen_ids_matches_a_set_through_growth() -> None:
    rng = random.Random(7)
    seen = SeenIds(initial_bits=4)
    reference: set[int] = set()
    for _ in range(20_000):
        key = rng.choice((0, rng.randrange(1, 5000), rng.getrandbits(64)))
        assert seen.add(key) is (key not in reference)
        reference.add(key)
    assert len(seen) == len(reference)
    assert all(key in seen for key in reference)
    assert 5001 not in seen
    assert seen.nbytes <= 8 * 4 * len(reference)  # at most 32 bytes per id


def test_dense_ids_cost_bits_not_bytes() -> None:
    seen = SeenIds()
    for key in range(100_000_000, 100_000_000 + 3_000_000, 3):  # a third of a dense range
        assert seen.add(key)
    assert not seen.add(100_000_003) and seen.add(100_000_004)
    assert seen.uses_bitmap
    assert len(seen) == 1_000_001
    assert seen.nbytes < 500_000 + KeyTable().nbytes  # under half a byte per id


def test_sparse_small_ids_fall_back_to_the_table() -> None:
    seen = SeenIds()
    keys = [n * 1_000_003 for n in range(1, 400)]  # one key per 65,536-id page
    for key in keys:
        assert seen.add(key)
    assert not seen.uses_bitmap
    assert all(key in seen for key in keys)
    assert not any(seen.add(key) for key in keys)
    assert len(seen) == len(keys)
    assert seen.nbytes < 100_000  # the table, not 400 pages of 8 KiB


def test_keys_exact_for_numbers_hashed_otherwise() -> None:
    assert numeric_key("00012345") == 12345
    assert numeric_key("12345678901") == 12345678901
    assert numeric_key("abc") == hashed_key("abc") >= 1 << 63
    assert numeric_key("1" * 25) >= 1 << 63  # too long to be exact
    assert hashed_key("a") != hashed_key("b")
