"""Elasticsearch hook on the official client, for Elasticsearch 8/9 and OpenSearch-like servers.

The Elasticsearch provider's hook takes a list of hosts rather than an Airflow connection, and it
cannot talk to servers that reject the client's compatibility media types. This hook builds the
official `elasticsearch.Elasticsearch` client (9.x) from one connection (`elasticsearch_default`
by default) and offers only what an index-then-promote ingest needs: create an index tuned for
bulk loading, stream documents into it, verify, and move aliases to it atomically.

Connection fields: host, port (default 9200), schema `http` or `https` (default `http`),
login/password (HTTP basic auth). Extras:

- `plain_media_types` (bool, default false): send plain `application/json` /
  `application/x-ndjson`; needed for OpenSearch-compatible servers (osmem-server answers 406
  to the compatibility media type) and for Elasticsearch 8 servers, which do not accept
  `compatible-with=9`. Elasticsearch 9 works either way.
- `verify_certs` (bool, default true), `ca_certs` (path): TLS, used with https only.
- `request_timeout` (seconds, default 30).

The password is never logged and never stored on the hook: it goes straight into the client's
basic-auth header, and it is registered with Airflow's secrets masker.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from airflow.sdk import BaseHook
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch, NotFoundError, helpers

# application/vnd.elasticsearch+json; compatible-with=9  ->  application/json (and x-ndjson).
_COMPAT_MEDIA_TYPE = re.compile(
    r"application/vnd\.elasticsearch\+(json|x-ndjson)(?:\s*;\s*compatible-with=\d+)?"
)
_MEDIA_TYPE_HEADERS = ("accept", "content-type")
_BULK_LOAD_SETTINGS = ("number_of_replicas", "refresh_interval")


class ElasticsearchHookError(RuntimeError):
    """A request the server accepted did not do what was asked (e.g. an alias action failed)."""


class PlainMediaTypeNode(Urllib3HttpNode):
    """The client's default HTTP node, sending plain JSON media types instead of compatibility ones.

    In stack mode the client rewrites every `Accept`/`Content-Type` to
    `application/vnd.elasticsearch+json; compatible-with=9` just before handing the request to
    the transport, so neither `headers=` nor `ELASTIC_CLIENT_APIVERSIONING` can change them; the
    node is the last step before the wire and the only place a rewrite sticks.

    Why a node class rather than the client's public `server_mode="serverless"`, which also sends
    plain media types (both were verified against osmem-server): serverless mode additionally
    sends an `elastic-api-version` header and tells the client it talks to Elastic Serverless,
    neither of which is true here, and any future serverless-only behaviour of the client would
    silently apply to a self-managed cluster. This class changes exactly the two headers and
    nothing else, and keeps every other client behaviour (stack mode, sniffing) as documented.
    """

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> Any:
        if headers:
            headers = HttpHeaders(headers)  # a copy: never mutate the client's shared headers
            for name in _MEDIA_TYPE_HEADERS:
                if value := headers.get(name):
                    headers[name] = _COMPAT_MEDIA_TYPE.sub(r"application/\1", value)
        return super().perform_request(
            method, target, body=body, headers=headers, request_timeout=request_timeout
        )


@dataclass(frozen=True)
class BulkFailure:
    """One document the server refused: its `_id`, the HTTP status and a readable reason."""

    id: str | None
    status: int | None
    reason: str


@dataclass
class BulkResult:
    """Counts of one `bulk_index` call; `failures` is empty when a callback received them."""

    indexed: int = 0
    created: int = 0
    updated: int = 0
    failed: int = 0
    failures: list[BulkFailure] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.indexed + self.failed


def _as_bool(value: Any, *, name: str) -> bool:
    """Extras typed in the UI arrive as strings: accept true/false/1/0/yes/no as well as bools."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value)
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", ""}:
        return False
    raise ValueError(f"connection extra {name!r} must be true or false, not {value!r}")


def _reason(error: Any) -> str:
    """A one-line reason from a bulk item error (a dict from the server, or a chunk's message)."""
    if not isinstance(error, Mapping):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}".rstrip(": ")
    caused_by = error.get("caused_by")
    if isinstance(caused_by, Mapping):
        text += f" (caused by {_reason(caused_by)})"
    return text


