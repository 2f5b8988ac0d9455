"""How long to wait between status checks: quick at first, then ``poll_interval``.

Most polling cost comes from long jobs, most waiting cost from short ones. Checks start
``FIRST_POLL_INTERVAL`` apart and the gap grows with the time already spent watching (so it doubles)
until it reaches ``poll_interval``: a 5-second job is seen ending within about 2 s instead of up to 30,
while a 10-minute job costs only a handful of extra requests. The delay depends only on when watching
began, a primitive a serialized trigger can carry.
"""

from __future__ import annotations

import math
import random

FIRST_POLL_INTERVAL = 2.0
#: Each delay is shortened by up to this fraction at random, so triggers that all started together
#: drift apart instead of polling in lock-step bursts.
JITTER = 0.1
#: A trigger's first wait after it (re)starts is spread over the whole interval, from this fraction of
#: it up: a triggerer that takes over a thousand triggers at once (a restart, a deploy) would otherwise
#: see them all poll, and log, in the same fraction of a second, every interval, for as long as they run.
#: 10% jitter alone needs dozens of intervals to undo that.
SPREAD_FLOOR = 0.1


def poll_delay(poll_interval: float, watched_for: float, draw: float, *, spread: bool = False) -> float:
    """Seconds until the next check, after ``watched_for`` seconds of watching (never more than asked).

    :param draw: a random draw in ``[0, 1)``; it shortens the delay by up to ``JITTER``, or, with
        ``spread``, places it anywhere between ``SPREAD_FLOOR`` and the whole delay.
    :param spread: this is the first wait since the watcher (re)started.
    """
    delay = min(poll_interval, max(FIRST_POLL_INTERVAL, watched_for))
    draw = min(max(draw, 0.0), 1.0)
    if spread:
        return delay * (1 - (1 - SPREAD_FLOOR) * draw)
    return delay * (1 - JITTER * draw)


def check_delay(
    *,
    poll_interval: float,
    now: float,
    watch_started_at: float,
    deadline: float | None,
    draw: float,
    spread: bool = False,
) -> float:
    """The wait before the next status check: :func:`poll_delay`, never past ``deadline``.

    The one schedule of every watch: the worker loop and the sensor (through
    :func:`~airflow_provider_domino.jobs.watching.watch_step`) and a trigger telling the project's
    status watcher how often it wants news all ask here.

    :param now: epoch seconds.
    :param watch_started_at: epoch seconds when watching began.
    :param deadline: epoch seconds when the watch ends; ``None`` for no limit.
    """
    delay = poll_delay(poll_interval, now - watch_started_at, draw, spread=spread)
    if deadline is not None:
        delay = max(0.0, min(delay, deadline - now))
    return delay


def next_poll_delay(poll_interval: float, watched_for: float) -> float:
    """:func:`poll_delay` with a fresh random draw."""
    return poll_delay(poll_interval, watched_for, random.random())


#: The finest slot a per-job trigger's wait may end on (see :func:`wake_slot`), in seconds.
FINEST_WAKE_SLOT = 0.25
#: The coarsest slot: a wait moves by at most half of it (one second), however long it is.
COARSEST_WAKE_SLOT = 2.0
#: About how many per-job triggers one slot may wake together: their polls run back to back in one
#: pass of the event loop (about 15 ms of work), which is what every other trigger then waits.
WAKES_PER_SLOT = 50


def wake_slot(delay: float, sleepers: int) -> float:
    """The slot a wait of ``delay`` seconds ends on, with ``sleepers`` per-job triggers waiting in the
    loop; ``0.0``: too short a wait to round, end it exactly.

    Every wait that ends on one multiple of the slot (on the loop's clock) ends in one pass of the
    event loop, and each pass (one sleep and wake-up, one burst of sends) costs about what a poll does.
    So the slot is as coarse as allows: at most the wait itself and ``COARSEST_WAKE_SLOT`` (rounding to
    the nearest mark moves a wait by at most half of either), and fine enough that a slot wakes about
    ``WAKES_PER_SLOT`` triggers at most. A few dozen triggers then wake together once or twice an
    interval; a thousand are spread over quarter-second slots. Slots are a quarter second times a power
    of two, so the marks of a coarser slot are marks of every finer one and triggers with different
    slots still wake together.
    """
    coarsest = min(delay, COARSEST_WAKE_SLOT, WAKES_PER_SLOT * delay / max(sleepers, 1))
    if coarsest < FINEST_WAKE_SLOT:
        return FINEST_WAKE_SLOT if delay >= FINEST_WAKE_SLOT else 0.0
    return FINEST_WAKE_SLOT * 2 ** math.floor(math.log2(coarsest / FINEST_WAKE_SLOT))
