"""``jobs.bounded.within``: a bounded wait that never drops a cancellation (unlike 3.11's wait_for)."""

from __future__ import annotations

import asyncio

import pytest

from airflow_provider_domino.jobs.bounded import within

pytestmark = pytest.mark.timeout(10)


def test_a_cancel_in_the_turn_the_work_finishes_is_still_raised():
    """The race that ``asyncio.wait_for`` loses on Python 3.10/3.11: the work finishes and the caller is
    cancelled in the same loop turn. A stopping triggerer's cancel must reach the trigger."""

    async def scenario() -> None:
        work = asyncio.get_running_loop().create_future()
        caller = asyncio.create_task(within(work, 10))
        await asyncio.sleep(0)  # the caller now waits on the work
        work.set_result("written")
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

    asyncio.run(scenario())


def test_the_result_within_the_time_and_a_timeout_after_it():
    async def scenario() -> None:
        assert await within(asyncio.sleep(0, result="done"), 1) == "done"
        slow = asyncio.ensure_future(asyncio.sleep(3600))
        with pytest.raises(asyncio.TimeoutError):
            await within(slow, 0.01)
        await asyncio.sleep(0)
        assert slow.cancelled()  # the work does not outlive the wait

    asyncio.run(scenario())