class ElasticsearchHook(BaseHook):
    """Index, bulk-load and alias operations on one Elasticsearch/OpenSearch connection.

    :param elasticsearch_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "elasticsearch_conn_id"
    default_conn_name = "elasticsearch_default"
    conn_type = "elasticsearch"
    hook_name = "Elasticsearch (Precinct)"

    # Extras this hook reads; anything else in the connection's extra is ignored.
    EXTRAS: ClassVar[tuple[str, ...]] = (
        "plain_media_types", "verify_certs", "ca_certs", "request_timeout",
    )

    def __init__(self, elasticsearch_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.elasticsearch_conn_id = elasticsearch_conn_id
        self._client: Elasticsearch | None = None

    def __repr__(self) -> str:
        # Only the id: the connection object's own repr includes the password.
        return f"{type(self).__name__}(elasticsearch_conn_id={self.elasticsearch_conn_id!r})"

    # -- client -------------------------------------------------------------------------------

    def get_conn(self) -> Elasticsearch:
        """The client for this connection, built once per hook (it pools HTTP connections)."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def close(self) -> None:
        """Close the client's HTTP connections (a new client is built on next use)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _build_client(self) -> Elasticsearch:
        conn = self.get_connection(self.elasticsearch_conn_id)
        extra = conn.extra_dejson or {}
        if not conn.host:
            raise ValueError(f"connection {self.elasticsearch_conn_id!r} has no host")
        scheme, host, port = (conn.schema or "http").lower(), conn.host, conn.port
        if "://" in host:  # a URL typed into the host field: take its parts, refuse credentials
            parts = urlsplit(host)
            if parts.username or parts.password:
                raise ValueError(
                    f"connection {self.elasticsearch_conn_id!r}: put credentials in login and "
                    "password, not in the host"
                )
            scheme, host, port = parts.scheme.lower(), parts.hostname or "", parts.port or port
        if scheme not in {"http", "https"}:
            raise ValueError(
                f"connection {self.elasticsearch_conn_id!r}: schema must be http or https, "
                f"not {scheme!r}"
            )
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        url = f"{scheme}://{host}:{port or 9200}"

        kwargs: dict[str, Any] = {
            "request_timeout": float(extra.get("request_timeout", 30)),
            # Retrying a timed-out request is safe here: documents carry explicit ids, settings
            # and aliases are absolute values, and a repeated create fails loudly.
            "retry_on_timeout": True,
            "max_retries": 3,
        }
        if conn.login:
            if conn.password:
                from airflow.sdk.log import mask_secret

                mask_secret(conn.password)
            kwargs["basic_auth"] = (conn.login, conn.password or "")
        if scheme == "https":
            kwargs["verify_certs"] = _as_bool(extra.get("verify_certs", True), name="verify_certs")
            if extra.get("ca_certs"):
                kwargs["ca_certs"] = str(extra["ca_certs"])
        plain = _as_bool(extra.get("plain_media_types", False), name="plain_media_types")
        if plain:
            kwargs["node_class"] = PlainMediaTypeNode
        self.log.info(
            "Elasticsearch client for %s (connection %s, user %s, plain media types %s)",
            url, self.elasticsearch_conn_id, conn.login or "-", plain,
        )
        return Elasticsearch(url, **kwargs)

    # -- indices ------------------------------------------------------------------------------

    def create_index(
        self, name: str, body: Mapping[str, Any], *, bulk_load: bool = True
    ) -> None:
        """Create `name` with `body` (`settings`, `mappings`, `aliases`).

        With `bulk_load`, replicas are 0 and refresh is off while loading: the server then writes
        each document once and builds no searchable segments until we ask. The hook remembers
        nothing; the caller restores with `finish_bulk_load` (replicas from its own body).
        """
        unknown = set(body) - {"settings", "mappings", "aliases"}
        if unknown:
            raise ValueError(f"index body for {name!r} has unknown keys: {sorted(unknown)}")
        settings = dict(body.get("settings") or {})
        if bulk_load:
            settings = self._with_bulk_load_settings(settings)
        kwargs = {key: body[key] for key in ("mappings", "aliases") if body.get(key)}
        self.get_conn().indices.create(index=name, settings=settings or None, **kwargs)
        self.log.info("Created index %s (bulk-load tuning %s)", name, bulk_load)

    @staticmethod
    def _with_bulk_load_settings(settings: dict[str, Any]) -> dict[str, Any]:
        """Settings with replicas 0 and refresh off, whichever way the body spells those keys."""
        nested = dict(settings.get("index") or {})
        for key in _BULK_LOAD_SETTINGS:
            settings.pop(key, None)
            settings.pop(f"index.{key}", None)
            nested.pop(key, None)
        nested.update(number_of_replicas=0, refresh_interval="-1")
        settings["index"] = nested
        return settings

    def finish_bulk_load(
        self, name: str, *, replicas: int = 1, refresh_interval: str = "1s"
    ) -> None:
        """Restore replicas and refresh interval after a bulk load, then refresh once.

        Pass the replica count of the index body you created with (1 when it sets none).
        """
        settings = {"number_of_replicas": replicas, "refresh_interval": refresh_interval}
        self.get_conn().indices.put_settings(index=name, settings={"index": settings})
        self.refresh(name)
        self.log.info(
            "Restored %s: %s replica(s), refresh every %s", name, replicas, refresh_interval
        )

    def refresh(self, index: str) -> None:
        """Make everything indexed so far visible to search and count."""
        self.get_conn().indices.refresh(index=index)

    def count(self, index: str) -> int:
        """Documents visible in `index` (an index or alias); refresh first after loading."""
        return int(self.get_conn().count(index=index)["count"])

    def indices_matching(self, pattern: str) -> list[str]:
        """Names of the indices (open or closed) matching a wildcard pattern, sorted; [] if none.

        Sorted by name, which for `{state}_contributions_{timestamp}` is oldest first.
        """
        try:
            found = self.get_conn().indices.get(
                index=pattern, expand_wildcards="open,closed", allow_no_indices=True,
                ignore_unavailable=True,
            )
        except NotFoundError:  # a pattern without wildcards that names no index
            return []
        return sorted(found.body)

    def delete_index(self, name: str) -> bool:
        """Delete one index by its exact name; False if it did not exist.

        Wildcards, lists and `_all` are refused: deleting by pattern could take the live index.
        """
        if not name or any(ch in name for ch in "*?,") or name.startswith(("_", "-")):
            raise ValueError(f"delete_index takes one exact index name, not {name!r}")
        response = self.get_conn().options(ignore_status=404).indices.delete(index=name)
        deleted = response.meta.status != 404
        if deleted:
            self.log.info("Deleted index %s", name)
        return deleted

    # -- documents ----------------------------------------------------------------------------

    def bulk_index(
        self,
        index: str,
        docs: Iterable[tuple[str, Mapping[str, Any]]],
        *,
        chunk_size: int = 2000,
        on_failure: Callable[[BulkFailure], None] | None = None,
        max_retries: int = 3,
    ) -> BulkResult:
        """Stream `(id, document)` pairs into `index`; return counts and the refused documents.

        Each document is an `index` action with an explicit `_id`, so a retry or re-run
        overwrites rather than duplicates. Documents are consumed lazily, one chunk at a time;
        only failures are kept, and not even those when `on_failure` is given (it is called
        once per refused document). Item errors (mapping conflicts, bad values) and a chunk the
        server refuses as a whole are reported, not raised; 429s are retried `max_retries` times
        with backoff. A server that cannot be reached at all raises: that is not a data problem.
        """
        result = BulkResult()
        for ok, item in helpers.streaming_bulk(
            self.get_conn(),
            self._actions(index, docs),
            chunk_size=chunk_size,
            raise_on_error=False,
            raise_on_exception=False,
            max_retries=max_retries,
        ):
            info = next(iter(item.values()), {})
            if ok:
                result.indexed += 1
                if info.get("result") == "created":
                    result.created += 1
                elif info.get("result") == "updated":
                    result.updated += 1
                continue
            result.failed += 1
            failure = BulkFailure(
                id=info.get("_id"), status=info.get("status"), reason=_reason(info.get("error"))
            )
            if on_failure is not None:
                on_failure(failure)
            else:
                result.failures.append(failure)
        self.log.info(
            "Bulk into %s: %d indexed (%d new, %d overwritten), %d refused",
            index, result.indexed, result.created, result.updated, result.failed,
        )
        return result

    @staticmethod
    def _actions(
        index: str, docs: Iterable[tuple[str, Mapping[str, Any]]]
    ) -> Iterator[dict[str, Any]]:
        # `_source` keeps document fields apart from action metadata (a field named `_id` or
        # `_index` in a document can never redirect it).
        for doc_id, doc in docs:
            yield {"_op_type": "index", "_index": index, "_id": str(doc_id), "_source": doc}

    # -- aliases ------------------------------------------------------------------------------

    def alias_indices(self, alias: str) -> list[str]:
        """The indices `alias` points to, sorted; [] when the alias does not exist."""
        try:
            response = self.get_conn().indices.get_alias(name=alias)
        except NotFoundError:
            return []
        return sorted(response.body)

    def promote(self, alias: str, new_index: str) -> list[str]:
        """Point `alias` at `new_index` only; return the indices it left.

        `move_aliases` with one pair: a single alias and several aliases move through the same
        code, so they cannot drift apart in how they handle the server's answers.
        """
        return self.move_aliases({alias: new_index})[alias]

    def move_aliases(self, targets: Mapping[str, str]) -> dict[str, list[str]]:
        """Point each alias at its new index only, in one `_aliases` call; return what each left.

        One call, because aliases that are searched together (a state's contributions and
        reports) must never point at different loads: the server checks every action of one
        `_aliases` request before applying any, so a refused request leaves every alias where it
        was. Separate calls per alias would leave the first moved when the second fails.

        Each alias is read first and removed only from the indices that hold it: servers differ on
        removing an alias that is not there (Elasticsearch 8.14+ answers 200 with `errors: true`
        and applies the rest, OpenSearch before 2.12 has no `must_exist`). On the first run there
        is nothing to remove and the call only adds. A request the server refuses (e.g. an index
        that does not exist) raises the client's error; an `errors: true` answer raises
        `ElasticsearchHookError`, so a half-applied move never passes silently, unless the only
        failures are removals of an alias already gone (a concurrent move took it off first):
        then every alias is where this move puts it.
        """
        if not targets:
            raise ValueError("move_aliases needs at least one alias to move")
        previous: dict[str, list[str]] = {}
        actions: list[dict[str, Any]] = []
        for alias, new_index in targets.items():
            previous[alias] = [name for name in self.alias_indices(alias) if name != new_index]
            actions.extend({"remove": {"index": name, "alias": alias}} for name in previous[alias])
        actions.extend(
            {"add": {"index": new_index, "alias": alias}} for alias, new_index in targets.items()
        )
        moves = ", ".join(f"{alias} -> {index}" for alias, index in targets.items())
        response = self.get_conn().indices.update_aliases(actions=actions).body
        if response.get("errors"):
            failed = [
                result for result in response.get("action_results", [])
                if result.get("error") or int(result.get("status", 200)) >= 300
            ]
            # An alias removed between our read and the call (a concurrent move) is already
            # where this move wants it: the rest was applied, the end state is the intended one.
            gone = [r for r in failed if _alias_already_gone(r)]
            if not failed or len(gone) < len(failed):
                raise ElasticsearchHookError(f"moving aliases {moves} failed: {failed or response}")
            self.log.warning("Moving aliases %s: %d alias(es) were already gone from the old "
                             "index; the move is complete", moves, len(gone))
        if not response.get("acknowledged", False):
            self.log.warning(
                "Aliases %s were applied but not acknowledged by every node in time", moves
            )
        for alias, new_index in targets.items():
            self.log.info(
                "Alias %s now points to %s (was %s)",
                alias, new_index, ", ".join(previous[alias]) or "none",
            )
        return previous


def _alias_already_gone(result: Mapping[str, Any]) -> bool:
    """An `_aliases` action result that failed only because the alias it removes is not there."""
    action = result.get("action") or {}
    error = result.get("error") or {}
    return action.get("type") == "remove" and error.get("type") == "aliases_not_found_exception"
