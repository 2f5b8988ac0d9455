"""Jobs really run: status transitions, concurrency, stop, commits, env (logs: ``test_logs``)."""

from __future__ import annotations

import re
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tests.emulator.helpers import (
    MAX_CONCURRENT_PER_TIER,
    job_group,
    job_log,
    log_page,
    start_job,
    stop_body,
    wait_until_dead,
)
from tests.waiting import Gate, wait_until

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

#: Seconds between SIGTERM and SIGKILL when a job is stopped: the grace the emulator documents (as Domino).
STOP_GRACE = 3.0


def test_job_goes_pending_running_succeeded(
    emulator: EmulatorProcess, project_id: str, tmp_path: Path
) -> None:
    gate = Gate(tmp_path / "finish")  # the job runs until the test has seen it running
    job = start_job(emulator, project_id, f"echo started; {gate.wait}; echo finished", title="happy path")
    assert job["status"]["executionStatus"] == "Queued" and job["status"]["isCompleted"] is False
    assert re.fullmatch(r"[0-9a-f]{24}", job["id"])
    assert set(job["stageTimes"]) == {"submissionTime"} and job["stageTimes"]["submissionTime"].endswith("Z")
    assert "outputCommitId" not in job["commitDetails"]
    assert job["title"] == "happy path"

    running = emulator.wait_for_status(job["id"], "Running", timeout=5)
    assert running["startedAt"].endswith("Z") and running["endedAt"] is None
    published = emulator.api_job(job["id"])["job"]
    assert published["status"]["executionStatus"] == "Running"
    assert published["stageTimes"]["startTime"] == running["startedAt"]

    gate.open()
    done = emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
    assert done["exitCode"] == 0
    assert done["endedAt"] >= done["startedAt"]
    assert len(done["outputCommitId"]) == 40
    assert job_log(emulator, job["id"]) == "started\nfinished\n"
    finished = emulator.api_job(job["id"])["job"]
    assert finished["status"] == {
        "executionStatus": "Succeeded",
        "isCompleted": True,
        "isArchived": False,
        "isScheduled": False,
    }
    assert finished["stageTimes"] == {
        "submissionTime": done["submittedAt"],
        "startTime": done["startedAt"],
        "completedTime": done["endedAt"],
    }
    assert finished["commitDetails"] == {
        "inputCommitId": done["commitId"],
        "outputCommitId": done["outputCommitId"],
    }


def test_nonzero_exit_code_fails_the_job(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "echo oops >&2; exit 7")
    done = emulator.wait_for_status(job["id"], ["Succeeded", "Failed"], timeout=10)
    assert done["status"] == "Failed"
    assert done["exitCode"] == 7
    assert "oops" in job_log(emulator, job["id"])


def test_job_environment(emulator: EmulatorProcess, project_id: str) -> None:
    command = (
        'echo "run=$DOMINO_RUN_ID owner=$DOMINO_PROJECT_OWNER name=$DOMINO_PROJECT_NAME '
        'tier=$DOMINO_HARDWARE_TIER_ID unbuffered=$PYTHONUNBUFFERED key=${DOMINO_EMULATOR_API_KEY:-unset}"; '
        'test "$DOMINO_WORKING_DIR" = "$(pwd)" && ls'
    )
    job = start_job(emulator, project_id, command, hardwareTier="medium-k8s")
    assert emulator.get_job(job["id"])["hardwareTierId"] == "medium-k8s"
    emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
    log = job_log(emulator, job["id"])
    assert f"run={job['id']} owner=acme name=churn tier=medium-k8s unbuffered=1 key=unset" in log
    assert "train.py" in log and "data.csv" in log
    assert emulator.api_key not in log


