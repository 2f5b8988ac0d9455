"""Each ``NewJobV1`` parameter of the operator and ``@task.domino`` reaching Domino (the emulator) in a
real ``dag.test()`` run; the parse-time errors are in ``tests/operators/test_job_options.py``."""

from __future__ import annotations

import textwrap
import warnings
from typing import Any

import pytest

from tests.operators.test_job_options import CLUSTER

pytestmark = pytest.mark.e2e

# --- values reaching the emulator ---------------------------------------------------------------

#: parameter -> (the value given, the ``NewJobV1`` field and value the emulator must have received)
SENT: dict[str, tuple[Any, str, Any]] = {
    "compute_cluster": (CLUSTER, "computeCluster", {**CLUSTER, "workerHardwareTier": "medium-k8s"}),
    "main_repo_git_ref": (
        {"refType": "branches", "value": "{{ params.branch }}"},
        "mainRepoGitRef",
        {"refType": "branches", "value": "feature-x"},
    ),
    "environment_revision": (
        "SomeRevision(623131577a0af0281c01a69a)",
        "environmentRevisionSpec",
        "SomeRevision(623131577a0af0281c01a69a)",
    ),
    "external_volume_mount_ids": (
        ["6231327c7a0af0281c01a69b"],
        "externalVolumeMountIds",
        ["6231327c7a0af0281c01a69b"],
    ),
    "net_app_volume_ids": (
        "31c4a22a-5571-4e9b-b7ac-921d241acd00",
        "netAppVolumeIds",
        ["31c4a22a-5571-4e9b-b7ac-921d241acd00"],
    ),
    "capacity_type": ("{{ 'spot' }}", "capacityType", "spot"),
    "snapshot_datasets_on_completion": (True, "snapshotDatasetsOnCompletion", True),
    "snapshot_net_app_volumes_on_completion": (False, "snapshotNetAppVolumesOnCompletion", False),
}
_RUN: dict[str, Any] = {}


@pytest.fixture
def options_run(run_dag: Any, emulator: Any) -> dict[str, Any]:
    """One run, one task per parameter (plus ``@task.domino`` and ``hardware_tier``): each task's job."""
    if not _RUN:
        tasks = "\n".join(
            f"DominoStartJobOperator(task_id={name!r}, command='true', hardware_tier='small', "
            f"wait_for_completion=False, {name}={value!r})"
            for name, (value, _, _) in SENT.items()
        )
        result = run_dag(
            "e2e_job_options",
            tasks
            + textwrap.dedent(
                """

            @task.domino(hardware_tier="Large", compute_cluster={**CLUSTER, "clusterType": "ray"},
                         main_repo_git_ref={"refType": "tags", "value": "v1"}, wait_for_completion=False)
            def decorated() -> str:
                return "true"

            decorated()
            """
            ),
            preamble=f"CLUSTER = {CLUSTER!r}\n",
            conf={"branch": "feature-x"},
        )
        assert set(result.states().values()) == {"success"}, result.states()
        _RUN.update({task_id: emulator.get_job(result.xcom(task_id)) for task_id in [*SENT, "decorated"]})
    return _RUN


@pytest.mark.parametrize("parameter", sorted(SENT))
def test_the_value_reaches_domino(options_run: dict[str, Any], parameter: str) -> None:
    _, field, expected = SENT[parameter]
    job = options_run[parameter]
    assert job["options"][field] == expected
    assert job["hardwareTierId"] == "small-k8s"


def test_the_decorator_sends_the_options_and_its_tier(options_run: dict[str, Any]) -> None:
    job = options_run["decorated"]
    assert job["hardwareTierId"] == "large-k8s"
    assert job["options"]["computeCluster"] == {
        **CLUSTER,
        "clusterType": "ray",
        "workerHardwareTier": "medium-k8s",
    }
    assert job["options"]["mainRepoGitRef"] == {"refType": "tags", "value": "v1"}


def test_hardware_tier_id_with_a_name_still_works_with_a_deprecation_warning(
    run_dag: Any, emulator: Any
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_dag(
            "e2e_tier_name_as_id",
            """
            DominoStartJobOperator(task_id="old", command="true", hardware_tier_id="Medium", wait_for_completion=False)
            DominoStartJobOperator(task_id="new", command="true", hardware_tier="Medium", wait_for_completion=False)
            """,
        )
    assert set(result.states().values()) == {"success"}
    assert emulator.get_job(result.xcom("old"))["hardwareTierId"] == "medium-k8s"
    assert emulator.get_job(result.xcom("new"))["hardwareTierId"] == "medium-k8s"
    deprecations = [
        w for w in caught if issubclass(w.category, DeprecationWarning) and "hardware_tier=" in str(w.message)
    ]
    assert len(deprecations) == 1 and "hardware_tier='Medium'" in str(deprecations[0].message)
