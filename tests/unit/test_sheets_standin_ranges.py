"""The Sheets stand-in's A1 notation: parsing, formatting, and resolving against a spreadsheet."""

from __future__ import annotations

import pytest

from devstack.sheets_standin import (
    ApiError,
    Bounds,
    RangeError,
    Spreadsheet,
    a1,
    column_index,
    column_letters,
    parse_bounds,
    parse_field_mask,
    quote_title,
    split_sheet,
)


@pytest.mark.parametrize(
    ("letters", "index"), [("A", 0), ("Z", 25), ("AA", 26), ("AZ", 51), ("BA", 52), ("ZZZ", 18277)]
)
def test_column_letters_round_trip(letters: str, index: int) -> None:
    assert column_index(letters) == index
    assert column_index(letters.lower()) == index
    assert column_letters(index) == letters


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'Flake rate'!A1:F20", ("Flake rate", "A1:F20")),
        ("Sheet1!A1", ("Sheet1", "A1")),
        ("'It''s here'!B2", ("It's here", "B2")),
        ("'a!b'!C3", ("a!b", "C3")),
        ("'Doors knocked'", ("Doors knocked", "")),
        ("A1:B2", (None, "A1:B2")),
        ("Workflows", (None, "Workflows")),
    ],
)
def test_split_sheet(text: str, expected: tuple) -> None:
    assert split_sheet(text) == expected


@pytest.mark.parametrize("text", ["'unterminated!A1", "'name'A1"])
def test_split_sheet_rejects_broken_quotes(text: str) -> None:
    with pytest.raises(RangeError):
        split_sheet(text)


@pytest.mark.parametrize(
    ("text", "bounds"),
    [
        ("A1", Bounds(0, 1, 0, 1, single_cell=True)),
        ("$B$3", Bounds(2, 3, 1, 2, single_cell=True)),
        ("A1:F20", Bounds(0, 20, 0, 6)),
        ("F20:A1", Bounds(0, 20, 0, 6)),  # reversed corners are normalised
        ("A:C", Bounds(0, None, 0, 3)),  # whole columns
        ("2:5", Bounds(1, 5, 0, None)),  # whole rows
        ("A5:C", Bounds(4, None, 0, 3)),  # open-ended downwards
        ("aa10:ab11", Bounds(9, 11, 26, 28)),
    ],
)
def test_parse_bounds(text: str, bounds: Bounds) -> None:
    assert parse_bounds(text) == bounds


@pytest.mark.parametrize("text", ["", "A", "A0", "A1:B2:C3", "A1:3", "1", "AAAA1", "A1B"])
def test_parse_bounds_rejects(text: str) -> None:
    with pytest.raises(RangeError):
        parse_bounds(text)


def test_open_bounds_clamp_to_the_grid() -> None:
    assert parse_bounds("A:C").clamp(1000, 26) == (0, 1000, 0, 3)
    assert parse_bounds("2:5").clamp(1000, 26) == (1, 5, 0, 26)


@pytest.mark.parametrize(
    ("title", "quoted"),
    [("Sheet1", "Sheet1"), ("Workflows", "Workflows"), ("Flake rate", "'Flake rate'"),
     ("It's", "'It''s'"), ("A1", "'A1'"), ("2026", "'2026'"), ("R1C1", "'R1C1'")],
)
def test_quote_title(title: str, quoted: str) -> None:
    assert quote_title(title) == quoted


def test_a1_formats_cells_and_rectangles() -> None:
    assert a1("Flake rate", 0, 20, 0, 6) == "'Flake rate'!A1:F20"
    assert a1("Sheet1", 2, 3, 1, 2) == "Sheet1!B3"


def test_resolve_against_a_spreadsheet() -> None:
    book = Spreadsheet.new("x", sheets=[{"title": "Sheet1"}, {"title": "Flake rate"}])
    sheet, bounds = book.resolve("'Flake rate'!A1:F20")
    assert (sheet.title, bounds) == ("Flake rate", Bounds(0, 20, 0, 6))
    sheet, bounds = book.resolve("Flake rate")  # a bare title is the whole sheet
    assert (sheet.title, bounds) == ("Flake rate", Bounds())
    sheet, bounds = book.resolve("B2:C3")  # a bare range is on the first sheet
    assert (sheet.title, bounds) == ("Sheet1", Bounds(1, 3, 1, 3))
    with pytest.raises(ApiError, match="Unable to parse range: Nope!A1"):
        book.resolve("Nope!A1")
    with pytest.raises(ApiError, match="Unable to parse range"):
        book.resolve("Nope")


def test_field_masks() -> None:
    assert parse_field_mask("userEnteredFormat(backgroundColor,textFormat.bold)") == [
        ["userEnteredFormat", "backgroundColor"],
        ["userEnteredFormat", "textFormat", "bold"],
    ]
    assert parse_field_mask("gridProperties/frozenRowCount,title") == [
        ["gridProperties", "frozenRowCount"], ["title"],
    ]
    assert parse_field_mask("*") == [["*"]]
