"""Domino job statuses as a type: which ones are terminal, which one is success.

The members are the ``executionStatus`` values of Domino's published Public API (6.2). Comparisons are
case-insensitive, and a value we have never seen is treated as "still running" with a single warning,
so a new server release slows nothing down and crashes nothing. Whether a job has *finished* is decided
by :class:`~airflow_provider_domino.api.models.Job` from the server's ``isCompleted`` flag when it sends
one; the terminal set here is the fallback for servers (the simplified flat form) that do not.
"""

from __future__ import annotations

import logging
from enum import Enum

log = logging.getLogger(__name__)

_warned_unknown: set[str] = set()


class JobStatus(str, Enum):
    """The lifecycle states of a Domino job (the spec's ``executionStatus`` enum, plus ``UNKNOWN``)."""

    QUEUED = "Queued"
    SCHEDULED = "Scheduled"
    PENDING = "Pending"
    PREPARING = "Preparing"
    BUILDING = "Building"
    PULLING = "Pulling"
    RUNNING = "Running"
    SERVING = "Serving"
    STOP_REQUESTED = "StopRequested"
    STOP_AND_DISCARD_REQUESTED = "StopAndDiscardRequested"
    STOPPING = "Stopping"
    FINISHING = "Finishing"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    STOPPED = "Stopped"
    ERROR = "Error"
    UNKNOWN = "Unknown"

    @classmethod
    def parse(cls, value: object) -> JobStatus:
        """Map a status string from the API to a member; unknown values become ``UNKNOWN``."""
        text = str(value or "").strip()
        member = _BY_LOWER.get(text.lower())
        if member is not None:
            return member
        if text not in _warned_unknown:
            _warned_unknown.add(text)
            log.warning("Unknown Domino job status %r; treating it as not finished", text)
        return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change: Succeeded, Failed, Stopped or Error."""
        return self in TERMINAL_STATUSES

    @property
    def is_success(self) -> bool:
        """True only for ``Succeeded``."""
        return self is JobStatus.SUCCEEDED

    @property
    def is_active(self) -> bool:
        """True while the job may still run to completion (everything that is not terminal)."""
        return not self.is_terminal


_BY_LOWER = {member.value.lower(): member for member in JobStatus}

TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.ERROR})
