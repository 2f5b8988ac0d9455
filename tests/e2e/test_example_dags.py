"""The example DAGs: they parse cleanly and cheaply, and each runs end to end with ``dag.test()``.

The runs use a real Airflow (the session's metadata DB), real HTTP and a real emulator holding the
example project ``demo/churn``, exactly as ``make demo`` does. A deferrable task costs ~15 s here, so
each DAG runs once and every assertion about it reads the result of that single run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "example_dags"
EXAMPLE_PROJECT = EXAMPLE_DAGS / "domino_project"
DEMO_KEY = "demo-key-" + secrets.token_hex(12)

EXPECTED_TASKS = {
    "domino_retraining_pipeline": {"prepare", "train", "evaluate", "accurate_enough", "tag_production"},
    "domino_hyperparameter_sweep": {"prepare", "train", "pick_best"},
    "domino_job_chain": {
        "choose_upstream_job",
        "start_stand_in_job",
        "wait_for_upstream_job",
        "train",
        "evaluate",
    },
    # A pair on the asset demo_churn_model: tests/e2e/test_assets.py runs them end to end.
    "domino_model_producer": {"prepare", "train"},
    "domino_model_consumer": {"model_commit", "evaluate"},
    # Scheduled on Domino job events (an AssetWatcher with DominoJobEventTrigger).
    "domino_event_driven": {"release_commit", "evaluate"},
    "domino_spark_cluster_features": {"features", "check_quality", "publish"},
}


# --- parsing ---------------------------------------------------------------------------------


def test_example_dags_import_without_errors() -> None:
    try:  # Airflow 3.2+
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.1
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(EXAMPLE_DAGS))
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == set(EXPECTED_TASKS)
    for dag_id, task_ids in EXPECTED_TASKS.items():
        dag = bag.dags[dag_id]
        assert set(dag.task_ids) == task_ids, dag_id
        assert dag.doc_md and "demo/churn" in dag.doc_md, f"{dag_id} has no usable docstring"
    # The example project's scripts are not DAG files (.airflowignore).
    assert {Path(stat.file).name for stat in bag.dagbag_stats} == {
        f"{dag_id}.py" for dag_id in EXPECTED_TASKS
    }

    pipeline = bag.dags["domino_retraining_pipeline"]
    assert pipeline.schedule == "@weekly" and pipeline.catchup is False
    train = pipeline.get_task("train")
    assert train.deferrable and train.retries == 2 and train.execution_timeout and train.timeout
    assert "outputCommitId" in pipeline.get_task("evaluate").commit_id
    sweep_train = bag.dags["domino_hyperparameter_sweep"].get_task("train")
    assert len(sweep_train.expand_input.value["command"]) >= 3
    assert sweep_train.partial_kwargs["deferrable"] is True
    sensor = bag.dags["domino_job_chain"].get_task("wait_for_upstream_job")
    assert sensor.deferrable and "dag_run.conf" in sensor.job_id


def test_example_dags_are_cheap_to_import() -> None:
    """Parsing a DAG file must not load the hook, its HTTP transports or the emulator."""
    script = f"""
