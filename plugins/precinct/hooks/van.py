"""NGP VAN v4 REST API hook: events, sign-ups, people, sign-up status updates.

Connection (`van_default` by default, type http):

- host: the API base URL, VAN v4 by default (`https://api.securevan.com/v4`). A host without a
  scheme gets `https://` (or the connection's schema) and the port when one is set.
- login: the application name; password: the API key.
- extra: `{"mode": 0 | 1}` (0 VoterFile, 1 MyCampaign; default 1). Optional `timeout` (seconds,
  read timeout), `max_attempts`.

VAN authenticates with HTTP Basic: user = application name, password = `api_key|mode`. The key is
registered with Airflow's secrets masker, lives only inside the session's auth object, and is
scrubbed from every exception message this hook raises; `repr()` of the hook shows no secret.

Paged lists (`{"items": [...], "count": N, "nextPageLink": ...}`) are followed with `$top` at most
200, and only to links on the configured API host, so credentials never go anywhere else. Every
request has a timeout. 429 answers are retried after their `Retry-After` (capped), 5xx answers
and connection failures with exponential backoff and jitter, both up to `max_attempts` in total;
then `VanApiError` says what happened, with VAN's error codes but never the key.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from airflow.sdk import BaseHook

from precinct.scrub import scrub

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.securevan.com/v4"
MAX_PAGE_SIZE = 200
MODES = {0: "VoterFile", 1: "MyCampaign"}
RETRY_STATUSES = {500, 502, 503, 504}
DEFAULT_EXPAND = ("locations", "shifts", "roles")


class VanApiError(RuntimeError):
    """VAN answered with an error (or could not be reached) after the allowed attempts."""

    def __init__(self, message: str, status: int | None = None, codes: list[str] | None = None):
        super().__init__(message)
        self.status = status
        self.codes = codes or []


class VanHook(BaseHook):
    """Talk to NGP VAN's v4 API with the credentials of one Airflow connection.

    :param van_conn_id: the Airflow connection (default `van_default`).
    :param max_attempts: tries per request, including the first (429, 5xx, network errors).
    :param backoff_base: seconds before the first 5xx retry; doubles each attempt.
    :param max_backoff: cap on one backoff sleep (and on an absent Retry-After).
    :param max_retry_after: cap on the wait a 429's Retry-After can impose.
    :param timeout: (connect, read) seconds for every request.
    :param page_size: `$top` for paged lists; never more than VAN's 200.
    """

    conn_name_attr = "van_conn_id"
    default_conn_name = "van_default"
    conn_type = "http"
    hook_name = "NGP VAN"

    def __init__(
        self,
        van_conn_id: str = default_conn_name,
        *,
        max_attempts: int | None = None,
        backoff_base: float = 1.0,
        max_backoff: float = 60.0,
        max_retry_after: float = 120.0,
        timeout: tuple[float, float] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        sleep: Callable[[float], None] = time.sleep,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.van_conn_id = van_conn_id
        self._max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self._timeout = timeout
        self.page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
        self._sleep = sleep
        self._session: requests.Session | None = None
        self._secrets: tuple[str, ...] = ()
        self.base_url = ""
        self.mode = 1
        self.max_attempts = max_attempts or 6
        self.timeout: tuple[float, float] = timeout or (10.0, 60.0)
        self.requests_made = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(van_conn_id={self.van_conn_id!r})"

    # ---- connection ---------------------------------------------------------------------------
    def get_conn(self) -> requests.Session:
        """The authenticated session (built once per hook)."""
        if self._session is not None:
            return self._session
        conn = self.get_connection(self.van_conn_id)
        extra = conn.extra_dejson or {}
        try:
            self.mode = int(extra.get("mode", 1))
        except (TypeError, ValueError):
            self.mode = -1
        if self.mode not in MODES:
            raise ValueError(
                f"connection {self.van_conn_id!r}: extra 'mode' must be 0 (VoterFile) or "
                "1 (MyCampaign)"
            )
        if not conn.login or not conn.password:
            raise ValueError(
                f"connection {self.van_conn_id!r} needs login (application name) and password "
                "(API key)"
            )
        self.base_url = _base_url(conn.host, conn.schema, conn.port)
        if self._max_attempts is None and extra.get("max_attempts"):
            self.max_attempts = max(1, int(extra["max_attempts"]))
        if self._timeout is None and extra.get("timeout"):
            self.timeout = (min(10.0, float(extra["timeout"])), float(extra["timeout"]))
        password = f"{conn.password}|{self.mode}"
        self._secrets = (password, conn.password)
        _mask(password, conn.password)
        session = requests.Session()
        session.auth = (conn.login, password)
        session.headers.update(
            {"Accept": "application/json", "User-Agent": "precinct-van-hook/1.0"}
        )
        self._session = session
        log.info(
            "VAN %s (mode %d, %s) as application %r",
            self.base_url, self.mode, MODES[self.mode], conn.login,
        )
        return session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    # ---- requests -----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
    ) -> requests.Response:
        """One API call with retries; returns the successful response or raises VanApiError."""
        session = self.get_conn()
        url = self._url(path_or_url)
        where = f"{method} {_route(urlsplit(url).path)}"
        last, last_status, last_codes = "no answer", None, []
        for attempt in range(1, self.max_attempts + 1):
            try:
                self.requests_made += 1
                response = session.request(
                    method, url, params=params, json=json, timeout=self.timeout,
                    allow_redirects=False,
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                last, last_status, last_codes = f"{type(exc).__name__}", None, []
                delay = self._backoff(attempt)
            else:
                if response.status_code < 300:
                    return response
                last = f"HTTP {response.status_code}{_error_summary(response)}"
                last_status, last_codes = response.status_code, _error_codes(response)
                if response.status_code == 429:
                    delay = self._retry_after(response, attempt)
                elif response.status_code in RETRY_STATUSES:
                    delay = self._backoff(attempt)
                else:
                    raise self._error(
                        f"VAN {where} failed: {last}", response.status_code,
                        _error_codes(response),
                    )
            if attempt < self.max_attempts:
                log.warning(
                    "VAN %s: %s; retrying in %.1f s (attempt %d of %d)",
                    where, last, delay, attempt + 1, self.max_attempts,
                )
                self._sleep(delay)
        raise self._error(
            f"VAN {where} failed after {self.max_attempts} attempts: {last}", last_status,
            last_codes,
        )

    def get_json(self, path_or_url: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", path_or_url, params=params).json()

    def paginate(self, path: str, params: dict[str, Any] | None = None) -> Iterator[dict]:
        """Every item of a paged list, following `nextPageLink` on the API's own host."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        query["$top"] = min(int(query.get("$top", self.page_size)), MAX_PAGE_SIZE)
        page: Any = self.get_json(path, query)
        seen: set[str] = set()
        while True:
            if not isinstance(page, dict) or not isinstance(page.get("items"), list):
                raise self._error(f"VAN GET {path}: expected a paged list with 'items'")
            yield from page["items"]
            link = page.get("nextPageLink")
            if not link:
                return
            absolute = urljoin(self.base_url + "/", link)
            if not _same_origin(absolute, self.base_url):
                raise self._error(f"VAN GET {path}: nextPageLink points off the API host")
            if absolute in seen:
                raise self._error(f"VAN GET {path}: nextPageLink repeats itself")
            seen.add(absolute)
            page = self.get_json(absolute)

    # ---- what the DAG needs -----------------------------------------------------------------
    def get_events(
        self,
        *,
        event_type_ids: Iterable[int] | None = None,
        starting_after: date | datetime | str | None = None,
        starting_before: date | datetime | str | None = None,
        expand: Iterable[str] = DEFAULT_EXPAND,
    ) -> Iterator[dict]:
        """Events of the given types starting in (starting_after, starting_before)."""
        type_ids = ",".join(str(int(t)) for t in (event_type_ids or []))
        params = {
            "eventTypeIds": type_ids or None,
            "startingAfter": _iso(starting_after),
            "startingBefore": _iso(starting_before),
            "$expand": ",".join(expand) or None,
        }
        return self.paginate("events", params)

    def get_event_signups(self, event_id: int) -> Iterator[dict]:
        """Every sign-up of one event."""
        return self.paginate("signups", {"eventId": int(event_id)})

    def get_person(self, van_id: int) -> dict | None:
        """One person by VAN id; None when VAN has no such person (404)."""
        try:
            return self.get_json(f"people/{int(van_id)}")
        except VanApiError as exc:
            if exc.status == 404:
                return None
            raise

    def update_signup_status(self, event_signup_id: int, status_id: int) -> None:
        """Set a sign-up's status. VAN's PUT replaces the sign-up, so read it first."""
        path = f"signups/{int(event_signup_id)}"
        signup = self.get_json(path)
        signup["status"] = {"statusId": int(status_id)}
        self.request("PUT", path, json=signup)

    # ---- internals ------------------------------------------------------------------------------
    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            if not _same_origin(path_or_url, self.base_url):
                raise self._error("refusing to send VAN credentials to another host")
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_backoff, self.backoff_base * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def _retry_after(self, response: requests.Response, attempt: int) -> float:
        value = (response.headers.get("Retry-After") or "").strip()
        seconds: float | None = None
        if value.isdigit():
            seconds = float(value)
        elif value:
            try:
                when = parsedate_to_datetime(value)
                seconds = max(0.0, when.timestamp() - time.time())
            except (TypeError, ValueError):
                seconds = None
        if seconds is None:
            return self._backoff(attempt)
        return min(seconds, self.max_retry_after)

    def _error(self, message: str, status: int | None = None,
               codes: list[str] | None = None) -> VanApiError:
        return VanApiError(scrub(message, self._secrets), status, codes)


