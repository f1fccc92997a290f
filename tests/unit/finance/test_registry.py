"""The state registry and the ingestor contract shared by every state."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import BinaryIO

import pytest

from precinct.finance import (
    INGESTORS,
    IngestStats,
    LocalSource,
    StateIngestor,
    get_ingestor,
    registered_states,
)
from precinct.finance.michigan import MichiganIngestor
from precinct.finance.texas import TexasIngestor
from tests.unit.finance import builders


def test_registered_states() -> None:
    assert registered_states() == ["mi", "tx"]
    assert get_ingestor("tx") is TexasIngestor
    assert get_ingestor(" MI ") is MichiganIngestor


def test_unknown_state_names_it_and_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown state 'zz'.*registered states: mi, tx"):
        get_ingestor("zz")
    with pytest.raises(ValueError, match="unknown state None"):
        get_ingestor(None)  # type: ignore[arg-type]


def test_every_registered_class_is_a_complete_ingestor() -> None:
    assert set(INGESTORS) == set(registered_states())
    for state in registered_states():
        cls = get_ingestor(state)
        assert issubclass(cls, StateIngestor)
        assert cls.state == state and state.islower() and len(state) == 2
        assert cls.name
        assert not inspect.isabstract(cls)


def test_records_is_a_generator_for_every_state(tmp_path: Path) -> None:
    for state in registered_states():
        cls = get_ingestor(state)
        assert inspect.isgenerator(cls().records(LocalSource(tmp_path)))


def test_ingest_releases_the_archive_when_the_consumer_stops_early(tmp_path: Path) -> None:
    builders.write_texas(tmp_path)
    ingestor = TexasIngestor()
    stream = ingestor.ingest(LocalSource(tmp_path))
    next(stream)
    assert ingestor._archive is not None
    stream.close()
    assert ingestor._archive is None


def test_stats_share_counts_rejects_only() -> None:
    stats = IngestStats()
    assert stats.rejected_share() == 0.0
    stats.produced.update({"contributions": 90, "reports": 5})
    stats.rejected.update({"bad date": 3, "duplicate id": 2})
    stats.skipped.update({"not legislative": 1000})
    assert stats.rejected_share() == pytest.approx(5 / 100)
    assert stats.as_dict()["skipped"] == {"not legislative": 1000}


def test_stats_are_complete_after_partial_consumption(tmp_path: Path) -> None:
    builders.write_texas(tmp_path)
    ingestor = TexasIngestor()
    items = ingestor.ingest(LocalSource(tmp_path))
    consumed = [next(items) for _ in range(3)]
    items.close()
    assert sum(ingestor.stats.produced.values()) + ingestor.stats.rejected_total == len(consumed)


def test_local_source(tmp_path: Path) -> None:
    (tmp_path / "b.zip").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"y")
    (tmp_path / "sub").mkdir()
    source = LocalSource(tmp_path)
    assert source.list() == ["a.txt", "b.zip"]
    assert source.exists("a.txt") and not source.exists("sub") and not source.exists("c")
    with source.open("b.zip") as stream:
        assert stream.read() == b"x"
    assert source.describe("a.txt") == str((tmp_path / "a.txt").resolve())
    assert source.describe("") == str(tmp_path.resolve())
    with pytest.raises(ValueError, match="plain file name"):
        source.exists("../etc/passwd")
    assert LocalSource(tmp_path / "absent").list() == []


class CountingSource(LocalSource):
    def __init__(self, base: Path) -> None:
        super().__init__(base)
        self.opened: list[str] = []

    def open(self, name: str) -> BinaryIO:
        self.opened.append(name)
        return super().open(name)


def test_check_then_ingest_opens_each_zip_once_more_at_most(tmp_path: Path) -> None:
    builders.write_michigan(tmp_path)
    source = CountingSource(tmp_path)
    ingestor = MichiganIngestor()
    ingestor.check(source)
    checked = len(source.opened)
    assert checked == 3  # summary + two parts
    for _ in ingestor.ingest(source):
        pass
    # ingest reuses the check: summary twice (lookup, reports) and each part once
    assert sorted(source.opened[checked:]) == sorted(
        [
            "micfrcansummary.txt.zip",
            "micfrcansummary.txt.zip",
            "2024_mi_cfr_contributions_00.zip",
            "2024_mi_cfr_contributions_01.zip",
        ]
    )
    # the Texas archive is opened once for check, pre and records together
    builders.write_texas(tmp_path / "tx")
    tx_source = CountingSource(tmp_path / "tx")
    texas = TexasIngestor()
    texas.check(tx_source)
    for _ in texas.ingest(tx_source):
        pass
    assert tx_source.opened == ["TEC_CF_CSV.zip"]
