"""Benchmark 1: many ``DominoJobTrigger``s in one asyncio loop, as Airflow's triggerer runs them.

For each variant a fresh emulator is started, N jobs (``sleep D``) are started, and a worker process
creates N triggers the way the triggerer does (rebuilt from ``serialize()``, each ``run()`` iterated in a
task of its own, ``cleanup()`` afterwards) and runs them until every one has fired. All N triggers start
at the same moment, as after a triggerer restart: the worst case for bursts.

Variants: ``ours`` (the provider's trigger, fetch_logs off and on), baseline (a) ``per_poll_client``,
baseline (b) ``threads`` (a thread per job, blocking requests, ``time.sleep``), ``pool64`` (the shared
client as it was before the provider gated it: 64 connections, no semaphore) and ``gatedN`` (a gated
pool of N connections; the provider's is ``ASYNC_POOL_SIZE``). See ``variants.py``.

The peers, each with its own package installed (``make bench`` installs them): ``databricks`` and
``dbt_cloud`` (their triggers against ``peer_stub.py``) and ``python_domino`` (python-domino's blocking
wait, a thread per job, against the emulator). With ``tls=True`` every variant runs over https with a
throwaway CA (``tls.py``) that the workers trust; ``dbt_cloud`` always does (its hook builds https URLs
only). Each result says which in ``scheme``.
"""

from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PROJECT,
    Emulator,
    Sampler,
    median,
    parse_iso,
    percentile,
    run_worker,
    worker_env,
    worker_main,
)
from tls import TlsFiles, make_certificates

VARIANTS = {
    # Per-job polling (no project id known to the trigger), as before coalescing.
    "ours": {"kind": "trigger", "trigger": "ours", "fetch_logs": False},
    "ours_logs": {"kind": "trigger", "trigger": "ours", "fetch_logs": True, "writing": True},
    # The same on httpx (the provider's client before aiohttp), same semaphore and pool.
    "ours_httpx": {
        "kind": "trigger",
        "trigger": "pool",
        "fetch_logs": False,
        "pool_size": 16,
        "gated": True,
        "library": "httpx",
    },
    # The same, on aiohttp (one shared session per loop, bounded connector, same semaphore and pool).
    "ours_aiohttp": {
        "kind": "trigger",
        "trigger": "pool",
        "fetch_logs": False,
        "pool_size": 16,
        "gated": True,
        "library": "aiohttp",
    },
    # Coalesced: triggers know their project; one watcher per project pages the active list.
    "coalesced": {"kind": "trigger", "trigger": "ours", "fetch_logs": False, "coalesce": True},
    "coalesced_aiohttp": {
        "kind": "trigger",
        "trigger": "pool",
        "fetch_logs": False,
        "pool_size": 16,
        "gated": True,
        "library": "aiohttp",
        "coalesce": True,
    },
    "coalesced_logs": {
        "kind": "trigger",
        "trigger": "ours",
        "fetch_logs": True,
        "coalesce": True,
        "writing": True,
    },
    # Logs on, and one of the jobs writes 1,000,000 lines (100 MB) while the others write a line every
    # half second; every line is logged at INFO, as a triggerer does.
    "coalesced_logs_big": {
        "kind": "trigger",
        "trigger": "ours",
        "fetch_logs": True,
        "coalesce": True,
        "writing": True,
        "big_log": True,
        "log_level": "INFO",
    },
    # The peers: apache-airflow-providers-databricks' DatabricksExecutionTrigger and
    # apache-airflow-providers-dbt-cloud's DbtCloudRunJobTrigger against stubs of their APIs, and
    # python-domino's job_start_blocking (a thread per job) against the emulator.
    "databricks": {"kind": "peer", "trigger": "databricks", "fetch_logs": False},
    "dbt_cloud": {"kind": "peer", "trigger": "dbt_cloud", "fetch_logs": False},
    "python_domino": {"kind": "threads", "wait": "python_domino", "fetch_logs": False},
    "per_poll_client": {"kind": "trigger", "trigger": "per_poll_client", "fetch_logs": False},
    "threads": {"kind": "threads", "fetch_logs": False},
    "pool64": {"kind": "trigger", "trigger": "pool", "fetch_logs": False, "pool_size": 64, "gated": False},
}


