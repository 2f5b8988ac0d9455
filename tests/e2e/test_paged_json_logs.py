"""A 2,500-line job streams every line into the task log exactly once, against the paged JSON log.

The emulator caps a log call at ``logPageCap`` entries (1,000 by default) and treats ``latestTimeNano``
as inclusive, with up to 100 entries sharing one timestamp: paging and de-duplication are both needed
for the task log to show lines 1..2500 once each, in order, in sync and deferrable mode.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.e2e

LINES = 2500


def _numbered(output: str, job_id: str) -> list[int]:
    found = re.findall(rf"\[{re.escape(job_id)}\] numbered line (\d+) of {LINES}\b", output)
    return [int(number) for number in found]


def test_2500_lines_stream_exactly_once_sync_and_deferred(run_dag, emulator):
    assert emulator.settings()["logPageCap"] < LINES  # paging is exercised
    emulator.clear_requests()
    result = run_dag(
        "e2e_paged_json_logs",
        f"""
        sync_lines = DominoStartJobOperator(
            task_id="sync_lines", command="python print_numbered_lines.py {LINES}",
            hardware_tier_id="Small", poll_interval=0.5, deferrable=False,
        )
        deferred_lines = DominoStartJobOperator(
            task_id="deferred_lines", command="python print_numbered_lines.py {LINES}",
            hardware_tier_id="small", poll_interval=0.5, deferrable=True,
        )
        """,
    )
    assert set(result.states().values()) == {"success"}, result.states()
    for task_id in ("sync_lines", "deferred_lines"):
        job_id = result.xcom(task_id)
        assert _numbered(result.output, job_id) == list(range(1, LINES + 1)), task_id
    log_reads = [e for e in emulator.requests_log() if e["endpoint"] == "get_job_logs"]
    assert log_reads and all("logType=" in e["query"] for e in log_reads)  # always named
    # Each job's 2,500 stdout lines needed several capped pages, each from the previous page's end.
    # All streams come in one ``logType=complete`` request per page (the sync path and the trigger alike).
    paged = [
        e
        for e in log_reads
        if ("logType=stdOut" in e["query"] or "logType=complete" in e["query"])
        and "latestTimeNano=" in e["query"]
    ]
    assert len(paged) >= 2 * (LINES // emulator.settings()["logPageCap"])
