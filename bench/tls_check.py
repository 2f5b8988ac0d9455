"""Certificate verification, client by client: the https runs measure verified TLS, not luck.

    .venv/bin/python bench/tls_check.py

Serves the emulator and the peers' stub with a certificate from a throwaway CA (``tls.py``), then asks
for one job's status with every client the scale benchmark measures (ours on aiohttp and on httpx, the
Databricks and dbt Cloud hooks, python-domino) from a worker process set up as the benchmark's workers
are, twice: trusting that CA, where every client must get through, and trusting an unrelated CA, where
every client must fail with a certificate error. Exits non-zero otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import BENCH_DIR, PROJECT, PYTHON, Emulator, WorkDir, run_worker, worker_env, worker_main
from tls import TlsFiles, make_certificates

# ------------------------------------------------------------------------------------ worker side


async def _ours(job_id: str, library: str) -> str:
    from variants import _PoolHook, configure_pool

    from airflow_provider_domino.hooks.domino import DominoHook

    if library == "httpx":
        configure_pool(4, True, "httpx")
    hook = _PoolHook(caller="tls-check") if library == "httpx" else DominoHook(caller="tls-check")
    try:
        return (await hook.aget_job(job_id)).raw_status
    finally:
        await hook.aclose()


async def _databricks(run_id: int) -> str:
    from airflow.providers.databricks.hooks.databricks import DatabricksHook

    async with DatabricksHook(retry_limit=1, retry_delay=0.1) as hook:
        return str((await hook.a_get_run_state(run_id)).life_cycle_state)


async def _dbt_cloud(run_id: int) -> str:
    from airflow.providers.dbt.cloud.hooks.dbt import DbtCloudHook

    return str(await DbtCloudHook(retry_limit=1).get_job_status(run_id))


def _python_domino(job_id: str, project: str) -> str:
    from variants import _python_domino_client

    os.environ["DOMINO_MAX_RETRIES"] = "0"
    conn = json.loads(os.environ["AIRFLOW_CONN_DOMINO_DEFAULT"])
    client = _python_domino_client()(project, api_key=conn["password"], host=conn["host"])
    return str(client.job_status(job_id)["statuses"]["executionStatus"])


def _worker(config: dict[str, Any]) -> dict[str, str]:
    import airflow.sdk  # noqa: F401 - as in the benchmark's workers

    job_id, run_id = config["job_id"], int(config["run_id"])
    clients: dict[str, Callable[[], str]] = {
        "ours (aiohttp)": lambda: asyncio.run(_ours(job_id, "aiohttp")),
        "ours (httpx)": lambda: asyncio.run(_ours(job_id, "httpx")),
        "databricks": lambda: asyncio.run(_databricks(run_id)),
        "dbt_cloud": lambda: asyncio.run(_dbt_cloud(run_id)),
        "python_domino": lambda: _python_domino(job_id, config["project"]),
    }
    outcomes = {}
    for name, ask in clients.items():
        try:
            outcomes[name] = f"ok: {ask()}"
        except Exception as err:  # the outcome to report, whatever the client raises
            why = "certificate refused" if "CERTIFICATE_VERIFY_FAILED" in str(err) else "failed"
            outcomes[name] = f"{why}: {type(err).__name__}: {str(err)[:120]}"
    return outcomes


# ------------------------------------------------------------------------------- orchestrator side


def _start_stub(work_dir: Path, tls: TlsFiles) -> tuple[subprocess.Popen[bytes], int]:
    import requests

    port_file = work_dir / "stub.port"
    serve = ["--ssl-certfile", str(tls.cert), "--ssl-keyfile", str(tls.key)]
    stub = subprocess.Popen([PYTHON, str(BENCH_DIR / "peer_stub.py"), str(port_file), *serve])
    deadline = time.monotonic() + 60
    while True:
        if time.monotonic() > deadline or stub.poll() is not None:
            stub.kill()
            raise RuntimeError("the stub did not start")
        if port_file.exists() and port_file.read_text():
            port = int(port_file.read_text())
            try:
                requests.get(f"https://127.0.0.1:{port}/_stub/requests", verify=str(tls.ca), timeout=1)
                return stub, port
            except requests.ConnectionError:
                pass
        time.sleep(0.05)


def main() -> int:
    import requests

    failures = 0
    with WorkDir("tls-check") as work:
        served = make_certificates(work / "ca")
        unrelated = make_certificates(work / "unrelated", ca_name="an unrelated CA")
        with Emulator(work, tls=served) as emulator:
            job_id = emulator.start_jobs(["true"])[0]
            emulator.wait_until([job_id], {"Succeeded"}, timeout=30)
            stub, port = _start_stub(work, served)
            try:
                run_id = requests.post(
                    f"https://127.0.0.1:{port}/_stub/runs",
                    json={"count": 1, "seconds": 0},
                    verify=str(served.ca),
                    timeout=10,
                ).json()["run_ids"][0]
                for label, ca, should_pass in (
                    ("the CA that signed the servers' certificate", served.ca, True),
                    ("an unrelated CA", unrelated.ca, False),
                ):
                    trusted = TlsFiles(ca=ca, cert=served.cert, key=served.key)
                    env = worker_env(work / "airflow", emulator.url, trusted)
                    env["AIRFLOW_CONN_DATABRICKS_DEFAULT"] = json.dumps(
                        {"conn_type": "databricks", "host": "127.0.0.1", "port": port, "password": "x"}
                    )
                    env["AIRFLOW_CONN_DBT_CLOUD_DEFAULT"] = json.dumps(
                        {"conn_type": "dbt_cloud", "host": f"127.0.0.1:{port}", "login": "1", "password": "x"}
                    )
                    config = {
                        "name": f"check-{should_pass}",
                        "job_id": job_id,
                        "run_id": run_id,
                        "project": "/".join((PROJECT[0], emulator.project_names[0])),
                    }
                    outcomes = run_worker("tls_check.py", config, work_dir=work, env=env, timeout=300)
                    print(f"worker trusting {label}:")
                    for name, outcome in outcomes.items():
                        good = outcome.startswith("ok" if should_pass else "certificate refused")
                        failures += not good
                        print(f"  {'as expected' if good else 'UNEXPECTED '}  {name}: {outcome}")
            finally:
                stub.kill()
                stub.wait()
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        worker_main(_worker)
    else:
        sys.exit(main())
