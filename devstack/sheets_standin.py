"""A Google Sheets API v4 stand-in: the REST calls gspread 6 makes, over plain HTTP on loopback.

Run it with `python -m devstack.sheets_standin --host 127.0.0.1 --port 18083 --state-file PATH`
(devstack/sheets.py does). Request and reply bodies follow Google's published v4 shapes, errors
are Google's `{"error": {"code", "message", "status"}}`, and every `/v4` call needs an OAuth 2
bearer token that this server issued itself.

Auth. `POST /token` is an OAuth 2 token endpoint for the JWT-bearer grant
(`urn:ietf:params:oauth:grant-type:jwt-bearer`), the one google-auth's service-account
credentials use. The server knows one service-account keyfile (`--keyfile`, created on first
start with a fresh RSA key and `token_uri` pointing here); it verifies the assertion's RS256
signature with that key's public half, its `iss` (the account's e-mail), its `aud` (Google's
token URI, which google-auth always signs for) and expiry, then issues a random access token
for the assertion's scopes. `/v4` calls with no token, or one it did not issue or that expired,
get 401 UNAUTHENTICATED; a token without a Sheets or Drive scope gets 403 PERMISSION_DENIED.

Cells. Each cell is kept in Google's CellData shape (`userEnteredValue`, `userEnteredFormat`,
`note`). `valueInputOption=RAW` stores strings as strings and JSON numbers/booleans as numbers/
booleans. `USER_ENTERED` parses strings the way typing them would for the common cases: a leading
`'` forces text, `=...` is a formula, TRUE/FALSE (any case) are booleans, plain decimal numbers
(optional sign, thousands commas, exponent) are numbers; everything else (dates, percentages,
currency) stays text here, where Google would turn it into a formatted number. `null` in a values
array leaves the cell alone and `""` empties it, as in Google. Reading renders
`FORMATTED_VALUE` (the default) as a person sees it: booleans "TRUE"/"FALSE", whole numbers
without a decimal point, other numbers with up to 15 significant digits; number-format patterns
are stored but not applied, and formulas are not evaluated (their text is the value).
Trailing empty cells and rows are omitted from value ranges, as Google does.

Grid. Writes and explicit ranges beyond a sheet's rowCount/columnCount are refused with Google's
"exceeds grid limits" error; `values.append` adds the rows it needs (not columns). A
spreadsheets.batchUpdate or values.batchUpdate is all-or-nothing.

Test controls (no auth) live under `/__admin/`: health, create/read/delete a spreadsheet's whole
state (values and formats), faults (make the next N matching calls answer 429/500/503...; with
`landed`, the call takes effect first and only its answer is the fault, as when a reply is lost
on the way back), the log of calls seen, and reset. State (spreadsheets and issued tokens) is
saved to the state file as JSON after every change, so a restart keeps it.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import math
import os
import re
import secrets
import signal
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

# The `aud` google-auth signs service-account assertions for, whatever the keyfile's token_uri.
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME = 3600
WRITE_SCOPES = frozenset(
    "https://www.googleapis.com/auth/" + s for s in ("spreadsheets", "drive", "drive.file")
)
READ_SCOPES = WRITE_SCOPES | frozenset(
    "https://www.googleapis.com/auth/" + s for s in ("spreadsheets.readonly", "drive.readonly")
)
DEFAULT_ROWS, DEFAULT_COLUMNS = 1000, 26
MAX_CELLS = 10_000_000
INT32_MAX = 2**31 - 1
AUTH_HELP = "See https://developers.google.com/identity/sign-in/web/devconsole-project."
FAULT_MESSAGES = {
    429: (
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Write requests' and limit 'Write requests per minute "
        "per user' of service 'sheets.googleapis.com' for consumer 'project_number:0'.",
    ),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}


class ApiError(Exception):
    """An error answered in Google's JSON error format."""

    def __init__(self, code: int, status: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_ARGUMENT", message)


# --------------------------------------------------------------------------------------------
# A1 notation


class RangeError(ValueError):
    """Text that is not an A1 range."""


@dataclass(frozen=True)
class Bounds:
    """A rectangle of cells, 0-based and half-open; None ends run to the edge of the grid."""

    start_row: int = 0
    end_row: int | None = None
    start_col: int = 0
    end_col: int | None = None
    single_cell: bool = False

    def clamp(self, rows: int, cols: int) -> tuple[int, int, int, int]:
        """(start_row, end_row, start_col, end_col) with open ends closed at the grid's size."""
        end_row = rows if self.end_row is None else self.end_row
        end_col = cols if self.end_col is None else self.end_col
        return self.start_row, end_row, self.start_col, end_col


def column_index(letters: str) -> int:
    """'A' -> 0, 'Z' -> 25, 'AA' -> 26."""
    index = 0
    for char in letters.upper():
        if not "A" <= char <= "Z":
            raise RangeError(f"not a column: {letters!r}")
        index = index * 26 + (ord(char) - 64)
    if index == 0:
        raise RangeError("empty column")
    return index - 1


def column_letters(index: int) -> str:
    """0 -> 'A', 25 -> 'Z', 26 -> 'AA'."""
    if index < 0:
        raise ValueError(index)
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def split_sheet(text: str) -> tuple[str | None, str]:
    """Split `'Flake rate'!A1:F20` into ("Flake rate", "A1:F20").

    A quoted name may contain `!` and doubled quotes (`'It''s'`). Without a `!` the text is
    returned as the second part with no sheet: it may be a sheet title or a range, which only the
    spreadsheet can tell (see `Spreadsheet.resolve`).
    """
    text = text.strip()
    if text.startswith("'"):
        name, i = [], 1
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    name.append("'")
                    i += 2
                    continue
                break
            name.append(text[i])
            i += 1
        else:
            raise RangeError(f"unterminated quote in {text!r}")
        rest = text[i + 1 :]
        if not rest:
            return "".join(name), ""
        if not rest.startswith("!"):
            raise RangeError(f"expected ! after the sheet name in {text!r}")
        return "".join(name), rest[1:]
    if "!" in text:
        name, _, rest = text.rpartition("!")
        return name, rest
    return None, text


_CELL_RE = re.compile(r"^\$?([A-Za-z]{0,3})\$?([0-9]*)$")


def _cell_ref(text: str) -> tuple[int | None, int | None]:
    """'B3' -> (col 1, row 2); 'B' -> (1, None); '3' -> (None, 2)."""
    match = _CELL_RE.match(text.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise RangeError(f"not a cell reference: {text!r}")
    col = column_index(match.group(1)) if match.group(1) else None
    row = None
    if match.group(2):
        row = int(match.group(2)) - 1
        if row < 0:
            raise RangeError(f"rows start at 1: {text!r}")
    return col, row


def parse_bounds(text: str) -> Bounds:
    """Parse the part of an A1 range after the `!`: `A1`, `A1:C3`, `A:C`, `2:5`, `A2:C`."""
    parts = text.split(":")
    if not text.strip() or len(parts) > 2:
        raise RangeError(f"not an A1 range: {text!r}")
    if len(parts) == 1:
        col, row = _cell_ref(parts[0])
        if col is None or row is None:
            raise RangeError(f"a single reference must name a cell: {text!r}")
        return Bounds(row, row + 1, col, col + 1, single_cell=True)
    (c1, r1), (c2, r2) = _cell_ref(parts[0]), _cell_ref(parts[1])
    if (c1 is None) != (c2 is None):
        raise RangeError(f"mixed row and column references: {text!r}")
    if c1 is None:  # whole rows, e.g. 2:5
        if r1 is None or r2 is None:
            raise RangeError(f"not an A1 range: {text!r}")
        r1, r2 = sorted((r1, r2))
        return Bounds(r1, r2 + 1, 0, None)
    c1, c2 = sorted((c1, c2))
    if r1 is not None and r2 is not None:
        r1, r2 = sorted((r1, r2))
    start_row = r1 if r1 is not None else 0
    end_row = r2 + 1 if r2 is not None else None
    if end_row is not None and end_row <= start_row:
        start_row, end_row = end_row - 1, start_row + 1
    return Bounds(start_row, end_row, c1, c2 + 1)


def quote_title(title: str) -> str:
    """A sheet title as A1 notation writes it: quoted unless it is a plain identifier."""
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", title) and not re.fullmatch(
        r"[A-Za-z]{1,3}[0-9]+|[Rr][0-9]*[Cc][0-9]*", title
    )
    return title if plain else "'" + title.replace("'", "''") + "'"


def a1(title: str, start_row: int, end_row: int, start_col: int, end_col: int) -> str:
    """Closed A1 text for a half-open rectangle: `'Flake rate'!A1:F20`, or `Sheet1!B3`."""
    first = f"{column_letters(start_col)}{start_row + 1}"
    last = f"{column_letters(end_col - 1)}{end_row}"
    cells = first if first == last else f"{first}:{last}"
    return f"{quote_title(title)}!{cells}"


# --------------------------------------------------------------------------------------------
# Cell values

_NUMBER_RE = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+-]?\d+)?$")


