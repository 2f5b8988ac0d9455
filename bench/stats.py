"""The statistics the bench reports: percentiles, median [min-max] over runs, and the event-loop lag sampler."""

from __future__ import annotations

import asyncio
import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence

NAN = float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolating linearly between the two nearest values; NaN if empty."""
    if not values:
        return NAN
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of one figure over the runs (NaN runs, a figure a run could not measure, are left
    out; all NaN gives NaN)."""
    measured = [value for value in values if not math.isnan(value)]
    if not measured:
        return {"median": NAN, "min": NAN, "max": NAN, "runs": 0}
    return {
        "median": statistics.median(measured),
        "min": min(measured),
        "max": max(measured),
        "runs": len(measured),
    }


class LagSampler:
    """Event-loop lag on the wall clock: a task sleeps ``tick`` seconds, again and again, and records how
    much later than asked it woke up. Whatever delays the loop (a long callback, a garbage collection, the
    process not being scheduled) shows up here.

        sampler = LagSampler()
        task = asyncio.create_task(sampler.run())
        ...
        sampler.stop(); await task
        sampler.summary(steady_from=4.0, steady_until=30.0)
    """

    def __init__(self, tick: float = 0.05, clock: Callable[[], float] = time.monotonic) -> None:
        self.tick = tick
        self.clock = clock
        #: ``(seconds since the sampler started, lag in seconds)``, one per tick.
        self.samples: list[tuple[float, float]] = []
        #: ``clock()`` when :meth:`run` began: sample times count from it.
        self.started = NAN
        self._stopped = False

    async def run(self) -> None:
        self.started = started = self.clock()
        while not self._stopped:
            before = self.clock()
            await asyncio.sleep(self.tick)
            self.samples.append((before - started, max(0.0, self.clock() - before - self.tick)))

    def stop(self) -> None:
        """Stop after the current tick."""
        self._stopped = True

    def summary(
        self, steady_from: float, steady_until: float, pauses: Sequence[tuple[float, float]] = ()
    ) -> dict[str, float]:
        """p50, p99 and max lag in milliseconds over the whole run, and p99 and max over the steady state:
        the ticks that started between ``steady_from`` and ``steady_until`` seconds. ``pauses``: spans
        (seconds since the sampler started) of full garbage collections; ``lag_max_outside_full_gc_ms``
        is the max over the ticks that overlap none of them."""
        lags = [lag for _, lag in self.samples]
        steady = [lag for at, lag in self.samples if steady_from <= at < steady_until]
        outside = [
            lag
            for at, lag in self.samples
            if not any(begin < at + self.tick + lag and end > at for begin, end in pauses)
        ]
        return {
            "lag_p50_ms": 1000 * percentile(lags, 50),
            "lag_p99_ms": 1000 * percentile(lags, 99),
            "lag_max_ms": 1000 * max(lags, default=NAN),
            "steady_lag_p99_ms": 1000 * percentile(steady, 99),
            "steady_lag_max_ms": 1000 * max(steady, default=NAN),
            "steady_seconds": len(steady) * self.tick,
            "lag_max_outside_full_gc_ms": 1000 * max(outside, default=NAN),
        }


class FullCollections:
    """When each full (oldest-generation) garbage collection ran, on the same clock as :class:`LagSampler`.

    An observer only: it appends a callback to ``gc.callbacks`` while it is installed and changes nothing
    the collector does. Installed alike for ours and the peer.

        with FullCollections() as full:
            ...
        full.spans  # [(start, end)], seconds on ``clock``
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.spans: list[tuple[float, float]] = []
        self._started: float | None = None

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = self.clock()
        elif self._started is not None:
            self.spans.append((self._started, self.clock()))
            self._started = None

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def longest_ms(self) -> float:
        return 1000 * max((end - start for start, end in self.spans), default=0.0)
