"""The emulator's TLS option: https on the same port, verified against the CA that signed its certificate.

The benchmarks' https runs rely on it (``bench/tls.py`` makes the throwaway CA); here one emulator serves
with such a certificate, and clients that trust the CA get through while clients that do not are refused.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from domino_emulator.harness import EmulatorProcess

from airflow_provider_domino.api.endpoints import list_jobs
from airflow_provider_domino.api.errors import DominoConnectionError
from airflow_provider_domino.hooks.connection import DominoAuth, DominoConnectionSettings
from airflow_provider_domino.hooks.retry import RetryPolicy
from airflow_provider_domino.hooks.transport import AsyncTransport
from bench.tls import TlsFiles, make_certificates
from tests.emulator.helpers import make_projects_dir

KEY = "tls-test-key"


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[TlsFiles, TlsFiles]:
    """The CA the emulator's certificate comes from, and an unrelated one."""
    return make_certificates(tmp_path_factory.mktemp("tls")), make_certificates(
        tmp_path_factory.mktemp("other")
    )


@pytest.fixture(scope="module")
def tls_emulator(
    certificates: tuple[TlsFiles, TlsFiles], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorProcess]:
    files, _ = certificates
    with EmulatorProcess(
        api_key=KEY,
        projects_dir=make_projects_dir(tmp_path_factory.mktemp("projects")),
        ssl_certfile=files.cert,
        ssl_keyfile=files.key,
        ca_file=files.ca,
    ) as emulator:
        yield emulator


def test_serves_https_to_clients_that_trust_its_ca(
    tls_emulator: EmulatorProcess, certificates: tuple[TlsFiles, TlsFiles]
) -> None:
    files, other = certificates
    assert tls_emulator.url.startswith("https://127.0.0.1:")
    project_id = tls_emulator.project_id("acme", "churn")  # the harness's own requests verify too
    url = f"{tls_emulator.url}/api/jobs/beta/jobs?projectId={project_id}"
    headers = {"X-Domino-Api-Key": KEY}
    assert requests.get(url, headers=headers, verify=str(files.ca), timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, headers=headers, verify=str(other.ca), timeout=10)


def test_the_provider_async_transport_verifies_against_the_connection_ca(
    tls_emulator: EmulatorProcess, certificates: tuple[TlsFiles, TlsFiles]
) -> None:
    files, other = certificates
    project_id = tls_emulator.project_id("acme", "churn")

    async def first_page(ca: Path) -> int:
        settings = DominoConnectionSettings(
            conn_id="tls", base_url=tls_emulator.url, auth=DominoAuth("api_key", "tls", KEY), verify=str(ca)
        )
        transport = AsyncTransport(settings, RetryPolicy(max_attempts=1), "tls-test")
        try:
            return len((await transport.send(list_jobs(project_id))).jobs)
        finally:
            await transport.aclose()

    assert asyncio.run(first_page(files.ca)) == 0  # a page was read and parsed: this emulator ran no job
    with pytest.raises(DominoConnectionError, match="TLS"):
        asyncio.run(first_page(other.ca))


def test_a_harness_that_does_not_trust_the_certificate_stops_the_emulator(
    certificates: tuple[TlsFiles, TlsFiles], tmp_path: Path
) -> None:
    files, other = certificates
    emulator = EmulatorProcess(
        api_key=KEY, ssl_certfile=files.cert, ssl_keyfile=files.key, ca_file=other.ca, work_dir=tmp_path
    )
    with pytest.raises(requests.exceptions.SSLError):
        emulator.start()
    assert emulator.pid is None  # not left running
    emulator.close()
