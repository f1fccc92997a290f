"""Remove secrets from text before it leaves a task (e-mails, exceptions, logs).

Airflow masks the connection passwords it has seen in this process; these patterns catch what it
cannot know about: credentials inside URLs, `key=value` pairs named like secrets, bearer tokens.
No Airflow import: the patterns are tested directly.
"""

from __future__ import annotations

import functools
import re

MASK = "***"
_KEEP_HEAD = rf"\g<head>{MASK}"

# Compiled on first use: DAG files import this module at parse time, where every ms counts.
_PATTERN_SOURCES: list[tuple[str, int]] = [
    # scheme://user:password@host -> scheme://user:***@host
    (r"(?P<head>[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^/\s@]+(?=@)", re.I),
    # Authorization: Bearer/Basic <token>
    (r"(?P<head>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", re.I),
    # api_key=..., password: "...", "token": "...", secret=...
    (
        r"(?P<head>\b[\w-]*(?:password|passwd|secret|token|api[_-]?key|apikey|credential)s?"
        r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+",
        re.I,
    ),
]


@functools.cache
def _patterns() -> list[re.Pattern[str]]:
    return [re.compile(source, flags) for source, flags in _PATTERN_SOURCES]


def scrub(text: str, known_secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Return `text` with every known secret and every secret-shaped value replaced by ***."""
    for secret in sorted((s for s in known_secrets if s and len(s) >= 4), key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern in _patterns():
        text = pattern.sub(_KEEP_HEAD, text)
    return text


def first_line(text: str, limit: int = 500) -> str:
    """The first non-empty line, shortened: enough to act on, too little to leak a payload."""
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