def _number(value: float) -> float | int:
    """Sheets keeps doubles; whole ones come back without a decimal point."""
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def input_value(value: Any, option: str, where: str) -> dict | None:
    """The userEnteredValue a value from a values request stores; None = leave the cell alone,
    {} = empty it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise invalid(f"Invalid value at '{where}' (TYPE_DOUBLE), {value}")
        return {"numberValue": _number(value)}
    if not isinstance(value, str):
        raise invalid(f"Invalid value at '{where}', {json.dumps(value)}")
    if value == "":
        return {}
    if option == "RAW":
        return {"stringValue": value}
    if value.startswith("'"):
        return {"stringValue": value[1:]}
    if value.startswith("=") and len(value) > 1:
        return {"formulaValue": value}
    if value.strip().upper() in ("TRUE", "FALSE"):
        return {"boolValue": value.strip().upper() == "TRUE"}
    text = value.strip()
    if text and any(ch.isdigit() for ch in text) and _NUMBER_RE.match(text):
        return {"numberValue": _number(float(text.replace(",", "")))}
    return {"stringValue": value}


def format_number(value: float | int) -> str:
    """A number as the automatic format shows it: 3, 2.5, 0.3 (not 0.30000000000000004)."""
    if isinstance(value, int) or (value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return format(value, ".15g").upper()


def render(cell: dict | None, option: str) -> Any:
    """A cell's value as values.get returns it for a valueRenderOption; None when empty."""
    entered = (cell or {}).get("userEnteredValue")
    if not entered:
        return None
    if "formulaValue" in entered:
        return entered["formulaValue"]  # not evaluated by the stand-in
    if "stringValue" in entered:
        return entered["stringValue"]
    if "boolValue" in entered:
        flag = entered["boolValue"]
        return flag if option in ("UNFORMATTED_VALUE", "FORMULA") else ("TRUE" if flag else "FALSE")
    if "numberValue" in entered:
        number = entered["numberValue"]
        return number if option in ("UNFORMATTED_VALUE", "FORMULA") else format_number(number)
    if "errorValue" in entered:
        return "#ERROR!"
    return None


# --------------------------------------------------------------------------------------------
# Field masks ("userEnteredFormat(backgroundColor,textFormat.bold)", "gridProperties/rowCount")


def parse_field_mask(mask: str) -> list[list[str]]:
    """A field mask as a list of paths: 'a(b,c.d),e' -> [['a','b'], ['a','c','d'], ['e']]."""
    text = mask.replace("/", ".").replace(" ", "")
    pos = 0

    def parse_list(prefix: list[str]) -> list[list[str]]:
        nonlocal pos
        paths: list[list[str]] = []
        while pos < len(text):
            start = pos
            while pos < len(text) and text[pos] not in ",()":
                pos += 1
            name = text[start:pos]
            path = prefix + [p for p in name.split(".") if p]
            if pos < len(text) and text[pos] == "(":
                pos += 1
                paths.extend(parse_list(path))
                if pos >= len(text) or text[pos] != ")":
                    raise invalid(f"Invalid field mask: {mask}")
                pos += 1
            elif name:
                paths.append(path)
            if pos < len(text) and text[pos] == ",":
                pos += 1
                continue
            break
        return paths

    paths = parse_list([])
    if pos != len(text) and text[pos] != ")":
        raise invalid(f"Invalid field mask: {mask}")
    if not paths:
        raise invalid("At least one field must be specified in 'fields'.")
    return paths


def apply_mask(target: dict, source: dict, paths: list[list[str]]) -> None:
    """Copy the masked fields from source to target; masked fields absent in source are cleared."""
    for path in paths:
        if path == ["*"]:
            target.clear()
            target.update(copy.deepcopy(source))
            continue
        src: Any = source
        for name in path:
            src = src.get(name) if isinstance(src, dict) else None
        parents = [target]
        for name in path[:-1]:
            node = parents[-1].get(name)
            if not isinstance(node, dict):
                if src is None:
                    break
                node = parents[-1][name] = {}
            parents.append(node)
        else:
            if src is None:
                parents[-1].pop(path[-1], None)
                for depth in range(len(parents) - 1, 0, -1):  # prune emptied parents
                    if not parents[depth]:
                        parents[depth - 1].pop(path[depth - 1], None)
            else:
                parents[-1][path[-1]] = copy.deepcopy(src)


def project(obj: Any, paths: list[list[str]]) -> Any:
    """Partial response for a `fields` query parameter."""
    if any(not p or p == ["*"] for p in paths):
        return obj
    if isinstance(obj, list):
        return [project(item, paths) for item in obj]
    if not isinstance(obj, dict):
        return obj
    groups: dict[str, list[list[str]]] = {}
    for path in paths:
        groups.setdefault(path[0], []).append(path[1:])
    return {key: project(obj[key], subs) for key, subs in groups.items() if key in obj}


# --------------------------------------------------------------------------------------------
# The model


