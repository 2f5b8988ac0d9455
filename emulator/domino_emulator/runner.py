"""Runs job commands as real subprocesses and supervises them without polling.

Each job runs through ``/bin/sh`` in its own session (so it has its own process group the
emulator can kill as a whole, and so it survives an emulator crash), with stdout and stderr
appended to a file each (``joblogs`` turns them into Domino's timestamped entries). Before
the command starts, the runner writes a few setup lines to the job's ``prepareOutput``
stream, as Domino does while it pulls the image and checks out the files. A small wrapper
script writes the command's exit code to a file in the job directory: a restarted emulator
reads it for jobs that finished while it was down. Exits are detected through Linux pidfds
registered with the event loop, so no thread or busy loop spins per job; if pidfds are
unavailable a single 50 ms poller takes over.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domino_emulator import shapes
from domino_emulator.joblogs import PREPARE_OUTPUT, STDERR, STDOUT, STREAM_FILES, JobLog
from domino_emulator.models import (
    ERROR,
    FAILED,
    PENDING,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    Job,
    epoch_ms_from_iso,
    utc_now_iso,
)
from domino_emulator.processes import (
    is_alive,
    live_group_members,
    signal_group,
    start_time_of,
)

if TYPE_CHECKING:
    from domino_emulator.projects import CommitStore
    from domino_emulator.settings import EmulatorSettings
    from domino_emulator.store import StateStore

logger = logging.getLogger("domino_emulator")

STOPPED_LINE = "Job stopped by user request"
SHUTDOWN_LINE = "Job failed: the Domino emulator shut down while the job was running"
LOST_LINE = "Job process was lost when the emulator restarted"
NO_EXIT_CODE_LINE = "Job process ended without reporting an exit code"

#: Grace period between SIGTERM and SIGKILL when stopping a job, as Domino gives its runs.
STOP_GRACE_SECONDS = 3.0

# $1 is the user's command, $2 the exit-code file. The command runs in a nested shell so that
# an ``exit`` inside it cannot skip writing the code; the temp file + rename means a reader
# never sees a half-written number.
_WRAPPER = """/bin/sh -c "$1"
code=$?
printf '%s\\n' "$code" > "$2.tmp" && mv -f "$2.tmp" "$2"
exit "$code"
"""

#: The file a job writes its metrics to, in its working directory (Domino's convention).
DOMINO_STATS_FILE = "dominostats.json"
MAX_STATS_BYTES = 64 * 1024
#: ``GitRefV1.refType`` values a Domino deployment accepts; any other fails the job in setup.
GIT_REF_TYPES = ("head", "branches", "tags", "commitId")


def _stat_text(value: Any) -> str:
    """A ``dominoStats`` value as the spec types it: a string (``0.91`` -> ``"0.91"``)."""
    if isinstance(value, bool):
        return str(value).lower()
    return value if isinstance(value, str) else json.dumps(value)


# 24-hex ObjectIds; ``job-`` and 12 hex digits is what emulators before 0.2 gave, kept readable.
_JOB_ID = re.compile(r"^(?:[0-9a-f]{24}|job-[0-9a-f]{12})$")
_SCRUBBED_ENV = ("DOMINO_EMULATOR_API_KEY",)


@dataclass
class _ActiveJob:
    """Runtime bookkeeping of a job that holds a concurrency slot (starting or running)."""

    job_id: str
    tier: str
    pid: int | None = None
    popen: subprocess.Popen[bytes] | None = None
    pidfd: int | None = None
    stop_requested: bool = False
    terminating: bool = False
    exit_handled: bool = False
    exit_code: int | None = None
    #: ``(cpu seconds, peak resident KiB)`` of the job's process tree, when the runner reaped it.
    rusage: tuple[float, int] | None = None
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class JobRunner:
    """Starts queued jobs within the per-tier limit, watches them, and records how they ended."""

    def __init__(
        self, store: StateStore, commits: CommitStore, settings: EmulatorSettings, jobs_dir: Path
    ) -> None:
        self._store = store
        self._commits = commits
        self._settings = settings
        self._jobs_dir = jobs_dir
        self._jobs_dir.mkdir(parents=True, exist_ok=True)
        self._queues: dict[str, deque[str]] = {}
        self._active: dict[str, _ActiveJob] = {}
        self._running_per_tier: Counter[str] = Counter()
        self._polled: set[str] = set()
        self._poll_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._logs: dict[str, JobLog] = {}
        self._closing = False

    # ------------------------------------------------------------------ paths
    def job_dir(self, job_id: str) -> Path:
        """The directory holding a job's log, exit code and working directory."""
        if not _JOB_ID.match(job_id):
            raise ValueError(f"invalid job id {job_id!r}")
        return self._jobs_dir / job_id

    def job_log(self, job_id: str) -> JobLog:
        """The job's log, brought up to date with whatever the job printed so far."""
        log = self._logs.get(job_id)
        if log is None:
            log = self._logs[job_id] = JobLog(self.job_dir(job_id))
        job = self._store.job(job_id)
        log.ingest(
            final=job is not None and job.is_terminal,
            lines_per_timestamp=self._settings.lines_per_timestamp,
        )
        return log

    def log_path(self, job_id: str) -> Path:
        """The plain-text stdout+stderr log of a job (may not exist yet for a Pending job)."""
        return self.job_log(job_id).combined_path

    def working_dir(self, job_id: str) -> Path:
        """Where the job's command runs, populated from its input commit."""
        return self.job_dir(job_id) / "work"

    def _exit_code_path(self, job_id: str) -> Path:
        return self.job_dir(job_id) / "exit_code"

    def running_on(self, tier_id: str) -> int:
        """How many jobs hold a slot of ``tier_id`` right now."""
        return self._running_per_tier[tier_id]

    def queued_on(self, tier_id: str) -> int:
        """How many jobs wait for a slot of ``tier_id``."""
        return len(self._queues.get(tier_id, ()))

    def waiting_for_capacity(self, job: Job) -> dict[str, str] | None:
        """``queuedJobStatusDetails`` of a job queued behind its tier's limit, else None."""
        if job.status != PENDING or job.id not in self._queues.get(job.hardware_tier_id, ()):
            return None
        if self._running_per_tier[job.hardware_tier_id] < self._settings.max_concurrent_per_tier:
            return None  # about to start
        tier = self._settings.tier_by_id(job.hardware_tier_id)
        return shapes.queued_details(tier, job.hardware_tier_id, self._settings.max_concurrent_per_tier)

    def pid_of(self, job_id: str) -> int | None:
        """The pid of a running job's process group leader, or None."""
        active = self._active.get(job_id)
        return active.pid if active else None

    # -------------------------------------------------------------- lifecycle
    async def recover(self) -> None:
        """Resume after a restart: adopt live job processes, settle dead ones, requeue Pending jobs."""
        jobs = self._store.all_jobs()
        # Running jobs first: adopted processes must hold their slots before queued jobs start.
        for job in jobs:
            if job.status == RUNNING:
                await self._recover_running(job)
        for job in jobs:
            if job.status == PENDING:
                self._queues.setdefault(job.hardware_tier_id, deque()).append(job.id)
        self._pump()

    async def _recover_running(self, job: Job) -> None:
        if job.pid is not None and is_alive(job.pid, job.pid_start_time):
            logger.info("Adopting job %s (pid %s) that outlived the previous emulator", job.id, job.pid)
            active = _ActiveJob(job.id, job.hardware_tier_id, pid=job.pid)
            self._claim_slot(active)
            self._watch(active)
            return
        exit_code = self._read_exit_code(job.id)
        if exit_code is None:
            await self._complete(job, None, FAILED, None, LOST_LINE)
        else:
            await self._complete(job, None, SUCCEEDED if exit_code == 0 else FAILED, exit_code, None)

    def submit(self, job: Job) -> None:
        """Queue a stored Pending job; it starts as soon as its tier has a free slot."""
        self._queues.setdefault(job.hardware_tier_id, deque()).append(job.id)
        asyncio.get_running_loop().call_soon(self._pump)

    async def stop(self, job: Job) -> Job:
        """Stop a job the way Domino's stop endpoint does; a terminal job is returned unchanged."""
        if job.is_terminal:
            return job
        active = self._active.get(job.id)
        if active is None:
            queue = self._queues.get(job.hardware_tier_id)
            if queue is not None and job.id in queue:
                queue.remove(job.id)
            await self._complete(job, None, STOPPED, None, STOPPED_LINE)
            return job
        active.stop_requested = True
        if active.pid is not None:
            await self._terminate(active)
        await active.finished.wait()
        return job

    async def shutdown(self) -> None:
        """Kill every running job and mark it Failed: nothing may outlive a graceful shutdown."""
        self._closing = True
        actives = list(self._active.values())
        await asyncio.gather(*(self._terminate(active) for active in actives if active.pid is not None))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(active.finished.wait() for active in actives)), timeout=30
            )
        if self._poll_task is not None:
            self._poll_task.cancel()

    # ------------------------------------------------------------- scheduling
    def _claim_slot(self, active: _ActiveJob) -> None:
        self._active[active.job_id] = active
        self._running_per_tier[active.tier] += 1

    def _release_slot(self, active: _ActiveJob) -> None:
        if self._active.pop(active.job_id, None) is not None:
            self._running_per_tier[active.tier] -= 1

    def _pump(self) -> None:
        """Start queued jobs, oldest first, while their tier is under the concurrency limit."""
        if self._closing:
            return
        limit = self._settings.max_concurrent_per_tier
        for tier, queue in self._queues.items():
            while queue and self._running_per_tier[tier] < limit:
                job = self._store.job(queue.popleft())
                if job is None or job.status != PENDING:
                    continue
                active = _ActiveJob(job.id, tier)
                self._claim_slot(active)
                self._spawn(self._start(job, active))

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --------------------------------------------------------------- starting
    async def _start(self, job: Job, active: _ActiveJob) -> None:
        try:
            await asyncio.to_thread(self._prepare_job_dir, job)
        except Exception as exc:
            logger.exception("Could not prepare the working directory of job %s", job.id)
            await self._complete(job, active, ERROR, None, f"Job could not be started: {exc}")
            return
        if self._closing:
            # Leave it Pending: a restart with the same state file will start it.
            self._release_slot(active)
            active.finished.set()
            return
        if active.stop_requested:
            await self._complete(job, active, STOPPED, None, STOPPED_LINE)
            return
        try:
            popen = self._launch(job)
        except OSError as exc:
            logger.warning("Could not start job %s: %s", job.id, exc)
            await self._complete(job, active, ERROR, None, f"Job could not be started: {exc}")
            return
        active.popen = popen
        active.pid = popen.pid
        job.status = RUNNING
        job.started_at = utc_now_iso()
        job.pid = popen.pid
        job.pid_start_time = start_time_of(popen.pid)
        self._store.save_job(job)
        logger.info("Job %s running (pid %s): %s", job.id, popen.pid, job.command)
        self._watch(active)

    def _prepare_job_dir(self, job: Job) -> None:
        ref = job.options.get("mainRepoGitRef")
        if isinstance(ref, dict) and ref.get("refType") not in GIT_REF_TYPES:
            raise ValueError(f"Unknown reference type '{ref.get('refType')}'")
        work = self.working_dir(job.id)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        tier = self._settings.tier_by_id(job.hardware_tier_id)
        tier_text = f"{tier.name} ({tier.id})" if tier else job.hardware_tier_id
        options = job.options
        setup = [f"Preparing job #{job.number} on hardware tier {tier_text}"]
        revision = options.get("environmentRevisionSpec", "ActiveRevision")
        setup.append(f"Pulling image emulator/environment:{job.environment_id} ({revision}, already present)")
        ref = options.get("mainRepoGitRef")
        if isinstance(ref, dict):
            setup.append(f"Checking out git reference {ref.get('refType')} {ref.get('value') or ''}".rstrip())
        setup.append(f"Checking out commit {job.commit_id}")
        setup.extend(self._describe_cluster(options.get("computeCluster")))
        for name in ("externalVolumeMountIds", "netAppVolumeIds"):
            for volume_id in options.get(name, ()):
                setup.append(f"Mounting volume {volume_id}")
        if options.get("capacityType"):
            setup.append(f"Capacity type: {options['capacityType']}")
        self._commits.checkout(job.commit_id, work)
        setup.append("Project files are in place")
        setup.append("Starting the run command")
        directory = self.job_dir(job.id)
        with open(directory / STREAM_FILES[PREPARE_OUTPUT], "ab") as prepare:
            prepare.write("".join(line + "\n" for line in setup).encode())
        for stream in (STDOUT, STDERR):
            (directory / STREAM_FILES[stream]).touch()

    def _describe_cluster(self, cluster: Any) -> list[str]:
        """Setup lines of a compute cluster: the emulator records it and runs only the job's command."""
        if not isinstance(cluster, dict):
            return []
        workers = self._settings.tier_by_id(cluster.get("workerHardwareTier", ""))
        text = (
            f"Starting a {cluster.get('clusterType')} cluster: {cluster.get('workerCount')} worker(s) on "
            f"{workers.name if workers else cluster.get('workerHardwareTier')}"
        )
        if cluster.get("maxWorkerCount") is not None:
            text += f", autoscaling up to {cluster['maxWorkerCount']}"
        if cluster.get("masterHardwareTierId"):
            text += f", master on {cluster['masterHardwareTierId']}"
        return [text, "The cluster is emulated: the run command runs alone, with the cluster's settings"]

    def _job_environment(self, job: Job) -> dict[str, str]:
        project = self._store.project(job.project_id)
        env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED_ENV}
        env.update(
            PYTHONUNBUFFERED="1",
            DOMINO_RUN_ID=job.id,
            DOMINO_PROJECT_OWNER=project.owner if project else "",
            DOMINO_PROJECT_NAME=project.name if project else "",
            DOMINO_HARDWARE_TIER_ID=job.hardware_tier_id,
            DOMINO_WORKING_DIR=str(self.working_dir(job.id)),
            DOMINO_API_HOST=self._settings.base_url,
        )
        if self._settings.proxy_url:
            env["DOMINO_API_PROXY"] = self._settings.proxy_url
        cluster = job.options.get("computeCluster")
        if isinstance(cluster, dict):
            env["DOMINO_CLUSTER_TYPE"] = str(cluster.get("clusterType"))
            env["DOMINO_CLUSTER_WORKER_COUNT"] = str(cluster.get("workerCount"))
        return env

    def _launch(self, job: Job) -> subprocess.Popen[bytes]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        stdout_fd = os.open(self.job_dir(job.id) / STREAM_FILES[STDOUT], flags, 0o644)
        try:
            stderr_fd = os.open(self.job_dir(job.id) / STREAM_FILES[STDERR], flags, 0o644)
            try:
                return subprocess.Popen(
                    ["/bin/sh", "-c", _WRAPPER, "domino-job", job.command, str(self._exit_code_path(job.id))],
                    cwd=self.working_dir(job.id),
                    env=self._job_environment(job),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout_fd,
                    stderr=stderr_fd,
                    start_new_session=True,
                    close_fds=True,
                )
            finally:
                os.close(stderr_fd)
        finally:
            os.close(stdout_fd)

    # --------------------------------------------------------------- watching
    def _watch(self, active: _ActiveJob) -> None:
        loop = asyncio.get_running_loop()
        assert active.pid is not None
        try:
            pidfd = os.pidfd_open(active.pid)
        except ProcessLookupError:
            loop.call_soon(self._on_process_exit, active)
            return
        except (OSError, AttributeError):
            self._polled.add(active.job_id)
            if self._poll_task is None or self._poll_task.done():
                self._poll_task = loop.create_task(self._poll_exits())
            return
        active.pidfd = pidfd
        loop.add_reader(pidfd, self._on_process_exit, active)

    async def _poll_exits(self) -> None:
        """Fallback supervision for kernels without pidfds: one task checks every 50 ms."""
        while self._polled:
            await asyncio.sleep(0.05)
            for job_id in list(self._polled):
                active = self._active.get(job_id)
                if active is None:
                    self._polled.discard(job_id)
                    continue
                if active.popen is not None:
                    exited = active.popen.poll() is not None
                else:
                    job = self._store.job(job_id)
                    exited = active.pid is None or not is_alive(
                        active.pid, job.pid_start_time if job else None
                    )
                if exited:
                    self._polled.discard(job_id)
                    self._on_process_exit(active)

    def _on_process_exit(self, active: _ActiveJob) -> None:
        """Called once the job's leader process has exited; settles the job asynchronously."""
        if active.exit_handled:
            return
        active.exit_handled = True
        if active.pidfd is not None:
            asyncio.get_running_loop().remove_reader(active.pidfd)
            os.close(active.pidfd)
            active.pidfd = None
        assert active.pid is not None
        if not active.terminating:
            # Anything the command left running in the background dies with the job, as it would
            # when Domino tears down the run's container. Our own leader is not reaped yet, so its
            # pid (the group id) cannot have been reused.
            signal_group(active.pid, signal.SIGKILL)
        active.exit_code = self._collect_exit_code(active)
        active.exited.set()
        if active.terminating:
            return  # _terminate asked for this exit; it settles the job once the whole group is gone
        if active.exit_code is None:
            status, line = FAILED, NO_EXIT_CODE_LINE
        else:
            status, line = (SUCCEEDED if active.exit_code == 0 else FAILED), None
        job = self._store.job(active.job_id)
        if job is not None:
            self._spawn(self._complete(job, active, status, active.exit_code, line))

    def _collect_exit_code(self, active: _ActiveJob) -> int | None:
        """The command's exit code: from the wrapper's file, else from reaping our own child."""
        exit_code: int | None = None
        if active.popen is not None:
            returncode = self._reap(active)
            if returncode is not None:
                exit_code = returncode if returncode >= 0 else 128 - returncode
        recorded = self._read_exit_code(active.job_id)
        return recorded if recorded is not None else exit_code

    @staticmethod
    def _reap(active: _ActiveJob) -> int | None:
        """Reap our own child with ``wait4``, keeping its CPU time and peak memory (the job's usage)."""
        assert active.popen is not None
        if active.popen.returncode is not None:
            return active.popen.returncode
        try:
            pid, status, usage = os.wait4(active.popen.pid, os.WNOHANG)
        except ChildProcessError:
            return active.popen.poll()
        if pid == 0:
            return None
        active.popen.returncode = os.waitstatus_to_exitcode(status)
        active.rusage = (usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
        return active.popen.returncode

    async def _terminate(self, active: _ActiveJob) -> None:
        """Stop a running job: SIGTERM its group, SIGKILL whatever is left after the grace period.

        The grace period covers the whole process group, not just the leader: a shell that dies
        at once on SIGTERM must not cut short a Python child that is still cleaning up.
        """
        assert active.pid is not None
        if active.terminating or active.exit_handled:
            await active.finished.wait()
            return
        active.terminating = True
        loop = asyncio.get_running_loop()
        signal_group(active.pid, signal.SIGTERM)
        deadline = loop.time() + STOP_GRACE_SECONDS
        while not (active.exited.is_set() and not live_group_members(active.pid)):
            if loop.time() >= deadline:
                signal_group(active.pid, signal.SIGKILL)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(active.exited.wait(), timeout=5)
                break
            await asyncio.sleep(0.05)
        status, line = (STOPPED, STOPPED_LINE) if active.stop_requested else (FAILED, SHUTDOWN_LINE)
        job = self._store.job(active.job_id)
        if job is None:
            self._release_slot(active)
            active.finished.set()
            return
        await self._complete(job, active, status, active.exit_code, line)

    def _read_exit_code(self, job_id: str) -> int | None:
        try:
            return int(self._exit_code_path(job_id).read_text().strip())
        except (OSError, ValueError):
            return None

    # -------------------------------------------------------------- finishing
    def append_log_line(self, job_id: str, text: str) -> None:
        """Append an emulator message to a job's stderr, on a line of its own."""
        log = self._logs.get(job_id) or JobLog(self.job_dir(job_id))
        log.append_line(STDERR, text)

    def _results(self, job: Job, active: _ActiveJob | None, work: Path, ended_at: str) -> dict[str, Any]:
        """``dominoStats`` from the ``dominostats.json`` the job left in its working directory (as
        Domino reads it), and ``usage`` from the reaped process tree: CPU as a percentage of the
        tier's one emulated core over the run, and peak resident memory."""
        results: dict[str, Any] = {}
        stats_file = work / DOMINO_STATS_FILE
        try:
            if stats_file.is_file() and stats_file.stat().st_size <= MAX_STATS_BYTES:
                data = json.loads(stats_file.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    results["dominoStats"] = [
                        {"name": str(name), "value": _stat_text(value)} for name, value in data.items()
                    ]
        except (OSError, ValueError) as exc:
            self.append_log_line(job.id, f"Could not read {DOMINO_STATS_FILE}: {exc}")
        if active is not None and active.rusage is not None and job.started_at:
            cpu_seconds, peak_kib = active.rusage
            wall = max((epoch_ms_from_iso(ended_at) - epoch_ms_from_iso(job.started_at)) / 1000, 0.001)
            results["usage"] = {
                "cpuPercentage": round(min(cpu_seconds / wall * 100, 100.0), 1),
                "memoryGiB": round(peak_kib / (1024 * 1024), 4),
            }
        return results

    async def _complete(
        self, job: Job, active: _ActiveJob | None, status: str, exit_code: int | None, line: str | None
    ) -> None:
        """Record a terminal status; the working directory becomes the job's output commit."""
        try:
            if line:
                self.append_log_line(job.id, line)
            work = self.working_dir(job.id)
            output_commit_id = job.commit_id
            ended_at = utc_now_iso()
            job.results_json = json.dumps(self._results(job, active, work, ended_at))
            if work.is_dir() and status != ERROR:  # a job that never ran commits nothing
                output_commit_id = await asyncio.to_thread(self._commits.snapshot, work)
                self._store.add_commit(output_commit_id, job.project_id, utc_now_iso(), job.id)
                self._store.set_head(job.project_id, output_commit_id)
            job.status = status
            job.exit_code = exit_code
            job.ended_at = ended_at
            job.output_commit_id = output_commit_id
            self._store.save_job(job)
            if self.job_dir(job.id).is_dir():
                self.job_log(job.id)  # the final ingestion: the unterminated tail becomes an entry too
            logger.info("Job %s %s (exit code %s)", job.id, status, exit_code)
        finally:
            if active is not None:
                self._release_slot(active)
                active.finished.set()
            self._pump()
