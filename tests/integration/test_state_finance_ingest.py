"""`state_finance_ingest` end to end: `airflow dags test` against devstack's osmem-server and moto
S3, with e-mail going to an SMTP capture of this module's own (aiosmtpd, as devstack's; private
so that another test clearing devstack's shared mailbox meanwhile cannot change the counts).

Every scenario writes its own state files (devstack.seed_finance, small) into tmp_path and reads
them through `file://` sources, except the first-run test, which runs the DAG on its default
params: empty locations, so the Airflow Variables devstack sets (`s3://precinct-finance/raw`,
rejects to `s3://precinct-finance`). What a run
should produce is worked out independently by running the state's ingestor over the same files
in this process (`expected`), and every outcome is read back from where it lands: documents
through the alias, alias targets, index settings, the rejects CSV, the captured e-mails, task
states, XCom and Asset events in the metadata DB.

The aliases are per state and there are only two states, so an autouse fixture deletes every
`tx_*`/`mi_*` index before each test; tests do not depend on each other or on their order.
"""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import struct
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from devstack import smtp
from devstack.seed_finance import write_michigan, write_texas
from precinct.finance.locations import state_source
from precinct.finance.models import ContributionDoc, Reject, ReportDoc
from precinct.finance.registry import get_ingestor
from precinct.hooks.elasticsearch import ElasticsearchHook
from tests.support import run_airflow, task_tries

pytestmark = pytest.mark.integration

DAG_ID = "state_finance_ingest"
TASK_ID = "ingest_state"
FAST_RETRIES = {"PRECINCT_RETRY_DELAY_SECONDS": "1"}
RUN_ENV: dict[str, str] = {}  # FAST_RETRIES + this module's SMTP capture (see clean_slate)
MAILDIR: Path  # set by the mail_env fixture
DEFAULT_SOURCE = "s3://precinct-finance/raw"  # devstack's Variables, used by the default params
DEFAULT_REJECTS_BUCKET = "precinct-finance"
REJECTS_HEADER = ["reason", "file", "line", "detail"]
GUARD_SUBJECT = "[precinct] state_finance_ingest: {state} not promoted"
FAILURE_SUBJECT = f"[precinct] {DAG_ID}.{TASK_ID} failed"
STAMP = r"\d{8}t\d{6}z"
SOURCE_VARIABLE = "state_finance_ingest_source"
REJECTS_VARIABLE = "state_finance_ingest_rejects_location"


# -- what a run should produce, worked out without Airflow -----------------------------------


@dataclass
class Expected:
    """A state's documents, rejects and figures, from its ingestor run in this process."""

    contributions: dict[str, ContributionDoc] = field(default_factory=dict)
    reports: dict[str, ReportDoc] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def amount(self) -> Decimal:
        return sum((Decimal(str(d.amount)) for d in self.contributions.values()), Decimal(0))

    @property
    def reject_reasons(self) -> Counter[str]:
        return Counter(r.reason for r in self.rejects)


def expected(source_url: str, state: str, s3_client: Any = None) -> Expected:
    ingestor = get_ingestor(state)()
    out = Expected()
    for item in ingestor.ingest(state_source(source_url, state, lambda: s3_client)):
        if isinstance(item, ContributionDoc):
            out.contributions[item.doc_id] = item
        elif isinstance(item, ReportDoc):
            out.reports[item.doc_id] = item
        else:
            out.rejects.append(item)
    out.stats = ingestor.stats.as_dict()
    return out


def file_conf(tmp_path: Path, states: list[str] | None = None, **params: Any) -> dict[str, Any]:
    """DAG params reading `tmp_path/raw/{state}/` and writing rejects under `tmp_path/out/`."""
    conf: dict[str, Any] = {
        "source": (tmp_path / "raw").as_uri(),
        "rejects_location": (tmp_path / "out").as_uri(),
        **params,
    }
    if states is not None:
        conf["states"] = states
    return conf


def write_state(base: Path, state: str, rows: int, seed: int) -> Path:
    """Generate one state's files under `base/state/` (replacing what was there)."""
    folder = base / state
    if folder.exists():
        for old in folder.iterdir():
            old.unlink()
    if state == "tx":
        write_texas(folder, contributions=rows, seed=seed)
    else:
        write_michigan(folder, contributions=rows, seed=seed)
    return folder


# -- running the DAG and reading back what it did --------------------------------------------


