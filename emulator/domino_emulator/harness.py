"""Start and drive a real emulator process from tests, demos and benchmarks.

Stdlib + requests only: importing this module never imports FastAPI or uvicorn. The
emulator runs as a separate process (exactly as users run it), so tests exercise real
HTTP, real sockets and real job processes.

    with EmulatorProcess(projects_dir=tmp_path / "projects") as emulator:
        project_id = emulator.project_id("acme", "churn")
        response = requests.post(f"{emulator.url}/api/jobs/v1/jobs", headers=emulator.headers, json=...)
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import quote

import requests

from domino_emulator.processes import is_alive, signal_group
from domino_emulator.settings import DEFAULT_LOG_PAGE_CAP

DEFAULT_API_KEY = "emulator-test-key"
_API_KEY_ENV = "DOMINO_EMULATOR_API_KEY"


class EmulatorStartError(RuntimeError):
    """The emulator died or did not become ready in time; the message includes its output."""


class EmulatorProcess:
    """A ``domino-emulator`` subprocess on a free loopback port, usable as a context manager.

    The API key reaches the emulator through ``DOMINO_EMULATOR_API_KEY`` rather than argv, so it
    never shows up in ``ps``. Without ``state_file`` a state file in the harness's own temporary
    directory is used, so :meth:`restart` always finds the previous state.

    With ``ssl_certfile`` (and ``ssl_keyfile``) the emulator serves https and :attr:`url` is
    ``https://127.0.0.1:PORT``; the harness's own requests then trust ``ca_file`` (default: the system's
    trust store, or ``REQUESTS_CA_BUNDLE``), never skipping verification.
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        projects_dir: str | os.PathLike[str] | None = None,
        state_file: str | os.PathLike[str] | None = None,
        proxy: bool = False,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 30.0,
        work_dir: str | os.PathLike[str] | None = None,
        flat_shapes: bool = False,
        list_lag: float = 0.0,
        log_page_cap: int | None = None,
        ssl_certfile: str | os.PathLike[str] | None = None,
        ssl_keyfile: str | os.PathLike[str] | None = None,
        ca_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self.api_key = api_key
        self.projects_dir = Path(projects_dir) if projects_dir is not None else None
        self._owns_work_dir = work_dir is None
        self.work_dir = Path(work_dir) if work_dir is not None else Path(tempfile.mkdtemp(prefix="emulator-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.state_file = Path(state_file) if state_file is not None else self.work_dir / "state.sqlite"
        self.log_path = self.work_dir / "emulator.log"
        self.proxy = proxy
        self.extra_args = list(extra_args)
        self.flat_shapes = flat_shapes
        self.list_lag = list_lag
        self.log_page_cap = log_page_cap
        self._page_cap = log_page_cap if log_page_cap is not None else DEFAULT_LOG_PAGE_CAP
        self.startup_timeout = startup_timeout
        self.url = ""
        self.proxy_url: str | None = None
        self.port = 0
        self.proxy_port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log_handle: IO[bytes] | None = None
        self._orphans: set[tuple[int, int | None]] = set()
        self.ssl_certfile = Path(ssl_certfile) if ssl_certfile is not None else None
        self.ssl_keyfile = Path(ssl_keyfile) if ssl_keyfile is not None else None
        #: Per request, not on the session: requests lets ``REQUESTS_CA_BUNDLE`` override a session's verify.
        self.verify: bool | str = str(ca_file) if ca_file is not None else True
        self._session = requests.Session()

    # ----------------------------------------------------------- properties
    @property
    def headers(self) -> dict[str, str]:
        """Auth headers for direct API calls."""
        return {"X-Domino-Api-Key": self.api_key}

    @property
    def pid(self) -> int | None:
        """The emulator's process id, None when it is not running."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def output(self) -> str:
        """Everything the emulator printed so far (stdout and stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # ------------------------------------------------------------ lifecycle
    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> EmulatorProcess:
        """Launch the emulator and wait until it accepts connections."""
        if self.pid is not None:
            raise RuntimeError("the emulator is already running")
        ready_file = self.work_dir / "ready"
        ready_file.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "domino_emulator",
            "--port",
            str(self.port),
            "--ready-file",
            str(ready_file),
            "--state",
            str(self.state_file),
        ]
        if self.projects_dir is not None:
            command += ["--projects-dir", str(self.projects_dir)]
        if self.proxy:
            command += ["--proxy-port", str(self.proxy_port)]
        if self.flat_shapes:
            command.append("--flat-shapes")
        if self.list_lag:
            command += ["--list-lag", str(self.list_lag)]
        if self.log_page_cap is not None:
            command += ["--log-page-cap", str(self.log_page_cap)]
        if self.ssl_certfile is not None:
            command += ["--ssl-certfile", str(self.ssl_certfile)]
        if self.ssl_keyfile is not None:
            command += ["--ssl-keyfile", str(self.ssl_keyfile)]
        command += self.extra_args
        env = {**os.environ, _API_KEY_ENV: self.api_key}
        self._log_handle = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()/kill()
        self._process = subprocess.Popen(
            command, stdout=self._log_handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + self.startup_timeout
        while not ready_file.exists():
            code = self._process.poll()
            if code is not None:
                self._close_log()
                raise EmulatorStartError(f"the emulator exited with code {code}:\n{self.output()}")
            if time.monotonic() > deadline:
                self._terminate_process()
                raise EmulatorStartError(
                    f"the emulator was not ready after {self.startup_timeout:.0f}s:\n{self.output()}"
                )
            time.sleep(0.02)
        self.url = ready_file.read_text().strip()
        try:
            info = self._admin("GET", "/_emulator/info").json()
        except requests.RequestException:  # e.g. a certificate the harness does not trust: no orphan
            self._terminate_process()
            raise
        self.port = int(self.url.rsplit(":", 1)[1])
        self.proxy_url = info.get("proxyUrl")
        if self.proxy_url:
            self.proxy_port = int(self.proxy_url.rsplit(":", 1)[1])
        return self

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful shutdown (SIGTERM): the emulator fails its running jobs and kills them.

        Falls back to SIGKILL after ``timeout``; any job process still alive afterwards is
        killed by process group, so nothing outlives the harness.
        """
        process = self._process
        if process is not None and process.poll() is None:
            self._remember_running_jobs()
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._close_log()
        self._kill_orphans()

    def kill(self) -> None:
        """SIGKILL the emulator, simulating a crash: its jobs keep running in their own sessions."""
        process = self._process
        if process is None or process.poll() is not None:
            return
        self._remember_running_jobs()
        process.kill()
        process.wait()
        self._close_log()

    def restart(self) -> EmulatorProcess:
        """Start again with the same arguments, state file and ports (stopping gracefully if running)."""
        if self.pid is not None:
            self.stop()
        return self.start()

    def close(self) -> None:
        """Stop the emulator and remove the harness's temporary directory."""
        self.stop()
        self._session.close()
        if self._owns_work_dir:
            shutil.rmtree(self.work_dir, ignore_errors=True)

    def _terminate_process(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def _remember_running_jobs(self) -> None:
        """Note job process groups so they can be cleaned up even if the emulator cannot do it."""
        with contextlib.suppress(requests.RequestException, ValueError):
            for job in self.jobs():
                if job.get("pid") and job.get("status") in ("Running", "Pending"):
                    self._orphans.add((int(job["pid"]), job.get("pidStartTime")))

    def _kill_orphans(self) -> None:
        for pid, start_time in list(self._orphans):
            if is_alive(pid, start_time):
                signal_group(pid, signal.SIGKILL)
            self._orphans.discard((pid, start_time))

    # --------------------------------------------------------------- admin
    def _admin(self, method: str, path: str, json: Any = None) -> requests.Response:
        response = self._session.request(
            method, self.url + path, headers=self.headers, json=json, timeout=30, verify=self.verify
        )
        response.raise_for_status()
        return response

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call an API path with the key, without raising on error statuses."""
        headers = {**self.headers, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 30)
        kwargs.setdefault("verify", self.verify)
        return self._session.request(method, self.url + path, headers=headers, **kwargs)

    def requests_log(self) -> list[dict[str, Any]]:
        """The emulator's record of API requests (admin requests are not recorded)."""
        entries: list[dict[str, Any]] = self._admin("GET", "/_emulator/requests").json()["requests"]
        return entries

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        self._admin("DELETE", "/_emulator/requests")

    def set_faults(self, config: dict[str, Any]) -> None:
        """Replace the fault configuration (rule state starts afresh)."""
        self._admin("PUT", "/_emulator/faults", json=config)

    def clear_faults(self) -> None:
        """Remove every fault rule (and ``ignore_range``)."""
        self._admin("DELETE", "/_emulator/faults")

    def set_keys(self, keys: Iterable[str]) -> None:
        """Replace the accepted API keys; the harness keeps using the first one."""
        keys = list(keys)
        self._admin("PUT", "/_emulator/keys", json={"keys": keys})
        self.api_key = keys[0]

    def jobs(self) -> list[dict[str, Any]]:
        """Every job of every project, with ``pid`` and ``workingDir``."""
        jobs: list[dict[str, Any]] = self._admin("GET", "/_emulator/jobs").json()
        return jobs

    def projects(self) -> list[dict[str, Any]]:
        """Every project: ``id``, ``owner``, ``name``, ``headCommitId``."""
        projects: list[dict[str, Any]] = self._admin("GET", "/_emulator/projects").json()
        return projects

    def project_id(self, owner: str, name: str) -> str:
        """The id of project ``owner/name``; KeyError if the emulator does not know it."""
        for project in self.projects():
            if project["owner"] == owner and project["name"] == name:
                return str(project["id"])
        raise KeyError(f"{owner}/{name}")

    def stop_all_jobs(self) -> list[str]:
        """Stop every job that has not finished; returns their ids."""
        stopped: list[str] = self._admin("POST", "/_emulator/jobs/stop-all").json()["stopped"]
        return stopped

    def settings(self) -> dict[str, Any]:
        """``flatShapes``, ``listLagSeconds`` and ``logPageCap`` as the running emulator has them."""
        settings: dict[str, Any] = self._admin("GET", "/_emulator/settings").json()
        return settings

    def fill_tier(self, project_id: str, tier_id: str, command: str = "sleep 30") -> list[str]:
        """Start ``command`` on every run slot of ``tier_id`` (the next job there queues); their ids."""
        slots = int(self.settings()["maxConcurrentPerTier"])
        body = {"projectId": project_id, "runCommand": command, "hardwareTier": tier_id}
        started = []
        for _ in range(slots):
            response = self.api("POST", "/api/jobs/v1/jobs", json=body)
            response.raise_for_status()
            started.append(response.json()["job"]["id"])
        return started

    def set_list_lag(self, seconds: float) -> None:
        """From now on, keep each new job out of the beta list for ``seconds``."""
        self._admin("PATCH", "/_emulator/settings", json={"listLagSeconds": seconds})

    def set_log_page_cap(self, lines: int) -> None:
        """From now on, answer at most ``lines`` log entries per logs call."""
        self._admin("PATCH", "/_emulator/settings", json={"logPageCap": lines})

    def reset_settings(self) -> None:
        """Back to the start-up list lag and log page cap (the shared test emulator's between tests)."""
        self._admin(
            "PATCH",
            "/_emulator/settings",
            json={"listLagSeconds": self.list_lag, "logPageCap": self._page_cap},
        )

    def get_job(self, job_id: str) -> dict[str, Any]:
        """One job in the emulator's own flat view, whatever shapes it serves.

        Keys: ``id``, ``projectId``, ``number``, ``status`` (Pending, Running, Succeeded, Failed,
        Stopped, Error), ``command``, ``title``, ``hardwareTierId``, ``environmentId``,
        ``commitId``, ``outputCommitId``, ``submittedAt``, ``startedAt``, ``endedAt``,
        ``exitCode``, ``tags`` (``[{id, name}]``), plus ``pid`` and ``workingDir``.
        """
        job: dict[str, Any] = self._admin("GET", f"/_emulator/jobs/{quote(job_id, safe='')}").json()
        return job

    def api_job(self, job_id: str) -> dict[str, Any]:
        """One job exactly as the public API answers (``{job, metadata}``, or flat with ``flat_shapes``)."""
        response = self.api("GET", f"/api/jobs/beta/jobs/{quote(job_id, safe='')}")
        response.raise_for_status()
        job: dict[str, Any] = response.json()
        return job

    def job_log_text(self, job_id: str) -> str:
        """A job's stdout and stderr as text, whatever shapes the emulator serves (admin route)."""
        response = self._admin("GET", f"/_emulator/jobs/{quote(job_id, safe='')}/log")
        return response.text

    def wait_for_status(
        self, job_id: str, statuses: str | Iterable[str], timeout: float = 30.0, interval: float = 0.05
    ) -> dict[str, Any]:
        """Poll until the job reaches one of ``statuses``; returns the job, TimeoutError otherwise."""
        wanted = {statuses} if isinstance(statuses, str) else set(statuses)
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job(job_id)
            if job["status"] in wanted:
                return job
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"job {job_id} still {job['status']} after {timeout}s, wanted {sorted(wanted)}"
                )
            time.sleep(interval)
