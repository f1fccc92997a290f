"""`make benchmarks`: run every script in benchmarks/, then one summary line per benchmark.

A benchmark reports a missed target in its JSON line (`"met": false`) and exits 0: a miss is a
figure, not a crash. So every script runs even when an earlier one misses, and the summary says
which met their targets. Only a script that could not run (non-zero exit, or no JSON line) makes
this runner exit non-zero, after the others have still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from devstack.core import REPO_ROOT

BENCHMARKS_DIR = REPO_ROOT / "benchmarks"


def _figure(metrics: dict[str, Any], name: str) -> Any:
    """A target's metric: a top-level key, or a dotted path into nested metrics."""
    if name in metrics:
        return metrics[name]
    value: Any = metrics
    for part in name.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def run(script: Path) -> tuple[int, dict[str, Any] | None, float]:
    """Run one benchmark, passing its output through; its exit status, JSON line and seconds."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    assert process.stdout is not None
    result = None
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("{"):
            try:
                parsed = json.loads(line)
            except ValueError:
                continue
            if isinstance(parsed, dict) and "benchmark" in parsed:
                result = parsed
    return process.wait(), result, time.monotonic() - started


def summary_line(script: Path, status: int, result: dict[str, Any] | None, seconds: float) -> str:
    if status != 0 or result is None:
        why = f"exit status {status}" if status != 0 else "no JSON line"
        return f"{script.stem}: could not run — {why} ({seconds:.0f} s)"
    metrics = result.get("metrics", {})
    figures = ", ".join(
        f"{name} {_figure(metrics, name)} (target {target})"
        for name, target in result.get("targets", {}).items()
    )
    verdict = "targets met" if result.get("met") else "targets missed"
    return f"{result['benchmark']}: {verdict} — {figures or 'no targets'} ({seconds:.0f} s)"


def main(argv: list[str] | None = None) -> int:
    """Run benchmarks/*.py (or the scripts in the folder given) and print the summary."""
    args = sys.argv[1:] if argv is None else argv
    folder = Path(args[0]) if args else BENCHMARKS_DIR
    lines = []
    failed = 0
    for script in sorted(folder.glob("*.py")):
        print(f"== {script}", flush=True)
        status, result, seconds = run(script)
        failed += status != 0 or result is None
        lines.append(summary_line(script, status, result, seconds))
    print("\n== summary")
    for line in lines:
        print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
