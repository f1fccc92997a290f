"""The index naming and lifecycle rules (precinct.finance.indices): pure, no server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from precinct.finance import indices
from precinct.finance.indices import (
    alias_name,
    check_state,
    index_pattern,
    orphans,
    to_retire,
    working_index_name,
)


def tx(stamp: str, kind: str = "contributions") -> str:
    return f"tx_{kind}_{stamp}"


A, B, C, D, E = (tx(f"2026110{d}t031500z") for d in range(1, 6))


# -- names ------------------------------------------------------------------------------------


def test_alias_and_pattern_names():
    assert alias_name("tx", "contributions") == "tx_contributions"
    assert alias_name("mi", "reports") == "mi_reports"
    assert index_pattern("tx", "contributions") == "tx_contributions_*"
    assert indices.KINDS == ("contributions", "reports")


def test_working_index_name_is_the_utc_start_in_lower_case():
    when = datetime(2026, 11, 24, 3, 15, 0, tzinfo=UTC)
    assert working_index_name("tx", "contributions", when) == "tx_contributions_20261124t031500z"
    # A campaign-local time becomes UTC: 21:15 in Chicago (UTC-6) is 03:15 the next day.
    chicago = datetime(2026, 11, 23, 21, 15, 0, tzinfo=timezone(timedelta(hours=-6)))
    assert working_index_name("mi", "reports", chicago) == "mi_reports_20261124t031500z"
    name = working_index_name("tx", "contributions", when)
    assert name == name.lower()


def test_working_index_names_sort_in_time_order():
    start = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    names = [working_index_name("tx", "contributions", start + timedelta(seconds=s))
             for s in range(4)]  # across a year boundary
    assert names == sorted(names)
    assert len(set(names)) == 4


def test_naive_timestamps_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        working_index_name("tx", "contributions", datetime(2026, 11, 24, 3, 15))


@pytest.mark.parametrize("state", ["TX", "t", "txx", "t1", "t_", "", " tx", "tx*", None, 12])
def test_bad_state_codes_are_refused(state):
    with pytest.raises(ValueError, match="two-letter lower-case code"):
        check_state(state)
    with pytest.raises(ValueError, match="two-letter"):
        alias_name(state, "contributions")


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        alias_name("tx", "expenditures")
    with pytest.raises(ValueError, match="kind must be one of"):
        index_pattern("tx", "contribution")


# -- orphans ----------------------------------------------------------------------------------


def test_before_the_first_promotion_every_working_index_is_an_orphan():
    assert orphans([C, A, B], [], "tx", "contributions") == [A, B, C]
    assert orphans([], [], "tx", "contributions") == []


def test_after_a_promotion_only_newer_indices_are_orphans():
    existing = [A, B, C, D]
    assert orphans(existing, [B], "tx", "contributions") == [C, D]
    assert orphans(existing, [D], "tx", "contributions") == []  # the live one never is


def test_orphans_ignore_other_states_kinds_and_foreign_names():
    existing = [
        A,
        C,
        "mi_contributions_20261103t031500z",  # another state
        tx("20261103t031500z", "reports"),  # another kind
        "tx_contributions",  # an index named like the alias
        "tx_contributions_backup",  # hand-made
        "tx_contributions_20261103t031500z_copy",
        "tx_contributions_20261103T031500Z",  # not our (lower-case) stamp
        "xtx_contributions_20261103t031500z",
    ]
    assert orphans(existing, [], "tx", "contributions") == [A, C]
    assert orphans(existing, [A], "tx", "contributions") == [C]


def test_with_two_live_indices_the_newest_live_decides():
    # Should an alias ever point at two indices, nothing at or before the newer one is an orphan.
    assert orphans([A, B, C, D], [A, C], "tx", "contributions") == [D]


# -- retention --------------------------------------------------------------------------------


def test_keep_two_retires_the_oldest_previously_live_indices():
    assert to_retire([A, B, C], [C], "tx", "contributions", keep=2) == [A]
    assert to_retire([A, B, C, D], [D], "tx", "contributions", keep=2) == [A, B]
    assert to_retire([A, B], [B], "tx", "contributions", keep=2) == []


def test_keep_one_leaves_only_the_live_index():
    assert to_retire([A, B, C], [C], "tx", "contributions", keep=1) == [A, B]
    assert to_retire([A], [A], "tx", "contributions", keep=1) == []


def test_retention_never_deletes_a_live_index():
    # The live index is the oldest one (e.g. after a rollback): newer ones are not history.
    assert to_retire([A, B, C], [A], "tx", "contributions", keep=1) == []
    # Two live indices and keep=1: only non-live history goes.
    retired = to_retire([A, B, C, D], [B, D], "tx", "contributions", keep=1)
    assert retired == [A, C]
    for keep in range(1, 6):
        for live in ([A], [B], [C], [D], [E], [B, D]):
            assert not set(to_retire([A, B, C, D, E], live, "tx", "contributions", keep)) & set(
                live
            )


def test_retention_leaves_orphans_to_the_orphan_rule():
    # Indices newer than the live one were never promoted: not retention's business.
    assert to_retire([A, B, C, D], [B], "tx", "contributions", keep=1) == [A]


def test_nothing_is_retired_when_nothing_is_live():
    assert to_retire([A, B, C], [], "tx", "contributions", keep=1) == []


def test_retention_ignores_other_states_and_foreign_names():
    existing = [A, B, C, "mi_contributions_20261101t000000z", "tx_contributions_old"]
    assert to_retire(existing, [C], "tx", "contributions", keep=1) == [A, B]


@pytest.mark.parametrize("keep", [0, -1])
def test_keep_must_count_the_live_index(keep):
    with pytest.raises(ValueError, match="at least 1"):
        to_retire([A, B], [B], "tx", "contributions", keep=keep)


def test_orphans_and_retention_partition_the_non_live_indices():
    existing = [A, B, C, D, E]
    live = [C]
    gone = orphans(existing, live, "tx", "contributions") + to_retire(
        existing, live, "tx", "contributions", keep=2
    )
    assert sorted(gone) == [A, D, E]
    assert set(existing) - set(gone) == {B, C}
