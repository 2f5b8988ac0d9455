"""Which job a try owns, where Airflow decides the try: real ``dag.test()`` runs with retries.

The unit tier (``tests/jobs/test_ownership.py``) pins every rule; these runs check that what Airflow hands a
retry (``try_number``, ``max_tries``, ``task_state_store``) leads to the same decisions end to end.
"""

from __future__ import annotations

import pytest

from airflow_provider_domino.jobs.idempotency import key_in_title

pytestmark = pytest.mark.e2e

PREAMBLE = '''
class LosesWorkerOnFirstTry(DominoStartJobOperator):
    """Simulates a worker dying after the job started: the first try fails while the job runs."""

    def _watch_on_worker(self, job, context):
        if context["ti"].try_number == 1:
            raise RuntimeError(f"worker lost while job {job.id} ran (simulated)")
        return super()._watch_on_worker(job, context)

    def defer(self, **kwargs):
        if kwargs["trigger"].job_id and self._first_try:
            raise RuntimeError("worker lost before deferring (simulated)")
        return super().defer(**kwargs)

    def execute(self, context):
        self._first_try = context["ti"].try_number == 1
        return super().execute(context)
'''


def _jobs_of(emulator, dag_id: str, task_id: str) -> list[dict]:
    """The task's jobs, oldest first, found by the default title ("Airflow dag.task run ...")."""
    return [job for job in emulator.jobs() if f"{dag_id}.{task_id} " in (job["title"] or "")]


def test_retry_after_a_lost_worker_reattaches_to_the_running_job(run_dag, emulator):
    result = run_dag(
        "e2e_reattach",
        """
        # Jobs long enough to still run when the retry starts: a retry's start-up in dag.test() took
        # over 3 s on a loaded machine (Airflow 3.2), and a finished job is reported "(Succeeded)".
        sync_reattach = LosesWorkerOnFirstTry(
            task_id="sync_reattach", command="python print_lines.py 10 1", hardware_tier_id="small",
            poll_interval=0.5, retries=1, retry_delay=timedelta(seconds=0),
        )
        deferred_reattach = LosesWorkerOnFirstTry(
            task_id="deferred_reattach", command="python print_lines.py 10 1", hardware_tier_id="small",
            poll_interval=0.5, retries=1, retry_delay=timedelta(seconds=0), deferrable=True,
        )
        # One after the other: dag.test() runs triggers inline, which would delay the sync retry.
        sync_reattach >> deferred_reattach
        """,
        preamble=PREAMBLE,
    )
    assert result.states() == {"sync_reattach": "success", "deferred_reattach": "success"}
    assert "worker lost while job" in result.output and "worker lost before deferring" in result.output
    # Every supported Airflow: task_state_store (3.3+) or, without it, the keys of the earlier tries.
    assert result.output.count("(Running) was started by a previous try; reattaching") == 2
    for task_id in ("sync_reattach", "deferred_reattach"):
        job_id = result.xcom(task_id)
        key = key_in_title(emulator.get_job(job_id)["title"])
        same_try = [job for job in emulator.jobs() if key_in_title(job["title"]) == key]
        assert [job["id"] for job in same_try] == [job_id]  # one job for both tries
        assert [job["id"] for job in _jobs_of(emulator, "e2e_reattach", task_id)] == [job_id]
        assert result.xcom(task_id, "job")["status"] == "Succeeded"


def test_retry_after_the_job_failed_starts_a_new_job(run_dag, emulator, tmp_path):
    marker = tmp_path / "failed-once"
    result = run_dag(
        "e2e_retry_after_failure",
        f"""
        DominoStartJobOperator(
            task_id="flaky", hardware_tier_id="small", poll_interval=0.5, retries=1,
            retry_delay=timedelta(seconds=0),
            command="test -f {marker} || (touch {marker}; echo first run fails; exit 3)",
        )
        """,
    )
    assert result.states() == {"flaky": "success"}
    jobs = _jobs_of(emulator, "e2e_retry_after_failure", "flaky")
    assert [job["status"] for job in jobs] == ["Failed", "Succeeded"], jobs
    assert key_in_title(jobs[0]["title"]) != key_in_title(jobs[1]["title"])  # one key per try
    assert "(Failed) of a previous try ended; starting a new one" in result.output
    assert result.xcom("flaky") == jobs[1]["id"]


def test_sensor_waits_for_a_job_id_from_an_upstream_task_output(run_dag, emulator):
    result = run_dag(
        "e2e_start_then_sense",
        """
        start = DominoStartJobOperator(
            task_id="start", command="python print_lines.py 3 0.3", hardware_tier_id="small",
            wait_for_completion=False,
        )
        sense = DominoJobSensor(
            task_id="sense", job_id=start.output, deferrable=True, poke_interval=0.5, fetch_logs=True,
        )
        start >> sense
        """,
    )
    assert result.states() == {"start": "success", "sense": "success"}
    job_id = result.xcom("start")
    assert result.xcom("sense")["id"] == job_id and result.xcom("sense")["status"] == "Succeeded"


def test_deferred_task_succeeds_when_its_log_endpoint_answers_403_throughout(run_dag, emulator):
    emulator.set_faults({"rules": [{"endpoint": "get_job_logs", "fault": "status", "status": 403}]})
    result = run_dag(
        "e2e_logs_forbidden",
        """
        DominoStartJobOperator(
            task_id="no_logs", command="python print_lines.py 4 0.3", hardware_tier_id="small",
            poll_interval=0.5, deferrable=True,
        )
        """,
    )
    assert result.states() == {"no_logs": "success"}
    assert "Could not fetch the log of Domino job" in result.output
    assert result.xcom("no_logs", "job")["status"] == "Succeeded"
