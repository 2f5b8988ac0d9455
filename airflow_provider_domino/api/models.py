"""Typed views of the Domino API's JSON. Domino's camelCase field names live only in this module."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_domino.api.status import JobStatus


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Tag:
    """A tag attached to a job."""

    id: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Tag:
        return cls(id=str(data.get("id", "")), name=str(data.get("name", "")))


@dataclass(frozen=True)
class Job:
    """One Domino job as the get/list/start endpoints describe it.

    ``raw_status`` keeps the server's own spelling (for messages); ``status`` is the typed value.
    ``raw`` keeps the whole payload so fields this model does not name are not lost.
    """

    id: str
    project_id: str | None
    status: JobStatus
    raw_status: str
    command: str | None = None
    title: str | None = None
    hardware_tier_id: str | None = None
    environment_id: str | None = None
    commit_id: str | None = None
    output_commit_id: str | None = None
    submitted_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    tags: tuple[Tag, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Job:
        """Build a job from a JSON object; raises ``ValueError`` when it has no ``id``."""
        job_id = data.get("id")
        if not job_id:
            raise ValueError("job object has no 'id'")
        raw_status = str(data.get("status") or "")
        return cls(
            id=str(job_id),
            project_id=_opt_str(data, "projectId"),
            status=JobStatus.parse(raw_status),
            raw_status=raw_status,
            command=_opt_str(data, "command") or _opt_str(data, "commandToRun"),
            title=_opt_str(data, "title"),
            hardware_tier_id=_opt_str(data, "hardwareTierId"),
            environment_id=_opt_str(data, "environmentId"),
            commit_id=_opt_str(data, "commitId"),
            output_commit_id=_opt_str(data, "outputCommitId"),
            submitted_at=_opt_str(data, "submittedAt"),
            started_at=_opt_str(data, "startedAt"),
            ended_at=_opt_str(data, "endedAt"),
            tags=tuple(Tag.from_api(t) for t in data.get("tags") or () if isinstance(t, Mapping)),
            raw=dict(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary for XCom, in Domino's own field names so templates read like the API docs."""
        summary = dict(self.raw)
        summary.update(
            {
                "id": self.id,
                "projectId": self.project_id,
                "status": self.raw_status or self.status.value,
                "command": self.command,
                "title": self.title,
                "hardwareTierId": self.hardware_tier_id,
                "environmentId": self.environment_id,
                "commitId": self.commit_id,
                "outputCommitId": self.output_commit_id,
                "startedAt": self.started_at,
                "endedAt": self.ended_at,
            }
        )
        return summary


@dataclass(frozen=True)
class JobPage:
    """One page of the list-jobs endpoint."""

    jobs: tuple[Job, ...]
    offset: int
    limit: int
    total_count: int

    @property
    def next_offset(self) -> int | None:
        """Offset of the following page, or ``None`` when this is the last one."""
        following = self.offset + len(self.jobs)
        return following if self.jobs and following < self.total_count else None


@dataclass(frozen=True)
class GoalLink:
    """A goal linked to a job."""

    job_id: str
    goal_id: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> GoalLink:
        return cls(job_id=str(data.get("jobId", "")), goal_id=str(data.get("goalId", "")))


def split_project_path(project: str) -> tuple[str, str]:
    """Split ``owner/name`` into its two parts; raises ``ValueError`` naming the parameter otherwise."""
    parts = str(project or "").split("/")
    if len(parts) != 2 or not all(part.strip() for part in parts):
        raise ValueError(f"Parameter 'project' must look like 'owner/name', got {project!r}")
    return parts[0].strip(), parts[1].strip()


@dataclass(frozen=True)
class Project:
    """A Domino project, as resolved from ``owner/name``."""

    id: str
    name: str
    owner: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Project:
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            owner=str(data.get("ownerUsername") or data.get("ownerName") or ""),
        )


@dataclass(frozen=True)
class LogChunk:
    """Bytes of a job log from ``start`` on, and the offset to ask from next time."""

    data: bytes
    start: int

    @property
    def end(self) -> int:
        """Byte offset just past this chunk: where the next tail request begins."""
        return self.start + len(self.data)
