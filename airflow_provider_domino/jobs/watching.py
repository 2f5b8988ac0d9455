"""One step of watching a Domino job, shared by the worker loop, the trigger and the sensor.

:func:`watch_step` is pure: it takes what the last status check returned (the job, or the error it
raised), the clock and the deadline, and answers :class:`Continue` (check again after ``delay``) or an
:class:`Outcome`. The loops around it only fetch, log and sleep, so the sync path and the trigger cannot
disagree about transient errors, deadlines or what ends the watch.

Log lines are fetched apart from this step and never feed it: a log endpoint that answers 403 or 404
cannot fail a task whose job succeeded.

The poll schedule: checks start ``FIRST_POLL_INTERVAL`` apart and slow down to ``poll_interval`` as
watching goes on (see :mod:`airflow_provider_domino.jobs.polling`); the wait never runs past the deadline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_domino.jobs.polling import check_delay

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

#: Outcome kinds; the trigger's event statuses use the same words.
SUCCESS, FAILED, TIMEOUT, ERROR = "success", "failed", "timeout", "error"


@dataclass(frozen=True)
class Continue:
    """Check again after ``delay`` seconds. ``warning`` says why the last check did not count, if so."""

    delay: float
    warning: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The watch is over.

    :param kind: ``success`` / ``failed`` (the job ended), ``timeout`` (the deadline passed first) or
        ``error`` (Domino answered in a way no later check can change).
    :param retryable: whether an Airflow retry of the task could help (false for config, auth, 404 or
        bad-input errors: the task should fail at once).
    """

    kind: str
    message: str
    job: Job | None = None
    retryable: bool = True


def retry_cannot_fix(error: BaseException) -> bool:
    """Errors that another check, or another try of the task, will meet again: config, auth, 404, 4xx."""
    from airflow_provider_domino.api.errors import (
        DominoApiError,
        DominoConfigError,
        DominoUnexpectedResponseError,
    )

    if isinstance(error, DominoConfigError | DominoUnexpectedResponseError):
        return True
    if isinstance(error, DominoApiError):
        return error.status != 429 and 400 <= error.status < 500 and error.status not in (408, 409)
    return False


def watch_step(
    *,
    job: Job | None,
    error: BaseException | None,
    now: float,
    deadline: float | None,
    watch_started_at: float,
    poll_interval: float,
    jitter: float = 0.0,
    spread: bool = False,
) -> Continue | Outcome:
    """Decide what one status check means.

    :param job: the job as the last check returned it (``None`` when the check raised ``error``).
    :param error: what the check raised, if anything (a ``DominoError``).
    :param now: epoch seconds.
    :param deadline: epoch seconds after which the watch ends with ``timeout``; ``None`` for no limit.
    :param watch_started_at: epoch seconds when watching began (drives the poll schedule).
    :param poll_interval: the longest wait between checks.
    :param jitter: a draw in ``[0, 1)`` that shortens the wait by up to ``JITTER`` (callers pass
        ``random.random()``), so triggers started together drift apart.
    :param spread: this is the watcher's first step since it (re)started: the wait is spread over the
        whole interval (see :func:`~airflow_provider_domino.jobs.polling.check_delay`).
    """
    warning = None
    if job is not None and job.is_finished:  # ``isCompleted`` decides when the server sends it
        kind = SUCCESS if job.is_success else FAILED
        return Outcome(kind, f"Domino job {job.id} ended {job.status_text}", job)
    if job is None:
        if error is None:
            raise ValueError("watch_step needs the job or the error of the last check")
        if retry_cannot_fix(error):
            return Outcome(ERROR, str(error), None, retryable=False)
        warning = f"{error}; will check again"
    if deadline is not None and now >= deadline:
        return Outcome(TIMEOUT, "did not finish before its deadline", job)
    delay = check_delay(
        poll_interval=poll_interval,
        now=now,
        watch_started_at=watch_started_at,
        deadline=deadline,
        draw=jitter,
        spread=spread,
    )
    return Continue(delay, warning)
