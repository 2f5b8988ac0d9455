"""Weekly retraining of the churn model on Domino: prepare -> train -> evaluate -> tag for production.

What it shows
-------------
* ``DominoStartJobOperator`` starting jobs in the Domino project ``demo/churn`` (the example project
  in ``example_dags/domino_project``) and streaming each job's log into the Airflow task log.
* Chaining jobs through Domino commits: every job's files end up in its ``outputCommitId``, and the
  next job runs on that commit. ``train`` sees the ``data/`` that ``prepare`` wrote; ``evaluate``
  sees the ``model.json`` that ``train`` wrote. The commit comes from the upstream task's XCom
  ``job`` (the job's final details)::

      commit_id="{{ ti.xcom_pull(task_ids='train', key='job')['outputCommitId'] }}"

* ``deferrable=True`` on the long step: while ``train`` runs, the task waits in the triggerer and
  holds no worker slot (a triggerer must be running: ``airflow triggerer``).
* Gating on the job's metrics: ``evaluate.py`` writes its accuracy to ``dominostats.json``; the task
  pushes the job's ``dominoStats`` to XCom ``domino_stats`` (numbers as numbers), and
  ``accurate_enough`` lets the tagging run only when the accuracy reaches ``MIN_ACCURACY``. A model
  below the bar leaves the run green with ``tag_production`` skipped: nothing is broken, there is
  just nothing to ship.
* The last task tags the training job ``production`` with ``DominoHook.add_tag``, so the winning
  model is easy to find in Domino.
* Each task's log ends with the job's results (stage times, commits, usage, ``domino_stats``) and an
  estimate of what it cost (XCom ``domino_cost``).

Set it up
---------
1. A connection ``domino_default`` of type ``domino``: host = your Domino URL, password = an API key,
   e.g. ``AIRFLOW_CONN_DOMINO_DEFAULT='{"conn_type": "domino", "host": "https://domino.example.com",
   "password": "..."}'``.
2. A Domino project ``demo/churn`` holding the files of ``example_dags/domino_project`` (or change
   ``PROJECT`` below). Hardware tier ``small`` must exist (change ``HARDWARE_TIER`` otherwise).
3. Without a Domino deployment: ``make demo`` runs this DAG against the local emulator, and
   ``docker compose up`` runs it in a full Airflow with the emulator as a service.

``DOMINO_EXAMPLE_POLL_INTERVAL`` (seconds, default 2) sets how often job status is checked: short so
the demo is quick. In production use 30-60 s: Domino jobs take minutes to hours, and every poll is an
API call.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, XComArg, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
#: The accuracy (from evaluate's ``domino_stats``) a model needs to be tagged for production.
MIN_ACCURACY = 0.75

default_args = {
    "owner": "ml-platform",
    # A retry reattaches to the Domino job the failed try left running instead of starting a
    # duplicate; a job that itself failed is started afresh.
    "retries": 2,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    # Airflow's own bound on a try; the operator also stops the Domino job when it is reached.
    "execution_timeout": timedelta(hours=2),
}

with DAG(
    dag_id="domino_retraining_pipeline",
    description="Weekly churn-model retraining on Domino: prepare, train, evaluate, tag production",
    schedule="@weekly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args,
    tags=["domino", "example", "ml"],
    doc_md=__doc__,
) as dag:
    prepare = DominoStartJobOperator(
        task_id="prepare",
        project=PROJECT,
        command="python prepare_data.py --rows 600",
        hardware_tier=HARDWARE_TIER,
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,  # the Domino job is stopped after 15 minutes
    )

    train = DominoStartJobOperator(
        task_id="train",
        project=PROJECT,
        command="python train.py --lr 0.5 --epochs 20",
        hardware_tier=HARDWARE_TIER,
        # Run on the files prepare left behind (data/train.csv, data/test.csv).
        commit_id="{{ ti.xcom_pull(task_ids='prepare', key='job')['outputCommitId'] }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=60 * 60,
    )

    evaluate = DominoStartJobOperator(
        task_id="evaluate",
        project=PROJECT,
        command="python evaluate.py",
        hardware_tier=HARDWARE_TIER,
        # Run on train's output commit: it holds model.json (and the data train ran on).
        commit_id="{{ ti.xcom_pull(task_ids='train', key='job')['outputCommitId'] }}",
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
        retries=0,
    )

    @task.short_circuit
    def accurate_enough(stats: dict) -> bool:
        """The quality gate, on the evaluation job's ``domino_stats``: tag only a model that passed."""
        accuracy = stats.get("accuracy")
        print(f"evaluation accuracy {accuracy} (bar {MIN_ACCURACY})")
        return isinstance(accuracy, (int, float)) and accuracy >= MIN_ACCURACY

    @task(retries=3, retry_delay=timedelta(seconds=10))
    def tag_production(train_job_id: str) -> str:
        """Tag the training job that passed evaluation ``production``."""
        # Imported here, not at the top: DAG files are parsed often and should stay cheap.
        from airflow_provider_domino.hooks.domino import DominoHook

        hook = DominoHook("domino_default")
        # Domino's tag route names the job's project too; "owner/name" is resolved to its id.
        tag = hook.add_tag(train_job_id, "production", hook.resolve_project(PROJECT).id)
        print(f"Tagged Domino job {train_job_id} {tag.name!r}")
        return train_job_id

    # train.output is train's return value: the Domino job id; evaluate's XCom "domino_stats" its metrics.
    gate = accurate_enough(XComArg(evaluate, key="domino_stats"))
    prepare >> train >> evaluate >> gate >> tag_production(train.output)
