"""Small helpers shared by the emulator tests."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domino_emulator.processes import is_alive, live_group_members

from tests.waiting import wait_until

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess


#: Concurrency limit of the shared emulator: small enough to test queueing cheaply.
MAX_CONCURRENT_PER_TIER = 2

TRAIN_SCRIPT = """\
import pathlib
import sys

pathlib.Path("model.txt").write_text("trained with " + " ".join(sys.argv[1:]) + "\\n")
print("training done", flush=True)
"""


def make_projects_dir(root: Path) -> Path:
    """A projects directory with ``acme/churn`` (a script and a data file) and an empty ``acme/reports``."""
    churn = root / "acme" / "churn"
    churn.mkdir(parents=True)
    (churn / "train.py").write_text(TRAIN_SCRIPT)
    (churn / "data.csv").write_text("id,churned\n1,0\n2,1\n")
    (root / "acme" / "reports").mkdir()
    return root


def start_job(emulator: EmulatorProcess, project_id: str, command: str, **fields: Any) -> dict[str, Any]:
    """Start a job with a ``NewJobV1`` body and return the published ``job`` (asserting a 200)."""
    body = {"projectId": project_id, "runCommand": command, "hardwareTier": "small-k8s", **fields}
    response = emulator.api("POST", "/api/jobs/v1/jobs", json=body)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()["job"]
    return job


def job_log(emulator: EmulatorProcess, job_id: str) -> str:
    """A job's stdout and stderr as text (the emulator's admin view, any shapes)."""
    return emulator.job_log_text(job_id)


def log_page(emulator: EmulatorProcess, job_id: str, **params: Any) -> dict[str, Any]:
    """One published logs answer (asserting a 200)."""
    response = emulator.api("GET", f"/api/jobs/beta/jobs/{job_id}/logs", params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stop_body(project_id: str, job_id: str, commit_results: bool = True) -> dict[str, Any]:
    """A ``POST /v4/jobs/stop`` body."""
    return {"projectId": project_id, "jobId": job_id, "commitResults": commit_results}


def wait_until_dead(pids: list[int], timeout: float = 5.0) -> list[int]:
    """Wait for processes to exit (zombies count as exited); returns those still alive."""
    deadline = time.monotonic() + timeout
    alive = [pid for pid in pids if is_alive(pid, None)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [pid for pid in alive if is_alive(pid, None)]
    return alive


def job_group(leader: int, at_least: int, timeout: float = 5.0) -> list[int]:
    """The live members of a job's process group once it has ``at_least`` of them (fails otherwise)."""

    def members() -> list[int]:
        found = live_group_members(leader)
        return found if len(found) >= at_least else []

    return wait_until(members, timeout, f"{at_least} live processes in the group of {leader}")
