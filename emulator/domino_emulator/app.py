"""The emulator's ASGI application: the Domino routes, the admin routes, and error answers.

The Domino routes live in ``routes_jobs``, ``routes_logs`` and ``routes_tags_goals``; each
route name doubles as the endpoint name used by fault rules and the request log. Errors are
answered in the shape Domino uses for the route (see ``shapes.error_body``), never in
FastAPI's own ``{"detail": ...}`` or 422 shapes.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from domino_emulator import shapes
from domino_emulator.faults import FaultConfigError, FaultInjector
from domino_emulator.middleware import EmulatorMiddleware
from domino_emulator.parsing import ApiError, job_or_404, json_object
from domino_emulator.routes_jobs import add_job_routes
from domino_emulator.routes_logs import add_log_routes
from domino_emulator.routes_tags_goals import add_tag_and_goal_routes

if TYPE_CHECKING:
    from domino_emulator.context import EmulatorContext
    from domino_emulator.models import Job


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
    flat = context.settings.flat_shapes

    def error(
        request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> JSONResponse:
        body = shapes.error_body(request.url.path, status, message, flat=flat)
        return JSONResponse(body, status_code=status, headers=headers)

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error(request, exc.status, exc.message)

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(request, exc.status_code, str(exc.detail), exc.headers)

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(request, 400, f"Invalid request: {exc.errors()}")

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error(request, 500, f"Internal emulator error: {type(exc).__name__}")

    add_job_routes(api, context)
    add_log_routes(api, context)
    add_tag_and_goal_routes(api, context)
    _add_admin_routes(api, context)
    return EmulatorMiddleware(api, context)


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
        config = await json_object(request)
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
        keys = (await json_object(request)).get("keys")
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

    def admin_view(job: Job) -> dict[str, object]:
        entry: dict[str, object] = shapes.flat_job(job)
        entry["pid"] = runner.pid_of(job.id) or (None if job.is_terminal else job.pid)
        entry["pidStartTime"] = job.pid_start_time
        entry["workingDir"] = str(runner.working_dir(job.id))
        return entry

    @api.get("/_emulator/jobs", name="admin_jobs")
    async def all_jobs() -> JSONResponse:
        return JSONResponse([admin_view(job) for job in store.all_jobs()])

    @api.get("/_emulator/jobs/{job_id}", name="admin_job")
    async def one_job(job_id: str) -> JSONResponse:
        return JSONResponse(admin_view(job_or_404(context, job_id)))

    @api.get("/_emulator/jobs/{job_id}/log", name="admin_job_log")
    async def one_job_log(job_id: str) -> PlainTextResponse:
        job = job_or_404(context, job_id)
        path = runner.log_path(job.id) if runner.job_dir(job.id).is_dir() else None
        text = path.read_text(errors="replace") if path is not None and path.exists() else ""
        return PlainTextResponse(text)

    @api.post("/_emulator/jobs/stop-all", name="admin_stop_all")
    async def stop_all() -> JSONResponse:
        doomed = [job for job in store.all_jobs() if not job.is_terminal]
        await asyncio.gather(*(runner.stop(job) for job in doomed))
        return JSONResponse({"stopped": [job.id for job in doomed]})

    @api.get("/_emulator/projects", name="admin_projects")
    async def projects() -> JSONResponse:
        return JSONResponse([project.to_admin() for project in store.projects()])

    @api.get("/_emulator/settings", name="admin_get_settings")
    async def get_settings() -> JSONResponse:
        return JSONResponse(context.runtime_settings())

    @api.patch("/_emulator/settings", name="admin_patch_settings")
    async def patch_settings(request: Request) -> JSONResponse:
        try:
            context.update_runtime_settings(await json_object(request))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        return JSONResponse(context.runtime_settings())
