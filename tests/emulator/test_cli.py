"""The command line: safety checks, start-up output, defaults, and cheap imports."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests
from domino_emulator.harness import EmulatorProcess

MODULE = [sys.executable, "-m", "domino_emulator"]


def _run(*args: str, key: str | None = "cli-test-key") -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "DOMINO_EMULATOR_API_KEY"}
    if key is not None:
        env["DOMINO_EMULATOR_API_KEY"] = key
    return subprocess.run([*MODULE, *args], capture_output=True, text=True, env=env, timeout=60)


def test_non_loopback_host_is_refused() -> None:
    result = _run("--host", "0.0.0.0", "--port", "0")
    assert result.returncode == 2
    assert (
        "non-loopback" in result.stderr and "executes" in result.stderr and "--allow-remote" in result.stderr
    )
    assert "cli-test-key" not in result.stderr + result.stdout


def test_api_key_is_required() -> None:
    result = _run("--port", "0", key=None)
    assert result.returncode == 2
    assert "API key is required" in result.stderr


def test_invalid_fault_configuration_is_a_usage_error(tmp_path: Path) -> None:
    assert _run("--port", "0", "--faults", "{not json").returncode == 2
    config = tmp_path / "faults.json"
    config.write_text('{"rules": [{"endpoint": "get_job", "fault": "explode"}]}')
    result = _run("--port", "0", "--faults", f"@{config}")
    assert result.returncode == 2 and "explode" not in result.stdout


def test_package_import_does_not_load_the_web_stack() -> None:
    code = (
        "import sys, domino_emulator, domino_emulator.harness;"
        "loaded = [m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules];"
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_bad_values_of_the_shape_options_are_usage_errors() -> None:
    for args in (("--list-lag", "-1"), ("--log-page-cap", "1"), ("--log-page-cap", "10001")):
        result = _run("--port", "0", *args)
        assert result.returncode == 2, args
        assert args[0] in result.stderr


def test_defaults_startup_faults_ignore_range_and_output() -> None:
    faults = '{"rules": [{"endpoint": "find_project", "fault": "status", "status": 418, "times": 1}]}'
    with EmulatorProcess(
        api_key="startup-secret", extra_args=["--flat-shapes", "--ignore-range", "--faults", faults]
    ) as emulator:
        find = "/v4/gateway/projects/findProjectByOwnerAndName?ownerName=demo&projectName=quickstart"
        assert [emulator.api("GET", find).status_code for _ in range(2)] == [418, 200]
        assert f"domino-emulator listening on {emulator.url}" in emulator.output()
        assert emulator.url.startswith("http://127.0.0.1:")
        assert (emulator.work_dir / "ready").read_text() == emulator.url
        project_id = emulator.project_id("demo", "quickstart")
        job = emulator.api(
            "POST", "/api/jobs/v1/jobs", json={"projectId": project_id, "commandToRun": "echo 0123456789"}
        ).json()  # flat shapes: the job itself, not an envelope
        emulator.wait_for_status(job["id"], "Succeeded", timeout=10)
        ranged = requests.get(
            f"{emulator.url}/api/jobs/beta/jobs/{job['id']}/logs",
            headers={**emulator.headers, "Range": "bytes=5-"},
            timeout=10,
        )
        assert ranged.status_code == 200 and ranged.text == "0123456789\n"
        emulator.stop()
        assert "startup-secret" not in emulator.output()
        assert "Traceback" not in emulator.output()
