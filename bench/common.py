"""What every benchmark shares: the emulator, job starting, worker processes, sampling and statistics.

Each measured client runs in a worker process of its own (``python bench/<module>.py --worker cfg.json``)
so its CPU time and peak RSS are its own, not the orchestrator's or another variant's. The orchestrator
starts the emulator, starts the jobs, samples the worker's open TCP connections and the emulator's CPU
from outside, and reads the emulator's request log afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tls import TlsFiles

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
PYTHON = sys.executable
PROJECT = ("bench", "scale")
API_KEY = "bench-" + secrets.token_hex(12)
#: The id of the emulator's "Small" hardware tier (ids differ from names in the published shapes).
TIER_ID = "small-k8s"

# --------------------------------------------------------------------------------- environment


def worker_env(
    airflow_home: Path, emulator_url: str | None = None, tls: TlsFiles | None = None
) -> dict[str, str]:
    """Environment for worker processes: a private Airflow home, quiet logs, the connection by env var.

    With ``tls`` the worker trusts that CA alone (OpenSSL's default file and requests' bundle; the
    machine's certificate directory is left out), with verification on as usual.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("DOMINO_")}
    if tls is not None:
        env.pop("SSL_CERT_DIR", None)
        env.update(tls.client_env())
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
        PYTHONDONTWRITEBYTECODE="1",
    )
    if emulator_url:
        conn = {"conn_type": "domino", "host": emulator_url, "password": API_KEY}
        env["AIRFLOW_CONN_DOMINO_DEFAULT"] = json.dumps(conn)
    return env


def machine_info() -> dict[str, str]:
    """The machine and the versions the figures were measured with."""
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    names = (
        "apache-airflow",
        "httpx",
        "httpcore",
        "anyio",
        "h11",
        "requests",
        "urllib3",
        "tenacity",
        "uvicorn",
    )
    code = (
        "import importlib.metadata as m, platform, sys\n"
        f"print(platform.python_version(), *(m.version(name) for name in {names!r}))"
    )
    versions = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    info = {
        "cpus (nproc)": str(os.cpu_count()),
        "memory": f"{mem_gib:.1f} GiB",
        "cpu model": cpu,
        "kernel": platform.release(),
    }
    info.update(dict(zip(("python", *names), versions, strict=False)))
    return info