def test_concurrency_limit_keeps_extra_jobs_pending(emulator: EmulatorProcess, project_id: str) -> None:
    running = [
        start_job(emulator, project_id, "sleep 30", hardwareTier="medium-k8s")
        for _ in range(MAX_CONCURRENT_PER_TIER)
    ]
    queued = start_job(emulator, project_id, "echo queued-ran", hardwareTier="medium-k8s")
    other_tier = start_job(emulator, project_id, "sleep 30", hardwareTier="large-k8s")
    for job in running:
        emulator.wait_for_status(job["id"], "Running", timeout=5)
    emulator.wait_for_status(other_tier["id"], "Running", timeout=5)
    # No sleep needed: other_tier was submitted after queued and already runs, so the scheduler has passed
    # over queued; a slot given to it would show in the tier's count of executing runs below.
    assert emulator.get_job(queued["id"])["status"] == "Pending"
    assert emulator.api_job(queued["id"])["job"]["status"]["executionStatus"] == "Queued"
    pending_log = log_page(emulator, queued["id"], logType="complete")
    assert pending_log["logs"] == {"logContent": [], "isComplete": False}
    tiers = emulator.api("GET", f"/v4/projects/{project_id}/hardwareTiers").json()
    medium = next(item for item in tiers if item["hardwareTier"]["id"] == "medium-k8s")
    assert medium["capacity"]["numberOfCurrentlyExecutingRuns"] == MAX_CONCURRENT_PER_TIER
    assert medium["capacity"]["numberOfQueuedRuns"] == 1 and medium["capacity"]["capacityLevel"] == "FULL"

    # Stopping a queued job finishes it without ever running it.
    never_runs = start_job(emulator, project_id, "echo must-not-run", hardwareTier="medium-k8s")
    response = emulator.api("POST", "/v4/jobs/stop", json=stop_body(project_id, never_runs["id"], False))
    assert response.status_code == 200
    stopped = response.json()
    assert (
        stopped["statuses"]["executionStatus"] == "Stopped" and stopped["stageTime"]["runStartTime"] is None
    )
    assert stopped["id"] == never_runs["id"] and stopped["projectId"] == project_id
    assert "must-not-run" not in job_log(emulator, never_runs["id"])

    # Freeing a slot lets the oldest queued job (FIFO) start.
    emulator.api("POST", "/v4/jobs/stop", json=stop_body(project_id, running[0]["id"]))
    done = emulator.wait_for_status(queued["id"], "Succeeded", timeout=10)
    assert done["exitCode"] == 0
    assert job_log(emulator, queued["id"]) == "queued-ran\n"


def test_stop_kills_the_whole_process_group(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "sleep 300 & sleep 300")
    emulator.wait_for_status(job["id"], "Running", timeout=5)
    leader = next(entry["pid"] for entry in emulator.jobs() if entry["id"] == job["id"])
    members = job_group(leader, at_least=3)  # wrapper, inner shell or sleeps

    body = stop_body(project_id, job["id"])
    response = emulator.api("POST", "/v4/jobs/stop", json=body)
    assert response.status_code == 200
    stopped = response.json()
    assert stopped["statuses"] == {
        "executionStatus": "Stopped",
        "isCompleted": True,
        "isArchived": False,
        "isScheduled": False,
    }
    assert stopped["stageTime"]["completedTime"] is not None
    assert stopped["commitDetails"]["outputCommitId"] is not None
    assert wait_until_dead(members) == []
    assert job_log(emulator, job["id"]).endswith("Job stopped by user request\n")

    # Idempotent: stopping a terminal job changes nothing.
    again = emulator.api("POST", "/v4/jobs/stop", json=body)
    assert again.status_code == 200
    assert again.json() == stopped


def test_stop_validation(emulator: EmulatorProcess, project_id: str) -> None:
    unknown = "0123456789abcdef01234567"
    missing = emulator.api("POST", "/v4/jobs/stop", json=stop_body(project_id, unknown))
    assert missing.status_code == 404
    assert missing.json() == {"message": f"Job '{unknown}' not found"}  # the v4 spec's error shape
    job = start_job(emulator, project_id, "true")
    wrong = emulator.api("POST", "/v4/jobs/stop", json=stop_body("other-project", job["id"]))
    assert wrong.status_code == 400
    assert "other-project" in wrong.json()["message"]
    no_commit_flag = emulator.api("POST", "/v4/jobs/stop", json={"jobId": job["id"]})
    assert no_commit_flag.status_code == 400 and "commitResults" in no_commit_flag.json()["message"]
    without_project = emulator.api("POST", "/v4/jobs/stop", json={"jobId": job["id"], "commitResults": True})
    assert without_project.status_code == 200
    v4 = emulator.api("GET", f"/v4/jobs/{job['id']}")
    assert v4.status_code == 200 and v4.json() == without_project.json()