class Sheet:
    def __init__(self, properties: dict, cells: dict | None = None, rules: list | None = None):
        self.properties = properties
        self.cells: dict[tuple[int, int], dict] = cells or {}
        self.conditional_formats: list = rules or []

    @property
    def title(self) -> str:
        return self.properties["title"]

    @property
    def grid(self) -> dict:
        return self.properties.setdefault("gridProperties", {})

    @property
    def rows(self) -> int:
        return self.grid["rowCount"]

    @property
    def cols(self) -> int:
        return self.grid["columnCount"]

    def to_json(self) -> dict:
        return {
            "properties": self.properties,
            "cells": {f"{r},{c}": cell for (r, c), cell in self.cells.items()},
            "conditionalFormats": self.conditional_formats,
        }

    @classmethod
    def from_json(cls, data: dict) -> Sheet:
        cells = {}
        for key, cell in data.get("cells", {}).items():
            r, c = key.split(",")
            cells[int(r), int(c)] = cell
        return cls(data["properties"], cells, data.get("conditionalFormats", []))

    def resource(self) -> dict:
        out: dict[str, Any] = {"properties": copy.deepcopy(self.properties)}
        grid = out["properties"]["gridProperties"]
        for key in ("frozenRowCount", "frozenColumnCount"):
            if not grid.get(key):
                grid.pop(key, None)  # proto3 JSON leaves zero values out
        if self.conditional_formats:
            out["conditionalFormats"] = copy.deepcopy(self.conditional_formats)
        return out

    def check_within(self, start_row: int, end_row: int, start_col: int, end_col: int) -> None:
        if end_row > self.rows or end_col > self.cols or start_row < 0 or start_col < 0:
            shown = a1(self.title, start_row, max(end_row, start_row + 1), start_col,
                       max(end_col, start_col + 1))
            raise invalid(
                f"Range ({shown}) exceeds grid limits. Max rows: {self.rows}, "
                f"max columns: {self.cols}"
            )

    def edit(self, r: int, c: int) -> dict:
        return self.cells.setdefault((r, c), {})

    def tidy(self, r: int, c: int) -> None:
        if not self.cells.get((r, c), True):
            del self.cells[r, c]

    def set_value(self, r: int, c: int, entered: dict) -> None:
        cell = self.edit(r, c)
        if entered:
            cell["userEnteredValue"] = entered
        else:
            cell.pop("userEnteredValue", None)
        self.tidy(r, c)

    def resize(self, rows: int | None = None, cols: int | None = None) -> None:
        if rows is not None:
            if rows < 1:
                raise invalid("Sheets must have at least one row.")
            self.grid["rowCount"] = rows
        if cols is not None:
            if cols < 1:
                raise invalid("Sheets must have at least one column.")
            self.grid["columnCount"] = cols
        self.cells = {k: v for k, v in self.cells.items() if k[0] < self.rows and k[1] < self.cols}

    def shift(self, dimension: str, start: int, delta: int) -> None:
        """Move every cell at or after `start` along `dimension` by `delta`."""
        axis = 0 if dimension == "ROWS" else 1
        moved: dict[tuple[int, int], dict] = {}
        for (r, c), cell in self.cells.items():
            if axis == 0 and r >= start:
                r += delta
            elif axis == 1 and c >= start:
                c += delta
            moved[r, c] = cell
        self.cells = moved

    def values(self, bounds: tuple[int, int, int, int], option: str, major: str) -> list[list]:
        r0, r1, c0, c1 = bounds
        grid = [[render(self.cells.get((r, c)), option) for c in range(c0, c1)]
                for r in range(r0, r1)]
        if major == "COLUMNS":
            grid = [list(col) for col in zip(*grid, strict=True)] if grid else []
        rows = []
        for row in grid:
            while row and row[-1] is None:
                row.pop()
            rows.append(["" if v is None else v for v in row])
        while rows and not rows[-1]:
            rows.pop()
        return rows


class Spreadsheet:
    def __init__(self, spreadsheet_id: str, properties: dict, sheets: list[Sheet]):
        self.id = spreadsheet_id
        self.properties = properties
        self.sheets = sheets

    @classmethod
    def new(cls, spreadsheet_id: str, title: str | None = None,
            sheets: list[dict] | None = None) -> Spreadsheet:
        properties = {
            "title": title or "Untitled spreadsheet",
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "America/Chicago",
        }
        book = cls(spreadsheet_id, properties, [])
        for index, props in enumerate(sheets or [{"title": "Sheet1"}]):
            book.add_sheet({"sheetId": 0 if index == 0 else None, **props})
        return book

    def to_json(self) -> dict:
        return {"properties": self.properties, "sheets": [s.to_json() for s in self.sheets]}

    @classmethod
    def from_json(cls, spreadsheet_id: str, data: dict) -> Spreadsheet:
        return cls(spreadsheet_id, data["properties"], [Sheet.from_json(s) for s in data["sheets"]])

    def total_cells(self) -> int:
        return sum(s.rows * s.cols for s in self.sheets)

    def check_cell_limit(self) -> None:
        if self.total_cells() > MAX_CELLS:
            raise invalid(
                "This action would increase the number of cells in the workbook above the "
                f"limit of {MAX_CELLS} cells."
            )

    def resource(self, include_grid_data: bool = False) -> dict:
        sheets = []
        for sheet in self.sheets:
            entry = sheet.resource()
            if include_grid_data:
                entry["data"] = [grid_data(sheet)]
            sheets.append(entry)
        return {
            "spreadsheetId": self.id,
            "properties": copy.deepcopy(self.properties),
            "sheets": sheets,
            "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{self.id}/edit",
        }

    def sheet_by_title(self, title: str) -> Sheet | None:
        return next((s for s in self.sheets if s.title == title), None)

    def sheet_by_id(self, sheet_id: int) -> Sheet | None:
        return next((s for s in self.sheets if s.properties["sheetId"] == sheet_id), None)

    def reindex(self) -> None:
        for index, sheet in enumerate(self.sheets):
            sheet.properties["index"] = index

    def add_sheet(self, props: dict) -> Sheet:
        props = copy.deepcopy(props)
        title = props.get("title")
        if not title:
            n = len(self.sheets) + 1
            while self.sheet_by_title(f"Sheet{n}"):
                n += 1
            title = f"Sheet{n}"
        if self.sheet_by_title(title):
            raise invalid(
                f'A sheet with the name "{title}" already exists. Please enter another name.'
            )
        # The client may choose the id (later requests of the same batch can then refer to
        # it): a non-negative int32 that no sheet has; without one, the server picks one.
        sheet_id = props.get("sheetId")
        if sheet_id is None:
            sheet_id = secrets.randbelow(2**31 - 2) + 1
            while self.sheet_by_id(sheet_id):
                sheet_id = secrets.randbelow(2**31 - 2) + 1
        elif isinstance(sheet_id, bool) or not isinstance(sheet_id, int) or not (
            0 <= sheet_id <= INT32_MAX
        ):
            raise invalid(f"Invalid sheetId {json.dumps(sheet_id)}: it must be a non-negative "
                          "32-bit integer.")
        elif self.sheet_by_id(sheet_id):
            raise invalid(f"A sheet with the id {sheet_id} already exists.")
        grid = props.get("gridProperties") or {}
        grid.setdefault("rowCount", DEFAULT_ROWS)
        grid.setdefault("columnCount", DEFAULT_COLUMNS)
        index = props.get("index", len(self.sheets))
        properties = {
            **{k: v for k, v in props.items() if k not in ("gridProperties", "index")},
            "sheetId": sheet_id,
            "title": title,
            "index": index,
            "sheetType": props.get("sheetType", "GRID"),
            "gridProperties": grid,
        }
        sheet = Sheet(properties)
        check_frozen(sheet)
        self.sheets.insert(max(0, min(index, len(self.sheets))), sheet)
        self.reindex()
        self.check_cell_limit()
        return sheet

    def resolve(self, text: str) -> tuple[Sheet, Bounds]:
        """An A1 range (or a bare sheet title) to its sheet and bounds."""
        try:
            title, rest = split_sheet(text)
        except RangeError:
            raise invalid(f"Unable to parse range: {text}") from None
        if title is None:
            sheet = self.sheet_by_title(rest.strip())
            if sheet is not None:
                return sheet, Bounds()
            sheet = self.sheets[0]
        else:
            sheet = self.sheet_by_title(title)
            if sheet is None:
                raise invalid(f"Unable to parse range: {text}")
            if not rest:
                return sheet, Bounds()
        try:
            return sheet, parse_bounds(rest)
        except RangeError:
            raise invalid(f"Unable to parse range: {text}") from None


