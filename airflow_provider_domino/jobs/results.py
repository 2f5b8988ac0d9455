"""What a job hands back to Airflow besides its status: metrics, usage, commits, and why it waits.

Small pure functions, shared by the operator's loop on a worker and by the trigger, so both show the
same lines and decide the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from airflow_provider_domino.api.status import JobStatus
from airflow_provider_domino.jobs.cost import COST_XCOM_KEY, CostEstimate, PriceSheet, estimate_cost

if TYPE_CHECKING:
    from airflow_provider_domino.api.models import Job

#: XCom key of the job's ``dominoStats``.
STATS_XCOM_KEY = "domino_stats"


def wait_reason_to_show(job: Job | None, last_shown: str | None) -> tuple[str | None, str | None]:
    """Whether to log why a queued job waits: ``(line or None, what was last shown)``.

    A line is due when the job is not finished, carries ``queuedJobStatusDetails``, and these read
    differently from the last ones shown: once per change, never on every poll. A poll without
    details (the job started, or a status check failed) keeps ``last_shown``, so details that come
    back unchanged are not shown again.
    """
    if job is None or job.is_finished or job.queued_details is None:
        return None, last_shown
    text = job.queued_details.describe()
    if text == last_shown:
        return None, last_shown
    return f"Domino job {job.id} is queued: {text}", text


#: Statuses in which a job may be waiting for capacity (``queuedJobStatusDetails`` explains why).
QUEUED_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.PENDING, JobStatus.SCHEDULED})


#: Shortest time between two reads of a queued job's details for its wait reason, when its status
#: comes from the job list (which carries no reason). Coalesced polling exists so that a project's
#: waiting jobs cost one request per round; a per-job read every round while a job queues would undo
#: that for the jobs that wait longest.
WAIT_REASON_REFRESH_SECONDS = 60.0


def wait_reason_needs_details(job: Job | None, last_read_at: float | None = None, now: float = 0.0) -> bool:
    """Whether a status read from the job list (whose items have no ``queuedJobStatusDetails``) must be
    followed by a read of the job's details to know why it waits: only while the job is queued, and at
    most once per :data:`WAIT_REASON_REFRESH_SECONDS` (``last_read_at``, ``now``: monotonic seconds)."""
    return (
        job is not None
        and not job.is_finished
        and job.status in QUEUED_STATUSES
        and job.queued_details is None
        and (last_read_at is None or now - last_read_at >= WAIT_REASON_REFRESH_SECONDS)
    )


def domino_stats(job: Job) -> dict[str, Any]:
    """XCom ``domino_stats``: the job's ``dominoStats``, numbers as numbers, anything else as text."""
    return dict(job.domino_stats)


def result_details(job: Job) -> dict[str, Any]:
    """The result fields XCom ``job`` adds: usage, stage times, commits, git repos' ending commits."""
    return {
        "dominoStats": domino_stats(job),
        "usage": job.usage.to_dict() if job.usage is not None else None,
        "stageTimes": {
            "submissionTime": job.submitted_at,
            "startTime": job.started_at,
            "completedTime": job.ended_at,
        },
        "inputCommitId": job.commit_id,
        "outputCommitId": job.output_commit_id,
        "gitRepos": [repo.to_dict() for repo in job.git_repos],
    }


def summary_lines(job: Job) -> list[str]:
    """The final task-log summary of a finished job: one line per kind of result that is known."""
    lines = [f"Domino job {job.id} ended {job.status_text}"]
    times = [
        f"{label} {value}"
        for label, value in (
            ("submitted", job.submitted_at),
            ("started", job.started_at),
            ("completed", job.ended_at),
        )
        if value
    ]
    if times:
        lines.append("  stage times: " + ", ".join(times))
    if job.commit_id or job.output_commit_id:
        lines.append(
            f"  commits: input {job.commit_id or 'unknown'}, output {job.output_commit_id or 'none'}"
        )
    for repo in job.git_repos:
        ending = repo.ending_commit_id or "unknown commit"
        branch = f" on {repo.ending_branch}" if repo.ending_branch else ""
        lines.append(f"  git repo {repo.name}: ended at {ending}{branch}")
    if job.usage is not None:
        cpu = "unknown" if job.usage.cpu_percentage is None else f"{job.usage.cpu_percentage:g}%"
        memory = "unknown" if job.usage.memory_gib is None else f"{job.usage.memory_gib:g} GiB"
        lines.append(f"  usage: max CPU {cpu}, max memory {memory}")
    if job.domino_stats:
        stats = ", ".join(f"{name}={value}" for name, value in job.domino_stats.items())
        lines.append(f"  domino_stats: {stats}")
    return lines


class JobReport:
    """What a task shows and pushes about its job besides the log: why it waits, and its results.

    One per task instance. The operator's loop on a worker calls :meth:`show_wait_reason` with every
    status it reads (the trigger does the same in deferred mode), and :meth:`finish` once, with the
    final job details, on every path that ends the watch (success or failure).

    :param log: where lines go (the task's logger).
    :param push: ``push(key, value)`` for an XCom of the task (honouring ``do_xcom_push``).
    """

    def __init__(self, log: Any, push: Callable[[str, Any], None]) -> None:
        self.log = log
        self.push = push
        self.last_wait_reason: str | None = None

    def show_wait_reason(self, job: Job | None) -> None:
        """Log why a queued job waits, once per change (see :func:`wait_reason_to_show`)."""
        line, self.last_wait_reason = wait_reason_to_show(job, self.last_wait_reason)
        if line:
            self.log.info("%s", line)

    def finish(self, job: Job, sheet: PriceSheet | None) -> CostEstimate | None:
        """Log the results summary and the cost line; push ``domino_stats`` and ``domino_cost``.

        :param sheet: the job's tiers and prices (``None``: unknown, and the cost line says so).
        """
        for line in summary_lines(job):
            self.log.info("%s", line)
        self.push(STATS_XCOM_KEY, domino_stats(job))
        if sheet is None:
            self.log.info(
                "No cost estimate for Domino job %s: its hardware tier or its price is unknown", job.id
            )
            self.push(COST_XCOM_KEY, unknown_cost(job.id))
            return None
        estimate = estimate_cost(job, sheet)
        self.log.info("%s", estimate.describe())
        self.push(COST_XCOM_KEY, estimate.to_dict())
        return estimate


def unknown_cost(job_id: str) -> dict[str, Any]:
    """XCom ``domino_cost`` when no tier price is known: the same keys, no figures."""
    return {
        "jobId": job_id,
        "estimatedCents": None,
        "estimatedDollars": None,
        "runMinutes": None,
        "parts": [],
        "notes": ["the job's hardware tier or its price is unknown"],
    }