def provider_revision() -> str:
    """The commit the provider was measured at, and whether its files had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO_ROOT, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "airflow_provider_domino"],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = len(dirty.splitlines())
    return f"commit {commit}" + (
        f" plus uncommitted changes to {changed} provider file(s)" if changed else ""
    )


# ------------------------------------------------------------------------------------ emulator


class Emulator:
    """A fresh emulator process with one project, a high per-tier concurrency and helpers to start jobs."""

    def __init__(
        self,
        work_dir: Path,
        *,
        extra_args: Sequence[str] = (),
        project_files: dict[str, str] | None = None,
        projects_count: int = 1,
        tls: TlsFiles | None = None,
    ) -> None:
        """``tls``: serve https with that certificate (and trust its CA in the orchestrator's requests)."""
        from domino_emulator.harness import EmulatorProcess

        projects = work_dir / "projects"
        #: ``bench/scale`` first, then ``bench/scale1``, ``bench/scale2``...
        self.project_names = [PROJECT[1] + (str(i) if i else "") for i in range(projects_count)]
        for name in self.project_names:
            project_dir = projects / PROJECT[0] / name
            project_dir.mkdir(parents=True, exist_ok=True)
            (project_dir / "README.md").write_text("benchmark project\n")
            for file_name, text in (project_files or {}).items():
                (project_dir / file_name).write_text(text)
        self.process = EmulatorProcess(
            api_key=API_KEY,
            projects_dir=projects,
            work_dir=work_dir / "emulator",
            extra_args=["--max-concurrent-per-tier", "2000", *extra_args],
            ssl_certfile=tls.cert if tls else None,
            ssl_keyfile=tls.key if tls else None,
            ca_file=tls.ca if tls else None,
        )

    def __enter__(self) -> Emulator:
        self.process.start()
        self.url = self.process.url
        self.project_ids = [self.process.project_id(PROJECT[0], name) for name in self.project_names]
        self.project_id = self.project_ids[0]
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):  # the emulator may already be gone; close() still cleans up
            self.process.stop_all_jobs()
        self.process.close()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def start_jobs(
        self, commands: Sequence[str], *, threads: int = 4, projects: Sequence[str] | None = None
    ) -> list[str]:
        """Start one job per command (in order) and return their ids; ``projects[i]`` is job i's project."""
        import requests

        local = threading.local()
        url = f"{self.url}/api/jobs/v1/jobs"
        headers = {"X-Domino-Api-Key": API_KEY}

        def start(command: str, project_id: str) -> str:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            # A ``NewJobV1`` body with a tier id (the emulator's "Small" tier is ``small-k8s``).
            body = {"projectId": project_id, "runCommand": command, "hardwareTier": TIER_ID}
            response = session.post(url, headers=headers, json=body, timeout=60, verify=self.process.verify)
            response.raise_for_status()
            payload = response.json()
            return str(payload.get("job", payload)["id"])  # {job, metadata}, or a flat job

        with ThreadPoolExecutor(threads) as pool:
            return list(pool.map(start, commands, projects or [self.project_id] * len(commands)))

    def wait_until(self, job_ids: Iterable[str], statuses: set[str], timeout: float) -> dict[str, str]:
        """Wait (bounded) until every job has one of ``statuses``; returns the last status of each."""
        wanted = set(job_ids)
        deadline = time.monotonic() + timeout
        while True:
            current = {job["id"]: job["status"] for job in self.process.jobs() if job["id"] in wanted}
            if all(status in statuses for status in current.values()) or time.monotonic() > deadline:
                return current
            time.sleep(0.5)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.process.get_job(job_id)

    def job_log_size(self, job_id: str) -> int:
        """Size in bytes of a job's log, read from the emulator's job directory."""
        for job in self.process.jobs():
            if job["id"] == job_id:
                return (Path(job["workingDir"]).parent / "output.log").stat().st_size
        raise KeyError(job_id)

    def log_text(self, job_id: str) -> str:
        """A job's stdout and stderr as plain text, whatever shapes the emulator serves."""
        return self.process.job_log_text(job_id)

    def requests_for(self, job_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Recorded API requests whose path names one of ``job_ids`` (``job_id`` set), and the job list
        requests (``job_id`` None: one serves many jobs). Job routes: ``/api/jobs/beta/jobs/{id}...`` and
        python-domino's ``/v4/jobs/{id}``."""
        wanted = set(job_ids)
        found = []
        for entry in self.process.requests_log():
            parts = entry["path"].split("/")
            job_id = parts[3] if parts[1:3] == ["v4", "jobs"] and len(parts) > 3 else None
            job_id = parts[5] if len(parts) > 5 else job_id
            if job_id in wanted:
                entry["job_id"] = job_id
                found.append(entry)
            elif entry["endpoint"] == "list_jobs":
                entry["job_id"] = None
                found.append(entry)
        return found


# ------------------------------------------------------------------------------------- workers


@dataclass
class Sampler:
    """Samples, from outside, a worker's established TCP connections to the emulator (peak)."""

    emulator_port: int
    interval: float = 0.5
    peak_connections: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def watch(self, worker_pid: int) -> None:
        self._thread = threading.Thread(target=self._run, args=(worker_pid,), daemon=True)
        self._thread.start()

    def _run(self, worker_pid: int) -> None:
        import psutil

        try:
            worker = psutil.Process(worker_pid)
            while not self._stop.is_set():
                connections = worker.net_connections(kind="tcp")
                open_now = sum(
                    1
                    for conn in connections
                    if conn.raddr and conn.raddr.port == self.emulator_port and conn.status == "ESTABLISHED"
                )
                self.peak_connections = max(self.peak_connections, open_now)
                self._stop.wait(self.interval)
        except psutil.Error:
            return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_worker(
    script: str,
    config: dict[str, Any],
    *,
    work_dir: Path,
    env: dict[str, str],
    timeout: float,
    sampler: Sampler | None = None,
) -> dict[str, Any]:
    """Run ``bench/<script> --worker <config.json>`` and return the JSON it writes to ``config['out']``."""
    name = config.get("name", "worker")
    config_path = work_dir / f"{name}.config.json"
    out_path = work_dir / f"{name}.result.json"
    config = {**config, "out": str(out_path)}
    config_path.write_text(json.dumps(config))
    log_path = work_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [PYTHON, str(BENCH_DIR / script), "--worker", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO_ROOT,
        )
        if sampler is not None:
            sampler.watch(process.pid)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = -9
        finally:
            if sampler is not None:
                sampler.stop()
    if code != 0 or not out_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker {name} failed with exit code {code}:\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def start_worker(
    script: str, config: dict[str, Any], *, work_dir: Path, env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], Path, Path]:
    """Start a worker without waiting (for workers that must run side by side)."""
    name = config.get("name", "worker")
    config_path = work_dir / f"{name}.config.json"
    out_path = work_dir / f"{name}.result.json"
    config_path.write_text(json.dumps({**config, "out": str(out_path)}))
    log_path = work_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child owns it; closed when the handle is collected
    process = subprocess.Popen(
        [PYTHON, str(BENCH_DIR / script), "--worker", str(config_path)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=REPO_ROOT,
    )
    log.close()
    return process, out_path, log_path


def finish_worker(
    process: subprocess.Popen[bytes], out_path: Path, log_path: Path, timeout: float
) -> dict[str, Any]:
    try:
        code = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        code = -9
    if code != 0 or not out_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"worker {out_path.name} failed with exit code {code}:\n{tail}")
    result: dict[str, Any] = json.loads(out_path.read_text())
    return result


