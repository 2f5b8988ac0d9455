"""The operator and sensor in real ``dag.test()`` runs against the emulator."""

from __future__ import annotations

import re

import pytest

from airflow_provider_domino._compat import task_state_store_supported, trigger_on_kill_supported
from tests.conftest import API_KEY

pytestmark = pytest.mark.e2e


def _domino_lines(output: str, job_id: str, *, setup: bool = False) -> list[str]:
    """Domino log lines as they appear in the task log, in order (one per occurrence).

    The job's labelled setup output (``[prepareOutput] ...``) is left out unless ``setup``.
    """
    lines = re.findall(rf"\[{re.escape(job_id)}\] ([^\n\"]*?)(?:\s+\[|\"|$)", output, flags=re.MULTILINE)
    return [line for line in lines if setup or not line.startswith("[prepareOutput] ")]


def test_success_paths(run_dag, emulator):
    result = run_dag(
        "e2e_success_paths",
        """
        sync_job = DominoStartJobOperator(
            task_id="sync_job", command="python print_lines.py 4 0.3", hardware_tier_id="small",
            poll_interval=0.5, deferrable=False,
        )
        deferred_job = DominoStartJobOperator(
            task_id="deferred_job", command="python print_lines.py 5 0.8", hardware_tier_id="Small",
            poll_interval=0.5, deferrable=True, tags=["e2e"],
        )
        writer = DominoStartJobOperator(
            task_id="writer", command="python write_output.py from-upstream", hardware_tier_id="small",
            poll_interval=0.5,
        )
        reader = DominoStartJobOperator(
            task_id="reader", command="python read_output.py", hardware_tier_id="small", poll_interval=0.5,
            commit_id="{{ ti.xcom_pull(task_ids='writer', key='job')['outputCommitId'] }}", deferrable=True,
        )
        writer >> reader
        mapped = DominoStartJobOperator.partial(
            task_id="mapped", hardware_tier_id="small", poll_interval=0.5, deferrable=True,
        ).expand(command=["echo mapped-a", "echo mapped-b", "echo mapped-c"])
        background_1 = DominoStartJobOperator(
            task_id="background_1", command="python print_lines.py 6 1", hardware_tier_id="small",
            wait_for_completion=False,
        )
        background_2 = DominoStartJobOperator(
            task_id="background_2", command="python print_lines.py 6 1", hardware_tier_id="small",
            wait_for_completion=False,
        )
        sense_deferred = DominoJobSensor(
            task_id="sense_deferred", job_id=background_1.output,  # its project: background_1's XCom
            deferrable=True, poke_interval=0.5, fetch_logs=True,
        )
        sense_reschedule = DominoJobSensor(
            task_id="sense_reschedule", job_id="{{ ti.xcom_pull(task_ids='background_2', key='job_id') }}",
            project="acme/churn", mode="reschedule", poke_interval=1, fetch_logs=True,
        )
        background_1 >> sense_deferred
        # Last in line, so the reschedule sensor meets its job still running (dag.test runs serially).
        [sync_job, deferred_job, reader, mapped, sense_deferred] >> background_2 >> sense_reschedule
        """,
    )
    assert set(result.states().values()) == {"success"}, result.states()
    assert result.dag_run.state == "success"

    sync_id = result.xcom("sync_job")
    assert sync_id == result.xcom("sync_job", "job_id")
    assert result.xcom("sync_job", "job")["status"] == "Succeeded"
    assert result.xcom("sync_job", "job_url").endswith(f"/jobs/acme/churn/{sync_id}")
    assert result.xcom("sync_job", "job")["number"] >= 1
    assert any(
        line.startswith("[prepareOutput] ") for line in _domino_lines(result.output, sync_id, setup=True)
    )
    assert _domino_lines(result.output, sync_id) == [f"line {n} of 4" for n in range(1, 5)]

    deferred_id = result.xcom("deferred_job")
    assert _domino_lines(result.output, deferred_id) == [f"line {n} of 5" for n in range(1, 6)]
    assert f"Deferring while Domino job {deferred_id} runs" in result.output
    # Before Airflow 3.3 a trigger is not told that a user killed its task: the task log says so.
    unstoppable = f"clearing it while it is deferred, leaves Domino job {deferred_id} running"
    assert (unstoppable in result.output) is not trigger_on_kill_supported()
    # The trigger checkpointed how far it streamed (an XCom), for a rebuilt trigger to resume from.
    checkpoint = result.xcom("deferred_job", "domino_log_cursor")
    assert checkpoint["mode"] == "json" and "stdOut" in checkpoint["streams"]
    assert [tag["name"] for tag in emulator.get_job(deferred_id)["tags"]] == ["e2e"]

    writer_job = result.xcom("writer", "job")
    reader_job = result.xcom("reader", "job")
    assert reader_job["commitId"] == writer_job["outputCommitId"]
    assert "output.txt says: from-upstream" in result.output

    mapped_ids = [result.xcom("mapped", map_index=i) for i in range(3)]
    assert len(set(mapped_ids)) == 3
    for index, letter in enumerate("abc"):
        assert _domino_lines(result.output, mapped_ids[index]) == [f"mapped-{letter}"]
        assert f"mapped [{index}]" in emulator.get_job(mapped_ids[index])["title"]

    for sensor, starter in (("sense_deferred", "background_1"), ("sense_reschedule", "background_2")):
        watched = result.xcom(starter)
        assert result.xcom(sensor)["id"] == watched
        assert result.xcom(sensor)["status"] == "Succeeded"
        # Each sensor knew the job's project (upstream XCom, or project="acme/churn"): the link opens
        # the job's page, and the deferred one could share its project's status polling.
        assert result.xcom(starter, "project_id") == result.xcom(sensor)["projectId"]
        assert result.xcom(sensor, "job_url").endswith(f"/jobs/acme/churn/{watched}")
        # Streamed while the job ran (trigger / successive pokes), each line exactly once. Before
        # Airflow 3.3 there is no task_state_store to carry the offset from one poke to the next, so a
        # rescheduled sensor shows the lines seen so far again: each line at least once, in order.
        lines = _domino_lines(result.output, watched)
        if sensor == "sense_reschedule" and not task_state_store_supported():
            lines = list(dict.fromkeys(lines))
        assert lines == [f"line {n} of 6" for n in range(1, 7)]
    assert (
        f"Domino job {result.xcom('background_2')} is Running" in result.output
    )  # rescheduled at least once
    assert API_KEY not in result.output


