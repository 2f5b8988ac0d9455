"""Every Domino endpoint the provider uses, described once.

Each builder returns an :class:`ApiCall`: the method, the path with every user-supplied segment
percent-encoded, query parameters, JSON body, and the parser that turns the server's answer into a typed
model. The sync and async transports only send calls and hand back a :class:`RawResponse`; they never
know which endpoint they are talking to, so a fix here is a fix for both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_domino.api.errors import DominoUnexpectedResponseError, trim_message
from airflow_provider_domino.api.models import GoalLink, Job, JobPage, LogChunk, Project, Tag

T = TypeVar("T")


@dataclass(frozen=True)
class RawResponse:
    """What a transport hands back: status, headers (lower-case names) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One request to Domino and how to read its answer.

    :param endpoint: stable name used in logs, fault injection and metrics (``get_job``...).
    :param retry_safe: whether resending after an ambiguous failure (the request may have been
        processed) is harmless. Starting a job is not; the hook recovers it with an idempotency key.
    :param ok_statuses: statuses that are not errors for this call (416 on a log tail means "nothing new").
    """

    endpoint: str
    method: str
    path: str
    parse: Callable[[ApiCall[T], RawResponse], T] = field(repr=False, compare=False)
    params: Mapping[str, str] | None = None
    json_body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    retry_safe: bool = True
    ok_statuses: frozenset[int] = frozenset()

    def read(self, response: RawResponse) -> T:
        """Parse ``response`` with this call's parser."""
        return self.parse(self, response)


