"""Evaluate every churn model a data scientist releases from Domino: a DAG scheduled on Domino job events.

What it shows
-------------
* An ``Asset`` with an ``AssetWatcher`` whose trigger is ``DominoJobEventTrigger``: the triggerer reads
  the job list of the Domino project ``demo/churn`` every ``poll_interval`` seconds and fires once for
  each job tagged ``release`` that ends ``Succeeded``, however it was started (Domino's UI, a Domino
  scheduled job, a notebook, another DAG). Jobs that ended before the watcher was first created never
  fire, so deploying this DAG does not replay the project's history.
* Reading the event: each asset event's ``extra["payload"]`` names the job (``job_id``, ``job_number``,
  ``status``, ``title``, ``tags``), its ``project_id``, its ``output_commit_id``, ``domino_stats`` when
  Domino sends them, and ``job_url``. ``release_commit`` logs them and hands the commit on;
  ``evaluate`` runs ``evaluate.py`` on that commit.
* ``is_paused_upon_creation=False``: the watcher's events turn into runs from the moment the DAG is
  deployed.

Needs Airflow 3.0+ (asset watchers); on 3.3 the watcher's cursor survives triggerer restarts (see
``docs/event-driven.md``).

Set it up
---------
Connection ``domino_default``, Domino project ``demo/churn`` (as for the other examples). Start a job in
Domino with the tag ``release``: when it succeeds, this DAG runs once for it.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, Asset, AssetWatcher, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.triggers.domino import DominoJobEventTrigger

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
#: How often the watcher reads the project's job list (one request per round for all its watchers).
WATCH_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_WATCH_INTERVAL", "30"))

RELEASED_MODEL = Asset(
    name="demo_churn_release_model",
    uri="domino://demo/churn/release-model",
    watchers=[
        AssetWatcher(
            name="churn_release_jobs",
            trigger=DominoJobEventTrigger(
                project=PROJECT, tag="release", statuses=["Succeeded"], poll_interval=WATCH_INTERVAL
            ),
        )
    ],
)

with DAG(
    dag_id="domino_event_driven",
    description="Evaluate each model released by a Domino job tagged 'release', wherever it was started",
    schedule=[RELEASED_MODEL],
    start_date=datetime(2025, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    tags=["domino", "example", "assets", "event-driven"],
    doc_md=__doc__,
) as dag:

    @task
    def release_commit(*, triggering_asset_events=None) -> str:
        """The output commit of the Domino job whose end scheduled this run."""
        # The triggerer stores the trigger's event as {"from_trigger": True, "payload": {...}}.
        job = triggering_asset_events[RELEASED_MODEL][-1].extra["payload"]
        print(
            f"Domino job #{job['job_number']} {job['job_id']} ({job['title']}) ended {job['status']}: "
            f"{job['job_url']}, output commit {job['output_commit_id']}, stats {job['domino_stats']}"
        )
        return job["output_commit_id"]

    evaluate = DominoStartJobOperator(
        task_id="evaluate",
        project=PROJECT,
        command="python evaluate.py --min-accuracy 0.75",
        hardware_tier=HARDWARE_TIER,
        commit_id=release_commit(),
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
    )
