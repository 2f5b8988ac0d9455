"""Benchmark E: a fault run for coalesced polling. Does any trigger miss its job's end?

Coalesced polling reads each project's active jobs as a paged list once per round. Two things can hide a
job's end from that list, and this benchmark provokes both on the emulator, with real ``DominoJobTrigger``s:

- **a job ends between two list pages of a round.** The list is paged small (the watcher's
  ``status_watcher.LIST_PAGE_SIZE`` is patched in the worker), so each round reads several pages, and the
  jobs last different, spread-out times, so jobs end while a round is reading its pages; the active list
  then shifts under the reader, and a still-running job can slip from a page not yet read to one already
  read. Each list page is delayed a little (an emulator latency fault), so a round takes a good part of
  the interval and many ends land inside one.
- **the list lags.** Half of the jobs start while the emulator's ``--list-lag`` keeps new jobs out of the
  list for a while (some of them end before they are ever listed).

Some jobs fail (exit 3), so the terminal status differs between jobs. After the run every trigger's
event is compared with the emulator's record of the job: the terminal status and the output commit id
(``outputCommitId``, which only the job route has). A trigger that fired with anything else, or did not
fire, is a missed transition. The figures say how many, and ``ok`` is False if there was any.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Emulator, parse_iso, run_worker, worker_env, worker_main

#: Status of an event as the trigger reports it, for each terminal status of the emulator's job.
EXPECTED_EVENT = {"Succeeded": "success", "Failed": "failed", "Error": "failed", "Stopped": "failed"}


def job_commands(jobs: int, min_seconds: float, max_seconds: float, seed: int = 20261126) -> list[str]:
    """Jobs of spread-out lengths (so they end at many different moments); every fifth one fails."""
    rng = random.Random(seed)
    commands = []
    for index in range(jobs):
        seconds = round(rng.uniform(min_seconds, max_seconds), 2)
        commands.append(f"sleep {seconds:g}; exit {3 if index % 5 == 4 else 0}")
    return commands


def rounds_of(list_requests: list[dict[str, Any]]) -> list[tuple[float, float]]:
    """(first page, last page) times of each round of one project's list requests, in order.

    A round starts with the page at offset 0; the requests must be one project's, in time order."""
    rounds: list[list[float]] = []
    for entry in list_requests:
        offset = _query_value(entry.get("query") or "", "offset")
        if offset in (None, "0") or not rounds:
            rounds.append([])
        rounds[-1].append(parse_iso(entry["time"]))
    return [(times[0], times[-1]) for times in rounds if len(times) > 1]


def _query_value(query: str, key: str) -> str | None:
    for part in query.split("&"):
        name, _, value = part.partition("=")
        if name == key:
            return value
    return None


