"""Load one state's campaign-finance files into fresh indices and promote them behind its aliases.

Searchers only ever see complete data: documents go into new working indices, and the state's
aliases (`{state}_contributions`, `{state}_reports`) move to them in one atomic call once the
load is verified. Anything that goes wrong before that leaves the aliases on the old, complete
indices; the next run deletes the abandoned working indices (see `precinct.finance.indices`).
Document ids are stable per contribution, so a retry never duplicates a document.

Client libraries are imported inside `execute`: DAG files import this module at parse time.
"""

from __future__ import annotations

import csv
import json
import logging
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from airflow.sdk import AssetAlias, BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from precinct import connections

log = logging.getLogger(__name__)

PROMOTED_ALIASES = AssetAlias(name="state_finance_promoted")
REJECTS_HEADER = ("reason", "file", "line", "detail")
# The DAG whose Airflow Variables (`state_finance_ingest_source`,
# `state_finance_ingest_rejects_location`) fill in an empty source or rejects location.
DAG_ID = "state_finance_ingest"


class Settings(NamedTuple):
    """One run's checked parameters, the locations resolved."""

    state: str
    source: str
    rejects_location: str
    max_rejected_share: float
    force_promotion: bool
    keep_indices: int


def resolve_locations(source: str | None, rejects_location: str | None) -> tuple[str, str]:
    """The source and rejects locations: the form's values, else the Airflow Variables
    `state_finance_ingest_source` / `state_finance_ingest_rejects_location`, each checked as the
    form checks it. Neither set, or a bad value, fails the task at once (no retries)."""
    from precinct import settings as deployment
    from precinct.finance.locations import check_location

    return (
        deployment.required(source, dag_id=DAG_ID, param="source", check=check_location),
        deployment.required(rejects_location, dag_id=DAG_ID, param="rejects_location",
                            check=check_location),
    )


def selected_states(params: dict[str, Any]) -> list[str]:
    """The states to map over: validated against the registry, duplicates dropped. A bad
    choice fails the task at once (no retry can fix a form value), and so do missing or bad
    locations: once here, rather than once per mapped state."""
    from precinct import settings as deployment
    from precinct.finance.registry import get_ingestor

    with deployment.invalid_form_values():
        chosen = list(dict.fromkeys(str(s).strip().lower() for s in params.get("states") or []))
        if not chosen:
            raise ValueError("Param 'states' is empty: choose at least one state")
        for state in chosen:
            get_ingestor(state)  # raises, naming the registered states
    resolve_locations(params.get("source"), params.get("rejects_location"))
    return chosen


def alias_asset_uri(alias: str) -> str:
    """The Asset URI downstream DAGs schedule on, one per state alias."""
    return f"elasticsearch://{connections.ELASTICSEARCH}/{alias}"


