"""The cost estimate: run minutes times each tier's price, and "unknown" where a figure is missing."""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_domino.api.models import HardwareTier, Job
from airflow_provider_domino.jobs.cost import PriceSheet, estimate_cost

TIERS = [HardwareTier("small-k8s", "Small", 0.8), HardwareTier("medium-k8s", "Medium", 2.0)]


def _job(**stage_times: Any) -> Job:
    times = {"submissionTime": "2026-01-01T10:00:00.000Z", **stage_times}
    return Job.from_api(
        {"id": "j1", "status": {"executionStatus": "Succeeded", "isCompleted": True}, "stageTimes": times}
    )


FIVE_MINUTES = {"startTime": "2026-01-01T10:01:00.000Z", "completedTime": "2026-01-01T10:06:00.000Z"}


def test_a_job_costs_its_run_minutes_at_its_tier_price() -> None:
    estimate = estimate_cost(_job(**FIVE_MINUTES), PriceSheet.of("small-k8s", TIERS))
    assert estimate.run_minutes == 5
    assert estimate.cents == pytest.approx(4.0)
    shown = estimate.describe()
    assert (
        "~4.00 cents ($0.0400)" in shown
        and "5.00 min" in shown
        and "Small (small-k8s) at 0.8 cents/min" in shown
    )
    assert estimate.to_dict()["parts"] == [
        {
            "role": "job",
            "tierId": "small-k8s",
            "tierName": "Small",
            "count": 1,
            "centsPerMinute": 0.8,
            "cents": 4.0,
        }
    ]


def test_a_cluster_adds_its_workers_at_worker_count_and_says_autoscaling_may_cost_more() -> None:
    cluster = {
        "clusterType": "spark",
        "workerCount": 3,
        "maxWorkerCount": 6,
        "workerHardwareTier": "medium-k8s",
    }
    estimate = estimate_cost(_job(**FIVE_MINUTES), PriceSheet.of("small-k8s", TIERS, cluster))
    assert estimate.cents == pytest.approx(5 * 0.8 + 5 * 2.0 * 3)
    notes = " ".join(estimate.notes)
    assert "autoscales up to 6 workers, so it may have cost more" in notes
    assert "master node is not included" in notes


def test_a_short_run_reads_in_seconds_and_fractions_of_a_cent() -> None:
    job = _job(startTime="2026-01-01T10:01:00.000Z", completedTime="2026-01-01T10:01:12.000Z")
    shown = estimate_cost(job, PriceSheet.of("small-k8s", TIERS)).describe()
    assert "~0.1600 cents ($0.0016); 12.0 s, job Small (small-k8s) at 0.8 cents/min" in shown


def test_an_unknown_price_gives_no_total_and_says_which() -> None:
    estimate = estimate_cost(_job(**FIVE_MINUTES), PriceSheet.of("gpu-k8s", TIERS))
    assert estimate.cents is None
    assert estimate.to_dict()["estimatedCents"] is None
    assert "the price of tier gpu-k8s is unknown" in estimate.describe()


def test_an_unknown_run_time_gives_no_total() -> None:
    estimate = estimate_cost(_job(startTime="2026-01-01T10:01:00.000Z"), PriceSheet.of("small-k8s", TIERS))
    assert estimate.cents is None and estimate.run_minutes is None
    assert "start or end time is unknown" in estimate.describe()


def test_the_sheet_travels_as_json() -> None:
    cluster = {
        "clusterType": "ray",
        "workerCount": 2,
        "workerHardwareTier": "medium-k8s",
        "masterHardwareTierId": "small-k8s",
    }
    sheet = PriceSheet.of("small-k8s", TIERS, cluster)
    assert PriceSheet.from_json(sheet.to_json()) == sheet
    assert PriceSheet.from_json({"main": None}) is None
