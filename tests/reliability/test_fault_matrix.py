"""The fault matrix: 30 job-tasks under each kind of trouble a real Domino deployment has.

Each scenario runs the same DAG (15 sync and 15 deferrable mapped ``DominoStartJobOperator`` tasks, a
quarter of their jobs exiting 1) against an emulator of its own with one seeded fault configuration,
using the hook's default retry policy. For every scenario:

* every task ends the way its job deserves: ``success`` for exit 0, ``failed`` for exit 1;
* the emulator holds exactly one Domino job per task instance, the one the task published as XCom
  ``job_id``: no duplicate, no orphan (a job that no task instance published), no task without a job;
* the requests sent stay within ``REQUEST_BOUND`` times the fault-free run's count (measured first, in
  the same session, because the number of status polls depends on how long jobs take on this machine).

Fault rules are seeded, so the n-th request of a scenario always meets the same fault; which task that
request belongs to can still vary a little from run to run, because the number of status polls depends
on timing. The crash scenario counts the requests the emulator logged before each crash plus those after
its last restart (the log lives in memory); requests refused while it was down never reached it.

The figures (requests, injected faults, client retries, duration) are printed in the terminal summary;
they feed the README's "Reliability" section.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from typing import Any

import pytest

from tests.reliability.support import (
    active_jobs,
    point_default_connection,
    wait_until_no_active_jobs,
)

pytestmark = pytest.mark.e2e

#: Requests allowed in a faulted scenario, as a multiple of the fault-free run's count.
REQUEST_BOUND = 2.0
#: Figures of each scenario, reported by ``conftest.pytest_terminal_summary``.
FIGURES: dict[str, dict[str, Any]] = {}


def _commands(kind: str, count: int = 15) -> list[str]:
    """Short jobs (0.1-0.6 s); every fourth one exits 1 (at a different position per kind)."""
    failing = 0 if kind == "sync" else 1
    commands = []
    for index in range(count):
        if index % 4 == failing:
            commands.append(f"echo {kind}-{index} going to fail; exit 1")
        elif index % 3 == 0:
            commands.append(f"python print_lines.py 3 0.2 && echo {kind}-{index}")
        else:
            commands.append(f"python print_lines.py 2 0.05 && echo {kind}-{index}")
    return commands


SYNC_COMMANDS = _commands("sync")
DEFERRED_COMMANDS = _commands("deferred")
EXPECTED = {
    **{("sync", i): ("failed" if "exit 1" in c else "success") for i, c in enumerate(SYNC_COMMANDS)},
    **{("deferred", i): ("failed" if "exit 1" in c else "success") for i, c in enumerate(DEFERRED_COMMANDS)},
}

DAG_BODY = f"""
sync = DominoStartJobOperator.partial(
    task_id="sync", hardware_tier_id="small", poll_interval=0.5, deferrable=False,
).expand(command={SYNC_COMMANDS!r})
deferred = DominoStartJobOperator.partial(
    task_id="deferred", hardware_tier_id="small", poll_interval=0.5, deferrable=True,
    trigger_rule="all_done",
).expand(command={DEFERRED_COMMANDS!r})
sync >> deferred
"""


def _burst_sequence(seed: int, share: float, length: int = 1500) -> list[dict[str, Any] | None]:
    """A request-by-request plan where about ``share`` of requests get 503, in bursts of 2 or 3."""
    rng = random.Random(seed)
    plan: list[dict[str, Any] | None] = []
    while len(plan) < length:
        if rng.random() < share / 2.5:
            plan.extend([{"fault": "status", "status": 503}] * rng.choice((2, 3)))
        else:
            plan.append(None)
    return plan[:length]


SCENARIOS: dict[str, dict[str, Any]] = {
    "fault-free": {"rules": []},
    "429 (20%, Retry-After 0/1)": {
        "seed": 429,
        "rules": [
            {"endpoint": "*", "fault": "status", "status": 429, "retry_after": "1", "probability": 0.02},
            {"endpoint": "*", "fault": "status", "status": 429, "retry_after": "0", "probability": 0.185},
        ],
    },
    "503 bursts (10%)": {"seed": 503, "rules": [{"endpoint": "*", "sequence": _burst_sequence(503, 0.10)}]},
    "drop after processing (5%)": {
        "seed": 5,
        "rules": [
            # The start is always hit once, so the ambiguous start is exercised on every run.
            {"endpoint": "start_job", "fault": "drop", "times": 2},
            {"endpoint": "*", "fault": "drop", "probability": 0.05},
        ],
    },
    "1 s latency spikes (7%)": {
        "seed": 7,
        "rules": [{"endpoint": "*", "fault": "latency", "seconds": 1.0, "probability": 0.07}],
    },
    "emulator crash + restart (x2)": {"rules": []},
}


class _Crasher(threading.Thread):
    """Crash (SIGKILL) and restart the emulator while jobs run: once in the sync phase, once deferred.

    The emulator's request log lives in memory, so it is collected just before each crash.
    """

    def __init__(self, emulator: Any, at_job_counts: tuple[int, ...] = (6, 21), downtime: float = 1.5):
        super().__init__(daemon=True)
        self.emulator = emulator
        self.at_job_counts = at_job_counts
        self.downtime = downtime
        self.collected: list[dict[str, Any]] = []
        self.crashes: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            for threshold in self.at_job_counts:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    jobs = self.emulator.jobs()
                    running = [job["id"] for job in jobs if job["status"] == "Running"]
                    if len(jobs) >= threshold and running:
                        break
                    time.sleep(0.05)
                else:
                    raise TimeoutError(f"never saw {threshold} jobs with one running")
                self.collected += self.emulator.requests_log()
                self.emulator.kill()
                time.sleep(self.downtime)  # the scenario: Domino stays unreachable this long
                self.emulator.restart()
                self.crashes.append({"jobs": len(jobs), "running": running})
        except BaseException as err:  # reported by the test
            self.error = err
        finally:
            self.finished.set()


def _run_scenario(name: str, run_dag: Any, emulator: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    point_default_connection(monkeypatch, emulator)
    emulator.set_faults(SCENARIOS[name])
    emulator.clear_requests()
    crasher = _Crasher(emulator) if "crash" in name else None
    if crasher:
        crasher.start()
    began = time.monotonic()
    dag_id = "fault_matrix_" + "".join(ch if ch.isalnum() else "_" for ch in name.split(" (")[0])
    result = run_dag(dag_id, DAG_BODY)
    duration = time.monotonic() - began
    requests = list(crasher.collected) if crasher else []
    if crasher:
        crasher.finished.wait(30)
        assert crasher.error is None, f"crash thread failed: {crasher.error!r}"
        assert len(crasher.crashes) == 2, crasher.crashes
    requests += emulator.requests_log()
    return {"result": result, "requests": requests, "duration": duration, "crasher": crasher}


def _check_outcome(run: dict[str, Any], emulator: Any) -> None:
    result = run["result"]
    tis = {(ti.task_id, ti.map_index): ti for ti in result.dag_run.get_task_instances()}
    assert set(tis) == set(EXPECTED)
    wrong = {key: (ti.state, EXPECTED[key]) for key, ti in tis.items() if ti.state != EXPECTED[key]}
    assert not wrong, f"tasks in the wrong state (got, deserved): {wrong}"

    # Which job a task instance owns is what it published, not what the provider's own key function says.
    owned = {key: result.xcom(ti.task_id, "job_id", map_index=ti.map_index) for key, ti in tis.items()}
    jobs = {job["id"]: job for job in emulator.jobs()}
    without_job = [key for key, job_id in owned.items() if not job_id]
    shared = {
        job_id: keys
        for job_id in set(owned.values())
        if len(keys := [k for k, j in owned.items() if j == job_id]) > 1
    }
    orphans = sorted(set(jobs) - set(owned.values()))  # a duplicate start is a job no task published
    unknown = sorted(set(owned.values()) - set(jobs) - {None})
    assert not without_job, f"task instances that published no Domino job: {without_job}"
    assert not shared, f"Domino jobs published by more than one task instance: {shared}"
    assert not orphans, f"Domino jobs no task instance owns (duplicates or strays): {orphans}"
    assert not unknown, f"published job ids the emulator never held: {unknown}"
    assert len(jobs) == len(tis)
    for key, job_id in owned.items():
        deserved = "Succeeded" if EXPECTED[key] == "success" else "Failed"
        assert jobs[job_id]["status"] == deserved, (key, jobs[job_id]["status"], job_id)
    assert active_jobs(emulator) == []


def _record(name: str, run: dict[str, Any]) -> dict[str, Any]:
    requests = run["requests"]
    statuses = Counter(str(entry["status"]) for entry in requests)
    figures = {
        "requests": len(requests),
        "faulted": sum(1 for entry in requests if entry["fault"] in ("status", "drop", "drop_before")),
        "latency": sum(1 for entry in requests if entry["fault"] == "latency"),
        "starts": sum(1 for entry in requests if entry["endpoint"] == "start_job"),
        "lookups": sum(1 for entry in requests if entry["endpoint"] == "list_jobs"),
        "statuses": dict(sorted(statuses.items())),
        "duration": round(run["duration"], 1),
        # Starts that may or may not have been processed: the hook looks the key up before resending.
        "ambiguous_starts": sum(
            1
            for entry in requests
            if entry["endpoint"] == "start_job" and entry["status"] in ("dropped", 500, 502, 504)
        ),
        # Client side: the retries the transports logged (refused connections included).
        "retries": run["result"].output.count("; retrying in "),
    }
    if run["crasher"] is not None:
        figures["crashes"] = run["crasher"].crashes
    FIGURES[name] = figures
    return figures


def _baseline(run_dag: Any, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The fault-free figures, measured once per session (on a private emulator of its own)."""
    if "fault-free" not in FIGURES:
        from tests.reliability.support import start_private_emulator

        emulator = start_private_emulator(tmp_path / "baseline")
        try:
            run = _run_scenario("fault-free", run_dag, emulator, monkeypatch)
            _check_outcome(run, emulator)
            _record("fault-free", run)
        finally:
            emulator.close()
    return FIGURES["fault-free"]


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_task_gets_the_outcome_its_job_deserves(name, run_dag, private_emulator, tmp_path, monkeypatch):
    baseline = _baseline(run_dag, tmp_path, monkeypatch)
    if name == "fault-free":
        figures = baseline
    else:
        run = _run_scenario(name, run_dag, private_emulator, monkeypatch)
        try:
            _check_outcome(run, private_emulator)
        finally:
            figures = _record(name, run)
            assert wait_until_no_active_jobs(private_emulator) == []
    bound = REQUEST_BOUND * baseline["requests"]
    assert figures["requests"] <= bound, (
        f"{name}: {figures['requests']} requests, more than {REQUEST_BOUND} x the fault-free "
        f"{baseline['requests']}"
    )
    if name != "fault-free" and "crash" not in name and "latency" not in name:
        assert figures["faulted"] > 0, f"{name}: no fault was injected, the scenario proved nothing"
