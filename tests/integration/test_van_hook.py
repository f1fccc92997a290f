"""VanHook against the VAN stand-in: auth, modes, paging, 429 and 5xx retries, secrecy."""

from __future__ import annotations

import base64
import logging
import socket
import threading
import time

import pytest
import requests

from devstack import van
from devstack.core import conn_json
from precinct.hooks.van import MAX_PAGE_SIZE, VanApiError, VanHook, _base_url

pytestmark = pytest.mark.integration
ANCHOR = "2026-11-01"
WINDOW = {"starting_after": "2026-10-29", "starting_before": "2026-11-05"}


@pytest.fixture(scope="module", autouse=True)
def seeded(devstack_env):
    van.admin("reseed", {"anchor": ANCHOR})
    yield
    van.admin("calls/reset", {})
    van.admin("reseed", {})  # back to the default: today's data, for the demo and manual runs


@pytest.fixture(autouse=True)
def fresh_counters():
    van.admin("calls/reset", {})
    yield
    van.admin("calls/reset", {})


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _raw(path: str, mode: int = 1, **params):
    """The stand-in's answer for one call, with no hook involved (the reference)."""
    auth = (van.APP_NAME, f"{van.API_KEY}|{mode}")
    response = requests.get(f"{van.SERVICE.url}/v4/{path}", params=params, auth=auth, timeout=30)
    response.raise_for_status()
    return response.json()


def test_events_page_through_next_page_link_at_most_200_at_a_time():
    expected = _raw("events", startingAfter=WINDOW["starting_after"],
                    startingBefore=WINDOW["starting_before"], **{"$top": 1})["count"]
    van.admin("calls/reset", {})
    hook = VanHook()
    events = list(hook.get_events(**WINDOW))
    assert len(events) == expected > MAX_PAGE_SIZE
    assert len({e["eventId"] for e in events}) == len(events)
    calls = van.admin("calls")
    assert calls["GET /v4/events"] == -(-expected // MAX_PAGE_SIZE)
    assert calls["max_top_requested"] == MAX_PAGE_SIZE
    # $expand reached the server: shifts and locations are there.
    assert all(e["shifts"] for e in events)
    assert all(e["locations"] is not None for e in events)
    starts = [e["startDate"][:10] for e in events]
    assert min(starts) >= "2026-10-29" and max(starts) <= "2026-11-05"


def test_event_types_filter():
    hook = VanHook()
    types = {e["eventType"]["eventTypeId"]
             for e in hook.get_events(event_type_ids=[143856], **WINDOW)}
    assert types == {143856}


def test_signups_of_a_big_event_page_with_a_small_page_size():
    hook = VanHook(page_size=50)
    events = list(hook.get_events(**WINDOW))
    counts = {e["eventId"]: _raw("signups", eventId=e["eventId"], **{"$top": 1})["count"]
              for e in events[:80]}
    big = max(counts, key=counts.get)
    assert counts[big] > 100
    van.admin("calls/reset", {})
    signups = list(hook.get_event_signups(big))
    assert len(signups) == counts[big]
    assert len({s["eventSignupId"] for s in signups}) == counts[big]
    assert van.admin("calls")["GET /v4/signups"] == -(-counts[big] // 50)


def test_page_size_is_capped_at_200():
    assert VanHook(page_size=5000).page_size == MAX_PAGE_SIZE


def test_429_waits_for_retry_after_then_succeeds():
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps)
    van.admin("throttle", {"count": 2, "retry_after": 3})
    person = hook.get_person(100000001)
    assert person["vanId"] == 100000001
    assert sleeps == [3.0, 3.0]
    calls = van.admin("calls")
    assert calls["throttled"] == 2 and calls["GET /v4/people"] == 3


def test_429_really_sleeps():
    hook = VanHook()
    van.admin("throttle", {"count": 1, "retry_after": 1})
    started = time.monotonic()
    assert hook.get_person(100000001)["vanId"] == 100000001
    assert time.monotonic() - started >= 1.0


def test_retry_after_is_capped():
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps, max_retry_after=2)
    van.admin("throttle", {"count": 1, "retry_after": 3600})
    hook.get_person(100000001)
    assert sleeps == [2]


