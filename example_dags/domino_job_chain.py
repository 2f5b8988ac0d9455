"""Wait for a Domino job started outside Airflow, then run two dependent jobs on its results.

What it shows
-------------
* ``DominoJobSensor`` (deferrable) watching an existing Domino job by id. The sensor never stops the
  job: it did not start it. It returns the job's details, including its ``outputCommitId``.
* Two jobs chained on Domino commits: ``train`` runs on the watched job's output commit, and
  ``evaluate`` on ``train``'s.

Trigger it with the id of a job that ran ``prepare_data.py`` in project ``demo/churn``::

    airflow dags trigger domino_job_chain --conf '{"job_id": "<domino job id>"}'

Without ``job_id`` in the run's conf (a scheduled run, ``make demo DAG=domino_job_chain``, or
``airflow dags test``), the ``start_stand_in_job`` task starts ``prepare_data.py`` itself with
``wait_for_completion=False``, standing in for a job someone started in Domino; the branch skips it
when a ``job_id`` is given.

Set it up: connection ``domino_default`` and project ``demo/churn``, as described in
``domino_retraining_pipeline.py``. ``DOMINO_EXAMPLE_POLL_INTERVAL`` (seconds, default 2) sets how
often job status is checked; use 30-60 s in production.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow.sdk import DAG, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.sensors.domino import DominoJobSensor

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))

with DAG(
    dag_id="domino_job_chain",
    description="Wait for an existing Domino job, then run train and evaluate on its output",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30)},
    params={"job_id": None},
    tags=["domino", "example"],
    doc_md=__doc__,
) as dag:

    @task.branch
    def choose_upstream_job(**context) -> str:
        """Watch the job named in the run's conf, or start a stand-in job when there is none."""
        if (context["dag_run"].conf or {}).get("job_id"):
            return "wait_for_upstream_job"
        return "start_stand_in_job"

    start_stand_in_job = DominoStartJobOperator(
        task_id="start_stand_in_job",
        project=PROJECT,
        command="python prepare_data.py",
        hardware_tier=HARDWARE_TIER,
        wait_for_completion=False,  # start it and return: the sensor below does the waiting
    )

    wait_for_upstream_job = DominoJobSensor(
        task_id="wait_for_upstream_job",
        job_id="{{ dag_run.conf.get('job_id') or ti.xcom_pull(task_ids='start_stand_in_job') }}",
        deferrable=True,
        poke_interval=POLL_INTERVAL,
        timeout=6 * 60 * 60,  # give up (the job keeps running) after six hours
        fetch_logs=True,
        # Run whichever branch was taken, as long as nothing failed.
        trigger_rule="none_failed_min_one_success",
    )

    train = DominoStartJobOperator(
        task_id="train",
        project=PROJECT,
        command="python train.py --lr 0.5 --epochs 20",
        hardware_tier=HARDWARE_TIER,
        # The sensor's return value is the watched job's details.
        commit_id="{{ ti.xcom_pull(task_ids='wait_for_upstream_job')['outputCommitId'] }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=60 * 60,
    )

    evaluate = DominoStartJobOperator(
        task_id="evaluate",
        project=PROJECT,
        command="python evaluate.py",
        hardware_tier=HARDWARE_TIER,
        commit_id="{{ ti.xcom_pull(task_ids='train', key='job')['outputCommitId'] }}",
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        timeout=15 * 60,
    )

    choice = choose_upstream_job()
    choice >> [start_stand_in_job, wait_for_upstream_job]
    start_stand_in_job >> wait_for_upstream_job >> train >> evaluate
