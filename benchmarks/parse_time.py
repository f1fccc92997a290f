"""How long the dag-processor needs to process each DAG file, next to an empty DAG file.

Airflow 3's dag-processor imports Airflow once, then for every file forks a child
(`DagFileProcessorProcess`) that imports the file into a DagBag, serializes its DAGs and sends
them back over a socket; the manager records the time from the fork to the child's exit as the
file's `last_duration`. This script starts exactly that class, the way the manager does
(`DagFileProcessorManager._create_process`), from a parent that has imported what the
dag-processor imports, and times each file the same way. Samples of every file are interleaved
with the empty DAG's and the medians compared.

For each file it also reports where the time goes, measured in a plain fork of the same parent:

- **import**: executing the DAG file into a DagBag (the file's imports, its top-level code and
  Airflow's DAG construction: every operator gets a deep copy of the DAG's Params);
- **serialize**: Airflow's serialization of the DAGs (each task's copy of each Param is
  validated against its JSON schema, so it grows with Params x tasks).

Next to the empty DAG, every file is also compared with its **plain twin**: a file written by
this script with the same DAG id, the same Params (schemas, defaults, descriptions), the same
task ids and dependencies, but every task a no-op `PythonOperator` and no import from this
repository. The twin is what Airflow itself costs for a DAG of that shape; `x twin` is what
the file adds on top (its imports, top-level code, operators). An empty DAG has no tasks and no
Params, so it cannot show that.

Target (foundation issue): every DAG file within 1.5x of the empty DAG.

    python benchmarks/parse_time.py [--samples 15] [FILE ...]
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import os
import selectors
import statistics
import subprocess
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


class Processor:
    """Runs Airflow's own per-file processor the way the dag-processor's manager does."""

    def __init__(self, log_dir: Path):
        from airflow.sdk.api.client import Client

        # The manager's client talks to an in-process API; parsing a file makes no API call
        # unless the file reads Variables or Connections at top level (ours do not).
        self.client = Client(base_url=None, token="", dry_run=True)
        self.selector = selectors.DefaultSelector()
        self.log_dir = log_dir

    def process(self, path: Path) -> tuple[float, int, dict[str, str]]:
        import structlog
        from airflow.dag_processing.processor import DagFileProcessorProcess
        from airflow.sdk.log import logging_processors
        from uuid6 import uuid7

        handle = (self.log_dir / f"{path.stem}.log").open("ab")
        logger = structlog.wrap_logger(structlog.BytesLogger(handle),
                                       processors=logging_processors(json_output=True),
                                       logger_name="processor").bind()
        proc = DagFileProcessorProcess.start(
            id=uuid7(), path=path, bundle_path=path.parent, bundle_name="dags-folder",
            dag_file_rel_path=path.name, callbacks=[], selector=self.selector, logger=logger,
            logger_filehandle=handle, client=self.client,
        )
        while not proc.is_ready:  # DagFileProcessorManager._service_processor_sockets
            for key, _ in self.selector.select(timeout=0.001):
                on_data, on_close = key.data
                try:
                    more = on_data(key.fileobj)
                except (BrokenPipeError, ConnectionResetError):
                    more = False
                if not more:
                    on_close(key.fileobj)
                    key.fileobj.close()
        elapsed = time.monotonic() - proc.start_time  # the manager's run_duration
        result = proc.parsing_result
        proc.close()
        if result is None:
            return elapsed, 0, {str(path): "the processor returned no result"}
        return elapsed, len(result.serialized_dags), dict(result.import_errors)


def split_in_fork(path: Path) -> tuple[float, float]:
    """(import, serialize) seconds for one file, in a fork of this process."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        try:
            from airflow.dag_processing.dagbag import BundleDagBag
            from airflow.serialization.serialized_objects import DagSerialization

            start = time.perf_counter()
            bag = BundleDagBag(dag_folder=str(path), bundle_path=path.parent,
                               bundle_name="dags-folder", load_op_links=False)
            imported = time.perf_counter()
            for dag in bag.dags.values():
                DagSerialization.to_dict(dag)
            done = time.perf_counter()
            os.write(write_fd, f"{imported - start} {done - imported}".encode())
        finally:
            os._exit(0)
    os.close(write_fd)
    os.waitpid(pid, 0)
    data = os.read(read_fd, 100).split()
    os.close(read_fd)
    return float(data[0]), float(data[1])


