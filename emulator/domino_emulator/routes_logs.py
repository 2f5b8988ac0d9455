"""``GET /api/jobs/beta/jobs/{jobId}/logs``: JSON pages by time, or (``--flat-shapes``) bytes by Range.

Published mode follows ``LogsEnvelopeV1``. ``latestTimeNano`` is *inclusive*: entries stamped
exactly at the cursor come again, and many entries share a timestamp (see ``joblogs``), so
a client must count what it already showed. ``limit`` is capped at ``--log-page-cap`` (1,000
by default, well under Domino's 10,000) so every client pages. Without ``logType`` only the
setup output (``prepareOutput``) is returned, as a real server may do.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request  # noqa: TC002 - FastAPI reads the annotations at run time
from fastapi.responses import JSONResponse, Response, StreamingResponse

from domino_emulator import shapes
from domino_emulator.joblogs import COMPLETE, LOG_TYPES, PREPARE_OUTPUT, STREAMS
from domino_emulator.models import iso_from_ms
from domino_emulator.parsing import ApiError, choice_query, int_query, job_or_404

if TYPE_CHECKING:
    from domino_emulator.context import EmulatorContext

#: Domino refuses more than this many lines per call.
MAX_LOG_LIMIT = 10_000
_LOG_CHUNK = 256 * 1024
_LOG_MEDIA_TYPE = "text/plain; charset=utf-8"
#: ``bytes=N-`` (to the end) or ``bytes=N-M`` (inclusive), the forms clients tailing a log send.
_BYTE_RANGE = re.compile(r"\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*")
#: ``bytes=-N``: the last ``N`` bytes (RFC 9110 suffix range; the provider's failure-message tail).
_SUFFIX_RANGE = re.compile(r"\s*bytes\s*=\s*-\s*(\d+)\s*")
_DIGITS = re.compile(r"\d{1,19}")


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


def add_log_routes(api: FastAPI, context: EmulatorContext) -> None:
    """Register the logs route in the mode the emulator was started in."""
    runner = context.runner

    async def text_logs(job_id: str, request: Request) -> Response:
        job = job_or_404(context, job_id)
        path = runner.log_path(job.id)
        try:
            size = path.stat().st_size
        except FileNotFoundError:  # a Pending job has no log yet: same answers as an empty one
            size = 0
        range_header = request.headers.get("range")
        match = _BYTE_RANGE.fullmatch(range_header) if range_header and not context.ignore_range else None
        suffix = _SUFFIX_RANGE.fullmatch(range_header) if range_header and not context.ignore_range else None
        if suffix is not None and int(suffix.group(1)) > 0:
            if size == 0:
                return Response(
                    b"", status_code=416, media_type=_LOG_MEDIA_TYPE, headers={"Content-Range": "bytes */0"}
                )
            start = max(0, size - int(suffix.group(1)))
            headers = {"Content-Range": f"bytes {start}-{size - 1}/{size}"}
            return _file_response(str(path), start, size - start, 206, headers)
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

    async def json_logs(job_id: str, request: Request) -> JSONResponse:
        job = job_or_404(context, job_id)
        log_type = (
            choice_query(request, "logType", LOG_TYPES, PREPARE_OUTPUT, any_case=True) or PREPARE_OUTPUT
        )
        limit = int_query(request, "limit", MAX_LOG_LIMIT, minimum=1)
        if limit > MAX_LOG_LIMIT:
            raise ApiError(400, f"Query parameter 'limit' must be at most {MAX_LOG_LIMIT}, got {limit}")
        raw_cursor = request.query_params.get("latestTimeNano") or "0"
        if not _DIGITS.fullmatch(raw_cursor):
            raise ApiError(
                400,
                f"Query parameter 'latestTimeNano' must be epoch nanoseconds (digits), got '{raw_cursor}'",
            )
        since = int(raw_cursor)
        served_limit = min(limit, context.settings.log_page_cap)
        log = runner.job_log(job.id) if runner.job_dir(job.id).is_dir() else None
        streams = STREAMS if log_type == COMPLETE else (log_type,)
        if log is None:
            entries, reached_end, caught_up = [], True, True
        else:
            page = log.page(since, streams, served_limit)
            entries, reached_end, caught_up = page.entries, page.reached_end, log.caught_up
        cursor = entries[-1].time_ns if entries else since
        return JSONResponse(
            {
                "logs": {
                    "logContent": [
                        {
                            "log": entry.text,
                            "logType": entry.stream,
                            "size": len(entry.text.encode()),
                            "timestamp": iso_from_ms(entry.time_ns // 1_000_000),
                        }
                        for entry in entries
                    ],
                    "isComplete": job.is_terminal and caught_up and reached_end,
                },
                "metadata": {
                    **shapes.metadata(),
                    "pagination": {"latestTimeNano": str(cursor), "limit": served_limit},
                },
            }
        )

    api.add_api_route(
        "/api/jobs/beta/jobs/{job_id}/logs",
        text_logs if context.settings.flat_shapes else json_logs,
        methods=["GET"],
        name="get_job_logs",
    )
