"""The bench's helpers that compute what RESULTS.md shows: percentiles, median [min-max], the lag sampler,
one run's figures and the targets' verdicts."""

from __future__ import annotations

import asyncio
import gc
import math
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import run
from stats import FullCollections, LagSampler, percentile, spread


def test_percentile_interpolates_between_the_nearest_values():
    values = [10.0, 1.0, 4.0, 2.0, 3.0]  # unsorted on purpose: 1, 2, 3, 4, 10
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 10.0
    # 99th of 5 values: position 3.96, between 4 and 10.
    assert percentile(values, 99) == pytest.approx(4 + 0.96 * 6)
    assert math.isnan(percentile([], 99))


def test_spread_is_median_min_max_and_leaves_out_runs_that_measured_nothing():
    assert spread([3.0, 1.0, 2.0]) == {"median": 2.0, "min": 1.0, "max": 3.0, "runs": 3}
    assert spread([5.0, float("nan"), 1.0]) == {"median": 3.0, "min": 1.0, "max": 5.0, "runs": 2}
    assert spread([float("nan")])["runs"] == 0


def test_cell_shows_the_median_and_the_range():
    assert run.cell([0.5, 0.25, 1.0], 2) == "0.50 [0.25-1.00]"
    assert run.cell([7.0], 0) == "7"
    assert run.cell([], 1) == "n/a"


def test_lag_sampler_sees_a_blocked_loop_on_the_wall_clock():
    blocked = 0.2

    async def scenario() -> LagSampler:
        sampler = LagSampler(tick=0.01)
        task = asyncio.create_task(sampler.run())
        await asyncio.sleep(0.05)
        time.sleep(blocked)  # a callback that holds the loop
        await asyncio.sleep(0.05)
        sampler.stop()
        await task
        return sampler

    sampler = asyncio.run(scenario())
    summary = sampler.summary(steady_from=0.0, steady_until=float("inf"))
    # The tick that spanned the block woke about 0.2 s late; scheduling may add a little, never much.
    assert blocked - 0.02 <= summary["lag_max_ms"] / 1000 < blocked + 0.1
    assert summary["lag_p50_ms"] < 50


def test_lag_summary_keeps_the_steady_state_apart_from_the_whole_run():
    sampler = LagSampler(tick=0.05)
    # A start-up stall at 0.5 s, calm ticks, then a stall after the first event (at 10 s).
    sampler.samples = [(0.5, 0.080)] + [(1.0 + i * 0.05, 0.002) for i in range(100)] + [(10.5, 0.060)]
    summary = sampler.summary(steady_from=1.0, steady_until=10.0)
    assert summary["lag_max_ms"] == pytest.approx(80)
    assert summary["steady_lag_max_ms"] == pytest.approx(2)
    assert summary["steady_seconds"] == pytest.approx(100 * 0.05)


def test_lag_max_outside_full_collections_leaves_out_every_tick_a_collection_overlapped():
    sampler = LagSampler(tick=0.05)
    # Ticks start every 0.1 s; the one at 1.0 s woke 120 ms late, the one at 2.0 s 40 ms late.
    sampler.samples = [(i * 0.1, 0.002) for i in range(30)]
    sampler.samples[10] = (1.0, 0.120)
    sampler.samples[20] = (2.0, 0.040)
    # A full collection from 1.05 s to 1.16 s: inside the late tick's span (1.0 s to 1.17 s) only.
    summary = sampler.summary(steady_from=0.0, steady_until=3.0, pauses=[(1.05, 1.16)])
    assert summary["lag_max_ms"] == pytest.approx(120)
    assert summary["lag_max_outside_full_gc_ms"] == pytest.approx(40)
    # Without collections, nothing is left out.
    assert sampler.summary(0.0, 3.0)["lag_max_outside_full_gc_ms"] == pytest.approx(120)


def test_full_collections_are_seen_only_while_the_observer_is_installed():
    before = list(gc.callbacks)
    with FullCollections() as full:
        gc.collect(1)  # a younger generation: not a full collection
        gc.collect()
    gc.collect()  # after the observer is gone
    assert len(full.spans) == 1
    start, end = full.spans[0]
    assert start <= end
    assert full.longest_ms() == pytest.approx(1000 * (end - start))
    assert gc.callbacks == before  # it leaves the collector's callbacks as it found them


def test_one_runs_figures_divide_by_polls_requests_and_watched_intervals():
    bench = run.Bench({"poll": 2.0}, Path("."), print)
    # Two triggers watched for 10 s and 20 s: 15 intervals of 2 s; 3 s of CPU.
    result = {
        "wall_s": 21.0,
        "cpu_s": 3.0,
        "gc_full_collections": 1,
        "gc_full_longest_ms": 90.0,
        "events": {"success": 2},
        "unfinished": 0,
        "event_seconds": [10.0, 20.0],
    }
    counts = {"list_jobs": 9, "get_job": 2, "get_job_logs": 19}
    figures = bench.figures(result, counts, polls=counts["get_job"])
    assert figures["cpu_ms_per_poll"] == pytest.approx(3000 / 2)
    assert figures["cpu_ms_per_request"] == pytest.approx(3000 / 30)
    assert figures["cpu_ms_per_trigger_interval"] == pytest.approx(3000 / 15)
    assert figures["status_requests_per_trigger_interval"] == pytest.approx(11 / 15)
    assert figures["log_requests_per_trigger_interval"] == pytest.approx(19 / 15)
    assert figures["watched_s"] == pytest.approx(15)
    assert figures["gc_full_collections"] == 1


def _settings() -> dict:
    settings = run.chosen_settings(run.parse_args(["--quick", "--runs", "3"]))
    settings["per_job"].update(sizes=[50], schemes=["http"])
    return settings


def test_per_job_target_compares_medians_and_counts_the_runs_that_met_it():
    ours = [{"cpu_ms_per_poll": value} for value in (0.50, 0.70, 0.55)]
    databricks = [{"cpu_ms_per_poll": value} for value in (0.60, 0.60, 0.52)]
    rows = run.targets({"per_job/http/50/ours": ours, "per_job/http/50/databricks": databricks}, _settings())
    (figure, target, measured, met, each) = rows[0]
    assert "50 triggers, http" in figure
    assert "0.600" in target
    assert measured == "0.550 [0.500-0.700]"
    assert met  # median 0.55 <= median 0.60
    assert each.startswith("1/3")  # run by run: 0.50 <= 0.60 only


def test_lag_and_request_targets_are_judged_on_the_whole_run_figures():
    settings = _settings()
    coalesced = [
        {"lag_p99_ms": 40.0, "lag_max_ms": 120.0, "status_requests_per_trigger_interval": 0.5},
        {"lag_p99_ms": 45.0, "lag_max_ms": 90.0, "status_requests_per_trigger_interval": 0.5},
        {"lag_p99_ms": 60.0, "lag_max_ms": 95.0, "status_requests_per_trigger_interval": 1.2},
    ]
    rows = {row[0]: row for row in run.targets({"coalesced": coalesced}, settings)}
    p99 = next(row for name, row in rows.items() if "p99" in name)
    maximum = next(row for name, row in rows.items() if "max" in name)
    requests = next(row for name, row in rows.items() if "status requests" in name)
    assert (p99[3], p99[4]) == (True, "2/3")  # median 45 < 50
    assert (maximum[3], maximum[4]) == (True, "2/3")  # median 95 < 100
    watched = settings["coalesced"]["triggers"]
    assert (requests[3], requests[4]) == (True, "2/3")  # median 0.5 x watched <= watched
    assert requests[2].startswith(f"{0.5 * watched:.1f}")
