"""Stubs of the peers' run-status APIs, in the same stack as the provider's emulator (FastAPI on uvicorn),
so the server side costs the same:

* Databricks Jobs API ``GET /api/2.2/jobs/runs/get`` (``DatabricksExecutionTrigger``);
* dbt Cloud ``GET /api/v2/accounts/{account_id}/runs/{run_id}/`` (``DbtCloudRunJobTrigger``; its hook
  builds ``https://{tenant}/...`` URLs only, so that peer needs ``--ssl-certfile``).

    python bench/peer_stub.py PORT_FILE [--ssl-certfile PEM --ssl-keyfile PEM]

Runs are made with ``POST /_stub/runs {"count": N, "seconds": S}``: each reports running until S seconds
after it was made, then successful. ``GET /_stub/requests`` counts the API requests served (both APIs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request

#: dbt Cloud's run status codes (``DbtCloudJobRunStatus``): running, then success.
DBT_RUNNING, DBT_SUCCESS = 3, 10


def build_app() -> Any:
    app = FastAPI()
    runs: dict[int, float] = {}
    served = {"requests": 0}

    def ended(run_id: int) -> bool:
        served["requests"] += 1
        return time.monotonic() >= runs.get(run_id, 0)

    @app.post("/_stub/runs")
    async def make_runs(request: Request) -> dict[str, Any]:
        body = await request.json()
        first = len(runs) + 1
        ends = time.monotonic() + float(body["seconds"])
        ids = list(range(first, first + int(body["count"])))
        for run_id in ids:
            runs[run_id] = ends
        return {"run_ids": ids}

    @app.get("/_stub/requests")
    async def requests_served() -> dict[str, int]:
        return served

    @app.get("/api/2.2/jobs/runs/get")
    async def databricks_run(request: Request) -> dict[str, Any]:
        run_id = int(request.query_params.get("run_id") or 0)
        if not run_id:  # the Databricks hook sends GET with a JSON body
            body = await request.body()
            run_id = int(json.loads(body).get("run_id", 0)) if body else 0
        done = ended(run_id)
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

    @app.get("/api/v2/accounts/{account_id}/runs/{run_id}/")
    async def dbt_cloud_run(account_id: int, run_id: int) -> dict[str, Any]:
        # The hook reads ``data.status``; the rest is a few of the fields a real run carries.
        done = ended(run_id)
        status = DBT_SUCCESS if done else DBT_RUNNING
        return {
            "status": {"code": 200, "is_success": True, "user_message": "Success!", "developer_message": ""},
            "data": {
                "id": run_id,
                "account_id": account_id,
                "job_definition_id": 1,
                "project_id": 1,
                "environment_id": 1,
                "status": status,
                "status_humanized": "Success" if done else "Running",
                "in_progress": not done,
                "is_complete": done,
                "is_success": done,
                "is_error": False,
                "is_cancelled": False,
                "href": f"https://stub/deploy/{account_id}/projects/1/runs/{run_id}/",
            },
        }

    return app


def main() -> None:
    import socket

    import uvicorn

    parser = argparse.ArgumentParser(description="stubs of the peers' run-status APIs")
    parser.add_argument("port_file", type=Path, help="the chosen port is written here once bound")
    parser.add_argument("--ssl-certfile", help="serve https with this PEM certificate")
    parser.add_argument("--ssl-keyfile", help="the certificate's PEM private key")
    args = parser.parse_args()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        build_app(),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,  # clients that left without a TLS close_notify must not hold it up
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
    server = uvicorn.Server(config)
    args.port_file.write_text(str(port))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
