"""Benchmark 3: HTTP requests one trigger makes over a 10-minute job, adaptive vs fixed polling.

Requests per job depend only on the ratio of job length to poll intervals, so the 10-minute job runs on a
compressed clock: a job of ``600 / k`` seconds, watched with the provider's own schedule
(``api.polling.next_poll_delay``) evaluated on a clock running k times fast (``CompressedClockTrigger``).
The request counts are those of the real 10-minute job with the real intervals (HTTP round trips of a few
ms are small next to the shortest compressed interval, ``2 / k`` s). Detection latency is *not*
scale-free, so the 5-second jobs run on the real clock with the unmodified trigger.

Watchers: ours (the provider's adaptive schedule, fetch_logs off/on); a fixed 30-s interval (the
provider before adaptive polling); and as baseline a fixed 5-s poll, python-domino's
``job_start_blocking``/``runs_start_blocking`` default (status only).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    Emulator,
    finish_worker,
    median,
    parse_iso,
    signal_go,
    start_worker,
    wait_for_go,
    wait_until_ready,
    worker_env,
    worker_main,
)

JOB_SECONDS = 600.0
DEFAULT_POLL = 30.0
BASELINE_POLL = 5.0
SHORT_JOB_SECONDS = 5.0

#: name -> (schedule, poll interval in real seconds, fetch_logs)
LONG_WATCHERS = {
    "ours (adaptive, poll_interval 30)": ("ours", DEFAULT_POLL, False),
    "ours + fetch_logs": ("ours", DEFAULT_POLL, True),
    "fixed 30 s": ("fixed", DEFAULT_POLL, False),
    "fixed 30 s + fetch_logs": ("fixed", DEFAULT_POLL, True),
    "baseline: fixed 5 s (python-domino)": ("fixed", BASELINE_POLL, False),
}
SHORT_WATCHERS = {"ours (adaptive, poll_interval 30)": "ours", "fixed 30 s": "fixed"}


def run(*, scale: float, short_jobs: int, work_dir: Path, log: Any) -> dict[str, Any]:
    long_seconds = JOB_SECONDS / scale
    log(
        f"  requests per job: a {JOB_SECONDS:g}-s job compressed x{scale:g} ({long_seconds:g} s), "
        f"and {short_jobs} x {SHORT_JOB_SECONDS:g}-s jobs per watcher on the real clock"
    )
    steps = max(1, round(long_seconds))
    long_command = f'i=0; while [ $i -lt {steps} ]; do echo "step $i"; i=$((i+1)); sleep 1; done'
    short_command = f"sleep {SHORT_JOB_SECONDS:g}; date +%s.%N"
    with Emulator(work_dir) as emulator:
        warmup = emulator.start_jobs(["true"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        ready, go = work_dir / "ready", work_dir / "go.txt"
        watchers: list[dict[str, Any]] = []
        for name, (kind, poll, fetch_logs) in LONG_WATCHERS.items():
            watchers.append(
                {
                    "name": name,
                    "group": "long",
                    "kind": kind,
                    "poll": poll,
                    "fetch_logs": fetch_logs,
                    "scale": scale,
                }
            )
        for name, kind in SHORT_WATCHERS.items():
            for index in range(short_jobs):
                watchers.append(
                    {
                        "name": f"{name} #{index}",
                        "group": "short",
                        "label": name,
                        "kind": kind,
                        "poll": DEFAULT_POLL,
                        "fetch_logs": False,
                        "scale": 1.0,
                    }
                )
        config = {"name": "requests", "watchers": watchers, "warmup_job": warmup}
        config.update(ready_file=str(ready), go_file=str(go))
        worker = start_worker(
            "requests_per_job.py",
            config,
            work_dir=work_dir,
            env=worker_env(work_dir / "airflow", emulator.url),
        )
        wait_until_ready([ready])
        commands = [long_command if w["group"] == "long" else short_command for w in watchers]
        job_ids = emulator.start_jobs(commands, threads=1)
        signal_go(go, job_ids)
        fired = finish_worker(*worker, timeout=max(long_seconds, DEFAULT_POLL) + 180)["events"]
        requests = emulator.requests_for(job_ids)
        jobs = {job_id: emulator.job(job_id) for job_id in job_ids}
        written = {
            job_id: float(emulator.log_text(job_id).strip().splitlines()[-1])
            for job_id, w in zip(job_ids, watchers, strict=True)
            if w["group"] == "short"
        }
    per_job: dict[str, dict[str, int]] = {job_id: {} for job_id in job_ids}
    for entry in requests:
        counts = per_job[entry["job_id"]]
        counts[entry["endpoint"]] = counts.get(entry["endpoint"], 0) + 1
    results: dict[str, Any] = {"scale": scale, "long": {}, "short": {}}
    for job_id, watcher in zip(job_ids, watchers, strict=True):
        counts = per_job[job_id]
        if watcher["group"] == "long":
            job = jobs[job_id]
            equivalent = (parse_iso(job["endedAt"]) - parse_iso(job["startedAt"])) * scale
            results["long"][watcher["name"]] = {
                "requests": sum(counts.values()),
                "status_requests": counts.get("get_job", 0),
                "log_requests": counts.get("get_job_logs", 0),
                "equivalent_job_seconds": equivalent,
                "fired": job_id in fired,
            }
        else:
            latency = fired[job_id] - written[job_id] if job_id in fired else float("nan")
            entry = results["short"].setdefault(watcher["label"], {"latencies": [], "requests": []})
            entry["latencies"].append(latency)
            entry["requests"].append(sum(counts.values()))
    for entry in results["short"].values():
        entry["latency_median"] = median(entry["latencies"])
        entry["latency_max"] = max(entry["latencies"])
        entry["requests_median"] = median(entry["requests"])
    for name, figures in results["long"].items():
        log(
            f"    {name}: {figures['requests']} requests for a "
            f"{figures['equivalent_job_seconds'] / 60:.1f}-min job"
        )
    for name, figures in results["short"].items():
        log(f"    {name}: 5-s job seen after {figures['latency_median']:.2f} s (median)")
    return results


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio
    import time

    from variants import CompressedClockTrigger, FixedIntervalTrigger

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    def build(watcher: dict[str, Any], job_id: str) -> Any:
        kwargs = {"poll_interval": watcher["poll"], "fetch_logs": watcher["fetch_logs"]}
        if watcher["kind"] == "fixed":
            return FixedIntervalTrigger(job_id, clock_scale=watcher["scale"], **kwargs)
        if watcher["scale"] != 1.0:
            return CompressedClockTrigger(job_id, clock_scale=watcher["scale"], **kwargs)
        return DominoJobTrigger(job_id, **kwargs)  # the real clock: the unmodified trigger

    async def watch(trigger: Any, fired: dict[str, float]) -> None:
        try:
            async for _event in trigger.run():
                fired[trigger.job_id] = time.time()
        finally:
            await trigger.cleanup()

    async def main() -> dict[str, float]:
        await watch(DominoJobTrigger(config["warmup_job"], fetch_logs=True), {})
        job_ids = await asyncio.to_thread(wait_for_go, config["ready_file"], config["go_file"])
        fired: dict[str, float] = {}
        triggers = [build(w, job_id) for w, job_id in zip(config["watchers"], job_ids, strict=True)]
        await asyncio.wait_for(asyncio.gather(*(watch(t, fired) for t in triggers)), timeout=900)
        return fired

    return {"events": asyncio.run(main())}


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
