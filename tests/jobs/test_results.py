"""Results a job hands back (stats, usage, commits) and the "why it waits" decision."""

from __future__ import annotations

from typing import Any

from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.results import (
    domino_stats,
    result_details,
    summary_lines,
    wait_reason_to_show,
)

WAITING = {"explanation": "Tier Small is full", "expectedWait": "5 minutes", "helpText": "Pick another tier"}


def _job(status: str = "Queued", completed: bool = False, **fields: Any) -> Job:
    return Job.from_api(
        {"id": "j1", "status": {"executionStatus": status, "isCompleted": completed}, **fields}
    )


def test_the_wait_reason_is_shown_once_per_change() -> None:
    shown: list[str] = []
    last = None
    polls = [
        WAITING,
        WAITING,
        None,
        WAITING,
        {**WAITING, "expectedWait": "1 minute"},
        {**WAITING, "expectedWait": "1 minute"},
    ]
    for details in polls:
        job = _job(**({"queuedJobStatusDetails": details} if details else {}))
        line, last = wait_reason_to_show(job, last)
        if line:
            shown.append(line)
    assert shown == [
        "Domino job j1 is queued: Tier Small is full (expected wait: 5 minutes). Pick another tier",
        "Domino job j1 is queued: Tier Small is full (expected wait: 1 minute). Pick another tier",
    ]


def test_nothing_is_shown_for_a_failed_check_or_a_finished_job() -> None:
    assert wait_reason_to_show(None, "x") == (None, "x")
    finished = _job("Succeeded", True, queuedJobStatusDetails=WAITING)
    assert wait_reason_to_show(finished, None) == (None, None)


def test_stats_keep_numbers_as_numbers_and_the_rest_as_text() -> None:
    stats = [
        {"name": "auc", "value": "0.91"},
        {"name": "rows", "value": "1200"},
        {"name": "loss", "value": 0.25},
        {"name": "model", "value": "gbm"},
        {"name": "ok", "value": True},
        {"name": "bad", "value": "nan"},
    ]
    assert domino_stats(_job("Succeeded", True, dominoStats=stats)) == {
        "auc": 0.91,
        "rows": 1200,
        "loss": 0.25,
        "model": "gbm",
        "ok": "true",
        "bad": "nan",
    }


def test_results_and_summary_carry_usage_times_commits_and_git_repos() -> None:
    job = _job(
        "Succeeded",
        True,
        usage={"cpuPercentage": 42, "memoryGiB": 1.5},
        stageTimes={"submissionTime": "t0", "startTime": "t1", "completedTime": "t2"},
        commitDetails={"inputCommitId": "in1", "outputCommitId": "out1"},
        gitRepos=[
            {
                "id": "r",
                "name": "main",
                "uri": "u",
                "ref": "branches:dev",
                "serviceProvider": "github",
                "endingBranch": "dev",
                "endingCommitId": "abc",
            }
        ],
        dominoStats=[{"name": "auc", "value": "0.9"}],
    )
    details = result_details(job)
    assert details["usage"] == {"cpuPercentage": 42.0, "memoryGiB": 1.5}
    assert details["stageTimes"] == {"submissionTime": "t0", "startTime": "t1", "completedTime": "t2"}
    assert (details["inputCommitId"], details["outputCommitId"]) == ("in1", "out1")
    assert details["gitRepos"] == [
        {"name": "main", "uri": "u", "endingBranch": "dev", "endingCommitId": "abc"}
    ]
    text = "\n".join(summary_lines(job))
    for expected in (
        "max CPU 42%, max memory 1.5 GiB",
        "input in1, output out1",
        "git repo main: ended at abc on dev",
        "auc=0.9",
        "started t1",
    ):
        assert expected in text


def test_a_listed_queued_job_has_its_details_read_at_most_once_a_minute() -> None:
    """On the coalesced path a queued job's wait reason costs one extra read a minute, not one a round."""
    from airflow_provider_domino.jobs.results import wait_reason_needs_details

    queued = Job.from_api({"id": "j", "status": "Queued"})
    running = Job.from_api({"id": "j", "status": "Running"})
    assert wait_reason_needs_details(queued)  # never read yet
    assert not wait_reason_needs_details(queued, last_read_at=100.0, now=159.0)
    assert wait_reason_needs_details(queued, last_read_at=100.0, now=160.0)
    assert not wait_reason_needs_details(running)
