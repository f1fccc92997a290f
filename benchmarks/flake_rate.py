"""The flake-rate refresh on a million sign-up status rows, against the bare query.

A synthetic VAN-synced dataset with ~1,000,000 rows of sign-up status history (~455,000
sign-ups, ~22,000 events) is loaded into the BigQuery emulator. Then, side by side and
alternating, several times:

- **bare**: the two SQL files run by a plain google-cloud-bigquery client, rows fetched: the
  least any refresh has to do;
- **refresh**: what the DAG's tasks run, in-process and along the DAG's dependencies (the two
  independent tasks at once, as the executor runs them): settings; `query_warehouse`, the
  BigQueryAggregateOperator through the Google provider's BigQueryHook (connection credentials
  and token, run-derived job ids, submitted without a look-up as on a run's first try, both
  jobs submitted before either is awaited, the max-rows check, XCom-ready rows), next to
  `read_last_publish` from the Sheets stand-in; the five quality gates; publishing both tabs
  (one hook, one write for both). Each task builds its own hook, credentials and token, as in
  its own worker process: nothing is shared between tasks.

Target (issue 4): median refresh at most 1.5x the median bare query. Also reported: the rows and
bytes that leave the warehouse (the aggregates only, counted on the HTTP responses), and, for
context, one whole `airflow dags test` of the DAG (CLI start-up, parsing and the metadata DB
included; not part of the target).

    python benchmarks/flake_rate.py [--rows 1000000] [--repeats 7] [--no-dag-test]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "plugins"), str(REPO)]
os.environ.setdefault("AIRFLOW_HOME", str(REPO))

TARGET_RATIO = 1.5
DATASET = "flake_bench"
SPREADSHEET = "flake-rate-benchmark"
SQL_DIR = REPO / "include" / "sql"


def ensure_devstack() -> list:
    """Start the stand-ins the refresh needs if they are not up; load their connections."""
    from devstack.core import read_env_file, write_env_file
    from devstack.services import SERVICES, by_name

    started = []
    for service in by_name(["smtp", "sheets", "bigquery"]):
        if not service.is_up():
            service.start()
            started.append(service)
    os.environ.update(read_env_file(write_env_file(SERVICES)))
    return started


def load_data(rows: int):
    from devstack import bigquery as bq_stack
    from devstack import seed_flake_rate as seed

    today = bq_stack.campaign_today()
    signups = seed.signups_for_status_rows(rows)
    data = seed.generate(today, signups=signups)
    while data.status_rows < rows:  # top up to at least the asked number of status rows
        signups = int(signups * rows / data.status_rows) + 1
        data = seed.generate(today, signups=signups)
    client = bq_stack.client()
    start = time.perf_counter()
    seed.load(client, DATASET, data)
    return data, client, time.perf_counter() - start


def bare_query(client, settings) -> tuple[float, int]:
    """Both SQL files through a plain client with the same bound parameters; rows fetched."""
    from google.cloud import bigquery

    from precinct.flake_rate.sql import parameters_used, query_parameters, render

    start, rows = time.perf_counter(), 0
    for name, spec in (("flake_rate.sql", settings.flake_rate_parameters()),
                       ("flake_rate_upcoming.sql", settings.upcoming_parameters())):
        sql = render((SQL_DIR / name).read_text(), settings.dataset)
        config = bigquery.QueryJobConfig.from_api_repr({"query": {
            "useLegacySql": False, "parameterMode": "NAMED",
            "queryParameters": query_parameters(
                {k: v for k, v in spec.items() if k in parameters_used(sql)}),
        }})
        rows += len(list(client.query(sql, job_config=config).result()))
    return time.perf_counter() - start, rows


def refresh(params: dict, run_id: str) -> tuple[float, dict]:
    """The DAG's task bodies in this process, along the DAG's dependencies.

    As the executor runs them: `settings`, then the two independent tasks (`query_warehouse`,
    which submits both queries' jobs through one BigQueryHook, and `read_last_publish`) at
    once, then `check_gates`, then `publish`. Each task builds its own hook and credentials, as
    it does in its own worker process.
    """
    from precinct.operators import flake_rate as steps
    from precinct.operators.bigquery import BigQueryAggregateOperator

    def query_warehouse() -> dict:
        operator = BigQueryAggregateOperator(
            task_id="query_warehouse", dataset=settings["dataset"],
            queries={name: (SQL_DIR / file).read_text() for name, file in steps.QUERIES.items()},
            query_params=settings["query_params"])
        ti = SimpleNamespace(dag_id="flake_rate_refresh", task_id="query_warehouse",
                             run_id=run_id, try_number=1)  # a scheduled run's first try
        return operator.execute({"ti": ti})

    start = time.perf_counter()
    context = {"dag_run": SimpleNamespace(run_after=datetime.now(UTC)),
               "ti": SimpleNamespace(dag_id="flake_rate_refresh", task_id="check_gates",
                                     run_id=run_id)}
    settings = steps.settings_for_run(params, context)
    with ThreadPoolExecutor(max_workers=2) as pool:
        queried = pool.submit(query_warehouse)
        published = pool.submit(steps.read_published, settings["spreadsheet_id"])
        results, last_publish = queried.result(), published.result()
    if not steps.check_gates(results, last_publish, settings, context):
        raise SystemExit("a quality gate failed during the benchmark: see the log above")
    steps.publish(results, settings)
    return time.perf_counter() - start, results


def dag_test_wall(params: dict) -> tuple[float, float | None]:
    """One `airflow dags test` of the DAG: (CLI wall seconds, the DagRun's own run_duration)."""
    from tests.support import airflow_env

    env = airflow_env()
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, cwd=REPO,
                   capture_output=True, check=True)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "flake_rate_refresh", "-c",
         json.dumps(params)], env=env, cwd=REPO, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0 or "state=success" not in output:
        raise SystemExit(f"airflow dags test failed:\n{output[-3000:]}")
    match = re.search(r"DagRun Finished: dag_id=flake_rate_refresh.*?run_duration=([0-9.]+)",
                      output)
    return wall, float(match.group(1)) if match else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="sign-up status rows")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-dag-test", action="store_true",
                        help="skip the informational `airflow dags test` run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # task logs would drown the figures

    started = ensure_devstack()
    try:
        from devstack import seed_flake_rate as seed
        from devstack import sheets
        from precinct.flake_rate import resolve_settings
        from precinct.operators.flake_rate import run_date

        data, client, load_s = load_data(args.rows)
        print(f"loaded {data.status_rows:,} status rows, {len(data.tables['event_signups']):,} "
              f"sign-ups, {len(data.tables['events']):,} events in {load_s:.1f}s")
        sheets.admin("POST", "spreadsheets", {"spreadsheetId": SPREADSHEET, "replace": True,
                                              "title": "Flake rate (benchmark)"},
                     base_url=sheets.SERVICE.url)  # the stand-in of this devstack (port offset)
        params = {"dataset": DATASET, "event_type_ids": seed.DEFAULT_EVENT_TYPE_IDS,
                  "spreadsheet_id": SPREADSHEET}
        settings = resolve_settings(params, run_date({"dag_run": SimpleNamespace(
            run_after=datetime.now(UTC))}))

        # Warm up both paths once (the first refresh is also the first publish).
        bare_query(client, settings)
        refresh(params, f"benchmark__warmup_{time.time_ns()}")
        bare_times, refresh_times, bare_rows, last = [], [], 0, {}
        for i in range(args.repeats):
            order = ("bare", "refresh") if i % 2 == 0 else ("refresh", "bare")
            for which in order:
                if which == "bare":
                    elapsed, bare_rows = bare_query(client, settings)
                    bare_times.append(elapsed)
                else:  # a new run id each time: the query really runs, no re-attaching
                    elapsed, last = refresh(params, f"benchmark__{i}_{time.time_ns()}")
                    refresh_times.append(elapsed)
            print(f"repeat {i + 1}: bare {bare_times[-1]:.2f}s  refresh {refresh_times[-1]:.2f}s")

        bare_s, refresh_s = statistics.median(bare_times), statistics.median(refresh_times)
        ratio = refresh_s / bare_s
        rows_out = sum(r["row_count"] for r in last.values())
        bytes_out = sum(r["bytes_received"] for r in last.values())
        assert rows_out == bare_rows, (rows_out, bare_rows)
        metrics = {
            "status_rows": data.status_rows,
            "signups": len(data.tables["event_signups"]),
            "bare_query_median_s": round(bare_s, 3),
            "refresh_median_s": round(refresh_s, 3),
            "refresh_vs_bare_query": round(ratio, 3),
            "rows_leaving_warehouse": rows_out,
            "bytes_leaving_warehouse": bytes_out,
            "repeats": args.repeats,
        }
        if not args.no_dag_test:
            wall, run_duration = dag_test_wall(params)
            metrics["airflow_dags_test_wall_s"] = round(wall, 2)
            metrics["airflow_dag_run_duration_s"] = run_duration
        print(f"bare query (median of {args.repeats}): {bare_s:.2f}s; refresh: {refresh_s:.2f}s "
              f"({ratio:.2f}x, target <= {TARGET_RATIO}x)")
        print(f"leaving the warehouse: {rows_out} aggregate rows, {bytes_out:,} bytes "
              f"(from {data.status_rows:,} status rows)")
        if "airflow_dags_test_wall_s" in metrics:
            print("whole `airflow dags test` (informational): "
                  f"{metrics['airflow_dags_test_wall_s']}s, DAG run "
                  f"{metrics['airflow_dag_run_duration_s']}s")
        met = ratio <= TARGET_RATIO and data.status_rows >= args.rows
        print(json.dumps({"benchmark": "flake_rate", "metrics": metrics,
                          "targets": {"refresh_vs_bare_query": f"<= {TARGET_RATIO}"},
                          "met": met}))
        client.delete_dataset(DATASET, delete_contents=True, not_found_ok=True)
        sheets.admin("DELETE", f"spreadsheets/{SPREADSHEET}", base_url=sheets.SERVICE.url)
        return 0
    finally:
        for service in reversed(started):
            service.stop()


if __name__ == "__main__":
    sys.exit(main())
