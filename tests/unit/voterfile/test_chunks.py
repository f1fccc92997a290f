"""CASS/NCOA chunking: at most 250,000 rows a chunk."""

from __future__ import annotations

import pytest

from precinct.voterfile.chunks import chunk_numbers


@pytest.mark.parametrize(("rows", "size", "chunks"), [
    (0, 250_000, 0), (1, 250_000, 1), (250_000, 250_000, 1), (250_001, 250_000, 2),
    (1_000_000, 250_000, 4), (128, 50, 3),
])
def test_chunk_numbers(rows, size, chunks):
    assert chunk_numbers(rows, size) == list(range(chunks))


def test_chunk_size_is_capped():
    with pytest.raises(ValueError):
        chunk_numbers(10, 250_001)
    with pytest.raises(ValueError):
        chunk_numbers(10, 0)
