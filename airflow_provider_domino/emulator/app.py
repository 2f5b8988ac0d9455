"""The HTTP routes of the emulator: the Domino Jobs API subset the provider uses, plus admin routes.

Every route name doubles as the endpoint name used by fault rules and the request log.
Routes receive path parameters still percent-encoded (see ``middleware``) and decode them
here, so an id containing ``/`` stays one segment. Request bodies are parsed by hand rather
than with pydantic models: Domino answers ``400 {"message": ...}`` naming the bad field, and
clients are tested against exactly that, not FastAPI's 422 shape.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_provider_domino.emulator.faults import FaultConfigError, FaultInjector
from airflow_provider_domino.emulator.middleware import EmulatorMiddleware
from airflow_provider_domino.emulator.models import (
    DEFAULT_ENVIRONMENT_ID,
    PENDING,
    Job,
    Tag,
    new_job_id,
    new_tag_id,
    utc_now_iso,
)

if TYPE_CHECKING:
    from airflow_provider_domino.emulator.context import EmulatorContext

MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
_LOG_CHUNK = 256 * 1024
_LOG_MEDIA_TYPE = "text/plain; charset=utf-8"
#: ``bytes=N-`` (to the end) or ``bytes=N-M`` (inclusive), the forms clients tailing a log send.
_BYTE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*")


class ApiError(Exception):
    """An error answered as ``{"message": ...}`` with ``status``, like Domino's own errors."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------- helpers
