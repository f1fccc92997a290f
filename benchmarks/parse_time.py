"""How long the dag-processor needs to parse each DAG file, next to an empty DAG file.

The dag-processor imports Airflow once and forks a fresh child for every file it parses, so a DAG
file pays for whatever it imports or does at top level on every parse. This script does the same:
the parent pre-imports Airflow, then for each sample forks a child that parses one file with a
DagBag and reports the time. Samples of every file are interleaved with the empty DAG's, and the
medians are compared. Target (foundation issue): every DAG file within 1.5x of the empty DAG.

    python benchmarks/parse_time.py [--samples 15] [FILE ...]
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
os.environ.setdefault("AIRFLOW_HOME", str(REPO))

TARGET_RATIO = 1.5
EMPTY_DAG = '''"""An empty DAG: the baseline every DAG file is compared with."""
from datetime import datetime

from airflow.sdk import DAG

with DAG(dag_id="empty_baseline", schedule=None, start_date=datetime(2026, 1, 1)):
    pass
'''


def _parse_in_child(path: str, conn) -> None:
    from airflow.dag_processing.dagbag import DagBag

    start = time.perf_counter()
    bag = DagBag(dag_folder=path, bundle_path=os.path.dirname(path))
    elapsed = time.perf_counter() - start
    conn.send((elapsed, len(bag.dags), {k: str(v)[:500] for k, v in bag.import_errors.items()}))
    conn.close()


def parse_once(path: Path) -> float:
    # As the dag-processor does before it forks a parser: import the airflow.* modules the file
    # names (airflow.dag_processing.processor._pre_import_airflow_modules).
    for module in iter_airflow_imports(str(path)):
        importlib.import_module(module)
    parent, child = mp.Pipe(duplex=False)
    proc = mp.get_context("fork").Process(target=_parse_in_child, args=(str(path), child))
    proc.start()
    elapsed, n_dags, errors = parent.recv()
    proc.join()
    if errors or not n_dags:
        raise SystemExit(f"{path} did not parse cleanly: {errors or 'no DAG defined'}")
    return elapsed


def default_files() -> list[Path]:
    files = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
    # Until the pipelines exist, the failure probe stands in for a real DAG file.
    return files or [REPO / "tests" / "dags" / "fixtures" / "failure_probe.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    files = args.files or default_files()

    # What the dag-processor has imported before it forks a parser: its command, the manager,
    # the processor and DAG serialization (about 1,600 modules).
    global iter_airflow_imports
    import airflow.cli.commands.dag_processor_command
    import airflow.dag_processing.manager
    import airflow.dag_processing.processor
    import airflow.sdk
    import airflow.serialization.serialized_objects  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag  # noqa: F401
    from airflow.utils.file import iter_airflow_imports

    # A running dag-processor has bytecode for everything it imported once; compile it here too,
    # even where PYTHONDONTWRITEBYTECODE is set (as on CI), so we time parsing, not compiling.
    compileall.compile_dir(str(REPO / "plugins"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        for path in [empty, *files]:
            compileall.compile_file(str(path), quiet=1)
        for path in [empty, *files]:  # warm the OS file cache and .pyc files once
            parse_once(path)
        samples: dict[str, list[float]] = {"(empty DAG)": [], **{p.name: [] for p in files}}
        for _ in range(args.samples):
            samples["(empty DAG)"].append(parse_once(empty))
            for path in files:
                samples[path.name].append(parse_once(path))

    baseline = statistics.median(samples["(empty DAG)"])
    metrics: dict[str, float] = {"empty_dag_ms": round(baseline * 1000, 2)}
    print(f"{'file':<32} {'median ms':>10} {'x empty':>8}")
    print(f"{'(empty DAG)':<32} {baseline * 1000:>10.1f} {1.0:>8.2f}")
    worst = 0.0
    for path in files:
        median = statistics.median(samples[path.name])
        ratio = median / baseline
        worst = max(worst, ratio)
        metrics[f"{path.stem}_ms"] = round(median * 1000, 2)
        metrics[f"{path.stem}_ratio"] = round(ratio, 3)
        print(f"{path.name:<32} {median * 1000:>10.1f} {ratio:>8.2f}")
    metrics["worst_ratio"] = round(worst, 3)
    targets = {"worst_ratio": f"<= {TARGET_RATIO}"}
    met = worst <= TARGET_RATIO
    result = {"benchmark": "parse_time", "metrics": metrics, "targets": targets, "met": met}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