def segment(value: object) -> str:
    """Percent-encode one path segment: ``/``, ``?``, ``#``, ``%``, ``..``, spaces, non-ASCII included."""
    text = str(value)
    encoded = quote(text, safe="")
    # A lone "." or ".." would be collapsed by URL normalisation in proxies; encode the dots too.
    if encoded in {".", ".."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


# --- parsing helpers -------------------------------------------------------------------------


def parse_json(call: ApiCall[Any], response: RawResponse) -> Any:
    """Decode the JSON body, or raise a clear error when a success status carries something else."""
    try:
        return json.loads(response.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        content_type = response.header("content-type") or "no content type"
        snippet = trim_message(response.body[:300].decode("utf-8", "replace"), 120)
        raise DominoUnexpectedResponseError(
            call.method,
            call.path,
            response.status,
            f"expected JSON but got {content_type}: {snippet!r}",
        ) from None


def _expect(call: ApiCall[Any], response: RawResponse, payload: Any, kind: type, what: str) -> Any:
    if not isinstance(payload, kind):
        raise DominoUnexpectedResponseError(
            call.method, call.path, response.status, f"expected {what}, got {type(payload).__name__}"
        )
    return payload


def _parse_job(call: ApiCall[Any], response: RawResponse) -> Job:
    payload = _expect(call, response, parse_json(call, response), dict, "a job object")
    try:
        return Job.from_api(payload)
    except ValueError as err:
        raise DominoUnexpectedResponseError(call.method, call.path, response.status, str(err)) from None


def _parse_job_page(call: ApiCall[Any], response: RawResponse) -> JobPage:
    payload = _expect(call, response, parse_json(call, response), dict, "a page of jobs")
    items = _expect(call, response, payload.get("data", []), list, "a list under 'data'")
    jobs = tuple(Job.from_api(item) for item in items if isinstance(item, dict) and item.get("id"))
    offset = int(payload.get("offset") or 0)
    return JobPage(
        jobs=jobs,
        offset=offset,
        limit=int(payload.get("limit") or len(jobs)),
        total_count=int(payload.get("totalCount", offset + len(jobs))),
    )


def _parse_text(call: ApiCall[Any], response: RawResponse) -> str:
    return response.body.decode("utf-8", "replace")


def _parse_nothing(call: ApiCall[Any], response: RawResponse) -> None:
    return None


def _parse_tag(call: ApiCall[Any], response: RawResponse) -> Tag:
    return Tag.from_api(_expect(call, response, parse_json(call, response), dict, "a tag object"))


def _parse_goals(call: ApiCall[Any], response: RawResponse) -> list[GoalLink]:
    payload = parse_json(call, response)
    if isinstance(payload, dict):  # some deployments wrap lists in {"data": [...]}
        payload = payload.get("data", [])
    items = _expect(call, response, payload, list, "a list of goal links")
    return [GoalLink.from_api(item) for item in items if isinstance(item, dict)]


def _parse_goal(call: ApiCall[Any], response: RawResponse) -> GoalLink:
    return GoalLink.from_api(_expect(call, response, parse_json(call, response), dict, "a goal link"))


def _parse_project(call: ApiCall[Any], response: RawResponse) -> Project:
    payload = _expect(call, response, parse_json(call, response), dict, "a project object")
    project = Project.from_api(payload)
    if not project.id:
        raise DominoUnexpectedResponseError(call.method, call.path, response.status, "project has no 'id'")
    return project


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-\d+/(\d+|\*)")


def log_tail_parser(offset: int) -> Callable[[ApiCall[LogChunk], RawResponse], LogChunk]:
    """Read a log answer from ``offset`` on, whether or not the server honoured ``Range``.

    206 carries exactly the new bytes; 416 means there is nothing past ``offset`` yet; a 200 is the whole
    log from a server that ignores ``Range``, so the bytes before ``offset`` are sliced off here.
    """

    def parse(call: ApiCall[LogChunk], response: RawResponse) -> LogChunk:
        if response.status == 416:
            return LogChunk(b"", offset)
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.header("content-range") or "")
            start = int(match.group(1)) if match else offset
            data = response.body if start == offset else response.body[max(0, offset - start) :]
            return LogChunk(data, offset)
        return LogChunk(response.body[offset:], offset)

    return parse


# --- the endpoints ---------------------------------------------------------------------------

JOBS_BETA = "/api/jobs/beta/jobs"
JOBS_V1 = "/api/jobs/v1/jobs"
GOALS_V1 = "/api/jobs/v1/goals"


def list_jobs(
    project_id: str, *, status: str | None = None, offset: int = 0, limit: int = 50
) -> ApiCall[JobPage]:
    """``GET /api/jobs/beta/jobs``: one page of a project's jobs, newest first."""
    params = {"projectId": project_id, "offset": str(offset), "limit": str(limit)}
    if status:
        params["status"] = status
    return ApiCall("list_jobs", "GET", JOBS_BETA, _parse_job_page, params=params)


def get_job(job_id: str) -> ApiCall[Job]:
    """``GET /api/jobs/beta/jobs/{jobId}``: details and status of one job."""
    return ApiCall("get_job", "GET", f"{JOBS_BETA}/{segment(job_id)}", _parse_job)


def get_job_logs(job_id: str) -> ApiCall[str]:
    """``GET /api/jobs/beta/jobs/{jobId}/logs``: the whole log as text."""
    return ApiCall("get_job_logs", "GET", f"{JOBS_BETA}/{segment(job_id)}/logs", _parse_text)


def get_job_log_tail(job_id: str, offset: int, max_bytes: int | None = None) -> ApiCall[LogChunk]:
    """The log from byte ``offset`` on, at most ``max_bytes``; ``Range`` makes only new bytes travel.

    A server that ignores ``Range`` sends the whole log; it is sliced here and not capped, since the
    bytes have already travelled.
    """
    if max_bytes is not None:
        headers = {"Range": f"bytes={offset}-{offset + max_bytes - 1}"}
    else:
        headers = {"Range": f"bytes={offset}-"} if offset > 0 else {}
    return ApiCall(
        "get_job_logs",
        "GET",
        f"{JOBS_BETA}/{segment(job_id)}/logs",
        log_tail_parser(offset),
        headers=headers,
        ok_statuses=frozenset({416}),
    )


def start_job(
    *,
    project_id: str,
    command: str,
    hardware_tier_id: str,
    is_direct_hardware_tier_id: bool = False,
    environment_id: str | None = None,
    commit_id: str | None = None,
    title: str | None = None,
) -> ApiCall[Job]:
    """``POST /api/jobs/v1/jobs``: start a job. Not retry-safe: a resend could start a second job."""
    body: dict[str, Any] = {
        "projectId": project_id,
        "commandToRun": command,
        "hardwareTierId": hardware_tier_id,
        "isDirectHardwareTierId": is_direct_hardware_tier_id,
    }
    optional = {"environmentId": environment_id, "commitId": commit_id, "title": title}
    body.update({key: value for key, value in optional.items() if value})
    return ApiCall("start_job", "POST", JOBS_V1, _parse_job, json_body=body, retry_safe=False)


def stop_job(project_id: str, job_id: str, *, commit_results: bool = True) -> ApiCall[Job | None]:
    """``POST /v4/jobs/stop`` (what python-domino sends for ``runs_stop``). Stopping twice is harmless."""

    def parse(call: ApiCall[Job | None], response: RawResponse) -> Job | None:
        if not response.body.strip():
            return None
        payload = parse_json(call, response)
        return Job.from_api(payload) if isinstance(payload, dict) and payload.get("id") else None

    body = {"projectId": project_id, "jobId": job_id, "commitResults": commit_results}
    return ApiCall("stop_job", "POST", "/v4/jobs/stop", parse, json_body=body)


def add_tag(job_id: str, name: str) -> ApiCall[Tag]:
    """``POST /api/jobs/v1/jobs/{jobId}/tags``."""
    return ApiCall(
        "add_tag", "POST", f"{JOBS_V1}/{segment(job_id)}/tags", _parse_tag, json_body={"name": name}
    )


def remove_tag(job_id: str, tag_id: str) -> ApiCall[None]:
    """``DELETE /api/jobs/v1/jobs/{jobId}/tags/{tagId}``."""
    path = f"{JOBS_V1}/{segment(job_id)}/tags/{segment(tag_id)}"
    return ApiCall("remove_tag", "DELETE", path, _parse_nothing)


def list_goals(job_id: str | None = None) -> ApiCall[list[GoalLink]]:
    """``GET /api/jobs/v1/goals``: goal links, optionally only those of one job."""
    return ApiCall("list_goals", "GET", GOALS_V1, _parse_goals, params={"jobId": job_id} if job_id else None)


def link_goal(job_id: str, goal_id: str) -> ApiCall[GoalLink]:
    """``POST /api/jobs/v1/goals``."""
    body = {"jobId": job_id, "goalId": goal_id}
    return ApiCall("link_goal", "POST", GOALS_V1, _parse_goal, json_body=body)


def unlink_goal(goal_id: str, job_id: str | None = None) -> ApiCall[None]:
    """``DELETE /api/jobs/v1/goals/{goalId}`` (only that job's link when ``job_id`` is given)."""
    params = {"jobId": job_id} if job_id else None
    return ApiCall("unlink_goal", "DELETE", f"{GOALS_V1}/{segment(goal_id)}", _parse_nothing, params=params)


def find_project(owner: str, name: str) -> ApiCall[Project]:
    """``GET /v4/gateway/projects/findProjectByOwnerAndName``: resolve ``owner/name`` to a project."""
    params = {"ownerName": owner, "projectName": name}
    return ApiCall(
        "find_project", "GET", "/v4/gateway/projects/findProjectByOwnerAndName", _parse_project, params=params
    )