# The logs-on variants again without the provider's one-time freeze of the triggerer's start-up heap
# (``triggers.startup_heap``): every full garbage collection walks Airflow's objects too.
for _name in ("coalesced_logs", "coalesced_logs_big"):
    VARIANTS[f"{_name}_no_freeze"] = {
        **VARIANTS[_name],
        "env": {"AIRFLOW__DOMINO__TRIGGERER_GC_FREEZE": "False"},
    }


def variant_config(name: str) -> dict[str, Any]:
    """A variant's settings; ``gatedN`` is the shared client with a semaphore and a pool of N."""
    if name in VARIANTS:
        return VARIANTS[name]
    if name.startswith("gated") and name[5:].isdigit():
        return {
            "kind": "trigger",
            "trigger": "pool",
            "fetch_logs": False,
            "pool_size": int(name[5:]),
            "gated": True,
        }
    raise ValueError(f"unknown triggerer-scale variant {name!r}; known: {', '.join(VARIANTS)}, gatedN")


TICK = 0.05


#: A job that writes a few lines while it runs (for the logs-on variants). A shell with ``sleep``: a
#: thousand Python interpreters starting at once would swamp a 2-core machine before measuring began.
def writing_command(seconds: float) -> str:
    half = seconds / 2
    return f"echo started; sleep {half:g}; echo half-way; sleep {half:g}; echo done"


# ------------------------------------------------------------------------------------ orchestrator


def run_variant(
    name: str,
    *,
    triggers: int,
    job_seconds: float,
    poll: float,
    work_dir: Path,
    projects: int = 1,
    tls: TlsFiles | None = None,
) -> dict[str, Any]:
    """One variant against a fresh emulator (or peer stub), over https with ``tls``; returns worker
    figures plus request-log figures."""
    variant_dir = work_dir / name
    variant_dir.mkdir()
    settings = variant_config(name)
    if settings["kind"] == "peer":
        return _run_peer(
            name, triggers=triggers, job_seconds=job_seconds, poll=poll, work_dir=variant_dir, tls=tls
        )
    from log_tail import WRITER as BIG_WRITER

    files = {"biglog.py": BIG_WRITER}
    extra = ["--log-page-cap", "10000"] if settings.get("writing") else []
    with Emulator(
        variant_dir, project_files=files, projects_count=projects, extra_args=extra, tls=tls
    ) as emulator:
        warmup = emulator.start_jobs(["true"])[0]
        emulator.wait_until([warmup], {"Succeeded"}, timeout=30)
        command = writing_command(job_seconds) if settings.get("writing") else f"sleep {job_seconds:g}"
        job_projects = [emulator.project_ids[i % projects] for i in range(triggers)]
        commands = [command] * triggers
        if settings.get("big_log"):
            commands[0] = "python biglog.py 100 0.25"  # 1,000,000 lines of 100 bytes in 25 s
        job_ids = emulator.start_jobs(commands, projects=job_projects)
        started = emulator.wait_until(job_ids, {"Running"}, timeout=60)
        not_running = sum(1 for status in started.values() if status != "Running")
        emulator.process.clear_requests()
        config = {
            "name": name,
            **settings,
            "job_ids": job_ids,
            "job_projects": job_projects,
            "warmup_job": warmup,
            "poll": poll,
            "timeout": job_seconds + 120,
            "emulator_pid": emulator.pid,
            "project": "/".join((PROJECT[0], emulator.project_names[0])),
        }
        sampler = Sampler(emulator_port=emulator.process.port)
        result = run_worker(
            "triggerer_scale.py",
            config,
            work_dir=variant_dir,
            env=_env(variant_dir, emulator.url, settings, tls),
            timeout=job_seconds + 240,
            sampler=sampler,
        )
        requests = emulator.requests_for(job_ids)
        from request_phases import status_request_phases

        watched = set(job_ids)
        jobs = {job["id"]: job for job in emulator.process.jobs() if job["id"] in watched}
        result.update(status_request_phases(requests, jobs, poll))  # steady state vs each job's last read
    result.update(_request_figures(requests, job_ids, poll))
    result["scheme"] = _scheme(tls)
    return _finish(result, sampler, not_running, triggers, job_seconds, poll, projects)