def grid_data(sheet: Sheet) -> dict:
    rows = max((r for r, _ in sheet.cells), default=-1) + 1
    row_data = []
    for r in range(rows):
        cols = max((c for rr, c in sheet.cells if rr == r), default=-1) + 1
        values = []
        for c in range(cols):
            cell = copy.deepcopy(sheet.cells.get((r, c), {}))
            shown = render(cell, "FORMATTED_VALUE")
            if shown is not None:
                cell["formattedValue"] = shown
                entered = cell["userEnteredValue"]
                if "formulaValue" not in entered:
                    cell["effectiveValue"] = entered
            values.append(cell)
        row_data.append({"values": values} if values else {})
    return {"startRow": 0, "startColumn": 0, "rowData": row_data}


def check_frozen(sheet: Sheet) -> None:
    grid = sheet.grid
    if grid.get("frozenRowCount", 0) >= grid["rowCount"]:
        raise invalid("You can't freeze all visible rows on the sheet.")
    if grid.get("frozenColumnCount", 0) >= grid["columnCount"]:
        raise invalid("You can't freeze all visible columns on the sheet.")


# --------------------------------------------------------------------------------------------
# spreadsheets.batchUpdate requests


def _grid_range(book: Spreadsheet, rng: dict) -> tuple[Sheet, tuple[int, int, int, int]]:
    sheet = book.sheet_by_id(rng.get("sheetId", 0))
    if sheet is None:
        raise invalid(f"No grid with id: {rng.get('sheetId', 0)}")
    bounds = (
        rng.get("startRowIndex", 0),
        rng.get("endRowIndex", sheet.rows),
        rng.get("startColumnIndex", 0),
        rng.get("endColumnIndex", sheet.cols),
    )
    sheet.check_within(*bounds)
    return sheet, bounds


def _sheet(book: Spreadsheet, sheet_id: int | None) -> Sheet:
    sheet = book.sheet_by_id(sheet_id or 0)
    if sheet is None:
        raise invalid(f"No grid with id: {sheet_id or 0}")
    return sheet


def req_add_sheet(book: Spreadsheet, body: dict) -> dict:
    sheet = book.add_sheet(body.get("properties") or {})
    return {"addSheet": {"properties": sheet.resource()["properties"]}}


def req_delete_sheet(book: Spreadsheet, body: dict) -> dict:
    sheet = _sheet(book, body.get("sheetId"))
    if len(book.sheets) == 1:
        raise invalid("You can't remove all the sheets in a document.")
    book.sheets.remove(sheet)
    book.reindex()
    return {}


def req_update_sheet_properties(book: Spreadsheet, body: dict) -> dict:
    props = body.get("properties") or {}
    sheet = _sheet(book, props.get("sheetId"))
    if not body.get("fields"):
        raise invalid("At least one field must be specified in 'fields'.")
    paths = parse_field_mask(body["fields"])
    before = copy.deepcopy(sheet.properties)
    updated = copy.deepcopy(before)
    apply_mask(updated, props, paths)
    grid = updated.setdefault("gridProperties", {})
    rows = grid.get("rowCount") or before["gridProperties"]["rowCount"]
    cols = grid.get("columnCount") or before["gridProperties"]["columnCount"]
    grid["rowCount"] = before["gridProperties"]["rowCount"]
    grid["columnCount"] = before["gridProperties"]["columnCount"]
    updated["sheetId"] = before["sheetId"]
    updated.setdefault("sheetType", before.get("sheetType", "GRID"))
    title = updated.get("title")
    if not title:
        raise invalid("The sheet name cannot be empty.")
    if any(s is not sheet and s.title == title for s in book.sheets):
        raise invalid(f'A sheet with the name "{title}" already exists. Please enter another name.')
    index = updated.get("index", before["index"])
    updated["index"] = before["index"]
    sheet.properties = updated
    sheet.resize(rows, cols)
    check_frozen(sheet)
    if index != before["index"]:
        book.sheets.remove(sheet)
        book.sheets.insert(max(0, min(index, len(book.sheets))), sheet)
        book.reindex()
    book.check_cell_limit()
    return {}


def req_update_spreadsheet_properties(book: Spreadsheet, body: dict) -> dict:
    if "fields" not in body:
        raise invalid("At least one field must be specified in 'fields'.")
    apply_mask(book.properties, body.get("properties") or {}, parse_field_mask(body["fields"]))
    return {}


def _dimension(body: dict) -> str:
    dimension = body.get("dimension")
    if dimension not in ("ROWS", "COLUMNS"):
        raise invalid(f"Invalid dimension: {dimension!r}")
    return dimension


def req_append_dimension(book: Spreadsheet, body: dict) -> dict:
    sheet = _sheet(book, body.get("sheetId"))
    length = body.get("length", 0)
    if length <= 0:
        raise invalid("length must be greater than 0.")
    if _dimension(body) == "ROWS":
        sheet.resize(rows=sheet.rows + length)
    else:
        sheet.resize(cols=sheet.cols + length)
    book.check_cell_limit()
    return {}


def _dimension_range(book: Spreadsheet, body: dict) -> tuple[Sheet, str, int, int]:
    rng = body.get("range") or {}
    sheet = _sheet(book, rng.get("sheetId"))
    dimension = _dimension(rng)
    size = sheet.rows if dimension == "ROWS" else sheet.cols
    start, end = rng.get("startIndex", 0), rng.get("endIndex", size)
    if not 0 <= start < end:
        raise invalid("The range must have a start index less than its end index.")
    return sheet, dimension, start, end


def req_delete_dimension(book: Spreadsheet, body: dict) -> dict:
    sheet, dimension, start, end = _dimension_range(book, body)
    size = sheet.rows if dimension == "ROWS" else sheet.cols
    if end > size:
        raise invalid(
            f"Cannot delete a {'row' if dimension == 'ROWS' else 'column'} that doesn't exist. "
            f"Tried to delete index {end - 1} but there are only {size}."
        )
    count = end - start
    if count >= size:
        what = "rows" if dimension == "ROWS" else "columns"
        raise invalid(f"You can't delete all the {what} on the sheet.")
    sheet.cells = {k: v for k, v in sheet.cells.items()
                   if not start <= k[0 if dimension == "ROWS" else 1] < end}
    sheet.shift(dimension, end, -count)
    key, frozen_key = ("rowCount", "frozenRowCount") if dimension == "ROWS" else (
        "columnCount", "frozenColumnCount")
    sheet.grid[key] -= count
    frozen = sheet.grid.get(frozen_key, 0)
    if frozen > start:
        sheet.grid[frozen_key] = max(start, frozen - count)
    check_frozen(sheet)
    return {}


def req_insert_dimension(book: Spreadsheet, body: dict) -> dict:
    sheet, dimension, start, end = _dimension_range(book, body)
    size = sheet.rows if dimension == "ROWS" else sheet.cols
    if start > size:
        raise invalid("Cannot insert beyond the end of the sheet.")
    sheet.shift(dimension, start, end - start)
    key = "rowCount" if dimension == "ROWS" else "columnCount"
    sheet.grid[key] += end - start
    book.check_cell_limit()
    return {}


def _mask(body: dict) -> list[list[str]]:
    if not body.get("fields"):
        raise invalid("At least one field must be specified in 'fields'.")
    return parse_field_mask(body["fields"])


def req_repeat_cell(book: Spreadsheet, body: dict) -> dict:
    sheet, (r0, r1, c0, c1) = _grid_range(book, body.get("range") or {})
    paths, source = _mask(body), body.get("cell") or {}
    for r in range(r0, r1):
        for c in range(c0, c1):
            apply_mask(sheet.edit(r, c), source, paths)
            sheet.tidy(r, c)
    return {}


