"""The job routes: start, details, list and stop, in the published shapes or the flat ones.

Every route name doubles as the endpoint name used by fault rules and the request log.
Routes receive path parameters still percent-encoded (see ``middleware``) and decode them
here, so an id containing ``/`` stays one segment.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fastapi import FastAPI, Request  # noqa: TC002 - FastAPI reads the annotations at run time
from fastapi.responses import JSONResponse

from domino_emulator import shapes
from domino_emulator.models import (
    DEFAULT_ENVIRONMENT_ID,
    PENDING,
    RUNNING,
    Job,
    new_object_id,
    utc_now_iso,
)
from domino_emulator.parsing import (
    NEW_JOB_FIELDS,
    ApiError,
    bool_query,
    check_listed_fields,
    choice_query,
    int_query,
    job_options,
    job_or_404,
    json_object,
    optional_flag,
    optional_text,
    required_query,
    required_text,
)

if TYPE_CHECKING:
    from domino_emulator.context import EmulatorContext
    from domino_emulator.settings import HardwareTier

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 10  # the published list's default
FLAT_DEFAULT_PAGE_SIZE = 50
STATUS_FILTERS = ("all", "queued", "running", "completed", "archived", "active")
SORT_FIELDS = (
    "number", "title", "command", "startedTime", "duration", "status", "user", "commentCount",
    "dominoStatsField",
)  # fmt: skip


def _matches_status_filter(job: Job, status_filter: str) -> bool:
    if status_filter == "queued":
        return job.status == PENDING
    if status_filter == "running":
        return job.status == RUNNING
    if status_filter == "completed":
        return job.is_terminal
    if status_filter == "active":
        return not job.is_terminal
    return status_filter == "all"  # nothing is ever archived here


def _sort_key(sort_by: str) -> Any:
    if sort_by == "title":
        return lambda job: (job.title or "", job.number)
    if sort_by == "command":
        return lambda job: (job.command, job.number)
    if sort_by == "startedTime":
        return lambda job: (job.started_at or "", job.number)
    if sort_by == "status":
        return lambda job: (shapes.execution_status(job), job.number)
    return lambda job: job.number  # number, and fields the emulator has no data for


def add_job_routes(api: FastAPI, context: EmulatorContext) -> None:
    """Register list, details (public and v4), start, stop and tiers (logs live in ``routes_logs``)."""
    store = context.store
    runner = context.runner
    settings = context.settings
    flat = settings.flat_shapes

    def goal_ids(job: Job) -> list[str]:
        return [link.goal_id for link in store.goal_links(job.id)]

    def details(job: Job) -> dict[str, Any]:
        if flat:
            return shapes.flat_job(job)
        queued = runner.waiting_for_capacity(job)
        shape = shapes.published_job(job, goal_ids(job), queued=queued)
        return {"job": shape, "metadata": shapes.metadata()}

    @api.get("/api/jobs/beta/jobs", name="list_jobs")
    async def list_jobs(request: Request) -> JSONResponse:
        project_id = required_query(request, "projectId")
        offset = int_query(request, "offset", 0)
        default_limit = FLAT_DEFAULT_PAGE_SIZE if flat else DEFAULT_PAGE_SIZE
        limit = min(int_query(request, "limit", default_limit), MAX_PAGE_SIZE)
        status_filter = choice_query(request, "statusFilter", STATUS_FILTERS, "all") or "all"
        sort_by = choice_query(request, "sortBy", SORT_FIELDS, "number") or "number"
        ascending = bool_query(request, "ascending", False)
        tag_filter = request.query_params.get("tagFilter")
        if not flat and store.project(project_id) is None:
            raise ApiError(404, f"Project '{project_id}' not found")
        now = time.monotonic()
        jobs = [
            job
            for job in store.project_jobs(project_id)
            if job.listed_after <= now
            and _matches_status_filter(job, status_filter)
            and (not tag_filter or any(tag.name == tag_filter for tag in job.tags))
        ]
        flat_status = request.query_params.get("status") if flat else None
        if flat_status:
            jobs = [job for job in jobs if job.status.casefold() == flat_status.casefold()]
        jobs.sort(key=_sort_key(sort_by), reverse=not ascending)
        page = jobs[offset : offset + limit]
        if flat:
            body = [shapes.flat_job(job) for job in page]
            return JSONResponse({"data": body, "offset": offset, "limit": limit, "totalCount": len(jobs)})
        return JSONResponse(
            {
                "jobs": [shapes.published_job(job) for job in page],
                "metadata": shapes.paginated_metadata(offset, limit, len(jobs)),
            }
        )

    @api.get("/api/jobs/beta/jobs/{job_id}", name="get_job")
    async def get_job(job_id: str) -> JSONResponse:
        return JSONResponse(details(job_or_404(context, job_id)))

    def published_start(body: dict[str, Any]) -> tuple[str, str, HardwareTier | None, bool]:
        check_listed_fields(body, NEW_JOB_FIELDS, "NewJobV1")
        project_id = required_text(body, "projectId")
        command = required_text(body, "runCommand")
        requested = body.get("hardwareTier")
        if requested is None:
            return project_id, command, None, False
        tier = settings.tier_by_id(requested)
        if tier is None:
            ids = ", ".join(f"{known.id} ({known.name})" for known in settings.hardware_tiers)
            raise ApiError(
                400,
                f"Hardware tier '{requested}' is not a hardware tier id of project {project_id}. "
                f"Available ids: {ids}",
            )
        return project_id, command, tier, True

    def flat_start(body: dict[str, Any]) -> tuple[str, str, HardwareTier | None, bool]:
        """The simplified reference's body, and the published one too: requests follow the spec."""
        project_id = required_text(body, "projectId")
        command_field = "runCommand" if "runCommand" in body else "commandToRun"
        command = required_text(body, command_field)
        tier_field = "hardwareTier" if "hardwareTier" in body else "hardwareTierId"
        requested = optional_text(body, tier_field)
        is_direct = tier_field == "hardwareTier" or optional_flag(body, "isDirectHardwareTierId")
        if requested is None:
            return project_id, command, None, is_direct
        tier = settings.resolve_hardware_tier(requested, is_direct)
        if tier is None:
            available = ", ".join(known.name for known in settings.hardware_tiers)
            raise ApiError(400, f"Hardware tier '{requested}' does not exist. Available: {available}")
        return project_id, command, tier, is_direct

    @api.post("/api/jobs/v1/jobs", name="start_job")
    async def start_job(request: Request) -> JSONResponse:
        body = await json_object(request)
        project_id, command, tier, is_direct = (flat_start if flat else published_start)(body)
        commit_id = optional_text(body, "commitId")
        title = optional_text(body, "title")
        environment_id = optional_text(body, "environmentId") or DEFAULT_ENVIRONMENT_ID
        options = job_options(body, {known.id for known in settings.hardware_tiers})
        project = store.project(project_id)
        if project is None:
            raise ApiError(404, f"Project '{project_id}' not found")
        if tier is None:
            tier = settings.hardware_tiers[0]  # the project's default tier
        if commit_id is None:
            commit_id = project.head_commit_id
        elif not store.commit_belongs_to(commit_id, project_id):
            raise ApiError(400, f"Unknown commitId '{commit_id}' for project {project_id}")
        job_id = new_object_id()
        while store.job(job_id) is not None:
            job_id = new_object_id()
        job = Job(
            id=job_id,
            seq=store.next_seq(),
            project_id=project_id,
            status=PENDING,
            command=command,
            title=title,
            hardware_tier_id=tier.id,
            is_direct_hardware_tier_id=is_direct,
            environment_id=environment_id,
            commit_id=commit_id,
            submitted_at=utc_now_iso(),
            options_json=json.dumps(options),
        )
        store.add_job(job)
        job.listed_after = time.monotonic() + settings.list_lag_seconds
        runner.submit(job)
        return JSONResponse(details(job))

    @api.post("/v4/jobs/stop", name="stop_job")
    async def stop_job(request: Request) -> JSONResponse:
        body = await json_object(request)
        job_id = required_text(body, "jobId")
        if not flat and not isinstance(body.get("commitResults"), bool):
            raise ApiError(400, "Missing required field 'commitResults' (true or false)")
        project_id = optional_text(body, "projectId")
        job = store.job(job_id)
        if job is None:
            raise ApiError(404, f"Job '{job_id}' not found")
        if project_id is not None and job.project_id != project_id:
            raise ApiError(400, f"Job '{job_id}' does not belong to project {project_id}")
        await runner.stop(job)
        return JSONResponse(shapes.flat_job(job) if flat else shapes.v4_job(job, goal_ids(job)))

    @api.get("/v4/jobs/{job_id}", name="get_v4_job")
    async def get_v4_job(job_id: str) -> JSONResponse:
        job = job_or_404(context, job_id)
        return JSONResponse(shapes.flat_job(job) if flat else shapes.v4_job(job, goal_ids(job)))

    @api.get("/v4/projects/{project_id}/hardwareTiers", name="list_hardware_tiers")
    async def list_hardware_tiers(project_id: str) -> JSONResponse:
        decoded = unquote(project_id)
        if store.project(decoded) is None:
            raise ApiError(404, f"Project '{decoded}' not found")
        limit = settings.max_concurrent_per_tier
        return JSONResponse(
            [
                shapes.hardware_tier_item(
                    tier,
                    is_default=index == 0,
                    running=runner.running_on(tier.id),
                    queued=runner.queued_on(tier.id),
                    limit=limit,
                )
                for index, tier in enumerate(settings.hardware_tiers)
            ]
        )
