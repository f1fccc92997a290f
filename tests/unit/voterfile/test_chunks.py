"""CASS/NCOA chunking: at most 250,000 rows a chunk."""

from __future__ import annotations

import pytest

from precinct.voterfile.chunks import chunk_numbers, chunk_of


@pytest.mark.parametrize(("rows", "size", "chunks"), [
    (0, 250_000, 0), (1, 250_000, 1), (250_000, 250_000, 1), (250_001, 250_000, 2),
    (1_000_000, 250_000, 4), (128, 50, 3),
])
def test_chunk_numbers(rows, size, chunks):
    assert chunk_numbers(rows, size) == list(range(chunks))


def test_every_row_falls_in_a_chunk_of_at_most_the_size():
    size, rows = 7, 50
    counts: dict[int, int] = {}
    for n in range(1, rows + 1):
        counts[chunk_of(n, size)] = counts.get(chunk_of(n, size), 0) + 1
    assert sorted(counts) == chunk_numbers(rows, size)
    assert max(counts.values()) <= size


def test_chunk_size_is_capped():
    with pytest.raises(ValueError):
        chunk_numbers(10, 250_001)
    with pytest.raises(ValueError):
        chunk_numbers(10, 0)
