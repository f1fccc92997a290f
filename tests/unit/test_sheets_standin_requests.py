"""The Sheets stand-in's batchUpdate requests the hook relies on, as Google documents them.

- AddSheetRequest: "The sheetId field is optional; if one is not set, an id will be randomly
  generated. (It is an error to specify the ID of a sheet that already exists.)"; SheetProperties
  sheetId: "Must be non-negative" (an int32).
- UpdateCellsRequest `range`: "If the data in rows does not cover the entire requested range, the
  fields matching those set in fields will be cleared."
- ExtendedValue `stringValue` is a string as it is: no formula, no leading-quote parsing.
"""

from __future__ import annotations

import pytest

from devstack.sheets_standin import (
    ApiError,
    Spreadsheet,
    render,
    req_add_sheet,
    req_update_cells,
)


def _book() -> Spreadsheet:
    return Spreadsheet.new("x", sheets=[{"title": "Sheet1"}])


def _cell(text: str) -> dict:
    return {"userEnteredValue": {"stringValue": text}}


def test_add_sheet_keeps_a_client_chosen_id() -> None:
    book = _book()
    reply = req_add_sheet(book, {"properties": {
        "sheetId": 123456, "title": "Jobs", "gridProperties": {"rowCount": 3, "columnCount": 2}}})
    assert reply["addSheet"]["properties"]["sheetId"] == 123456
    assert book.sheet_by_id(123456).title == "Jobs"
    # a later request of the same batch can refer to it
    req_update_cells(book, {"range": {"sheetId": 123456, "startRowIndex": 0, "endRowIndex": 1,
                                      "startColumnIndex": 0, "endColumnIndex": 1},
                            "rows": [{"values": [_cell("a")]}], "fields": "userEnteredValue"})
    assert render(book.sheet_by_id(123456).cells[0, 0], "FORMATTED_VALUE") == "a"


@pytest.mark.parametrize(("props", "message"), [
    ({"sheetId": 0, "title": "Other"}, "A sheet with the id 0 already exists"),
    ({"sheetId": 7, "title": "Sheet1"}, 'A sheet with the name "Sheet1" already exists'),
    ({"sheetId": -1, "title": "Other"}, "non-negative 32-bit integer"),
    ({"sheetId": 2**31, "title": "Other"}, "non-negative 32-bit integer"),
    ({"sheetId": "7", "title": "Other"}, "non-negative 32-bit integer"),
])
def test_add_sheet_refuses_a_taken_or_invalid_id_or_title(props: dict, message: str) -> None:
    book = _book()
    with pytest.raises(ApiError, match=message) as refused:
        req_add_sheet(book, {"properties": props})
    assert refused.value.code == 400
    assert [s.title for s in book.sheets] == ["Sheet1"]


def test_update_cells_clears_what_rows_leave_out_of_the_range() -> None:
    book = _book()
    sheet = book.sheet_by_id(0)
    for r in range(3):
        for c in range(3):
            sheet.set_value(r, c, {"stringValue": f"old {r},{c}"})
    sheet.edit(2, 2)["userEnteredFormat"] = {"backgroundColor": {"red": 1.0}}

    req_update_cells(book, {
        "range": {"sheetId": 0, "startRowIndex": 0, "endRowIndex": 3,
                  "startColumnIndex": 0, "endColumnIndex": 3},
        "rows": [{"values": [_cell("=1+1"), {}, {"userEnteredValue": {"numberValue": 7}}]},
                 {"values": [{"userEnteredValue": {"boolValue": True}}]}],
        "fields": "userEnteredValue",
    })

    shown = sheet.values((0, 3, 0, 3), "UNFORMATTED_VALUE", "ROWS")
    assert shown == [["=1+1", "", 7], [True]]
    assert sheet.cells[0, 0]["userEnteredValue"] == {"stringValue": "=1+1"}, "not a formula"
    # the field mask is userEnteredValue: the cleared cell keeps its format
    assert sheet.cells[2, 2] == {"userEnteredFormat": {"backgroundColor": {"red": 1.0}}}


def test_update_cells_refuses_a_range_beyond_the_grid() -> None:
    book = _book()
    with pytest.raises(ApiError, match="exceeds grid limits"):
        req_update_cells(book, {"range": {"sheetId": 0, "startRowIndex": 0,
                                          "endRowIndex": 1001}, "fields": "userEnteredValue"})
