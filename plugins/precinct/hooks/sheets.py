"""Google Sheets hook on gspread 6, authorised from the `google_cloud_default` connection.

Credentials come from the Google provider's `GoogleBaseHook` (key file, keyfile_dict, secret,
ADC, impersonation: whatever the connection says), re-scoped to Sheets when the connection names
no `scope` of its own. gspread gets a `GoogleApiSession`, google-auth's `AuthorizedSession`
(token refresh, `Authorization: Bearer` on each call) that only talks to Google's API hosts. When
the connection's extra has `sheets_endpoint` (devstack: the Sheets stand-in), the session sends
`https://sheets.googleapis.com` and `https://www.googleapis.com` there instead; that is
configuration, the same code path as production, and nothing in gspread is patched.

Writes are built so that readers never see an empty, half-written or mixed tab: after one
metadata read, `write_dataframe` sends everything that changes (a missing tab or a bigger grid,
the header, the rows, the "last updated" cell, the trim, the frozen bold header, the highlights)
as ONE spreadsheets.batchUpdate, which Sheets applies all or nothing. Values and formats live in
the same call because a second call can fail on its own: new values under the old rows'
highlights would then mark the wrong rows. Nothing is cleared before the write, so a write that
fails leaves the previous values and formats in place. `write_dataframes` puts several tabs in
that same batch, so the tabs change together and each extra tab costs no extra round trip.

429 and 5xx answers (and dropped connections) are retried with exponential backoff and jitter,
honouring Retry-After, for a bounded number of attempts; then a `SheetsError` names the call,
the spreadsheet and the tab(s) (never credentials). A retried write re-applies the same cells,
sizes and formats, which is harmless if the first attempt landed and only its answer was lost;
the one request that cannot be re-applied, adding a tab, carries a sheet id chosen here, by which
the write recognises that it did land.

Values keep the RAW semantics of the values API, written as typed cell values (updateCells'
`userEnteredValue`, which Sheets does not parse): strings stay strings (a leading "=" is no
formula, a leading "'" stays in the text, no dates are guessed), numbers and booleans stay
numbers and booleans, NaN/None/NaT become empty cells, datetimes become ISO-8601 strings.

Imports of gspread, google-auth, pandas and the Google provider happen on first use, so that DAG
files importing this module stay cheap to parse.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

from airflow.sdk import BaseHook

if TYPE_CHECKING:
    import gspread
    import pandas as pd
    from google.auth.credentials import Credentials

SHEETS_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
GOOGLE_API_HOSTS = frozenset({"sheets.googleapis.com", "www.googleapis.com"})
RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
DEFAULT_HIGHLIGHT = "#F4CCCC"  # Sheets' "light red 3"
MIN_ROWS = 2  # header + one row: Sheets refuses to freeze every row of a sheet
# A metadata read only needs each tab's properties (id, title, grid size), not the rest.
METADATA_FIELDS = "sheets.properties"
# Google refuses a request body over 10 MiB (400 "Request payload size exceeds the limit"). A
# write's one batch carries every cell as a CellData object, about 540 bytes an audit row.
MAX_REQUEST_BYTES = 10 * 1024 * 1024

T = TypeVar("T")


class SheetsError(RuntimeError):
    """A Sheets call failed for good (after retries, or with an error that retrying cannot fix).

    `retryable` tells whether the last failure was a 429/5xx/dropped connection.
    """

    def __init__(self, message: str, *, retryable: bool = False,
                 retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class SheetsHostError(SheetsError):
    """A request for a host the session must not send Google credentials to."""


@dataclass(frozen=True)
class Highlight:
    """Colour the whole row where `column` equals `equals` (or any of them, for a list/tuple)."""

    column: str
    equals: Any
    color: str | Mapping[str, float] = DEFAULT_HIGHLIGHT

    @classmethod
    def coerce(cls, rule: Highlight | Mapping[str, Any]) -> Highlight:
        if isinstance(rule, Highlight):
            return rule
        return cls(rule["column"], rule["equals"], rule.get("color", DEFAULT_HIGHLIGHT))

    def matches(self, value: Any) -> bool:
        wanted = self.equals if isinstance(self.equals, (list, tuple, set, frozenset)) else (
            self.equals,)
        return any(_same(value, w) for w in wanted)


@dataclass(frozen=True, eq=False)
class TabWrite:
    """One tab's new content for `SheetsHook.write_dataframes` (see `write_dataframe`)."""

    df: pd.DataFrame
    highlight: Iterable[Highlight | Mapping[str, Any]] | None = None
    last_updated_cell: str | None = None
    last_updated_value: Any = None


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def color(value: str | Mapping[str, float]) -> dict[str, float]:
    """'#F4CCCC' (or a Sheets Color dict) as a Sheets Color {red, green, blue} in 0..1."""
    if isinstance(value, Mapping):
        return {k: float(v) for k, v in value.items()}
    text = value.lstrip("#")
    if len(text) == 3:
        text = "".join(ch * 2 for ch in text)
    if len(text) != 6:
        raise ValueError(f"not a #RRGGBB colour: {value!r}")
    red, green, blue = (int(text[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return {"red": round(red, 4), "green": round(green, 4), "blue": round(blue, 4)}


# -- A1 helpers ---------------------------------------------------------------------------------


def column_letters(index: int) -> str:
    """0 -> 'A', 26 -> 'AA'."""
    letters, index = "", index + 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def parse_cell(label: str) -> tuple[int, int]:
    """'H1' -> (row 0, col 7)."""
    letters = "".join(ch for ch in label if ch.isalpha()).upper()
    digits = label[len(letters):]
    if not letters or not digits.isdigit() or int(digits) < 1 or letters + digits != label.upper():
        raise ValueError(f"not a cell like 'H1': {label!r}")
    col = 0
    for ch in letters:
        col = col * 26 + ord(ch) - 64
    return int(digits) - 1, col - 1


def quote_tab(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


# -- values ---------------------------------------------------------------------------------------


def cell_value(value: Any) -> Any:
    """A Python/pandas value as a RAW Sheets value: "", a number, a boolean or a string."""
    if value is None:
        return ""
    if type(value).__module__.split(".")[0] in ("numpy", "pandas"):  # without importing them
        import pandas as pd

        missing = pd.isna(value)
        if missing is True or (isinstance(missing, bool) and missing):
            return ""
        if hasattr(value, "isoformat"):  # Timestamp, Timedelta
            return value.isoformat()
        if hasattr(value, "item"):  # numpy scalars
            return cell_value(value.item())
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else ("" if math.isnan(value) else str(value))
    if isinstance(value, str):
        return value
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else ("" if value.is_nan() else str(value))
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str)
    return str(value)


def key_text(value: Any) -> str:
    """A value as comparable text, the same for what we send and what Sheets gives back."""
    value = cell_value(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


# -- the session ----------------------------------------------------------------------------------


def _authorized_session_class() -> type:
    from google.auth.transport.requests import AuthorizedSession

    class GoogleApiSession(AuthorizedSession):
        """google-auth's AuthorizedSession, restricted to Google's API hosts.

        With `endpoint` set, requests for `https://sheets.googleapis.com/...` and
        `https://www.googleapis.com/...` go to `endpoint` + the same path instead, and requests
        already aimed at `endpoint` pass (google-auth re-sends them after a token refresh). Any
        other host is refused before a byte (or a token) leaves the process.
        """

        def __init__(self, credentials: Credentials, endpoint: str | None = None, **kwargs: Any):
            super().__init__(credentials, **kwargs)
            self.endpoint = _check_endpoint(endpoint) if endpoint else None
            self.calls = 0

        def route(self, url: str) -> str:
            parts = urlsplit(url)
            if self.endpoint is not None:
                base = urlsplit(self.endpoint)
                if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and (
                    parts.path.startswith(base.path.rstrip("/") + "/")
                ):
                    return url
                if parts.scheme == "https" and parts.hostname in GOOGLE_API_HOSTS:
                    path = base.path.rstrip("/") + parts.path
                    return urlunsplit((base.scheme, base.netloc, path, parts.query, ""))
            elif parts.scheme == "https" and parts.hostname in GOOGLE_API_HOSTS and (
                parts.port in (None, 443)
            ):
                return url
            allowed = ", ".join(sorted(GOOGLE_API_HOSTS))
            if self.endpoint:
                allowed += f" (sent to {self.endpoint})"
            raise SheetsHostError(
                f"refusing to send Google credentials to {parts.scheme}://{parts.netloc}: "
                f"this session only talks to {allowed}"
            )

        def request(self, method: str, url: str, *args: Any, **kwargs: Any):  # type: ignore[override]
            return super().request(method, self.route(url), *args, **kwargs)

        def send(self, request: Any, **kwargs: Any):  # type: ignore[override]
            self.route(request.url)  # also guards redirects
            self.calls += 1
            return super().send(request, **kwargs)

    return GoogleApiSession


def _check_endpoint(endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise SheetsError(f"sheets_endpoint must be an http(s) base URL, got {endpoint!r}")
    return endpoint.rstrip("/")


def google_api_session(credentials: Credentials, endpoint: str | None = None) -> Any:
    """An AuthorizedSession for Google's API hosts (or `endpoint` standing in for them)."""
    return _authorized_session_class()(credentials, endpoint)


# -- the hook -------------------------------------------------------------------------------------


class SheetsHook(BaseHook):
    """Write DataFrames and append rows to Google Sheets tabs.

    :param gcp_conn_id: a `google_cloud_platform` connection. Extras used besides the Google
        provider's own: `sheets_endpoint` (base URL standing in for Google's API hosts; devstack).
    :param max_attempts: tries per API call for 429/5xx answers and dropped connections.
    :param backoff_base: first retry delay in seconds; doubles per attempt, with jitter.
    :param backoff_max: cap on one retry delay (also on a Retry-After the server asks for).
    :param timeout: (connect, read) seconds per HTTP request.
    """

    conn_name_attr = "gcp_conn_id"
    default_conn_name = "google_cloud_default"
    conn_type = "google_cloud_platform"
    hook_name = "Google Sheets"

    def __init__(
        self,
        gcp_conn_id: str = default_conn_name,
        *,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_max: float = 64.0,
        timeout: tuple[float, float] = (10.0, 120.0),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.gcp_conn_id = gcp_conn_id
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.timeout = timeout
        self._client: gspread.Client | None = None
        self._session: Any = None

    # -- connection ---------------------------------------------------------------------------
    def get_credentials(self) -> Credentials:
        """The connection's credentials through the Google provider, scoped for Sheets."""
        from airflow.providers.google.common.hooks.base_google import GoogleBaseHook, get_field
        from google.auth.credentials import Scoped

        google = GoogleBaseHook(gcp_conn_id=self.gcp_conn_id)
        credentials = google.get_credentials()
        # The provider's default scope is cloud-platform, which the Sheets API does not accept;
        # a `scope` set on the connection is the operator's choice and is kept as it is.
        if not get_field(google.extras, "scope") and isinstance(credentials, Scoped):
            credentials = credentials.with_scopes(list(SHEETS_SCOPES))
        return credentials

    def get_conn(self) -> gspread.Client:
        """A gspread client on a session that only talks to Google (or `sheets_endpoint`)."""
        if self._client is None:
            import gspread
            from airflow.providers.google.common.hooks.base_google import get_field

            extras = self.get_connection(self.gcp_conn_id).extra_dejson
            endpoint = get_field(extras, "sheets_endpoint") or None
            credentials = self.get_credentials()
            self._session = google_api_session(credentials, endpoint)
            self._client = gspread.Client(auth=credentials, session=self._session)
            self._client.set_timeout(self.timeout)
        return self._client

    @property
    def http(self) -> gspread.http_client.HTTPClient:
        """gspread's HTTP client: one method per Sheets REST call (values_get, batch_update...)."""
        return self.get_conn().http_client

    @property
    def api_calls(self) -> int:
        """HTTP requests this hook has sent to the Sheets API so far (retries included)."""
        return self._session.calls if self._session is not None else 0

    # -- retries --------------------------------------------------------------------------------
    def _call(self, what: str, spreadsheet_id: str, tab: str | Sequence[str] | None,
              fn: Callable[[], T], *, attempts: int | None = None) -> T:
        """fn(), retrying 429/5xx answers and dropped connections with backoff.

        `tab`: the tab (or tabs) the call is about, named in the error message.
        """
        attempts = attempts or self.max_attempts
        where = f"spreadsheet {spreadsheet_id!r}"
        if isinstance(tab, str):
            where += f", tab {tab!r}"
        elif tab:
            names = list(tab)
            where += (f", tab {names[0]!r}" if len(names) == 1
                      else ", tabs " + ", ".join(repr(name) for name in names))
        for attempt in range(1, attempts + 1):
            try:
                return fn()
            except Exception as exc:  # classified below; unknown errors re-raised
                detail, retryable, retry_after = self._classify(exc)
                if not retryable:
                    raise SheetsError(f"Sheets {what} failed for {where}: {detail}") from exc
                if attempt == attempts:
                    suffix = f" after {attempt} attempts" if attempts > 1 else ""
                    raise SheetsError(f"Sheets {what} failed for {where}{suffix}: {detail}",
                                      retryable=True, retry_after=retry_after) from exc
            self._sleep(what, where, detail, attempt, retry_after)
        raise AssertionError("unreachable")

    def _sleep(self, what: str, where: str, detail: str, attempt: int,
               retry_after: float | None) -> None:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        delay = delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            delay = max(delay, min(self.backoff_max, retry_after))
        self.log.warning("Sheets %s for %s: %s; retry %d of %d in %.2fs", what, where, detail,
                         attempt, self.max_attempts - 1, delay)
        time.sleep(delay)

    @staticmethod
    def _classify(exc: Exception) -> tuple[str, bool, float | None]:
        """(what went wrong, worth retrying?, Retry-After seconds); re-raises unknown errors."""
        import gspread
        import requests
        from google.auth import exceptions as auth_errors

        if isinstance(exc, gspread.exceptions.APIError):
            status = exc.response.status_code
            error = exc.error if isinstance(exc.error, Mapping) else {}
            detail = f"HTTP {status} {error.get('status', '')}: {error.get('message', '')}"
            if status == 404:
                detail += " (is the spreadsheet id right, and shared with the service account?)"
            retry_after = _retry_after(exc.response.headers.get("Retry-After"))
            return detail, status in RETRYABLE_STATUS, retry_after
        if isinstance(exc, (requests.ConnectionError, requests.Timeout,
                            auth_errors.TransportError)):
            return f"{type(exc).__name__} (no answer from the server)", True, None
        if isinstance(exc, auth_errors.RefreshError):
            return f"could not obtain an access token: {exc.args[0] if exc.args else exc}", \
                bool(getattr(exc, "retryable", False)), None
        raise exc

    def _sheet_properties(self, spreadsheet_id: str, tabs: Sequence[str]) -> dict[str, dict]:
        """Every tab's properties by title, from one metadata read of the tabs' properties only.

        The `fields` mask keeps the answer to the properties (no protected ranges, conditional
        formats, charts...): on a large dashboard spreadsheet that is most of the payload.
        """
        http = self.http
        metadata = self._call("metadata read", spreadsheet_id, tabs, lambda: (
            http.fetch_sheet_metadata(spreadsheet_id, params={
                "includeGridData": "false", "fields": METADATA_FIELDS})))
        return {sheet["properties"]["title"]: sheet["properties"]
                for sheet in metadata.get("sheets", [])}

    def _tab_properties(self, spreadsheet_id: str, tab: str) -> dict | None:
        return self._sheet_properties(spreadsheet_id, [tab]).get(tab)

    def _add_tab(self, spreadsheet_id: str, tab: str, rows: int, cols: int) -> dict:
        """Add a tab of `rows` x `cols` with a frozen header row; the new tab's properties."""
        body = {"requests": [_add_sheet(tab, rows, cols)]}
        try:
            reply = self._call("add tab", spreadsheet_id, tab,
                               lambda: self.http.batch_update(spreadsheet_id, body))
        except SheetsError:
            # A retried addSheet whose first attempt did land answers "already exists": if the
            # tab is there now and big enough, it landed.
            props = self._tab_properties(spreadsheet_id, tab)
            grid = (props or {}).get("gridProperties", {})
            if grid.get("rowCount", 0) < rows or grid.get("columnCount", 0) < cols:
                raise
            return props
        return reply["replies"][0]["addSheet"]["properties"]

    def _added(self, spreadsheet_id: str, added: Mapping[str, int]) -> bool:
        """Whether every tab in `added` is there with the sheet id given (False if unknown)."""
        try:
            props = self._sheet_properties(spreadsheet_id, list(added))
        except SheetsError:
            return False
        return all(props.get(tab, {}).get("sheetId") == sheet_id
                   for tab, sheet_id in added.items())

    # -- public API -----------------------------------------------------------------------------
    def write_dataframe(
        self,
        spreadsheet_id: str,
        tab: str,
        df: pd.DataFrame,
        *,
        highlight: Iterable[Highlight | Mapping[str, Any]] | None = None,
        last_updated_cell: str | None = None,
        last_updated_value: Any = None,
    ) -> dict[str, int]:
        """Replace a tab's content with `df` (header row + rows), creating the tab if missing.

        The header, the rows, the "last updated" cell, the trimmed grid, the frozen bold header
        and the highlighted rows all change in one atomic call, so nobody ever sees new values
        under old highlights, and a write that fails leaves the tab exactly as it was, values
        and formats. (This is `write_dataframes` for one tab: two calls in all.)

        :param highlight: rules like ``{"column": "status", "equals": "failed",
            "color": "#F4CCCC"}`` (or `Highlight`); a row matching any rule gets that background.
        :param last_updated_cell: a cell outside the data (e.g. ``"H1"``) that gets
            `last_updated_value`, by default "Last updated <UTC time>".
        :returns: data rows (header not counted) and columns written, and API calls made.
        """
        written = self.write_dataframes(spreadsheet_id, {tab: TabWrite(
            df, highlight=highlight, last_updated_cell=last_updated_cell,
            last_updated_value=last_updated_value)})
        return {**written["tabs"][tab], "api_calls": written["api_calls"]}

    def write_dataframes(
        self, spreadsheet_id: str, tabs: Mapping[str, TabWrite | pd.DataFrame],
    ) -> dict[str, Any]:
        """Replace several tabs' content at once, in the two calls one tab takes.

        Each tab is written as `write_dataframe` writes one. The calls are one metadata read of
        every tab's properties (which tabs exist, how big they are, which sheet ids are taken)
        and ONE spreadsheets.batchUpdate for everything, which Google applies all or nothing:
        per tab, addSheet (a missing tab, with a sheet id chosen here so that the requests after
        it can name it) or a grid growth (a tab too small for the data), then one updateCells
        writing the whole new grid, then the trim, the frozen bold header and the highlights.
        Values and formats therefore change together, on every tab at once: readers never see
        an empty or half-written tab, new values with old highlights, or one tab newer than the
        other, and a write that fails leaves every tab's values and formats as they were.
        Against Google each call is a round trip of a few hundred milliseconds and counts
        against the per-minute quota: one tab or several, a write costs 2 calls.

        A retried batch re-applies what it sets (the same cells, sizes and formats), which is
        harmless if an earlier attempt landed although its answer was lost, except that its
        addSheet then answers "already exists". So when the write fails after adding tabs, the
        tabs are looked up once more: if each has the sheet id this write chose, the batch did
        land (it is atomic, and nobody else picks that id), and the write succeeded.

        :param tabs: `{tab title: TabWrite}` (a bare DataFrame: no highlight, no stamp).
        :returns: ``{"tabs": {tab: {"rows": data rows, "columns": columns}}, "api_calls": n}``.
        """
        if not tabs:
            raise ValueError("no tabs to write")
        calls_before = self.api_calls
        plans = {tab: _plan(tab, write if isinstance(write, TabWrite) else TabWrite(write))
                 for tab, write in tabs.items()}  # every check before the first call
        titles = list(plans)
        props = self._sheet_properties(spreadsheet_id, titles)
        requests, added = _write_requests(plans, props)
        body = {"requests": requests}
        size = len(json.dumps(body).encode())
        if size > MAX_REQUEST_BYTES:  # refuse here, clearly, instead of Google's 400 on each try
            rows = sum(plan.n_rows - 1 for plan in plans.values())
            raise SheetsError(
                f"Sheets write to {spreadsheet_id} ({', '.join(titles)}): {rows} rows make a "
                f"{size / 1e6:.1f} MB request, over Google's {MAX_REQUEST_BYTES / 1e6:.1f} MB "
                "limit for one atomic write; nothing was written")
        try:
            self._call("write", spreadsheet_id, titles,
                       lambda: self.http.batch_update(spreadsheet_id, body))
        except SheetsError as exc:
            if not added or not self._added(spreadsheet_id, added):
                raise
            self.log.warning("Sheets write for %s had landed although its answer was lost (%s): "
                             "the tabs it added are there", spreadsheet_id, exc)
        calls = self.api_calls - calls_before
        for tab, plan in plans.items():
            self.log.info("Wrote %d rows x %d columns to %s / %s", plan.n_rows - 1,
                          len(plan.header), spreadsheet_id, tab)
        self.log.info("%d tab(s) of %s written in %d Sheets API calls", len(plans),
                      spreadsheet_id, calls)
        return {"tabs": {tab: {"rows": plan.n_rows - 1, "columns": len(plan.header)}
                         for tab, plan in plans.items()},
                "api_calls": calls}

    def append_rows(
        self,
        spreadsheet_id: str,
        tab: str,
        rows: Iterable[Mapping[str, Any] | Sequence[Any]],
        *,
        key_columns: Sequence[str],
        header: Sequence[str],
    ) -> int:
        """Append the rows whose key (the `key_columns` values) is not in the tab yet.

        Rows are mappings by column name or sequences in `header` order. A missing tab is created
        with `header` as its frozen first row. Existing keys are re-read before every attempt, so
        a retried append never appends twice. Returns the number of rows appended.
        """
        header = [str(h) for h in header]
        missing = [k for k in key_columns if k not in header]
        if not key_columns or missing:
            raise ValueError(f"key_columns must be non-empty and in header; missing: {missing}")
        wanted = [
            [row.get(h) for h in header] if isinstance(row, Mapping) else list(row)
            for row in rows
        ]
        for row in wanted:
            if len(row) != len(header):
                raise ValueError(f"a row has {len(row)} values for {len(header)} columns "
                                 f"({', '.join(header)})")
        http = self.http
        positions = [header.index(k) for k in key_columns]
        where = f"spreadsheet {spreadsheet_id!r}, tab {tab!r}"
        for attempt in range(1, self.max_attempts + 1):
            props = self._tab_properties(spreadsheet_id, tab)
            created = props is None
            if created:
                props = self._add_tab(spreadsheet_id, tab, max(len(wanted) + 1, MIN_ROWS),
                                      len(header))
                existing: list[list] = []
            else:
                result = self._call("read", spreadsheet_id, tab, lambda: http.values_get(
                    spreadsheet_id, quote_tab(tab),
                    params={"valueRenderOption": "UNFORMATTED_VALUE"}))
                existing = result.get("values", [])
            if existing and [str(h) for h in existing[0]][: len(header)] != header:
                raise SheetsError(
                    f"tab {tab!r} of spreadsheet {spreadsheet_id!r} has header "
                    f"{existing[0]}, expected it to start with {header}"
                )
            seen = {tuple(key_text(r[i]) if i < len(r) else "" for i in positions)
                    for r in existing[1:]}
            new_rows = []
            for row in wanted:
                key = tuple(key_text(row[i]) for i in positions)
                if key not in seen:
                    seen.add(key)
                    new_rows.append([cell_value(v) for v in row])
            values = ([header] if not existing else []) + new_rows
            if not values:
                self.log.info("No new rows for %s / %s", spreadsheet_id, tab)
                return 0
            if created:  # the new tab is exactly this big: write into it
                call = partial(http.values_update, spreadsheet_id, quote_tab(tab) + "!A1",
                               params={"valueInputOption": "RAW"}, body={"values": values})
            else:
                call = partial(http.values_append, spreadsheet_id, quote_tab(tab) + "!A1",
                               {"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                               {"values": values})
            # One try per round: a failed append is retried only after the keys are read again,
            # in case it landed although its answer was lost.
            try:
                self._call("append", spreadsheet_id, tab, call, attempts=1)
            except SheetsError as exc:
                if not exc.retryable:
                    raise
                if attempt == self.max_attempts:
                    raise SheetsError(f"{exc} (after {attempt} attempts)", retryable=True) \
                        from exc
                self._sleep("append", where, str(exc), attempt, exc.retry_after)
                continue
            if created:
                bold = _repeat(props["sheetId"], 0, 1, 0, len(header),
                               {"textFormat": {"bold": True}},
                               "userEnteredFormat.textFormat.bold")
                self._call("format header", spreadsheet_id, tab,
                           partial(http.batch_update, spreadsheet_id, {"requests": [bold]}))
            self.log.info("Appended %d rows to %s / %s", len(new_rows), spreadsheet_id, tab)
            return len(new_rows)
        raise AssertionError("unreachable")

    def read_tab(self, spreadsheet_id: str, tab: str) -> list[list]:
        """The tab's cells as a person sees them (formatted strings), padded to a rectangle."""
        http = self.http
        result = self._call("read", spreadsheet_id, tab,
                            lambda: http.values_get(spreadsheet_id, quote_tab(tab)))
        values = result.get("values", [])
        width = max((len(row) for row in values), default=0)
        return [list(row) + [""] * (width - len(row)) for row in values]


def _retry_after(header: str | None) -> float | None:
    if not header:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(when.tzinfo or dt.UTC)).total_seconds())


def _repeat(sheet_id: int, r0: int, r1: int, c0: int, c1: int, fmt: dict, fields: str) -> dict:
    return {"repeatCell": {
        "range": {"sheetId": sheet_id, "startRowIndex": r0, "endRowIndex": r1,
                  "startColumnIndex": c0, "endColumnIndex": c1},
        "cell": {"userEnteredFormat": fmt},
        "fields": fields,
    }}


def _highlight_runs(
    rules: list[Highlight], header: list[str], records: list[list]
) -> list[tuple[int, int, dict]]:
    """(first row, end row, colour) for runs of consecutive data rows sharing a highlight."""
    runs: list[tuple[int, int, dict]] = []
    for i, record in enumerate(records):
        fill = next((color(rule.color) for rule in rules
                     if rule.matches(record[header.index(rule.column)])), None)
        if fill is None:
            continue
        row = i + 1  # the header is row 0
        if runs and runs[-1][1] == row and runs[-1][2] == fill:
            runs[-1] = (runs[-1][0], row + 1, fill)
        else:
            runs.append((row, row + 1, fill))
    return runs


@dataclass
class _TabPlan:
    """What one tab's write sends: checked and computed before the first API call."""

    tab: str
    header: list[str]
    records: list[list]
    rows: list[list]  # header + data rows, as RAW cell values
    rules: list[Highlight]
    n_rows: int  # header included
    n_cols: int
    stamp: tuple[int, int] | None
    stamp_value: Any
    final_rows: int
    final_cols: int

    def update_cells(self, sheet_id: int) -> dict:
        """One updateCells over the whole new grid: header, rows and the "last updated" cell.

        The range is the grid as the trim leaves it, and Sheets clears the values of the cells
        in it that `rows` leave out (old content right of or below the new data); cells beyond it
        go with the trim. The mask is `userEnteredValue` only, so formats are left to
        `finish_requests`.
        """
        rows: list[dict] = [{"values": [_cell_data(value) for value in row]}
                            for row in self.rows]
        if self.stamp:
            r, c = self.stamp
            rows.extend({"values": []} for _ in range(r + 1 - len(rows)))
            cells = rows[r]["values"]
            cells.extend({} for _ in range(c + 1 - len(cells)))
            cells[c] = _cell_data(cell_value(self.stamp_value))
        return {"updateCells": {
            "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": self.final_rows,
                      "startColumnIndex": 0, "endColumnIndex": self.final_cols},
            "rows": rows,
            "fields": "userEnteredValue",
        }}

    def finish_requests(self, sheet_id: int) -> list[dict]:
        """Trim the grid to the data, freeze and bold the header, colour highlighted rows."""
        requests: list[dict] = [{"updateSheetProperties": {
            "properties": {"sheetId": sheet_id, "gridProperties": {
                "rowCount": self.final_rows, "columnCount": self.final_cols,
                "frozenRowCount": 1}},
            "fields": "gridProperties.rowCount,gridProperties.columnCount,"
                      "gridProperties.frozenRowCount",
        }}]
        requests.append(_repeat(sheet_id, 0, 1, 0, self.n_cols, {"textFormat": {"bold": True}},
                                "userEnteredFormat.textFormat.bold"))
        requests.append(_repeat(sheet_id, 1, self.final_rows, 0, self.final_cols, {},
                                "userEnteredFormat.backgroundColor"))
        for r0, r1, fill in _highlight_runs(self.rules, self.header, self.records):
            requests.append(_repeat(sheet_id, r0, r1, 0, self.n_cols, {"backgroundColor": fill},
                                    "userEnteredFormat.backgroundColor"))
        return requests


def _plan(tab: str, write: TabWrite) -> _TabPlan:
    """Check one tab's write (highlight columns, stamp outside the data) and lay it out."""
    df = write.df
    rules = [Highlight.coerce(rule) for rule in write.highlight or ()]
    header = [str(column) for column in df.columns]
    for rule in rules:
        if rule.column not in header:
            raise ValueError(f"highlight column {rule.column!r} is not in the DataFrame")
    records = df.to_dict("split")["data"] if len(df.columns) else []
    rows = [header] + [[cell_value(v) for v in record] for record in records]
    n_rows, n_cols = len(rows), max(len(header), 1)
    if not header:
        rows = [[""]]

    stamp: tuple[int, int] | None = None
    stamp_value = write.last_updated_value
    if write.last_updated_cell:
        stamp = parse_cell(write.last_updated_cell)
        if stamp[0] < n_rows and stamp[1] < n_cols:
            raise ValueError(f"last_updated_cell {write.last_updated_cell} is inside the data "
                             f"({column_letters(n_cols - 1)}{n_rows} is its last cell)")
        if stamp_value is None:
            now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
            stamp_value = f"Last updated {now} UTC"
    return _TabPlan(
        tab=tab, header=header, records=records, rows=rows, rules=rules,
        n_rows=n_rows, n_cols=n_cols, stamp=stamp, stamp_value=stamp_value,
        final_rows=max(n_rows, MIN_ROWS, stamp[0] + 1 if stamp else 0),
        final_cols=max(n_cols, stamp[1] + 1 if stamp else 0),
    )


def _add_sheet(tab: str, rows: int, cols: int, sheet_id: int | None = None) -> dict:
    """An addSheet for a tab of `rows` x `cols` with a frozen header row."""
    properties: dict[str, Any] = {
        "title": tab,
        "gridProperties": {"rowCount": rows, "columnCount": cols, "frozenRowCount": 1},
    }
    if sheet_id is not None:
        properties["sheetId"] = sheet_id
    return {"addSheet": {"properties": properties}}


def _new_sheet_id(taken: set[int]) -> int:
    """A sheet id no sheet has: random, so that two writers adding tabs do not pick the same."""
    while True:
        sheet_id = random.randint(1, 2**31 - 1)  # noqa: S311 - an id, not a secret
        if sheet_id not in taken:
            return sheet_id


def _write_requests(
    plans: Mapping[str, _TabPlan], props: Mapping[str, dict],
) -> tuple[list[dict], dict[str, int]]:
    """The one batch replacing every tab, and the sheet id chosen for each tab it adds.

    Per tab, in order: addSheet (missing) or a growth (too small for the new grid; new cells are
    empty), the updateCells, then trim, freeze, bold and highlights.
    """
    taken = {p["sheetId"] for p in props.values()}
    requests: list[dict] = []
    added: dict[str, int] = {}
    for tab, plan in plans.items():
        current = props.get(tab)
        if current is None:
            sheet_id = added[tab] = _new_sheet_id(taken)
            taken.add(sheet_id)
            requests.append(_add_sheet(tab, plan.final_rows, plan.final_cols, sheet_id))
        else:
            sheet_id = current["sheetId"]
            grid = current["gridProperties"]
            if grid["rowCount"] < plan.final_rows or grid["columnCount"] < plan.final_cols:
                requests.append({"updateSheetProperties": {
                    "properties": {"sheetId": sheet_id, "gridProperties": {
                        "rowCount": max(grid["rowCount"], plan.final_rows),
                        "columnCount": max(grid["columnCount"], plan.final_cols)}},
                    "fields": "gridProperties.rowCount,gridProperties.columnCount",
                }})
        requests.append(plan.update_cells(sheet_id))
        requests.extend(plan.finish_requests(sheet_id))
    return requests, added


def _cell_data(value: Any) -> dict:
    """A RAW cell value (`cell_value`) as CellData: a typed userEnteredValue, or none (empty).

    stringValue is taken literally (never a formula, and a leading quote is part of the text),
    so strings stay strings as with valueInputOption=RAW.
    """
    if isinstance(value, bool):
        return {"userEnteredValue": {"boolValue": value}}
    if isinstance(value, (int, float)):
        return {"userEnteredValue": {"numberValue": value}}
    if value == "":
        return {}
    return {"userEnteredValue": {"stringValue": str(value)}}
