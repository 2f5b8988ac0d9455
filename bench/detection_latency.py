"""Benchmark 2: how long after a job ends does its trigger fire?

Each job is ``sleep <random>; date +%s.%N``: the job itself writes the time just before it exits, so the
latency is measured from the job's real end, not from the emulator's bookkeeping. Two watchers run side
by side in their own processes, on the same jobs: the provider's trigger (asyncio, one task per job) and
baseline (b), python-domino's ``runs_wait`` style (a thread per job, blocking requests, ``time.sleep``).
Both are warmed up and waiting before the jobs start, so start-up time is not counted.

Latency splits into the emulator's part (job exit -> ``endedAt``: exit noticed, output committed) and
the watcher's part (``endedAt`` -> event), which a poller can only bound by its poll interval.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Emulator,
    finish_worker,
    parse_iso,
    percentile,
    signal_go,
    start_worker,
    wait_for_go,
    wait_until_ready,
    worker_env,
    worker_main,
)

WATCHERS = ("ours", "coalesced", "threads")


def run(*, jobs: int, poll: float, min_seconds: float, max_seconds: float, work_dir: Path, log: Any) -> dict:
    log(f"  detection latency: {jobs} jobs of {min_seconds:g}-{max_seconds:g} s, poll {poll:g} s")
    rng = random.Random(20250101)
    durations = [round(rng.uniform(min_seconds, max_seconds), 2) for _ in range(jobs)]
    go_file = work_dir / "go.txt"
    with Emulator(work_dir) as emulator:
        env = worker_env(work_dir / "airflow", emulator.url)
        warmup = emulator.start_jobs(["true"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        workers = {}
        for watcher in WATCHERS:
            config = {"name": watcher, "watcher": watcher, "poll": poll, "go_file": str(go_file)}
            config["project_id"] = emulator.project_id
            config.update(warmup_job=warmup, ready_file=str(work_dir / f"{watcher}.ready"))
            workers[watcher] = start_worker("detection_latency.py", config, work_dir=work_dir, env=env)
        wait_until_ready(work_dir / f"{watcher}.ready" for watcher in WATCHERS)
        commands = [f"sleep {seconds}; date +%s.%N" for seconds in durations]
        job_ids = emulator.start_jobs(commands)
        signal_go(go_file, job_ids)
        events = {
            watcher: finish_worker(*workers[watcher], timeout=max_seconds + 120) for watcher in WATCHERS
        }
        ends = {}
        for job_id in job_ids:
            job = emulator.job(job_id)
            written = float(emulator.log_text(job_id).strip().splitlines()[-1])
            ends[job_id] = (written, parse_iso(job["endedAt"]))
    results: dict[str, Any] = {"jobs": jobs, "poll": poll, "durations": [min_seconds, max_seconds]}
    server_part = [ended - written for written, ended in ends.values()]
    results["emulator_p50"] = percentile(server_part, 50)
    results["emulator_p99"] = percentile(server_part, 99)
    for watcher in WATCHERS:
        fired = events[watcher]["events"]
        latencies = [fired[job_id] - ends[job_id][0] for job_id in job_ids if job_id in fired]
        client_part = [fired[job_id] - ends[job_id][1] for job_id in job_ids if job_id in fired]
        results[watcher] = {
            "fired": len(latencies),
            "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99),
            "max": max(latencies, default=float("nan")),
            "after_ended_p50": percentile(client_part, 50),
            "after_ended_p99": percentile(client_part, 99),
        }
        log(
            f"    {watcher}: {len(latencies)}/{jobs} fired, latency p50 {results[watcher]['p50']:.2f} s,"
            f" p99 {results[watcher]['p99']:.2f} s (emulator's part p99 {results['emulator_p99']:.2f} s)"
        )
    return results


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import airflow.sdk  # noqa: F401

    if config["watcher"] == "threads":
        import threading

        from variants import blocking_poll

        blocking_poll(config["warmup_job"], config["poll"], {})
        job_ids = wait_for_go(config["ready_file"], config["go_file"])
        fired: dict[str, tuple[float, str]] = {}
        threads = [
            threading.Thread(target=blocking_poll, args=(job_id, config["poll"], fired), daemon=True)
            for job_id in job_ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        return {"events": {job_id: when for job_id, (when, _) in fired.items()}}

    import asyncio

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    async def watch(job_id: str, fired: dict[str, float]) -> None:
        # "coalesced": the trigger knows the project, so one watcher per project lists the active jobs.
        project = config["project_id"] if config["watcher"] == "coalesced" else None
        _, kwargs = DominoJobTrigger(
            job_id, poll_interval=config["poll"], fetch_logs=False, project_id=project
        ).serialize()
        trigger = DominoJobTrigger(**kwargs)
        try:
            async for _event in trigger.run():
                fired[job_id] = time.time()
        finally:
            await trigger.cleanup()

    async def main() -> dict[str, float]:
        await watch(config["warmup_job"], {})
        job_ids = await asyncio.to_thread(wait_for_go, config["ready_file"], config["go_file"])
        fired: dict[str, float] = {}
        await asyncio.wait_for(asyncio.gather(*(watch(job_id, fired) for job_id in job_ids)), timeout=300)
        return fired

    return {"events": asyncio.run(main())}


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
