"""Run what ``docker-compose.yml`` describes as plain processes on this machine: the stack harness.

``make stack`` (``scripts/stack.py``) and the tests in ``tests/stack/`` both use this module:

* :class:`ComposeFile` reads the services' ``command:`` and ``environment:`` from docker-compose.yml,
  so the compose deployment and the native stack cannot drift apart. Only what has to differ outside
  a container is rewritten: service host names become ``127.0.0.1`` and a free port, container paths
  become directories of the run, and every server binds loopback.
* :class:`PostgresServer` runs the machine's PostgreSQL binaries (``initdb``/``postgres``) on a free
  loopback port in a throwaway data directory; with the CeleryExecutor, :class:`RedisServer` runs the
  machine's ``redis-server`` (the broker) the same way.
* :class:`ServiceProcess` is one long-running process in its own session: start, signal, stop
  (SIGTERM, then SIGKILL of its whole process group), so nothing outlives the stack.
* :class:`AirflowApi` talks to the api-server's REST API with a token from the auth manager.
* :class:`Stack` starts everything in order, waits until each part is ready and stops it in reverse.

Stdlib, requests, PyYAML and psycopg2 only (the ``stack`` extra); Airflow itself runs in the child
processes, never in the process that imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
#: AIRFLOW_HOME inside the official image; container paths below it map to the run's Airflow home.
IMAGE_AIRFLOW_HOME = "/opt/airflow"
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
#: ``executor`` names of :class:`Stack` -> the value docker-compose.yml's ``AIRFLOW_EXECUTOR`` takes.
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}
#: Celery workers of a CeleryExecutor stack: two, so a task's tries and resumes land on different hosts.
CELERY_WORKERS = 2
_SUBSTITUTION = re.compile(r"\$\{(?P<name>\w+)(?P<op>:?-)?(?P<default>[^}]*)\}")


class StackError(RuntimeError):
    """A part of the stack did not start or become ready; the message says which and why."""


def free_port() -> int:
    """A TCP port nobody listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """True if a server could listen on 127.0.0.1:``port`` (uvicorn, like us, sets SO_REUSEADDR, so
    connections of a just-stopped stack lingering in TIME_WAIT do not count)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2
) -> Any:  # pragma: no cover - trivial loop
    """Call ``check`` until it returns something truthy; StackError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
        except (requests.RequestException, OSError, ValueError) as exc:
            result, last_error = None, exc
        if result:
            return result
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error})" if last_error else ""
            raise StackError(f"{what} not reached within {timeout:.0f}s{detail}")
        time.sleep(interval)


# --------------------------------------------------------------------------- the one description
class ComposeFile:
    """The services of docker-compose.yml, with ``${VAR:-default}`` resolved as compose resolves it."""

    def __init__(self, path: Path = COMPOSE_FILE, environ: Mapping[str, str] | None = None) -> None:
        import yaml  # the stack extra; imported here so `--help` works without it

        self.path = path
        self.environ = dict(os.environ if environ is None else environ)
        self.data: dict[str, Any] = yaml.safe_load(path.read_text())
        self.services: dict[str, dict[str, Any]] = self.data["services"]

    def resolve(self, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            current = self.environ.get(match["name"])
            if match["op"] == ":-":
                return current or match["default"]
            if match["op"] == "-":
                return match["default"] if current is None else current
            return current or ""

        return _SUBSTITUTION.sub(substitute, value).replace("$$", "$")

    def environment(self, service: str) -> dict[str, str]:
        env = self.services[service].get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) for item in env)
        return {key: self.resolve(str(value)) for key, value in env.items()}

    def command(self, service: str) -> list[str]:
        command = self.services[service].get("command") or []
        words = command.split() if isinstance(command, str) else [str(word) for word in command]
        return [self.resolve(word) for word in words]

    def find(self, predicate: Callable[[str, dict[str, Any]], bool], what: str) -> str:
        names = [name for name, service in self.services.items() if predicate(name, service)]
        if len(names) != 1:
            raise StackError(f"{self.path.name}: expected one {what} service, found {names}")
        return names[0]

    def airflow_service(self, component: str) -> str:
        """The service whose command is ``component`` (``api-server``, ``scheduler``...)."""
        return self.find(lambda _, service: self._first_word(service) == component, f"'{component}'")

    @property
    def postgres_service(self) -> str:
        return self.find(lambda _, s: str(s.get("image", "")).startswith("postgres:"), "PostgreSQL")

    @property
    def redis_service(self) -> str:
        return self.find(lambda _, s: str(s.get("image", "")).startswith("redis:"), "Redis")

    @property
    def emulator_service(self) -> str:
        return self.find(lambda _, s: "domino-emulator" in (s.get("entrypoint") or []), "domino-emulator")

    @property
    def init_service(self) -> str:
        return self.find(
            lambda name, _: self.environment(name).get("_AIRFLOW_DB_MIGRATE") == "true", "airflow-init"
        )

    def container_port(self, service: str) -> int:
        """The port a service listens on inside its container (``--port``, else its published port)."""
        words = self.command(service)
        if "--port" in words:
            return int(words[words.index("--port") + 1])
        for published in self.services[service].get("ports", []):
            return int(str(published).rsplit(":", 1)[1])
        return {"postgres": 5432, "redis": 6379}.get(service, 8080)

    def published_ports(self, service: str) -> list[int]:
        return [int(str(item).split(":")[-2]) for item in self.services[service].get("ports", [])]

    def volumes(self, service: str) -> dict[str, Path]:
        """Bind mounts of ``service``: container path -> path in the repository (named volumes skipped)."""
        mounts: dict[str, Path] = {}
        for volume in self.services[service].get("volumes", []):
            source, target = str(volume).split(":")[:2]
            if source.startswith("."):
                mounts[target] = (self.path.parent / source).resolve()
        return mounts

    def _first_word(self, service: dict[str, Any]) -> str | None:
        command = service.get("command")
        words = command.split() if isinstance(command, str) else list(command or [])
        return str(words[0]) if words else None


