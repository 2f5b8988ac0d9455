"""``hardware_tier`` takes a name or an id; ``hardware_tier_id`` keeps working; one tier list per hook."""

from __future__ import annotations

import warnings

import pytest

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.api.job_spec import JobOptions


def _tier_reads(emulator) -> int:
    return sum(1 for entry in emulator.requests_log() if entry["endpoint"] == "list_hardware_tiers")


def test_hardware_tier_takes_a_name_silently(hook, emulator):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        job = hook.start_job("true", hardware_tier="Medium")
        by_id = hook.start_job("true", hardware_tier="large-k8s")
        old_spelling = hook.start_job("true", "small-k8s")  # an id as hardware_tier_id: no warning
    assert emulator.get_job(job.id)["hardwareTierId"] == "medium-k8s"
    assert emulator.get_job(by_id.id)["hardwareTierId"] == "large-k8s"
    assert emulator.get_job(old_spelling.id)["hardwareTierId"] == "small-k8s"


def test_a_name_as_hardware_tier_id_still_resolves_with_a_deprecation_warning(hook, emulator):
    with pytest.warns(DeprecationWarning, match="name tiers with hardware_tier='Medium'"):
        job = hook.start_job("true", "Medium")
    assert emulator.get_job(job.id)["hardwareTierId"] == "medium-k8s"


def test_both_tier_parameters_is_an_error(hook):
    with pytest.raises(DominoConfigError, match="either 'hardware_tier'"):
        hook.start_job("true", "small-k8s", hardware_tier="Small")
    with pytest.raises(DominoConfigError, match="'hardware_tier' must name"):
        hook.start_job("true")


def test_cluster_tiers_resolve_through_the_same_single_tier_list_and_price_the_job(
    hook, emulator, project_id
):
    emulator.clear_requests()
    cluster = {
        "clusterType": "dask",
        "computeEnvironmentId": "e1",
        "workerCount": 2,
        "workerHardwareTier": "Large",
    }
    job = hook.start_job("true", hardware_tier="Small", options=JobOptions.checked(compute_cluster=cluster))
    assert emulator.get_job(job.id)["options"]["computeCluster"]["workerHardwareTier"] == "large-k8s"
    sheet = hook.price_sheet(job.id, project_id)
    assert sheet is not None and sheet.main.cents_per_minute == 0.8 and sheet.workers.cents_per_minute == 6.5
    assert _tier_reads(emulator) == 1


def test_an_unknown_cluster_tier_fails_before_anything_starts_and_lists_the_tiers(hook, emulator):
    emulator.clear_requests()
    cluster = {
        "clusterType": "mpi",
        "computeEnvironmentId": "e1",
        "workerCount": 1,
        "workerHardwareTier": "Huge",
    }
    with pytest.raises(DominoConfigError, match="'GPU Small', 'Large', 'Medium', 'Small'"):
        hook.start_job("true", hardware_tier="Small", options=JobOptions.checked(compute_cluster=cluster))
    assert not [entry for entry in emulator.requests_log() if entry["endpoint"] == "start_job"]


def test_a_job_started_elsewhere_is_priced_with_one_read(hook, emulator, project_id):
    emulator.clear_requests()
    sheet = hook.price_sheet("some-job", project_id, hardware_tier="medium")
    again = hook.price_sheet("some-job", project_id, hardware_tier="medium")
    assert sheet is again and sheet.main.id == "medium-k8s" and sheet.main.cents_per_minute == 2.0
    assert _tier_reads(emulator) == 1
    assert hook.price_sheet("other-job", project_id) is None  # no tier known: no guess
