"""How long to wait between status checks: quick at first, then ``poll_interval``.

Most polling cost comes from long jobs, most waiting cost from short ones. Checks start
``FIRST_POLL_INTERVAL`` apart and the gap grows with the time already spent watching (so it doubles)
until it reaches ``poll_interval``: a 5-second job is seen ending within about 2 s instead of up to 30,
while a 10-minute job costs only a handful of extra requests. The delay depends only on when watching
began, a primitive a serialized trigger can carry.
"""

from __future__ import annotations

import random

FIRST_POLL_INTERVAL = 2.0
#: Each delay is shortened by up to this fraction at random, so triggers that all started together
#: (a triggerer restart) drift apart instead of polling in lock-step bursts.
JITTER = 0.1


def next_poll_delay(poll_interval: float, watched_for: float) -> float:
    """Seconds until the next check, after ``watched_for`` seconds of watching (never more than asked)."""
    delay = min(poll_interval, max(FIRST_POLL_INTERVAL, watched_for))
    return delay * (1 - JITTER * random.random())