def req_update_cells(book: Spreadsheet, body: dict) -> dict:
    paths, rows = _mask(body), body.get("rows") or []
    if "range" in body:
        sheet, (r0, r1, c0, c1) = _grid_range(book, body["range"])
    elif "start" in body:
        start = body["start"]
        sheet = _sheet(book, start.get("sheetId"))
        r0, c0 = start.get("rowIndex", 0), start.get("columnIndex", 0)
        r1 = r0 + len(rows)
        c1 = c0 + max((len(row.get("values") or []) for row in rows), default=0)
        sheet.check_within(r0, r1, c0, c1)
    else:
        raise invalid("Either 'start' or 'range' must be set.")
    for r in range(r0, r1):
        values = (rows[r - r0].get("values") or []) if r - r0 < len(rows) else []
        for c in range(c0, c1):
            source = values[c - c0] if c - c0 < len(values) else {}
            if source and "userEnteredValue" in source:
                entered = source["userEnteredValue"]
                if not isinstance(entered, dict) or len(entered) > 1:
                    raise invalid("userEnteredValue must set exactly one of its value kinds.")
            apply_mask(sheet.edit(r, c), source, paths)
            sheet.tidy(r, c)
    return {}


def req_add_conditional_format_rule(book: Spreadsheet, body: dict) -> dict:
    rule = body.get("rule") or {}
    ranges = rule.get("ranges") or []
    if not ranges:
        raise invalid("A conditional format rule needs at least one range.")
    if ("booleanRule" in rule) == ("gradientRule" in rule):
        raise invalid("A conditional format rule needs exactly one of booleanRule, gradientRule.")
    sheets = {_grid_range(book, rng)[0].properties["sheetId"] for rng in ranges}
    if len(sheets) != 1:
        raise invalid("All ranges of a conditional format rule must be on the same sheet.")
    sheet = _sheet(book, sheets.pop())
    index = body.get("index", 0)
    sheet.conditional_formats.insert(max(0, min(index, len(sheet.conditional_formats))),
                                     copy.deepcopy(rule))
    return {}


def req_delete_conditional_format_rule(book: Spreadsheet, body: dict) -> dict:
    sheet = _sheet(book, body.get("sheetId"))
    index = body.get("index", 0)
    if not 0 <= index < len(sheet.conditional_formats):
        raise invalid(f"No conditional format on sheet {sheet.properties['sheetId']} at "
                      f"index {index}")
    rule = sheet.conditional_formats.pop(index)
    return {"deleteConditionalFormatRule": {"rule": rule}}


def req_auto_resize_dimensions(book: Spreadsheet, body: dict) -> dict:
    # Column widths are presentation only; the stand-in keeps no pixel sizes.
    dims = body.get("dimensions") or {}
    _sheet(book, dims.get("sheetId"))
    return {}


REQUESTS = {
    "addSheet": req_add_sheet,
    "deleteSheet": req_delete_sheet,
    "updateSheetProperties": req_update_sheet_properties,
    "updateSpreadsheetProperties": req_update_spreadsheet_properties,
    "appendDimension": req_append_dimension,
    "deleteDimension": req_delete_dimension,
    "insertDimension": req_insert_dimension,
    "repeatCell": req_repeat_cell,
    "updateCells": req_update_cells,
    "addConditionalFormatRule": req_add_conditional_format_rule,
    "deleteConditionalFormatRule": req_delete_conditional_format_rule,
    "autoResizeDimensions": req_auto_resize_dimensions,
}


# --------------------------------------------------------------------------------------------
# The server's state


class Store:
    """Spreadsheets, issued tokens, faults and the call log, behind one lock."""

    def __init__(self, state_file: Path, keyfile: Path | None, seeds: list[str]):
        self.lock = threading.RLock()
        self.state_file = state_file
        self.keyfile = keyfile
        self.seeds = seeds
        self.books: dict[str, Spreadsheet] = {}
        self.tokens: dict[str, dict] = {}
        self.faults: list[dict] = []
        self.calls: list[dict] = []
        self.load()
        self.seed()

    def load(self) -> None:
        if not self.state_file.exists():
            return
        data = json.loads(self.state_file.read_text())
        books = data.get("spreadsheets", {})
        self.books = {sid: Spreadsheet.from_json(sid, book) for sid, book in books.items()}
        self.tokens = data.get("tokens", {})

    def save(self) -> None:
        now = time.time()
        self.tokens = {t: v for t, v in self.tokens.items() if v["exp"] > now}
        data = {
            "spreadsheets": {sid: book.to_json() for sid, book in self.books.items()},
            "tokens": self.tokens,
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.state_file)

    def seed(self) -> None:
        for sid in self.seeds:
            if sid not in self.books:
                self.books[sid] = Spreadsheet.new(sid, title=sid)
        self.save()

    def book(self, spreadsheet_id: str) -> Spreadsheet:
        book = self.books.get(spreadsheet_id)
        if book is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        return book

    def mutate(self, spreadsheet_id: str, change):
        """Run change(book) on a copy and keep it only if it succeeds (batches are atomic)."""
        book = self.book(spreadsheet_id)
        draft = copy.deepcopy(book)
        result = change(draft)
        self.books[spreadsheet_id] = draft
        self.save()
        return result


# --------------------------------------------------------------------------------------------
# Service-account keyfile and the token endpoint


