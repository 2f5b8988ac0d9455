"""Benchmark 4: tailing a job that writes ~100 MB (1,000,000 lines) of log while it runs.

The job (``writer.py`` in the project) writes 1,000,000 numbered 100-byte lines in bursts. The emulator
serves Domino's published JSON log (``{logs: {logContent: [{log, logType, size, timestamp}]}}``, paged
by an inclusive ``latestTimeNano``) with a per-call cap of ``page_cap`` entries (10,000: Domino's own
maximum). A worker process tails it every ``poll`` seconds the way ``DominoJobTrigger`` does (status,
then ``DominoHook.astream_log`` from the saved :class:`~airflow_provider_domino.jobs.log_cursor.LogCursor`,
``final`` once the job has ended) and counts the lines instead of logging them. Bytes transferred are
counted at the socket (headers and status polls included); peak RSS growth is the kernel's high-water
mark (reset after warm-up) minus the RSS after warm-up; a 50-ms ticker task measures how long the tail
holds the event loop.

Variants: ``ours`` (counting lines); ``backlog_ours`` (tailing starts only after the job has written
everything, so one poll takes the whole log, as after a triggerer restart); ``trigger`` (the real
``DominoJobTrigger`` with every line logged through Airflow's logging at INFO).

The text/Range-era variants (1 MiB ``Range`` windows, the whole log every poll, a server ignoring
``Range``, the streamed prototypes) need the emulator's ``--flat-shapes`` text log; their figures are
kept in ``RESULTS-text-era.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Emulator, run_worker, worker_env, worker_main

LINE_BYTES = 100
LINES_PER_BURST = 10_000
WRITER = f'''"""Write numbered {LINE_BYTES}-byte lines in bursts: python writer.py BURSTS PAUSE_SECONDS."""
import sys
import time

bursts, pause = int(sys.argv[1]), float(sys.argv[2])
out = sys.stdout.buffer
pad = b"x" * {LINE_BYTES - 11}
number = 0
for _ in range(bursts):
    out.write(b"".join(b"%09d %s\\n" % (number + i, pad) for i in range({LINES_PER_BURST})))
    out.flush()
    number += {LINES_PER_BURST}
    time.sleep(pause)
'''

#: name -> (worker mode, backlog?)
VARIANTS = {
    "ours": ("ours", False),
    "trigger": ("trigger", False),
    "backlog_ours": ("ours", True),
}
#: Log entries per call the emulator serves at most (Domino's documented maximum).
PAGE_CAP = 10_000


def run(
    *,
    bursts: int,
    pause: float,
    poll: float,
    work_dir: Path,
    variants: list[str],
    log: Any,
    page_cap: int = PAGE_CAP,
) -> dict[str, Any]:
    log_bytes = bursts * LINES_PER_BURST * LINE_BYTES
    log(
        f"  log tail (JSON): {log_bytes / 1e6:.0f} MB written in {bursts} bursts, {pause:g} s apart; "
        f"poll {poll:g} s; page cap {page_cap}"
    )
    results: dict[str, Any] = {
        "log_bytes": log_bytes,
        "lines": bursts * LINES_PER_BURST,
        "poll": poll,
        "page_cap": page_cap,
        "format": "json",
    }
    extra = ["--log-page-cap", str(page_cap)]
    with Emulator(work_dir, extra_args=extra, project_files={"writer.py": WRITER}) as emulator:
        warmup = emulator.start_jobs(["echo warm-up"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        backlog_job = None
        for name in variants:
            mode, backlog = VARIANTS[name]
            if backlog:
                if backlog_job is None:
                    backlog_job = emulator.start_jobs([f"python writer.py {bursts} 0"])[0]
                    emulator.wait_until([backlog_job], {"Succeeded", "Failed"}, timeout=300)
                job_id = backlog_job
            else:
                job_id = emulator.start_jobs([f"python writer.py {bursts} {pause}"])[0]
            config = {"name": name, "mode": mode, "job_id": job_id, "warmup_job": warmup, "poll": poll}
            env = worker_env(work_dir / "airflow", emulator.url)
            if mode.startswith("trigger"):
                env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"  # every job log line goes through logging
            figures = run_worker("log_tail.py", config, work_dir=work_dir, env=env, timeout=600)
            size = emulator.job_log_size(job_id)
            figures["log_size"] = size
            figures["complete"] = (
                figures["lines"] == results["lines"] and figures["line_bytes"] == size == log_bytes
            ) and figures["in_order"]
            results[name] = figures
            largest = figures["largest_poll_bytes"]
            log(
                f"    {name}: {figures['bytes_received'] / 1e6:.1f} MB received "
                f"({figures['bytes_received'] / log_bytes:.3f} x log), peak RSS +{figures['rss_growth_bytes'] / 2**20:.1f} MiB, "
                f"largest poll {largest / 1e6 if largest else float('nan'):.1f} MB, CPU {figures['cpu_seconds']:.2f} s, "
                f"log requests {figures.get('log_requests')}, "
                f"loop lag p99/max {figures['lag_p99'] * 1000:.0f}/{figures['lag_max'] * 1000:.0f} ms "
                f"(longest callback {figures['longest_callback'] * 1000:.0f} ms CPU), "
                f"complete: {figures['complete']}"
            )
    return results


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    return asyncio.run(_tail(config))


async def _tail(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from common import (
        ByteCounter,
        CallbackTimer,
        cpu_seconds,
        peak_rss_bytes,
        percentile,
        reset_peak_rss,
        rss_bytes,
    )

    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.jobs.log_cursor import LogCursor, LogPoll
    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    counter = ByteCounter().install()
    timer = CallbackTimer().install()
    hook = DominoHook(caller="log-tail-bench")
    mode, job_id, poll = config["mode"], config["job_id"], config["poll"]
    state: dict[str, Any] = {
        "lines": 0,
        "line_bytes": 0,
        "in_order": True,
        "last": None,
        "log_requests": 0,
        "other_lines": 0,
    }

    def take_one(line: str) -> None:
        if not line[:9].isdigit():  # setup output ("[prepareOutput] ...") and the emulator's own notes
            state["other_lines"] += 1
            return
        if state["in_order"] and int(line[:9]) != state["lines"]:  # lines are numbered from 0
            state["in_order"] = False
        state["lines"] += 1
        state["line_bytes"] += len(line) + 1
        state["last"] = line

    original_send = hook._async.send

    async def counting_send(call: Any) -> Any:
        if call.endpoint == "get_job_logs":
            state["log_requests"] += 1
        return await original_send(call)

    hook._async.send = counting_send  # type: ignore[method-assign]

    async def tail_loop() -> dict[str, Any]:
        cursor, polls, largest = LogCursor(), 0, 0
        while True:
            job = await hook.aget_job(job_id)
            final = job.is_finished
            before = counter.received
            cursor = await hook.astream_log(LogPoll(job_id, cursor, final=final), take_one)
            polls += 1
            largest = max(largest, counter.received - before)
            if final:
                return {"polls": polls, "largest_poll_bytes": largest}
            await asyncio.sleep(poll)

    class CountingLog:
        """The trigger's own logger (structlog), counting and checking the job's lines it logs."""

        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def info(self, message: str, *args: Any, **kwargs: Any) -> Any:
            if len(args) == 2 and args[0] == job_id:
                take_one(str(args[1]))
            return self._inner.info(message, *args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

    async def run_trigger() -> dict[str, Any]:
        # The real trigger, logging every line through Airflow's logging (level INFO for this worker).
        _, kwargs = DominoJobTrigger(job_id, poll_interval=poll, fetch_logs=True).serialize()
        trigger = DominoJobTrigger(**kwargs)
        trigger._log = CountingLog(trigger.log)  # lines still go through Airflow's logging
        trigger._hook = lambda: hook  # type: ignore[method-assign] - count its log requests too
        try:
            async for _event in trigger.run():
                pass
        finally:
            await trigger.cleanup()
        return {"polls": None, "largest_poll_bytes": None}

    # Warm-up on a finished job: connection, client and every lazily imported module.
    await hook.aget_job(config["warmup_job"])
    await hook.astream_log(LogPoll(config["warmup_job"], final=True), lambda line: None)
    counter.received = 0
    state["log_requests"] = 0
    lags: list[float] = []
    stop = asyncio.Event()
    timer.reset()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(0.05)
            lags.append(time.monotonic() - before - 0.05)

    reset_peak_rss()
    rss_before = rss_bytes()
    cpu_before = cpu_seconds()
    started = time.monotonic()
    ticking = asyncio.create_task(ticker())
    figures = await (run_trigger() if mode == "trigger" else tail_loop())
    stop.set()
    await ticking
    result = {
        **figures,
        "lines": state["lines"],
        "line_bytes": state["line_bytes"],
        "in_order": state["in_order"],
        "log_requests": state["log_requests"],
        "other_lines": state["other_lines"],
        "bytes_received": counter.received,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "wall_seconds": time.monotonic() - started,
        "rss_growth_bytes": peak_rss_bytes() - rss_before,
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags, default=float("nan")),
        "longest_callback": timer.longest,
        "longest_callback_what": timer.longest_what,
        "longest_gc": timer.longest_gc,
        "longest_gc_cpu": timer.longest_gc_cpu,
        "gc_cpu_seconds": timer.gc_cpu,
        "full_collections": timer.full_collections,
    }
    await hook.aclose()
    return result


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