def _scheme(tls: TlsFiles | None) -> str:
    return "https" if tls else "http"


def _env(variant_dir: Path, url: str, settings: dict[str, Any], tls: TlsFiles | None) -> dict[str, str]:
    env = worker_env(variant_dir / "airflow", url, tls)
    if settings.get("log_level"):
        env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = settings["log_level"]
    env.update(settings.get("env", {}))
    return env


def _finish(
    result: dict[str, Any],
    sampler: Any,
    not_running: int,
    triggers: int,
    job_seconds: float,
    poll: float,
    projects: int,
) -> dict[str, Any]:
    result["peak_open_connections"] = sampler.peak_connections
    wall = result["wall_seconds"]
    result["emulator_cpu_percent"] = 100 * result["emulator_cpu_seconds"] / wall
    # Whatever else kept the machine busy meanwhile: other processes, and kernel time no process is billed for.
    others = result["machine_busy_seconds"] - result["cpu_seconds"] - result["emulator_cpu_seconds"]
    result["rest_of_machine_cpu_percent"] = 100 * others / wall
    result["jobs_not_running_at_start"] = not_running
    result["triggers"] = triggers
    result["job_seconds"] = job_seconds
    result["poll"] = poll
    result["projects"] = projects
    return result


def _peer_connection(peer: str, port: int, tls: TlsFiles | None) -> tuple[str, dict[str, Any]]:
    """The Airflow connection (env var name, fields) that points a peer's hook at the stub."""
    if peer == "databricks":
        fields = {
            "conn_type": "databricks",
            "host": "127.0.0.1",
            "port": port,
            "schema": _scheme(tls),
            "password": "dapi-bench",
        }
        return "AIRFLOW_CONN_DATABRICKS_DEFAULT", fields
    # dbt Cloud: the host is the tenant, ``https://{tenant}/api/v2/accounts/{login}/...``.
    fields = {"conn_type": "dbt_cloud", "host": f"127.0.0.1:{port}", "login": "1", "password": "dbt-bench"}
    return "AIRFLOW_CONN_DBT_CLOUD_DEFAULT", fields


#: Peers whose hooks speak https only.
TLS_ONLY_PEERS = {"dbt_cloud"}


