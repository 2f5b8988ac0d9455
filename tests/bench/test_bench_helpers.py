"""The benchmark helpers that decide something: request phases, list rounds, and the fault run's verdicts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import missed_transitions
from request_phases import status_request_phases


def _at(seconds: float) -> str:
    return f"2026-01-01T00:00:{seconds:06.3f}Z"


def _request(endpoint: str, seconds: float, job_id: str | None = None, query: str = "") -> dict:
    return {"endpoint": endpoint, "time": _at(seconds), "job_id": job_id, "query": query}


def test_steady_state_counts_only_requests_before_the_first_end_and_after_the_start_up_burst():
    jobs = {
        "a": {"startedAt": _at(0), "endedAt": _at(40)},
        "b": {"startedAt": _at(0), "endedAt": _at(50)},
    }
    # Start-up burst: each job read on its own at 0 s; then one list request every 2 s until 50 s;
    # each job read once more on its own route after it ended.
    requests = [_request("get_job", 0, "a"), _request("get_job", 0, "b")]
    requests += [_request("list_jobs", float(t)) for t in range(0, 51, 2)]
    requests += [_request("get_job", 40.5, "a"), _request("get_job", 50.5, "b")]
    phases = status_request_phases(requests, jobs, poll=2.0)
    # From 4 s to 40 s: list requests at 4, 6, ..., 38 = 18 requests for 2 triggers over 18 intervals.
    assert phases["steady_status_requests_per_trigger_interval"] == pytest.approx(18 / (2 * 18))
    assert phases["terminal_reads_per_job"] == 1
    assert phases["job_intervals_mean"] == pytest.approx(22.5)
    assert phases["terminal_read_per_trigger_interval"] == pytest.approx(1 / 22.5)
    assert (phases["list_requests"], phases["job_route_requests"]) == (26, 4)


def test_no_steady_state_when_a_job_ends_during_the_start_up_burst():
    jobs = {"a": {"startedAt": _at(0), "endedAt": _at(1)}}
    phases = status_request_phases(
        [_request("get_job", 0, "a"), _request("get_job", 1.5, "a")], jobs, poll=2.0
    )
    assert (
        phases["steady_status_requests_per_trigger_interval"]
        != phases["steady_status_requests_per_trigger_interval"]
    )  # NaN
    assert phases["terminal_reads_per_job"] == 1


def test_rounds_start_at_offset_zero():
    pages = [
        _request("list_jobs", 0.0, query="projectId=p&offset=0&limit=20"),
        _request("list_jobs", 0.1, query="projectId=p&offset=20&limit=20"),
        _request("list_jobs", 0.2, query="projectId=p&offset=40&limit=20"),
        _request("list_jobs", 2.0, query="projectId=p&offset=0&limit=20"),
        _request("list_jobs", 4.0, query="projectId=p&offset=0&limit=20"),
        _request("list_jobs", 4.1, query="projectId=p&offset=20&limit=20"),
    ]
    rounds = missed_transitions.rounds_of(pages)
    base = rounds[0][0]
    # The lone page at 2 s is a round of one page: nothing can end between its pages.
    assert [(first - base, last - base) for first, last in rounds] == [
        pytest.approx((0.0, 0.2), abs=1e-3),
        pytest.approx((4.0, 4.1), abs=1e-3),
    ]


def test_verdicts_count_missing_wrong_status_and_wrong_commit():
    truth = {
        "ok": {"status": "Succeeded", "outputCommitId": "c1"},
        "failed": {"status": "Failed", "outputCommitId": "c2"},
        "silent": {"status": "Succeeded", "outputCommitId": "c3"},
        "wrong": {"status": "Failed", "outputCommitId": "c4"},
        "commit": {"status": "Succeeded", "outputCommitId": "c5"},
    }
    events = {
        "ok": {"status": "success", "job_status": "Succeeded", "output_commit_id": "c1"},
        "failed": {"status": "failed", "job_status": "Failed", "output_commit_id": "c2"},
        "wrong": {"status": "success", "job_status": "Succeeded", "output_commit_id": "c4"},
        "commit": {"status": "success", "job_status": "Succeeded", "output_commit_id": None},
    }
    verdict = missed_transitions.verdicts(list(truth), events, truth)
    assert (verdict["missed_transitions"], verdict["wrong_commits"]) == (2, 1)
    assert verdict["missed_examples"] == ["silent", "wrong"]
    assert verdict["wrong_commit_examples"] == ["commit"]


def test_job_commands_spread_their_lengths_and_fail_every_fifth():
    commands = missed_transitions.job_commands(10, 1.0, 30.0)
    assert len({command.split(";")[0] for command in commands}) == 10
    assert [command.endswith("exit 3") for command in commands] == [i % 5 == 4 for i in range(10)]
