"""SheetsHook against the Sheets stand-in: cells read back as a person would see them.

Every test gets a fresh spreadsheet in the stand-in. Auth is the real thing: the devstack
`google_cloud_default` connection carries a service-account keyfile, google-auth signs a JWT,
trades it for a token at the stand-in's /token and sends it as a bearer token on each call.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from devstack import sheets
from devstack.sheets_standin import make_server
from precinct.hooks.sheets import (
    GOOGLE_API_HOSTS,
    Highlight,
    SheetsError,
    SheetsHook,
    SheetsHostError,
    TabWrite,
    google_api_session,
)

pytestmark = pytest.mark.integration

RED = {"red": 0.9569, "green": 0.8, "blue": 0.8}  # #F4CCCC
SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"


@pytest.fixture
def spreadsheet(devstack_env: dict[str, str]) -> str:
    sid = f"test-{uuid.uuid4().hex[:12]}"
    sheets.create_spreadsheet(sid, title="Precinct test")
    sheets.clear_faults()
    sheets.clear_calls()
    yield sid
    sheets.clear_faults()
    sheets.admin("DELETE", f"spreadsheets/{sid}")


@pytest.fixture
def hook(devstack_env: dict[str, str]) -> SheetsHook:
    return SheetsHook(max_attempts=4, backoff_base=0.01, backoff_max=0.05)


def endpoint() -> str:
    extra = json.loads(os.environ["AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT"])["extra"]
    return extra["sheets_endpoint"]


def calls_to(suffix: str) -> list[int]:
    return [c["status"] for c in sheets.calls() if c["path"].endswith(suffix)]


def audit_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "workflow": ["Nightly match", "Shift reset", "Audit", "Flake"],
        "id": [101, 102, 103, 104],
        "runtime_min": [12.5, np.nan, 0.1 + 0.2, 3.0],
        "last_success": [pd.Timestamp("2026-11-23 23:58:00", tz="UTC"), pd.NaT,
                         pd.Timestamp("2026-11-24 00:02:00", tz="UTC"),
                         pd.Timestamp("2026-11-24 01:00:00", tz="UTC")],
        "status": ["failed", "succeeded", "failed", "never run"],
        "overdue": [True, False, None, False],
        "owner": ["ana", None, "bo", "cy"],
    })


def test_write_dataframe_reads_back_exact_cells(hook: SheetsHook, spreadsheet: str) -> None:
    result = hook.write_dataframe(spreadsheet, "Workflows", audit_frame())

    assert result == {"rows": 4, "columns": 7, "api_calls": 2}
    tab = sheets.tab_state(spreadsheet, "Workflows")
    assert tab["values"] == [
        ["workflow", "id", "runtime_min", "last_success", "status", "overdue", "owner"],
        ["Nightly match", "101", "12.5", "2026-11-23T23:58:00+00:00", "failed", "TRUE", "ana"],
        ["Shift reset", "102", "", "", "succeeded", "FALSE"],
        ["Audit", "103", "0.3", "2026-11-24T00:02:00+00:00", "failed", "", "bo"],
        ["Flake", "104", "3", "2026-11-24T01:00:00+00:00", "never run", "FALSE", "cy"],
    ]
    # numbers stay numbers and booleans booleans (RAW), only their display is text
    assert tab["unformattedValues"][1][:3] == ["Nightly match", 101, 12.5]
    assert tab["unformattedValues"][1][5] is True
    assert tab["properties"]["gridProperties"] == {
        "rowCount": 5, "columnCount": 7, "frozenRowCount": 1}
    assert hook.read_tab(spreadsheet, "Workflows")[2] == [
        "Shift reset", "102", "", "", "succeeded", "FALSE", ""]


def test_quoted_tab_name_and_second_smaller_write_trims(hook: SheetsHook, spreadsheet: str) -> None:
    hook.write_dataframe(spreadsheet, "Flake rate", audit_frame())
    smaller = pd.DataFrame({"region": ["North", "South"], "week": ["2026-11-14", "2026-11-21"],
                            "flake_rate": [0.25, 0.125]})

    hook.write_dataframe(spreadsheet, "Flake rate", smaller)

    tab = sheets.tab_state(spreadsheet, "Flake rate")
    assert tab["values"] == [
        ["region", "week", "flake_rate"],
        ["North", "2026-11-14", "0.25"],
        ["South", "2026-11-21", "0.125"],
    ]
    assert tab["properties"]["gridProperties"]["rowCount"] == 3
    assert tab["properties"]["gridProperties"]["columnCount"] == 3


def test_write_over_a_hand_made_tab_blanks_old_cells(hook: SheetsHook, spreadsheet: str) -> None:
    # The default Sheet1 is 1000 x 26; put something far out, then write a small frame over it.
    hook.http.values_update(spreadsheet, "Sheet1!Z1000", params={"valueInputOption": "RAW"},
                            body={"values": [["old"]]})
    hook.http.values_update(spreadsheet, "Sheet1!A1", params={"valueInputOption": "RAW"},
                            body={"values": [["x", "y", "z"], [1, 2, 3], [4, 5, 6]]})

    hook.write_dataframe(spreadsheet, "Sheet1", pd.DataFrame({"a": [7]}))

    tab = sheets.tab_state(spreadsheet, "Sheet1")
    assert tab["values"] == [["a"], ["7"]]
    assert tab["properties"]["gridProperties"]["rowCount"] == 2
    assert tab["properties"]["gridProperties"]["columnCount"] == 1

    # and a frame bigger than the (now small) grid grows it first
    big = pd.DataFrame({"n": range(1500), "sq": [i * i for i in range(1500)]})
    hook.write_dataframe(spreadsheet, "Sheet1", big)
    tab = sheets.tab_state(spreadsheet, "Sheet1")
    assert len(tab["values"]) == 1501
    assert tab["values"][-1] == ["1499", str(1499 * 1499)]


def test_header_frozen_bold_and_rows_highlighted(hook: SheetsHook, spreadsheet: str) -> None:
    hook.write_dataframe(spreadsheet, "Workflows", audit_frame(),
                         highlight=[{"column": "status", "equals": "failed"},
                                    Highlight("status", ("never run",), "#FFF2CC")])

    # frozen header, as gspread itself reads the sheet properties
    worksheet = hook.get_conn().open_by_key(spreadsheet).worksheet("Workflows")
    assert worksheet.frozen_row_count == 1
    formats = sheets.tab_state(spreadsheet, "Workflows")["formats"]
    assert all(formats[f"{c}1"]["textFormat"]["bold"] is True for c in "ABCDEFG")
    yellow = {"red": 1.0, "green": 0.949, "blue": 0.8}
    for col in "ABCDEFG":
        assert formats[f"{col}2"]["backgroundColor"] == RED  # failed
        assert "backgroundColor" not in formats.get(f"{col}3", {})  # succeeded
        assert formats[f"{col}4"]["backgroundColor"] == RED  # failed
        assert formats[f"{col}5"]["backgroundColor"] == yellow  # never run

    # a rewrite moves the highlight with the data: old colours do not linger
    frame = audit_frame()
    frame["status"] = ["succeeded", "failed", "succeeded", "succeeded"]
    hook.write_dataframe(spreadsheet, "Workflows", frame,
                         highlight=[{"column": "status", "equals": "failed"}])
    formats = sheets.tab_state(spreadsheet, "Workflows")["formats"]
    highlighted = sorted({cell[1:] for cell, fmt in formats.items() if "backgroundColor" in fmt})
    assert highlighted == ["3"]


def test_last_updated_cell(hook: SheetsHook, spreadsheet: str) -> None:
    hook.write_dataframe(spreadsheet, "Jobs", audit_frame(), last_updated_cell="I1",
                         last_updated_value="Last updated 2026-11-24 03:15 CST")
    tab = sheets.tab_state(spreadsheet, "Jobs")
    assert tab["values"][0][8] == "Last updated 2026-11-24 03:15 CST"
    assert tab["values"][0][7] == ""
    assert tab["properties"]["gridProperties"]["columnCount"] == 9

    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    hook.write_dataframe(spreadsheet, "Jobs", audit_frame().head(1), last_updated_cell="I1")
    stamp = sheets.tab_state(spreadsheet, "Jobs")["values"][0][8]
    assert stamp.startswith("Last updated ") and stamp.endswith(" UTC")
    when = dt.datetime.strptime(stamp[13:-4], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.UTC)
    assert before <= when <= dt.datetime.now(dt.UTC)

    with pytest.raises(ValueError, match="inside the data"):
        hook.write_dataframe(spreadsheet, "Jobs", audit_frame(), last_updated_cell="B2")


def test_write_dataframes_writes_every_tab_with_the_calls_of_one(
    hook: SheetsHook, spreadsheet: str,
) -> None:
    regions = pd.DataFrame({"region": ["North", "South", "East"], "n": [3, 4, 5]})
    first = hook.write_dataframes(spreadsheet, {
        "Workflows": TabWrite(audit_frame(), highlight=[{"column": "status", "equals": "failed"}],
                              last_updated_cell="I1", last_updated_value="Last updated one"),
        "Regions": TabWrite(regions, last_updated_cell="D1", last_updated_value="Last updated one"),
    })
    # a metadata read, then one batchUpdate adding, filling and formatting both tabs
    assert first == {"tabs": {"Workflows": {"rows": 4, "columns": 7},
                              "Regions": {"rows": 3, "columns": 2}}, "api_calls": 2}
    assert calls_to(f"/{spreadsheet}") == [200]
    assert calls_to(f"/{spreadsheet}:batchUpdate") == [200]

    sheets.clear_calls()
    second = hook.write_dataframes(spreadsheet, {
        "Workflows": TabWrite(audit_frame().head(2), last_updated_cell="I1",
                              last_updated_value="Last updated two"),
        "Regions": TabWrite(regions.tail(1), last_updated_cell="D1",
                            last_updated_value="Last updated two"),
    })
    assert second["api_calls"] == 2, "metadata read, one batchUpdate"
    assert calls_to(f"/{spreadsheet}:batchUpdate") == [200]
    assert calls_to("/values:batchUpdate") == []
    workflows = sheets.tab_state(spreadsheet, "Workflows")
    assert [row[:7] for row in workflows["values"]] == [
        ["workflow", "id", "runtime_min", "last_success", "status", "overdue", "owner"],
        ["Nightly match", "101", "12.5", "2026-11-23T23:58:00+00:00", "failed", "TRUE", "ana"],
        ["Shift reset", "102", "", "", "succeeded", "FALSE"],
    ]
    assert workflows["values"][0][8] == "Last updated two"
    assert workflows["properties"]["gridProperties"] == {
        "rowCount": 3, "columnCount": 9, "frozenRowCount": 1}
    assert not any("backgroundColor" in fmt for fmt in workflows["formats"].values())
    regions_tab = sheets.tab_state(spreadsheet, "Regions")
    assert regions_tab["values"] == [["region", "n", "", "Last updated two"], ["East", "5"]]
    assert regions_tab["properties"]["gridProperties"]["rowCount"] == 2


def test_a_failed_multi_tab_write_leaves_every_tab_as_it_was(
    hook: SheetsHook, spreadsheet: str,
) -> None:
    regions = pd.DataFrame({"region": ["North", "South"], "n": [3, 4]})
    hook.write_dataframes(spreadsheet, {
        "Workflows": TabWrite(audit_frame(), highlight=[{"column": "status", "equals": "failed"}]),
        "Regions": regions,
    })
    before = sheets.spreadsheet_state(spreadsheet)
    sheets.clear_calls()
    sheets.inject_fault(500, count=100, method="POST", path=r":batchUpdate$")

    with pytest.raises(SheetsError) as failure:
        hook.write_dataframes(spreadsheet, {"Workflows": audit_frame().head(1),
                                            "Regions": regions.head(1)})

    message = str(failure.value)
    assert "tabs 'Workflows', 'Regions'" in message and "after 4 attempts" in message
    assert calls_to(":batchUpdate") == [500, 500, 500, 500], "one write for both tabs"
    assert sheets.spreadsheet_state(spreadsheet) == before, "no tab may change"


def test_append_rows_is_idempotent_by_key(hook: SheetsHook, spreadsheet: str) -> None:
    header = ["date", "region", "doors"]
    rows = [{"date": "2026-11-23", "region": "North", "doors": 120},
            {"date": "2026-11-23", "region": "South", "doors": 95}]

    assert hook.append_rows(spreadsheet, "Doors knocked", rows,
                            key_columns=["date", "region"], header=header) == 2
    assert hook.append_rows(spreadsheet, "Doors knocked", rows,
                            key_columns=["date", "region"], header=header) == 0
    more = [*rows, ["2026-11-24", "North", 130]]
    assert hook.append_rows(spreadsheet, "Doors knocked", more,
                            key_columns=["date", "region"], header=header) == 1

    tab = sheets.tab_state(spreadsheet, "Doors knocked")
    assert tab["values"] == [
        ["date", "region", "doors"],
        ["2026-11-23", "North", "120"],
        ["2026-11-23", "South", "95"],
        ["2026-11-24", "North", "130"],
    ]
    assert tab["properties"]["gridProperties"]["frozenRowCount"] == 1


def test_numeric_keys_match_what_sheets_gives_back(hook: SheetsHook, spreadsheet: str) -> None:
    header = ["job_id", "state"]
    hook.append_rows(spreadsheet, "Jobs", [[7, "ok"], [8.0, "failed"]], key_columns=["job_id"],
                     header=header)
    assert hook.append_rows(spreadsheet, "Jobs", [[np.int64(7), "ok"], [8, "failed"]],
                            key_columns=["job_id"], header=header) == 0


def test_429_is_retried_then_succeeds(hook: SheetsHook, spreadsheet: str) -> None:
    sheets.inject_fault(429, count=2, method="POST", path=r":batchUpdate$", retry_after=0)

    hook.write_dataframe(spreadsheet, "Workflows", audit_frame())

    assert calls_to(":batchUpdate") == [429, 429, 200]
    assert sheets.tab_state(spreadsheet, "Workflows")["values"][1][0] == "Nightly match"


def test_append_retries_after_rereading_keys(hook: SheetsHook, spreadsheet: str) -> None:
    header = ["id", "v"]
    hook.append_rows(spreadsheet, "Log", [[1, "a"]], key_columns=["id"], header=header)
    sheets.clear_calls()
    sheets.inject_fault(503, count=1, path=r":append$")

    assert hook.append_rows(spreadsheet, "Log", [[1, "a"], [2, "b"]], key_columns=["id"],
                            header=header) == 1

    assert calls_to(":append") == [503, 200]
    assert calls_to("/values/'Log'") == [200, 200]  # keys read again before the retry
    assert hook.read_tab(spreadsheet, "Log") == [["id", "v"], ["1", "a"], ["2", "b"]]


def test_persistent_500_leaves_previous_content(hook: SheetsHook, spreadsheet: str) -> None:
    hook.write_dataframe(spreadsheet, "Workflows", audit_frame(),
                         highlight=[{"column": "status", "equals": "failed"}])
    before = sheets.tab_state(spreadsheet, "Workflows")
    sheets.clear_calls()
    sheets.inject_fault(500, count=100, method="POST", path=r":batchUpdate$")

    with pytest.raises(SheetsError) as failure:
        hook.write_dataframe(spreadsheet, "Workflows", audit_frame().head(1))

    message = str(failure.value)
    assert spreadsheet in message and "'Workflows'" in message
    assert "after 4 attempts" in message and "500 INTERNAL" in message
    for secret in ("PRIVATE KEY", "ya29.", "Bearer", "private_key"):
        assert secret not in message
    assert calls_to(":batchUpdate") == [500, 500, 500, 500]
    after = sheets.tab_state(spreadsheet, "Workflows")
    assert after["values"] == before["values"]
    assert after["formats"] == before["formats"]


def test_a_write_over_googles_request_limit_is_refused_before_any_change(
        hook: SheetsHook, spreadsheet: str) -> None:
    hook.write_dataframe(spreadsheet, "Workflows", audit_frame())
    before = sheets.tab_state(spreadsheet, "Workflows")
    sheets.clear_calls()
    big = pd.DataFrame({"note": ["x" * 400] * 30_000, "n": range(30_000)})
    with pytest.raises(SheetsError, match=r"30000 rows make a \d+\.\d MB request, over "
                                          r"Google's 10\.5 MB limit"):
        hook.write_dataframe(spreadsheet, "Workflows", big)
    assert calls_to(":batchUpdate") == []
    assert sheets.tab_state(spreadsheet, "Workflows") == before


def test_refused_write_keeps_old_values_and_highlights(hook: SheetsHook, spreadsheet: str) -> None:
    # The write would move the highlight, shrink the grid, move the stamp and add a tab, all in
    # the one batchUpdate; the sheet refuses it (403: edit access lost), which is not retried.
    hook.write_dataframe(spreadsheet, "Workflows", audit_frame(), last_updated_cell="I1",
                         last_updated_value="Last updated one",
                         highlight=[{"column": "status", "equals": "failed"}])
    before = sheets.spreadsheet_state(spreadsheet)
    red_rows = sorted({cell[1:] for cell, fmt in sheets.tab_state(spreadsheet, "Workflows")[
        "formats"].items() if fmt.get("backgroundColor") == RED})
    assert red_rows == ["2", "4"]
    sheets.clear_calls()
    sheets.inject_fault(403, count=1, method="POST", path=r":batchUpdate$")
    frame = audit_frame().head(2)
    frame["status"] = ["succeeded", "failed"]

    with pytest.raises(SheetsError, match="HTTP 403"):
        hook.write_dataframes(spreadsheet, {
            "Workflows": TabWrite(frame, highlight=[{"column": "status", "equals": "failed"}],
                                  last_updated_cell="J1", last_updated_value="Last updated two"),
            "Regions": pd.DataFrame({"region": ["North"]}),
        })

    assert calls_to(":batchUpdate") == [403], "not retried"
    assert sheets.spreadsheet_state(spreadsheet) == before, "values, formats, grid, tabs"

    # the same write, accepted: the highlight moves with the data
    hook.write_dataframe(spreadsheet, "Workflows", frame,
                         highlight=[{"column": "status", "equals": "failed"}])
    formats = sheets.tab_state(spreadsheet, "Workflows")["formats"]
    assert sorted({cell[1:] for cell, fmt in formats.items()
                   if fmt.get("backgroundColor") == RED}) == ["3"]


def test_strings_are_written_literally(hook: SheetsHook, spreadsheet: str) -> None:
    frame = pd.DataFrame({"text": ["=1+1", "'007", "TRUE", "2026-11-24", "1,234", "+1"],
                          "number": [1, 2.5, -3, 0, 1e20, np.int64(7)]})

    hook.write_dataframe(spreadsheet, "Raw", frame)

    tab = sheets.tab_state(spreadsheet, "Raw")
    assert [row[0] for row in tab["unformattedValues"]] == [
        "text", "=1+1", "'007", "TRUE", "2026-11-24", "1,234", "+1"]
    assert [row[1] for row in tab["unformattedValues"][1:]] == [1, 2.5, -3, 0, 1e20, 7]
    assert [row[0] for row in hook.read_tab(spreadsheet, "Raw")][1:3] == ["=1+1", "'007"]
    # stored as strings, not as a formula (which Sheets would show as 2) or a quoted number
    metadata = hook.http.fetch_sheet_metadata(spreadsheet, params={"includeGridData": "true"})
    grid = next(s for s in metadata["sheets"] if s["properties"]["title"] == "Raw")["data"][0]
    assert [row["values"][0]["userEnteredValue"] for row in grid["rowData"][1:4]] == [
        {"stringValue": "=1+1"}, {"stringValue": "'007"}, {"stringValue": "TRUE"}]


def test_a_new_tab_is_added_and_filled_in_one_batch(hook: SheetsHook, spreadsheet: str) -> None:
    result = hook.write_dataframe(spreadsheet, "Jobs", audit_frame(), last_updated_cell="A8",
                                  last_updated_value="Last updated below",
                                  highlight=[{"column": "status", "equals": "failed"}])

    assert result["api_calls"] == 2
    assert [(c["method"], c["path"].rsplit(spreadsheet, 1)[1]) for c in sheets.calls()
            if spreadsheet in c["path"]] == [("GET", ""), ("POST", ":batchUpdate")]
    tab = sheets.tab_state(spreadsheet, "Jobs")
    assert tab["properties"]["gridProperties"] == {
        "rowCount": 8, "columnCount": 7, "frozenRowCount": 1}
    assert tab["values"][:2] == [
        ["workflow", "id", "runtime_min", "last_success", "status", "overdue", "owner"],
        ["Nightly match", "101", "12.5", "2026-11-23T23:58:00+00:00", "failed", "TRUE", "ana"]]
    assert tab["values"][5:] == [[], [], ["Last updated below"]]
    assert tab["formats"]["A2"]["backgroundColor"] == RED
    assert tab["formats"]["G1"]["textFormat"]["bold"] is True
    assert [s["properties"]["title"] for s in sheets.spreadsheet_state(spreadsheet)[
        "sheets"]] == ["Sheet1", "Jobs"]


def test_a_write_that_landed_but_lost_its_answer_is_not_undone(
    hook: SheetsHook, spreadsheet: str,
) -> None:
    # The batch lands, its answer is lost (503), the retry's addSheet answers "already exists":
    # the tab the write added carries the sheet id the write chose, so the write succeeded.
    sheets.inject_fault(503, count=1, method="POST", path=r":batchUpdate$", landed=True)

    result = hook.write_dataframes(spreadsheet, {
        "Workflows": TabWrite(audit_frame(), highlight=[{"column": "status", "equals": "failed"}]),
        "Sheet1": pd.DataFrame({"a": [1, 2]}),
    })

    assert result["tabs"]["Workflows"] == {"rows": 4, "columns": 7}
    assert calls_to(":batchUpdate") == [503, 400]
    assert calls_to(f"/{spreadsheet}") == [200, 200], "tabs looked up again after the 400"
    state = sheets.spreadsheet_state(spreadsheet)
    assert [s["properties"]["title"] for s in state["sheets"]] == ["Sheet1", "Workflows"]
    workflows = sheets.tab_state(spreadsheet, "Workflows")
    assert workflows["values"][1][0] == "Nightly match"
    assert workflows["formats"]["A2"]["backgroundColor"] == RED
    assert sheets.tab_state(spreadsheet, "Sheet1")["values"] == [["a"], ["1"], ["2"]]

    # Without a tab to add, the retry simply applies the batch again (after the trim).
    sheets.clear_calls()
    sheets.inject_fault(503, count=1, method="POST", path=r":batchUpdate$", landed=True)
    hook.write_dataframe(spreadsheet, "Workflows", audit_frame().head(1), last_updated_cell="I1",
                         last_updated_value="Last updated again")
    assert calls_to(":batchUpdate") == [503, 200]
    workflows = sheets.tab_state(spreadsheet, "Workflows")
    assert workflows["values"][1][0] == "Nightly match" and len(workflows["values"]) == 2
    assert workflows["values"][0][8] == "Last updated again"
    assert workflows["properties"]["gridProperties"]["rowCount"] == 2
    assert not any("backgroundColor" in fmt for fmt in workflows["formats"].values())


def test_a_failed_write_that_did_not_land_is_reported(hook: SheetsHook, spreadsheet: str) -> None:
    # A 5xx on every attempt of a write adding a tab: the tab is not there afterwards, so the
    # write reports the failure (the look-up does not take someone else's tab for ours either).
    sheets.inject_fault(500, count=100, method="POST", path=r":batchUpdate$")
    with pytest.raises(SheetsError, match="after 4 attempts"):
        hook.write_dataframe(spreadsheet, "Jobs", audit_frame())
    assert [s["properties"]["title"] for s in sheets.spreadsheet_state(spreadsheet)[
        "sheets"]] == ["Sheet1"]


def test_bad_request_is_not_retried(hook: SheetsHook, spreadsheet: str) -> None:
    with pytest.raises(SheetsError, match="HTTP 404 NOT_FOUND"):
        hook.read_tab("no-such-spreadsheet", "Workflows")
    assert calls_to("/no-such-spreadsheet/values/'Workflows'") == [404]


def test_missing_or_wrong_bearer_token_gets_401(spreadsheet: str) -> None:
    url = f"{endpoint()}/v4/spreadsheets/{spreadsheet}"

    missing = requests.get(url, timeout=10)
    wrong = requests.get(url, headers={"Authorization": "Bearer ya29.not-issued-here"},
                         timeout=10)
    put = requests.put(f"{url}/values/A1", params={"valueInputOption": "RAW"},
                       json={"values": [["x"]]}, timeout=10)

    for response in (missing, wrong, put):
        assert response.status_code == 401
        error = response.json()["error"]
        assert set(error) == {"code", "message", "status"}
        assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing required authentication credential" in missing.json()["error"]["message"]
    assert "invalid authentication credentials" in wrong.json()["error"]["message"]
    assert sheets.tab_state(spreadsheet, "Sheet1")["values"] == []


def test_token_without_a_sheets_scope_gets_403(devstack_env: dict, spreadsheet: str) -> None:
    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook
    from google.auth.transport.requests import Request

    # the provider's default scope (cloud-platform) is not a Sheets scope: the hook re-scopes
    credentials = GoogleBaseHook(gcp_conn_id="google_cloud_default").get_credentials()
    credentials.refresh(Request())
    response = requests.get(f"{endpoint()}/v4/spreadsheets/{spreadsheet}", timeout=10,
                            headers={"Authorization": f"Bearer {credentials.token}"})
    assert response.status_code == 403
    assert response.json()["error"]["status"] == "PERMISSION_DENIED"


def test_token_endpoint_verifies_the_assertion(devstack_env: dict) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from google.auth import crypt, jwt

    info = json.loads(sheets.KEYFILE.read_text())
    now = int(time.time())
    claims = {"iss": info["client_email"], "aud": "https://oauth2.googleapis.com/token",
              "scope": SHEETS_SCOPE, "iat": now, "exp": now + 600}
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    forged = jwt.encode(crypt.RSASigner.from_string(other_key), claims).decode()
    genuine = jwt.encode(crypt.RSASigner.from_service_account_info(info), claims).decode()
    token_uri = info["token_uri"]
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    rejected = requests.post(token_uri, data={"grant_type": grant, "assertion": forged},
                             timeout=10)
    wrong_grant = requests.post(token_uri, data={"grant_type": "password", "assertion": genuine},
                                timeout=10)
    accepted = requests.post(token_uri, data={"grant_type": grant, "assertion": genuine},
                             timeout=10)

    assert rejected.status_code == 400 and rejected.json()["error"] == "invalid_grant"
    assert wrong_grant.status_code == 400
    assert wrong_grant.json()["error"] == "unsupported_grant_type"
    assert accepted.status_code == 200
    assert accepted.json()["token_type"] == "Bearer"
    assert accepted.json()["expires_in"] > 0


def test_hook_refuses_non_google_hosts(hook: SheetsHook) -> None:
    session = hook.get_conn().http_client.session
    base = endpoint()

    assert session.route("https://sheets.googleapis.com/v4/spreadsheets/x?a=1") == (
        f"{base}/v4/spreadsheets/x?a=1")
    assert session.route("https://www.googleapis.com/drive/v3/files") == (
        f"{base}/drive/v3/files")
    for url in ("https://example.com/v4/spreadsheets/x", "http://sheets.googleapis.com/v4/x",
                "https://sheets.googleapis.com.evil.test/v4/x", "file:///etc/passwd"):
        with pytest.raises(SheetsHostError, match="refusing to send Google credentials"):
            session.get(url)

    # production: no endpoint, so Google's hosts pass untouched and nothing else does
    from google.auth.credentials import AnonymousCredentials

    production = google_api_session(AnonymousCredentials())
    for host in sorted(GOOGLE_API_HOSTS):
        assert production.route(f"https://{host}/v4/x") == f"https://{host}/v4/x"
    with pytest.raises(SheetsHostError):
        production.route(f"{base}/v4/spreadsheets/x")


def test_gspread_calls_work_against_the_standin(hook: SheetsHook, spreadsheet: str) -> None:
    book = hook.get_conn().open_by_key(spreadsheet)
    ws = book.add_worksheet("Flake rate", rows=10, cols=4)
    ws.update([["region", "rate"], ["North", 0.25]], "A1")
    ws.append_rows([["South", 0.5], ["East", "=1/4"]], value_input_option="USER_ENTERED")
    ws.freeze(rows=1)
    ws.format("A1:B1", {"textFormat": {"bold": True}})
    assert ws.get_all_values() == [["region", "rate"], ["North", "0.25"], ["South", "0.5"],
                                   ["East", "=1/4"]]
    assert book.values_batch_get(["'Flake rate'!A2:A3", "'Flake rate'!B:B"])["valueRanges"][0][
        "values"] == [["North"], ["South"]]
    ws.batch_clear(["A3:B3"])
    ws.delete_rows(3)
    ws.resize(rows=5)
    assert ws.get_all_values() == [["region", "rate"], ["North", "0.25"], ["East", "=1/4"]]
    props = book.worksheet("Flake rate")
    assert (props.row_count, props.col_count, props.frozen_row_count) == (5, 4, 1)
    ws.clear()
    assert ws.get_all_values() == [[]] or ws.get_all_values() == []
    book.del_worksheet(ws)
    assert [w.title for w in book.worksheets()] == ["Sheet1"]


def test_errors_use_googles_format(hook: SheetsHook, spreadsheet: str) -> None:
    token = requests.post(  # any issued token will do
        json.loads(sheets.KEYFILE.read_text())["token_uri"], timeout=10,
        data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
              "assertion": _assertion()}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{endpoint()}/v4/spreadsheets"

    not_found = requests.get(f"{base}/nope", headers=headers, timeout=10)
    bad_range = requests.get(f"{base}/{spreadsheet}/values/Nope!A1", headers=headers, timeout=10)
    beyond = requests.put(f"{base}/{spreadsheet}/values/Sheet1!A1000",
                          params={"valueInputOption": "RAW"}, headers=headers, timeout=10,
                          json={"values": [["x"], ["y"]]})
    no_option = requests.put(f"{base}/{spreadsheet}/values/Sheet1!A1", headers=headers,
                             json={"values": [["x"]]}, timeout=10)

    assert not_found.json() == {"error": {"code": 404, "message": "Requested entity was not found.",
                                          "status": "NOT_FOUND"}}
    assert bad_range.json()["error"]["message"] == "Unable to parse range: Nope!A1"
    assert beyond.status_code == 400
    assert "exceeds grid limits. Max rows: 1000, max columns: 26" in beyond.json()["error"][
        "message"]
    assert no_option.json()["error"]["message"] == (
        "'valueInputOption' is required but not specified")


def _assertion() -> str:
    from google.auth import crypt, jwt

    info = json.loads(sheets.KEYFILE.read_text())
    now = int(time.time())
    return jwt.encode(crypt.RSASigner.from_service_account_info(info), {
        "iss": info["client_email"], "aud": "https://oauth2.googleapis.com/token",
        "scope": SHEETS_SCOPE, "iat": now, "exp": now + 600}).decode()


def test_standin_state_survives_a_restart(tmp_path: Path) -> None:
    """A second stand-in on the same state file sees the cells and tokens of the first."""
    from google.auth.transport.requests import AuthorizedSession
    from google.oauth2 import service_account

    from devstack.sheets_standin import ensure_keyfile

    def serve(port: int = 0):
        server = make_server("127.0.0.1", port, tmp_path / "state.json", tmp_path / "key.json",
                             ["kept"])
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    first = serve()
    port = first.server_address[1]
    info = ensure_keyfile(tmp_path / "key.json", f"http://127.0.0.1:{port}/token")
    credentials = service_account.Credentials.from_service_account_info(
        info, scopes=[SHEETS_SCOPE])
    session = AuthorizedSession(credentials)
    url = f"http://127.0.0.1:{port}/v4/spreadsheets/kept/values/Sheet1!B2"
    assert session.put(url, params={"valueInputOption": "USER_ENTERED"},
                       json={"values": [["'007", "1,234.5", "true"]]}, timeout=10).ok
    first.shutdown()
    first.server_close()

    second = serve(port)
    try:
        token = credentials.token
        got = requests.get(f"http://127.0.0.1:{port}/v4/spreadsheets/kept/values/Sheet1",
                           headers={"Authorization": f"Bearer {token}"},
                           params={"valueRenderOption": "UNFORMATTED_VALUE"}, timeout=10)
        assert got.status_code == 200
        assert got.json()["values"] == [[], ["", "007", 1234.5, True]]
        assert got.json()["range"] == "Sheet1!A1:Z1000"
    finally:
        second.shutdown()
        second.server_close()


def test_token_endpoint_follows_a_rotated_key(tmp_path: Path) -> None:
    """The stand-in keeps the public key it derived only while the keyfile is unchanged."""
    from google.auth.exceptions import RefreshError
    from google.auth.transport.requests import Request
    from google.oauth2 import service_account

    from devstack.sheets_standin import ensure_keyfile

    server = make_server("127.0.0.1", 0, tmp_path / "state.json", tmp_path / "key.json", [])
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        token_uri = f"http://127.0.0.1:{server.server_address[1]}/token"

        def credentials(info: dict):
            return service_account.Credentials.from_service_account_info(
                info, scopes=[SHEETS_SCOPE])

        old = ensure_keyfile(tmp_path / "key.json", token_uri)
        credentials(old).refresh(Request())  # accepted, and the public key is now known
        (tmp_path / "key.json").unlink()
        new = ensure_keyfile(tmp_path / "key.json", token_uri)  # a fresh RSA key
        assert new["private_key"] != old["private_key"]

        with pytest.raises(RefreshError, match="invalid_grant"):
            credentials(old).refresh(Request())
        fresh = credentials(new)
        fresh.refresh(Request())
        assert fresh.token
    finally:
        server.shutdown()
        server.server_close()