@dataclass
class Run:
    returncode: int
    output: str
    run_id: str
    states: dict[str, str]  # state -> task instance state
    tries: dict[str, int]
    summaries: dict[str, Any]  # state -> the task's return value (XCom)
    asset_events: list[dict[str, Any]]


def ingest(conf: dict[str, Any] | None = None) -> Run:
    args = ["dags", "test", DAG_ID]
    if conf is not None:
        args += ["-c", json.dumps(conf)]
    result = run_airflow(*args, extra_env=RUN_ENV)
    output = result.stdout + result.stderr
    match = re.search(r"run_id=(manual__[^\s,>]+)", output)
    assert match, output[-3000:]
    run_id = match.group(1)
    states, tries, summaries, events = _read_run(run_id)
    return Run(result.returncode, output, run_id, states, tries, summaries, events)


def _read_run(run_id: str) -> tuple[dict, dict, dict, list]:
    """Task states, XComs and Asset events of one run, from the metadata DB (the ORM)."""
    from airflow.models.asset import AssetEvent
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(
                TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == run_id,
                TaskInstance.task_id == TASK_ID,
            )
        ).all()
        by_index = {ti.map_index: ti.rendered_map_index for ti in tis}
        states = {ti.rendered_map_index: str(ti.state) for ti in tis}
        tries = {ti.rendered_map_index: ti.try_number for ti in tis}
        xcoms = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == DAG_ID, XComModel.run_id == run_id,
                XComModel.task_id == TASK_ID, XComModel.key == "return_value",
            )
        ).all()
        summaries = {by_index[x.map_index]: x.value for x in xcoms}
        events = [
            {
                "name": event.asset.name,
                "uri": event.asset.uri,
                "extra": event.extra,
                "state": by_index.get(event.source_map_index),
                "task_id": event.source_task_id,
                "aliases": sorted(alias.name for alias in event.source_aliases),
            }
            for event in session.scalars(
                select(AssetEvent).where(
                    AssetEvent.source_dag_id == DAG_ID, AssetEvent.source_run_id == run_id
                )
            )
        ]
    return states, tries, summaries, events


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mail_env(devstack_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[
    dict[str, str]
]:
    """This module's SMTP capture, and the `smtp_default` connection pointing at it."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Mailbox

    global MAILDIR
    MAILDIR = tmp_path_factory.mktemp("smtp") / "maildir"
    controller = Controller(Mailbox(MAILDIR), hostname="127.0.0.1", port=_free_port())
    controller.start()
    conn = json.loads(devstack_env["AIRFLOW_CONN_SMTP_DEFAULT"])
    conn["port"] = controller.port
    yield {"AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn)}
    controller.stop()


def messages() -> list[Any]:
    return smtp.messages(MAILDIR)


@pytest.fixture
def es(devstack_env: dict[str, str]) -> Iterator[ElasticsearchHook]:
    hook = ElasticsearchHook()
    yield hook
    hook.close()


@pytest.fixture(autouse=True)
def clean_slate(es: ElasticsearchHook, airflow_db: Path, mail_env: dict[str, str]) -> None:
    """Every test starts with no tx_/mi_ index (and so no alias: the first run is a first run)
    and an empty mailbox; `ingest` sends mail to this module's capture."""
    for pattern in ("tx_*", "mi_*"):
        for name in es.indices_matching(pattern):
            es.delete_index(name)
    smtp.clear(MAILDIR)
    RUN_ENV.clear()
    RUN_ENV.update({**FAST_RETRIES, **mail_env})


@pytest.fixture
def s3(devstack_env: dict[str, str]) -> Any:
    import boto3

    conn = json.loads(devstack_env["AIRFLOW_CONN_AWS_DEFAULT"])
    return boto3.client(
        "s3",
        endpoint_url=conn["extra"]["endpoint_url"],
        region_name=conn["extra"]["region_name"],
        aws_access_key_id=conn["login"],
        aws_secret_access_key=conn["password"],
    )


def alias(state: str, kind: str = "contributions") -> str:
    return f"{state}_{kind}"


def state_indices(es: ElasticsearchHook, state: str, kind: str = "contributions") -> list[str]:
    return es.indices_matching(f"{state}_{kind}_*")


def ids_in(es: ElasticsearchHook, index: str) -> list[str]:
    """Every document id in an index or alias (the samples hold a few thousand at most)."""
    body = es.get_conn().search(index=index, size=10_000, source=False, track_total_hits=True)
    hits = body["hits"]["hits"]
    assert len(hits) == body["hits"]["total"]["value"], "sample larger than one page"
    return [hit["_id"] for hit in hits]


def amount_in(es: ElasticsearchHook, index: str) -> Decimal:
    body = es.get_conn().search(index=index, size=0, aggs={"s": {"sum": {"field": "amount"}}})
    return Decimal(str(body["aggregations"]["s"]["value"])).quantize(Decimal("0.01"))


def flat_settings(es: ElasticsearchHook, index: str) -> dict[str, str]:
    body = es.get_conn().indices.get_settings(index=index, flat_settings=True).body
    return body[index]["settings"]


def assert_live(es: ElasticsearchHook, state: str, want: Expected) -> dict[str, str]:
    """The state's aliases each point at one complete, restored index holding `want`."""
    live = {}
    for kind, docs in (("contributions", want.contributions), ("reports", want.reports)):
        targets = es.alias_indices(alias(state, kind))
        assert len(targets) == 1, targets
        assert re.fullmatch(rf"{state}_{kind}_{STAMP}", targets[0])
        live[kind] = targets[0]
        assert es.count(alias(state, kind)) == len(docs)
        assert sorted(ids_in(es, alias(state, kind))) == sorted(docs)  # no duplicates, no extras
        settings = flat_settings(es, targets[0])
        assert settings["index.number_of_replicas"] == "1"  # restored after the bulk load
        assert settings["index.refresh_interval"] == "1s"
    assert amount_in(es, alias(state)) == want.amount.quantize(Decimal("0.01"))
    sample = next(iter(want.contributions.values()))
    got = es.get_conn().get(index=live["contributions"], id=sample.doc_id)["_source"]
    assert got == json.loads(json.dumps(sample.to_source()))
    return live


def rejects_rows(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == REJECTS_HEADER
    return rows[1:]


def expected_reject_rows(want: Expected) -> list[list[str]]:
    return [[str(value) for value in r.as_row()] for r in want.rejects]


def file_rejects(base: Path, state: str, run_id: str) -> list[list[str]]:
    path = base / "rejects" / state / f"{run_id}.csv"
    assert path.is_file(), f"no rejects file at {path}"
    return rejects_rows(path.read_text())


def guard_mails(state: str) -> list[Any]:
    subject = GUARD_SUBJECT.format(state=state)
    return [m for m in messages() if m["Subject"] == subject]


def failure_mails(run_id: str) -> list[Any]:
    return [
        m for m in messages()
        if m["Subject"] == FAILURE_SUBJECT and run_id in m.get_body().get_content()
    ]


def corrupt_member(zip_path: Path, member: str) -> None:
    """Flip 64 bytes of a member's compressed data, three quarters in: the archive's directory
    and every other member stay intact, so the input checks pass and reading fails mid-stream
    (zipfile's CRC check, a real fault, no mocking)."""
    with zipfile.ZipFile(zip_path) as zf:
        info = zf.getinfo(member)
    with zip_path.open("r+b") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        where = info.header_offset + 30 + name_len + extra_len + info.compress_size * 3 // 4
        fh.seek(where)
        chunk = fh.read(64)
        fh.seek(where)
        fh.write(bytes(b ^ 0xFF for b in chunk))


# -- the scenarios ----------------------------------------------------------------------------


def test_first_run_on_the_default_params_promotes_both_states_from_s3(es, s3):
    """Defaults: both states, raw files from devstack's S3 bucket, rejects to S3."""
    want = {state: expected(DEFAULT_SOURCE, state, s3) for state in ("mi", "tx")}
    assert all(not es.alias_indices(alias(state)) for state in want)  # a first run

    run = ingest()

    assert run.returncode == 0, run.output[-3000:]
    assert run.states == {"mi": "success", "tx": "success"}
    for state, w in want.items():
        live = assert_live(es, state, w)
        # Exactly one index per kind: nothing left over, nothing retired on a first run.
        assert state_indices(es, state) == [live["contributions"]]
        assert state_indices(es, state, "reports") == [live["reports"]]
        # The rejects file, on the object store, with every rejected row and its reason.
        key = f"rejects/{state}/{run.run_id}.csv"
        body = s3.get_object(Bucket=DEFAULT_REJECTS_BUCKET, Key=key)["Body"].read().decode()
        rows = rejects_rows(body)
        assert rows == expected_reject_rows(w)
        assert Counter(row[0] for row in rows) == w.reject_reasons
        # The summary the task returns (XCom) carries the same figures.
        summary = run.summaries[state]
        assert summary["state"] == state
        assert summary["documents"] == {
            "contributions": len(w.contributions), "reports": len(w.reports)
        }
        assert summary["rejected"] == dict(w.reject_reasons)
        assert summary["skipped"] == w.stats["skipped"]
        assert summary["rejected_share"] == pytest.approx(w.stats["rejected_share"], abs=1e-6)
        assert summary["rejects_file"] == f"s3://{DEFAULT_REJECTS_BUCKET}/{key}"
        assert summary["indices"] == live
        assert summary["live"] == live
        assert summary["retired"] == []
        assert f"{state}: promoted {live['contributions']}, {live['reports']}" in run.output
        # ... and the figures logged before promotion are the same.
        logged = re.search(rf"\b{state}: (\{{.*?\}}) \[precinct\.operators\.finance\]", run.output)
        assert logged, f"no summary line for {state}"
        assert json.loads(logged.group(1)) == {
            k: v for k, v in summary.items() if k not in ("live", "retired")
        }
    # The samples carry the mess the rules are about: rejects of several kinds per state.
    assert {"missing date", "bad date", "short row"} <= set(want["mi"].reject_reasons)
    assert {"superseded", "duplicate id"} <= set(want["tx"].reject_reasons)

    # One Asset event per promoted alias, through the asset alias, with the index behind it.
    events = {event["name"]: event for event in run.asset_events}
    assert sorted(events) == ["mi_contributions", "mi_reports", "tx_contributions", "tx_reports"]
    for name, event in events.items():
        state, kind = name.split("_")
        assert event["uri"] == f"elasticsearch://elasticsearch_default/{name}"
        assert event["aliases"] == ["state_finance_promoted"]
        assert event["state"] == state
        assert event["task_id"] == TASK_ID
        assert event["extra"]["index"] == run.summaries[state]["live"][kind]
        assert event["extra"]["documents"] == run.summaries[state]["documents"][kind]


def test_reruns_promote_again_keep_two_indices_and_never_duplicate(es, tmp_path):
    source = write_state(tmp_path / "raw", "tx", rows=1500, seed=21).parent
    want = expected(source.as_uri(), "tx")
    conf = file_conf(tmp_path, ["tx"])

    live = []
    for attempt in range(3):
        run = ingest(conf)
        assert run.returncode == 0, run.output[-3000:]
        assert run.states == {"tx": "success"}
        live.append(assert_live(es, "tx", want))  # same data: same documents, not twice
        assert file_rejects(tmp_path / "out", "tx", run.run_id) == expected_reject_rows(want)
        assert len(run.asset_events) == 2, run.asset_events  # one per alias, every promotion
        summary = run.summaries["tx"]
        assert summary["live"] == live[-1]
        if attempt == 0:
            assert summary["retired"] == []
        elif attempt == 1:
            # The second promotion moved the alias and kept the previous index for rollback.
            assert live[1] != live[0]
            assert live[1]["contributions"] > live[0]["contributions"]
            assert summary["retired"] == []
            assert es.count(live[0]["contributions"]) == len(want.contributions)
        else:
            # The third retired the oldest; the live one and the previous one remain.
            assert sorted(summary["retired"]) == sorted(live[0].values())
    for kind in ("contributions", "reports"):
        assert state_indices(es, "tx", kind) == [live[1][kind], live[2][kind]]
        assert es.alias_indices(alias("tx", kind)) == [live[2][kind]]


def test_a_missing_file_fails_only_that_state_before_any_index(es, tmp_path):
    raw = tmp_path / "raw"
    write_state(raw, "tx", rows=1500, seed=31)
    write_state(raw, "mi", rows=1500, seed=32)
    missing = raw / "mi" / "2024_mi_cfr_contributions_00.zip"
    missing.unlink()  # part _01 is there, so _00 is required
    want_tx = expected(raw.as_uri(), "tx")

    run = ingest(file_conf(tmp_path))  # both states (the default)

    assert run.returncode != 0
    assert run.states == {"mi": "failed", "tx": "success"}  # mapped: Texas carried on
    assert run.tries["mi"] == 3  # retried like any failure (the file may be late)
    message = f"missing source file '2024_mi_cfr_contributions_00.zip' ({missing.resolve()})"
    assert message in run.output
    assert state_indices(es, "mi") == [] and state_indices(es, "mi", "reports") == []
    assert es.alias_indices(alias("mi")) == []
    assert not (tmp_path / "out" / "rejects" / "mi").exists()
    assert_live(es, "tx", want_tx)
    assert "mi" not in run.summaries
    assert {event["state"] for event in run.asset_events} == {"tx"}
    mails = failure_mails(run.run_id)
    assert len(mails) == 1  # after the final try only
    assert "2024_mi_cfr_contributions_00.zip" in mails[0].get_body().get_content()


def test_a_failure_mid_load_keeps_the_old_index_live_and_the_next_run_cleans_up(es, tmp_path):
    raw = tmp_path / "raw"
    conf = file_conf(tmp_path, ["tx"])
    # Big enough that whole bulk chunks (2,000 documents) reach the index before the fault.
    write_state(raw, "tx", rows=15_000, seed=41)
    old = expected(raw.as_uri(), "tx")
    first = ingest(conf)
    assert first.states == {"tx": "success"}, first.output[-3000:]
    old_live = assert_live(es, "tx", old)

    write_state(raw, "tx", rows=15_000, seed=42)
    intended = expected(raw.as_uri(), "tx")  # what the file would have held
    corrupt_member(raw / "tx" / "TEC_CF_CSV.zip", "contribs_03.csv")
    broken = ingest(conf)

    assert broken.returncode != 0
    assert broken.states == {"tx": "failed"}
    assert broken.tries["tx"] == 3
    assert re.search(
        r"Bad CRC-32 for file 'contribs_03\.csv'|Error -3 while decompressing data", broken.output
    ), broken.output[-3000:]
    assert broken.asset_events == []
    # Searchers still see the old, complete index, with its old count.
    assert es.alias_indices(alias("tx")) == [old_live["contributions"]]
    assert es.alias_indices(alias("tx", "reports")) == [old_live["reports"]]
    assert es.count(alias("tx")) == len(old.contributions)
    # Each try cleaned up the one before; the last try's working index is left, partly loaded.
    orphans = [n for n in state_indices(es, "tx") if n != old_live["contributions"]]
    assert len(orphans) == 1 and orphans[0] > old_live["contributions"]
    es.refresh(orphans[0])
    assert 0 < es.count(orphans[0]) < len(intended.contributions)
    orphan_reports = [n for n in state_indices(es, "tx", "reports") if n != old_live["reports"]]
    assert len(orphan_reports) == 1

    write_state(raw, "tx", rows=15_000, seed=43)  # the publisher fixes the file
    new = expected(raw.as_uri(), "tx")
    fixed = ingest(conf)

    assert fixed.states == {"tx": "success"}, fixed.output[-3000:]
    assert f"deleting working index {orphans[0]} left by an earlier run" in fixed.output
    assert f"deleting working index {orphan_reports[0]} left by an earlier run" in fixed.output
    new_live = assert_live(es, "tx", new)
    assert state_indices(es, "tx") == [old_live["contributions"], new_live["contributions"]]
    assert state_indices(es, "tx", "reports") == [old_live["reports"], new_live["reports"]]


def test_the_90_percent_guard_refuses_a_much_smaller_file_unless_forced(es, tmp_path):
    raw = tmp_path / "raw"
    conf = file_conf(tmp_path, ["tx"])
    write_state(raw, "tx", rows=1500, seed=51)
    full = expected(raw.as_uri(), "tx")
    first = ingest(conf)
    assert first.states == {"tx": "success"}, first.output[-3000:]
    live = assert_live(es, "tx", full)

    write_state(raw, "tx", rows=300, seed=52)  # a truncated download
    small = expected(raw.as_uri(), "tx")
    assert len(small.contributions) < 0.9 * len(full.contributions)
    refused = ingest(conf)

    assert refused.returncode == 0  # a refusal is not a failure: the task is skipped
    assert refused.states == {"tx": "skipped"}
    assert refused.tries["tx"] == 1
    assert "not promoted (force_promotion to override)" in refused.output
    assert refused.asset_events == []
    assert assert_live(es, "tx", full) == live  # the alias did not move
    mails = guard_mails("tx")
    assert len(mails) == 1, [m["Subject"] for m in messages()]
    assert mails[0]["To"] == "ops@precinct.test"
    body = " ".join(re.sub(r"<[^>]+>", " ", mails[0].get_body().get_content()).split())
    assert f"Live documents {len(full.contributions)}" in body
    assert f"New documents {len(small.contributions)}" in body
    assert f"Live index {live['contributions']}" in body
    # The rejected rows of the refused load are still published.
    assert file_rejects(tmp_path / "out", "tx", refused.run_id) == expected_reject_rows(small)

    forced = ingest({**conf, "force_promotion": True})

    assert forced.states == {"tx": "success"}, forced.output[-3000:]
    forced_live = assert_live(es, "tx", small)
    assert len(guard_mails("tx")) == 1  # no second alert
    assert {event["name"] for event in forced.asset_events} == {"tx_contributions", "tx_reports"}
    # The refused run's index was an orphan: deleted. The previous live one is kept (keep 2).
    assert state_indices(es, "tx") == [live["contributions"], forced_live["contributions"]]


def test_above_the_maximum_rejected_share_the_state_fails_before_promotion(es, tmp_path):
    raw = tmp_path / "raw"
    write_state(raw, "tx", rows=1500, seed=61)
    want = expected(raw.as_uri(), "tx")
    assert want.rejects, "the sample must hold rejected rows"

    run = ingest(file_conf(tmp_path, ["tx"], max_rejected_share=0.0))

    assert run.returncode != 0
    assert run.states == {"tx": "failed"}
    assert run.tries["tx"] == 1  # a data verdict: retrying would not change it
    assert re.search(
        rf"tx: {len(want.rejects)} of \d+ rows rejected \([\d.]+%\), above the maximum "
        r"0\.00%; not promoted", run.output
    )
    assert es.alias_indices(alias("tx")) == [] and es.alias_indices(alias("tx", "reports")) == []
    assert run.asset_events == []
    rows = file_rejects(tmp_path / "out", "tx", run.run_id)
    assert rows == expected_reject_rows(want)
    assert len(failure_mails(run.run_id)) == 1


# -- empty locations: the Airflow Variables; nothing usable: one failure, without retries -------


def location_variables(source: str, rejects: str) -> dict[str, str]:
    """The Variables an empty `source` / `rejects_location` falls back to ("" = not set)."""
    return {f"AIRFLOW_VAR_{SOURCE_VARIABLE.upper()}": source,
            f"AIRFLOW_VAR_{REJECTS_VARIABLE.upper()}": rejects}


def test_empty_locations_read_and_write_where_the_variables_say(es, tmp_path):
    write_state(tmp_path / "raw", "tx", rows=1500, seed=71)
    want = expected((tmp_path / "raw").as_uri(), "tx")
    RUN_ENV.update(location_variables((tmp_path / "raw").as_uri(), (tmp_path / "out").as_uri()))

    run = ingest({"states": ["tx"]})  # source and rejects_location left empty

    assert run.returncode == 0, run.output[-3000:]
    assert run.states == {"tx": "success"}
    assert_live(es, "tx", want)  # the Variable's files, not devstack's bucket
    assert file_rejects(tmp_path / "out", "tx", run.run_id) == expected_reject_rows(want)
    assert run.summaries["tx"]["rejects_file"] == \
        (tmp_path / "out" / "rejects" / "tx" / f"{run.run_id}.csv").as_uri()


def _failed_before_mapping(run: Run, es: ElasticsearchHook) -> None:
    assert run.returncode != 0
    tries = task_tries(DAG_ID, run.run_id)
    assert tries["selected_states"] == ("failed", 1), tries  # no retry can fix a setting
    assert tries[TASK_ID][0] == "upstream_failed", tries  # no state started
    assert state_indices(es, "tx") == [] and state_indices(es, "mi") == []
    subject = f"[precinct] {DAG_ID}.selected_states failed"
    # One e-mail for the run, not one per state.
    assert len([m for m in messages() if m["Subject"] == subject]) == 1


def test_no_locations_anywhere_fail_once_before_any_state_starts(es):
    RUN_ENV.update(location_variables("", ""))

    run = ingest({})  # every state, locations empty

    _failed_before_mapping(run, es)
    assert (f"source is not set: the Param 'source' is empty and the Airflow Variable "
            f"'{SOURCE_VARIABLE}' is not set") in run.output


def test_a_bad_rejects_variable_fails_once_before_any_state_starts(es, tmp_path):
    write_state(tmp_path / "raw", "tx", rows=300, seed=72)
    RUN_ENV.update(location_variables((tmp_path / "raw").as_uri(), "gs://precinct-rejects"))

    run = ingest({"states": ["tx"]})

    _failed_before_mapping(run, es)
    assert (f"Invalid value of the Airflow Variable '{REJECTS_VARIABLE}' (the Param "
            "'rejects_location' is empty): must be a file:// or s3:// URL") in run.output
