"""Status requests split by phase, from the emulator's request log: the steady state, and each job's end.

A whole-run "status requests per trigger per interval" mixes two costs. While every watched job runs,
coalesced polling pays for the list pages only (the steady state). When a job ends it leaves the active
list and is read once on its own route, for its terminal details (``outputCommitId``): a per-job cost,
1 / (intervals the job lasted), which is large for short jobs and vanishes for long ones. This module
tells the two apart so the report can show both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from common import parse_iso

STATUS_ENDPOINTS = ("list_jobs", "get_job")


def status_request_phases(
    requests: Iterable[Mapping[str, Any]],
    jobs: Mapping[str, Mapping[str, Any]],
    poll: float,
    warmup: float | None = None,
) -> dict[str, float | int]:
    """Figures of the status requests in ``requests`` (entries of ``Emulator.requests_for``).

    :param jobs: each watched job's emulator record (``startedAt``, ``endedAt``), by job id.
    :param poll: the triggers' poll interval, in seconds.
    :param warmup: seconds after the first request that the steady state skips (the start-up burst,
        when every trigger makes its first check at once); two intervals by default.

    ``steady_*``: from the end of the start-up burst until the first watched job ended, when every
    trigger was still watching a running job. ``terminal_reads_per_job``: job-route reads at or after
    the job's ``endedAt``; ``terminal_read_per_trigger_interval``: that, spread over the intervals the
    job lasted (its share of the whole-run figure).
    """
    every = [(entry, parse_iso(entry["time"])) for entry in requests]
    status = [entry for entry, _ in every if entry["endpoint"] in STATUS_ENDPOINTS]
    times = [at for entry, at in every if entry["endpoint"] in STATUS_ENDPOINTS]
    ended = {job_id: parse_iso(job["endedAt"]) for job_id, job in jobs.items() if job.get("endedAt")}
    started = {job_id: parse_iso(job["startedAt"]) for job_id, job in jobs.items() if job.get("startedAt")}
    out: dict[str, float | int] = {
        "list_requests": sum(1 for entry in status if entry["endpoint"] == "list_jobs"),
        "job_route_requests": sum(1 for entry in status if entry["endpoint"] == "get_job"),
    }
    terminal = sum(
        1
        for entry, at in zip(status, times, strict=True)
        if entry["endpoint"] == "get_job" and entry.get("job_id") in ended and at >= ended[entry["job_id"]]
    )
    lasted = [(ended[job_id] - started[job_id]) / poll for job_id in ended if job_id in started]
    per_job = terminal / len(jobs) if jobs else float("nan")
    out["terminal_reads_per_job"] = per_job
    mean_intervals = sum(lasted) / len(lasted) if lasted else float("nan")
    out["job_intervals_mean"] = mean_intervals
    out["terminal_read_per_trigger_interval"] = per_job / mean_intervals if lasted else float("nan")
    nan = float("nan")
    if not times or not ended:
        out.update(steady_seconds=0.0, steady_status_requests_per_trigger_interval=nan)
        return out
    begin = min(times) + (2 * poll if warmup is None else warmup)
    end = min(ended.values())
    inside = sum(1 for at in times if begin <= at < end)
    seconds = max(0.0, end - begin)
    out["steady_seconds"] = seconds
    intervals = len(jobs) * seconds / poll
    out["steady_status_requests_per_trigger_interval"] = inside / intervals if seconds >= poll else nan
    # Every request (log reads too) in the same window, and the log reads each job cost after it ended.
    out["steady_requests_per_trigger_interval"] = (
        sum(1 for _, at in every if begin <= at < end) / intervals if seconds >= poll else nan
    )
    final_logs = sum(
        1
        for entry, at in every
        if entry["endpoint"] not in STATUS_ENDPOINTS
        and entry.get("job_id") in ended
        and at >= ended[entry["job_id"]]
    )
    out["final_log_reads_per_job"] = final_logs / len(jobs) if jobs else nan
    return out