def wait_until_ready(ready_files: Iterable[Path], timeout: float = 120) -> None:
    """Orchestrator side of the start handshake: wait until every worker has warmed up."""
    deadline = time.monotonic() + timeout
    while not all(path.exists() for path in ready_files):
        if time.monotonic() > deadline:
            raise RuntimeError("workers did not get ready in time")
        time.sleep(0.05)


def signal_go(go_file: Path, job_ids: Sequence[str]) -> None:
    """Hand the job ids to waiting workers (written to a temporary name, then renamed: never half-read)."""
    staging = go_file.with_suffix(".tmp")
    staging.write_text("\n".join(job_ids))
    os.replace(staging, go_file)


def wait_for_go(ready_file: str, go_file: str, timeout: float = 120) -> list[str]:
    """Worker side of the handshake: say "warmed up", then wait for the job ids."""
    Path(ready_file).write_text("ready")
    go = Path(go_file)
    deadline = time.monotonic() + timeout
    while not go.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no job ids arrived")
        time.sleep(0.005)
    return go.read_text().split()


def worker_main(handler: Any) -> None:
    """Entry point of a worker: read the config, run ``handler(config)``, write its JSON result."""
    config = json.loads(Path(sys.argv[2]).read_text())
    result = handler(config)
    Path(config["out"]).write_text(json.dumps(result))


