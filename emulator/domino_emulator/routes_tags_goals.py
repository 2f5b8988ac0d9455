"""Tags, goals and project look-ups, in the published shapes or (``--flat-shapes``) the flat ones.

Published mode is strict where the spec is: ``{tagName, projectId}`` to tag, ``?projectId=``
to untag, ``?jobId=`` on every goals call, and goal ids that are ObjectIds. Flat mode also
accepts the simplified reference's forms (``{name}``, ``jobId`` in the body).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from fastapi import FastAPI, Request  # noqa: TC002 - FastAPI reads the annotations at run time
from fastapi.responses import JSONResponse

from domino_emulator import shapes
from domino_emulator.models import Job, Tag, new_object_id, utc_now_iso
from domino_emulator.parsing import (
    ApiError,
    job_or_404,
    json_object,
    required_query,
    required_text,
)

if TYPE_CHECKING:
    from domino_emulator.context import EmulatorContext

_OBJECT_ID = re.compile(r"[0-9a-f]{24}")


def add_tag_and_goal_routes(api: FastAPI, context: EmulatorContext) -> None:
    """Register the tag, goal and project routes."""
    store = context.store
    settings = context.settings
    flat = settings.flat_shapes

    def check_project(job: Job, project_id: str | None) -> None:
        if project_id is not None and project_id != job.project_id:
            raise ApiError(400, f"Job '{job.id}' does not belong to project {project_id}")

    def deleted() -> JSONResponse:
        return JSONResponse({} if flat else {"success": True, "metadata": shapes.metadata()})

    @api.post("/api/jobs/v1/jobs/{job_id}/tags", name="add_tag")
    async def add_tag(job_id: str, request: Request) -> JSONResponse:
        job = job_or_404(context, job_id)
        body = await json_object(request)
        if flat and "tagName" not in body:
            name = required_text(body, "name")
        else:
            name = required_text(body, "tagName")
            check_project(job, body.get("projectId") if flat else required_text(body, "projectId"))
        tag = next((known for known in job.tags if known.name == name), None)
        if tag is None:
            tag = Tag(new_object_id(), name, utc_now_iso())
            store.add_tag(job, tag)
        if flat:
            return JSONResponse(shapes.flat_tag(tag))
        return JSONResponse({"tag": shapes.published_tag(tag), "metadata": shapes.metadata()})

    @api.delete("/api/jobs/v1/jobs/{job_id}/tags/{tag_id}", name="remove_tag")
    async def remove_tag(job_id: str, tag_id: str, request: Request) -> JSONResponse:
        job = job_or_404(context, job_id)
        project_id = request.query_params.get("projectId") if flat else required_query(request, "projectId")
        check_project(job, project_id)
        decoded_tag_id = unquote(tag_id)
        if not store.remove_tag(job, decoded_tag_id):
            raise ApiError(404, f"Tag '{decoded_tag_id}' not found on job '{job.id}'")
        return deleted()

    @api.get("/api/jobs/v1/goals", name="list_goals")
    async def list_goals(request: Request) -> JSONResponse:
        if flat:
            job_id = request.query_params.get("jobId") or None
            return JSONResponse([shapes.flat_goal(link) for link in store.goal_links(job_id)])
        job = job_or_404(context, required_query(request, "jobId"))
        goals = [shapes.linked_goal(link, job.project_id) for link in store.goal_links(job.id)]
        return JSONResponse({"goals": goals, "metadata": shapes.metadata()})

    @api.post("/api/jobs/v1/goals", name="link_goal")
    async def link_goal(request: Request) -> JSONResponse:
        body = await json_object(request)
        if flat:
            job_id = request.query_params.get("jobId") or required_text(body, "jobId")
        else:
            job_id = required_query(request, "jobId")
        goal_id = required_text(body, "goalId")
        if not flat and not _OBJECT_ID.fullmatch(goal_id):
            raise ApiError(400, f"Field 'goalId' must be a goal id (24 hex digits), got '{goal_id}'")
        job = store.job(job_id)
        if job is None:
            raise ApiError(404, f"Job '{job_id}' not found")
        link = store.link_goal(job_id, goal_id)
        if flat:
            return JSONResponse(shapes.flat_goal(link))
        return JSONResponse({"goal": shapes.linked_goal(link, job.project_id), "metadata": shapes.metadata()})

    @api.delete("/api/jobs/v1/goals/{goal_id}", name="unlink_goal")
    async def unlink_goal(goal_id: str, request: Request) -> JSONResponse:
        decoded_goal_id = unquote(goal_id)
        job_id = (request.query_params.get("jobId") or None) if flat else required_query(request, "jobId")
        if store.unlink_goal(decoded_goal_id, job_id) == 0:
            suffix = f" to job '{job_id}'" if job_id else ""
            raise ApiError(404, f"Goal '{decoded_goal_id}' is not linked{suffix}")
        return deleted()

    @api.get("/v4/gateway/projects/findProjectByOwnerAndName", name="find_project")
    async def find_project(request: Request) -> JSONResponse:
        owner = required_query(request, "ownerName")
        name = required_query(request, "projectName")
        project = store.find_project(owner, name)
        if project is None:
            raise ApiError(404, f"Project '{owner}/{name}' not found")
        if flat:
            return JSONResponse({"id": project.id, "name": project.name, "ownerUsername": project.owner})
        return JSONResponse(shapes.project_overview(project, settings.hardware_tiers[0]))

    @api.get("/v4/projects/{project_id}", name="get_project")
    async def get_project(project_id: str) -> JSONResponse:
        decoded = unquote(project_id)
        project = store.project(decoded)
        if project is None:
            raise ApiError(404, f"Project '{decoded}' not found")
        return JSONResponse(shapes.project_summary(project))