class Localizer:
    """Rewrites container addresses and paths in compose values into this machine's equivalents."""

    def __init__(self, compose: ComposeFile, local_urls: Mapping[str, str], paths: Mapping[str, Path]):
        self.replacements: list[tuple[str, str]] = []
        for service, url in local_urls.items():
            netloc = urlsplit(url).netloc
            self.replacements.append((f"//{service}:{compose.container_port(service)}", f"//{netloc}"))
            self.replacements.append((f"@{service}/", f"@{netloc}/"))
            self.replacements.append((f"@{service}:{compose.container_port(service)}/", f"@{netloc}/"))
            for published in compose.published_ports(service):
                self.replacements.append((f"//localhost:{published}", f"//{netloc}"))
        # Longest container path first, so /opt/airflow/dags wins over /opt/airflow.
        for container, local in sorted(paths.items(), key=lambda item: -len(item[0])):
            self.replacements.append((container, str(local)))

    def __call__(self, value: str) -> str:
        for old, new in self.replacements:
            value = value.replace(old, new)
        return value


# --------------------------------------------------------------------------- processes
class ServiceProcess:
    """One long-running command in its own session, its output in ``log_path``."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path, cwd: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self) -> ServiceProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in _reap()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C in the terminal reaches the stack, which stops us in order
        )
        return self

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def send(self, sig: int) -> None:
        if self.running():
            assert self.process is not None
            self.process.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        """Exit code, or None if still running after ``timeout`` seconds."""
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(
        self, timeout: float = 30.0, sig: int = signal.SIGTERM, resend_after: float | None = None
    ) -> float:
        """Ask it to stop (``sig``), SIGKILL its session after ``timeout``; returns seconds it took.

        ``resend_after``: send ``sig`` a second time after that many seconds. Airflow's scheduler waits
        for its LocalExecutor's workers on the first SIGTERM and stops waiting on the second.
        """
        begun = time.monotonic()
        if self.running():
            self.send(sig)
            if resend_after is not None and resend_after < timeout and self.wait(resend_after) is None:
                self.send(sig)
            if self.wait(max(0.0, timeout - (time.monotonic() - begun))) is None:
                self._kill_group()
                self.wait(10)
        elapsed = time.monotonic() - begun
        self._reap()
        return elapsed

    def kill(self) -> None:
        """SIGKILL the process and everything in its session: a crash, nothing gets to clean up."""
        self._kill_group()
        self.wait(10)
        self._reap()

    def output(self, last: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    def _kill_group(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)

    def _reap(self) -> None:
        """Kill whatever the process left in its session (e.g. task runners), close the log."""
        self._kill_group()
        if self._log is not None:
            self._log.close()
            self._log = None


def _postgres_bin(name: str) -> str:
    """A PostgreSQL binary: on PATH, else the Debian/Ubuntu package's directory."""
    found = shutil.which(name)
    if found:
        return found
    for directory in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (directory / name).exists():
            return str(directory / name)
    raise StackError(
        f"PostgreSQL's `{name}` is not installed. Install the server binaries "
        "(Debian/Ubuntu: `sudo apt-get install postgresql`; macOS: `brew install postgresql@15`) "
        "and run `make stack` again."
    )


