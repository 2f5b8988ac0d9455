"""``docker-compose.yml``: a real Airflow with the provider and the emulator, checked without Docker.

The file is parsed and its wiring checked: every component the deferrable path needs, the provider in
the image, a connection that reaches the emulator, the UI port, the DAGs mount, start-up order. When a
Docker CLI with the compose plugin is available, ``docker compose config -q`` validates it as well.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

yaml = pytest.importorskip("yaml")

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
AIRFLOW_COMMANDS = ("api-server", "scheduler", "dag-processor", "triggerer")
_DEFAULTED = re.compile(r"\$\{(?P<name>\w+)(?::?-(?P<default>[^}]*))?\}")


def _resolve(value: str) -> str:
    """Substitute ``${VAR:-default}`` the way compose does with nothing set: the default (or empty)."""
    return _DEFAULTED.sub(lambda match: match["default"] or "", value)


def _words(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    return [str(item) for item in value]


def _env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: _resolve(str(value)) for key, value in environment.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _find(services: dict[str, dict[str, Any]], predicate: Any, what: str) -> tuple[str, dict[str, Any]]:
    found = [(name, service) for name, service in services.items() if predicate(service)]
    assert len(found) == 1, f"expected exactly one {what} service, found {[name for name, _ in found]}"
    return found[0]


def _airflow_service(services: dict[str, dict[str, Any]], command: str) -> tuple[str, dict[str, Any]]:
    return _find(services, lambda service: _words(service.get("command"))[:1] == [command], f"'{command}'")


@pytest.fixture(scope="module")
def emulator_service(services: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    def is_emulator(service: dict[str, Any]) -> bool:
        return "domino-emulator" in _words(service.get("entrypoint")) + _words(service.get("command"))[:1]

    return _find(services, is_emulator, "domino-emulator")


@pytest.fixture(scope="module")
def init_service(services: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    return _find(services, lambda service: _env(service).get("_AIRFLOW_DB_MIGRATE") == "true", "init")


def _option(words: list[str], name: str) -> str:
    assert name in words, f"{name} missing from {words}"
    return words[words.index(name) + 1]


def test_every_component_of_the_deferrable_path_exists(services, emulator_service, init_service) -> None:
    postgres = [
        name for name, service in services.items() if str(service.get("image", "")).startswith("postgres")
    ]
    assert postgres, "no PostgreSQL service"
    for command in AIRFLOW_COMMANDS:
        _airflow_service(services, command)
    _, init = init_service
    command = " ".join(_words(init.get("command")))
    assert "SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" in command, "the init service writes no login for the UI"


def test_airflow_services_run_the_image_with_the_provider(services, init_service) -> None:
    airflow_services = [_airflow_service(services, command) for command in AIRFLOW_COMMANDS] + [init_service]
    for name, service in airflow_services:
        build = service.get("build")
        assert isinstance(build, dict), f"{name} does not build the provider image"
        assert (REPO / build["context"]).resolve() == REPO, f"{name}: build context is not the repository"
        assert build["dockerfile"] == "docker/Dockerfile"
        env = _env(service)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname in services
        assert urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]).hostname in services
        assert env.get("AIRFLOW__API_AUTH__JWT_SECRET"), f"{name}: components must share one JWT secret"

    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.\d+", dockerfile, re.M), (
        "not the official Airflow 3.3 image"
    )
    copied = re.findall(r"^COPY\b.*?\s(\S+)\s*$", dockerfile, re.M)
    installs = [line for line in dockerfile.splitlines() if re.search(r"\bpip install\b", line)]
    assert installs, "the Dockerfile installs nothing with pip"
    # The directory the repository's files are copied to (a COPY destination ending in "/" is one).
    package_dir = (
        (copied[0].rstrip("/") if copied[0].endswith("/") else str(Path(copied[0]).parent)) if copied else ""
    )
    assert any(package_dir and package_dir in line for line in installs), (
        f"no pip install of the copied repository ({package_dir}) in {installs}"
    )
    assert any('"apache-airflow==${AIRFLOW_VERSION}"' in line for line in installs), "Airflow is not pinned"
    sources = [
        word
        for line in re.findall(r"^COPY\b(.*)$", dockerfile, re.M)
        for word in line.split()[:-1]
        if not word.startswith("--")
    ]
    assert {"pyproject.toml", "airflow_provider_domino"} <= set(sources), sources
    for source in sources:  # the build context is the repository: every COPY source must exist there
        assert (REPO / source).exists(), f"COPY source {source} is not in the repository"


def test_connection_reaches_the_emulator(services, emulator_service) -> None:
    emulator_name, emulator = emulator_service
    words = _words(emulator.get("command"))
    port = int(_option(words, "--port"))
    assert _option(words, "--host") == "0.0.0.0" and "--allow-remote" in words
    assert _option(words, "--projects-dir") == "/projects"
    mounts = [str(volume) for volume in emulator.get("volumes", [])]
    assert any(m.startswith("./example_dags/domino_project:/projects/demo/churn") for m in mounts), mounts
    emulator_key = _env(emulator).get("DOMINO_EMULATOR_API_KEY")
    assert emulator_key, "the emulator has no API key (and no default for local use)"
    for published in emulator.get("ports", []):
        assert str(published).startswith("127.0.0.1:"), "the emulator runs arbitrary commands: loopback only"

    for command in ("scheduler", "triggerer", "api-server", "dag-processor"):
        name, service = _airflow_service(services, command)
        conn = json.loads(_env(service)["AIRFLOW_CONN_DOMINO_DEFAULT"])
        assert conn["conn_type"] == "domino"
        url = urlsplit(conn["host"])
        assert url.hostname == emulator_name, (
            f"{name}: connection host {url.hostname} is not the emulator service"
        )
        assert url.port == port, f"{name}: connection port {url.port}, emulator listens on {port}"
        assert conn["password"] == emulator_key, (
            f"{name}: the connection sends another key than the emulator takes"
        )


def test_ui_port_and_dags_folder(services) -> None:
    _, api_server = _airflow_service(services, "api-server")
    assert any(str(port).split(":")[-2:] == ["8080", "8080"] for port in api_server.get("ports", []))
    for command in AIRFLOW_COMMANDS:
        name, service = _airflow_service(services, command)
        volumes = [str(volume) for volume in service.get("volumes", [])]
        assert "./example_dags:/opt/airflow/dags" in volumes, f"{name} does not mount ./example_dags"
    assert (REPO / "example_dags" / "domino_project").is_dir()


def test_health_checks_and_start_order(services, emulator_service, init_service) -> None:
    postgres_name = next(
        name for name, s in services.items() if str(s.get("image", "")).startswith("postgres")
    )
    emulator_name, _ = emulator_service
    init_name, init = init_service
    for name in (postgres_name, emulator_name):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert init["depends_on"][postgres_name]["condition"] == "service_healthy"
    for command in AIRFLOW_COMMANDS:
        name, service = _airflow_service(services, command)
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        depends = service["depends_on"]
        assert depends[postgres_name]["condition"] == "service_healthy", name
        assert depends[init_name]["condition"] == "service_completed_successfully", name
    for command in ("scheduler", "triggerer"):  # they run the Domino tasks and triggers
        name, service = _airflow_service(services, command)
        assert service["depends_on"][emulator_name]["condition"] == "service_healthy", name
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown service {dependency}"


def test_test_button_auth_manager_and_login_match_the_readme(services, init_service) -> None:
    """The Test button is on; the auth manager is named; the login the docs give is the one created."""
    readme = (REPO / "docs" / "deployment.md").read_text()
    _, init = init_service
    init_env = _env(init)
    username, password = init_env["_AIRFLOW_WWW_USER_USERNAME"], init_env["_AIRFLOW_WWW_USER_PASSWORD"]
    for command in AIRFLOW_COMMANDS:
        name, service = _airflow_service(services, command)
        env = _env(service)
        assert env.get("AIRFLOW__CORE__TEST_CONNECTION") == "Enabled", f"{name}: the Test button is disabled"
        manager = env.get("AIRFLOW__CORE__AUTH_MANAGER", "")
        assert manager.endswith(".SimpleAuthManager"), f"{name}: auth manager {manager!r}"
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == f"{username}:admin"
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/opt/airflow/auth/")
        volumes = [str(volume) for volume in service.get("volumes", [])]
        assert any(volume.endswith(":/opt/airflow/auth") for volume in volumes), (
            f"{name}: no shared auth volume"
        )
    assert "SimpleAuthManager" in readme
    assert f"user `{username}`, password `{password}`" in readme, (
        "docs/deployment.md's login differs from the compose default"
    )


def test_image_installs_the_provider_with_the_stack_extra() -> None:
    """Airflow on PostgreSQL needs psycopg2 and asyncpg: the image installs the extra that has them."""
    dockerfile = (REPO / "docker" / "Dockerfile").read_text()
    assert re.search(r'pip install .*"/opt/airflow-provider-domino\[stack\]"', dockerfile), dockerfile
    pyproject = (REPO / "pyproject.toml").read_text()
    stack_extra = re.search(r"^stack = \[(.*)\]$", pyproject, re.M)
    assert stack_extra is not None, "pyproject.toml has no stack extra"
    assert "asyncpg" in stack_extra[1] and "psycopg2" in stack_extra[1], stack_extra[1]


def test_make_stack_reads_this_file_and_only_localizes_it() -> None:
    """The native stack takes commands and environment from docker-compose.yml, with local addresses."""
    sys.path.insert(0, str(REPO / "scripts"))
    from stack_harness import AIRFLOW_COMPONENTS, ComposeFile, Localizer

    compose = ComposeFile(COMPOSE_FILE, environ={})
    localize = Localizer(
        compose,
        {
            compose.postgres_service: "//127.0.0.1:5999",
            compose.emulator_service: "http://127.0.0.1:8999",
            compose.airflow_service("api-server"): "http://127.0.0.1:9080",
        },
        {"/opt/airflow": Path("/tmp/run/airflow")},
    )
    for component in AIRFLOW_COMPONENTS:
        assert compose.command(compose.airflow_service(component)) == [component]
        env = {
            key: localize(value)
            for key, value in compose.environment(compose.airflow_service(component)).items()
        }
        assert (
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            == "postgresql+psycopg2://airflow:airflow@127.0.0.1:5999/airflow"
        )
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:9080/execution/"
        conn = json.loads(env["AIRFLOW_CONN_DOMINO_DEFAULT"])
        assert conn["host"] == "http://127.0.0.1:8999"
        assert conn["extra"]["ui_url"] == "http://127.0.0.1:8999"  # the published port, seen from a browser
        assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith("/tmp/run/airflow/auth/")
    init_env = compose.environment(compose.init_service)
    assert (init_env["_AIRFLOW_WWW_USER_USERNAME"], init_env["_AIRFLOW_WWW_USER_PASSWORD"]) == (
        "airflow",
        "airflow",
    )


def test_docker_compose_config_is_valid() -> None:
    if shutil.which("docker") is None:
        pytest.skip("no Docker CLI on this machine: `docker compose config` not run")
    version = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, timeout=60)
    if version.returncode != 0:
        pytest.skip("the Docker CLI has no compose plugin here: `docker compose config` not run")
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr


def test_the_celery_profile_adds_redis_and_two_workers(services) -> None:
    """`AIRFLOW_EXECUTOR=CeleryExecutor docker compose --profile celery up`: the broker and two workers."""
    redis_name, redis = _find(services, lambda s: str(s.get("image", "")).startswith("redis:"), "redis")
    _, worker = _airflow_service(services, "celery")
    assert redis.get("profiles") == ["celery"] and worker.get("profiles") == ["celery"]
    assert _words(worker.get("command")) == ["celery", "worker"]
    assert worker.get("deploy", {}).get("replicas") == 2
    assert redis_name in worker["depends_on"] and worker.get("healthcheck", {}).get("test")
    env = _env(worker)
    assert urlsplit(env["AIRFLOW__CELERY__BROKER_URL"]).hostname == redis_name
    assert urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname in services
    executor = worker["environment"]["AIRFLOW__CORE__EXECUTOR"]
    assert executor == "${AIRFLOW_EXECUTOR:-LocalExecutor}", "the executor is chosen with AIRFLOW_EXECUTOR"