TWIN_SHAPE = r"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    raise SystemExit(f"{sys.argv[1]}: {bag.import_errors}")
print(json.dumps([{
    "dag_id": dag.dag_id,
    "params": {k: dag.params.get_param(k).serialize() for k in dag.params},
    "tasks": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
} for dag in bag.dags.values()], default=str))
"""

TWIN_HEADER = '''"""Plain twin of {name}: same DAG id, Params, tasks and dependencies."""
import json
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, Param

SHAPES = json.loads({shapes!r})


def _noop():
    pass


for shape in SHAPES:
    params = {{k: Param(p["value"], description=p["description"], **p["schema"])
              for k, p in shape["params"].items()}}
    with DAG(dag_id=shape["dag_id"], schedule=None, start_date=datetime(2026, 1, 1),
             params=params):
        tasks = {{task_id: PythonOperator(task_id=task_id, python_callable=_noop)
                 for task_id in shape["tasks"]}}
        for task_id, upstream in shape["tasks"].items():
            for up in upstream:
                tasks[up] >> tasks[task_id]
'''


def write_twin(path: Path, folder: Path) -> Path:
    """The plain twin of a DAG file (its shape read in a separate process, so that this
    process, the parent of every parse, never imports the file or our package)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO)])}
    shapes = subprocess.run([sys.executable, "-c", TWIN_SHAPE, str(path)], env=env,
                            capture_output=True, text=True, check=True).stdout.splitlines()[-1]
    twin = folder / f"{path.stem}_twin.py"
    twin.write_text(TWIN_HEADER.format(name=path.name, shapes=shapes))
    return twin


def default_files() -> list[Path]:
    files = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
    # Until the pipelines exist, the failure probe stands in for a real DAG file.
    return files or [REPO / "tests" / "dags" / "fixtures" / "failure_probe.py"]


def pre_import(path: Path) -> None:
    """What the processor does in the parent before it forks for a file
    (airflow.dag_processing.processor._pre_import_airflow_modules)."""
    from airflow.utils.file import iter_airflow_imports

    for module in iter_airflow_imports(str(path)):
        importlib.import_module(module)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    files = [p.resolve() for p in (args.files or default_files())]

    # What the dag-processor has imported before it forks a parser: its command, the manager,
    # the processor and DAG serialization.
    import airflow.cli.commands.dag_processor_command
    import airflow.dag_processing.manager
    import airflow.dag_processing.processor
    import airflow.sdk
    import airflow.serialization.serialized_objects  # noqa: F401

    # A deployed dag-processor has bytecode for our package and DAG files (written on first
    # import, or baked into the image); compile it here too, even where PYTHONDONTWRITEBYTECODE
    # is set (as on CI), so we time processing, not compiling. `make install` compiles
    # site-packages the same way.
    compileall.compile_dir(str(REPO / "plugins"), quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty_dag.py"
        empty.write_text(EMPTY_DAG)
        twins = {path: write_twin(path, Path(tmp)) for path in files}
        paths = [empty, *files, *twins.values()]
        for path in paths:
            compileall.compile_file(str(path), quiet=1)
        processor = Processor(Path(tmp))
        for path in paths:  # warm the OS file cache once; fail early on a broken file
            pre_import(path)
            _, n_dags, errors = processor.process(path)
            if errors or not n_dags:
                raise SystemExit(f"{path} did not parse cleanly: {errors or 'no DAG defined'}")
        samples: dict[Path, list[float]] = {p: [] for p in paths}
        split: dict[Path, list[tuple[float, float]]] = {p: [] for p in paths}
        for _ in range(args.samples):
            for path in paths:
                pre_import(path)
                samples[path].append(processor.process(path)[0])
                split[path].append(split_in_fork(path))

    def med(values: list[float]) -> float:
        return statistics.median(values) * 1000

    baseline = med(samples[empty])
    metrics: dict[str, float] = {"empty_dag_ms": round(baseline, 2)}
    print(f"{'file':<28} {'processor ms':>12} {'x empty':>8} {'import ms':>10} "
          f"{'serialize ms':>13} {'twin ms':>8} {'x twin':>7}")
    worst = worst_twin = 0.0
    for path in [empty, *files]:
        total = med(samples[path])
        imported = med([s[0] for s in split[path]])
        serialized = med([s[1] for s in split[path]])
        ratio = total / baseline
        if path == empty:
            print(f"{'(empty DAG)':<28} {total:>12.1f} {ratio:>8.2f} {imported:>10.1f} "
                  f"{serialized:>13.1f}")
            metrics["empty_import_ms"] = round(imported, 2)
            metrics["empty_serialize_ms"] = round(serialized, 2)
            continue
        twin = med(samples[twins[path]])
        print(f"{path.name:<28} {total:>12.1f} {ratio:>8.2f} {imported:>10.1f} "
              f"{serialized:>13.1f} {twin:>8.1f} {total / twin:>7.2f}")
        worst = max(worst, ratio)
        worst_twin = max(worst_twin, total / twin)
        metrics[f"{path.stem}_ms"] = round(total, 2)
        metrics[f"{path.stem}_ratio"] = round(ratio, 3)
        metrics[f"{path.stem}_import_ms"] = round(imported, 2)
        metrics[f"{path.stem}_serialize_ms"] = round(serialized, 2)
        metrics[f"{path.stem}_twin_ms"] = round(twin, 2)
        metrics[f"{path.stem}_twin_ratio"] = round(total / twin, 3)
    metrics["worst_ratio"] = round(worst, 3)
    metrics["worst_twin_ratio"] = round(worst_twin, 3)
    targets = {"worst_ratio": f"<= {TARGET_RATIO}"}
    result = {"benchmark": "parse_time", "metrics": metrics, "targets": targets,
              "met": worst <= TARGET_RATIO}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
