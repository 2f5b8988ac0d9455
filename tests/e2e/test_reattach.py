"""A retry adopts the job its previous try started instead of starting a duplicate."""

from __future__ import annotations

import pytest

from airflow_provider_domino._compat import HAS_RESUMABLE_JOB_MIXIN
from airflow_provider_domino.api.idempotency import key_in_title
from tests.dag_runner import task_output

pytestmark = pytest.mark.e2e

PREAMBLE = '''
class LosesWorkerOnFirstTry(DominoStartJobOperator):
    """Simulates a worker dying after the job started: the first try fails while the job runs."""

    def poll_until_complete(self, external_id, context):
        if context["ti"].try_number == 1:
            raise RuntimeError(f"worker lost while job {external_id} ran (simulated)")
        return super().poll_until_complete(external_id, context)

    def defer(self, **kwargs):
        if kwargs["trigger"].job_id and self._first_try:
            raise RuntimeError("worker lost before deferring (simulated)")
        return super().defer(**kwargs)

    def execute(self, context):
        self._first_try = context["ti"].try_number == 1
        return super().execute(context)
'''


def test_retry_reattaches_to_the_running_job(run_dag, emulator):
    result = run_dag(
        "e2e_reattach",
        """
        sync_reattach = LosesWorkerOnFirstTry(
            task_id="sync_reattach", command="python print_lines.py 3 1", hardware_tier_id="small",
            poll_interval=0.5, retries=1, retry_delay=timedelta(seconds=0),
        )
        deferred_reattach = LosesWorkerOnFirstTry(
            task_id="deferred_reattach", command="python print_lines.py 6 1", hardware_tier_id="small",
            poll_interval=0.5, retries=1, retry_delay=timedelta(seconds=0), deferrable=True,
        )
        # One after the other: dag.test() runs triggers inline, which would delay the sync retry.
        sync_reattach >> deferred_reattach
        """,
        preamble=PREAMBLE,
    )
    assert result.states() == {"sync_reattach": "success", "deferred_reattach": "success"}
    assert "worker lost while job" in result.output and "worker lost before deferring" in result.output
    if HAS_RESUMABLE_JOB_MIXIN:  # Airflow 3.3+: the mixin reads the job id back from task_state_store
        assert "Reconnecting to existing job" in result.output
    else:  # Airflow 3.1, 3.2: the idempotency key carried in the job title finds the job
        assert "Reattaching to Domino job" in task_output(result.output, "sync_reattach")
    assert "(Running) started by a previous try" in result.output  # deferrable path
    for task_id in ("sync_reattach", "deferred_reattach"):
        job_id = result.xcom(task_id)
        key = key_in_title(emulator.get_job(job_id)["title"])
        same_task = [job for job in emulator.jobs() if key_in_title(job["title"]) == key]
        assert [job["id"] for job in same_task] == [job_id]  # one job for both tries
        assert result.xcom(task_id, "job")["status"] == "Succeeded"