def verdicts(
    job_ids: list[str], events: dict[str, dict[str, Any]], truth: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """Each trigger's event against the emulator's record of its job: missed transitions, wrong commits."""
    missed, wrong_commit = [], []
    # A commit compared where the emulator recorded one: equal ``None``s would prove nothing.
    commits_compared = sum(1 for job_id in job_ids if truth[job_id].get("outputCommitId"))
    for job_id in job_ids:
        job, event = truth[job_id], events.get(job_id)
        expected = EXPECTED_EVENT.get(job["status"])
        if (
            event is None
            or expected is None
            or event["status"] != expected
            or event["job_status"] != job["status"]
        ):
            missed.append(job_id)
        elif event.get("output_commit_id") != job.get("outputCommitId"):
            wrong_commit.append(job_id)
    return {
        "missed_transitions": len(missed),
        "wrong_commits": len(wrong_commit),
        "commits_compared": commits_compared,
        "missed_examples": missed[:5],
        "wrong_commit_examples": wrong_commit[:5],
    }


def run(
    *,
    triggers: int,
    projects: int,
    page_size: int,
    list_lag: float,
    page_delay: float,
    min_seconds: float,
    max_seconds: float,
    poll: float,
    work_dir: Path,
    log: Any,
) -> dict[str, Any]:
    """Run the fault benchmark; ``ok`` in the result is False if any trigger missed its job's end."""
    log(
        f"  missed transitions: {triggers} coalesced triggers over {projects} projects, list pages of "
        f"{page_size} ({page_delay:g} s each), list lag {list_lag:g} s for half the jobs, jobs of {min_seconds:g}-{max_seconds:g} s, "
        f"poll {poll:g} s"
    )
    commands = job_commands(triggers, min_seconds, max_seconds)
    with Emulator(work_dir, projects_count=projects) as emulator:
        warmup = emulator.start_jobs(["true"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        job_projects = [emulator.project_ids[i % projects] for i in range(triggers)]
        half = triggers // 2
        emulator.process.set_faults(
            {"rules": [{"endpoint": "list_jobs", "fault": "latency", "seconds": page_delay}]}
        )
        emulator.process.clear_requests()
        # The first half is listed at once; the second half stays out of the list for ``list_lag`` s.
        job_ids = emulator.start_jobs(commands[:half], projects=job_projects[:half])
        emulator.process.set_list_lag(list_lag)
        job_ids += emulator.start_jobs(commands[half:], projects=job_projects[half:])
        config = {
            "name": "missed_transitions",
            "job_ids": job_ids,
            "job_projects": job_projects,
            "warmup_job": warmup,
            "warmup_project": emulator.project_ids[0],
            "poll": poll,
            "page_size": page_size,
            "timeout": max_seconds + list_lag + 120,
        }
        result = run_worker(
            "missed_transitions.py",
            config,
            work_dir=work_dir,
            env=worker_env(work_dir / "airflow", emulator.url),
            timeout=max_seconds + list_lag + 240,
        )
        truth = {job["id"]: job for job in emulator.process.jobs() if job["id"] in set(job_ids)}
        requests = emulator.requests_for(job_ids)
    figures = {
        "triggers": triggers,
        "projects": projects,
        "page_size": page_size,
        "list_lag": list_lag,
        "page_delay": page_delay,
        "durations": [min_seconds, max_seconds],
        "poll": poll,
        "fired": len(result["events"]),
        "failed_jobs": sum(1 for job in truth.values() if job["status"] != "Succeeded"),
        **verdicts(job_ids, result["events"], truth),
        **_request_figures(requests, job_ids, job_projects, truth, result, poll),
        "wall_seconds": result["wall_seconds"],
        "failures": result["failures"],
    }
    figures["ok"] = figures["missed_transitions"] == 0 and figures["wrong_commits"] == 0
    log(
        f"    {figures['fired']}/{triggers} fired; missed transitions {figures['missed_transitions']}, wrong "
        f"commits {figures['wrong_commits']}; {figures['ended_between_pages']} jobs ended between two pages "
        f"of a round, {figures['read_while_running']} read on their own route while still running "
        f"(lagging list or shifted pages); {figures['list_pages_per_round']:.1f} pages per round; status "
        f"requests per trigger per interval {figures['status_requests_per_trigger_interval']:.3f}"
        + ("" if figures["ok"] else "  ** TRANSITIONS MISSED **")
    )
    return figures


def _request_figures(
    requests: list[dict[str, Any]],
    job_ids: list[str],
    job_projects: list[str],
    truth: dict[str, dict[str, Any]],
    result: dict[str, Any],
    poll: float,
) -> dict[str, Any]:
    """How the fault showed in the emulator's request log, and what the polling cost."""
    lists = [entry for entry in requests if entry["endpoint"] == "list_jobs"]
    gets = [entry for entry in requests if entry["endpoint"] == "get_job"]
    ended = {job_id: parse_iso(job["endedAt"]) for job_id, job in truth.items() if job.get("endedAt")}
    rounds_by_project = {
        project: rounds_of([entry for entry in lists if f"projectId={project}" in (entry.get("query") or "")])
        for project in set(job_projects)
    }
    between = sum(
        1
        for job_id, project in zip(job_ids, job_projects, strict=True)
        if job_id in ended and any(first < ended[job_id] < last for first, last in rounds_by_project[project])
    )
    running_reads = {
        entry["job_id"]
        for entry in gets
        if entry["job_id"] in ended and parse_iso(entry["time"]) < ended[entry["job_id"]]
    }
    round_count = sum(len(rounds) for rounds in rounds_by_project.values())
    multi_page = [
        entry for entry in lists if _query_value(entry.get("query") or "", "offset") not in (None, "0")
    ]
    intervals = sum(1 + seconds / poll for seconds in result["trigger_seconds"]) or 1
    return {
        "ended_between_pages": between,
        "read_while_running": len(running_reads),
        "list_requests": len(lists),
        "job_route_requests": len(gets),
        "list_pages_per_round": (round_count + len(multi_page)) / round_count
        if round_count
        else float("nan"),
        "status_requests_per_trigger_interval": (len(lists) + len(gets)) / intervals,
        "list_requests_per_trigger_interval": len(lists) / intervals,
        "job_route_requests_per_trigger_interval": len(gets) / intervals,
    }


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    import airflow.sdk  # noqa: F401 - loaded first, as in a running triggerer

    from airflow_provider_domino.jobs import status_watcher

    status_watcher.LIST_PAGE_SIZE = config["page_size"]  # several pages per round
    return asyncio.run(_watch_all(config))


async def _watch_all(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import time

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    events: dict[str, dict[str, Any]] = {}
    seconds: list[float] = []

    async def watch(job_id: str, project_id: str, started: float) -> None:
        _, kwargs = DominoJobTrigger(
            job_id, poll_interval=config["poll"], fetch_logs=False, project_id=project_id
        ).serialize()
        trigger = DominoJobTrigger(**kwargs)  # rebuilt from serialize(), as the triggerer does
        try:
            async for event in trigger.run():
                payload = event.payload
                job = payload.get("job") or {}
                events[job_id] = {
                    "status": payload.get("status"),
                    "job_status": payload.get("job_status"),
                    "output_commit_id": job.get("outputCommitId"),
                }
                seconds.append(time.monotonic() - started)
                return
        finally:
            await trigger.cleanup()

    await watch(config["warmup_job"], config["warmup_project"], time.monotonic())
    events.clear()
    seconds.clear()
    started = time.monotonic()
    tasks = [
        asyncio.create_task(watch(job_id, project, started))
        for job_id, project in zip(config["job_ids"], config["job_projects"], strict=True)
    ]
    done, pending = await asyncio.wait(tasks, timeout=config["timeout"])
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return {
        "events": events,
        "trigger_seconds": seconds,
        "wall_seconds": time.monotonic() - started,
        "failures": [repr(task.exception()) for task in done if task.exception() is not None][:5],
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
