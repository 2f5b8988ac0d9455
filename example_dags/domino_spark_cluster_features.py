"""A Spark-cluster job on a git branch with a pinned environment revision, gated on its ``domino_stats``.

What it shows
-------------
* ``compute_cluster``: the job starts with a Spark cluster attached (``ComputeClusterConfigV1``):
  two workers on the ``small`` tier, autoscaling up to four. Tier fields take a tier name or id; names
  are resolved through the project's tier list, the same single read that resolves ``hardware_tier``.
* ``main_repo_git_ref``: the job runs the code of a git branch. Domino's reference types are
  ``head``, ``branches`` (plural), ``tags`` and ``commitId``; a misspelt one fails when the DAG is
  parsed, not in the job's setup.
* ``environment_revision``: the environment revision is pinned (``SomeRevision(<id>)``), so a new
  revision of the environment does not change last week's results.
* ``domino_stats``: ``cluster_features.py`` writes ``dominostats.json``; the task pushes its entries
  to XCom ``domino_stats`` (numbers as numbers), and ``check_quality`` lets ``publish`` run only when
  the features look sane. The task log also ends with the job's estimated cost (XCom ``domino_cost``).

Set it up
---------
1. A connection ``domino_default`` of type ``domino`` (see ``domino_retraining_pipeline.py``).
2. A git-based Domino project ``demo/churn`` holding the files of ``example_dags/domino_project`` on a
   branch ``main``, a Spark compute environment (``SPARK_ENVIRONMENT_ID``) and an environment revision
   to pin (``ENVIRONMENT_REVISION``); change the constants below to yours.
3. Without a Domino deployment: ``make demo DAG=domino_spark_cluster_features`` runs it against the
   local emulator, which records the cluster's settings and runs the job's command alone.
"""

from __future__ import annotations

import os
from datetime import datetime

from airflow.sdk import DAG, XComArg, task

from airflow_provider_domino.operators.domino import DominoStartJobOperator

PROJECT = "demo/churn"
HARDWARE_TIER = "small"
SPARK_ENVIRONMENT_ID = "623139857a0af0281c01a6a4"
ENVIRONMENT_REVISION = "SomeRevision(623131577a0af0281c01a69a)"
GIT_BRANCH = "main"
POLL_INTERVAL = float(os.environ.get("DOMINO_EXAMPLE_POLL_INTERVAL", "2"))
#: The quality bar ``check_quality`` applies to the job's metrics.
MAX_MISSING_RATE = 0.01

with DAG(
    dag_id="domino_spark_cluster_features",
    description="Feature statistics on a Spark cluster, on a git branch, gated on the job's domino_stats",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["domino", "example", "spark"],
    doc_md=__doc__,
) as dag:
    features = DominoStartJobOperator(
        task_id="features",
        project=PROJECT,
        command="python cluster_features.py --rows 5000",
        hardware_tier=HARDWARE_TIER,
        compute_cluster={
            "clusterType": "spark",
            "computeEnvironmentId": SPARK_ENVIRONMENT_ID,
            "workerCount": 2,
            "maxWorkerCount": 4,
            "workerHardwareTier": HARDWARE_TIER,
        },
        main_repo_git_ref={"refType": "branches", "value": GIT_BRANCH},
        environment_revision=ENVIRONMENT_REVISION,
        poll_interval=POLL_INTERVAL,
        timeout=30 * 60,
    )

    @task.short_circuit
    def check_quality(stats: dict) -> bool:
        """Let ``publish`` run only when the job's metrics pass the bar (the job succeeded either way)."""
        print(f"domino_stats of the features job: {stats}")
        return stats.get("rows", 0) > 0 and stats.get("missing_rate", 1.0) <= MAX_MISSING_RATE

    @task
    def publish(stats: dict, job_id: str) -> str:
        """Stands in for whatever consumes the features (a feature store, a report)."""
        print(f"publishing features of Domino job {job_id}: mean {stats['feature_mean']}")
        return job_id

    # XCom "domino_stats" of the features task: the job's dominoStats.
    stats = XComArg(features, key="domino_stats")
    check_quality(stats) >> publish(stats, features.output)
