"""Produce a churn model on Domino and announce it as an Airflow asset (pairs with ``domino_model_consumer``).

What it shows
-------------
* ``@task.domino``: a TaskFlow function returns the Domino job's command, with Python values formatted
  in (no Jinja). It takes every ``DominoStartJobOperator`` parameter (``project``, ``hardware_tier``,
  ``commit_id``, ``deferrable``...) and pushes the same XComs.
* Asset events that carry the Domino job: ``train`` has ``outlets=[CHURN_MODEL]``. When its job
  succeeds, Airflow records an event for the asset ``demo_churn_model`` whose ``extra`` is::

      {"domino_job_id": "...", "output_commit_id": "...", "project_id": "...", "job_url": "..."}

  Every DAG scheduled on that asset runs next: ``domino_model_consumer`` evaluates the model on
  ``output_commit_id``, the Domino commit holding ``model.json``.

Set it up
---------
Connection ``domino_default`` (type ``domino``) and a Domino project ``demo/churn`` with the files of
``example_dags/domino_project``; see ``domino_retraining_pipeline.py`` for details. A scheduler must run
for the consumer to be triggered (``docker compose up`` has one).

``DOMINO_EXAMPLE_POLL_INTERVAL`` (seconds, default 2) sets how often job status is checked; use 30-60 s
in production.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Asset, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
#: The trained model. ``domino_model_consumer`` is scheduled on the same asset (same name and URI).
CHURN_MODEL = Asset(name="demo_churn_model", uri="domino://demo/churn/model.json")

with DAG(
    dag_id="domino_model_producer",
    description="Train the churn model on Domino; its asset event names the output commit",
    schedule="@weekly",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["domino", "example", "assets"],
    doc_md=__doc__,
) as dag:
    prepare = DominoStartJobOperator(
        task_id="prepare",
        project=PROJECT,
        command="python prepare_data.py --rows 600",
        hardware_tier=HARDWARE_TIER,
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
    )

    @task.domino(
        project=PROJECT,
        hardware_tier=HARDWARE_TIER,
        # Run on the files prepare left behind (data/train.csv, data/test.csv).
        commit_id="{{ ti.xcom_pull(task_ids='prepare', key='job')['outputCommitId'] }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=60 * 60,
        outlets=[CHURN_MODEL],
    )
    def train(lr: float, epochs: int) -> str:
        """The command of the training job: plain Python formatting, no templates."""
        return f"python train.py --lr {lr} --epochs {epochs}"

    prepare >> train(lr=0.5, epochs=20)
