"""
### State campaign-finance ingest → Elasticsearch

Every day (and on demand from the form), each selected state's bulk campaign-finance files are
standardised by that state's ingestor (`plugins/precinct/finance/`), loaded into a fresh index
`{state}_contributions_{UTC timestamp}` (and `{state}_reports_...`), verified, and only then
promoted behind the aliases `{state}_contributions` / `{state}_reports` in one atomic call.
Searchers never see partial data, nor the two aliases on different loads; a failed or refused
load or promotion leaves the old indices live.

Per state (mapped: one state failing does not stop the others):

1. the params are checked (an empty source or rejects location comes from the Airflow Variable
   `state_finance_ingest_source` / `state_finance_ingest_rejects_location`; a missing or bad
   value fails at once, without retries), and every required file must exist and be readable,
   before any index is created;
2. working indices left by earlier failed runs are deleted;
3. the new indices are created tuned for bulk loading (no replicas, refresh off) and restored after;
4. documents stream through the bulk helpers; rejected rows go with their reason to
   `rejects/{state}/{run_id}.csv` under the rejects location, and above the maximum rejected
   share the state fails before promotion;
5. the index must hold exactly the documents produced;
6. a new index under 90% of the live alias's documents is not promoted unless forced, and the
   operators are e-mailed;
7. both aliases move in one `_aliases` call, which the server applies whole or not at all;
   older indices beyond "indices to keep" are deleted (never the live one);
8. an Asset per alias (`elasticsearch://elasticsearch_default/{alias}`) is updated, through the
   asset alias `state_finance_promoted`, so downstream DAGs can be scheduled on it.

Connections: `elasticsearch_default`, `aws_default` (S3 sources and rejects). Variables:
`state_finance_ingest_source`, `state_finance_ingest_rejects_location` (what scheduled runs use;
devstack sets its S3 bucket). Adding a state: see the README.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG, CronTriggerTimetable, Param
from airflow.sdk.definitions.decorators import task

from precinct.dag_defaults import default_args
from precinct.finance.registry import registered_states
from precinct.operators.finance import PROMOTED_ALIASES, StateFinanceIngestOperator
from precinct.tracker.dates import CAMPAIGN_TIMEZONE

STATES = registered_states()

with DAG(
    dag_id="state_finance_ingest",
    schedule=CronTriggerTimetable("0 5 * * *", timezone=CAMPAIGN_TIMEZONE),
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["precinct", "campaign-finance", "elasticsearch"],
    doc_md=__doc__,
    render_template_as_native_obj=True,
    params={
        "states": Param(
            STATES,
            type="array",
            items={"type": "string", "enum": STATES},
            examples=STATES,
            minItems=1,
            title="States",
            description="Which registered states to ingest; each runs as its own mapped task.",
        ),
        "source": Param(
            None,
            type=["null", "string"],
            pattern=r"^(file|s3)://\S+$",
            title="Source location",
            description="Base URL of the raw files (file:// or s3://); each state's files are "
            "under {source}/{state}/. Empty: the Airflow Variable state_finance_ingest_source; "
            "neither set: the run fails.",
        ),
        "rejects_location": Param(
            None,
            type=["null", "string"],
            pattern=r"^(file|s3)://\S+$",
            title="Rejects location",
            description="Base URL where rejected rows (donor names and addresses: a private "
            "location) are written as rejects/{state}/{run_id}.csv, with the reason for each "
            "row. Empty: the Airflow Variable state_finance_ingest_rejects_location; neither "
            "set: the run fails.",
        ),
        "max_rejected_share": Param(
            0.05,
            type="number",
            minimum=0,
            maximum=1,
            title="Maximum rejected share",
            description="A state whose rejected rows exceed this share of its in-scope rows "
            "fails before promotion (0.05 = 5%).",
        ),
        "force_promotion": Param(
            False,
            type="boolean",
            title="Force promotion",
            description="Promote even if the new index holds under 90% of the live alias's "
            "documents (use after checking a legitimately smaller file).",
        ),
        "keep_indices": Param(
            2,
            type="integer",
            minimum=1,
            title="Indices to keep",
            description="Indices kept per alias, the live one included; older ones are deleted.",
        ),
    },
) as dag:

    @task
    def selected_states(params: dict | None = None) -> list[str]:
        """The states to map over: validated against the registry, duplicates dropped."""
        from precinct.operators.finance import selected_states as select

        return select(params or {})

    StateFinanceIngestOperator.partial(
        task_id="ingest_state",
        source="{{ params.source }}",
        rejects_location="{{ params.rejects_location }}",
        max_rejected_share="{{ params.max_rejected_share }}",
        force_promotion="{{ params.force_promotion }}",
        keep_indices="{{ params.keep_indices }}",
        # Explicit: partial() fills `outlets` with [] itself, so the operator's default never
        # applies to a mapped task and the Asset events would be dropped.
        outlets=[PROMOTED_ALIASES],
        map_index_template="{{ task.state }}",
    ).expand(state=selected_states())