# ------------------------------------------------------------------------------- in-worker meters


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _status_kib(field_name: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field_name} not in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux >= 4.0), so imports don't count."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def peak_rss_bytes() -> int:
    """Peak RSS of this process image (``VmHWM``: kernel-tracked, not sampled, reset by ``exec``).

    Not ``ru_maxrss``: that survives ``exec`` and so includes the RSS of the parent at ``fork`` time.
    """
    return _status_kib("VmHWM") * 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process (the emulator), 0 if it is gone."""
    import psutil

    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores, all processes and the kernel), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ConnectionCounter:
    """Counts TCP connections opened by httpx (httpcore's AnyIO backend), requests (urllib3) and aiohttp."""

    def __init__(self) -> None:
        self._opened = 0
        self._aiohttp = AiohttpCounter()

    @property
    def opened(self) -> int:
        """Connections opened by httpx, requests and aiohttp together."""
        return self._opened + self._aiohttp.opened

    @opened.setter
    def opened(self, value: int) -> None:
        self._opened, self._aiohttp.opened = value, 0

    def install(self) -> ConnectionCounter:
        import httpcore._backends.anyio as anyio_backend
        import urllib3.connection

        self._aiohttp.install()
        counter = self
        original_connect = anyio_backend.AnyIOBackend.connect_tcp

        async def connect_tcp(backend: Any, *args: Any, **kwargs: Any) -> Any:
            counter._opened += 1
            return await original_connect(backend, *args, **kwargs)

        anyio_backend.AnyIOBackend.connect_tcp = connect_tcp  # type: ignore[method-assign,assignment]

        original_new_conn = urllib3.connection.HTTPConnection._new_conn

        def new_conn(connection: Any) -> Any:
            counter._opened += 1
            return original_new_conn(connection)

        urllib3.connection.HTTPConnection._new_conn = new_conn  # type: ignore[method-assign,assignment]
        return self


class CallbackTimer:
    """The longest single event-loop callback, in CPU time of the loop's thread: a stall this process
    caused itself, whatever the machine's load (wall-clock lag also counts time the process was not
    scheduled). Costs about a microsecond per callback; every variant pays it alike."""

    def __init__(self) -> None:
        self.longest = 0.0
        #: What the longest callback was (its handle's repr, shortened).
        self.longest_what = ""
        #: The longest garbage collection (any generation), in wall and in CPU time of this thread,
        #: the CPU spent in all collections, and how many full (generation 2) collections ran.
        self.longest_gc = 0.0
        self.longest_gc_cpu = 0.0
        self.gc_cpu = 0.0
        self.full_collections = 0
        self._gc_started = (0.0, 0.0)

    def reset(self) -> None:
        """Forget everything measured so far (after warm-up)."""
        self.longest, self.longest_what = 0.0, ""
        self.longest_gc = self.longest_gc_cpu = self.gc_cpu = 0.0
        self.full_collections = 0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = (time.perf_counter(), time.thread_time())
            return
        wall, cpu = time.perf_counter() - self._gc_started[0], time.thread_time() - self._gc_started[1]
        self.longest_gc = max(self.longest_gc, wall)
        self.longest_gc_cpu = max(self.longest_gc_cpu, cpu)
        self.gc_cpu += cpu
        if info.get("generation") == 2:
            self.full_collections += 1

    def install(self) -> CallbackTimer:
        import asyncio.events
        import gc

        gc.callbacks.append(self._on_gc)
        timer = self
        original_run = asyncio.events.Handle._run

        def run(handle: Any) -> None:
            started = time.thread_time()
            try:
                original_run(handle)
            finally:
                spent = time.thread_time() - started
                if spent > timer.longest:
                    timer.longest = spent
                    timer.longest_what = repr(handle)[:160]

        asyncio.events.Handle._run = run  # type: ignore[method-assign]
        return self


class AiohttpCounter:
    """Counts TCP connections aiohttp opens and bytes it receives (headers included)."""

    def __init__(self) -> None:
        self.opened = 0
        self.received = 0

    def install(self) -> AiohttpCounter:
        try:
            import aiohttp.client_proto
            import aiohttp.connector
        except ImportError:
            return self
        counter = self
        original_create = aiohttp.connector.TCPConnector._create_connection

        async def create(connector: Any, *args: Any, **kwargs: Any) -> Any:
            counter.opened += 1
            return await original_create(connector, *args, **kwargs)

        aiohttp.connector.TCPConnector._create_connection = create  # type: ignore[method-assign]
        original_received = aiohttp.client_proto.ResponseHandler.data_received

        def data_received(handler: Any, data: bytes) -> None:
            counter.received += len(data)
            original_received(handler, data)

        aiohttp.client_proto.ResponseHandler.data_received = data_received  # type: ignore[method-assign]
        return self


class ByteCounter:
    """Counts bytes httpx reads from its sockets (headers included): the real transfer size."""

    def __init__(self) -> None:
        self._httpx = 0
        self._aiohttp = AiohttpCounter()

    @property
    def received(self) -> int:
        """Bytes received by httpx and aiohttp together."""
        return self._httpx + self._aiohttp.received

    @received.setter
    def received(self, value: int) -> None:
        self._httpx, self._aiohttp.received = value, 0

    def install(self) -> ByteCounter:
        import httpcore._backends.anyio as anyio_backend

        self._aiohttp.install()
        counter = self
        original_read = anyio_backend.AnyIOStream.read

        async def read(stream: Any, max_bytes: int, timeout: float | None = None) -> bytes:
            data: bytes = await original_read(stream, max_bytes, timeout)
            counter._httpx += len(data)
            return data

        anyio_backend.AnyIOStream.read = read  # type: ignore[method-assign,assignment]
        return self


# ---------------------------------------------------------------------------------- statistics


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def parse_iso(text: str) -> float:
    """Epoch seconds from the emulator's ``2025-01-01T00:00:00.123Z`` timestamps."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


# ----------------------------------------------------------------------------------- temp dirs


class WorkDir:
    """A temporary directory for one benchmark, removed afterwards unless ``keep``."""

    def __init__(self, name: str, keep: bool = False) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"domino-bench-{name}-"))
        self.keep = keep

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)
