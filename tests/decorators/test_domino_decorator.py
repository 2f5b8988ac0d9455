"""``@task.domino``: registration, parse-time behaviour, and real ``dag.test()`` runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pendulum
import pytest

from airflow_provider_domino.api.errors import DominoConfigError


def _dag(dag_id: str):
    from airflow.sdk import DAG

    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2024, 1, 1))


def test_task_domino_is_registered_through_the_provider():
    from airflow.sdk import task

    from airflow_provider_domino.decorators.domino import domino_task

    assert task.domino is domino_task


def test_decorated_task_carries_every_operator_parameter():
    from airflow.sdk import task

    from airflow_provider_domino.decorators.domino import DominoDecoratedOperator

    with _dag("decorator_parse_parameters") as dag:

        @task.domino(
            project="acme/churn",
            hardware_tier_id="small",
            deferrable=True,
            poll_interval=7,
            timeout=60,
            tags=["nightly"],
            commit_id="{{ params.commit }}",
            fetch_logs=False,
            retries=2,
        )
        def train(lr: float) -> str:
            return f"python train.py --lr {lr}"

        train(0.1)

    op = dag.get_task("train")
    assert isinstance(op, DominoDecoratedOperator)
    assert (op.project, op.hardware_tier_id, op.deferrable, op.poll_interval, op.timeout) == (
        "acme/churn",
        "small",
        True,
        7,
        60,
    )
    assert op.tags == ["nightly"] and op.fetch_logs is False and op.retries == 2
    assert list(op.op_args) == [0.1]
    assert {"op_args", "op_kwargs", "project", "commit_id"} <= set(op.template_fields)


def test_every_operator_parameter_passes_through_the_decorator():
    """Each keyword of ``DominoStartJobOperator.__init__`` (but ``command``) reaches the operator as given.

    The parameter list is read from the operator's signature, so a parameter added there and not covered
    here fails this test. Task outputs (``XComArg``) and templates are accepted where the operator takes
    them, and the templated fields stay templated.
    """
    import inspect

    from airflow.sdk import task

    from airflow_provider_domino.operators.domino import DominoStartJobOperator

    signature = inspect.signature(DominoStartJobOperator.__init__)
    names = {p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY} - {"command"}
    given: dict = {
        "hardware_tier_id": "gpu",
        "project_id": "{{ params.project_id }}",
        "is_direct_hardware_tier_id": True,
        "environment_id": "env-1",
        "title": "nightly train",
        "tags": "{{ params.tag }}",
        "goal_ids": "{{ params.goal }}",
        "wait_for_completion": False,
        "deferrable": True,
        "poll_interval": 5,
        "timeout": 600,
        "fetch_logs": False,
        "domino_conn_id": "{{ params.conn }}",
        "reuse_succeeded_job": True,
        "compute_cluster": {
            "clusterType": "ray",
            "computeEnvironmentId": "env-2",
            "workerCount": "{{ params.workers }}",
            "workerHardwareTier": "gpu",
        },
        "main_repo_git_ref": {"refType": "branches", "value": "{{ params.branch }}"},
        "environment_revision": "LatestRevision",
        "external_volume_mount_ids": ["vol-1"],
        "net_app_volume_ids": "{{ params.netapp }}",
        "capacity_type": "spot",
        "snapshot_datasets_on_completion": True,
        "snapshot_net_app_volumes_on_completion": False,
        "trigger_queue": "domino-network",
    }
    # ``project`` is the alternative to ``project_id`` and ``hardware_tier`` to ``hardware_tier_id`` (one
    # or the other); ``commit_id`` is a task output.
    assert names == set(given) | {"project", "hardware_tier", "commit_id"}

    with _dag("decorator_parse_every_parameter") as dag:

        @task
        def pick_commit() -> str:
            return "commit-1"

        @task.domino(**given, commit_id=pick_commit())
        def train() -> str:
            return "python train.py"

        train()

    op = dag.get_task("train")
    for name, value in given.items():
        assert getattr(op, name) == value, name
    assert op.upstream_task_ids == {"pick_commit"}  # the XComArg made it an upstream task
    assert {"goal_ids", "domino_conn_id", "tags", "project_id", "commit_id"} <= set(op.template_fields)


def test_parse_time_errors_name_the_problem():
    from airflow.sdk import task

    with _dag("decorator_parse_errors"):

        @task.domino(hardware_tier_id="small", command="echo fixed")
        def fixed() -> str:
            return "echo hi"

        with pytest.raises(DominoConfigError, match="takes no 'command'"):
            fixed()

        @task.domino(hardware_tier_id="small", poll_interval=0)
        def bad_interval() -> str:
            return "echo hi"

        with pytest.raises(DominoConfigError, match="poll_interval"):
            bad_interval()

        @task.domino(project="not-owner-slash-name", hardware_tier_id="small")
        def bad_project() -> str:
            return "echo hi"

        with pytest.raises(DominoConfigError, match="owner/name"):
            bad_project()

    with pytest.raises(DominoConfigError, match="multiple_outputs"):
        task.domino(hardware_tier_id="small", multiple_outputs=True)


def test_expand_builds_a_mapped_task():
    from airflow.sdk import task

    with _dag("decorator_parse_expand") as dag:

        @task.domino(hardware_tier_id="small")
        def sweep(lr: float) -> str:
            return f"python train.py --lr {lr}"

        sweep.expand(lr=[0.1, 0.2, 0.3])

    mapped = dag.get_task("sweep")
    assert mapped.op_kwargs_expand_input.value == {"lr": [0.1, 0.2, 0.3]}
    assert mapped.partial_kwargs["hardware_tier_id"] == "small"


def test_resolving_the_decorator_imports_nothing_heavy():
    """A DAG file using @task.domino loads the operator module and no hook, HTTP client or emulator."""
    code = (
        "import sys, json; from airflow.sdk import task; base = set(sys.modules);"
        "task.domino; print(json.dumps(sorted(set(sys.modules) - base)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    added = json.loads(result.stdout.strip().splitlines()[-1])
    assert "airflow_provider_domino.decorators.domino" in added
    heavy = [
        m
        for m in added
        if m.split(".")[0] in {"httpx", "requests", "fastapi", "uvicorn", "openlineage"}
        or m.startswith(("airflow_provider_domino.hooks", "domino_emulator"))
    ]
    assert heavy == []


@pytest.mark.e2e
def test_single_mapped_and_deferrable_jobs_in_dag_test(run_dag, emulator):
    result = run_dag(
        "e2e_task_domino",
        """
        @task.domino(hardware_tier_id="small", poll_interval=0.5, tags=["decorated"])
        def single(greeting: str, run_id=None) -> str:
            # A Jinja-looking string stays literal: the command is never rendered.
            return f"echo {greeting} from {run_id}; echo '{{{{ not_rendered }}}}'"

        @task.domino(hardware_tier_id="small", poll_interval=0.5)
        def sweep(lr: float) -> str:
            return f"echo training with lr={lr}"

        @task.domino(hardware_tier_id="small", poll_interval=0.5, deferrable=True)
        def deferred(upstream_job_id: str) -> str:
            return f"python print_lines.py 3 0.5 && echo after {upstream_job_id}"

        @task
        def learning_rates():
            return [0.01, 0.1, 0.5]

        first = single("hello")
        sweep.expand(lr=learning_rates()) >> deferred(first)
        """,
    )
    assert set(result.states().values()) == {"success"}, result.states()

    single_id = result.xcom("single")
    job = emulator.get_job(single_id)
    assert job["command"].startswith("echo hello from manual__")
    assert job["command"].endswith("echo '{{ not_rendered }}'")
    assert [tag["name"] for tag in job["tags"]] == ["decorated"]
    # The same XComs as DominoStartJobOperator.
    assert result.xcom("single", "job_id") == single_id
    assert result.xcom("single", "job_url").endswith(single_id)
    assert result.xcom("single", "job")["status"] == "Succeeded"
    assert f"[{single_id}] {{{{ not_rendered }}}}" in result.output

    sweep_ids = [result.xcom("sweep", map_index=i) for i in range(3)]
    assert len(set(sweep_ids)) == 3
    for index, lr in enumerate(("0.01", "0.1", "0.5")):
        mapped_job = emulator.get_job(sweep_ids[index])
        assert mapped_job["command"] == f"echo training with lr={lr}"
        assert f"sweep [{index}]" in mapped_job["title"]
        assert result.xcom("sweep", "job", map_index=index)["status"] == "Succeeded"

    deferred_id = result.xcom("deferred")
    assert f"Deferring while Domino job {deferred_id} runs" in result.output
    assert emulator.get_job(deferred_id)["command"].endswith(f"echo after {single_id}")
    assert result.xcom("deferred", "job")["status"] == "Succeeded"
    assert f"[{deferred_id}] after {single_id}" in result.output


@pytest.mark.e2e
def test_a_function_returning_no_command_fails_the_task_clearly(run_dag, emulator):
    before = len(emulator.jobs())
    result = run_dag(
        "e2e_task_domino_no_command",
        """
        @task.domino(hardware_tier_id="small")
        def nothing() -> str:
            return "   "

        nothing()
        """,
    )
    assert result.states() == {"nothing": "failed"}
    assert "nothing() must return the command to run as a non-empty string" in result.output
    assert len(emulator.jobs()) == before  # no job was started
