"""A job's results in real ``dag.test()`` runs: ``domino_stats`` downstream, the cost line, why it waits."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest

from tests.dag_runner import task_output

pytestmark = pytest.mark.e2e

#: Writes Domino's metrics file; the emulator returns it as ``dominoStats`` (values as strings).
STATS_COMMAND = """echo '{"auc": 0.91, "rows": 1200, "model": "gbm"}' > dominostats.json"""


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


def test_domino_stats_reach_a_downstream_task_and_the_cost_matches_price_and_run_time(run_dag, emulator):
    result = run_dag(
        "e2e_results_stats_and_cost",
        f"""
        stats_job = DominoStartJobOperator(
            task_id="stats_job", command={STATS_COMMAND!r}, hardware_tier="Medium", poll_interval=0.5,
        )

        @task
        def gate(stats: dict) -> float:
            assert isinstance(stats["auc"], float) and isinstance(stats["rows"], int), stats
            return stats["auc"] * stats["rows"]

        gate(XComArg(stats_job, key="domino_stats"))
        """,
        preamble="from airflow.sdk import XComArg\n",
    )
    assert set(result.states().values()) == {"success"}, result.states()
    assert result.xcom("stats_job", "domino_stats") == {"auc": 0.91, "rows": 1200, "model": "gbm"}
    assert result.xcom("gate") == pytest.approx(0.91 * 1200)

    job = emulator.get_job(result.xcom("stats_job"))
    minutes = (_epoch(job["endedAt"]) - _epoch(job["startedAt"])) / 60
    medium_price = 2.0  # the emulator's Medium tier, in cents per minute
    cost = result.xcom("stats_job", "domino_cost")
    assert cost["runMinutes"] == pytest.approx(minutes, abs=1e-4)
    assert cost["estimatedCents"] == pytest.approx(minutes * medium_price, abs=1e-4)
    assert cost["parts"] == [
        {
            "role": "job",
            "tierId": "medium-k8s",
            "tierName": "Medium",
            "count": 1,
            "centsPerMinute": medium_price,
            "cents": pytest.approx(minutes * medium_price, abs=1e-4),
        }
    ]
    log = task_output(result.output, "stats_job")
    # A run of about a second: its time is shown in seconds and its cost with four decimals.
    assert minutes < 1 and minutes * medium_price < 1
    line = f"Estimated cost of Domino job {job['id']}: ~{minutes * medium_price:.4f} cents"
    assert line in log and f"{minutes * 60:.1f} s, job Medium (medium-k8s) at 2 cents/min" in log
    assert "domino_stats: auc=0.91, rows=1200, model=gbm" in log
    assert result.xcom("stats_job", "job")["usage"]["memoryGiB"] > 0


def _release_when_queued(emulator, title_part: str, blockers: list[str], polls_seen: threading.Event) -> None:
    """Stop the blockers once the DAG's job has been queued for a few status checks."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        waiting = [job for job in emulator.jobs() if title_part in (job.get("title") or "")]
        if waiting and waiting[0]["status"] == "Pending":
            time.sleep(4)  # the operator checks every 2 s at first: two or more checks see it queued
            break
        time.sleep(0.1)
    polls_seen.set()
    for job_id in blockers:
        emulator.api("POST", "/v4/jobs/stop", json={"jobId": job_id, "commitResults": False})


@pytest.mark.parametrize("deferrable", [False, True], ids=["worker", "deferred"])
def test_a_queued_job_explains_why_once(run_dag, emulator, project_id, deferrable):
    dag_id = f"e2e_results_queued_{'deferred' if deferrable else 'worker'}"
    blockers = emulator.fill_tier(project_id, "gpu-small-k8s")  # no other test uses this tier
    released = threading.Event()
    helper = threading.Thread(
        target=_release_when_queued, args=(emulator, dag_id, blockers, released), daemon=True
    )
    helper.start()
    try:
        result = run_dag(
            dag_id,
            f"""
            DominoStartJobOperator(
                task_id="waits", command="echo ran", hardware_tier="GPU Small", poll_interval=0.5,
                deferrable={deferrable},
            )
            """,
        )
    finally:
        helper.join(timeout=130)
        emulator.stop_all_jobs()
    assert released.is_set()
    assert result.state("waits") == "success"
    slots = emulator.settings()["maxConcurrentPerTier"]
    explanation = f"Waiting for capacity on hardware tier GPU Small: all {slots} of its run slots are in use"
    log = task_output(result.output, "waits")
    assert log.count(explanation) == 1, log
    assert "(expected wait: Until a run on this hardware tier finishes)" in log
    assert "Stop a run on GPU Small, or start the job on another hardware tier" in log


def test_a_deferred_task_prices_its_job_from_the_tier_list_its_start_read(run_dag, emulator):
    """The resumed step (a new process in production, a new operator here) reads no tier list again."""
    emulator.clear_requests()
    result = run_dag(
        "e2e_results_deferred_cost",
        f"""
        DominoStartJobOperator(
            task_id="deferred", command={STATS_COMMAND!r}, hardware_tier="Large", poll_interval=0.5,
            deferrable=True,
        )
        """,
    )
    assert result.state("deferred") == "success"
    reads = [entry for entry in emulator.requests_log() if entry["endpoint"] == "list_hardware_tiers"]
    assert len(reads) == 1
    cost = result.xcom("deferred", "domino_cost")
    assert cost["parts"][0]["tierId"] == "large-k8s" and cost["parts"][0]["centsPerMinute"] == 6.5
    assert result.xcom("deferred", "domino_stats") == {"auc": 0.91, "rows": 1200, "model": "gbm"}
