"""Spotting undecodable bytes in a UTF-8 stream without checking every row.

A member is decoded as one stream (fast), but a bad byte must reject only its own row. The
`surrogateescape` handler keeps the bytes as lone surrogates so the stream never aborts, but
finding them means scanning each row. Instead, decoding goes through a handler that also counts
the bad bytes it escaped: while that count is ahead of what the reader has already attributed to
rows, rows are scanned; otherwise (almost always) a row costs one integer comparison. The decoder
works ahead of the parser (a chunk at a time), so the count always rises before the bad row is
parsed.
"""

from __future__ import annotations

import codecs
import re
import threading

ERRORS = "precinct-count-surrogateescape"

# Bad bytes escaped so far, process-wide. Read without the lock (a plain load); a reader that sees
# a count rise because of another stream only scans more rows than needed, never fewer.
ESCAPED = [0]
_LOCK = threading.Lock()
_escape = codecs.lookup_error("surrogateescape")
SURROGATES = re.compile("[\udc80-\udcff]")


def _count_and_escape(exc: UnicodeError) -> tuple[str, int]:
    if isinstance(exc, UnicodeDecodeError):
        with _LOCK:
            ESCAPED[0] += exc.end - exc.start
    return _escape(exc)


codecs.register_error(ERRORS, _count_and_escape)


def escaped_count() -> int:
    """The running count; take it before opening a stream, compare while reading it."""
    return ESCAPED[0]


def count_surrogates(text: str) -> int:
    """How many escaped bytes a decoded row holds (0 for clean text)."""
    if text.isascii():
        return 0
    return len(SURROGATES.findall(text))
