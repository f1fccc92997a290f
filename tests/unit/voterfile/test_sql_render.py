"""The SQL builders only write validated identifiers; `render` inlines values safely."""

from __future__ import annotations

from datetime import date

import pytest

from precinct.voterfile import sql
from precinct.voterfile.validation import parse_params
from tests.unit.voterfile.test_validation import GOOD


def test_render_inlines_literals():
    step = sql.Step("SELECT %(a)s, %(b)s, %(c)s, %(d)s, %(e)s", {
        "a": 0.4, "b": "it's", "c": None, "d": date(2026, 1, 2), "e": 3})
    assert sql.render(step) == "SELECT 0.4, 'it''s', NULL, '2026-01-02', 3"
    with pytest.raises(ValueError):
        sql.literal(float("nan"))


def test_quoting_refuses_unvalidated_identifiers():
    with pytest.raises(ValueError):
        sql.q('x"; DROP TABLE y; --')


def test_values_are_bound_not_formatted():
    config = parse_params({**GOOD, "cutoff": 0.45, "rematch_threshold": 0.65})
    step = sql.stage_universe(config)
    assert "0.65" not in step.sql and step.params == {"rematch": 0.65}
    step = sql.dedupe(config, "universe", "match1", "best1")
    assert "0.45" not in step.sql and step.params == {"cutoff": 0.45}


def test_drop_tables_never_drops_output_or_history():
    config = parse_params(GOOD)
    step = sql.drop_tables(config, ["signups_matched", "signups_matched_all_matches",
                                    "signups_matched__stg_universe"])
    assert step.sql.count("DROP TABLE") == 1
    assert '"signups_matched__stg_universe"' in step.sql
