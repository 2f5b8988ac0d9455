"""DAGs the stack tests run: one deferrable Domino job printing numbered lines, one DAG per test.

Each test triggers its own dag_id, so the Domino jobs of one test (their titles name the DAG) are
never confused with another's. The job prints ``LINES`` lines ``PAUSE`` seconds apart (about 20 s),
long enough to stop, kill or clear the triggerer's work in the middle.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import DAG

from airflow_provider_domino.operators.domino import DominoStartJobOperator

LINES = 40
PAUSE = 0.5
#: Longer jobs where the test waits for Airflow's 30 s triggerer health threshold mid-job.
LINES_BY_DAG = {"stack_two_triggerers": 120}
POLL_INTERVAL = 2
DAG_IDS = (
    "stack_triggerer_sigterm",
    "stack_triggerer_sigkill",
    "stack_two_triggerers",
    "stack_mark_failed",
    "stack_clear_deferred",
    "stack_extra_link",
)


def _lines_dag(dag_id: str) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2025, 1, 1),
        catchup=False,
        tags=["domino-stack-test"],
    ) as dag:
        DominoStartJobOperator(
            task_id="print_lines",
            project="acme/churn",
            command=f"python print_lines.py {LINES_BY_DAG.get(dag_id, LINES)} {PAUSE}",
            hardware_tier_id="small",
            deferrable=True,
            poll_interval=POLL_INTERVAL,
        )
    return dag


for _dag_id in DAG_IDS:
    globals()[_dag_id] = _lines_dag(_dag_id)
