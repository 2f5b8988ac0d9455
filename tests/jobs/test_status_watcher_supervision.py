"""The status watcher's round loop, driven for real: failed rounds, a dying task, triggers leaving and
joining. Every wait is on an event, bounded by ``BOUND`` seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from airflow_provider_domino.api.errors import DominoConfigError, DominoServerError
from airflow_provider_domino.jobs import status_watcher
from airflow_provider_domino.jobs.status_watcher import StatusWatcherError, watch_job, watcher_for
from airflow_provider_domino.jobs.watching import ERROR, Continue, Outcome, watch_step
from tests.jobs.fake_project import PROJECT_ID, FakeProject, next_update

#: The longest any wait below may take; each normally takes milliseconds.
BOUND = 5.0
#: The test's round gap: short, so a test sees several rounds quickly.
GAP = 0.01


@pytest.fixture(autouse=True)
def quick_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(status_watcher, "MIN_ROUND_GAP", GAP)


def run(main: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    return asyncio.run(main())


def project(*job_ids: str) -> FakeProject:
    fake = FakeProject()
    for job_id in job_ids:
        fake.add(job_id)
    return fake


async def bounded(awaitable: Any) -> Any:
    return await asyncio.wait_for(awaitable, BOUND)


async def first_status(watch: Any) -> Any:
    """The next status a round delivers (errors raised)."""
    while True:
        job = await bounded(next_update(watch, timeout=BOUND))
        if job is not None:
            return job


async def stopped(watcher: Any) -> None:
    """Wait for the watcher's task to end; then no task but the test's own is left."""
    task = watcher._task
    if task is not None:
        await bounded(asyncio.wait([task]))
    assert watcher._task is None
    assert asyncio.all_tasks() == {asyncio.current_task()}


def release_one_round(fake: FakeProject) -> None:
    """Let the request in flight through; the next ones wait for ``fake.gate`` again."""
    assert fake.gate is not None
    passing, fake.gate = fake.gate, asyncio.Event()
    passing.set()


def decision(error: Exception) -> Continue | Outcome:
    """What a trigger makes of a delivered error (the watch step, as the trigger calls it)."""
    return watch_step(job=None, error=error, now=0.0, deadline=None, watch_started_at=0.0, poll_interval=30)


def test_a_round_that_raises_reaches_every_watch_once_logged_and_the_loop_carries_on(caplog):
    async def main() -> None:
        fake = project("j0", "j1", "j2")
        fake.list_errors.append(KeyError("jobs"))  # a malformed page, once
        fake.gate = asyncio.Event()
        watches = [watch_job("conn", PROJECT_ID, j, lambda: 0.0, lambda: fake)[1] for j in ("j0", "j1", "j2")]
        watcher = watcher_for("conn", PROJECT_ID, lambda: fake)
        task = watcher._task
        await bounded(fake.requested.wait())
        release_one_round(fake)  # round one raises; round two waits until the errors are read
        for watch in watches:
            with pytest.raises(StatusWatcherError) as raised:
                await first_status(watch)
            assert isinstance(raised.value.__cause__, KeyError)
            assert PROJECT_ID in str(raised.value) and "KeyError" in str(raised.value)
            assert isinstance(decision(raised.value), Continue)  # transient: the trigger keeps watching
        fake.gate.set()
        for watch in watches:
            assert (await first_status(watch)).raw_status == "Running"  # the next round served them
        fake.finish("j1", "out-1")
        assert (await first_status(watches[1])).output_commit_id == "out-1"
        assert watcher._task is task  # the same loop carried on
        for watch in watches:
            watcher.unregister(watch)
        await stopped(watcher)

    with caplog.at_level(logging.WARNING, logger=status_watcher.__name__):
        run(main)
    failures = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], KeyError)]
    assert len(failures) == 1 and failures[0].levelno >= logging.WARNING


def test_a_domino_error_outside_the_list_reaches_every_watch_as_it_is():
    # The hook cannot be built (no such connection): every trigger receives the DominoConfigError,
    # which the watch step turns into a failure naming it; once the hook can be built, rounds resume.
    async def main() -> None:
        fake = project("j0", "j1")
        made = []

        def hook_factory() -> FakeProject:
            made.append(1)
            if len(made) == 1:
                raise DominoConfigError("Domino connection 'conn' is not defined")
            return fake

        fake.gate = asyncio.Event()  # the restarted task's round waits until the errors are read
        watches = [watch_job("conn", PROJECT_ID, j, lambda: 0.0, hook_factory)[1] for j in ("j0", "j1")]
        for watch in watches:
            with pytest.raises(DominoConfigError) as raised:
                await first_status(watch)
            step = decision(raised.value)
            assert isinstance(step, Outcome) and step.kind == ERROR and not step.retryable
            assert "connection 'conn'" in step.message
        fake.gate.set()
        for watch in watches:
            assert (await first_status(watch)).raw_status == "Running"  # restarted after its backoff
        watcher = watcher_for("conn", PROJECT_ID, hook_factory)
        for watch in watches:
            watcher.unregister(watch)
        await stopped(watcher)
        assert fake.closed == 1  # the one hook built is closed

    run(main)


def test_a_failing_list_with_a_domino_error_reads_each_job_on_its_route_in_the_real_loop():
    async def main() -> None:
        fake = project("j0", "j1")
        fake.list_errors.append(DominoServerError("GET", "/api/jobs/beta/jobs", 503, "busy"))
        watcher, watch0 = watch_job("conn", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        _, watch1 = watch_job("conn", PROJECT_ID, "j1", lambda: 60.0, lambda: fake)
        assert (await first_status(watch0)).raw_status == "Running"
        assert (await first_status(watch1)).raw_status == "Running"
        assert sorted(fake.calls) == ["get j0", "get j1", "list 0"]
        watcher.unregister(watch0)
        watcher.unregister(watch1)
        await stopped(watcher)

    run(main)


def test_an_unexpected_error_reading_one_job_fails_the_round_at_once_and_cancels_the_other_reads():
    async def main() -> None:
        fake = project("bad", "slow")
        fake.add_many(1_000)  # two pages: two jobs are read on their own routes
        real_get = fake.aget_job
        slow_read_cancelled = asyncio.Event()

        async def aget_job(job_id: str) -> Any:
            if job_id == "bad":
                raise ValueError("job object has no 'id'")  # a malformed answer
            if job_id == "slow":
                try:
                    await asyncio.Event().wait()  # never answers
                except asyncio.CancelledError:
                    slow_read_cancelled.set()
                    raise
            return await real_get(job_id)

        fake.aget_job = aget_job  # type: ignore[method-assign]
        watcher, bad = watch_job("conn", PROJECT_ID, "bad", lambda: 3600.0, lambda: fake)
        _, slow = watch_job("conn", PROJECT_ID, "slow", lambda: 3600.0, lambda: fake)
        for watch in (bad, slow):
            with pytest.raises(StatusWatcherError) as raised:
                await first_status(watch)
            assert isinstance(raised.value.__cause__, ValueError)
        assert slow_read_cancelled.is_set()  # not left running
        watcher.unregister(bad)
        watcher.unregister(slow)
        await stopped(watcher)

    run(main)


@pytest.mark.parametrize("death", ["cancelled", "raised"])
def test_a_watcher_task_that_dies_tells_every_watch_and_is_restarted(death):
    async def main() -> None:
        fake = project("j0", "j1", "j2")
        broken = False  # a trigger's schedule that raises when asked

        def desired_delay() -> float:
            if broken:
                raise RuntimeError("a trigger's schedule broke")
            return 3600.0

        watcher, watch0 = watch_job("conn", PROJECT_ID, "j0", desired_delay, lambda: fake)
        _, watch1 = watch_job("conn", PROJECT_ID, "j1", desired_delay, lambda: fake)
        assert (await first_status(watch0)) is not None and (await first_status(watch1)) is not None
        task = watcher._task
        assert task is not None
        fake.gate = asyncio.Event()  # the restarted task's round waits until the errors are read
        if death == "cancelled":
            task.cancel()
        else:
            broken = True
            watch_job("conn", PROJECT_ID, "j2", lambda: 3600.0, lambda: fake)  # wakes the pause: it asks
        for watch in (watch0, watch1):
            with pytest.raises(StatusWatcherError):
                await first_status(watch)
        broken = False
        fake.finish("j0", "out-0")
        fake.finish("j1", "out-1")
        fake.gate.set()
        assert (await first_status(watch0)).output_commit_id == "out-0"
        assert (await first_status(watch1)).output_commit_id == "out-1"
        assert watcher._task is not task and task.done()
        assert fake.closed == 1  # the dead task closed its hook; the new one holds its own
        for watches in list(watcher._watches.values()):
            for watch in list(watches):
                watcher.unregister(watch)
        await stopped(watcher)
        assert fake.closed == 2

    run(main)


def test_a_wait_on_a_dead_watcher_restarts_it_instead_of_sleeping_its_timeout():
    async def main() -> None:
        fake = project("j0")
        watcher, watch = watch_job("conn", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        await first_status(watch)
        task = watcher._task
        assert task is not None
        task.remove_done_callback(watcher._task_done)  # as if nobody had noticed the task end
        task.cancel()
        await bounded(asyncio.wait([task]))
        fake.finish("j0", "out")
        await bounded(watch.wait(timeout=60))  # noticed: told at once, not after 60 s
        with pytest.raises(StatusWatcherError):
            watch.take()
        assert (await first_status(watch)).output_commit_id == "out"  # and the restarted task reads
        watcher.unregister(watch)
        await stopped(watcher)

    run(main)


def test_the_last_trigger_leaving_mid_request_ends_the_task_at_once_and_closes_the_hook():
    async def main() -> None:
        fake = project("j0", "j1")
        watcher, watch0 = watch_job("conn", PROJECT_ID, "j0", lambda: 60.0, lambda: fake)
        _, watch1 = watch_job("conn", PROJECT_ID, "j1", lambda: 60.0, lambda: fake)
        fake.gate = asyncio.Event()  # the round's request never answers
        await bounded(fake.requested.wait())
        task = watcher._task
        assert task is not None
        watcher.unregister(watch0)
        assert not task.done()
        watcher.unregister(watch1)
        await stopped(watcher)
        assert fake.closed == 1
        assert watcher_for("conn", PROJECT_ID, lambda: fake) is not watcher  # stopped for good
        assert watch0.latest is None and watch0.error is None  # nobody was told of a failure: a stop

    run(main)


def test_the_last_trigger_leaving_during_the_pause_ends_the_task_at_once():
    async def main() -> None:
        fake = project("j0")
        watcher, watch = watch_job("conn", PROJECT_ID, "j0", lambda: 3600.0, lambda: fake)
        await first_status(watch)
        task = watcher._task
        assert task is not None
        watcher.unregister(watch)
        await stopped(watcher)
        assert not task.cancelled() and fake.closed == 1

    run(main)


def test_a_trigger_joining_mid_round_gets_its_status_from_the_next_round_of_the_same_task():
    async def main() -> None:
        fake = project("j0", "j1", "late")
        watcher, watch0 = watch_job("conn", PROJECT_ID, "j0", lambda: 3600.0, lambda: fake)
        fake.gate = asyncio.Event()
        await bounded(fake.requested.wait())  # round one is waiting for its answer
        task = watcher._task
        _, late = watch_job("conn", PROJECT_ID, "late", lambda: 0.0, lambda: fake)  # wants news soon
        assert watcher._task is task  # no second task
        fake.gate.set()
        assert (await first_status(watch0)).raw_status == "Running"
        assert (await first_status(late)).raw_status == "Running"  # next round, not in an hour
        assert watcher._task is task
        watcher.unregister(watch0)
        watcher.unregister(late)
        await stopped(watcher)

    run(main)


def test_the_last_trigger_leaving_while_the_task_waits_out_its_restart_backoff_stops_it_for_good(
    monkeypatch,
):
    monkeypatch.setattr(status_watcher, "MIN_ROUND_GAP", 60.0)  # a restart waits a minute

    async def main() -> None:
        fake = project("j0")
        watcher, watch = watch_job("conn", PROJECT_ID, "j0", lambda: 0.0, lambda: fake)
        await first_status(watch)
        task = watcher._task
        assert task is not None
        task.cancel()
        with pytest.raises(StatusWatcherError):
            await first_status(watch)
        restarted = watcher._task  # waiting out its backoff
        assert restarted is not None and restarted is not task
        watcher.unregister(watch)
        await stopped(watcher)
        assert fake.closed == 1  # only the first task built (and closed) a hook
        assert watcher_for("conn", PROJECT_ID, lambda: fake) is not watcher

    run(main)