class StateFinanceIngestOperator(BaseOperator):
    """Ingest one state (map it over states): check, clean up, load, verify, guard, promote, retire.

    :param state: two-letter code of a registered state (`precinct.finance.registry`).
    :param source: base URL of the raw files, `file://...` or `s3://bucket/prefix`; the state's
        files are under `{source}/{state}/`. None or empty: the Airflow Variable
        `state_finance_ingest_source`, read when the task runs.
    :param rejects_location: base URL where `rejects/{state}/{run_id}.csv` is written. None or
        empty: the Airflow Variable `state_finance_ingest_rejects_location`.
    :param max_rejected_share: rejected rows over in-scope rows above which the state fails
        before promotion (0.05 = 5%).
    :param force_promotion: promote even when the new index holds under `guard_ratio` of the live
        alias's documents (the guard against a truncated state file wiping out search results).
    :param keep_indices: indices kept per alias, the live one included.
    """

    template_fields: Sequence[str] = (
        "state", "source", "rejects_location", "max_rejected_share", "force_promotion",
        "keep_indices",
    )
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        state: str,
        source: str | None = None,
        rejects_location: str | None = None,
        max_rejected_share: float | str = 0.05,
        force_promotion: bool | str = False,
        keep_indices: int | str = 2,
        guard_ratio: float = 0.9,
        replicas: int = 1,
        chunk_size: int = 2000,
        elasticsearch_conn_id: str = connections.ELASTICSEARCH,
        aws_conn_id: str = connections.AWS,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [PROMOTED_ALIASES])
        super().__init__(**kwargs)
        self.state = state
        self.source = source
        self.rejects_location = rejects_location
        self.max_rejected_share = max_rejected_share
        self.force_promotion = force_promotion
        self.keep_indices = keep_indices
        self.guard_ratio = guard_ratio
        self.replicas = replicas
        self.chunk_size = chunk_size
        self.elasticsearch_conn_id = elasticsearch_conn_id
        self.aws_conn_id = aws_conn_id

    # -- parameters -------------------------------------------------------------------------

    def _validated(self) -> Settings:
        """Every parameter checked before anything is read or created. A value that cannot be
        used fails the task at once, without retries: retrying cannot fix a form value.

        `source` and `rejects_location` left empty (None) come from the Airflow Variables
        `state_finance_ingest_source` / `state_finance_ingest_rejects_location`; neither set
        fails the task, naming the Param and the Variable.
        """
        from precinct import settings as deployment
        from precinct.finance.indices import check_state
        from precinct.finance.registry import get_ingestor

        with deployment.invalid_form_values():
            state = check_state(str(self.state).strip().lower())
            get_ingestor(state)  # unknown state: a clear error naming the registered ones
            share = _converted(float, self.max_rejected_share, "max_rejected_share", "a number")
            if not 0 <= share <= 1:
                raise ValueError(f"max_rejected_share must be between 0 and 1, got {share}")
            keep = _converted(int, self.keep_indices, "keep_indices", "a whole number")
            if keep < 1:
                raise ValueError(f"keep_indices must be at least 1 (the live index), got {keep}")
        source, rejects = resolve_locations(self.source, self.rejects_location)
        force = self.force_promotion in (True, "true", "True", "yes", "1", 1)
        return Settings(state, source, rejects, share, force, keep)

    def _s3_client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=self.aws_conn_id).get_conn()

    # -- the run ----------------------------------------------------------------------------

    def execute(self, context: Any) -> dict[str, Any]:
        from precinct.finance import indices
        from precinct.finance.locations import state_source
        from precinct.finance.mappings import contributions_index_body, reports_index_body
        from precinct.finance.registry import get_ingestor
        from precinct.hooks.elasticsearch import ElasticsearchHook

        run = self._validated()
        state, max_share, force, keep = (run.state, run.max_rejected_share, run.force_promotion,
                                         run.keep_indices)
        ingestor = get_ingestor(state)()
        source = state_source(run.source, state, self._s3_client)
        log.info("%s: checking input files in %s", state, source.describe(""))
        ingestor.check(source)  # before any index exists: names the missing file

        es = ElasticsearchHook(elasticsearch_conn_id=self.elasticsearch_conn_id)
        bodies = {"contributions": contributions_index_body(), "reports": reports_index_body()}
        live = {kind: es.alias_indices(indices.alias_name(state, kind)) for kind in bodies}
        for kind in bodies:
            existing = es.indices_matching(indices.index_pattern(state, kind))
            for orphan in indices.orphans(existing, live[kind], state, kind):
                log.info("%s: deleting working index %s left by an earlier run", state, orphan)
                es.delete_index(orphan)

        started = datetime.now(UTC)
        new = {kind: indices.working_index_name(state, kind, started) for kind in bodies}
        for kind, body in bodies.items():
            es.create_index(new[kind], body, bulk_load=True)
        log.info("%s: loading into %s", state, ", ".join(new.values()))

        with tempfile.TemporaryDirectory(prefix=f"precinct-{state}-") as tmp:
            rejects_path = Path(tmp) / "rejects.csv"
            outcome = self._load(es, ingestor, source, new, Path(tmp), rejects_path)
            rejects_url = self._upload_rejects(rejects_path, state, context["run_id"],
                                               run.rejects_location)
        stats = ingestor.stats
        rejected = dict(stats.rejected)
        if outcome["bulk_failed"]:
            rejected["bulk item error"] = outcome["bulk_failed"]
        rejected_total = sum(rejected.values())
        in_scope = stats.produced_total + stats.rejected_total
        share = rejected_total / in_scope if in_scope else 0.0
        summary: dict[str, Any] = {
            "state": state,
            "indices": new,
            "documents": outcome["indexed"],
            "rejected": rejected,
            "skipped": dict(stats.skipped),
            "rejected_share": round(share, 6),
            "rejects_file": rejects_url,
        }
        log.info("%s: %s", state, json.dumps(summary, sort_keys=True))
        if share > max_share:
            raise AirflowFailException(
                f"{state}: {rejected_total} of {in_scope} rows rejected ({share:.2%}), above the "
                f"maximum {max_share:.2%}; not promoted. Rejected rows: {rejects_url}"
            )

        for kind in bodies:
            es.finish_bulk_load(new[kind], replicas=self.replicas)
            expected = outcome["indexed"][kind]
            actual = es.count(new[kind])
            if actual != expected:
                raise AirflowException(
                    f"{state}: {new[kind]} holds {actual} documents, {expected} were indexed; "
                    "not promoted"
                )

        alias = indices.alias_name(state, "contributions")
        live_count = es.count(alias) if live["contributions"] else 0
        new_count = outcome["indexed"]["contributions"]
        if live_count and new_count < self.guard_ratio * live_count and not force:
            self._alert_guard(state, alias, new_count, live_count, live["contributions"])
            raise AirflowSkipException(
                f"{state}: new index has {new_count} contributions, under "
                f"{self.guard_ratio:.0%} of the live {live_count}; not promoted (force_promotion "
                "to override)"
            )

        # Both aliases in one `_aliases` call: searchers read a state's contributions and reports
        # together, so the two must never point at different loads, not even when the call fails.
        es.move_aliases({indices.alias_name(state, kind): new[kind] for kind in bodies})
        log.info("%s: promoted %s", state, ", ".join(new.values()))
        retired = []
        for kind in bodies:
            existing = es.indices_matching(indices.index_pattern(state, kind))
            for old in indices.to_retire(existing, [new[kind]], state, kind, keep):
                es.delete_index(old)
                retired.append(old)
        summary["retired"] = retired
        summary["live"] = new

        from airflow.sdk import Asset

        for kind in bodies:
            name = indices.alias_name(state, kind)
            context["outlet_events"][PROMOTED_ALIASES].add(
                Asset(name=name, uri=alias_asset_uri(name)),
                extra={"index": new[kind], "documents": outcome["indexed"][kind]},
            )
        return summary

    def _load(
        self, es: Any, ingestor: Any, source: Any, new: dict[str, str], tmp: Path, rejects: Path
    ) -> dict[str, Any]:
        """Stream contributions into the bulk API; spool reports and rejects to disk meanwhile."""
        from precinct.finance.models import ContributionDoc, ReportDoc

        reports_spool = tmp / "reports.jsonl"
        bulk_failed = 0
        with rejects.open("w", newline="") as reject_file, reports_spool.open("w") as spool:
            writer = csv.writer(reject_file)
            writer.writerow(REJECTS_HEADER)

            def contributions() -> Iterator[tuple[str, dict[str, Any]]]:
                for item in ingestor.ingest(source):
                    if isinstance(item, ContributionDoc):
                        yield item.doc_id, item.to_source()
                    elif isinstance(item, ReportDoc):
                        spool.write(json.dumps([item.doc_id, item.to_source()]) + "\n")
                    else:
                        writer.writerow(item.as_row())

            def bulk_failure(failure: Any) -> None:
                nonlocal bulk_failed
                bulk_failed += 1
                writer.writerow(("bulk item error", "", "", f"{failure.id}: {failure.reason}"))

            result = es.bulk_index(
                new["contributions"], contributions(), chunk_size=self.chunk_size,
                on_failure=bulk_failure,
            )
            spool.flush()

            def reports() -> Iterator[tuple[str, dict[str, Any]]]:
                with reports_spool.open() as lines:
                    for line in lines:
                        doc_id, doc = json.loads(line)
                        yield doc_id, doc

            report_result = es.bulk_index(
                new["reports"], reports(), chunk_size=self.chunk_size, on_failure=bulk_failure
            )
        return {
            "indexed": {"contributions": result.indexed, "reports": report_result.indexed},
            "bulk_failed": bulk_failed,
        }

    def _upload_rejects(self, path: Path, state: str, run_id: str, location: str) -> str:
        """Publish the rejected rows with their reasons under `location`; returns where."""
        from precinct.finance.locations import parse_location

        scheme, bucket, base = parse_location(location)
        relative = f"rejects/{state}/{run_id}.csv"
        if scheme == "file":
            target = Path(base) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
            return target.as_uri()
        key = f"{base}/{relative}" if base else relative
        self._s3_client().upload_file(str(path), bucket, key)
        return f"s3://{bucket}/{key}"

    def _alert_guard(
        self, state: str, alias: str, new_count: int, live_count: int, live: list[str]
    ) -> None:
        from precinct.notifications import send_alert

        send_alert(
            f"[precinct] state_finance_ingest: {state} not promoted",
            {
                "State": state,
                "Alias": alias,
                "Live index": ", ".join(live),
                "Live documents": live_count,
                "New documents": new_count,
                "Rule": f"a new index must hold at least {self.guard_ratio:.0%} of the live one",
                "To override": "trigger the DAG with force_promotion on, for this state",
            },
        )


def _converted(kind: Callable[[Any], Any], value: Any, name: str, what: str) -> Any:
    """`kind(value)`, or a ValueError naming the parameter and what it must be."""
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be {what}, got {value!r}") from None