def test_429_forever_gives_up_after_max_attempts(caplog):
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps, max_attempts=3)
    van.admin("throttle", {"count": 10, "retry_after": 1})
    with pytest.raises(VanApiError) as caught:
        hook.get_person(100000001)
    assert caught.value.status == 429
    assert "failed after 3 attempts" in str(caught.value)
    # A VAN id names a person: the route is logged and raised, never the id.
    assert "GET /v4/people/{id}" in str(caught.value)
    ours = " ".join(r.getMessage() for r in caplog.records if r.name.startswith("precinct"))
    assert "100000001" not in str(caught.value) + ours
    assert "GET /v4/people/{id}: HTTP 429" in ours
    assert "TOO_MANY_REQUESTS" in str(caught.value)
    assert caught.value.codes == ["TOO_MANY_REQUESTS"]
    assert len(sleeps) == 2
    assert van.admin("calls")["throttled"] == 3


def test_5xx_backs_off_exponentially_then_succeeds():
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps, backoff_base=1.0)
    van.admin("fail", {"count": 3, "status": 503})
    assert hook.get_person(100000001)["vanId"] == 100000001
    assert len(sleeps) == 3
    for attempt, slept in enumerate(sleeps, start=1):
        assert 0.5 * 2 ** (attempt - 1) <= slept <= 2 ** (attempt - 1)


def test_4xx_is_not_retried():
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps)
    assert hook.get_person(1) is None  # 404: no such person
    with pytest.raises(VanApiError) as caught:
        list(hook.paginate("signups"))  # neither eventId nor vanID: 400
    assert caught.value.status == 400 and caught.value.codes == ["INVALID_PARAMETER"]
    assert sleeps == []


def test_a_bad_key_is_401_and_the_key_is_never_shown(monkeypatch, caplog):
    wrong = "wrong-key-7f3a9c21d"
    monkeypatch.setenv("AIRFLOW_CONN_VAN_WRONG", conn_json(
        conn_type="http", host=f"{van.SERVICE.url}/v4", login=van.APP_NAME, password=wrong,
        extra={"mode": 1}))
    hook = VanHook("van_wrong", sleep=Sleeps())
    caplog.set_level(logging.DEBUG)
    with pytest.raises(VanApiError) as caught:
        list(hook.get_events(**WINDOW))
    assert caught.value.status == 401 and caught.value.codes == ["UNAUTHORIZED"]
    text = f"{caught.value}\n{caught.value!r}\n{hook!r}\n{caplog.text}"
    assert wrong not in text
    assert base64.b64encode(f"{van.APP_NAME}:{wrong}|1".encode()).decode() not in text
    assert van.admin("calls")["unauthorized"] == 1


def test_the_real_key_never_reaches_logs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)
    sleeps = Sleeps()
    hook = VanHook(sleep=sleeps, max_attempts=2)
    list(hook.get_events(**WINDOW))
    van.admin("throttle", {"count": 5, "retry_after": 1})
    with pytest.raises(VanApiError) as caught:
        hook.get_person(100000001)
    text = f"{caught.value}\n{hook!r}\n{caplog.text}"
    assert van.API_KEY not in text
    assert "VAN http://127.0.0.1" in caplog.text  # the hook did log; just not the key


