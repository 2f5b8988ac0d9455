"""Benchmark 4: tailing a job that writes ~100 MB of log while it runs.

The job (``writer.py`` in the project) writes 1,000,000 numbered 100-byte lines in 1 MB bursts. A
worker process tails it every ``poll`` seconds the way ``DominoJobTrigger`` does (status, then
``DominoHook.astream_log_lines`` from the saved offset: 1 MiB ``Range`` windows split by ``split_lines``,
``final`` once the job has ended) and counts the lines instead of logging them. Bytes transferred are
counted at the socket (``httpcore``'s stream reads, headers included); peak RSS growth is the kernel's
high-water mark (reset after warm-up) minus the RSS after warm-up; a 50-ms ticker task measures how long
the tail holds the event loop.

Variants: ``ours``; ``unbounded`` (one open ``Range: bytes=N-`` read per poll, as the provider did before
its bounded windows); the quadratic baseline (the whole log every poll); the bench prototype
``variants.stream_log_tail`` (splits lines while the response streams in); ``ours`` against a server
that ignores ``Range`` (emulator fault ``ignore_range``). The ``backlog`` variants start tailing only
after the job has written everything, so one poll must take the whole log, as after a triggerer restart
or for a trigger created late. The ``trigger`` variants run the real ``DominoJobTrigger`` (and the
prototypes ``YieldingLogTrigger`` and ``StreamedLogTrigger``) with every line logged through Airflow's
logging at INFO.
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

#: name -> (worker mode, backlog?, server ignores Range?)
VARIANTS = {
    "ours": ("ours", False, False),
    "unbounded": ("unbounded", False, False),
    "quadratic": ("quadratic", False, False),
    "streamed": ("streamed", False, False),
    "trigger": ("trigger", False, False),
    "trigger_yielding": ("trigger_yielding", False, False),
    "trigger_streamed": ("trigger_streamed", False, False),
    "ours_no_range": ("ours", False, True),
    "backlog_ours": ("ours", True, False),
    "backlog_unbounded": ("unbounded", True, False),
    "backlog_streamed": ("streamed", True, False),
}


def run(
    *, bursts: int, pause: float, poll: float, work_dir: Path, variants: list[str], log: Any
) -> dict[str, Any]:
    log_bytes = bursts * LINES_PER_BURST * LINE_BYTES
    log(
        f"  log tail: {log_bytes / 1e6:.0f} MB written in {bursts} bursts, {pause:g} s apart; poll {poll:g} s"
    )
    results: dict[str, Any] = {"log_bytes": log_bytes, "lines": bursts * LINES_PER_BURST, "poll": poll}
    with Emulator(work_dir, project_files={"writer.py": WRITER}) as emulator:
        warmup = emulator.start_jobs(["echo warm-up"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        backlog_job = None
        for name in variants:
            mode, backlog, no_range = VARIANTS[name]
            emulator.process.set_faults({"ignore_range": no_range})
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
            if mode.startswith("trigger"):
                figures["complete"] = figures["final_offset"] == size == log_bytes
            else:
                figures["complete"] = (
                    figures["lines"] == results["lines"] and figures["line_bytes"] == size == log_bytes
                ) and figures["in_order"]
            results[name] = figures
            largest = figures["largest_poll_bytes"]
            log(
                f"    {name}: {figures['bytes_received'] / 1e6:.1f} MB received "
                f"({figures['bytes_received'] / log_bytes:.3f} x log), peak RSS +{figures['rss_growth_bytes'] / 2**20:.1f} MiB, "
                f"largest poll {largest / 1e6 if largest else float('nan'):.1f} MB, CPU {figures['cpu_seconds']:.2f} s, "
                f"loop lag max {figures['lag_max'] * 1000:.0f} ms, complete: {figures['complete']}"
            )
        emulator.process.clear_faults()
    return results


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    return asyncio.run(_tail(config))


async def _tail(config: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from common import ByteCounter, cpu_seconds, peak_rss_bytes, percentile, reset_peak_rss, rss_bytes
    from variants import StreamedLogTrigger, YieldingLogTrigger, stream_log_tail

    from airflow_provider_domino.api import endpoints
    from airflow_provider_domino.api.log_lines import split_lines
    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    counter = ByteCounter().install()
    hook = DominoHook(caller="log-tail-bench")
    mode, job_id, poll = config["mode"], config["job_id"], config["poll"]
    state: dict[str, Any] = {"lines": 0, "line_bytes": 0, "in_order": True, "last": None}

    def take(lines: list[str]) -> None:
        state["lines"] += len(lines)
        state["line_bytes"] += sum(len(line) + 1 for line in lines)
        if lines:
            state["last"] = lines[-1]

    def take_one(line: str) -> None:
        state["lines"] += 1
        state["line_bytes"] += len(line) + 1
        state["last"] = line

    async def poll_once(offset: int, final: bool) -> int:
        if mode == "ours":
            return await hook.astream_log_lines(job_id, offset, final=final, emit=take_one)
        if mode == "unbounded":
            chunk = await hook.aget_job_log_tail(job_id, offset)
            lines = split_lines(chunk, final=final)
            take(lines.lines)
            return lines.next_offset
        if mode == "quadratic":
            # The whole log as text every time; keep what lies past the characters already consumed.
            text: str = await hook._async.send(endpoints.get_job_logs(job_id))
            new = text[offset:]
            cut = len(new) if final else new.rfind("\n") + 1
            fresh = new[:cut].split("\n")
            take(fresh[:-1] if fresh and fresh[-1] == "" else fresh)
            return offset + cut
        return await stream_log_tail(hook, job_id, offset, final=final, on_line=take_one)

    async def tail_loop() -> dict[str, Any]:
        offset, polls, largest = 0, 0, 0
        while True:
            job = await hook.aget_job(job_id)
            final = job.status.is_terminal
            before = counter.received
            offset = await poll_once(offset, final)
            if state["last"] is not None:  # lines are numbered from 0: the last one seen is the count - 1
                state["in_order"] = state["in_order"] and int(state["last"][:9]) == state["lines"] - 1
            polls += 1
            largest = max(largest, counter.received - before)
            if final:
                return {"polls": polls, "largest_poll_bytes": largest, "final_offset": offset}
            await asyncio.sleep(poll)

    async def run_trigger() -> dict[str, Any]:
        # The real trigger, logging every line through Airflow's logging (level INFO for this worker).
        trigger_class = {"trigger_streamed": StreamedLogTrigger, "trigger_yielding": YieldingLogTrigger}.get(
            mode, DominoJobTrigger
        )
        _, kwargs = trigger_class(job_id, poll_interval=poll, fetch_logs=True).serialize()
        trigger = trigger_class(**kwargs)
        payload: dict[str, Any] = {}
        try:
            async for event in trigger.run():
                payload = event.payload
        finally:
            await trigger.cleanup()
        return {"polls": None, "largest_poll_bytes": None, "final_offset": payload.get("log_offset")}

    # Warm-up on a finished job: connection, client and every lazily imported module.
    await hook.aget_job(config["warmup_job"])
    await hook.aget_job_log_tail(config["warmup_job"], 0)
    await stream_log_tail(hook, config["warmup_job"], 0, final=True, on_line=lambda line: None)
    counter.received = 0
    lags: list[float] = []
    stop = asyncio.Event()

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
    figures = await (run_trigger() if mode.startswith("trigger") else tail_loop())
    stop.set()
    await ticking
    if mode.startswith("trigger"):
        # Lines went to the task log, not to counters: completeness is judged by the final offset.
        state.update(lines=-1, line_bytes=figures["final_offset"] or 0)
    result = {
        **figures,
        "lines": state["lines"],
        "line_bytes": state["line_bytes"],
        "in_order": state["in_order"],
        "bytes_received": counter.received,
        "cpu_seconds": cpu_seconds() - cpu_before,
        "wall_seconds": time.monotonic() - started,
        "rss_growth_bytes": peak_rss_bytes() - rss_before,
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags, default=float("nan")),
    }
    await hook.aclose()
    return result


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
