"""Each ``NewJobV1`` parameter of the operator and ``@task.domino``: its parse-time error, and its value
reaching Domino (the emulator) in a real ``dag.test()`` run."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.operators.domino import DominoStartJobOperator

GOOD = {"task_id": "t", "command": "python train.py", "hardware_tier": "small"}
CLUSTER = {
    "clusterType": "spark",
    "computeEnvironmentId": "623139857a0af0281c01a6a4",
    "workerCount": 2,
    "workerHardwareTier": "Medium",
}

#: parameter -> (a bad value, what its error says)
BAD = {
    "compute_cluster": (
        {**CLUSTER, "clusterType": "hadoop"},
        "clusterType 'hadoop' is not one of spark, ray, dask, mpi",
    ),
    "main_repo_git_ref": ({"refType": "branch", "value": "dev"}, "did you mean 'branches'?"),
    "environment_revision": ("Latest", "'ActiveRevision', 'LatestRevision' or 'SomeRevision(<revision id>)'"),
    "external_volume_mount_ids": ([""], "every id must be a non-empty string"),
    "net_app_volume_ids": (42, "must be a list of ids"),
    "capacity_type": ("", "must be a non-empty string"),
    "snapshot_datasets_on_completion": ("yes", "must be True or False"),
    "snapshot_net_app_volumes_on_completion": ("no", "must be True or False"),
}


@pytest.mark.parametrize("parameter", sorted(BAD))
def test_a_bad_value_fails_when_the_dag_is_parsed(parameter: str) -> None:
    value, message = BAD[parameter]
    with pytest.raises(DominoConfigError) as raised:
        DominoStartJobOperator(**GOOD, **{parameter: value})
    assert str(raised.value).startswith(f"Parameter '{parameter}'")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ({"hardware_tier": "small", "hardware_tier_id": "small-k8s"}, "either 'hardware_tier'"),
        ({}, "'hardware_tier' must name a Domino hardware tier"),
        ({"hardware_tier": " "}, "Parameter 'hardware_tier' must be a non-empty string"),
        ({"hardware_tier_id": ""}, "Parameter 'hardware_tier_id' must be a non-empty string"),
    ],
)
def test_tier_parameters_fail_when_the_dag_is_parsed(tiers: dict[str, Any], message: str) -> None:
    with pytest.raises(DominoConfigError, match=message):
        DominoStartJobOperator(task_id="t", command="true", **tiers)


def test_every_option_is_templated_and_a_template_is_checked_when_the_task_runs() -> None:
    op = DominoStartJobOperator(**GOOD, environment_revision="{{ params.revision }}")
    assert set(BAD) | {"hardware_tier", "hardware_tier_id"} <= set(op.template_fields)
    op.environment_revision = "Latest"  # what the template rendered to
    with pytest.raises(DominoConfigError, match="'environment_revision'"):
        op._check_rendered()


def test_the_resumed_step_prices_the_job_from_the_sheet_the_deferral_carried() -> None:
    """``next_kwargs`` carry the start's price sheet: the resumed try reads no tier list for the cost."""
    from airflow_provider_domino.api.models import HardwareTier
    from airflow_provider_domino.jobs.cost import PriceSheet

    class NoTierReads:
        def known_price_sheet(self, job_id: str) -> PriceSheet:
            return PriceSheet.of("small-k8s", [HardwareTier("small-k8s", "Small", 0.8)])

        def price_sheet(self, *args: Any, **kwargs: Any) -> None:
            raise AssertionError("the tier list was read again")

    starting = DominoStartJobOperator(**GOOD)
    starting._hook = NoTierReads()
    carried = starting._price_sheet_kwargs("job-1")
    assert carried is not None

    resumed = DominoStartJobOperator(**GOOD)  # a new process: a new operator and hook
    resumed._hook = NoTierReads()
    resumed._price_sheet = PriceSheet.from_json(carried["domino_price_sheet"])
    sheet = resumed._job_price_sheet("job-1")
    assert sheet is not None and sheet.main.cents_per_minute == 0.8
