"""`make benchmarks` (devstack.benchmarks) on small real scripts: a miss never stops the rest.

The convention it relies on: a benchmark exits 0 and says `"met": false` when it misses a
target, and exits non-zero only when it could not run. The runner must run every script either
way, summarise each, and fail only for a script that could not run.
"""

from __future__ import annotations

import json
from pathlib import Path

from devstack import benchmarks


def _script(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(body)


def _result(name: str, met: bool, metrics: dict, targets: dict) -> str:
    line = json.dumps({"benchmark": name, "metrics": metrics, "targets": targets, "met": met})
    return f"print('progress line')\nprint({line!r})\n"


def test_a_missed_target_is_summarised_and_later_benchmarks_still_run(tmp_path, capsys):
    _script(tmp_path, "a_missed", _result(
        "a_missed", False, {"deferrable": {"slots": 3}}, {"deferrable.slots": "<= 0"}
    ))
    _script(tmp_path, "b_met", _result("b_met", True, {"seconds": 2.1}, {"seconds": "< 10"}))

    assert benchmarks.main([str(tmp_path)]) == 0

    out = capsys.readouterr().out
    summary = out.split("== summary\n", 1)[1].splitlines()
    assert summary[0].startswith("a_missed: targets missed — deferrable.slots 3 (target <= 0)")
    assert summary[1].startswith("b_met: targets met — seconds 2.1 (target < 10)")
    assert out.count("progress line") == 2  # each script's own output passes through


def test_a_script_that_cannot_run_fails_the_runner_after_the_others_ran(tmp_path, capsys):
    _script(tmp_path, "a_crash", "raise SystemExit('stand-in did not start')\n")
    _script(tmp_path, "b_silent", "print('no JSON here')\n")
    _script(tmp_path, "c_met", _result("c_met", True, {"x": 1}, {"x": "<= 1"}))

    assert benchmarks.main([str(tmp_path)]) == 1

    summary = capsys.readouterr().out.split("== summary\n", 1)[1].splitlines()
    assert summary[0].startswith("a_crash: could not run — exit status 1")
    assert summary[1].startswith("b_silent: could not run — no JSON line")
    assert summary[2].startswith("c_met: targets met — x 1 (target <= 1)")