def _run_peer(
    name: str, *, triggers: int, job_seconds: float, poll: float, work_dir: Path, tls: TlsFiles | None
) -> dict[str, Any]:
    """A peer's trigger against ``peer_stub.py`` (same FastAPI/uvicorn stack as the emulator)."""
    import json
    import subprocess
    import time

    import requests
    from common import BENCH_DIR, PYTHON

    settings = variant_config(name)
    if tls is None and settings["trigger"] in TLS_ONLY_PEERS:
        tls = make_certificates(work_dir / "tls")
    port_file = work_dir / "stub.port"
    command = [PYTHON, str(BENCH_DIR / "peer_stub.py"), str(port_file)]
    if tls:
        command += ["--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)]
    stub = subprocess.Popen(command)
    session = requests.Session()
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline or stub.poll() is not None:
                raise RuntimeError(f"the {name} stub did not start")
            time.sleep(0.05)
        port = int(port_file.read_text())
        base = f"{_scheme(tls)}://127.0.0.1:{port}"
        verify = str(tls.ca) if tls else True
        for _ in range(200):
            try:
                session.get(f"{base}/_stub/requests", timeout=1, verify=verify)
                break
            except requests.ConnectionError:
                time.sleep(0.05)

        def stub_call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            response = session.request(method, base + path, timeout=10, verify=verify, **kwargs)
            response.raise_for_status()
            payload: dict[str, Any] = response.json()
            return payload

        warmup = stub_call("POST", "/_stub/runs", json={"count": 1, "seconds": 0})
        run_ids = stub_call("POST", "/_stub/runs", json={"count": triggers, "seconds": job_seconds + 5})[
            "run_ids"
        ]
        env = worker_env(work_dir / "airflow", tls=tls)
        env_name, fields = _peer_connection(settings["trigger"], port, tls)
        env[env_name] = json.dumps(fields)
        before = stub_call("GET", "/_stub/requests")["requests"]
        config = {
            "name": name,
            **settings,
            "kind": "trigger",
            "job_ids": [str(run_id) for run_id in run_ids],
            "job_projects": [None] * triggers,
            "warmup_job": str(warmup["run_ids"][0]),
            "poll": poll,
            "timeout": job_seconds + 120,
            "emulator_pid": stub.pid,
        }
        sampler = Sampler(emulator_port=port)
        result = run_worker(
            "triggerer_scale.py",
            config,
            work_dir=work_dir,
            env=env,
            timeout=job_seconds + 240,
            sampler=sampler,
        )
        served = stub_call("GET", "/_stub/requests")["requests"] - before
    finally:
        session.close()  # uvicorn's graceful shutdown waits for idle keep-alive connections
        stub.terminate()
        try:
            stub.wait(timeout=20)
        except subprocess.TimeoutExpired:
            stub.kill()
            stub.wait()
    result.update(
        {
            "requests": served,
            "status_polls": served,
            "status_requests": served,
            "request_statuses": {},
            "poll_gap_median": float("nan"),
            "poll_gap_p99": float("nan"),
            "scheme": _scheme(tls),
        }
    )
    return _finish(result, sampler, 0, triggers, job_seconds, poll, 1)


def _request_figures(requests: list[dict[str, Any]], job_ids: list[str], poll: float) -> dict[str, Any]:
    by_job: dict[str, list[float]] = {job_id: [] for job_id in job_ids}
    statuses: dict[str, int] = {}
    status_polls = 0
    status_requests = 0  # get_job and list_jobs: what tells a trigger its job's status
    for entry in requests:
        statuses[str(entry["status"])] = statuses.get(str(entry["status"]), 0) + 1
        if entry["endpoint"] in ("get_job", "get_v4_job", "list_jobs"):
            status_requests += 1
        if entry["endpoint"] in ("get_job", "get_v4_job"):  # v4: python-domino's job route
            status_polls += 1
            by_job[entry["job_id"]].append(parse_iso(entry["time"]))
    gaps: list[float] = []
    for times in by_job.values():
        times.sort()
        gaps.extend(later - earlier for earlier, later in itertools.pairwise(times))
    return {
        "requests": len(requests),
        "status_polls": status_polls,
        "status_requests": status_requests,
        "request_statuses": statuses,
        "poll_gap_median": median(gaps),
        "poll_gap_p99": percentile(gaps, 99),
    }


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """Per-trigger figures from one variant's raw figures."""
    triggers = result["triggers"]
    poll = result["poll"]
    # Each trigger's nominal intervals: its time from start to event, divided by the poll interval.
    # On schedule, a trigger that fired after T seconds polled at 0, P, 2P, ... T: 1 + T / P times.
    scheduled = sum(1 + seconds / poll for seconds in result["trigger_seconds"])
    polls = result["status_polls"] or 1
    intervals = scheduled or 1
    return {
        # Per trigger and poll interval (the coalesced variants' unit: one list serves many triggers).
        "status_requests_per_trigger_interval": result["status_requests"] / intervals,
        "requests_per_trigger_interval": result["requests"] / intervals,
        "cpu_ms_per_trigger_interval": 1000 * result["cpu_seconds"] / intervals,
        "longest_callback_ms": 1000 * result.get("longest_callback", float("nan")),
        "steady_longest_callback_ms": 1000 * result.get("steady_longest_callback", float("nan")),
        "longest_gc_cpu_ms": 1000 * result.get("longest_gc_cpu", float("nan")),
        "gc_cpu_share": result.get("gc_cpu_seconds", float("nan")) / (result["cpu_seconds"] or 1),
        "full_collections": result.get("full_collections"),
        "tracked_objects": result.get("tracked_objects"),
        "projects": result.get("projects", 1),
        # About 1.0 when every trigger keeps its schedule; below 1 when triggers fall behind it.
        "polls_per_interval": result["status_polls"] / scheduled if scheduled else float("nan"),
        # HTTP requests per trigger per interval, i.e. per poll cycle: the request-count target.
        "requests_per_poll": result["requests"] / polls,
        "cpu_ms_per_poll": 1000 * result["cpu_seconds"] / polls,
        "rss_kib_per_trigger": result["rss_growth_bytes"] / triggers / 1024,
        "rss_growth_mib": result["rss_growth_bytes"] / 2**20,
        "tcp_opened": result["tcp_opened"],
        "peak_open_connections": result["peak_open_connections"],
        "lag_p99_ms": 1000 * result["lag_p99"],
        "lag_max_ms": 1000 * result["lag_max"],
        "steady_lag_p99_ms": 1000 * result["steady_lag_p99"],
        "worker_cpu_percent": 100 * result["cpu_seconds"] / result["wall_seconds"],
        "emulator_cpu_percent": result["emulator_cpu_percent"],
        "rest_of_machine_cpu_percent": result["rest_of_machine_cpu_percent"],
        "poll_gap_median": result["poll_gap_median"],
        "poll_gap_p99": result["poll_gap_p99"],
        "events": result["events"],
        "polls": result["status_polls"],
        "requests": result["requests"],
        "wall_seconds": result["wall_seconds"],
        "scheme": result.get("scheme", "http"),
    }


def run(
    *,
    triggers: int,
    job_seconds: float,
    poll: float,
    work_dir: Path,
    variants: list[str],
    log: Any,
    projects: int = 1,
    tls: bool = False,
) -> dict[str, Any]:
    """Every variant in turn, each against its own fresh server; over https with a throwaway CA if ``tls``."""
    results = {}
    tls_files = make_certificates(work_dir / "tls") if tls else None
    for name in variants:
        log(
            f"  triggerer scale: {name} ({triggers} triggers over {projects} project(s), jobs of "
            f"{job_seconds:g} s, poll {poll:g} s{', https' if tls else ''}); "
            f"load {' '.join(f'{x:.2f}' for x in __import__('os').getloadavg())}"
        )
        raw = run_variant(
            name,
            triggers=triggers,
            job_seconds=job_seconds,
            poll=poll,
            work_dir=work_dir,
            projects=projects,
            tls=tls_files,
        )
        results[name] = {"raw": raw, **summarize(raw)}
        figures = results[name]
        log(
            f"    status req/trigger/interval {figures['status_requests_per_trigger_interval']:.3f}, "
            f"all req/trigger/interval {figures['requests_per_trigger_interval']:.3f}, "
            f"CPU ms/trigger/interval {figures['cpu_ms_per_trigger_interval']:.3f}, "
            f"longest callback {figures['longest_callback_ms']:.0f} ms CPU "
            f"(after start-up {figures['steady_longest_callback_ms']:.0f} ms), "
            f"{figures['polls']} polls ({figures['polls_per_interval']:.2f} of schedule), "
            f"{figures['requests_per_poll']:.2f} req/poll, median gap {figures['poll_gap_median']:.2f} s,"
            f" {figures['cpu_ms_per_poll']:.2f} CPU ms/poll, {figures['rss_kib_per_trigger']:.0f} KiB/trigger,"
            f" {figures['tcp_opened']} TCP opened, lag p99 {figures['lag_p99_ms']:.0f} ms"
            f" (steady {figures['steady_lag_p99_ms']:.0f} ms),"
            f" worker CPU {figures['worker_cpu_percent']:.0f}%, emulator CPU {figures['emulator_cpu_percent']:.0f}%,"
            f" rest of machine {figures['rest_of_machine_cpu_percent']:.0f}%, {figures['scheme']},"
            f" events {figures['events']};"
            f" GC: longest {figures['longest_gc_cpu_ms']:.0f} ms CPU, {figures['full_collections']} full,"
            f" {100 * figures['gc_cpu_share']:.0f}% of CPU, {figures['tracked_objects']} objects tracked;"
            f" longest callback was {raw.get('longest_callback_what', '')[:100]}"
        )
    return results


# ------------------------------------------------------------------------------------------ worker


def _worker(config: dict[str, Any]) -> dict[str, Any]:
    import airflow.sdk  # noqa: F401 - loaded before the baseline, as in a running triggerer
    from common import CallbackTimer, ConnectionCounter

    counter = ConnectionCounter().install()
    config["_timer"] = CallbackTimer().install()
    if config["kind"] == "threads":
        return _threads_worker(config, counter)
    import asyncio

    return asyncio.run(_trigger_worker(config, counter))


def _trigger_class(config: dict[str, Any]) -> Any:
    from variants import PerPollClientTrigger, PoolTrigger, configure_pool

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    if config["trigger"] == "pool":
        configure_pool(config["pool_size"], config["gated"], config.get("library", "httpx"))
    if config["trigger"] == "databricks":
        from airflow.providers.databricks.triggers.databricks import DatabricksExecutionTrigger

        return DatabricksExecutionTrigger
    if config["trigger"] == "dbt_cloud":
        from airflow.providers.dbt.cloud.triggers.dbt import DbtCloudRunJobTrigger

        return DbtCloudRunJobTrigger
    return {"ours": DominoJobTrigger, "per_poll_client": PerPollClientTrigger, "pool": PoolTrigger}[
        config["trigger"]
    ]


async def _trigger_worker(config: dict[str, Any], counter: Any) -> dict[str, Any]:
    import asyncio
    import time

    from common import (
        cpu_seconds,
        machine_busy_seconds,
        peak_rss_bytes,
        process_cpu_seconds,
        reset_peak_rss,
        rss_bytes,
    )

    trigger_class = _trigger_class(config)
    poll = config["poll"]

    projects = dict(zip(config["job_ids"], config["job_projects"], strict=True))
    projects[config["warmup_job"]] = config["job_projects"][0]  # warm up the coalesced path too

    def build(job_id: str) -> Any:
        # As the triggerer does: the operator serializes the trigger, the triggerer rebuilds it.
        if config["trigger"] == "databricks":
            made = trigger_class(int(job_id), "databricks_default", polling_period_seconds=poll)
        elif config["trigger"] == "dbt_cloud":
            made = trigger_class(
                conn_id="dbt_cloud_default",
                run_id=int(job_id),
                end_time=time.time() + config["timeout"],
                poll_interval=poll,
                account_id=None,  # from the connection's login, as the operator leaves it by default
            )
        else:
            project = projects.get(job_id) if config.get("coalesce") else None
            made = trigger_class(
                job_id, poll_interval=poll, fetch_logs=config["fetch_logs"], project_id=project
            )
        _, kwargs = made.serialize()
        return trigger_class(**kwargs)

    async def drive(trigger: Any, events: list[Any], started: float) -> None:
        try:
            async for event in trigger.run():
                job_id = getattr(trigger, "job_id", None) or str(getattr(trigger, "run_id", ""))
                status = event.payload.get("status") or event.payload.get("run_state", "event")
                events.append((job_id, str(status)[:20], time.monotonic() - started))
        finally:
            await trigger.cleanup()

    # Warm-up: one full trigger run against a finished job loads every lazily imported module.
    await drive(build(config["warmup_job"]), [], time.monotonic())
    counter.opened = 0
    reset_peak_rss()
    rss_before = rss_bytes()
    cpu_before = cpu_seconds()
    busy_before = machine_busy_seconds()
    emulator_before = process_cpu_seconds(config["emulator_pid"])
    lags: list[tuple[float, float]] = []
    stop = asyncio.Event()
    started = time.monotonic()
    timer = config.pop("_timer")
    timer.reset()
    import gc

    tracked_objects = len(gc.get_objects())  # what a full collection walks (before the triggers)

    steady_from = 2 * poll  # after the start-up burst (building every trigger is one step)
    census: dict[str, Any] = {}
    steady_longest = {"value": 0.0, "reset": False}

    async def ticker() -> None:
        while not stop.is_set():
            before = time.monotonic()
            await asyncio.sleep(TICK)
            lags.append((before - started, time.monotonic() - before - TICK))
            if not steady_longest["reset"] and before - started >= steady_from:
                steady_longest["reset"] = True
                if os.environ.get("BENCH_GC_CENSUS"):  # diagnosis only: walking the heap stalls
                    census["objects"] = _gc_census()
                steady_longest["value"] = timer.longest  # whole-run maximum so far, kept aside
                timer.longest = 0.0

    ticking = asyncio.create_task(ticker())
    events: list[Any] = []
    tasks = [asyncio.create_task(drive(build(job_id), events, started)) for job_id in config["job_ids"]]
    done, pending = await asyncio.wait(tasks, timeout=config["timeout"])
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    busy = machine_busy_seconds() - busy_before
    emulator_cpu = process_cpu_seconds(config["emulator_pid"]) - emulator_before
    stop.set()
    await ticking
    failures = [repr(task.exception()) for task in done if task.exception() is not None]
    statuses: dict[str, int] = {}
    for _, status, _ in events:
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "machine_busy_seconds": busy,
        "emulator_cpu_seconds": emulator_cpu,
        "rss_before_bytes": rss_before,
        "rss_growth_bytes": peak_rss_bytes() - rss_before,
        "tcp_opened": counter.opened,
        **_lag_stats(lags, [seconds for _, _, seconds in events], poll),
        "longest_callback": max(timer.longest, steady_longest["value"]),
        "longest_callback_what": timer.longest_what,
        "longest_gc": timer.longest_gc,
        "longest_gc_cpu": timer.longest_gc_cpu,
        "gc_cpu_seconds": timer.gc_cpu,
        "full_collections": timer.full_collections,
        "tracked_objects": tracked_objects,
        **census,
        "steady_longest_callback": timer.longest if steady_longest["reset"] else float("nan"),
        "events": statuses,
        "unfinished": len(pending),
        "failures": failures[:5],
        "trigger_seconds": [seconds for _, _, seconds in events],
    }


