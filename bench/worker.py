"""The measured process: many triggers in one asyncio loop, as Airflow's triggerer runs them.

    python bench/worker.py CONFIG.json     # writes its figures to the config's "out" file

Every trigger is built with public parameters, serialized, and rebuilt from its classpath and kwargs (what
the triggerer does with a deferred task's trigger), then run in a task of its own until its event, and
cleaned up. First one trigger runs against a job that has already ended (the warm-up: lazy imports, the
HTTP client); then the measured run starts: every trigger at once, as after a triggerer restart, with a
lag sampler beside them. Triggers are created one at a time with a yield to the loop between two, as
the triggerer's ``TriggerRunner.create_triggers`` does. The run ends when the last trigger has fired.

Measured over the whole run: the process's CPU time (user + system, all threads, ``getrusage``), the wall
time, each trigger's seconds to its event, the event loop's lag (``stats.LagSampler``), and when each full
(oldest-generation) garbage collection ran (``stats.FullCollections``, an observer in ``gc.callbacks``).
Nothing here changes the garbage collector or any other process-wide setting, and ours and the peer run
alike, except in a run whose config says ``gc_freeze``: it calls ``gc.freeze()`` once after Airflow's
imports, before any trigger runs, as the deployment's opt-in in docs/triggerer.md does.

Config keys: ``client`` ("domino" or "databricks"), ``ids`` (job or run ids), ``projects`` (a project id
per job, or null: per-job polling), ``poll``, ``fetch_logs``, ``warmup_id``, ``timeout``, ``out``, and
``tls_check`` (run one trigger for a few seconds and say how it ended; see ``run.py``), ``gc_freeze``.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stats import FullCollections, LagSampler


def build(config: dict[str, Any], job_id: str, project_id: str | None) -> Any:
    """A trigger made with public parameters, then rebuilt from ``serialize()`` as the triggerer does."""
    if config["client"] == "databricks":
        from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger

        made: Any = DatabricksExecutionTrigger(
            run_id=int(job_id), databricks_conn_id="databricks_default", polling_period_seconds=config["poll"]
        )
    else:
        from airflow_provider_domino.triggers.domino import DominoJobTrigger

        made = DominoJobTrigger(
            job_id=job_id,
            domino_conn_id="domino_default",
            poll_interval=config["poll"],
            project_id=project_id,
            fetch_logs=config["fetch_logs"],
        )
    classpath, kwargs = made.serialize()
    module, name = classpath.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)(**kwargs)


def outcome(payload: dict[str, Any]) -> str:
    """The event's status: ours says ``status``; Databricks' carries a ``run_state`` JSON."""
    if "run_state" in payload:
        return str(json.loads(payload["run_state"]).get("result_state", "?")).lower()
    return str(payload.get("status", "?"))


async def drive(trigger: Any, started: float, events: list[tuple[float, str]]) -> None:
    try:
        async for event in trigger.run():
            events.append((time.monotonic() - started, outcome(event.payload)))
    finally:
        await trigger.cleanup()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def tls_check(config: dict[str, Any]) -> dict[str, Any]:
    """One trigger for ``timeout`` seconds against a server whose CA this process does not trust."""
    events: list[tuple[float, str]] = []
    started = time.time()
    try:
        await asyncio.wait_for(drive(build(config, config["ids"][0], None), 0.0, events), config["timeout"])
        said = f"event: {events[0][1] if events else 'none'}"
    except asyncio.TimeoutError:
        said = f"no event within {config['timeout']:g} s"
    except Exception as err:
        said = f"raised {type(err).__name__}: {str(err)[:200]}"
    return {"start_epoch": started, "outcome": said}


async def measure(config: dict[str, Any]) -> dict[str, Any]:
    import airflow.sdk  # noqa: F401 - imported before measuring, as in a running triggerer

    if config.get("gc_freeze"):
        gc.freeze()  # the deployment's opt-in (docs/triggerer.md), never the provider's
    if config.get("tls_check"):
        return await tls_check(config)
    await drive(build(config, config["warmup_id"], (config["projects"] or [None])[0]), time.monotonic(), [])

    sampler = LagSampler()
    with FullCollections() as full:
        sampling = asyncio.create_task(sampler.run())
        events: list[tuple[float, str]] = []
        start_epoch, started, cpu_before = time.time(), time.monotonic(), cpu_seconds()
        projects = config["projects"] or [None] * len(config["ids"])
        tasks = []
        for job_id, project in zip(config["ids"], projects, strict=True):
            await asyncio.sleep(0)  # as the triggerer's ``create_triggers`` does between two triggers
            tasks.append(asyncio.create_task(drive(build(config, job_id, project), started, events)))
        done, pending = await asyncio.wait(tasks, timeout=config["timeout"])
        cpu, wall = cpu_seconds() - cpu_before, time.monotonic() - started
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        sampler.stop()
        await sampling
    # Both on ``time.monotonic``; the sampler counts from its own start.
    pauses = [(begin - sampler.started, end - sampler.started) for begin, end in full.spans]

    statuses: dict[str, int] = {}
    for _, status in events:
        statuses[status] = statuses.get(status, 0) + 1
    first_event = min((seconds for seconds, _ in events), default=wall)
    return {
        "start_epoch": start_epoch,
        "wall_s": wall,
        "cpu_s": cpu,
        "gc_full_collections": len(full.spans),
        "gc_full_longest_ms": full.longest_ms(),
        "event_seconds": [seconds for seconds, _ in events],
        "events": statuses,
        "unfinished": len(pending),
        "failures": [repr(task.exception())[:300] for task in done if task.exception() is not None][:3],
        **sampler.summary(steady_from=2 * config["poll"], steady_until=first_event, pauses=pauses),
    }


def main() -> None:
    config = json.loads(Path(sys.argv[1]).read_text())
    result = asyncio.run(measure(config))
    Path(config["out"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
