"""Benchmark 5: what the provider adds to DAG parsing.

Import cost: a fresh interpreter per measurement imports the Airflow SDK, then the provider's operator,
sensor and trigger modules; the extra time is the provider's. Two baselines: a bare ``import airflow.sdk``
and ``from airflow.sdk import DAG, BaseOperator, BaseSensorOperator, task`` (what a DAG file loads
anyway). Also which heavy libraries the provider's imports pull in, and ``-X importtime``'s list of
the slowest modules they load.

Parse cost: ``DagBag`` on each example DAG in ``example_dags/`` (skipped when absent) in a fresh
interpreter with Airflow already loaded, against two reference DAGs of the same shape that use no
provider: ``@task`` functions and the standard provider's ``BashOperator``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import PYTHON, REPO_ROOT, median, percentile, worker_env

PROVIDER_MODULES = (
    "airflow_provider_domino.operators.domino",
    "airflow_provider_domino.sensors.domino",
    "airflow_provider_domino.triggers.domino",
)
HEAVY = (
    "httpx",
    "httpcore",
    "requests",
    "tenacity",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "domino_emulator",
    "airflow_provider_domino.hooks.transport",
    "airflow_provider_domino.hooks.domino",
)
BASELINES = {
    "bare": "import airflow.sdk",
    "dag_imports": "from airflow.sdk import DAG, BaseOperator, BaseSensorOperator, task",
}
_IMPORT_SNIPPET = """
import json, sys, time
t0 = time.perf_counter()
{baseline}
t1 = time.perf_counter()
before = set(sys.modules)
{imports}
t2 = time.perf_counter()
loaded = sorted(name for name in {heavy!r} if name in sys.modules and name not in before)
print("RESULT " + json.dumps([t1 - t0, t2 - t1, loaded]))
"""
_DAGBAG_SNIPPET = """
import json, time
import airflow.sdk
from airflow.dag_processing.dagbag import DagBag
t0 = time.perf_counter()
bag = DagBag(dag_folder={path!r}, safe_mode=False)
t1 = time.perf_counter()
print("RESULT " + json.dumps([t1 - t0, sorted(bag.dag_ids), {{k: v[-300:] for k, v in bag.import_errors.items()}}]))
"""
REFERENCE_DAGS = {
    "reference: @task": """
from datetime import datetime
from airflow.sdk import DAG, task

with DAG("reference_task", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    @task
    def start_job():
        return 1

    @task
    def wait_job(job):
        return job

    wait_job(start_job())
""",
    "reference: BashOperator": """
from datetime import datetime
from airflow.sdk import DAG
from airflow.providers.standard.operators.bash import BashOperator

with DAG("reference_bash", schedule=None, start_date=datetime(2025, 1, 1), catchup=False):
    BashOperator(task_id="start_job", bash_command="echo start") >> BashOperator(
        task_id="wait_job", bash_command="echo wait"
    )
""",
}


def _python(code: str, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, *options, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=120
    )


def _result(process: subprocess.CompletedProcess[str]) -> Any:
    for line in reversed(process.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(
        f"no result from the measuring interpreter:\n{process.stdout[-1500:]}{process.stderr[-1500:]}"
    )


def import_cost(repetitions: int, env: dict[str, str]) -> dict[str, Any]:
    imports = "\n".join(f"import {module}" for module in PROVIDER_MODULES)
    results: dict[str, Any] = {}
    for name, baseline in BASELINES.items():
        code = _IMPORT_SNIPPET.format(baseline=baseline, imports=imports, heavy=HEAVY)
        base_times, extra_times, loaded = [], [], []
        for _ in range(repetitions):
            base, extra, loaded = _result(_python(code, env))
            base_times.append(base)
            extra_times.append(extra)
        results[name] = {
            "baseline_ms": 1000 * median(base_times),
            "provider_ms": 1000 * median(extra_times),
            "provider_p90_ms": 1000 * percentile(extra_times, 90),
            "heavy_loaded_by_provider": loaded,
            "repetitions": repetitions,
        }
    return results


def importtime_top(env: dict[str, str], count: int = 8) -> list[tuple[str, float, float]]:
    """The modules the provider's imports load after ``import airflow.sdk``, slowest (self time) first."""
    code = "import airflow.sdk\n" + "\n".join(f"import {module}" for module in PROVIDER_MODULES)
    stderr = _python(code, env, "-X", "importtime").stderr.splitlines()
    rows = []
    for line in stderr:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[len("import time:") :].split("|"))
        rows.append((name, int(self_us), int(cumulative_us)))
    start = max(index for index, row in enumerate(rows) if row[0] == "airflow.sdk") + 1
    after = rows[start:]
    after.sort(key=lambda row: row[1], reverse=True)
    return [
        (name.strip(), self_us / 1000, cumulative_us / 1000) for name, self_us, cumulative_us in after[:count]
    ]


def dag_parse_cost(repetitions: int, env: dict[str, str], work_dir: Path) -> dict[str, Any]:
    files: dict[str, Path] = {}
    for label, text in REFERENCE_DAGS.items():
        path = work_dir / (label.split(": ")[1].strip("@").lower() + "_reference_dag.py")
        path.write_text(text)
        files[label] = path
    example_dir = REPO_ROOT / "example_dags"
    examples = sorted(example_dir.glob("*.py")) if example_dir.is_dir() else []
    for path in examples:
        files[f"example_dags/{path.name}"] = path
    results: dict[str, Any] = {"examples_found": len(examples)}
    for label, path in files.items():
        times, dag_ids, errors = [], [], {}
        for _ in range(repetitions):
            try:
                seconds, dag_ids, errors = _result(_python(_DAGBAG_SNIPPET.format(path=str(path)), env))
            except (RuntimeError, subprocess.TimeoutExpired) as err:
                errors = {"measurement": str(err)[-300:]}
                break
            times.append(seconds)
        results[label] = {"ms": 1000 * median(times), "dag_ids": dag_ids, "import_errors": errors}
    return results


def run(*, repetitions: int, dag_repetitions: int, work_dir: Path, log: Any) -> dict[str, Any]:
    log(f"  parse cost: {repetitions} fresh interpreters per import figure, {dag_repetitions} per DAG file")
    env = worker_env(work_dir / "airflow")
    results: dict[str, Any] = {"imports": import_cost(repetitions, env)}
    for name, figures in results["imports"].items():
        log(
            f"    provider imports over {name}: +{figures['provider_ms']:.1f} ms "
            f"(baseline {figures['baseline_ms']:.0f} ms); heavy modules loaded: {figures['heavy_loaded_by_provider']}"
        )
    results["importtime_top"] = importtime_top(env)
    results["dags"] = dag_parse_cost(dag_repetitions, env, work_dir)
    for label, figures in results["dags"].items():
        if isinstance(figures, dict):
            log(
                f"    {label}: {figures['ms']:.1f} ms, dags {figures['dag_ids']}, errors {len(figures['import_errors'])}"
            )
    return results
