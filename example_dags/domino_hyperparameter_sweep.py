"""A learning-rate sweep on Domino: one training job per learning rate, in parallel, then pick the best.

What it shows
-------------
* Dynamic task mapping: ``DominoStartJobOperator.partial(...).expand(command=[...])`` starts one
  Domino job per command. The mapped tasks are deferrable, so waiting for N jobs holds no worker
  slots, only cheap triggers in the triggerer.
* Every training job runs on the output commit of one ``prepare`` job, so all candidates see exactly
  the same data.
* ``pick_best`` reads each job's metrics with ``DominoHook.get_job``: ``train.py`` writes
  ``dominostats.json``, which Domino returns as the job's ``dominoStats`` (``Job.domino_stats``,
  numbers as numbers), so nothing is parsed out of a log. The job with the best validation accuracy
  (lowest loss on a tie) wins; its learning rate and job id are the task's return value (XCom), and
  the job is tagged ``sweep-best`` in Domino.

Set it up
---------
Connection ``domino_default`` (type ``domino``: host = Domino URL, password = API key) and a Domino
project ``demo/churn`` with the files of ``example_dags/domino_project``; see
``domino_retraining_pipeline.py`` for details. ``make demo DAG=domino_hyperparameter_sweep`` runs
it against the local emulator.

``DOMINO_EXAMPLE_POLL_INTERVAL`` (seconds, default 2) sets how often job status is checked; use
30-60 s in production.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
LEARNING_RATES = [0.01, 0.1, 1.0]
EPOCHS = 20

with DAG(
    dag_id="domino_hyperparameter_sweep",
    description="Train one Domino job per learning rate in parallel and pick the best model",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    tags=["domino", "example", "ml"],
    doc_md=__doc__,
) as dag:
    prepare = DominoStartJobOperator(
        task_id="prepare",
        project=PROJECT,
        command="python prepare_data.py",
        hardware_tier=HARDWARE_TIER,
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
    )

    train = DominoStartJobOperator.partial(
        task_id="train",
        project=PROJECT,
        hardware_tier=HARDWARE_TIER,
        commit_id="{{ ti.xcom_pull(task_ids='prepare', key='job')['outputCommitId'] }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=60 * 60,
        # At most 8 training jobs at once per run: more would only wait in Domino's queue.
        max_active_tis_per_dagrun=8,
    ).expand(command=[f"python train.py --lr {lr} --epochs {EPOCHS}" for lr in LEARNING_RATES])

    @task
    def pick_best(job_ids: list[str]) -> dict[str, object]:
        """Read each training job's metrics (its ``dominoStats``) and return the best one."""
        from airflow_provider_domino.hooks.domino import DominoHook

        hook = DominoHook("domino_default")
        # job_ids is a lazy sequence over the mapped tasks' XComs. In Airflow 3.3, iterating it logs a
        # harmless "XCom not found" error when it probes past the last item (apache/airflow#73175).
        results = []
        for job_id in job_ids:
            stats = hook.get_job(job_id).domino_stats
            if not isinstance(stats.get("validation_accuracy"), (int, float)):
                raise ValueError(f"Domino job {job_id} reported no validation_accuracy in its dominoStats")
            result = {
                "job_id": job_id,
                "lr": stats.get("lr"),
                "accuracy": stats["validation_accuracy"],
                "loss": stats.get("validation_loss", float("inf")),
            }
            print(f"lr={result['lr']}: accuracy={result['accuracy']} loss={result['loss']} job={job_id}")
            results.append(result)
        best = max(results, key=lambda r: (r["accuracy"], -r["loss"]))
        print(f"best: lr={best['lr']} accuracy={best['accuracy']:.4f} (Domino job {best['job_id']})")
        # Domino's tag route names the job's project too; "owner/name" is resolved to its id.
        hook.add_tag(best["job_id"], "sweep-best", hook.resolve_project(PROJECT).id)
        return best

    # train.output is the list of the mapped tasks' return values: their Domino job ids.
    prepare >> train
    pick_best(train.output)