async def _json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Request body must be valid JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def _required_text(data: dict[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Missing required field '{name}'")
    return value


def _optional_text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Field '{name}' must be a string")
    return value


def _optional_flag(data: dict[str, Any], name: str) -> bool:
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"Field '{name}' must be true or false")
    return value


def _required_query(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise ApiError(400, f"Missing required query parameter '{name}'")
    return value


def _int_query(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Query parameter '{name}' must be a non-negative integer, got '{raw}'") from None
    if value < 0:
        raise ApiError(400, f"Query parameter '{name}' must be a non-negative integer, got '{raw}'")
    return value


def _job_or_404(context: EmulatorContext, encoded_job_id: str) -> Job:
    job_id = unquote(encoded_job_id)
    job = context.store.job(job_id)
    if job is None:
        raise ApiError(404, f"Job '{job_id}' not found")
    return job


async def _stream_file(path: str, start: int, length: int) -> AsyncIterator[bytes]:
    """Stream ``length`` bytes of a (possibly still growing) file, reading off the event loop."""
    with open(path, "rb") as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await asyncio.to_thread(handle.read, min(_LOG_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def _file_response(path: str, start: int, length: int, status: int, headers: dict[str, str]) -> Response:
    headers = {**headers, "Accept-Ranges": "bytes"}
    if length <= _LOG_CHUNK:
        with open(path, "rb") as handle:
            handle.seek(start)
            data = handle.read(length)
        return Response(data, status_code=status, media_type=_LOG_MEDIA_TYPE, headers=headers)
    headers["Content-Length"] = str(length)
    return StreamingResponse(
        _stream_file(path, start, length), status_code=status, media_type=_LOG_MEDIA_TYPE, headers=headers
    )


# ------------------------------------------------------------------------ app
def create_app(context: EmulatorContext) -> EmulatorMiddleware:
    """Build the ASGI application: FastAPI routes wrapped in the emulator middleware."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await context.start()
        try:
            yield
        finally:
            await context.close()

    api = FastAPI(title="Domino emulator", lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @api.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"message": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"message": f"Invalid request: {exc.errors()}"}, status_code=400)

    @api.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"message": f"Internal emulator error: {type(exc).__name__}"}, status_code=500)

    _add_job_routes(api, context)
    _add_tag_and_goal_routes(api, context)
    _add_admin_routes(api, context)
    return EmulatorMiddleware(api, context)


def _add_job_routes(api: FastAPI, context: EmulatorContext) -> None:
    store = context.store
    runner = context.runner
    settings = context.settings

    @api.get("/api/jobs/beta/jobs", name="list_jobs")
    async def list_jobs(request: Request) -> JSONResponse:
        project_id = _required_query(request, "projectId")
        offset = _int_query(request, "offset", 0)
        limit = min(_int_query(request, "limit", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        status = request.query_params.get("status")
        jobs = store.project_jobs(project_id)
        if status:
            wanted = status.casefold()
            jobs = [job for job in jobs if job.status.casefold() == wanted]
        newest_first = jobs[::-1]
        page = [job.to_api() for job in newest_first[offset : offset + limit]]
        return JSONResponse({"data": page, "offset": offset, "limit": limit, "totalCount": len(jobs)})

    @api.get("/api/jobs/beta/jobs/{job_id}", name="get_job")
    async def get_job(job_id: str) -> JSONResponse:
        return JSONResponse(_job_or_404(context, job_id).to_api())

    @api.get("/api/jobs/beta/jobs/{job_id}/logs", name="get_job_logs")
    async def get_job_logs(job_id: str, request: Request) -> Response:
        job = _job_or_404(context, job_id)
        path = runner.log_path(job.id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # a Pending job has no log yet: same answers as an empty one
            size = 0
        range_header = request.headers.get("range")
        match = _BYTE_RANGE.fullmatch(range_header) if range_header and not context.ignore_range else None
        if match is None:
            if size == 0:
                return Response(b"", media_type=_LOG_MEDIA_TYPE, headers={"Accept-Ranges": "bytes"})
            return _file_response(str(path), 0, size, 200, {})
        start = int(match.group(1))
        if start >= size:
            return Response(
                b"", status_code=416, media_type=_LOG_MEDIA_TYPE, headers={"Content-Range": f"bytes */{size}"}
            )
        last = size - 1 if not match.group(2) else min(int(match.group(2)), size - 1)
        if last < start:  # bytes=N-M with M < N is not a satisfiable range: ignore it, like RFC 9110 says
            return _file_response(str(path), 0, size, 200, {})
        headers = {"Content-Range": f"bytes {start}-{last}/{size}"}
        return _file_response(str(path), start, last - start + 1, 206, headers)

    @api.post("/api/jobs/v1/jobs", name="start_job")
    async def start_job(request: Request) -> JSONResponse:
        body = await _json_object(request)
        project_id = _required_text(body, "projectId")
        command = _required_text(body, "commandToRun")
        requested_tier = _required_text(body, "hardwareTierId")
        is_direct = _optional_flag(body, "isDirectHardwareTierId")
        commit_id = _optional_text(body, "commitId")
        title = _optional_text(body, "title")
        environment_id = _optional_text(body, "environmentId") or DEFAULT_ENVIRONMENT_ID
        project = store.project(project_id)
        if project is None:
            raise ApiError(404, f"Project '{project_id}' not found")
        tier = settings.resolve_hardware_tier(requested_tier, is_direct)
        if tier is None:
            available = ", ".join(known.id for known in settings.hardware_tiers)
            raise ApiError(400, f"Hardware tier '{requested_tier}' does not exist. Available: {available}")
        if commit_id is None:
            commit_id = project.head_commit_id
        elif not store.commit_belongs_to(commit_id, project_id):
            raise ApiError(400, f"Unknown commitId '{commit_id}' for project {project_id}")
        job_id = new_job_id()
        while store.job(job_id) is not None:
            job_id = new_job_id()
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
        )
        store.add_job(job)
        runner.submit(job)
        return JSONResponse(job.to_api())

    @api.post("/v4/jobs/stop", name="stop_job")
    async def stop_job(request: Request) -> JSONResponse:
        body = await _json_object(request)
        job_id = _required_text(body, "jobId")
        project_id = _required_text(body, "projectId")
        job = store.job(job_id)
        if job is None:
            raise ApiError(404, f"Job '{job_id}' not found")
        if job.project_id != project_id:
            raise ApiError(400, f"Job '{job_id}' does not belong to project {project_id}")
        await runner.stop(job)
        return JSONResponse(job.to_api())

    @api.get("/v4/gateway/projects/findProjectByOwnerAndName", name="find_project")
    async def find_project(request: Request) -> JSONResponse:
        owner = _required_query(request, "ownerName")
        name = _required_query(request, "projectName")
        project = store.find_project(owner, name)
        if project is None:
            raise ApiError(404, f"Project '{owner}/{name}' not found")
        return JSONResponse({"id": project.id, "name": project.name, "ownerUsername": project.owner})


def _add_tag_and_goal_routes(api: FastAPI, context: EmulatorContext) -> None:
    store = context.store

    @api.post("/api/jobs/v1/jobs/{job_id}/tags", name="add_tag")
    async def add_tag(job_id: str, request: Request) -> JSONResponse:
        job = _job_or_404(context, job_id)
        name = _required_text(await _json_object(request), "name")
        for tag in job.tags:
            if tag.name == name:
                return JSONResponse(tag.to_api())
        tag = Tag(new_tag_id(), name)
        store.add_tag(job, tag)
        return JSONResponse(tag.to_api())

    @api.delete("/api/jobs/v1/jobs/{job_id}/tags/{tag_id}", name="remove_tag")
    async def remove_tag(job_id: str, tag_id: str) -> JSONResponse:
        job = _job_or_404(context, job_id)
        decoded_tag_id = unquote(tag_id)
        if not store.remove_tag(job, decoded_tag_id):
            raise ApiError(404, f"Tag '{decoded_tag_id}' not found on job '{job.id}'")
        return JSONResponse({})

    @api.get("/api/jobs/v1/goals", name="list_goals")
    async def list_goals(request: Request) -> JSONResponse:
        job_id = request.query_params.get("jobId") or None
        return JSONResponse([link.to_api() for link in store.goal_links(job_id)])

    @api.post("/api/jobs/v1/goals", name="link_goal")
    async def link_goal(request: Request) -> JSONResponse:
        body = await _json_object(request)
        job_id = _required_text(body, "jobId")
        goal_id = _required_text(body, "goalId")
        if store.job(job_id) is None:
            raise ApiError(404, f"Job '{job_id}' not found")
        return JSONResponse(store.link_goal(job_id, goal_id).to_api())

    @api.delete("/api/jobs/v1/goals/{goal_id}", name="unlink_goal")
    async def unlink_goal(goal_id: str, request: Request) -> JSONResponse:
        decoded_goal_id = unquote(goal_id)
        job_id = request.query_params.get("jobId") or None
        if store.unlink_goal(decoded_goal_id, job_id) == 0:
            suffix = f" to job '{job_id}'" if job_id else ""
            raise ApiError(404, f"Goal '{decoded_goal_id}' is not linked{suffix}")
        return JSONResponse({})


def _add_admin_routes(api: FastAPI, context: EmulatorContext) -> None:
    """Routes under ``/_emulator``: never faulted and never written to the request log."""
    store = context.store
    runner = context.runner

    @api.get("/_emulator/info", name="admin_info")
    async def info() -> JSONResponse:
        return JSONResponse(
            {
                "url": context.settings.base_url,
                "proxyUrl": context.settings.proxy_url,
                "pid": os.getpid(),
                "dataDir": str(context.data_dir),
            }
        )

    @api.get("/_emulator/faults", name="admin_get_faults")
    async def get_faults() -> JSONResponse:
        return JSONResponse(context.faults.config)

    @api.put("/_emulator/faults", name="admin_put_faults")
    async def put_faults(request: Request) -> JSONResponse:
        config = await _json_object(request)
        try:
            context.faults = FaultInjector.from_config(config)
        except FaultConfigError as exc:
            raise ApiError(400, f"Invalid fault configuration: {exc}") from None
        return JSONResponse(context.faults.config)

    @api.delete("/_emulator/faults", name="admin_delete_faults")
    async def delete_faults() -> JSONResponse:
        context.faults = FaultInjector.from_config({})
        return JSONResponse({})

    @api.put("/_emulator/keys", name="admin_put_keys")
    async def put_keys(request: Request) -> JSONResponse:
        keys = (await _json_object(request)).get("keys")
        if not isinstance(keys, list) or not keys or not all(isinstance(k, str) and k for k in keys):
            raise ApiError(400, "'keys' must be a non-empty list of non-empty strings")
        context.replace_keys(keys)
        return JSONResponse({"count": len(keys)})

    @api.get("/_emulator/requests", name="admin_get_requests")
    async def get_requests() -> JSONResponse:
        return JSONResponse({"requests": context.request_log.entries()})

    @api.delete("/_emulator/requests", name="admin_delete_requests")
    async def delete_requests() -> JSONResponse:
        context.request_log.clear()
        return JSONResponse({})

    @api.get("/_emulator/jobs", name="admin_jobs")
    async def all_jobs() -> JSONResponse:
        answer = []
        for job in store.all_jobs():
            entry = job.to_api()
            entry["pid"] = runner.pid_of(job.id) or (None if job.is_terminal else job.pid)
            entry["pidStartTime"] = job.pid_start_time
            entry["workingDir"] = str(runner.working_dir(job.id))
            answer.append(entry)
        return JSONResponse(answer)

    @api.post("/_emulator/jobs/stop-all", name="admin_stop_all")
    async def stop_all() -> JSONResponse:
        doomed = [job for job in store.all_jobs() if not job.is_terminal]
        await asyncio.gather(*(runner.stop(job) for job in doomed))
        return JSONResponse({"stopped": [job.id for job in doomed]})

    @api.get("/_emulator/projects", name="admin_projects")
    async def projects() -> JSONResponse:
        return JSONResponse([project.to_api() for project in store.projects()])