def test_failure_paths(run_dag, emulator):
    result = run_dag(
        "e2e_failure_paths",
        """
        failing_sync = DominoStartJobOperator(
            task_id="failing_sync", command="echo preparing; echo 'boom: bad input' >&2; exit 3",
            hardware_tier_id="small", poll_interval=0.5,
        )
        failing_deferred = DominoStartJobOperator(
            task_id="failing_deferred", command="sleep 2; echo step-1; echo 'deferred boom'; exit 4",
            hardware_tier_id="small", poll_interval=0.5, deferrable=True,
        )
        slow_sync = DominoStartJobOperator(
            task_id="slow_sync", command="echo started; sleep 120", hardware_tier_id="small",
            poll_interval=0.5, timeout=3,
        )
        slow_deferred = DominoStartJobOperator(
            task_id="slow_deferred", command="echo started; sleep 120", hardware_tier_id="small",
            poll_interval=0.5, timeout=3, deferrable=True,
        )
        sense_failed = DominoJobSensor(
            task_id="sense_failed", job_id="{{ ti.xcom_pull(task_ids='failing_sync', key='job_id') }}",
            deferrable=True, poke_interval=0.5, trigger_rule="all_done",
        )
        sense_failed_soft = DominoJobSensor(
            task_id="sense_failed_soft", job_id="{{ ti.xcom_pull(task_ids='failing_sync', key='job_id') }}",
            poke_interval=0.5, soft_fail=True, trigger_rule="all_done",
        )
        failing_sync >> [sense_failed, sense_failed_soft]
        """,
    )
    states = result.states()
    assert states["failing_sync"] == states["failing_deferred"] == "failed", states
    assert states["slow_sync"] == states["slow_deferred"] == "failed", states
    assert states["sense_failed"] == "failed" and states["sense_failed_soft"] == "skipped", states

    failed_id = result.xcom("failing_sync", "job_id")
    assert f"Domino job {failed_id} ended Failed" in result.output
    assert "boom: bad input" in result.output.split(f"Domino job {failed_id} ended Failed", 1)[1]
    deferred_failed = result.xcom("failing_deferred", "job_id")
    assert "deferred boom" in result.output.split(f"Domino job {deferred_failed} ended Failed", 1)[1]

    for task_id in ("slow_sync", "slow_deferred"):
        job_id = result.xcom(task_id, "job_id")
        assert emulator.wait_for_status(job_id, ["Stopped"], timeout=15)["status"] == "Stopped"
        assert f"Domino job {job_id} did not finish" in result.output
