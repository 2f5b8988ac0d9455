"""The emulator's records (jobs, tags) and their Domino JSON shapes.

Domino field names (camelCase) appear only in the ``to_api`` methods; everything else in
the emulator uses Python names.
"""

from __future__ import annotations

import secrets
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
DEFAULT_ENVIRONMENT_ID = "emulator-default-environment"


def utc_now_iso() -> str:
    """Current time as ISO 8601 UTC with a ``Z`` suffix and milliseconds, as Domino answers."""
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def new_job_id() -> str:
    """A Domino-looking job id: ``job-`` and 12 hex digits."""
    return "job-" + secrets.token_hex(6)


def new_tag_id() -> str:
    """A tag id: ``tag-`` and 12 hex digits."""
    return "tag-" + secrets.token_hex(6)


@dataclass
class Tag:
    """A label attached to one job."""

    id: str
    name: str

    def to_api(self) -> dict[str, str]:
        """The ``{"id", "name"}`` shape used in job JSON and by the tag endpoint."""
        return {"id": self.id, "name": self.name}


@dataclass
class Job:
    """One job, from submission to its terminal status; the store keeps the only copy."""

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

    @property
    def is_terminal(self) -> bool:
        """True once the job can no longer change status."""
        return self.status in TERMINAL_STATUSES

    def to_api(self) -> dict[str, Any]:
        """The job as ``GET /api/jobs/beta/jobs/{jobId}`` returns it."""
        return {
            "id": self.id,
            "projectId": self.project_id,
            "status": self.status,
            "command": self.command,
            "title": self.title,
            "hardwareTierId": self.hardware_tier_id,
            "isDirectHardwareTierId": self.is_direct_hardware_tier_id,
            "environmentId": self.environment_id,
            "commitId": self.commit_id,
            "outputCommitId": self.output_commit_id,
            "submittedAt": self.submitted_at,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "exitCode": self.exit_code,
            "tags": [tag.to_api() for tag in self.tags],
        }