def _base_url(host: str | None, schema: str | None, port: int | None) -> str:
    if not host:
        return DEFAULT_BASE_URL
    host = host.strip().rstrip("/")
    if "://" not in host:
        scheme = schema if schema in {"http", "https"} else "https"
        netloc, _, path = host.partition("/")
        if port and ":" not in netloc:
            netloc = f"{netloc}:{port}"
        host = f"{scheme}://{netloc}" + (f"/{path}" if path else "/v4")
    return host


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _iso(value: date | datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


def _error_codes(response: requests.Response) -> list[str]:
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return []
    return [str(e.get("code")) for e in errors if isinstance(e, dict) and e.get("code")]


def _route(path: str) -> str:
    """The path with its ids as `{id}` (`/v4/people/{id}`): a VAN id names a person, so it
    stays out of logs, exceptions and e-mails; the route is enough to act on."""
    return _ID_SEGMENT.sub("/{id}", path)


_ID_SEGMENT = re.compile(r"/\d+(?=/|$)")


def _error_summary(response: requests.Response) -> str:
    """`: CODE (text)` from VAN's error envelope, shortened; empty when there is none."""
    try:
        errors = response.json().get("errors") or []
    except (ValueError, AttributeError):
        return ""
    parts = []
    for error in errors[:3]:
        if isinstance(error, dict):
            text = str(error.get("text") or "")[:200]
            parts.append(f"{error.get('code')} ({text})" if text else str(error.get("code")))
    return f": {'; '.join(parts)}" if parts else ""


def _mask(*secrets: str) -> None:
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older SDK layout
        return
    for secret in secrets:
        if secret:
            mask_secret(secret)
