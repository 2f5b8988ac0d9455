"""A wait one task can await again and again, allocating (almost) nothing per wait.

A coalesced trigger waits once per poll interval for the project's watcher. With an ``asyncio.Future``
each wait leaves three objects (the future, the iterator of its ``await``, the task's wake-up callback)
that live for the whole interval; a thousand triggers make thousands a second. Anything that lives that
long reaches the garbage collector's oldest generation, and enough of it there sets off a full
collection: a pause of the whole triggerer proportional to everything every provider holds.

:class:`ReusableWait` is an object of asyncio's future protocol (``_asyncio_future_blocking``,
``add_done_callback``, ``result``, ``cancel``...; see :func:`asyncio.isfuture`), made once per watch and
re-armed for each wait: it is its own ``await`` iterator, so a wait allocates only the task's wake-up
callback. It is awaited by one task at a time (the trigger that owns the watch).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Generator
from typing import Any

_PENDING, _DONE, _CANCELLED = 0, 1, 2

Callback = Callable[[Any], object]


class ReusableWait:
    """One waiter's wait, resolved by :meth:`set_result` (or cancelled), then re-armed by :meth:`arm`."""

    #: Read by asyncio: an awaitable that yields itself is a future (see :func:`asyncio.isfuture`).
    _asyncio_future_blocking = False

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._state = _DONE
        self._cancel_message: Any = None
        #: The awaiting task's wake-up and its context (the one callback of nearly every wait, kept in
        #: two slots rather than a list of tuples: nothing more to allocate per wait).
        self._callback: Callback | None = None
        self._context: contextvars.Context | None = None
        #: Any further callbacks (asyncio.wait_for and the like add their own).
        self._more: list[tuple[Callback, contextvars.Context | None]] = []

    def arm(self) -> ReusableWait:
        """Start a new wait (pending until :meth:`set_result`); the previous one must have ended."""
        if self._state == _PENDING and (self._callback is not None or self._more):
            raise RuntimeError("a wait is already pending for this waiter")
        self._state, self._cancel_message = _PENDING, None
        return self

    def resolved(self) -> ReusableWait:
        """A wait that is over already: awaiting it returns at once."""
        self._state, self._cancel_message = _DONE, None
        self._callback = self._context = None
        self._more.clear()
        return self

    # --- asyncio's future protocol -------------------------------------------------------------

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def done(self) -> bool:
        return self._state != _PENDING

    def cancelled(self) -> bool:
        return self._state == _CANCELLED

    def result(self) -> None:
        if self._state == _CANCELLED:
            raise asyncio.CancelledError(*(() if self._cancel_message is None else (self._cancel_message,)))
        if self._state == _PENDING:
            raise asyncio.InvalidStateError("the wait is not over")
        return None

    def exception(self) -> BaseException | None:
        self.result()
        return None

    def set_result(self, result: None = None) -> None:
        """End the wait (once; later calls until the next :meth:`arm` do nothing)."""
        if self._state == _PENDING:
            self._state = _DONE
            self._schedule_callbacks()

    def cancel(self, msg: Any = None) -> bool:
        if self._state != _PENDING:
            return False
        self._state, self._cancel_message = _CANCELLED, msg
        self._schedule_callbacks()
        return True

    def add_done_callback(self, fn: Callback, *, context: contextvars.Context | None = None) -> None:
        if self._state != _PENDING:
            self._loop.call_soon(fn, self, context=context)
        elif self._callback is None:
            self._callback, self._context = fn, context
        else:
            self._more.append((fn, context))

    def remove_done_callback(self, fn: Callback) -> int:
        removed = 0
        if self._callback is not None and self._callback == fn:
            self._callback = self._context = None
            removed = 1
        kept = [(callback, context) for callback, context in self._more if callback != fn]
        removed += len(self._more) - len(kept)
        self._more[:] = kept
        return removed

    def _schedule_callbacks(self) -> None:
        if self._callback is not None:
            callback, context = self._callback, self._context
            self._callback = self._context = None
            self._loop.call_soon(callback, self, context=context)
        if self._more:
            more = list(self._more)
            self._more.clear()
            for fn, context in more:
                self._loop.call_soon(fn, self, context=context)

    # --- await: the object is its own iterator -------------------------------------------------

    def __await__(self) -> Generator[Any, None, None]:
        return self  # type: ignore[return-value]

    __iter__ = __await__

    def __next__(self) -> ReusableWait:
        if self._state == _PENDING:
            self._asyncio_future_blocking = True
            return self  # the task suspends until a done callback wakes it
        self.result()  # raises CancelledError for a cancelled wait
        raise StopIteration(None)