def ensure_keyfile(path: Path, token_uri: str, project: str = "demo") -> dict:
    """A service-account keyfile for devstack (created once; token_uri kept current)."""
    if path.exists():
        info = json.loads(path.read_text())
        if info.get("token_uri") != token_uri:
            info["token_uri"] = token_uri
            path.write_text(json.dumps(info, indent=2))
        return info
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"precinct-devstack@{project}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": project,
        "private_key_id": secrets.token_hex(20),
        "private_key": pem,
        "client_email": email,
        "client_id": str(100000000000000000000 + secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
        + email.replace("@", "%40"),
        "universe_domain": "googleapis.com",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(info, handle, indent=2)
    return info


# Public keys derived from keyfiles, by the keyfile's content hash (see _public_pem).
_PUBLIC_KEYS: dict[str, tuple[str, dict]] = {}
_PUBLIC_KEYS_LOCK = threading.Lock()


def _public_pem(keyfile: Path) -> tuple[str, dict]:
    """The keyfile's public key (PEM) and the account fields the token endpoint checks.

    Deriving the public key means loading the RSA private key, about 30 ms of CPU (cryptography
    validates the key). Google checks assertions against public keys it already holds, so the
    stand-in derives it once per keyfile content rather than on every token request: on a busy
    2-core machine that CPU was taken from whatever asked for the token. A rewritten keyfile
    (new key, or a new token_uri from `ensure_keyfile`) has a new hash and is read again.
    """
    raw = keyfile.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    with _PUBLIC_KEYS_LOCK:
        cached = _PUBLIC_KEYS.get(digest)
    if cached is not None:
        return cached
    from cryptography.hazmat.primitives import serialization

    info = json.loads(raw)
    key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
    pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    account = {"client_email": info["client_email"],
               "private_key_id": info.get("private_key_id")}
    with _PUBLIC_KEYS_LOCK:
        _PUBLIC_KEYS.clear()  # only the current keyfile's key is ever needed
        _PUBLIC_KEYS[digest] = (pem, account)
    return pem, account


class OAuthError(Exception):
    def __init__(self, error: str, description: str, code: int = 400):
        super().__init__(description)
        self.error, self.description, self.code = error, description, code


def issue_token(store: Store, form: dict[str, list[str]]) -> dict:
    from google.auth import jwt

    grant = (form.get("grant_type") or [""])[0]
    if grant != JWT_BEARER:
        raise OAuthError("unsupported_grant_type", f"Invalid grant_type: {grant}")
    assertion = (form.get("assertion") or [""])[0]
    if not assertion or store.keyfile is None or not store.keyfile.exists():
        raise OAuthError("invalid_grant", "Invalid JWT Signature.")
    public_pem, info = _public_pem(store.keyfile)
    try:
        header = json.loads(base64.urlsafe_b64decode(assertion.split(".")[0] + "=="))
        claims = jwt.decode(assertion, certs=public_pem, audience=GOOGLE_TOKEN_URI,
                            clock_skew_in_seconds=10)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        message = str(exc)
        description = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a " \
            "reasonable timeframe." if "expired" in message.lower() or "early" in message.lower() \
            else "Invalid JWT Signature."
        raise OAuthError("invalid_grant", description) from None
    if header.get("kid") not in (None, info.get("private_key_id")):
        raise OAuthError("invalid_grant", "Invalid JWT Signature.")
    if claims.get("iss") != info["client_email"]:
        raise OAuthError("invalid_grant", "Invalid JWT Signature.")
    scope = claims.get("scope", "")
    if not scope:
        raise OAuthError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
    token = "ya29.standin-" + secrets.token_urlsafe(32)
    with store.lock:
        store.tokens[token] = {"exp": time.time() + TOKEN_LIFETIME, "scope": scope,
                               "sub": claims["iss"]}
        store.save()
    return {"access_token": token, "expires_in": TOKEN_LIFETIME - 1, "token_type": "Bearer"}


# --------------------------------------------------------------------------------------------
# Values calls


def _value_input_option(params: dict, body: dict | None = None) -> str:
    option = (params.get("valueInputOption") or [None])[0] or (body or {}).get("valueInputOption")
    if not option or option == "INPUT_VALUE_OPTION_UNSPECIFIED":
        raise invalid("'valueInputOption' is required but not specified")
    if option not in ("RAW", "USER_ENTERED"):
        raise invalid(f"Invalid value at 'value_input_option', \"{option}\"")
    return option


def _param(params: dict, name: str, default: str) -> str:
    return (params.get(name) or [default])[0] or default


def write_values(book: Spreadsheet, rng: str, values: Any, major: str, option: str,
                 where: str = "data.values", append_rows: bool = False) -> dict:
    """Write a ValueRange; returns an UpdateValuesResponse (without updatedData)."""
    sheet, bounds = book.resolve(rng)
    if values is None:
        values = []
    if not isinstance(values, list) or not all(isinstance(row, list) for row in values):
        raise invalid(f"Invalid value at '{where}': values must be a list of lists")
    if major == "COLUMNS":
        height = max((len(col) for col in values), default=0)
        values = [[col[i] if i < len(col) else None for col in values] for i in range(height)]
    elif major not in ("ROWS", "DIMENSION_UNSPECIFIED"):
        raise invalid(f"Invalid value at 'data.major_dimension', \"{major}\"")
    height = len(values)
    width = max((len(row) for row in values), default=0)
    r0, c0 = bounds.start_row, bounds.start_col
    if not bounds.single_cell:
        # an explicit range must itself lie on the grid, and hold the data
        sheet.check_within(*bounds.clamp(sheet.rows, sheet.cols))
        if bounds.end_row is not None and r0 + height > bounds.end_row:
            raise invalid(f"Requested writing within range [{rng}], but tried writing to row "
                          f"[{r0 + height}]")
        if bounds.end_col is not None and c0 + width > bounds.end_col:
            raise invalid(f"Requested writing within range [{rng}], but tried writing to column "
                          f"[{column_letters(c0 + width - 1)}]")
    if append_rows and r0 + height > sheet.rows:
        sheet.resize(rows=r0 + height)
        book.check_cell_limit()
    if height and width:
        sheet.check_within(r0, r0 + height, c0, c0 + width)
    cells = 0
    rows_touched, cols_touched = set(), set()
    for i, row in enumerate(values):
        for j, value in enumerate(row):
            entered = input_value(value, option, f"{where}[{i}][{j}]")
            if entered is None:
                continue
            sheet.set_value(r0 + i, c0 + j, entered)
            cells += 1
            rows_touched.add(i)
            cols_touched.add(j)
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if height and width:
        out["updatedRange"] = a1(sheet.title, r0, r0 + height, c0, c0 + width)
    else:
        out["updatedRange"] = a1(sheet.title, r0, r0 + 1, c0, c0 + 1)
    if cells:
        out.update(updatedRows=len(rows_touched), updatedColumns=len(cols_touched),
                   updatedCells=cells)
    return out


def read_values(book: Spreadsheet, rng: str, params: dict) -> dict:
    sheet, bounds = book.resolve(rng)
    box = bounds.clamp(sheet.rows, sheet.cols)
    sheet.check_within(*box)
    major = _param(params, "majorDimension", "ROWS")
    option = _param(params, "valueRenderOption", "FORMATTED_VALUE")
    if option not in ("FORMATTED_VALUE", "UNFORMATTED_VALUE", "FORMULA"):
        raise invalid(f"Invalid value at 'value_render_option', \"{option}\"")
    out: dict[str, Any] = {"range": a1(sheet.title, *box), "majorDimension": major}
    values = sheet.values(box, option, major)
    if values:
        out["values"] = values
    return out


def clear_values(book: Spreadsheet, rng: str) -> str:
    sheet, bounds = book.resolve(rng)
    r0, r1, c0, c1 = box = bounds.clamp(sheet.rows, sheet.cols)
    sheet.check_within(*box)
    for (r, c) in list(sheet.cells):
        if r0 <= r < r1 and c0 <= c < c1:
            sheet.set_value(r, c, {})
    return a1(sheet.title, *box)


def append_values(book: Spreadsheet, rng: str, params: dict, body: dict) -> dict:
    option = _value_input_option(params)
    insert = _param(params, "insertDataOption", "OVERWRITE")
    if insert not in ("OVERWRITE", "INSERT_ROWS"):
        raise invalid(f"Invalid value at 'insert_data_option', \"{insert}\"")
    sheet, bounds = book.resolve(rng)
    r0, r1, c0, c1 = bounds.clamp(sheet.rows, sheet.cols)
    if bounds.single_cell:
        r1, c1 = sheet.rows, sheet.cols
    # The "table": the rows holding data within the range's columns; values go after its last row
    # starting at its first column (Google's own table detection is subtler than this).
    used = [(r, c) for (r, c), cell in sheet.cells.items()
            if r0 <= r < r1 and c0 <= c < c1 and cell.get("userEnteredValue")]
    out: dict[str, Any] = {"spreadsheetId": book.id}
    if used:
        first_row, last_row = min(r for r, _ in used), max(r for r, _ in used)
        first_col, last_col = min(c for _, c in used), max(c for _, c in used)
        out["tableRange"] = a1(sheet.title, first_row, last_row + 1, first_col, last_col + 1)
        start_row, start_col = last_row + 1, first_col
    else:
        start_row, start_col = r0, c0
    values = body.get("values") or []
    major = body.get("majorDimension") or "ROWS"
    height = len(values) if major != "COLUMNS" else max((len(c) for c in values), default=0)
    if insert == "INSERT_ROWS" and height:
        sheet.shift("ROWS", start_row, height)
        sheet.resize(rows=sheet.rows + height)
        book.check_cell_limit()
    anchor = a1(sheet.title, start_row, start_row + 1, start_col, start_col + 1)
    out["updates"] = write_values(book, anchor, values, major, option, "values",
                                  append_rows=True)
    return out


# --------------------------------------------------------------------------------------------
# HTTP


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Keep-alive responses written in pieces would otherwise wait ~40 ms for a delayed ACK.
    disable_nagle_algorithm = True
    server_version = "SheetsStandin/1.0"
    store: Store  # set on the subclass made by make_server

    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.log_date_time_string()} {format % args}\n")

    # -- plumbing --------------------------------------------------------------------------
    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def do_PUT(self) -> None:
        self.dispatch("PUT")

    def do_DELETE(self) -> None:
        self.dispatch("DELETE")

    def reply(self, code: int, body: Any, headers: dict | None = None) -> None:
        data = json.dumps(body, indent=2).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self, raw: bytes) -> dict:
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise invalid("Invalid JSON payload received. Unexpected token.") from None
        if not isinstance(body, dict):
            raise invalid("Invalid JSON payload received. Expected an object.")
        return body

    def dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        raw_path, params = parts.path, parse_qs(parts.query, keep_blank_values=True)
        raw = self.read_body()
        status = 500
        try:
            if raw_path.startswith("/__admin/"):
                status, body = self.admin(method, raw_path[len("/__admin/"):], raw)
                self.reply(status, body)
                return
            if raw_path == "/token" and method == "POST":
                try:
                    form = parse_qs(raw.decode(), keep_blank_values=True)
                    status, body = 200, issue_token(self.store, form)
                    self.reply(200, body, {"Cache-Control": "no-store"})
                except OAuthError as exc:
                    status = exc.code
                    self.reply(exc.code, {"error": exc.error, "error_description": exc.description})
                return
            if not raw_path.startswith("/v4/"):
                raise ApiError(404, "NOT_FOUND", f"Method not found: {method} {raw_path}")
            self.authorize(method)
            fault = self.take_fault(method, unquote(raw_path))
            if fault is not None and not fault["landed"]:
                raise fault_error(fault)
            status, body = 200, self.api(method, raw_path, params, raw)
            if fault is not None:  # the call took effect, but its answer is lost
                raise fault_error(fault)
            self.reply(200, body)
        except ApiError as exc:
            status = exc.code
            self.reply(exc.code, exc.body(), exc.headers)
        except Exception as exc:  # noqa: BLE001 - a stand-in bug must still answer in Google's format
            status = 500
            self.log_error("internal error: %r", exc)
            self.reply(500, ApiError(500, "INTERNAL", "Internal error encountered.").body())
        finally:
            if not raw_path.startswith("/__admin/"):
                with self.store.lock:
                    self.store.calls.append({
                        "method": method, "path": unquote(raw_path),
                        "query": {k: v if len(v) > 1 else v[0] for k, v in params.items()},
                        "status": status, "time": time.time(),
                    })

    def authorize(self, method: str) -> None:
        header = self.headers.get("Authorization") or ""
        challenge = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        if not header.startswith("Bearer ") or not header[7:].strip():
            raise ApiError(401, "UNAUTHENTICATED",
                           "Request is missing required authentication credential. Expected "
                           "OAuth 2 access token, login cookie or other valid authentication "
                           f"credential. {AUTH_HELP}", challenge)
        with self.store.lock:
            grant = self.store.tokens.get(header[7:].strip())
        if grant is None or grant["exp"] <= time.time():
            raise ApiError(401, "UNAUTHENTICATED",
                           "Request had invalid authentication credentials. Expected OAuth 2 "
                           "access token, login cookie or other valid authentication credential. "
                           f"{AUTH_HELP}", challenge)
        scopes = set(grant["scope"].split())
        allowed = READ_SCOPES if method == "GET" else WRITE_SCOPES
        if not scopes & allowed:
            raise ApiError(403, "PERMISSION_DENIED",
                           "Request had insufficient authentication scopes.")

    def take_fault(self, method: str, path: str) -> dict | None:
        """The first injected fault matching this call (one of its `count` used up), if any."""
        with self.store.lock:
            for fault in self.store.faults:
                if fault["method"] and fault["method"] != method:
                    continue
                if fault["path"] and not re.search(fault["path"], path):
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.store.faults.remove(fault)
                return fault
        return None

    # -- the v4 API ------------------------------------------------------------------------
    def api(self, method: str, raw_path: str, params: dict, raw: bytes) -> dict:
        store = self.store
        if raw_path.rstrip("/") == "/v4/spreadsheets" and method == "POST":
            return self.create(self.json_body(raw))
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(.*)$", raw_path)
        if not match:
            raise ApiError(404, "NOT_FOUND", f"Method not found: {method} {raw_path}")
        sid, rest = unquote(match.group(1)), match.group(2)
        with store.lock:
            if rest == "" and method == "GET":
                book = store.book(sid)
                grid = _param(params, "includeGridData", "false").lower() == "true"
                resource = book.resource(include_grid_data=grid)
                fields = _param(params, "fields", "")
                return project(resource, parse_field_mask(fields)) if fields else resource
            if rest == ":batchUpdate" and method == "POST":
                return self.batch_update(sid, self.json_body(raw))
            if rest == "/values:batchGet" and method == "GET":
                book = store.book(sid)
                ranges = params.get("ranges") or []
                return {"spreadsheetId": sid,
                        "valueRanges": [read_values(book, r, params) for r in ranges]}
            if rest == "/values:batchUpdate" and method == "POST":
                return self.values_batch_update(sid, self.json_body(raw))
            if rest == "/values:batchClear" and method == "POST":
                ranges = self.json_body(raw).get("ranges") or []
                cleared = store.mutate(sid, lambda b: [clear_values(b, r) for r in ranges])
                return {"spreadsheetId": sid, "clearedRanges": cleared}
            if rest.startswith("/values/"):
                segment = rest[len("/values/"):]
                action = ""
                for suffix in (":append", ":clear"):
                    if segment.endswith(suffix):
                        segment, action = segment[: -len(suffix)], suffix
                rng = unquote(segment)
                if action == "" and method == "GET":
                    return read_values(store.book(sid), rng, params)
                if action == "" and method == "PUT":
                    return self.values_update(sid, rng, params, self.json_body(raw))
                if action == ":append" and method == "POST":
                    body = self.json_body(raw)
                    return store.mutate(sid, lambda b: append_values(b, rng, params, body))
                if action == ":clear" and method == "POST":
                    return {"spreadsheetId": sid,
                            "clearedRange": store.mutate(sid, lambda b: clear_values(b, rng))}
        raise ApiError(404, "NOT_FOUND", f"Method not found: {method} {raw_path}")

    def create(self, body: dict) -> dict:
        sid = body.get("spreadsheetId") or base64.urlsafe_b64encode(
            secrets.token_bytes(33)).decode().rstrip("=")
        with self.store.lock:
            if sid in self.store.books:
                raise ApiError(409, "ALREADY_EXISTS", f"Spreadsheet {sid} already exists.")
            sheets = [s.get("properties") or {} for s in body.get("sheets") or []] or None
            book = Spreadsheet.new(sid, (body.get("properties") or {}).get("title"), sheets)
            for key, value in (body.get("properties") or {}).items():
                if key != "title":
                    book.properties[key] = value
            self.store.books[sid] = book
            self.store.save()
            return book.resource()

    def batch_update(self, sid: str, body: dict) -> dict:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            raise invalid("Must specify at least one request.")

        def change(book: Spreadsheet) -> list[dict]:
            replies = []
            for i, request in enumerate(requests):
                if not isinstance(request, dict) or len(request) != 1:
                    raise invalid(f"Invalid requests[{i}]: exactly one kind of request must "
                                  "be set.")
                (kind, payload), = request.items()
                handler = REQUESTS.get(kind)
                if handler is None:
                    raise invalid(f"Invalid JSON payload received. Unknown name \"{kind}\" at "
                                  f"'requests[{i}]': Cannot find field (or the stand-in does "
                                  "not implement it).")
                try:
                    replies.append(handler(book, payload or {}))
                except ApiError as exc:
                    if exc.code == 400 and not exc.message.startswith("Invalid requests["):
                        exc.message = f"Invalid requests[{i}].{kind}: {exc.message}"
                    raise
            return replies

        replies = self.store.mutate(sid, change)
        out: dict[str, Any] = {"spreadsheetId": sid, "replies": replies}
        if body.get("includeSpreadsheetInResponse"):
            out["updatedSpreadsheet"] = self.store.book(sid).resource()
        return out

    def values_update(self, sid: str, rng: str, params: dict, body: dict) -> dict:
        option = _value_input_option(params)
        if body.get("range") and body["range"] != rng:
            sheet_a, bounds_a = self.store.book(sid).resolve(body["range"])
            sheet_b, bounds_b = self.store.book(sid).resolve(rng)
            if (sheet_a.title, bounds_a) != (sheet_b.title, bounds_b):
                raise invalid(f"Requested range [{rng}] does not match the body range "
                              f"[{body['range']}]")
        major = body.get("majorDimension") or "ROWS"
        result = self.store.mutate(
            sid, lambda b: write_values(b, rng, body.get("values"), major, option, "values")
        )
        if _param(params, "includeValuesInResponse", "false").lower() == "true":
            result["updatedData"] = read_values(self.store.book(sid), result["updatedRange"],
                                                {"valueRenderOption": [
                                                    _param(params, "responseValueRenderOption",
                                                           "FORMATTED_VALUE")]})
        return result

    def values_batch_update(self, sid: str, body: dict) -> dict:
        option = _value_input_option({}, body)
        data = body.get("data") or []

        def change(book: Spreadsheet) -> list[dict]:
            return [
                write_values(book, item.get("range", ""), item.get("values"),
                             item.get("majorDimension") or "ROWS", option,
                             f"data[{i}].values")
                for i, item in enumerate(data)
            ]

        responses = self.store.mutate(sid, change)
        if body.get("includeValuesInResponse"):
            book = self.store.book(sid)
            for response in responses:
                response["updatedData"] = read_values(book, response["updatedRange"], {})
        sheets = {r["updatedRange"].rsplit("!", 1)[0] for r in responses if r.get("updatedCells")}
        out: dict[str, Any] = {"spreadsheetId": sid, "responses": responses}
        totals = {
            "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
            "totalUpdatedColumns": sum(r.get("updatedColumns", 0) for r in responses),
            "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
            "totalUpdatedSheets": len(sheets),
        }
        out.update({k: v for k, v in totals.items() if v})
        return out

    # -- test controls -----------------------------------------------------------------------
    def admin(self, method: str, path: str, raw: bytes) -> tuple[int, Any]:
        store = self.store
        body = self.json_body(raw)
        with store.lock:
            if path == "health" and method == "GET":
                return 200, {"status": "ok", "spreadsheets": len(store.books)}
            if path == "spreadsheets" and method == "POST":
                sid = body.get("spreadsheetId")
                if not sid:
                    raise invalid("spreadsheetId is required")
                if sid in store.books and not body.get("replace"):
                    if body.get("ifMissing"):
                        return 200, store.books[sid].resource()
                    raise ApiError(409, "ALREADY_EXISTS", f"Spreadsheet {sid} already exists.")
                titles = body.get("sheets") or ["Sheet1"]
                store.books[sid] = Spreadsheet.new(
                    sid, body.get("title") or sid, [{"title": t} for t in titles]
                )
                store.save()
                return 200, store.books[sid].resource()
            if path.startswith("spreadsheets/"):
                sid = unquote(path[len("spreadsheets/"):])
                if method == "DELETE":
                    store.books.pop(sid, None)
                    store.save()
                    return 200, {}
                if method == "GET":
                    return 200, dump_state(store.book(sid))
            if path == "faults" and method == "POST":
                status = int(body.get("status", 429))
                fault = {
                    "status": status,
                    "count": int(body.get("count", 1)),
                    "method": (body.get("method") or "").upper() or None,
                    "path": body.get("path") or None,
                    "retry_after": body.get("retry_after"),
                    "message": body.get("message"),
                    "landed": bool(body.get("landed")),
                }
                if fault["path"]:
                    try:
                        re.compile(fault["path"])
                    except re.error as exc:
                        raise invalid(f"bad path pattern: {exc}") from None
                store.faults.append(fault)
                return 200, {"faults": store.faults}
            if path == "faults" and method == "GET":
                return 200, {"faults": store.faults}
            if path == "faults" and method == "DELETE":
                store.faults.clear()
                return 200, {"faults": []}
            if path == "calls" and method == "GET":
                return 200, {"calls": store.calls}
            if path == "calls" and method == "DELETE":
                store.calls.clear()
                return 200, {"calls": []}
            if path == "reset" and method == "POST":
                store.books.clear()
                store.faults.clear()
                store.calls.clear()
                if body.get("tokens"):
                    store.tokens.clear()
                store.seed()
                return 200, {"status": "reset"}
        raise ApiError(404, "NOT_FOUND", f"No admin route {method} /__admin/{path}")