import importlib.util, json, sys
for path in sorted(__import__("pathlib").Path({str(EXAMPLE_DAGS)!r}).glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    spec.loader.exec_module(importlib.util.module_from_spec(spec))
print(json.dumps(sorted(sys.modules)))
"""
    env = {**os.environ}
    env.pop("AIRFLOW_CONN_DOMINO_DEFAULT", None)  # no connection needed to parse
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    modules = set(json.loads(result.stdout.strip().splitlines()[-1]))
    heavy = {
        "airflow_provider_domino.hooks.domino",
        "airflow_provider_domino.hooks.transport",
        "domino_emulator.harness",
        "domino_emulator.app",
        "airflow_provider_domino.api.endpoints",
    }
    assert not heavy & modules, f"DAG files import {sorted(heavy & modules)} at parse time"


# --- end-to-end runs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    """An emulator with the example project as ``demo/churn`` (the session emulator has ``acme/churn``)."""
    from domino_emulator.harness import EmulatorProcess

    root = tmp_path_factory.mktemp("example-dags")
    shutil.copytree(
        EXAMPLE_PROJECT,
        root / "projects" / "demo" / "churn",
        ignore=shutil.ignore_patterns("data", "metrics", "model.json", "__pycache__"),
    )
    with pytest.MonkeyPatch.context() as patch:
        # Jobs run `python ...`: make that this interpreter, whatever else is on PATH.
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        with EmulatorProcess(
            api_key=DEMO_KEY,
            projects_dir=root / "projects",
            work_dir=root / "emulator",
            extra_args=["--max-concurrent-per-tier", "8"],
        ) as process:
            yield process


@pytest.fixture
def demo_conn(demo_emulator: EmulatorProcess, airflow_db: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``domino_default`` pointing at the demo emulator, with no default project (the DAGs name it)."""
    conn = {"conn_type": "domino", "host": demo_emulator.url, "password": DEMO_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", json.dumps(conn))
    monkeypatch.delenv("DOMINO_EXAMPLE_POLL_INTERVAL", raising=False)
    return "domino_default"


def _run_example(dag_id: str) -> dict[tuple[str, int], str]:
    """Copy the example into the DAGs folder, ``dag.test()`` it, return each task instance's state."""
    from airflow.utils.session import create_session

    dags_folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    path = dags_folder / f"{dag_id}.py"
    shutil.copy(EXAMPLE_DAGS / f"{dag_id}.py", path)
    spec = importlib.util.spec_from_file_location(f"example_dags_e2e_{dag_id}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    dag_run = module.dag.test()
    with create_session() as session:
        dag_run = session.merge(dag_run)
        assert dag_run.state == "success", f"{dag_id} ended {dag_run.state}"
        return {(ti.task_id, ti.map_index): ti.state for ti in dag_run.get_task_instances(session=session)}


def _jobs_by_script(emulator: EmulatorProcess, known: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The jobs started since ``known`` was taken, grouped by the script they ran."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for job in emulator.jobs():
        if job["id"] not in known:
            script = job["command"].split()[1]
            grouped.setdefault(script, []).append(emulator.get_job(job["id"]))
    return grouped


def _tag_names(job: dict[str, Any]) -> set[str]:
    return {tag["name"] for tag in job.get("tags", [])}


@pytest.mark.e2e
def test_retraining_pipeline_runs_end_to_end(demo_conn: str, demo_emulator: EmulatorProcess) -> None:
    known = {job["id"] for job in demo_emulator.jobs()}

    states = _run_example("domino_retraining_pipeline")

    assert states == {
        ("prepare", -1): "success",
        ("train", -1): "success",
        ("evaluate", -1): "success",
        ("accurate_enough", -1): "success",
        ("tag_production", -1): "success",
    }
    jobs = _jobs_by_script(demo_emulator, known)
    (prepare,), (train,), (evaluate,) = jobs["prepare_data.py"], jobs["train.py"], jobs["evaluate.py"]
    assert all(job["status"] == "Succeeded" for job in (prepare, train, evaluate))
    # Each job ran on the files its upstream job left behind.
    assert train["commitId"] == prepare["outputCommitId"]
    assert evaluate["commitId"] == train["outputCommitId"]
    assert "production" in _tag_names(train)
    log = demo_emulator.job_log_text(evaluate["id"])
    assert "accuracy=" in log
    # The gate read evaluate's dominoStats (from its dominostats.json) through XCom domino_stats.
    (accuracy,) = [stat["value"] for stat in evaluate["dominoStats"] if stat["name"] == "accuracy"]
    assert float(accuracy) >= 0.75


@pytest.mark.e2e
def test_hyperparameter_sweep_runs_end_to_end(demo_conn: str, demo_emulator: EmulatorProcess) -> None:
    known = {job["id"] for job in demo_emulator.jobs()}

    states = _run_example("domino_hyperparameter_sweep")

    mapped = {key: state for key, state in states.items() if key[0] == "train"}
    assert len(mapped) >= 3 and set(mapped.values()) == {"success"}
    assert all(state == "success" for state in states.values()), states
    jobs = _jobs_by_script(demo_emulator, known)
    (prepare,) = jobs["prepare_data.py"]
    trains = jobs["train.py"]
    assert len(trains) == len(mapped)
    assert {job["commitId"] for job in trains} == {prepare["outputCommitId"]}
    assert len({job["command"] for job in trains}) == len(trains), "each mapped job has its own lr"
    best = [job for job in trains if "sweep-best" in _tag_names(job)]
    assert len(best) == 1, "pick_best tags exactly one job"


@pytest.mark.e2e
def test_job_chain_runs_end_to_end(demo_conn: str, demo_emulator: EmulatorProcess) -> None:
    known = {job["id"] for job in demo_emulator.jobs()}

    states = _run_example("domino_job_chain")

    assert set(states.values()) == {"success"}, states
    assert {task_id for task_id, _ in states} == EXPECTED_TASKS["domino_job_chain"]
    jobs = _jobs_by_script(demo_emulator, known)
    (stand_in,), (train,), (evaluate,) = jobs["prepare_data.py"], jobs["train.py"], jobs["evaluate.py"]
    assert train["commitId"] == stand_in["outputCommitId"]
    assert evaluate["commitId"] == train["outputCommitId"]
    assert evaluate["status"] == "Succeeded"


@pytest.mark.e2e
def test_spark_cluster_example_runs_on_its_branch_and_revision_and_gates_on_domino_stats(
    demo_conn: str, demo_emulator: EmulatorProcess
) -> None:
    known = {job["id"] for job in demo_emulator.jobs()}

    states = _run_example("domino_spark_cluster_features")

    assert states == {
        ("features", -1): "success",
        ("check_quality", -1): "success",
        ("publish", -1): "success",
    }
    (job,) = _jobs_by_script(demo_emulator, known)["cluster_features.py"]
    options = job["options"]
    assert options["computeCluster"]["clusterType"] == "spark"
    assert options["computeCluster"]["workerHardwareTier"] == "small-k8s"  # the name, resolved
    assert options["mainRepoGitRef"] == {"refType": "branches", "value": "main"}
    assert options["environmentRevisionSpec"].startswith("SomeRevision(")
    assert "spark cluster with 2 worker(s)" in demo_emulator.job_log_text(job["id"])
    assert {stat["name"] for stat in job["dominoStats"]} >= {"rows", "missing_rate"}
