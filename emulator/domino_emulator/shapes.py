"""How the emulator's records look on the wire.

Two vocabularies live here and nowhere else:

- Domino's published shapes (the default): the Public API 6.2 spec for ``/api/jobs/...``
  (envelopes ``{job, metadata}``, status objects, ``{error}`` and ``{errors, requestId}``
  errors) and the v4 spec for ``/v4/...`` (stop, projects, hardware tiers, ``{message}``
  errors). Optional fields without a value are left out, because the public spec has no
  ``nullable`` fields.
- The simplified reference's flat shapes (``--flat-shapes``): a flat job with a string
  ``status``, bare tags and goal links, ``{message}`` errors.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from domino_emulator.models import (
    DEFAULT_ENVIRONMENT_NAME,
    EMULATOR_USER_ID,
    PENDING,
    Job,
    Tag,
    epoch_ms_from_iso,
    stable_object_id,
)

if TYPE_CHECKING:
    from domino_emulator.settings import HardwareTier
    from domino_emulator.store import GoalLink, ProjectRecord

#: The stage every emulated goal is in (``LinkedGoalV1.currentStage``).
GOAL_STAGE = "Ideation"
_CREATED = "2024-01-01T00:00:00.000Z"


# ------------------------------------------------------------------- errors
def error_body(path: str, status: int, message: str, *, flat: bool) -> dict[str, Any]:
    """The error JSON Domino sends for ``status`` on ``path``, carrying ``message``."""
    if flat or path.startswith("/v4/"):
        return {"message": message}  # the v4 spec's ErrorResponse, and the simplified reference's
    if status in (401, 403):
        return {"errors": [message], "requestId": str(uuid.uuid4())}
    return {"error": message}


def metadata() -> dict[str, Any]:
    """``MetadataV1``: every published envelope carries one."""
    return {"requestId": str(uuid.uuid4()), "notices": []}


def paginated_metadata(offset: int, limit: int, total: int) -> dict[str, Any]:
    """``PaginatedMetadataV1``: the spec puts the numbers flat *and* requires ``pagination``."""
    numbers = {"offset": offset, "limit": limit, "totalCount": total}
    return {**metadata(), **numbers, "pagination": dict(numbers)}


# ------------------------------------------------------------ published jobs
def execution_status(job: Job) -> str:
    """Domino's name for the job's status (a job waiting for a slot is ``Queued``)."""
    return "Queued" if job.status == PENDING else job.status


def _status(job: Job) -> dict[str, Any]:
    return {
        "executionStatus": execution_status(job),
        "isCompleted": job.is_terminal,
        "isArchived": False,
        "isScheduled": False,
    }


def _stage_times(job: Job) -> dict[str, str]:
    times = {"submissionTime": job.submitted_at}
    if job.started_at:
        times["startTime"] = job.started_at
    if job.ended_at:
        times["completedTime"] = job.ended_at
    return times


def _commit_details(job: Job) -> dict[str, str]:
    details = {"inputCommitId": job.commit_id}
    if job.output_commit_id:
        details["outputCommitId"] = job.output_commit_id
    return details


def published_tag(tag: Tag) -> dict[str, str]:
    """``TagV1``."""
    return {
        "id": tag.id,
        "name": tag.name,
        "creatorId": EMULATOR_USER_ID,
        "createdAt": tag.created_at or _CREATED,
    }


def queued_details(tier: HardwareTier | None, tier_id: str, limit: int) -> dict[str, str]:
    """``QueuedJobStatusDetailsV1`` of a job waiting for a free slot on its tier.

    Worded from the tier and its limit only, so it reads the same on every poll until it changes.
    """
    name = tier.name if tier else tier_id
    return {
        "explanation": (
            f"Waiting for capacity on hardware tier {name}: all {limit} of its run slots are in use"
        ),
        "expectedWait": "Until a run on this hardware tier finishes",
        "helpText": f"Stop a run on {name}, or start the job on another hardware tier, to run it sooner",
    }


def _stats(job: Job) -> list[dict[str, str]]:
    stats = job.results.get("dominoStats")
    return stats if isinstance(stats, list) else []


def _git_repos(job: Job) -> list[dict[str, Any]]:
    """``MountedGitRepoV1`` of the main repository, for a job started on a git reference."""
    ref = job.options.get("mainRepoGitRef")
    if not isinstance(ref, dict):
        return []
    branch = ref.get("value") if ref.get("refType") == "branches" else None
    repo: dict[str, Any] = {
        "id": stable_object_id("repo", job.project_id),
        "name": "main",
        "uri": f"file:///domino-emulator/projects/{job.project_id}.git",
        "ref": str(ref.get("refType")) + (f":{ref['value']}" if ref.get("value") else ""),
        "serviceProvider": "unknown",
        "startingCommitId": job.commit_id,
    }
    if branch:
        repo["startingBranch"] = branch
    if job.is_terminal and job.output_commit_id:
        repo["endingCommitId"] = job.output_commit_id
        if branch:
            repo["endingBranch"] = branch
    return [repo]


def _volume_mounts(job: Job) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    external = [
        {"name": volume_id, "mountPath": f"/mnt/data/{volume_id}", "readOnly": False}
        for volume_id in job.options.get("externalVolumeMountIds", ())
    ]
    netapp = [
        {
            "name": volume_id,
            "volumeMountPath": f"/mnt/netapp/{volume_id}",
            "volumeReadOnly": False,
            "snapshotMountPath": f"/mnt/netapp/{volume_id}/.snapshots",
            "snapshotReadOnly": True,
        }
        for volume_id in job.options.get("netAppVolumeIds", ())
    ]
    return external, netapp


def published_job(
    job: Job, goal_ids: list[str] | None = None, *, queued: dict[str, str] | None = None
) -> dict[str, Any]:
    """``JobV1`` (a list item), or ``JobDetailsV1`` when ``goal_ids`` is given.

    The details echo the start's ``computeCluster`` and ``mainRepoGitRef``, the mounted volumes, the
    job's ``dominoStats`` and ``usage``, and ``queued`` (``queuedJobStatusDetails``) while it waits.
    """
    external, netapp = _volume_mounts(job)
    shape: dict[str, Any] = {
        "id": job.id,
        "number": job.number,
        "runCommand": job.command,
        "status": _status(job),
        "stageTimes": _stage_times(job),
        "commitDetails": _commit_details(job),
        "startedById": EMULATOR_USER_ID,
        "dominoStats": _stats(job),
        "projects": [],
        "gitRepos": _git_repos(job),
        "datasetMounts": [],
        "externalVolumeMounts": external,
        "netAppVolumeMounts": netapp,
    }
    if job.title:
        shape["title"] = job.title
    for name in ("computeCluster", "mainRepoGitRef"):
        if name in job.options:
            shape[name] = job.options[name]
    usage = job.results.get("usage")
    if isinstance(usage, dict):
        shape["usage"] = usage
    if queued is not None:
        shape["queuedJobStatusDetails"] = queued
    if goal_ids is not None:
        shape["tags"] = [published_tag(tag) for tag in job.tags]
        shape["goalIds"] = list(goal_ids)
        shape["commentsCount"] = 0
    return shape


def v4_job(job: Job, goal_ids: list[str]) -> dict[str, Any]:
    """``domino.jobs.interface.Job``, the answer of ``POST /v4/jobs/stop``."""
    return {
        "id": job.id,
        "number": job.number,
        "projectId": job.project_id,
        "title": job.title,
        "jobRunCommand": job.command,
        "statuses": _status(job),
        "stageTime": {
            "submissionTime": epoch_ms_from_iso(job.submitted_at),
            "runStartTime": epoch_ms_from_iso(job.started_at) if job.started_at else None,
            "completedTime": epoch_ms_from_iso(job.ended_at) if job.ended_at else None,
        },
        "commitDetails": {"inputCommitId": job.commit_id, "outputCommitId": job.output_commit_id},
        "tags": [
            {
                "tagId": tag.id,
                "name": tag.name,
                "createdBy": EMULATOR_USER_ID,
                "createdAt": epoch_ms_from_iso(tag.created_at or _CREATED),
                "projectId": job.project_id,
            }
            for tag in job.tags
        ],
        "goalIds": list(goal_ids),
        "commentsCount": 0,
        "dominoStats": _stats(job),
        "dependentRepositories": [],
        "dependentDatasetMounts": [],
        "dependentProjects": [],
        "dependentExternalVolumeMounts": [],
        "dependentNetAppVolumeMounts": [],
        "suggestDatasets": False,
        "snapshotDatasetsOnCompletion": job.options.get("snapshotDatasetsOnCompletion") is True,
        "snapshotNetAppVolumesOnCompletion": job.options.get("snapshotNetAppVolumesOnCompletion") is True,
    }


def linked_goal(link: GoalLink, project_id: str) -> dict[str, str]:
    """``LinkedGoalV1``; the emulator has no goal records, so title and stage are made up."""
    return {
        "goalId": link.goal_id,
        "jobId": link.job_id,
        "projectId": project_id,
        "title": f"Goal {link.goal_id}",
        "currentStage": GOAL_STAGE,
    }


# ------------------------------------------------------------------ projects
def owner_id(owner: str) -> str:
    """The stable user id of a project owner."""
    return stable_object_id("user", owner)


def project_overview(project: ProjectRecord, default_tier: HardwareTier) -> dict[str, Any]:
    """``ProjectGatewayOverview`` (``findProjectByOwnerAndName``)."""
    return {
        "id": project.id,
        "name": project.name,
        "owner": {"id": owner_id(project.owner), "userName": project.owner},
        "description": "",
        "hardwareTierId": default_tier.id,
        "hardwareTierName": default_tier.name,
        "environmentName": DEFAULT_ENVIRONMENT_NAME,
        "allowedOperations": ["Run", "ViewRuns", "Edit", "BrowseReadFiles", "ChangeProjectSettings"],
        "visibility": "Private",
        "tags": [],
        "numComments": 0,
        "runsCountByType": [],
        "totalRunTime": "PT0S",
        "stageId": stable_object_id("stage", project.id),
        "status": {"status": "active", "isBlocked": False},
        "requestingUserRole": "Owner",
    }


def project_summary(project: ProjectRecord) -> dict[str, Any]:
    """``ProjectSummary`` (``GET /v4/projects/{projectId}``)."""
    return {
        "id": project.id,
        "name": project.name,
        "description": "",
        "created": _CREATED,
        "visibility": "Private",
        "ownerId": owner_id(project.owner),
        "ownerUsername": project.owner,
        "importedGitRepositories": [],
        "collaboratorIds": [],
        "collaborators": [],
        "tags": [],
        "stageId": stable_object_id("stage", project.id),
        "status": {"status": "active", "isBlocked": False},
        "projectType": "Analytic",
    }


def hardware_tier_item(
    tier: HardwareTier, *, is_default: bool, running: int, queued: int, limit: int
) -> dict[str, Any]:
    """``HardwareTierWithCapacityDto``: the tier, its capacity right now, and its data plane."""
    free = max(limit - running, 0)
    return {
        "hardwareTier": {
            "id": tier.id,
            "name": tier.name,
            "hwtResources": {
                "cores": 1.0,
                "memory": {"value": 2.0, "unit": "GiB"},
                "allowSharedMemoryToExceedDefault": False,
            },
            "hwtFlags": {
                "isDefault": is_default,
                "isVisible": True,
                "isGlobal": True,
                "isArchived": False,
                "isFree": tier.cents_per_minute == 0,
                "isDataAnalystTier": False,
                "isAllowedDuringTrial": True,
            },
            "centsPerMinute": float(tier.cents_per_minute),
            "creationTime": _CREATED,
            "updateTime": _CREATED,
            "podCustomization": {
                "additionalRequests": {},
                "additionalLimits": {},
                "additionalAnnotations": {},
                "additionalLabels": {},
                "hugepages": {},
                "capabilities": [],
            },
            "metadata": {},
        },
        "capacity": {
            "currentNumberOfExecutors": 1,
            "maximumNumberOfExecutors": 1,
            "numberOfCurrentlyExecutingRuns": running,
            "numberOfQueuedRuns": queued,
            "maximumConcurrentRuns": limit,
            "availableCapacityWithoutLaunching": free,
            "maximumAvailableCapacity": free,
            "capacityLevel": "CAN_EXECUTE_WITH_CURRENT_INSTANCES" if free else "FULL",
        },
        "dataPlane": {
            "id": stable_object_id("data-plane", "local"),
            "name": "Local",
            "namespace": "domino-emulator",
            "isLocal": True,
            "configuration": {},
            "status": {
                "state": "Healthy",
                "message": "",
                "agentVersion": "emulator",
                "catalogVersion": "emulator",
                "requiresUpgrade": False,
                "supportsUpgrade": False,
            },
            "isHealthy": True,
            "isArchived": False,
            "isFileSyncDisabled": False,
            "isLocked": False,
        },
    }


# ---------------------------------------------------------------- flat shapes
def flat_tag(tag: Tag) -> dict[str, str]:
    """The simplified reference's ``{"id", "name"}`` tag."""
    return {"id": tag.id, "name": tag.name}


def flat_job(job: Job) -> dict[str, Any]:
    """The simplified reference's flat job (also the admin view the test harness reads)."""
    return {
        "id": job.id,
        "projectId": job.project_id,
        "number": job.number,
        "status": job.status,
        "command": job.command,
        "title": job.title,
        "hardwareTierId": job.hardware_tier_id,
        "isDirectHardwareTierId": job.is_direct_hardware_tier_id,
        "environmentId": job.environment_id,
        "commitId": job.commit_id,
        "outputCommitId": job.output_commit_id,
        "submittedAt": job.submitted_at,
        "startedAt": job.started_at,
        "endedAt": job.ended_at,
        "exitCode": job.exit_code,
        "tags": [flat_tag(tag) for tag in job.tags],
        "options": job.options,
        "dominoStats": _stats(job),
        "usage": job.results.get("usage"),
    }


def flat_goal(link: GoalLink) -> dict[str, str]:
    """The simplified reference's ``{"jobId", "goalId"}`` goal link."""
    return {"jobId": link.job_id, "goalId": link.goal_id}
