"""Split the rows CASS/NCOA standardises into chunks (Civis handles at most 250,000 a run)."""

from __future__ import annotations

from precinct.voterfile.validation import MAX_CHUNK_ROWS


def chunk_numbers(rows: int, chunk_rows: int = MAX_CHUNK_ROWS) -> list[int]:
    """Chunk numbers 0..n-1 for `rows` rows of at most `chunk_rows` each (none for 0 rows)."""
    if not 1 <= chunk_rows <= MAX_CHUNK_ROWS:
        raise ValueError(f"chunk_rows must be 1..{MAX_CHUNK_ROWS}, not {chunk_rows}")
    if rows <= 0:
        return []
    return list(range((rows + chunk_rows - 1) // chunk_rows))
