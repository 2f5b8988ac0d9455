"""Waiting on events instead of sleeping: a gate a job waits behind, and a deadline-bounded poll.

A test that sleeps and hopes a job is still running (or already finished) decides pass or fail by the
machine's speed. With a ``Gate`` the job blocks until the test opens it, so "the job is still running
here" is a fact of the scenario; ``wait_until`` polls something outside the test process (an emulator
job, a process) until it holds, and fails naming what never happened.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class Gate:
    """A file a job's command waits for; the job moves on once the test calls ``open()``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def wait(self) -> str:
        """A shell fragment that blocks until the gate is open (jobs run under ``/bin/sh``)."""
        return f"while [ ! -e {shlex.quote(str(self.path))} ]; do sleep 0.01; done"

    def open(self) -> None:
        self.path.touch()


def wait_until(condition: Callable[[], T | None], timeout: float, what: str, interval: float = 0.02) -> T:
    """Call ``condition`` until it returns something truthy and return that; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout} s")
        time.sleep(interval)
