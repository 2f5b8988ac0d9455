"""The servers the bench measures against: the Domino emulator, and a stub of the Databricks run route.

Both are FastAPI apps on uvicorn in a process of their own, over http or over https with the throwaway
CA of ``tls.py``. Both keep a record of the requests they answered, which the orchestrator reads after
each run: the emulator its request log (``/_emulator/requests``), the stub ``/_stub/requests``.

    python bench/servers.py PORT_FILE [--ssl-certfile PEM --ssl-keyfile PEM]   # the Databricks stub
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request  # at module level: FastAPI reads the routes' annotations by name

if TYPE_CHECKING:
    from tls import TlsFiles

API_KEY = "bench-" + secrets.token_hex(12)
OWNER = "bench"
#: Hardware tier ids of the emulator: watched jobs run on the first, background jobs queue on the second.
TIER, BACKGROUND_TIER = "small-k8s", "medium-k8s"


def epoch(iso: str) -> float:
    """Epoch seconds of the emulator's ``2026-01-01T00:00:00.123Z`` timestamps."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Emulator:
    """A fresh ``domino-emulator`` process with ``projects`` projects (``bench/p0``, ``bench/p1``...).

    :param concurrency: jobs running at once per hardware tier (the rest wait, Pending but active).
    :param files: files put in every project (a job's working directory is its project's files).
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        projects: int = 1,
        concurrency: int = 2000,
        tls: TlsFiles | None = None,
        log_page_cap: int = 10_000,
        files: dict[str, str] | None = None,
    ) -> None:
        from domino_emulator.harness import EmulatorProcess

        self.names = [f"p{i}" for i in range(projects)]
        for name in self.names:
            project = work_dir / "projects" / OWNER / name
            project.mkdir(parents=True, exist_ok=True)
            for file_name, text in {"README.md": "bench project\n", **(files or {})}.items():
                (project / file_name).write_text(text)
        self.process = EmulatorProcess(
            api_key=API_KEY,
            projects_dir=work_dir / "projects",
            work_dir=work_dir / "emulator",
            log_page_cap=log_page_cap,
            extra_args=["--max-concurrent-per-tier", str(concurrency)],
            ssl_certfile=tls.cert if tls else None,
            ssl_keyfile=tls.key if tls else None,
            ca_file=tls.ca if tls else None,
        )

    def __enter__(self) -> Emulator:
        self.process.start()
        self.url = self.process.url
        self.project_ids = [self.process.project_id(OWNER, name) for name in self.names]
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.close()  # stops every job still running

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def start_jobs(self, commands: Sequence[str], projects: Sequence[str], tier: str = TIER) -> list[str]:
        """Start one job per command, job ``i`` in ``projects[i]``, through the published start route."""

        def start(command: str, project_id: str) -> str:
            body = {"projectId": project_id, "runCommand": command, "hardwareTier": tier}
            response = self.process.api("POST", "/api/jobs/v1/jobs", json=body, timeout=60)
            response.raise_for_status()
            payload = response.json()
            return str(payload.get("job", payload)["id"])  # {job, metadata}

        with ThreadPoolExecutor(4) as pool:
            return list(pool.map(start, commands, projects))

    def wait_for(self, job_ids: Sequence[str], statuses: set[str], timeout: float = 120) -> None:
        """Wait until every job has one of ``statuses`` (RuntimeError after ``timeout``)."""
        wanted, deadline = set(job_ids), time.monotonic() + timeout
        while True:
            seen = {job["id"]: job["status"] for job in self.process.jobs() if job["id"] in wanted}
            if len(seen) == len(wanted) and set(seen.values()) <= statuses:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs not {statuses} after {timeout:.0f} s: {sorted(set(seen.values()))}")
            time.sleep(0.5)

    def clear_requests(self) -> None:
        self.process.clear_requests()

    def count_requests(self, job_ids: Sequence[str], since: float) -> dict[str, int]:
        """Requests answered from epoch ``since`` on, by endpoint: job routes naming one of ``job_ids``
        (``get_job``, ``get_job_logs``...) and every ``list_jobs``."""
        wanted, counts = set(job_ids), dict[str, int]()
        for entry in self.process.requests_log():
            path = entry["path"].split("/")  # /api/jobs/beta/jobs/{id}[/logs]
            named = len(path) > 5 and path[5] in wanted
            if epoch(entry["time"]) >= since and (named or entry["endpoint"] == "list_jobs"):
                counts[entry["endpoint"]] = counts.get(entry["endpoint"], 0) + 1
        return counts


# ------------------------------------------------------------------------------ the Databricks stub


class DatabricksStub:
    """The stub below in a process of its own (``python bench/servers.py``), same stack as the emulator."""

    def __init__(self, tls: TlsFiles | None = None) -> None:
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.verify: bool | str = str(tls.ca) if tls else True

    def __enter__(self) -> DatabricksStub:
        import requests

        self._dir = Path(tempfile.mkdtemp(prefix="databricks-stub-"))
        port_file = self._dir / "port"
        command = [sys.executable, __file__, str(port_file)]
        if self.tls:
            command += ["--ssl-certfile", str(self.tls.cert), "--ssl-keyfile", str(self.tls.key)]
        self.process = subprocess.Popen(command)
        self.pid = self.process.pid
        self.session = requests.Session()
        deadline = time.monotonic() + 60
        while True:
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("the Databricks stub did not start")
            try:
                self.port = int(port_file.read_text())
                self._call("GET", "/_stub/requests")
                return self
            except (OSError, ValueError, requests.ConnectionError):
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.session.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self._dir, ignore_errors=True)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.scheme}://127.0.0.1:{self.port}{path}"
        response = self.session.request(method, url, timeout=30, verify=self.verify, **kwargs)
        response.raise_for_status()
        return response.json()

    def connection(self) -> dict[str, Any]:
        """The Airflow connection that points the Databricks hook at this stub."""
        return {
            "conn_type": "databricks",
            "host": "127.0.0.1",
            "port": self.port,
            "schema": self.scheme,
            "password": "dapi-bench",
        }

    def start_runs(self, count: int, seconds: float) -> list[str]:
        """``count`` runs reported running for ``seconds``, then successful."""
        return [
            str(run) for run in self._call("POST", "/_stub/runs", json={"count": count, "seconds": seconds})
        ]

    def count_requests(self, run_ids: Sequence[str], since: float) -> dict[str, int]:
        wanted = {int(run) for run in run_ids}
        served = self._call("GET", "/_stub/requests")
        return {"runs_get": sum(1 for at, run in served if at >= since and run in wanted)}


def stub_app() -> Any:
    """``GET /api/{version}/jobs/runs/get``: the run route ``DatabricksExecutionTrigger`` polls."""
    app = FastAPI()
    ends: dict[int, float] = {}
    served: list[tuple[float, int]] = []

    @app.post("/_stub/runs")
    async def start_runs(request: Request) -> list[int]:
        body = await request.json()
        first = len(ends) + 1
        ids = list(range(first, first + int(body["count"])))
        for run_id in ids:
            ends[run_id] = time.time() + float(body["seconds"])
        return ids

    @app.get("/_stub/requests")
    async def requests_served() -> list[tuple[float, int]]:
        return served

    @app.get("/api/{version}/jobs/runs/get")
    async def get_run(request: Request) -> dict[str, Any]:
        run_id = int(request.query_params.get("run_id") or 0)
        if not run_id:  # a GET with a JSON body
            body = await request.body()
            run_id = int(json.loads(body).get("run_id", 0)) if body else 0
        served.append((time.time(), run_id))
        done = time.time() >= ends.get(run_id, 0)
        state = (
            {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
            if done
            else {"life_cycle_state": "RUNNING", "state_message": "In run"}
        )
        return {
            "run_id": run_id,
            "job_id": 1,
            "state": state,
            "status": {"state": "TERMINATED" if done else "RUNNING"},
            "run_page_url": f"http://stub/#job/1/run/{run_id}",
            "tasks": [],
        }

    return app


def main() -> None:
    import socket

    import uvicorn

    parser = argparse.ArgumentParser(description="a stub of the Databricks run route")
    parser.add_argument("port_file", type=Path)
    parser.add_argument("--ssl-certfile")
    parser.add_argument("--ssl-keyfile")
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        stub_app(),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    args.port_file.write_text(str(sock.getsockname()[1]))
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