def fault_error(fault: dict) -> ApiError:
    code = fault["status"]
    status, message = FAULT_MESSAGES.get(code, ("UNKNOWN", "Injected fault."))
    headers = {}
    if fault.get("retry_after") is not None:
        headers["Retry-After"] = str(fault["retry_after"])
    return ApiError(code, status, fault.get("message") or message, headers)


def dump_state(book: Spreadsheet) -> dict:
    """A whole spreadsheet as a person sees it: values (formatted), formats, notes, rules."""
    sheets = []
    for sheet in book.sheets:
        box = (0, sheet.rows, 0, sheet.cols)
        formats, notes = {}, {}
        for (r, c), cell in sorted(sheet.cells.items()):
            name = f"{column_letters(c)}{r + 1}"
            if cell.get("userEnteredFormat"):
                formats[name] = cell["userEnteredFormat"]
            if cell.get("note"):
                notes[name] = cell["note"]
        sheets.append({
            **sheet.resource(),
            "values": sheet.values(box, "FORMATTED_VALUE", "ROWS"),
            "unformattedValues": sheet.values(box, "UNFORMATTED_VALUE", "ROWS"),
            "formats": formats,
            "notes": notes,
        })
    return {"spreadsheetId": book.id, "properties": book.properties, "sheets": sheets}


def make_server(host: str, port: int, state_file: Path, keyfile: Path | None,
                seeds: list[str] | None = None) -> ThreadingHTTPServer:
    store = Store(state_file, keyfile, seeds or [])
    handler = type("BoundHandler", (Handler,), {"store": store})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.sheets_standin",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=18083)
    parser.add_argument("--state-file", type=Path, required=True)
    parser.add_argument("--keyfile", type=Path,
                        help="service-account keyfile whose JWTs the token endpoint accepts "
                             "(created if missing; default: next to the state file)")
    parser.add_argument("--seed", action="append", default=[], metavar="SPREADSHEET_ID",
                        help="a spreadsheet that always exists (kept across resets)")
    args = parser.parse_args(argv)
    keyfile = args.keyfile or args.state_file.parent / "service_account.json"
    ensure_keyfile(keyfile, f"http://{args.host}:{args.port}/token")
    server = make_server(args.host, args.port, args.state_file, keyfile, args.seed)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"sheets stand-in on http://{args.host}:{args.port} (state {args.state_file})",
          flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
