"""Texas ingest benchmark, end to end: generated TEC files into devstack's osmem-server.

Generates a synthetic `TEC_CF_CSV.zip` (devstack.seed_finance, default 200,000 contribution
rows), then, three times, each in a fresh subprocess (so its peak memory is its own), runs
`StateFinanceIngestOperator`'s load path exactly as a DAG run does between "indices created" and
"verified": fresh indices created from the real mappings and tuned for bulk loading, the ingestor
streamed through the bulk helpers (`_load`, rejects spooled to a CSV), replicas and refresh
restored, and the counts checked. Indices are named `precinct_bench_*` (never a state's, so no
alias moves) and deleted after each run. The figure is documents (contributions + reports) per
second over the median run; input rows per second and contributions per second are given too,
and the share of the run spent waiting for `_bulk` answers (the stand-in's own indexing time).

The parse-side targets of issue 3 come from `benchmarks/finance_parse.py`, run as a subprocess
(its code and its targets are not repeated here): by default at the same size and four times it
(the memory target compares two sizes), on 1M and 4M rows with `--full` (several minutes). Ends
with one JSON line (DESIGN.md, "Output conventions"); `targets` and `met` are finance_parse's
(parse ratio, peak RSS, peak RSS the same across sizes; the end-to-end rate has no target). The
exit status is 0 whether or not they are met, non-zero only when the benchmark could not run.

    python -m devstack up elasticsearch
    .venv/bin/python benchmarks/finance_ingest.py                 # 200,000 rows (parse: + 800,000)
    .venv/bin/python benchmarks/finance_ingest.py --rows 50000    # a quick look
    .venv/bin/python benchmarks/finance_ingest.py --full          # + parse figures on 1M and 4M
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]

PARSE_BENCHMARK = REPO / "benchmarks" / "finance_parse.py"
FULL_ROWS = "1000000,4000000"


def _peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: the exec'd worker's own, not the parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_worker(folder: Path) -> dict[str, Any]:
    """One timed end-to-end load in this process (run in a subprocess by `measure`)."""
    from elastic_transport import Urllib3HttpNode

    from devstack.core import read_env_file

    os.environ.update(read_env_file())  # AIRFLOW_CONN_ELASTICSEARCH_DEFAULT (osmem-server)

    from precinct.finance.locations import state_source
    from precinct.finance.mappings import contributions_index_body, reports_index_body
    from precinct.finance.registry import get_ingestor
    from precinct.hooks.elasticsearch import ElasticsearchHook
    from precinct.operators.finance import StateFinanceIngestOperator

    # Time spent waiting on `_bulk` requests (the server's share), measured at the HTTP node.
    bulk_wait = [0.0]
    perform = Urllib3HttpNode.perform_request

    def timed(self: Any, method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return perform(self, method, target, *args, **kwargs)
        finally:
            if target.split("?")[0].endswith("/_bulk"):
                bulk_wait[0] += time.perf_counter() - started

    Urllib3HttpNode.perform_request = timed  # type: ignore[method-assign]

    operator = StateFinanceIngestOperator(
        task_id="benchmark", state="tx", source=folder.parent.as_uri(),
        rejects_location="file:///unused",  # _load spools rejects locally; nothing uploads
    )
    es = ElasticsearchHook()
    tag = uuid.uuid4().hex[:10]
    bodies = {"contributions": contributions_index_body(), "reports": reports_index_body()}
    new = {kind: f"precinct_bench_{kind}_{tag}" for kind in bodies}
    ingestor = get_ingestor("tx")()
    source = state_source(folder.parent.as_uri(), "tx")
    try:
        with tempfile.TemporaryDirectory(prefix="finance-ingest-") as tmp:
            started = time.perf_counter()
            ingestor.check(source)
            for kind, body in bodies.items():
                es.create_index(new[kind], body, bulk_load=True)
            outcome = operator._load(es, ingestor, source, new, Path(tmp), Path(tmp) / "rej.csv")
            for kind in bodies:
                es.finish_bulk_load(new[kind], replicas=operator.replicas)
                if es.count(new[kind]) != outcome["indexed"][kind]:
                    raise RuntimeError(f"{new[kind]}: count differs from documents indexed")
            seconds = time.perf_counter() - started
    finally:
        for name in new.values():
            es.delete_index(name)
        es.close()
    stats = ingestor.stats
    return {
        "seconds": seconds,
        "bulk_wait_s": bulk_wait[0],
        "contributions": outcome["indexed"]["contributions"],
        "reports": outcome["indexed"]["reports"],
        "bulk_failed": outcome["bulk_failed"],
        "rejected": stats.rejected_total,
        "rows": stats.produced["contributions"] + stats.rejected_total + stats.skipped_total,
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


def measure(folder: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", "--dir", str(folder)],
        capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"end-to-end worker failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def end_to_end(rows: int, runs: int, workdir: Path) -> dict[str, Any]:
    from devstack.seed_finance import write_texas

    folder = workdir / "tx"
    started = time.perf_counter()
    zip_path = write_texas(folder, contributions=rows, seed=0)
    print(
        f"[end to end, {rows:,} rows] generated {zip_path.stat().st_size / 1e6:.0f} MB zip in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    samples = []
    for run in range(runs):
        sample = measure(folder)
        samples.append(sample)
        documents = sample["contributions"] + sample["reports"]
        print(
            f"  run {run + 1}: {documents:,} documents in {sample['seconds']:.2f} s "
            f"({documents / sample['seconds']:,.0f}/s, {sample['bulk_wait_s']:.2f} s waiting on "
            f"_bulk), peak {sample['peak_rss_mb']:.1f} MB",
            flush=True,
        )
    first = samples[0]
    if any((s["contributions"], s["reports"]) != (first["contributions"], first["reports"])
           for s in samples):
        raise RuntimeError("runs indexed different document counts")
    seconds = statistics.median(s["seconds"] for s in samples)
    documents = first["contributions"] + first["reports"]
    return {
        "rows": first["rows"],
        "documents": documents,
        "contributions": first["contributions"],
        "reports": first["reports"],
        "rejected": first["rejected"],
        "bulk_failed": first["bulk_failed"],
        "median_s": round(seconds, 3),
        # Share of the run spent waiting for the server to answer `_bulk` requests.
        "bulk_wait_share": round(
            statistics.median(s["bulk_wait_s"] / s["seconds"] for s in samples), 3
        ),
        "documents_per_s": round(documents / seconds),
        "contributions_per_s": round(first["contributions"] / seconds),
        "input_rows_per_s": round(first["rows"] / seconds),
        "peak_rss_mb": max(s["peak_rss_mb"] for s in samples),
        "runs": runs,
    }


def parse_figures(rows: str, runs: int) -> dict[str, Any]:
    """Run benchmarks/finance_parse.py (streaming its progress) and return its JSON line."""
    print(f"[parse] benchmarks/finance_parse.py --rows {rows} --runs {runs}", flush=True)
    process = subprocess.Popen(
        [sys.executable, str(PARSE_BENCHMARK), "--rows", rows, "--runs", str(runs)],
        stdout=subprocess.PIPE, text=True,
    )
    assert process.stdout is not None
    last = ""
    for line in process.stdout:
        if line.strip():
            last = line
            if not line.startswith("{"):
                print(f"  {line.rstrip()}", flush=True)
    if process.wait() != 0:
        raise RuntimeError("benchmarks/finance_parse.py failed")
    result = json.loads(last)
    if result.get("benchmark") != "finance_parse":
        raise RuntimeError(f"unexpected last line from finance_parse.py: {last!r}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="Texas contribution rows")
    parser.add_argument("--runs", type=int, default=3, help="runs (the median is reported)")
    parser.add_argument(
        "--full", action="store_true", help=f"parse figures on {FULL_ROWS} rows (minutes)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the generated files here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(run_worker(args.dir)))
        return 0

    from devstack.elasticsearch import SERVICE as ELASTICSEARCH

    if not ELASTICSEARCH.is_up():
        print("devstack's osmem-server is not up: python -m devstack up elasticsearch",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="finance-ingest-") as tmp:
        e2e = end_to_end(args.rows, args.runs, args.workdir or Path(tmp))
    print(
        f"[end to end] {e2e['documents_per_s']:,} documents/s "
        f"({e2e['input_rows_per_s']:,} input rows/s), median of {args.runs}",
        flush=True,
    )
    parsed = parse_figures(
        FULL_ROWS if args.full else f"{args.rows},{4 * args.rows}", args.runs
    )
    parse = parsed["metrics"]

    metrics = {
        "e2e_documents_per_s": e2e["documents_per_s"],
        "e2e_contributions_per_s": e2e["contributions_per_s"],
        "e2e_input_rows_per_s": e2e["input_rows_per_s"],
        "e2e_peak_rss_mb": e2e["peak_rss_mb"],
        "e2e_bulk_wait_share": e2e["bulk_wait_share"],
        "e2e": e2e,
        "parse_ratio": parse["parse_ratio"],
        "peak_rss_mb": parse["peak_rss_mb"],
        "peak_rss_growth_largest_over_smallest": parse["peak_rss_growth_largest_over_smallest"],
        "ingest_rate_largest_over_smallest": parse["ingest_rate_largest_over_smallest"],
        "parse_sizes": parse["sizes"],
    }
    print(json.dumps({
        "benchmark": "finance_ingest", "metrics": metrics, "targets": parsed["targets"],
        "met": parsed["met"],
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