def _blocking_wait(config: dict[str, Any]) -> Any:
    """``wait(job_id, poll, events)`` for one thread: baseline (b) or python-domino's own."""
    import functools
    import json
    import os

    from variants import blocking_poll, python_domino_wait

    if config.get("wait") != "python_domino":
        return blocking_poll
    conn = json.loads(os.environ["AIRFLOW_CONN_DOMINO_DEFAULT"])
    return functools.partial(
        python_domino_wait,
        host=conn["host"],
        api_key=conn["password"],
        project=config["project"],
        timeout=config["timeout"],
    )


def _gc_census() -> dict[str, Any]:
    """How many objects the collector tracks, and the most common types among them."""
    import collections
    import gc

    objects = gc.get_objects()
    kinds = collections.Counter(type(obj).__qualname__ for obj in objects)
    count = len(objects)
    del objects
    gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection would free now: garbage in reference cycles
    gc.collect()
    garbage = collections.Counter(type(obj).__qualname__ for obj in gc.garbage)
    garbage_count = len(gc.garbage)
    gc.garbage.clear()
    gc.set_debug(0)
    return {
        "count": count,
        "by_type": kinds.most_common(25),
        "garbage": garbage_count,
        "garbage_by_type": garbage.most_common(25),
    }


def _threads_worker(config: dict[str, Any], counter: Any) -> dict[str, Any]:
    import threading
    import time

    from common import (
        cpu_seconds,
        machine_busy_seconds,
        peak_rss_bytes,
        process_cpu_seconds,
        reset_peak_rss,
        rss_bytes,
    )

    wait = _blocking_wait(config)
    poll = config["poll"]
    warm: dict[str, tuple[float, str]] = {}
    wait(config["warmup_job"], poll, warm)
    counter.opened = 0
    reset_peak_rss()
    rss_before = rss_bytes()
    cpu_before = cpu_seconds()
    busy_before = machine_busy_seconds()
    emulator_before = process_cpu_seconds(config["emulator_pid"])
    lags: list[tuple[float, float]] = []
    stop = threading.Event()
    started_wall = time.time()
    started = time.monotonic()

    def ticker() -> None:
        # The closest thing to event-loop lag here: how late a sleeping thread wakes (GIL contention).
        while not stop.is_set():
            before = time.monotonic()
            time.sleep(TICK)
            lags.append((before - started, time.monotonic() - before - TICK))

    ticking = threading.Thread(target=ticker, daemon=True)
    ticking.start()
    events: dict[str, tuple[float, str]] = {}
    threads = [
        threading.Thread(target=wait, args=(job_id, poll, events), daemon=True)
        for job_id in config["job_ids"]
    ]
    for thread in threads:
        thread.start()
    deadline = started + config["timeout"]
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    busy = machine_busy_seconds() - busy_before
    emulator_cpu = process_cpu_seconds(config["emulator_pid"]) - emulator_before
    stop.set()
    ticking.join()
    statuses: dict[str, int] = {}
    for _, status in events.values():
        key = "success" if status.lower() == "succeeded" else "failed"
        statuses[key] = statuses.get(key, 0) + 1
    return {
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "machine_busy_seconds": busy,
        "emulator_cpu_seconds": emulator_cpu,
        "rss_before_bytes": rss_before,
        "rss_growth_bytes": peak_rss_bytes() - rss_before,
        "tcp_opened": counter.opened,
        **_lag_stats(lags, [when - started_wall for when, _ in events.values()], poll),
        "events": statuses,
        "unfinished": sum(1 for thread in threads if thread.is_alive()),
        "failures": [],
        "trigger_seconds": [when - started_wall for when, _ in events.values()],
    }


def _lag_stats(samples: list[tuple[float, float]], event_seconds: list[float], poll: float) -> dict[str, Any]:
    """Lag over the whole run, and in the steady state: after the start-up burst, before the first event."""
    lags = [lag for _, lag in samples]
    first_event = min(event_seconds, default=float("inf"))
    steady = [lag for at, lag in samples if 2 * poll <= at < first_event]
    return {
        "lag_p50": percentile(lags, 50),
        "lag_p99": percentile(lags, 99),
        "lag_max": max(lags, default=float("nan")),
        "steady_lag_p99": percentile(steady, 99),
        "steady_lag_max": max(steady, default=float("nan")),
        "steady_seconds": len(steady) * TICK,
    }


if __name__ == "__main__" and sys.argv[1:2] == ["--worker"]:
    worker_main(_worker)