def test_output_commit_carries_files_into_a_later_job(emulator: EmulatorProcess, project_id: str) -> None:
    first = start_job(emulator, project_id, "python train.py --epochs 3")
    first_done = emulator.wait_for_status(first["id"], ["Succeeded", "Failed"], timeout=15)
    assert first_done["status"] == "Succeeded", job_log(emulator, first["id"])
    output = first_done["outputCommitId"]
    assert output != first_done["commitId"]
    head = next(project["headCommitId"] for project in emulator.projects() if project["id"] == project_id)
    assert head == output

    second = start_job(emulator, project_id, "cat model.txt", commitId=output)
    assert second["commitDetails"]["inputCommitId"] == output
    emulator.wait_for_status(second["id"], "Succeeded", timeout=10)
    assert job_log(emulator, second["id"]) == "trained with --epochs 3\n"

    # The input commit of the first job does not contain its results.
    third = start_job(
        emulator,
        project_id,
        "test ! -e model.txt && test -e train.py",
        commitId=first["commitDetails"]["inputCommitId"],
    )
    assert emulator.wait_for_status(third["id"], ["Succeeded", "Failed"], timeout=10)["status"] == "Succeeded"


def test_unknown_commit_is_rejected(emulator: EmulatorProcess, project_id: str) -> None:
    for commit in ("0" * 40, "../../../../etc", "abc123"):
        response = emulator.api(
            "POST",
            "/api/jobs/v1/jobs",
            json={"projectId": project_id, "runCommand": "true", "commitId": commit},
        )
        assert response.status_code == 400
        assert response.json() == {"error": f"Unknown commitId '{commit}' for project {project_id}"}


def _says(emulator: EmulatorProcess, job_id: str, text: str) -> bool:
    return text in job_log(emulator, job_id)


def test_stop_gives_the_group_a_grace_period_then_kills(emulator: EmulatorProcess, project_id: str) -> None:
    cleanup = (
        'python3 -c "import signal, sys, time\n'
        "def bye(*_):\n    print('cleaning up', flush=True); time.sleep(0.3); print('cleaned', flush=True); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye); print('ready', flush=True); time.sleep(60)\""
    )
    graceful = start_job(emulator, project_id, cleanup)
    stubborn = start_job(emulator, project_id, "trap '' TERM; echo ready; sleep 300")
    for job in (graceful, stubborn):
        wait_until(partial(_says, emulator, job["id"], "ready"), 10, f"job {job['id']} ready")
    stubborn_pid = next(entry["pid"] for entry in emulator.jobs() if entry["id"] == stubborn["id"])
    stubborn_members = job_group(stubborn_pid, at_least=3)  # wrapper, inner shell, sleep

    stopped = emulator.api("POST", "/v4/jobs/stop", json=stop_body(project_id, graceful["id"])).json()
    assert stopped["statuses"]["executionStatus"] == "Stopped"
    assert job_log(emulator, graceful["id"]).endswith("cleaned\nJob stopped by user request\n")

    began = time.monotonic()
    stopped = emulator.api("POST", "/v4/jobs/stop", json=stop_body(project_id, stubborn["id"])).json()
    took = time.monotonic() - began
    assert stopped["statuses"]["executionStatus"] == "Stopped"
    # A group ignoring SIGTERM gets the whole grace period, then SIGKILL; the margin covers the kill, the
    # output commit and the answer on a loaded 2-core machine.
    assert STOP_GRACE <= took < STOP_GRACE + 1.0, took
    assert wait_until_dead(stubborn_members) == []
