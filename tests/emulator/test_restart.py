"""State survives restarts and crashes; graceful shutdown leaves no job processes behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from domino_emulator.harness import EmulatorProcess
from domino_emulator.processes import is_alive

from tests.emulator.helpers import job_group, job_log, log_page, make_projects_dir, start_job, wait_until_dead
from tests.waiting import Gate


def _pid(emulator: EmulatorProcess, job_id: str) -> int:
    return int(next(job["pid"] for job in emulator.jobs() if job["id"] == job_id))


def test_crash_and_restart_keep_every_job(tmp_path: Path) -> None:
    projects = make_projects_dir(tmp_path / "projects")
    with EmulatorProcess(
        projects_dir=projects,
        state_file=tmp_path / "state.sqlite",
        extra_args=["--max-concurrent-per-tier", "3"],
    ) as emulator:
        project_id = emulator.project_id("acme", "churn")
        finished = start_job(emulator, project_id, "echo early")
        emulator.wait_for_status(finished["id"], "Succeeded", timeout=10)
        tag = emulator.api(
            "POST",
            f"/api/jobs/v1/jobs/{finished['id']}/tags",
            json={"tagName": "kept", "projectId": project_id},
        ).json()["tag"]
        entries_before = log_page(emulator, finished["id"], logType="complete")

        # Gates, not sleeps, decide which job ends while the emulator is down and which outlives it.
        while_down, after_restart = Gate(tmp_path / "while-down"), Gate(tmp_path / "after-restart")
        ends_while_down = start_job(emulator, project_id, f"echo a1-begin; {while_down.wait}; echo a1-end")
        outlives_emulator = start_job(
            emulator, project_id, f"echo a2-begin; {after_restart.wait}; echo a2-end; exit 4"
        )
        lost = start_job(emulator, project_id, "sleep 300")
        queued = start_job(emulator, project_id, "echo queued")
        for job in (ends_while_down, outlives_emulator, lost):
            emulator.wait_for_status(job["id"], "Running", timeout=5)
        assert emulator.get_job(queued["id"])["status"] == "Pending"
        lost_pid = _pid(emulator, lost["id"])
        ends_while_down_pid = _pid(emulator, ends_while_down["id"])
        url = emulator.url

        emulator.kill()  # SIGKILL: jobs live on in their own sessions
        os.killpg(lost_pid, signal.SIGKILL)  # ...except this one, killed while nobody watches
        assert wait_until_dead([lost_pid]) == []
        while_down.open()
        assert wait_until_dead([ends_while_down_pid]) == []  # it ended, exit code written, nobody watching

        emulator.restart()
        assert emulator.url == url
        assert emulator.get_job(outlives_emulator["id"])["status"] == "Running"  # adopted, still running
        after_restart.open()
        assert emulator.api_job(finished["id"])["job"]["tags"] == [tag]
        assert log_page(emulator, finished["id"], logType="complete")["logs"] == entries_before["logs"]

        done = emulator.wait_for_status(ends_while_down["id"], ["Succeeded", "Failed"], timeout=10)
        assert (done["status"], done["exitCode"]) == ("Succeeded", 0)
        assert job_log(emulator, ends_while_down["id"]) == "a1-begin\na1-end\n"

        adopted = emulator.wait_for_status(outlives_emulator["id"], ["Succeeded", "Failed"], timeout=10)
        assert (adopted["status"], adopted["exitCode"]) == ("Failed", 4)
        assert job_log(emulator, outlives_emulator["id"]) == "a2-begin\na2-end\n"

        failed = emulator.wait_for_status(lost["id"], ["Failed"], timeout=10)
        assert failed["endedAt"] is not None
        assert job_log(emulator, lost["id"]).endswith("Job process was lost when the emulator restarted\n")

        assert emulator.wait_for_status(queued["id"], "Succeeded", timeout=10)["exitCode"] == 0


def test_graceful_shutdown_fails_and_kills_running_jobs(tmp_path: Path) -> None:
    with EmulatorProcess(state_file=tmp_path / "state.sqlite") as emulator:
        project_id = emulator.project_id("demo", "quickstart")
        job = start_job(emulator, project_id, "sleep 300 & sleep 300")
        emulator.wait_for_status(job["id"], "Running", timeout=5)
        leader = _pid(emulator, job["id"])
        members = job_group(leader, at_least=3)  # wrapper, inner shell, sleeps

        emulator.stop()
        assert not is_alive(leader, None)
        assert wait_until_dead(members) == []

        emulator.restart()
        stopped = emulator.get_job(job["id"])
        assert stopped["status"] == "Failed" and stopped["endedAt"] is not None
        assert "the Domino emulator shut down" in job_log(emulator, job["id"]).splitlines()[-1]
