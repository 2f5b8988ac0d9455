"""The wait a coalesced trigger re-arms for every check: asyncio's future protocol, reused."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_domino.jobs.reusable_wait import ReusableWait


def test_one_task_awaits_it_again_and_again():
    async def scenario() -> list[str]:
        loop = asyncio.get_running_loop()
        wait = ReusableWait(loop)
        seen: list[str] = []

        async def waiter() -> None:
            for round_ in range(3):
                await wait.arm()
                seen.append(f"woke {round_}")
            await wait.resolved()  # over already: no suspension
            seen.append("resolved")

        task = asyncio.create_task(waiter())
        for _ in range(3):
            while wait.done():  # until the task is waiting again
                await asyncio.sleep(0)
            wait.set_result(None)
            wait.set_result(None)  # a second wake-up of the same wait does nothing
        await asyncio.wait_for(task, 5)
        return seen

    assert asyncio.run(scenario()) == ["woke 0", "woke 1", "woke 2", "resolved"]


def test_cancelling_the_waiting_task_cancels_the_wait():
    async def scenario() -> None:
        wait = ReusableWait(asyncio.get_running_loop())
        task = asyncio.create_task(_await(wait.arm()))
        await asyncio.sleep(0)
        task.cancel("stopping")
        with pytest.raises(asyncio.CancelledError):
            await task
        assert wait.cancelled()
        wait.set_result(None)  # a late wake-up of a cancelled wait is ignored
        assert wait.cancelled()
        wait.arm()  # and the next wait starts afresh
        assert not wait.done()

    asyncio.run(scenario())


def test_wait_for_times_out_on_it_and_leaves_it_re_armable():
    async def scenario() -> None:
        wait = ReusableWait(asyncio.get_running_loop())
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(wait.arm(), 0.01)
        assert wait.cancelled()
        loop = asyncio.get_running_loop()
        loop.call_later(0.01, wait.set_result, None)
        await asyncio.wait_for(wait.arm(), 5)  # ended by its wake-up, not the timeout
        assert wait.done() and not wait.cancelled()

    asyncio.run(scenario())


async def _await(wait: ReusableWait) -> None:
    await wait
