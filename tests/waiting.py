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
from typing import Any, TypeVar

T = TypeVar("T")


def until_file_exists(path: str, limit: float = 60.0) -> str:
    """A shell fragment (jobs run under ``/bin/sh``) that waits for ``path`` to exist.

    It gives up after ``limit`` seconds or so, so a test that fails before releasing its job leaves no
    job waiting forever; the test's own assertions then fail on what the job did too early.
    """
    checks = int(limit * 100)
    return f"i=0; while [ ! -e {path} ] && [ $i -lt {checks} ]; do sleep 0.01; i=$((i+1)); done"


class Gate:
    """A file a job's command waits for; the job moves on once the test calls ``open()``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def wait(self) -> str:
        """A shell fragment that blocks until the gate is open."""
        return until_file_exists(shlex.quote(str(self.path)))

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


def job_when_finished(hook: Any, job_id: str, timeout: float = 30.0) -> Any:
    """The job through ``hook.get_job`` once it has finished, or as it is after ``timeout`` seconds
    (callers assert ``is_finished``)."""
    deadline = time.monotonic() + timeout
    job = hook.get_job(job_id)
    while not job.is_finished and time.monotonic() < deadline:
        time.sleep(0.1)
        job = hook.get_job(job_id)
    return job
