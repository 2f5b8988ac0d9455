"""Each ``NewJobV1`` option: the value it sends, and the one clear error a bad value gets."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.job_spec import JobOptions, check_job_options

CLUSTER = {
    "clusterType": "spark",
    "computeEnvironmentId": "623139857a0af0281c01a6a4",
    "workerCount": 2,
    "workerHardwareTier": "Medium",
}


def test_every_option_maps_to_its_spec_field() -> None:
    options = JobOptions.checked(
        compute_cluster=CLUSTER,
        main_repo_git_ref={"refType": "branches", "value": "dev"},
        environment_revision="SomeRevision(623131577a0af0281c01a69a)",
        external_volume_mount_ids=["v1"],
        net_app_volume_ids="n1",
        capacity_type="spot",
        snapshot_datasets_on_completion=True,
        snapshot_net_app_volumes_on_completion=False,
    )
    assert options.to_body() == {
        "computeCluster": CLUSTER,
        "mainRepoGitRef": {"refType": "branches", "value": "dev"},
        "environmentRevisionSpec": "SomeRevision(623131577a0af0281c01a69a)",
        "externalVolumeMountIds": ["v1"],
        "netAppVolumeIds": ["n1"],
        "capacityType": "spot",
        "snapshotDatasetsOnCompletion": True,
        "snapshotNetAppVolumesOnCompletion": False,
    }
    assert JobOptions.checked().to_body() == {}


def test_counts_rendered_by_jinja_are_read_as_numbers() -> None:
    options = JobOptions.checked(compute_cluster={**CLUSTER, "workerCount": "3", "workerStorageMB": "2.5"})
    assert options.to_body()["computeCluster"]["workerCount"] == 3
    assert options.to_body()["computeCluster"]["workerStorageMB"] == 2.5


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "compute_cluster",
            {**CLUSTER, "clusterType": "hadoop"},
            "clusterType 'hadoop' is not one of spark, ray, dask, mpi",
        ),
        ("compute_cluster", {**CLUSTER, "clusterType": "Spark"}, "did you mean 'spark'"),
        (
            "compute_cluster",
            {k: v for k, v in CLUSTER.items() if k != "workerHardwareTier"},
            "missing required key(s) 'workerHardwareTier'",
        ),
        ("compute_cluster", {**CLUSTER, "workers": 3}, "unknown key(s) 'workers'"),
        ("compute_cluster", {**CLUSTER, "workerCount": -1}, "workerCount must be an integer of at least 0"),
        ("compute_cluster", {**CLUSTER, "maxWorkerCount": 1}, "maxWorkerCount (1) is below workerCount (2)"),
        (
            "compute_cluster",
            {**CLUSTER, "computeEnvironmentRevisionSpec": "latest"},
            "SomeRevision(<revision id>)",
        ),
        ("compute_cluster", "spark", "must be a dict of ComputeClusterConfigV1 keys"),
        (
            "main_repo_git_ref",
            {"refType": "branch", "value": "dev"},
            "refType 'branch' is not one Domino accepts (did you mean 'branches'?); use one of 'head', 'branches', 'tags', 'commitId'",
        ),
        ("main_repo_git_ref", {"refType": "tags"}, "refType 'tags' needs a 'value'"),
        ("main_repo_git_ref", {"type": "head"}, "unknown key(s) 'type'"),
        ("main_repo_git_ref", "main", "must be a dict with 'refType' and 'value'"),
        (
            "environment_revision",
            "623131577a0af0281c01a69a",
            "write 'SomeRevision(623131577a0af0281c01a69a)'",
        ),
        (
            "environment_revision",
            "Active",
            "use 'ActiveRevision', 'LatestRevision' or 'SomeRevision(<revision id>)'",
        ),
        ("external_volume_mount_ids", [""], "every id must be a non-empty string"),
        ("net_app_volume_ids", {"a": 1}, "must be a list of ids"),
        ("capacity_type", "", "must be a non-empty string"),
        ("snapshot_datasets_on_completion", "yes", "must be True or False"),
        ("snapshot_net_app_volumes_on_completion", 1, "must be True or False"),
    ],
)
def test_a_bad_value_names_the_parameter_and_what_it_accepts(name: str, value: Any, message: str) -> None:
    with pytest.raises(DominoConfigError) as raised:
        JobOptions.checked(**{name: value})
    assert str(raised.value).startswith(f"Parameter '{name}")
    assert message in str(raised.value)


def test_values_known_only_at_run_time_are_left_for_then() -> None:
    def templated(value: Any) -> bool:
        return isinstance(value, str) and "{{" in value

    values = {
        "compute_cluster": {**CLUSTER, "workerCount": "{{ params.workers }}"},
        "main_repo_git_ref": {"refType": "branches", "value": "{{ params.branch }}"},
        "environment_revision": "{{ params.revision }}",
        "snapshot_datasets_on_completion": "{{ params.snapshot }}",
    }
    assert check_job_options(values, templated) == values
    with pytest.raises(DominoConfigError, match="did you mean 'branches'"):
        check_job_options({"main_repo_git_ref": {"refType": "branch", "value": "{{ b }}"}}, templated)
