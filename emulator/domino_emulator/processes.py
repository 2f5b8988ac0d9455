"""Small /proc helpers to recognise a job process across emulator restarts.

A pid alone is not an identity: after a restart the pid of a finished job may belong to an
unrelated process. The kernel's start time of the process (field 22 of /proc/<pid>/stat)
disambiguates, so the emulator stores both and only adopts or signals a process whose
pid *and* start time still match. Stdlib only, so the test harness can import it cheaply.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class ProcessStat:
    """The few fields of /proc/<pid>/stat the emulator needs."""

    pid: int
    state: str
    process_group: int
    start_time: int

    @property
    def is_zombie(self) -> bool:
        """A zombie has exited; only its exit status is waiting to be collected."""
        return self.state in ("Z", "X", "x")


def read_stat(pid: int) -> ProcessStat | None:
    """Parse /proc/<pid>/stat, or return None when the process does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return None
    # The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    fields = raw[raw.rfind(")") + 2 :].split()
    try:
        return ProcessStat(pid=pid, state=fields[0], process_group=int(fields[2]), start_time=int(fields[19]))
    except (IndexError, ValueError):
        return None


def start_time_of(pid: int) -> int | None:
    """The kernel start time of ``pid`` (clock ticks since boot), None if it is gone."""
    stat = read_stat(pid)
    return stat.start_time if stat else None


def is_alive(pid: int, start_time: int | None) -> bool:
    """True when ``pid`` runs and is the same process we started (not a reused pid or a zombie)."""
    stat = read_stat(pid)
    if stat is None or stat.is_zombie:
        return False
    return start_time is None or stat.start_time == start_time


def live_group_members(process_group: int) -> list[int]:
    """Pids of every non-zombie process in ``process_group`` (a job's whole process tree)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        stat = read_stat(int(entry))
        if stat is not None and stat.process_group == process_group and not stat.is_zombie:
            members.append(stat.pid)
    return members


def signal_group(process_group: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to a whole process group; False if the group no longer exists."""
    try:
        os.killpg(process_group, sig)
    except (ProcessLookupError, PermissionError):
        return False
    return True