def test_mode_selects_the_database():
    mycampaign = list(VanHook().get_events(**WINDOW))
    voterfile = list(_hook_for_mode(0).get_events(**WINDOW))
    assert mycampaign and voterfile
    assert not {e["eventId"] for e in mycampaign} & {e["eventId"] for e in voterfile}
    event = voterfile[0]["eventId"]
    person = next(s["person"] for s in _hook_for_mode(0).get_event_signups(event)
                  if s["person"])
    assert VanHook().get_person(person["vanId"]) is None  # not in MyCampaign
    assert _hook_for_mode(0).get_person(person["vanId"])["vanId"] == person["vanId"]


def _hook_for_mode(mode: int) -> VanHook:
    import os

    os.environ[f"AIRFLOW_CONN_VAN_MODE{mode}"] = conn_json(
        conn_type="http", host=f"{van.SERVICE.url}/v4", login=van.APP_NAME,
        password=van.API_KEY, extra={"mode": mode})
    return VanHook(f"van_mode{mode}")


def test_a_bad_mode_is_refused_before_any_call(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_VAN_MODE7", conn_json(
        conn_type="http", host=f"{van.SERVICE.url}/v4", login=van.APP_NAME,
        password=van.API_KEY, extra={"mode": 7}))
    with pytest.raises(ValueError, match="mode"):
        VanHook("van_mode7").get_person(1)
    assert van.admin("calls").get("total", 0) == 0


def test_update_signup_status():
    hook = VanHook()
    event = next(iter(hook.get_events(**WINDOW)))
    signup = next(s for s in hook.get_event_signups(event["eventId"])
                  if s["status"]["statusId"] != 11)
    hook.update_signup_status(signup["eventSignupId"], 11)
    again = _raw(f"signups/{signup['eventSignupId']}")
    assert again["status"] == {"statusId": 11, "name": "Confirmed"}
    assert van.admin("calls")["PUT /v4/signups"] == 1
    with pytest.raises(VanApiError) as caught:
        hook.update_signup_status(signup["eventSignupId"], 424242)
    assert caught.value.status == 400


def test_timeouts_are_retried_then_reported():
    """A server that accepts and never answers: the read timeout fires on every attempt."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    import os

    os.environ["AIRFLOW_CONN_VAN_SILENT"] = conn_json(
        conn_type="http", host=f"http://127.0.0.1:{port}/v4", login="app", password="k3y-silent",
        extra={"mode": 1})
    sleeps = Sleeps()
    hook = VanHook("van_silent", timeout=(1.0, 0.3), max_attempts=2, sleep=sleeps)
    try:
        with pytest.raises(VanApiError) as caught:
            hook.get_person(1)
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()
    assert "after 2 attempts" in str(caught.value) and "Timeout" in str(caught.value)
    assert len(sleeps) == 1 and len(accepted) >= 2


def test_next_page_links_to_other_hosts_are_refused():
    hook = VanHook()
    hook.get_conn()
    with pytest.raises(VanApiError, match="another host"):
        hook.get_json("https://evil.example/v4/events")


def test_base_url_from_connection_fields():
    assert _base_url(None, None, None) == "https://api.securevan.com/v4"
    assert _base_url("api.securevan.com", None, None) == "https://api.securevan.com/v4"
    assert _base_url("127.0.0.1", "http", 18082) == "http://127.0.0.1:18082/v4"
    assert _base_url("http://127.0.0.1:18082/v4/", None, None) == "http://127.0.0.1:18082/v4"


def test_the_stand_in_is_seeded_deterministically_at_size():
    stats = van.admin("stats?mode=1")
    assert stats["events"] >= 2000 and stats["signups"] >= 50000
    assert stats["anchor"] == ANCHOR
    # Across statuses: VAN's standard ones plus one custom status nobody told us about.
    assert len(stats["statuses"]) >= 12
    assert all(n > 0 for n in stats["statuses"].values())
    first = _raw("events", **{"$top": 5, "$expand": "shifts"})
    van.admin("reseed", {"anchor": ANCHOR})
    assert _raw("events", **{"$top": 5, "$expand": "shifts"}) == first
    assert van.admin("stats?mode=0")["signups"] >= 50000
