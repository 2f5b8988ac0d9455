"""The emulator's records (jobs, tags) and the ids Domino gives them.

These are plain Python records. How they look on the wire lives in ``shapes`` (the published
Domino shapes, and the simplified reference's flat ones behind ``--flat-shapes``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"
ERROR = "Error"

TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, STOPPED, ERROR})
DEFAULT_ENVIRONMENT_ID = "6231315a7a0af0281c01a699"
DEFAULT_ENVIRONMENT_NAME = "Domino Standard Environment (emulated)"


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC with a ``Z`` suffix and milliseconds, as Domino answers."""
    return iso_from_ms(time.time_ns() // 1_000_000)


def iso_from_ms(epoch_ms: int) -> str:
    """``epoch_ms`` as ``2026-01-02T03:04:05.678Z``."""
    moment = datetime.fromtimestamp(epoch_ms // 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def epoch_ms_from_iso(value: str) -> int:
    """The inverse of :func:`iso_from_ms` (and of :func:`utc_now_iso`)."""
    moment = datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000 + 0.5)


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def new_object_id() -> str:
    """A MongoDB-style ObjectId, as every real Domino id is: 8 hex digits of time, 16 random."""
    return f"{int(time.time()) & 0xFFFFFFFF:08x}" + secrets.token_hex(8)


def stable_object_id(*parts: str) -> str:
    """A 24-hex id derived from ``parts``: the same on every restart (owners, stages, users)."""
    return hashlib.sha1("/".join(parts).encode()).hexdigest()[:24]


#: The single user the emulator pretends every request comes from.
EMULATOR_USER_ID = stable_object_id("emulator-user")


@dataclass
class Tag:
    """A label attached to one job."""

    id: str
    name: str
    created_at: str = ""


@dataclass
class Job:
    """One job, from submission to its terminal status; the store keeps the only copy.

    ``number`` (the job's ordinal within its project) and ``listed_after`` (monotonic time
    before which the beta list pretends not to know the job) are derived, never stored.
    """

    id: str
    seq: int
    project_id: str
    status: str
    command: str
    title: str | None
    hardware_tier_id: str
    is_direct_hardware_tier_id: bool
    environment_id: str
    commit_id: str
    submitted_at: str
    output_commit_id: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    exit_code: int | None = None
    pid: int | None = None
    pid_start_time: int | None = None
    tags: list[Tag] = field(default_factory=list)
    #: The optional ``NewJobV1`` fields the start carried (compute cluster, git ref...), as JSON.
    options_json: str = "{}"
    #: What the run produced besides files: ``dominoStats`` and ``usage``, as JSON.
    results_json: str = "{}"
    number: int = 0
    listed_after: float = 0.0

    @property
    def options(self) -> dict[str, Any]:
        """The optional ``NewJobV1`` fields of the start, as sent."""
        return _json_object(self.options_json)

    @property
    def results(self) -> dict[str, Any]:
        """``dominoStats`` (a list of ``{name, value}``) and ``usage``, once the job ended."""
        return _json_object(self.results_json)

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change status."""
        return self.status in TERMINAL_STATUSES
