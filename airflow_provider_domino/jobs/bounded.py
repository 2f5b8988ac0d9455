"""Waiting for something at most so long, without ever losing a cancellation.

``asyncio.wait_for`` in Python 3.10 and 3.11 returns the inner result when the awaited thing finishes
in the same loop turn as the outer task is cancelled: the cancellation is dropped, and a trigger the
triggerer asked to stop carries on. :func:`within` gives the same "at most N seconds" with the
cancellation always re-raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """The result of ``awaitable`` if it finishes within ``seconds``; else ``asyncio.TimeoutError``.

    The work is cancelled when time runs out, and when the caller is cancelled, which then sees its
    ``CancelledError`` whatever state the work was in.
    """
    work = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({work}, timeout=seconds)
    except asyncio.CancelledError:
        work.cancel()
        raise
    if not done:
        work.cancel()
        raise asyncio.TimeoutError
    return work.result()
