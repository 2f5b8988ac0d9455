"""Evaluate each new churn model on Domino, on the commit its producer's asset event names.

What it shows
-------------
* A DAG scheduled on an asset (``schedule=[CHURN_MODEL]``): it runs whenever ``domino_model_producer``'s
  ``train`` task succeeds.
* Reading the Domino job behind the asset event: ``model_commit`` takes ``triggering_asset_events``
  from the task context; the event's ``extra`` holds ``domino_job_id``, ``output_commit_id``,
  ``project_id`` and ``job_url``. ``evaluate`` then runs ``evaluate.py`` on that commit, where
  ``model.json`` is.
* ``is_paused_upon_creation=False``: the DAG listens from the moment it is deployed, so the producer's
  first event is not lost while nobody has unpaused it yet. Drop it to review the DAG first.

Set it up
---------
As for ``domino_model_producer`` (connection ``domino_default``, Domino project ``demo/churn``).
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Asset, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
#: The asset ``domino_model_producer`` updates (same name and URI as there).
CHURN_MODEL = Asset(name="demo_churn_model", uri="domino://demo/churn/model.json")

with DAG(
    dag_id="domino_model_consumer",
    description="Evaluate each new churn model on the Domino commit its asset event names",
    schedule=[CHURN_MODEL],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["domino", "example", "assets"],
    doc_md=__doc__,
) as dag:

    @task
    def model_commit(*, triggering_asset_events=None) -> str:
        """The output commit of the Domino job that produced the newest model."""
        event = triggering_asset_events[CHURN_MODEL][-1]  # several producer runs may have queued up
        print(
            f"Model from Domino job {event.extra['domino_job_id']} ({event.extra['job_url']}), "
            f"project {event.extra['project_id']}, commit {event.extra['output_commit_id']}"
        )
        return event.extra["output_commit_id"]

    evaluate = DominoStartJobOperator(
        task_id="evaluate",
        project=PROJECT,
        command="python evaluate.py --min-accuracy 0.75",
        hardware_tier=HARDWARE_TIER,
        commit_id=model_commit(),  # the XCom of model_commit: the model's commit
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
    )
