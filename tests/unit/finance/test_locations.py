"""Source locations (precinct.finance.locations): URL parsing, and `S3Source` against moto.

The parsing tests are pure. The S3 tests talk to devstack's moto server through the
`devstack_env` fixture (the `aws_default` connection it exports), each in a bucket of its own
that is emptied and deleted afterwards.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from precinct.finance.errors import MissingSourceFile
from precinct.finance.locations import (
    LOCATION_PATTERN,
    S3Source,
    check_location,
    parse_location,
    state_source,
)
from precinct.finance.models import ContributionDoc, Reject, ReportDoc
from precinct.finance.source import LocalSource, Source
from precinct.finance.texas import TexasIngestor

# -- parsing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("file:///srv/finance", ("file", "", "/srv/finance")),
        ("file:///srv/finance/", ("file", "", "/srv/finance/")),
        ("file://localhost/srv/finance", ("file", "", "/srv/finance")),
        ("file:///srv/state%20files", ("file", "", "/srv/state files")),
        ("s3://precinct-finance/raw", ("s3", "precinct-finance", "raw")),
        ("s3://precinct-finance/raw/2026/", ("s3", "precinct-finance", "raw/2026")),
        ("s3://precinct-finance", ("s3", "precinct-finance", "")),
        ("s3://precinct-finance/", ("s3", "precinct-finance", "")),
        ("s3://my.bucket-01/x", ("s3", "my.bucket-01", "x")),
        ("  s3://precinct-finance/raw  ", ("s3", "precinct-finance", "raw")),
    ],
)
def test_parse_location_accepts_file_and_s3(url, expected):
    assert parse_location(url) == expected


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file://fileserver/share/finance", "file:// locations must be local paths"),
        ("s3://Precinct_Finance/raw", "not a valid S3 bucket name"),
        ("s3:///raw", "not a valid S3 bucket name"),
        ("s3://ab/raw", "not a valid S3 bucket name"),  # three characters at least
        ("s3://-bucket/raw", "not a valid S3 bucket name"),
        ("https://precinct-finance.s3.amazonaws.com/raw", "must start with file:// or s3://"),
        ("gs://precinct-finance/raw", "must start with file:// or s3://"),
        ("/srv/finance", "must start with file:// or s3://"),
        ("precinct-finance/raw", "must start with file:// or s3://"),
        ("", "must start with file:// or s3://"),
    ],
)
def test_parse_location_rejects_other_urls_clearly(url, message):
    with pytest.raises(ValueError, match=message) as excinfo:
        parse_location(url)
    assert repr(url.strip()) in str(excinfo.value)  # the message quotes what was given


@pytest.mark.parametrize("url", [
    "s3://precinct-finance/raw", "s3://acme-campaign-finance", "file:///srv/finance/raw",
])
def test_check_location_accepts_what_the_form_accepts(url):
    assert check_location(f" {url} ") == url


@pytest.mark.parametrize(("url", "message"), [
    ("", "file:// or s3:// URL"),
    ("s3://my bucket/raw", "without spaces"),
    ("gs://precinct-finance/raw", "file:// or s3:// URL"),
    ("s3://Bad_Bucket/raw", "not a valid S3 bucket name"),
    ("file://host/share", "must be local paths"),
])
def test_check_location_refuses_what_the_form_or_the_run_would(url, message):
    with pytest.raises(ValueError, match=message):
        check_location(url)


def test_the_dag_form_checks_locations_with_the_same_pattern():
    dag_file = Path(__file__).resolve().parents[3] / "dags" / "state_finance_ingest.py"
    text = dag_file.read_text()
    assert text.count(f'pattern=r"{LOCATION_PATTERN}"') == 2  # source and rejects_location


def test_state_source_for_file_is_the_state_folder(tmp_path):
    source = state_source(tmp_path.as_uri(), "tx")
    assert isinstance(source, LocalSource)
    assert source.base_dir == tmp_path / "tx"
    assert state_source(tmp_path.as_uri() + "/", "mi").base_dir == tmp_path / "mi"


def test_state_source_for_s3_is_the_state_prefix():
    clients: list[object] = []

    def factory() -> object:
        clients.append(object())
        return clients[-1]

    source = state_source("s3://precinct-finance/raw/", "tx", factory)
    assert isinstance(source, S3Source)
    assert (source.bucket, source.prefix) == ("precinct-finance", "raw/tx/")
    assert source.client is clients[0]
    assert source.describe("TEC_CF_CSV.zip") == "s3://precinct-finance/raw/tx/TEC_CF_CSV.zip"
    at_root = state_source("s3://precinct-finance", "mi", factory)
    assert at_root.prefix == "mi/"
    assert at_root.describe("") == "s3://precinct-finance/mi/"


def test_state_source_for_s3_needs_a_client():
    with pytest.raises(ValueError, match="needs an S3 client"):
        state_source("s3://precinct-finance/raw", "tx")


def test_state_source_rejects_bad_urls_before_anything_else():
    with pytest.raises(ValueError, match="must start with file:// or s3://"):
        state_source("ftp://example.org/raw", "tx", lambda: pytest.fail("no client needed"))


@pytest.mark.parametrize("name", ["", ".", "..", "sub/file.csv", "../tx/x"])
def test_s3_source_refuses_names_that_are_not_plain_files(name):
    class NoCalls:
        def __getattr__(self, method: str) -> Any:
            return lambda **kwargs: pytest.fail(f"{method} called for {name!r}")

    source = S3Source(client=NoCalls(), bucket="precinct-finance", prefix="raw/tx")
    for call in (source.exists, source.open):
        with pytest.raises(ValueError, match="not a plain file name"):
            call(name)


# -- S3Source against moto --------------------------------------------------------------------


def _client(env: dict[str, str]) -> Any:
    import boto3

    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    return boto3.client(
        "s3",
        endpoint_url=conn["extra"]["endpoint_url"],
        region_name=conn["extra"]["region_name"],
        aws_access_key_id=conn["login"],
        aws_secret_access_key=conn["password"],
    )


@pytest.fixture
def bucket(devstack_env: dict[str, str]) -> Iterator[tuple[Any, str]]:
    """A fresh bucket in the moto stand-in; emptied and deleted afterwards."""
    client = _client(devstack_env)
    name = f"precinct-test-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)
    yield client, name
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=name, Key=item["Key"])
    client.delete_bucket(Bucket=name)


@pytest.mark.integration
def test_s3_source_lists_checks_opens_and_describes(bucket):
    client, name = bucket
    objects = {
        "raw/tx/TEC_CF_CSV.zip": b"PK\x03\x04 not really a zip",
        "raw/tx/notes.txt": "a Peña, b\n".encode(),
        "raw/tx/sub/nested.csv": b"deeper: not listed",
        "raw/txx/decoy.csv": b"another prefix that starts the same",
        "raw/mi/micfrcansummary.txt.zip": b"another state",
    }
    for key, body in objects.items():
        client.put_object(Bucket=name, Key=key, Body=body)

    source = state_source(f"s3://{name}/raw", "tx", lambda: client)

    assert isinstance(source, Source)
    assert source.list() == ["TEC_CF_CSV.zip", "notes.txt"]
    assert source.exists("TEC_CF_CSV.zip") is True
    assert source.exists("notes.txt") is True
    assert source.exists("missing.zip") is False
    assert source.exists("sub") is False  # a "folder" is not a file
    assert source.exists("decoy.csv") is False
    stream = source.open("notes.txt")
    try:
        assert stream.read() == objects["raw/tx/notes.txt"]
    finally:
        stream.close()
    assert source.describe("notes.txt") == f"s3://{name}/raw/tx/notes.txt"
    assert source.describe("") == f"s3://{name}/raw/tx/"
    assert repr(source) == f"S3Source('s3://{name}/raw/tx/')"


@pytest.mark.integration
def test_s3_source_of_an_empty_or_absent_prefix(bucket):
    client, name = bucket
    source = state_source(f"s3://{name}/nothing-here", "mi", lambda: client)
    assert source.list() == []
    assert source.exists("micfrcansummary.txt.zip") is False


@pytest.mark.integration
def test_s3_source_lists_past_one_page(bucket):
    client, name = bucket
    for n in range(1005):  # list_objects_v2 returns 1,000 keys per page
        client.put_object(Bucket=name, Key=f"tx/part_{n:04d}.csv", Body=b"")
    names = S3Source(client, name, "tx").list()
    assert len(names) == 1005
    assert names[0] == "part_0000.csv"
    assert names[-1] == "part_1004.csv"


@pytest.mark.integration
def test_an_ingestor_reads_the_same_documents_from_s3_as_from_disk(bucket, tmp_path):
    from devstack.seed_finance import write_texas

    client, name = bucket
    zip_path = write_texas(tmp_path / "tx", contributions=1500, seed=3)
    client.upload_file(str(zip_path), name, f"raw/tx/{zip_path.name}")

    def everything(source: Source) -> tuple[dict[str, dict], list[tuple], dict]:
        ingestor = TexasIngestor()
        docs, rejects = {}, []
        for item in ingestor.ingest(source):
            if isinstance(item, ContributionDoc | ReportDoc):
                docs[item.doc_id] = item.to_source()
            else:
                assert isinstance(item, Reject)
                rejects.append((item.reason, item.line))
        return docs, rejects, ingestor.stats.as_dict()

    from_s3 = everything(state_source(f"s3://{name}/raw", "tx", lambda: client))
    from_disk = everything(state_source(tmp_path.as_uri(), "tx"))

    assert from_s3[0], "the sample should hold documents"
    assert from_s3 == from_disk  # the S3 body is not seekable: the zip was spooled to disk


@pytest.mark.integration
def test_a_missing_file_on_s3_is_named_with_its_url(bucket):
    client, name = bucket
    source = state_source(f"s3://{name}/raw", "tx", lambda: client)
    with pytest.raises(MissingSourceFile) as excinfo:
        TexasIngestor().check(source)
    assert excinfo.value.name == "TEC_CF_CSV.zip"
    assert f"s3://{name}/raw/tx/TEC_CF_CSV.zip" in str(excinfo.value)


def test_local_source_is_a_source(tmp_path: Path):
    # The two implementations share one protocol; the ingestors only ever see `Source`.
    assert isinstance(LocalSource(tmp_path), Source)
    assert isinstance(S3Source(None, "precinct-finance", ""), Source)
