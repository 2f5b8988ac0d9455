"""A stub of the Databricks Jobs API (``GET /api/2.2/jobs/runs/get``) for the peers' trigger, in the
same stack as the provider's emulator (FastAPI on uvicorn), so the server side costs the same.

    python bench/peer_stub.py PORT_FILE

Runs are made with ``POST /_stub/runs {"count": N, "seconds": S}``: each reports ``RUNNING`` until S
seconds after it was made, then ``TERMINATED``/``SUCCESS``. ``GET /_stub/requests`` counts the API
requests served.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request


def build_app() -> Any:
    app = FastAPI()
    runs: dict[int, float] = {}
    served = {"requests": 0}

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
    async def get_run(request: Request) -> dict[str, Any]:
        served["requests"] += 1
        run_id = int(request.query_params.get("run_id") or 0)
        if not run_id:  # the Databricks hook sends GET with a JSON body
            body = await request.body()
            run_id = int(json.loads(body).get("run_id", 0)) if body else 0
        ended = time.monotonic() >= runs.get(run_id, 0)
        state = (
            {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS", "state_message": ""}
            if ended
            else {"life_cycle_state": "RUNNING", "state_message": "In run"}
        )
        return {
            "run_id": run_id,
            "job_id": 1,
            "state": state,
            "status": {"state": "TERMINATED" if ended else "RUNNING"},
            "run_page_url": f"http://stub/#job/1/run/{run_id}",
            "tasks": [],
        }

    return app


def main() -> None:
    import socket

    import uvicorn

    port_file = Path(sys.argv[1])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    port_file.write_text(str(port))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
