"""Published logs: log types, setup output, the inclusive ``latestTimeNano`` cursor, shared timestamps, caps."""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.emulator.helpers import job_log, log_page, start_job
from tests.waiting import Gate, wait_until

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
#: 2,500 numbered lines written in bursts of 500, like tests/fixtures/.../print_numbered_lines.py.
BURSTS = (
    'python3 -c "import sys, time\n'
    "for first in range(1, 2501, 500):\n"
    "    sys.stdout.write(''.join(f'numbered line {n:04d}\\n' for n in range(first, first + 500)))\n"
    '    sys.stdout.flush(); time.sleep(0.05)"'
)


def _ns(entry: dict[str, Any]) -> int:
    moment = datetime.strptime(entry["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return round(moment.timestamp() * 1000) * 1_000_000


def _finished(emulator: EmulatorProcess, job_id: str) -> None:
    emulator.wait_for_status(job_id, ["Succeeded", "Failed", "Stopped", "Error"], timeout=30)


def read_every_line(
    emulator: EmulatorProcess, job_id: str, log_type: str, **params: Any
) -> tuple[list[str], int]:
    """Page a finished job's log the way a client must: the cursor is inclusive, so skip what was seen."""
    lines: list[str] = []
    cursor, seen_at_cursor, pages = 0, 0, 0
    while True:
        answer = log_page(emulator, job_id, logType=log_type, latestTimeNano=str(cursor), **params)
        pages += 1
        entries = answer["logs"]["logContent"]
        times = [_ns(entry) for entry in entries]
        assert times == sorted(times) and all(moment >= cursor for moment in times)
        assert all(moment == cursor for moment in times[:seen_at_cursor])  # what came again is at the cursor
        lines += [entry["log"] for entry in entries[seen_at_cursor:]]
        if answer["logs"]["isComplete"]:
            return lines, pages
        assert entries, "an incomplete page must move forward"
        assert answer["metadata"]["pagination"]["latestTimeNano"] == str(times[-1])
        cursor = times[-1]
        seen_at_cursor = times.count(cursor)  # a page may be all at the old cursor: then all were seen
        assert pages < 100


def test_log_types_setup_output_and_entry_shape(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "echo out-1; echo err-1 >&2; echo out-2; printf 'no newline'")
    _finished(emulator, job["id"])

    setup = log_page(emulator, job["id"])  # without logType a server may send setup output only
    assert {entry["logType"] for entry in setup["logs"]["logContent"]} == {"prepareOutput"}
    setup_lines = [entry["log"] for entry in setup["logs"]["logContent"]]
    assert setup_lines[0] == f"Preparing job #{job['number']} on hardware tier Small (small-k8s)"
    assert setup_lines[-1] == "Starting the run command" and len(setup_lines) == 5

    stdout = log_page(emulator, job["id"], logType="stdOut")
    assert [entry["log"] for entry in stdout["logs"]["logContent"]] == ["out-1", "out-2", "no newline"]
    assert stdout["logs"]["isComplete"] is True
    first = stdout["logs"]["logContent"][0]
    assert set(first) == {"log", "logType", "size", "timestamp"}
    assert first["logType"] == "stdOut" and first["size"] == 5 and TIMESTAMP.match(first["timestamp"])
    pagination = stdout["metadata"]["pagination"]
    assert pagination == {"latestTimeNano": str(_ns(stdout["logs"]["logContent"][-1])), "limit": 1000}
    assert {"requestId", "notices"} <= set(stdout["metadata"])

    stderr = log_page(emulator, job["id"], logType="STDERR")  # the spec says case-insensitive
    assert [entry["log"] for entry in stderr["logs"]["logContent"]] == ["err-1"]
    complete = log_page(emulator, job["id"], logType="complete")["logs"]["logContent"]
    assert {entry["logType"] for entry in complete} == {"prepareOutput", "stdOut", "stdErr"}
    assert len(complete) == 5 + 3 + 1
    assert [_ns(entry) for entry in complete] == sorted(_ns(entry) for entry in complete)


def test_paging_through_shared_timestamps_shows_every_line_once(
    emulator: EmulatorProcess, project_id: str
) -> None:
    job = start_job(emulator, project_id, BURSTS)
    _finished(emulator, job["id"])
    first_page = log_page(emulator, job["id"], logType="stdOut", limit=10_000)
    assert len(first_page["logs"]["logContent"]) == 1000  # the cap, whatever limit asks
    assert first_page["metadata"]["pagination"]["limit"] == 1000
    assert first_page["logs"]["isComplete"] is False

    lines, pages = read_every_line(emulator, job["id"], "stdOut", limit=10_000)
    assert lines == [f"numbered line {n:04d}" for n in range(1, 2501)]
    assert pages >= 3

    everything = read_every_line(emulator, job["id"], "stdOut", limit=777)[0]
    assert everything == lines
    per_timestamp = [
        len(list(group))
        for _, group in itertools.groupby(
            _ns(entry) for entry in log_page(emulator, job["id"], logType="stdOut")["logs"]["logContent"]
        )
    ]
    assert max(per_timestamp) > 1, "a burst must share timestamps"
    assert max(per_timestamp) <= 100, "no more than 100 entries may share one timestamp"


def test_the_cursor_is_inclusive(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, BURSTS)
    _finished(emulator, job["id"])
    entries = log_page(emulator, job["id"], logType="stdOut")["logs"]["logContent"]
    times = [_ns(entry) for entry in entries]
    shared = next(moment for moment, group in itertools.groupby(times) if len(list(group)) > 1)
    first_at = times.index(shared)

    again = log_page(emulator, job["id"], logType="stdOut", latestTimeNano=str(shared))["logs"]["logContent"]
    assert again[: len(entries) - first_at] == entries[first_at : first_at + len(again)]
    assert _ns(again[0]) == shared
    after = log_page(emulator, job["id"], logType="stdOut", latestTimeNano=str(shared + 1))["logs"][
        "logContent"
    ]
    assert all(_ns(entry) > shared for entry in after)
    assert after[0] == entries[first_at + times.count(shared)]


def test_page_cap_and_bad_parameters(emulator: EmulatorProcess, project_id: str) -> None:
    emulator.set_log_page_cap(50)
    try:
        job = start_job(emulator, project_id, "seq 1 120")
        _finished(emulator, job["id"])
        assert len(log_page(emulator, job["id"], logType="stdOut", limit=7)["logs"]["logContent"]) == 7
        capped = log_page(emulator, job["id"], logType="stdOut", limit=10_000)
        assert len(capped["logs"]["logContent"]) == 50
        assert capped["metadata"]["pagination"]["limit"] == 50
        times = [_ns(entry) for entry in capped["logs"]["logContent"]]
        assert max(len(list(group)) for _, group in itertools.groupby(times)) <= 25  # half a page
        lines, _ = read_every_line(emulator, job["id"], "stdOut")
        assert lines == [str(n) for n in range(1, 121)]
    finally:
        emulator.set_log_page_cap(1000)
    path = f"/api/jobs/beta/jobs/{job['id']}/logs"
    for params in (
        {"logType": "stdOut", "limit": 0},
        {"logType": "stdOut", "limit": 10_001},
        {"logType": "stdOut", "limit": "ten"},
        {"logType": "stdOut", "latestTimeNano": "-1"},
        {"logType": "stdOut", "latestTimeNano": "2026-01-01T00:00:00Z"},
        {"logType": "everything"},
    ):
        response = emulator.api("GET", path, params=params)
        assert response.status_code == 400, params
        assert set(response.json()) == {"error"}


def test_entries_grow_while_running_and_never_change(
    emulator: EmulatorProcess, project_id: str, tmp_path: Path
) -> None:
    gates = [Gate(tmp_path / f"after-line-{number}") for number in range(1, 6)]
    command = "; ".join(f"echo line-{number}; {gate.wait}" for number, gate in enumerate(gates, 1))
    job = start_job(emulator, project_id, f"{command}; echo line-6")
    snapshots = []

    def served(count: int) -> dict[str, Any] | None:
        answer = log_page(emulator, job["id"], logType="stdOut")
        return answer if len(answer["logs"]["logContent"]) >= count else None

    for shown, gate in enumerate(gates, 1):  # the job waits after each line until the test has read it
        answer = wait_until(partial(served, shown), 10, f"line-{shown} served")
        assert emulator.get_job(job["id"])["status"] == "Running"
        snapshots.append((answer["logs"]["logContent"], answer["logs"]["isComplete"]))
        gate.open()
    assert [len(entries) for entries, _ in snapshots] == [1, 2, 3, 4, 5]
    assert not any(complete for _, complete in snapshots)
    for (earlier, _), (later, _) in itertools.pairwise(snapshots):
        assert later[: len(earlier)] == earlier  # served entries never change, new ones come after
    emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
    final = log_page(emulator, job["id"], logType="stdOut")
    assert final["logs"]["logContent"][:5] == snapshots[-1][0]
    assert [entry["log"] for entry in final["logs"]["logContent"]] == [f"line-{i}" for i in range(1, 7)]
    assert final["logs"]["isComplete"] is True


def test_emulator_messages_go_to_stderr(emulator: EmulatorProcess, project_id: str) -> None:
    job = start_job(emulator, project_id, "echo begun; sleep 30")
    # "Running" comes before the job's first line: wait for the line itself, or the stop may beat it.
    wait_until(partial(job_log, emulator, job["id"]), 5, "the job's first line")
    emulator.api("POST", "/v4/jobs/stop", json={"jobId": job["id"], "commitResults": False})
    stderr = log_page(emulator, job["id"], logType="stdErr")["logs"]["logContent"]
    assert [entry["log"] for entry in stderr] == ["Job stopped by user request"]
    stdout = log_page(emulator, job["id"], logType="stdOut")["logs"]["logContent"]
    assert [entry["log"] for entry in stdout] == ["begun"]
