"""ElasticsearchHook against a real server: osmem-server from devstack, or Elasticsearch.

By default the hook finds `elasticsearch_default` through the AIRFLOW_CONN_* variable devstack
writes (osmem-server, plain media types). With `ES_URL` set (e.g. http://localhost:9200, or
http://elastic:secret@localhost:9200) the same tests run against that server instead, with the
client's standard compatibility media types (`ES_PLAIN_MEDIA_TYPES=true` for an Elasticsearch 8
or OpenSearch server). Every test creates uniquely named indices and deletes them afterwards.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from elastic_transport import HttpHeaders, NodeConfig, Urllib3HttpNode
from elasticsearch import ApiError, Elasticsearch

from devstack.core import conn_json
from precinct.hooks.elasticsearch import (
    BulkFailure,
    ElasticsearchHook,
    ElasticsearchHookError,
    PlainMediaTypeNode,
)

ES_URL = os.environ.get("ES_URL")
integration = pytest.mark.integration

MAPPING = {
    "dynamic": "strict",
    "properties": {
        "name": {"type": "keyword"},
        "amount": {"type": "float"},
        "memo": {"type": "text"},
    },
}


def _conn_from_url(url: str) -> str:
    """An elasticsearch connection (JSON form) for ES_URL, credentials in login/password."""
    parts = urlsplit(url)
    plain = os.environ.get("ES_PLAIN_MEDIA_TYPES", "false").lower() in {"1", "true", "yes"}
    return conn_json(
        conn_type="elasticsearch",
        host=parts.hostname,
        port=parts.port or 9200,
        schema=parts.scheme or "http",
        login=parts.username,
        password=parts.password,
        extra={"plain_media_types": plain},
    )


@pytest.fixture
def hook(
    devstack_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[ElasticsearchHook]:
    if ES_URL:
        monkeypatch.setenv("AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", _conn_from_url(ES_URL))
    es_hook = ElasticsearchHook()
    yield es_hook
    es_hook.close()


@pytest.fixture
def new_name(hook: ElasticsearchHook) -> Iterator[Callable[[str], str]]:
    """Unique index names for one test; every index made under them is deleted afterwards."""
    prefix = f"precinct_test_{uuid.uuid4().hex[:12]}"

    def make(suffix: str = "") -> str:
        return f"{prefix}{suffix}"

    yield make
    for name in hook.indices_matching(f"{prefix}*"):
        hook.delete_index(name)


def _docs(n: int, *, amount: float = 1.0) -> Iterator[tuple[str, dict]]:
    for i in range(n):
        yield f"c-{i}", {"name": f"donor {i}", "amount": amount, "memo": "quoted, \"memo\"\nline"}


def _flat_settings(hook: ElasticsearchHook, index: str) -> dict[str, str]:
    body = hook.get_conn().indices.get_settings(index=index, flat_settings=True).body
    return body[index]["settings"]


@integration
def test_create_index_with_mapping_and_bulk_tuning_then_restored(hook, new_name):
    index = new_name("_load")
    body = {"settings": {"number_of_shards": 1, "number_of_replicas": 1}, "mappings": MAPPING}

    hook.create_index(index, body)

    mapping = hook.get_conn().indices.get_mapping(index=index).body[index]["mappings"]
    assert mapping["properties"] == MAPPING["properties"]
    assert str(mapping["dynamic"]) == "strict"
    settings = _flat_settings(hook, index)
    assert settings["index.number_of_replicas"] == "0"
    assert settings["index.refresh_interval"] == "-1"
    assert body["settings"] == {"number_of_shards": 1, "number_of_replicas": 1}  # not mutated

    hook.finish_bulk_load(index, replicas=1, refresh_interval="1s")

    settings = _flat_settings(hook, index)
    assert settings["index.number_of_replicas"] == "1"
    assert settings["index.refresh_interval"] == "1s"


@integration
def test_create_index_without_bulk_load_keeps_the_body_settings(hook, new_name):
    index = new_name("_plain")
    hook.create_index(
        index, {"settings": {"index": {"number_of_replicas": 0}}, "mappings": MAPPING},
        bulk_load=False,
    )
    settings = _flat_settings(hook, index)
    assert settings["index.number_of_replicas"] == "0"
    assert settings.get("index.refresh_interval", "1s") != "-1"


@integration
def test_bulk_index_counts_and_a_reindex_of_the_same_ids_is_idempotent(hook, new_name):
    index, n = new_name("_bulk"), 250
    hook.create_index(index, {"mappings": MAPPING})

    first = hook.bulk_index(index, _docs(n), chunk_size=100)
    hook.refresh(index)

    assert (first.indexed, first.created, first.failed, first.failures) == (n, n, 0, [])
    assert hook.count(index) == n

    again = hook.bulk_index(index, _docs(n, amount=2.5), chunk_size=100)
    hook.finish_bulk_load(index, replicas=0)

    assert (again.indexed, again.created, again.updated, again.failed) == (n, 0, n, 0)
    assert hook.count(index) == n
    assert hook.get_conn().get(index=index, id="c-7")["_source"]["amount"] == 2.5


@integration
def test_bulk_item_errors_are_reported_with_id_and_reason_and_not_counted(hook, new_name):
    index = new_name("_strict")
    hook.create_index(index, {"mappings": MAPPING})
    docs = [
        ("ok-1", {"name": "a", "amount": 1.0}),
        ("bad-type", {"name": "b", "amount": "lots"}),
        ("ok-2", {"name": "c", "amount": -5.0}),  # refunds are negative, and fine
        ("bad-field", {"name": "d", "amount": 1.0, "surprise": "x"}),
    ]

    result = hook.bulk_index(index, iter(docs))
    hook.refresh(index)

    assert (result.indexed, result.failed) == (2, 2)
    reasons = {failure.id: failure for failure in result.failures}
    assert set(reasons) == {"bad-type", "bad-field"}
    assert reasons["bad-type"].status == 400
    # Exception type names differ across versions (mapper_/document_parsing_exception), so
    # check what every server says: the field and the cause.
    assert "parsing_exception" in reasons["bad-type"].reason
    assert "[amount]" in reasons["bad-type"].reason
    assert "strict" in reasons["bad-field"].reason
    assert "[surprise]" in reasons["bad-field"].reason
    assert reasons["bad-field"].status == 400
    assert hook.count(index) == 2


@integration
def test_bulk_failures_go_to_the_callback_while_documents_stream(hook, new_name):
    index, chunk = new_name("_stream"), 10
    hook.create_index(index, {"mappings": MAPPING})
    produced = 0

    def docs() -> Iterator[tuple[str, dict]]:
        nonlocal produced
        for i in range(100):
            produced += 1
            yield f"d-{i}", {"name": "x", "amount": "bad" if i % 25 == 3 else i}

    seen: list[tuple[BulkFailure, int]] = []
    result = hook.bulk_index(
        index, docs(), chunk_size=chunk, on_failure=lambda f: seen.append((f, produced))
    )

    assert result.failures == []  # the callback had them; nothing was collected
    assert (result.indexed, result.failed) == (96, 4)
    assert [failure.id for failure, _ in seen] == ["d-3", "d-28", "d-53", "d-78"]
    # The first failure arrived while at most one chunk (plus look-ahead) had been produced.
    assert seen[0][1] <= chunk + 1


@integration
def test_first_promotion_creates_the_alias_and_the_next_moves_it(hook, new_name):
    alias = new_name("_contributions")
    old, new = new_name("_contributions_20261101t000000z"), new_name(
        "_contributions_20261102t000000z"
    )
    for index, n in ((old, 3), (new, 5)):
        hook.create_index(index, {"mappings": MAPPING})
        hook.bulk_index(index, _docs(n))
        hook.finish_bulk_load(index, replicas=0)
    assert hook.alias_indices(alias) == []

    assert hook.promote(alias, old) == []  # first run: nothing to remove
    assert hook.alias_indices(alias) == [old]
    assert hook.count(alias) == 3

    assert hook.promote(alias, new) == [old]
    assert hook.alias_indices(alias) == [new]
    assert hook.count(alias) == 5

    assert hook.promote(alias, new) == []  # a retry after success changes nothing
    assert hook.alias_indices(alias) == [new]


@integration
def test_promotion_is_atomic_for_concurrent_readers(hook, new_name):
    """A reader counting through the alias sees the old or the new index, never none or both."""
    alias = new_name("_reports")
    a, b = new_name("_reports_a"), new_name("_reports_b")
    for index, n in ((a, 3), (b, 5)):
        hook.create_index(index, {"mappings": MAPPING})
        hook.bulk_index(index, _docs(n))
        hook.finish_bulk_load(index, replicas=0)
    hook.promote(alias, a)

    reader = ElasticsearchHook()  # its own client, like a searcher's
    seen: set[object] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                seen.add(reader.count(alias))
            except ApiError as exc:
                seen.add(f"error {exc.status_code}")

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for target in (b, a) * 5:
            hook.promote(alias, target)
    finally:
        stop.set()
        thread.join()
        reader.close()

    assert seen <= {3, 5}
    assert len(hook.alias_indices(alias)) == 1


@integration
def test_failed_promotion_raises_and_leaves_the_alias_alone(hook, new_name):
    alias, live = new_name("_alias"), new_name("_live")
    hook.create_index(live, {"mappings": MAPPING}, bulk_load=False)
    hook.promote(alias, live)

    with pytest.raises((ApiError, ElasticsearchHookError)):
        hook.promote(alias, new_name("_never_created"))

    assert hook.alias_indices(alias) == [live]


@integration
def test_move_aliases_moves_a_states_aliases_together(hook, new_name):
    """Both of a state's aliases move in one call, from the first run's creation onwards."""
    contributions, reports = new_name("_contributions"), new_name("_reports")
    loads = {
        day: {
            contributions: new_name(f"_contributions_2026110{day}t000000z"),
            reports: new_name(f"_reports_2026110{day}t000000z"),
        }
        for day in (1, 2)
    }
    for day, n in ((1, 3), (2, 5)):
        for index in loads[day].values():
            hook.create_index(index, {"mappings": MAPPING})
            hook.bulk_index(index, _docs(n))
            hook.finish_bulk_load(index, replicas=0)

    assert hook.move_aliases(loads[1]) == {contributions: [], reports: []}  # first run: adds
    assert hook.move_aliases(loads[2]) == {
        contributions: [loads[1][contributions]], reports: [loads[1][reports]],
    }
    for alias in (contributions, reports):
        assert hook.alias_indices(alias) == [loads[2][alias]]
        assert hook.count(alias) == 5
    assert hook.move_aliases(loads[2]) == {contributions: [], reports: []}  # a retry: no change


@integration
def test_failed_move_leaves_every_alias_where_it_was(hook, new_name):
    """One action the server refuses (an index that does not exist) fails the whole call.

    The contributions move comes first and would succeed on its own; with one call per alias it
    would have been applied before the reports move failed. In one call, neither alias moves.
    """
    contributions, reports = new_name("_contributions"), new_name("_reports")
    live = {contributions: new_name("_contributions_old"), reports: new_name("_reports_old")}
    fresh = new_name("_contributions_new")
    for index in (*live.values(), fresh):
        hook.create_index(index, {"mappings": MAPPING}, bulk_load=False)
    hook.move_aliases(live)

    with pytest.raises((ApiError, ElasticsearchHookError)):
        hook.move_aliases({contributions: fresh, reports: new_name("_reports_never_created")})

    assert hook.alias_indices(contributions) == [live[contributions]]
    assert hook.alias_indices(reports) == [live[reports]]
    # The contributions action was not the problem: on its own it is applied.
    assert hook.move_aliases({contributions: fresh}) == {contributions: [live[contributions]]}
    assert hook.alias_indices(contributions) == [fresh]


@integration
def test_indices_matching_sorts_by_name_and_handles_no_match(hook, new_name):
    names = [new_name(f"_tx_contributions_2026110{d}t031500z") for d in (3, 1, 2)]
    other = new_name("_mi_contributions_20261101t031500z")
    for name in [*names, other]:
        hook.create_index(name, {"mappings": MAPPING}, bulk_load=False)

    assert hook.indices_matching(new_name("_tx_contributions_*")) == sorted(names)
    assert hook.indices_matching(new_name("_nv_contributions_*")) == []
    assert hook.indices_matching(new_name("_does_not_exist")) == []


@integration
def test_delete_index_ignores_missing_and_refuses_patterns(hook, new_name):
    index = new_name("_gone")
    hook.create_index(index, {"mappings": MAPPING}, bulk_load=False)

    assert hook.delete_index(index) is True
    assert hook.indices_matching(index) == []
    assert hook.delete_index(index) is False
    for pattern in (new_name("_*"), f"{index},other", "_all", ""):
        with pytest.raises(ValueError, match="exact index name"):
            hook.delete_index(pattern)


@integration
@pytest.mark.skipif(bool(ES_URL), reason="osmem-server behaviour only")
def test_osmem_needs_plain_media_types(hook):
    """Why the devstack connection sets `plain_media_types`: the stock client gets a 406."""
    url = f"http://{hook.get_connection(hook.elasticsearch_conn_id).host}:19200"
    stock = Elasticsearch(url)
    with pytest.raises(ApiError) as excinfo:
        stock.count(index="*", query={"match_all": {}})  # a body: Content-Type is sent
    assert excinfo.value.status_code == 406
    assert isinstance(hook.get_conn().transport.node_pool.get(), PlainMediaTypeNode)
    assert hook.count("*") >= 0


# -- unit tests: no server needed ------------------------------------------------------------


class _Response:
    def __init__(self, body: dict) -> None:
        self.body = body


class _StubIndices:
    """Answers like Elasticsearch 8.14+ when one alias action of several fails (`errors: true`,
    the other actions applied)."""

    def __init__(self, failing: dict) -> None:
        self.failing = failing
        self.actions: list[dict] = []

    def get_alias(self, name: str) -> _Response:
        return _Response({"old_a": {"aliases": {name: {}}}, "old_b": {"aliases": {name: {}}}})

    def update_aliases(self, actions: list[dict]) -> _Response:
        self.actions = actions
        ok = [{"action": {"type": "remove", "indices": ["old_b"], "aliases": ["al"]},
               "status": 200},
              {"action": {"type": "add", "indices": ["new"], "aliases": ["al"]}, "status": 200}]
        return _Response({"acknowledged": True, "errors": True,
                          "action_results": [self.failing, *ok]})


def _stubbed(failing: dict) -> tuple[ElasticsearchHook, _StubIndices]:
    hook = ElasticsearchHook()
    stub = _StubIndices(failing)
    hook._client = type("StubClient", (), {"indices": stub})()
    return hook, stub


def test_an_alias_already_gone_from_an_old_index_completes_the_move():
    hook, stub = _stubbed({"action": {"type": "remove", "indices": ["old_a"], "aliases": ["al"]},
                           "status": 404, "error": {"type": "aliases_not_found_exception"}})
    assert hook.promote("al", "new") == ["old_a", "old_b"]
    assert stub.actions == [  # removed only from the indices that held it, then added
        {"remove": {"index": "old_a", "alias": "al"}},
        {"remove": {"index": "old_b", "alias": "al"}},
        {"add": {"index": "new", "alias": "al"}},
    ]


def test_any_other_failed_alias_action_raises():
    hook, _ = _stubbed({"action": {"type": "add", "indices": ["new"], "aliases": ["al"]},
                        "status": 404, "error": {"type": "index_not_found_exception"}})
    with pytest.raises(ElasticsearchHookError, match="index_not_found_exception"):
        hook.promote("al", "new")


def test_plain_media_type_node_rewrites_only_the_media_types(monkeypatch):
    sent: dict[str, str] = {}

    def capture(self, method, target, body=None, headers=None, request_timeout=None):
        sent.update(headers or {})
        return "sent"

    monkeypatch.setattr(Urllib3HttpNode, "perform_request", capture)  # no network
    headers = HttpHeaders({
        "accept": "application/vnd.elasticsearch+json; compatible-with=9",
        "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=9",
        "x-opaque-id": "keep-me",
    })
    node = PlainMediaTypeNode(NodeConfig("http", "127.0.0.1", 1))

    assert node.perform_request("PUT", "/_bulk", b"{}\n", headers) == "sent"
    assert sent["accept"] == "application/json"
    assert sent["content-type"] == "application/x-ndjson"
    assert sent["x-opaque-id"] == "keep-me"
    assert headers["accept"].startswith("application/vnd.elasticsearch")  # caller's copy intact


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_password_never_appears_in_repr_logs_or_connection_errors(monkeypatch, caplog, capsys):
    secret = f"hunter2-{uuid.uuid4().hex}"
    monkeypatch.setenv(
        "AIRFLOW_CONN_ES_SECRET_TEST",
        conn_json(
            conn_type="elasticsearch", host="127.0.0.1", port=_closed_port(), schema="http",
            login="precinct", password=secret,
            extra={"plain_media_types": True, "request_timeout": 2},
        ),
    )
    caplog.set_level(logging.DEBUG)
    hook = ElasticsearchHook(elasticsearch_conn_id="es_secret_test")

    try:
        with pytest.raises(TransportConnectionError) as excinfo:
            hook.count("anything")
        client_repr = repr(hook.get_conn())
    finally:
        hook.close()

    # Airflow renders its own (structlog) loggers to stdout/stderr and the client's (stdlib)
    # loggers through caplog: look at both.
    captured = capsys.readouterr()
    logs = caplog.text + captured.out + captured.err
    assert "Elasticsearch client for http://127.0.0.1" in logs  # the hook's log was captured
    token = base64.b64encode(f"precinct:{secret}".encode()).decode()
    for text in (
        str(excinfo.value), repr(excinfo.value), repr(excinfo.value.errors), logs,
        repr(hook), str(hook), client_repr,
    ):
        assert secret not in text
        assert token not in text
