"""The set of document ids already produced, kept compact because it is the one thing that grows.

Everything else in an ingest streams; this set must remember every id to index a repeated id
once. A Python `set` of id strings costs ~100 bytes per id and a `set` of ints ~60, which at the
tens of millions of rows of a real Texas file would dwarf the rest of the process. So ids are
reduced to 64-bit integer keys, stored without one object per id:

- Small exact keys (below 2**40, e.g. TEC's sequential `contributionInfoId`) go into a paged
  bitmap: one bit per possible id, in 8 KiB pages of 65,536 ids created on first use. Ids
  handed out by a sequence are dense, so this costs well under a byte per id and hardly grows
  with the file: a million kept rows spread over a few million ids is a few hundred KiB.
- Everything else (hashed ids, Michigan's packed keys) goes into an open-addressing hash table
  over one `array('Q')`: 8 bytes a slot at <= 50% load, i.e. 16-32 bytes per id.
- If small keys turn out sparse (more than 64 bits of bitmap per key over more than 2 MiB of
  pages), the bitmap is folded into the hash table once and not used again.

Keys are exact whenever the id is numeric and fits (Texas `contributionInfoId`, Michigan's packed
`doc_seq_no`/`contribution_id`/`cont_detail_id`), so no false duplicates there. Other ids fall
back to a 63-bit BLAKE2b digest with the top bit set (so it never equals an exact key); two
different ids then collide with probability ~n^2 / 2^64 (about 1 in 180,000 at 10 million ids),
the accepted price of a fixed-size key.
"""

from __future__ import annotations

from array import array
from hashlib import blake2b

_M64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # Fibonacci hashing: spreads sequential keys over the table
_HASHED_FLAG = 1 << 63

_SMALL = 1 << 40  # keys below this may live in the bitmap
_PAGE_BITS = 16  # 65,536 ids per page
_PAGE_BYTES = (1 << _PAGE_BITS) // 8
_OFFSET_MASK = _PAGE_BYTES - 1
_SPARSE_MIN_PAGES = 256  # 2 MiB of pages before sparseness is judged
_SPARSE_BITS_PER_KEY = 64


def hashed_key(text: str) -> int:
    """A 64-bit key for a non-numeric id (top bit set; see the module docstring)."""
    digest = blake2b(text.encode("utf-8", "surrogateescape"), digest_size=8).digest()
    return int.from_bytes(digest, "big") | _HASHED_FLAG


def numeric_key(text: str) -> int:
    """The id itself when it is a plain non-negative integer below 2**63, else `hashed_key`."""
    if text.isdigit() and text.isascii() and len(text) <= 18:
        return int(text)
    return hashed_key(text)


class KeyTable:
    """Open-addressing hash set of 64-bit integer keys in one `array('Q')`."""

    __slots__ = ("_count", "_has_zero", "_limit", "_mask", "_shift", "_table")

    def __init__(self, initial_bits: int = 12) -> None:
        self._has_zero = False
        self._count = 0
        self._allocate(initial_bits)

    def _allocate(self, bits: int) -> None:
        size = 1 << bits
        self._table = array("Q", bytes(8 * size))
        self._mask = size - 1
        self._shift = 64 - bits
        self._limit = size >> 1

    def add(self, key: int) -> bool:
        """Record `key` (0 <= key < 2**64); True if it was new, False if already there."""
        if key == 0:  # 0 marks an empty slot, so it is tracked on the side
            if self._has_zero:
                return False
            self._has_zero = True
            self._count += 1
            return True
        table = self._table
        mask = self._mask
        slot = ((key * _GOLDEN) & _M64) >> self._shift
        while True:
            current = table[slot]
            if current == 0:
                table[slot] = key
                self._count += 1
                if self._count > self._limit:
                    self._grow()
                return True
            if current == key:
                return False
            slot = (slot + 1) & mask

    def __contains__(self, key: int) -> bool:
        if key == 0:
            return self._has_zero
        table = self._table
        mask = self._mask
        slot = ((key * _GOLDEN) & _M64) >> self._shift
        while True:
            current = table[slot]
            if current == 0:
                return False
            if current == key:
                return True
            slot = (slot + 1) & mask

    def _grow(self) -> None:
        old = self._table
        self._allocate(64 - self._shift + 1)
        table = self._table
        mask = self._mask
        shift = self._shift
        for key in old:
            if key:
                slot = ((key * _GOLDEN) & _M64) >> shift
                while table[slot]:
                    slot = (slot + 1) & mask
                table[slot] = key

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        return self._table.itemsize * len(self._table)


class SeenIds:
    """A growable set of 64-bit integer keys answering "first time?" in one call."""

    __slots__ = ("_pages", "_small", "_table", "_use_bitmap")

    def __init__(self, initial_bits: int = 12) -> None:
        self._pages: dict[int, bytearray] = {}
        self._small = 0
        self._use_bitmap = True
        self._table = KeyTable(initial_bits)

    def add(self, key: int) -> bool:
        """Record `key` (0 <= key < 2**64); True if it was new, False if already seen."""
        if key < _SMALL and self._use_bitmap:
            page = self._pages.get(key >> _PAGE_BITS)
            if page is None:
                page = self._new_page(key >> _PAGE_BITS)
                if page is None:  # the bitmap was just folded into the table
                    return self._table.add(key)
            offset = (key >> 3) & _OFFSET_MASK
            bit = 1 << (key & 7)
            byte = page[offset]
            if byte & bit:
                return False
            page[offset] = byte | bit
            self._small += 1
            return True
        return self._table.add(key)

    def _new_page(self, number: int) -> bytearray | None:
        pages = len(self._pages) + 1
        if pages > _SPARSE_MIN_PAGES and pages * (1 << _PAGE_BITS) > _SPARSE_BITS_PER_KEY * (
            self._small + 1
        ):
            self._fold_bitmap()
            return None
        page = bytearray(_PAGE_BYTES)
        self._pages[number] = page
        return page

    def _fold_bitmap(self) -> None:
        """Sparse small keys: move them to the hash table and stop using pages."""
        table = self._table
        for number, page in self._pages.items():
            base = number << _PAGE_BITS
            for offset, byte in enumerate(page):
                if byte:
                    for bit in range(8):
                        if byte >> bit & 1:
                            table.add(base + (offset << 3) + bit)
        self._pages = {}
        self._small = 0
        self._use_bitmap = False

    def __contains__(self, key: int) -> bool:
        if key < _SMALL and self._use_bitmap:
            page = self._pages.get(key >> _PAGE_BITS)
            return page is not None and bool(page[(key >> 3) & _OFFSET_MASK] >> (key & 7) & 1)
        return key in self._table

    def __len__(self) -> int:
        return self._small + len(self._table)

    @property
    def uses_bitmap(self) -> bool:
        """False once sparse small keys forced the bitmap into the hash table."""
        return self._use_bitmap

    @property
    def nbytes(self) -> int:
        """Bytes held by pages and table (for the benchmark's memory report)."""
        return len(self._pages) * _PAGE_BYTES + self._table.nbytes