def require_postgres() -> None:
    """Raise :class:`StackError`, saying how to install them, when PostgreSQL's binaries are missing."""
    _postgres_bin("postgres")


class PostgresServer:
    """A private PostgreSQL cluster on a free loopback port, with one database and its owner.

    PostgreSQL refuses to run as root, so under root the cluster belongs to the ``postgres`` system
    user (created by the distribution's package) and the binaries run through ``setpriv``.
    """

    def __init__(self, work_dir: Path, user: str, password: str, database: str) -> None:
        self.work_dir = work_dir
        self.data_dir = work_dir / "pgdata"
        self.user, self.password, self.database = user, password, database
        self.port = free_port()
        self.service: ServiceProcess | None = None
        self._as_user: list[str] = []
        self._owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                entry = pwd.getpwnam("postgres")
            except KeyError:
                raise StackError(
                    "PostgreSQL will not run as root and there is no 'postgres' user to run it as; "
                    "run `make stack` as a normal user"
                ) from None
            self._owner = (entry.pw_uid, entry.pw_gid)
            setpriv = shutil.which("setpriv") or "setpriv"
            self._as_user = [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups"]

    @property
    def url(self) -> str:
        return (
            f"postgresql://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/{self.database}"
        )

    def start(self, timeout: float = 60.0) -> PostgresServer:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        password_file = self.work_dir / "pgpass.txt"
        password_file.write_text(self.password + "\n")
        if self._owner is not None:
            for path in (self.work_dir, password_file):
                os.chown(path, *self._owner)
            _make_traversable(self.work_dir)
        env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
        result = subprocess.run(
            [
                *self._as_user,
                _postgres_bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                self.user,
                "--pwfile",
                str(password_file),
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        password_file.unlink()
        if result.returncode != 0:
            raise StackError(f"initdb failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}")
        self.service = ServiceProcess(
            "postgres",
            [
                *self._as_user,
                _postgres_bin("postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.data_dir}",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",  # a throwaway local database: durability buys nothing here
            ],
            env,
            self.work_dir / "postgres.log",
            self.work_dir,
        ).start()
        wait_until(self._create_database, timeout, f"PostgreSQL on 127.0.0.1:{self.port}", interval=0.3)
        return self

    def _create_database(self) -> bool:
        import psycopg2

        if self.service is not None and not self.service.running():
            raise StackError(f"postgres exited:\n{self.service.output()}")
        try:
            conn = psycopg2.connect(
                host="127.0.0.1", port=self.port, user=self.user, password=self.password, dbname="postgres"
            )
        except psycopg2.OperationalError:
            return False
        conn.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with conn.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{self.database}"')
        finally:
            conn.close()
        return True

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=20, sig=signal.SIGINT)  # "fast" shutdown: disconnect and exit


def require_redis() -> None:
    """Raise :class:`StackError`, saying how to install it, when ``redis-server`` is missing."""
    if shutil.which("redis-server") is None:
        raise StackError(
            "The CeleryExecutor stack needs Redis's `redis-server` (Debian/Ubuntu: "
            "`sudo apt-get install redis-server`; macOS: `brew install redis`)."
        )


class RedisServer:
    """A private ``redis-server`` (the Celery broker) on a free loopback port, keeping nothing on disk."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.port = free_port()
        self.service: ServiceProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 30.0) -> RedisServer:
        require_redis()
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(shutil.which("redis-server")),
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.work_dir),
        ]  # fmt: skip
        self.service = ServiceProcess(
            "redis", argv, os.environ, self.work_dir / "redis.log", self.work_dir
        ).start()
        wait_until(self._pong, timeout, f"redis-server on 127.0.0.1:{self.port}", 0.1)
        return self

    def _pong(self) -> bool:
        assert self.service is not None
        if not self.service.running():
            raise StackError(f"redis-server exited:\n{self.service.output()}")
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.service is not None:
            self.service.stop(timeout=10)
            self.service = None


def _make_traversable(path: Path) -> None:
    """Let another user reach ``path`` (x on each parent; mkdtemp makes directories 0700)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


# --------------------------------------------------------------------------- REST API
class AirflowApi:
    """The api-server's public REST API (``/api/v2``) with a bearer token from the auth manager."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username, self.password = username, password
        self.session = requests.Session()
        self._token: str | None = None

    def login(self) -> None:
        response = self.session.post(
            f"{self.base_url}/auth/token",
            json={"username": self.username, "password": self.password},
            timeout=30,
        )
        if response.status_code >= 400:
            raise StackError(f"login as {self.username} failed: HTTP {response.status_code} {response.text}")
        self._token = response.json()["access_token"]
        self.session.headers["Authorization"] = f"Bearer {self._token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        if self._token is None:
            self.login()
        response = self.session.request(method, f"{self.base_url}/api/v2{path}", **kwargs)
        if response.status_code == 401:  # token expired: log in again once
            self.login()
            response = self.session.request(method, f"{self.base_url}/api/v2{path}", **kwargs)
        return response

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request that must succeed; StackError with the server's answer otherwise."""
        response = self.request(method, path, **kwargs)
        if response.status_code >= 400:
            raise StackError(f"{method} {path}: HTTP {response.status_code} {response.text[:1000]}")
        return response.json() if response.content else None

    # --- conveniences used by make stack and the tests -----------------------------------------
    def health(self) -> dict[str, Any]:
        response = self.session.get(f"{self.base_url}/api/v2/monitor/health", timeout=10)
        response.raise_for_status()
        health: dict[str, Any] = response.json()
        return health

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/dags/{q(dag_id)}")
        return response.json() if response.status_code == 200 else None

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> dict[str, Any]:
        dag: dict[str, Any] = wait_until(lambda: self.dag(dag_id), timeout, f"DAG {dag_id} parsed")
        return dag

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/dags/{q(dag_id)}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        body: dict[str, Any] = {"logical_date": None, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        run = self.call("POST", f"/dags/{q(dag_id)}/dagRuns", json=body)
        return str(run["dag_run_id"])

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        run: dict[str, Any] = self.call("GET", f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}")
        return run

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        page = self.call("GET", f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances", params={"limit": 100})
        tis: list[dict[str, Any]] = page["task_instances"]
        return tis

    def task_instance(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
        path = f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}"
        ti: dict[str, Any] = self.call("GET", path + (f"/{map_index}" if map_index >= 0 else ""))
        return ti

    def wait_for_run(
        self,
        dag_id: str,
        run_id: str,
        timeout: float = 600,
        on_poll: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> dict[str, Any]:
        """Wait for the run to finish; ``on_poll`` sees the task instances every half second."""

        def finished() -> dict[str, Any] | None:
            if on_poll is not None:
                on_poll(self.task_instances(dag_id, run_id))
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in ("success", "failed") else None

        run: dict[str, Any] = wait_until(finished, timeout, f"end of run {dag_id}/{run_id}", interval=0.5)
        return run

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: Iterable[str], timeout: float = 300
    ) -> dict[str, Any]:
        wanted = set(states)

        def reached() -> dict[str, Any] | None:
            ti = self.task_instance(dag_id, run_id, task_id)
            return ti if ti.get("state") in wanted else None

        ti: dict[str, Any] = wait_until(
            reached, timeout, f"{dag_id}/{run_id}/{task_id} in {sorted(wanted)}", interval=0.3
        )
        return ti

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> Any:
        """What "Mark failed" / "Mark success" in the UI does."""
        return self.call(
            "PATCH",
            f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}",
            json={"new_state": state},
        )

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> Any:
        """What "Clear" in the UI does for one task."""
        return self.call(
            "POST",
            f"/dags/{q(dag_id)}/clearTaskInstances",
            json={
                "dag_run_id": run_id,
                "task_ids": [task_id],
                "dry_run": False,
                "only_failed": False,
                "reset_dag_runs": True,
            },
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """A try's full log as text: one line per record, message first."""
        params: dict[str, Any] = {"full_content": True}
        if map_index >= 0:
            params["map_index"] = map_index
        path = f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}/logs/{try_number}"
        content = self.call("GET", path, params=params, headers={"Accept": "application/json"})["content"]
        lines = []
        for record in content:
            if isinstance(record, dict):
                lines.append(str(record.get("event", "")))
            else:
                lines.append(str(record))
        return "\n".join(lines)

    def extra_links(self, dag_id: str, run_id: str, task_id: str) -> dict[str, str | None]:
        """Link name -> URL, as the UI gets them for a task instance's buttons."""
        answer = self.call("GET", f"/dags/{q(dag_id)}/dagRuns/{q(run_id)}/taskInstances/{q(task_id)}/links")
        links: dict[str, str | None] = answer["extra_links"]
        return links


def q(segment: str) -> str:
    return quote(segment, safe="")


# --------------------------------------------------------------------------- the stack
class Stack:
    """PostgreSQL, the emulator and the four Airflow components, as docker-compose.yml describes them.

    ``dags_folder`` and ``projects`` replace the compose mounts (tests add their own DAGs and Domino
    projects); ``api_port`` 0 picks a free port. Use as a context manager or call start()/stop().
    """

    def __init__(
        self,
        work_dir: Path,
        *,
        compose: ComposeFile | None = None,
        api_port: int = 0,
        dags_folder: Path | None = None,
        projects: Mapping[str, Path] | None = None,
        env_overrides: Mapping[str, str] | None = None,
        executor: str = "local",
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        if executor not in EXECUTORS:
            raise StackError(f"executor {executor!r} is not one of {sorted(EXECUTORS)}")
        self.work_dir = work_dir
        self.executor = executor
        # docker-compose.yml picks the executor from AIRFLOW_EXECUTOR, as `docker compose` would.
        self.compose = compose or ComposeFile(environ={**os.environ, "AIRFLOW_EXECUTOR": EXECUTORS[executor]})
        self.log = log
        self.airflow_home = work_dir / "airflow"
        self.api_port = api_port or free_port()
        self.env_overrides = dict(env_overrides or {})
        self.postgres: PostgresServer | None = None
        self.redis: RedisServer | None = None
        self.emulator: Any = None  # EmulatorProcess
        self.services: dict[str, ServiceProcess] = {}
        self.triggerers: list[ServiceProcess] = []
        self.workers: list[ServiceProcess] = []
        self.started_in: dict[str, float] = {}

        compose_ = self.compose
        self.api_service = compose_.airflow_service("api-server")
        self.init_env = compose_.environment(compose_.init_service)
        self.username = self.init_env.get("_AIRFLOW_WWW_USER_USERNAME", "airflow")
        self.password = self.init_env.get("_AIRFLOW_WWW_USER_PASSWORD", "airflow")
        mounts = compose_.volumes(self.api_service)
        self.dags_folder = dags_folder or mounts.get(f"{IMAGE_AIRFLOW_HOME}/dags", REPO / "example_dags")
        emulator_mounts = compose_.volumes(compose_.emulator_service)
        self.projects = dict(projects) if projects is not None else self._compose_projects(emulator_mounts)
        self.api = AirflowApi(f"http://127.0.0.1:{self.api_port}", self.username, self.password)

    @property
    def ui_url(self) -> str:
        return self.api.base_url

    def _compose_projects(self, mounts: Mapping[str, Path]) -> dict[str, Path]:
        """``owner/name`` -> directory, from the emulator's mounts under its ``--projects-dir``."""
        words = self.compose.command(self.compose.emulator_service)
        projects_dir = words[words.index("--projects-dir") + 1].rstrip("/") + "/"
        return {
            target[len(projects_dir) :]: source
            for target, source in mounts.items()
            if target.startswith(projects_dir)
        }

    # --- start --------------------------------------------------------------------------------
    def start(self) -> Stack:
        try:
            self._start_postgres()
            if self.executor == "celery":
                self._start_redis()
            self._start_emulator()
            self._prepare_airflow()
            for component in AIRFLOW_COMPONENTS:
                self.start_component(component)
            for _ in range(CELERY_WORKERS if self.executor == "celery" else 0):
                self.start_component("celery")
            self.wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _timed(self, name: str, begun: float) -> None:
        self.started_in[name] = time.monotonic() - begun
        self.log(f"stack: {name} ready in {self.started_in[name]:.1f}s")

    def _start_postgres(self) -> None:
        begun = time.monotonic()
        env = self.compose.environment(self.compose.postgres_service)
        self.postgres = PostgresServer(
            self.work_dir / "postgres",
            user=env.get("POSTGRES_USER", "airflow"),
            password=env.get("POSTGRES_PASSWORD", "airflow"),
            database=env.get("POSTGRES_DB", "airflow"),
        ).start()
        self._timed(f"PostgreSQL 127.0.0.1:{self.postgres.port}", begun)

    def _start_redis(self) -> None:
        begun = time.monotonic()
        self.redis = RedisServer(self.work_dir / "redis").start()
        self._timed(f"Redis 127.0.0.1:{self.redis.port}", begun)

    def _start_emulator(self) -> None:
        from domino_emulator.harness import EmulatorProcess

        begun = time.monotonic()
        service = self.compose.emulator_service
        env = self.compose.environment(service)
        words = self.compose.command(service)
        projects_dir = self.work_dir / "projects"
        for project, source in self.projects.items():
            shutil.copytree(
                source,
                projects_dir / project,
                ignore=shutil.ignore_patterns("data", "metrics", "model.json", "__pycache__", "*.pyc"),
            )
        # The container binds 0.0.0.0 so other containers reach it; here it stays on loopback, on a
        # free port, with the harness choosing state and projects directories.
        extra = _drop_options(words, {"--host": 1, "--allow-remote": 0, "--port": 1, "--projects-dir": 1})
        # Jobs run `python ...` through the shell: this interpreter (as in the image, where `python`
        # is the image's Python).
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        self.emulator = EmulatorProcess(
            api_key=env.get("DOMINO_EMULATOR_API_KEY") or secrets.token_hex(16),
            projects_dir=projects_dir,
            work_dir=self.work_dir / "emulator",
            extra_args=extra,
        )
        self.emulator.start()
        self._timed(f"Domino emulator {self.emulator.url}", begun)

    def airflow_env(self, component: str) -> dict[str, str]:
        """The component's compose environment, localized, plus loopback ports for its servers."""
        service = self.compose.airflow_service(component)
        assert self.postgres is not None and self.emulator is not None
        local_urls = {
            self.compose.postgres_service: f"//127.0.0.1:{self.postgres.port}",
            self.compose.emulator_service: self.emulator.url,
            self.api_service: self.ui_url,
        }
        if self.redis is not None:
            local_urls[self.compose.redis_service] = self.redis.url
        localize = Localizer(self.compose, local_urls, {IMAGE_AIRFLOW_HOME: self.airflow_home})
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AIRFLOW_", "AIRFLOW__", "DOMINO_", "_AIRFLOW"))
        }
        env.update({key: localize(value) for key, value in self.compose.environment(service).items()})
        env.update(
            AIRFLOW_HOME=str(self.airflow_home),
            AIRFLOW__CORE__DAGS_FOLDER=str(self.dags_folder),
            # Every server of every component on its own loopback port: several triggerers (or a test
            # stack next to `make stack`) must not collide on the image's fixed ports.
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST="127.0.0.1",
            AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()),
            AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.env_overrides)
        return env

    def _prepare_airflow(self) -> None:
        """What the compose init service does: migrate the metadata DB and set the UI login."""
        begun = time.monotonic()
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        env = self.airflow_env("scheduler")
        log_path = self.work_dir / "logs" / "airflow-db-migrate.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("w") as log:
            code = subprocess.call(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=600,
            )
        if code != 0:
            raise StackError(f"airflow db migrate failed (exit {code}):\n{log_path.read_text()[-3000:]}")
        passwords_file = env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        if passwords_file:
            Path(passwords_file).parent.mkdir(parents=True, exist_ok=True)
            Path(passwords_file).write_text(json.dumps({self.username: self.password}) + "\n")
        self._timed("airflow db migrate", begun)

    def component_argv(self, component: str) -> list[str]:
        words = self.compose.command(self.compose.airflow_service(component))
        argv = [sys.executable, "-m", "airflow", *words]
        if component == "api-server":  # the container listens on all its interfaces; we stay on loopback
            argv += ["--host", "127.0.0.1", "--port", str(self.api_port)]
        if component == "celery":  # each worker its own Celery node name (containers differ by host name)
            argv += ["--celery-hostname", f"worker{len(self.workers) + 1}@%h"]
        return argv

    def start_component(self, component: str) -> ServiceProcess:
        """Start one more process of ``component`` (another triggerer, a restarted one, a Celery worker)."""
        count = {"triggerer": len(self.triggerers), "celery": len(self.workers)}.get(component, 0)
        name = component if count == 0 else f"{component}-{count + 1}"
        if component == "celery":
            name = f"celery-worker-{count + 1}"
        process = ServiceProcess(
            name,
            self.component_argv(component),
            self.airflow_env(component),
            self.work_dir / "logs" / f"{name}.log",
            self.work_dir,
        ).start()
        if component == "triggerer":
            self.triggerers.append(process)
        if component == "celery":
            self.workers.append(process)
        self.services[name] = process
        return process

    def wait_until_ready(self, timeout: float = 180) -> None:
        begun = time.monotonic()

        def ready() -> bool:
            for process in self.services.values():
                if not process.running():
                    raise StackError(f"{process.name} exited:\n{process.output()}")
            health = self.api.health()
            return all(
                (health.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            )

        wait_until(ready, timeout, "Airflow components healthy (api-server /api/v2/monitor/health)", 0.5)
        for worker in self.workers:  # a Celery worker says "<node> ready." once it consumes its queue
            wait_until(_logged(worker, " ready."), timeout, f"{worker.name} ready", 0.5)
        self.api.login()
        self._timed("Airflow api-server, scheduler, dag-processor, triggerer", begun)

    def running_triggerers(self) -> list[ServiceProcess]:
        return [process for process in self.triggerers if process.running()]

    def ensure_triggerers(self, count: int) -> None:
        """Exactly ``count`` triggerers running (newest stopped first), the API reporting one healthy."""
        running = self.running_triggerers()
        for process in running[count:]:
            process.stop(timeout=30)
        for _ in range(count - len(running)):
            self.start_component("triggerer")
        if count:
            wait_until(
                lambda: (self.api.health().get("triggerer") or {}).get("status") == "healthy",
                120,
                "a healthy triggerer",
                0.5,
            )

    def domino_jobs(self, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        """The emulator's jobs started by tasks of ``dag_id`` (and run ``run_id``), oldest first.

        The operator's default job title names the DAG, the task and the run.
        """
        assert self.emulator is not None
        jobs = []
        for job in self.emulator.jobs():
            title = job.get("title") or ""
            if title.startswith(f"Airflow {dag_id}.") and (run_id is None or f" run {run_id} " in title):
                jobs.append(job)
        return sorted(jobs, key=lambda job: job.get("submittedAt") or "")

    # --- stop ---------------------------------------------------------------------------------
    def stop(self) -> dict[str, float]:
        """Stop everything in reverse order of start; returns seconds each part took to stop."""
        took: dict[str, float] = {}
        for name, process in reversed(list(self.services.items())):
            took[name] = process.stop(timeout=30, resend_after=10)
        self.services.clear()
        if self.emulator is not None:
            with contextlib.suppress(Exception):
                self.emulator.stop_all_jobs()
            begun = time.monotonic()
            self.emulator.stop()
            took["emulator"] = time.monotonic() - begun
            self.emulator = None
        if self.redis is not None:
            begun = time.monotonic()
            self.redis.stop()
            took["redis"] = time.monotonic() - begun
            self.redis = None
        if self.postgres is not None:
            begun = time.monotonic()
            self.postgres.stop()
            took["postgres"] = time.monotonic() - begun
            self.postgres = None
        return took

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@contextlib.contextmanager
def stack_in_temp_dir(
    prefix: str,
    dag_files: Iterable[Path],
    *,
    projects: Mapping[str, Path] | None = None,
    executor: str = "local",
    log: Callable[[str], None] = lambda message: None,
) -> Iterator[Stack]:
    """A started stack in a throwaway directory whose DAGs folder holds ``dag_files``.

    Stopped, and its directory removed, on exit (the test suites' session fixtures).
    """
    work_dir = Path(tempfile.mkdtemp(prefix=prefix))
    dags = work_dir / "dags"
    dags.mkdir()
    for path in dag_files:
        shutil.copy(path, dags / path.name)
    running = Stack(work_dir, dags_folder=dags, projects=projects, executor=executor, log=log)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


def _logged(process: ServiceProcess, text: str) -> Callable[[], bool]:
    """A check for :func:`wait_until`: ``process`` has written ``text`` to its log (and still runs)."""

    def check() -> bool:
        if not process.running():
            raise StackError(f"{process.name} exited:\n{process.output()}")
        return text in process.output(100_000)

    return check


def _drop_options(words: list[str], options: Mapping[str, int]) -> list[str]:
    """``words`` without each option in ``options`` (name -> number of values it takes)."""
    kept: list[str] = []
    skip = 0
    for word in words:
        if skip:
            skip -= 1
            continue
        if word in options:
            skip = options[word]
            continue
        kept.append(word)
    return kept
