"""Unit tier for ``watch_step``: every branch, no HTTP, no clock."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api import errors
from airflow_provider_domino.api.models import Job
from airflow_provider_domino.jobs.watching import (
    ERROR,
    FAILED,
    SUCCESS,
    TIMEOUT,
    Continue,
    Outcome,
    retry_cannot_fix,
    watch_step,
)

NOW = 1_000_000.0


def job(status: str) -> Job:
    return Job.from_api({"id": "j1", "status": status})


def step(**overrides):
    arguments = {
        "job": job("Running"),
        "error": None,
        "now": NOW,
        "deadline": None,
        "watch_started_at": NOW - 600,
        "poll_interval": 30.0,
    }
    arguments.update(overrides)
    return watch_step(**arguments)


def api_error(status: int) -> errors.DominoApiError:
    return errors.error_class_for_status(status)("GET", "/api/jobs/beta/jobs/j1", status, "nope")


def test_running_job_continues_at_the_poll_interval():
    assert step() == Continue(30.0)


@pytest.mark.parametrize(
    ("status", "kind"), [("Succeeded", SUCCESS), ("Failed", FAILED), ("Stopped", FAILED), ("Error", FAILED)]
)
def test_an_ended_job_ends_the_watch(status, kind):
    outcome = step(job=job(status))
    assert isinstance(outcome, Outcome) and outcome.kind == kind and outcome.job.id == "j1"
    assert f"ended {status}" in outcome.message


def test_an_ended_job_wins_over_a_passed_deadline():
    assert step(job=job("Succeeded"), deadline=NOW - 5).kind == SUCCESS


def test_a_running_job_past_its_deadline_times_out():
    assert step(deadline=NOW).kind == TIMEOUT


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_transient_errors_continue_with_a_warning(status):
    result = step(job=None, error=api_error(status))
    assert isinstance(result, Continue) and "will check again" in result.warning


def test_connection_errors_continue():
    error = errors.DominoConnectionError("GET", "/x", "refused", attempts=6)
    assert isinstance(step(job=None, error=error), Continue)


def test_a_transient_error_past_the_deadline_times_out():
    assert step(job=None, error=api_error(503), deadline=NOW - 1).kind == TIMEOUT


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_errors_no_retry_can_fix_end_the_watch_and_say_so(status):
    outcome = step(job=None, error=api_error(status))
    assert isinstance(outcome, Outcome) and outcome.kind == ERROR and not outcome.retryable
    assert f"HTTP {status}" in outcome.message


def test_config_and_unexpected_answers_cannot_be_fixed_by_a_retry():
    assert retry_cannot_fix(errors.DominoConfigError("no project"))
    assert retry_cannot_fix(errors.DominoUnexpectedResponseError("GET", "/x", 200, "html"))
    assert not retry_cannot_fix(errors.DominoJobFailedError("j1", "Failed", "ended Failed"))
    assert not retry_cannot_fix(api_error(409))


def test_first_checks_are_quick_then_slow_down_to_the_poll_interval():
    assert step(watch_started_at=NOW).delay == 2.0  # checks start 2 s apart
    assert step(watch_started_at=NOW - 8).delay == 8.0
    assert step(watch_started_at=NOW - 8, poll_interval=5).delay == 5.0


def test_the_wait_never_runs_past_the_deadline():
    assert step(deadline=NOW + 3).delay == 3.0


def test_jitter_only_shortens_the_wait():
    """By up to 10%: a draw near 1 takes almost 3 s off a 30 s wait; a draw out of range counts as 1."""
    assert step(jitter=0.999).delay == pytest.approx(27.003)
    assert step(jitter=5).delay == pytest.approx(27.0)


def test_neither_job_nor_error_is_a_programming_error():
    with pytest.raises(ValueError):
        step(job=None)


def test_a_first_step_spreads_its_wait_over_the_whole_interval():
    """Anywhere from 10% of the interval to all of it: 3 s to 30 s, linear in the draw."""
    assert step(spread=True, jitter=0.0).delay == 30.0
    assert step(spread=True, jitter=0.5).delay == pytest.approx(16.5)
    assert step(spread=True, jitter=1.0).delay == pytest.approx(3.0)
    assert step(spread=True, jitter=0.5, deadline=NOW + 3).delay == 3.0  # still never past the deadline
