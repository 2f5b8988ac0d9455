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
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_domino.api.errors import DominoUnexpectedResponseError, trim_message
from airflow_provider_domino.api.models import (
    GoalLink,
    HardwareTier,
    Job,
    JobPage,
    LogChunk,
    LogEntryColumns,
    LogPage,
    Project,
    Tag,
    unwrap,
)

if TYPE_CHECKING:
    from airflow_provider_domino.api.job_spec import JobOptions

T = TypeVar("T")


@dataclass(frozen=True)
class RawResponse:
    """What a transport hands back: status, headers and the body bytes.

    ``headers`` is the client's own case-insensitive mapping (no copy per response); a plain ``dict``
    (tests, fakes) must use lower-case names.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or ``None``."""
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


def parse_json(
    call: ApiCall[Any], response: RawResponse, object_hook: Callable[[dict[str, Any]], Any] | None = None
) -> Any:
    """Decode the JSON body, or raise a clear error when a success status carries something else.

    :param object_hook: ``json.loads``' hook, applied to every object as it is decoded.
    """
    try:
        return json.loads(response.body.decode("utf-8"), object_hook=object_hook)
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


def _dict_at(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _int_or_none(value: Any) -> int | None:
    try:
        return None if value is None or isinstance(value, bool) else int(value)
    except (TypeError, ValueError):
        return None


def _parse_job_page(call: ApiCall[Any], response: RawResponse) -> JobPage:
    """``{jobs, metadata}`` (published) or ``{data, offset, limit, totalCount}`` (flat).

    The spec's ``PaginatedMetadataV1`` puts ``offset``/``limit``/``totalCount`` flat in ``metadata`` and
    also requires a ``pagination`` object, so all three places are read.
    """
    payload = _expect(call, response, parse_json(call, response), dict, "a page of jobs")
    key = "jobs" if "jobs" in payload else "data"
    items = _expect(call, response, payload.get(key) or [], list, f"a list under '{key}'")
    jobs = tuple(Job.from_api(item) for item in items if isinstance(item, dict) and item.get("id"))
    metadata = _dict_at(payload, "metadata")
    pagination = _dict_at(metadata, "pagination")

    def number(name: str) -> int | None:
        for source in (pagination, metadata, payload):
            value = _int_or_none(source.get(name))
            if value is not None:
                return value
        return None

    offset = number("offset") or 0
    limit = number("limit") or len(jobs)
    total = number("totalCount")
    if total is None:  # unknown: a full page may have a successor
        total = offset + len(jobs) + (1 if jobs and len(jobs) >= limit else 0)
    return JobPage(jobs=jobs, offset=offset, limit=limit, total_count=total)


def _parse_nothing(call: ApiCall[Any], response: RawResponse) -> None:
    return None


def _parse_tag(call: ApiCall[Any], response: RawResponse) -> Tag:
    return Tag.from_api(_expect(call, response, parse_json(call, response), dict, "a tag object"))


def _parse_goals(call: ApiCall[Any], response: RawResponse) -> list[GoalLink]:
    """``{goals: [...], metadata}`` (published), a bare list, or ``{data: [...]}``."""
    payload = parse_json(call, response)
    if isinstance(payload, dict):
        payload = payload.get("goals", payload.get("data", []))
    items = _expect(call, response, payload, list, "a list of goal links")
    return [GoalLink.from_api(item) for item in items if isinstance(item, dict)]


def _parse_goal(call: ApiCall[Any], response: RawResponse) -> GoalLink:
    return GoalLink.from_api(_expect(call, response, parse_json(call, response), dict, "a goal link"))


def _parse_project(call: ApiCall[Any], response: RawResponse) -> Project:
    payload = _expect(call, response, parse_json(call, response), dict, "a project object")
    project = Project.from_api(_mapping_or(unwrap(payload, "project"), payload))
    if not project.id:
        raise DominoUnexpectedResponseError(call.method, call.path, response.status, "project has no 'id'")
    return project


def _mapping_or(value: Any, default: dict[str, Any]) -> Any:
    return value if isinstance(value, dict) else default


def _parse_hardware_tiers(call: ApiCall[Any], response: RawResponse) -> list[HardwareTier]:
    """``[{hardwareTier: {id, name}, capacity, ...}]`` (v4), or that list under ``hardwareTiers``/``data``."""
    payload = parse_json(call, response)
    if isinstance(payload, dict):
        payload = payload.get("hardwareTiers", payload.get("data", []))
    items = _expect(call, response, payload, list, "a list of hardware tiers")
    tiers = [HardwareTier.from_api(item) for item in items if isinstance(item, dict)]
    return [tier for tier in tiers if tier.id]


def _is_json(response: RawResponse) -> bool:
    content_type = (response.header("content-type") or "").lower()
    if "json" in content_type:
        return True
    if content_type:
        return False
    return response.body.lstrip()[:1] == b"{"


def _parse_log_page(call: ApiCall[Any], response: RawResponse) -> LogPage | LogChunk:
    """A page of the JSON log, or (a ``text/plain`` answer, the simplified form) the whole text log.

    JSON: ``{logs: {logContent: [{log, logType, size, timestamp}], isComplete, problem?},
    metadata: {pagination: {latestTimeNano, limit}}}``.
    """
    if not _is_json(response):
        return LogChunk(response.body, 0)
    columns = LogEntryColumns()  # entries decoded straight into columns (see LogEntryColumns)
    payload = _expect(call, response, parse_json(call, response, columns.hook), dict, "a log object")
    logs = payload.get("logs") if isinstance(payload.get("logs"), dict) else payload
    items = _expect(call, response, logs.get("logContent") or [], list, "a list under 'logs.logContent'")
    metadata = _dict_at(payload, "metadata")
    pagination = _dict_at(metadata, "pagination")
    complete = logs.get("isComplete")
    problem = logs.get("problem")
    return LogPage(
        entries=columns.entries(items),
        limit=_int_or_none(pagination.get("limit")),
        latest_time_nano=_int_or_none(pagination.get("latestTimeNano")),
        is_complete=complete if isinstance(complete, bool) else None,
        problem=problem if isinstance(problem, str) and problem else None,
    )


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

#: ``statusFilter`` values the list endpoint accepts.
STATUS_FILTERS = frozenset({"all", "queued", "running", "completed", "archived", "active"})
#: ``logType`` values the log endpoint accepts (``complete`` is every type at once).
LOG_TYPES = frozenset({"stdOut", "stdErr", "prepareOutput", "complete"})
#: Most log entries the log endpoint returns in one call.
MAX_LOG_LIMIT = 10_000


def list_jobs(
    project_id: str, *, status_filter: str | None = None, offset: int = 0, limit: int = 50
) -> ApiCall[JobPage]:
    """``GET /api/jobs/beta/jobs``: one page of a project's jobs, newest (highest ``number``) first.

    :param status_filter: one of :data:`STATUS_FILTERS` (``ValueError`` otherwise).
    """
    params = {
        "projectId": project_id,
        "offset": str(offset),
        "limit": str(limit),
        "sortBy": "number",
        "ascending": "false",
    }
    if status_filter:
        if status_filter not in STATUS_FILTERS:
            allowed = ", ".join(sorted(STATUS_FILTERS))
            raise ValueError(f"status filter {status_filter!r} is not one of: {allowed}")
        params["statusFilter"] = status_filter
    return ApiCall("list_jobs", "GET", JOBS_BETA, _parse_job_page, params=params)


def get_job(job_id: str) -> ApiCall[Job]:
    """``GET /api/jobs/beta/jobs/{jobId}``: details and status of one job (``{job, metadata}``)."""
    return ApiCall("get_job", "GET", f"{JOBS_BETA}/{segment(job_id)}", _parse_job)


def get_job_log_page(
    job_id: str, *, log_type: str, limit: int = MAX_LOG_LIMIT, latest_time_nano: int | None = None
) -> ApiCall[LogPage | LogChunk]:
    """``GET /api/jobs/beta/jobs/{jobId}/logs``: one page of one log stream, from ``latest_time_nano`` on.

    ``logType`` is always sent: without it a server may answer with the setup output only. A server
    that answers ``text/plain`` (the simplified form) gets its whole text log back as a
    :class:`LogChunk` from byte 0; callers then switch to :func:`get_job_log_tail`.
    """
    if log_type not in LOG_TYPES:
        raise ValueError(f"log type {log_type!r} is not one of: {', '.join(sorted(LOG_TYPES))}")
    params = {"logType": log_type, "limit": str(max(1, min(int(limit), MAX_LOG_LIMIT)))}
    if latest_time_nano is not None:
        params["latestTimeNano"] = str(latest_time_nano)
    return ApiCall(
        "get_job_logs", "GET", f"{JOBS_BETA}/{segment(job_id)}/logs", _parse_log_page, params=params
    )


def with_log_suffix_range(call: ApiCall[T], max_bytes: int) -> ApiCall[T]:
    """``call`` (a log page request) also asking a ``text/plain`` server for only the last ``max_bytes``.

    A suffix ``Range`` (``bytes=-N``, RFC 9110): a text server answers 206 with the log's end, or 416
    when the log is empty; a JSON server ignores it. Used for the tail of a failure message.
    """
    return replace(
        call,
        headers={**call.headers, "Range": f"bytes=-{max_bytes}"},
        ok_statuses=call.ok_statuses | {416},
    )


def get_job_log_tail(job_id: str, offset: int, max_bytes: int | None = None) -> ApiCall[LogChunk]:
    """The text log from byte ``offset`` on, at most ``max_bytes`` (servers answering ``text/plain``).

    ``Range`` makes only new bytes travel. A server that ignores ``Range`` sends the whole log; it is
    sliced here and not capped, since the bytes have already travelled.
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
    hardware_tier: str | None = None,
    environment_id: str | None = None,
    commit_id: str | None = None,
    title: str | None = None,
    options: JobOptions | None = None,
) -> ApiCall[Job]:
    """``POST /api/jobs/v1/jobs`` with a ``NewJobV1`` body. Not retry-safe: a resend could start a second job.

    Only fields the spec lists are sent, empty ones left out. ``hardware_tier`` is a tier *id*: names
    are resolved by the hook first (:meth:`DominoHook.resolve_hardware_tier`), and so are the tiers
    in ``options.compute_cluster``. ``options`` carries the other ``NewJobV1`` fields (compute
    cluster, git ref, environment revision, volumes, capacity type, snapshots), checked already.
    """
    body: dict[str, Any] = {"projectId": project_id, "runCommand": command}
    optional = {
        "hardwareTier": hardware_tier,
        "environmentId": environment_id,
        "commitId": commit_id,
        "title": title,
    }
    body.update({key: value for key, value in optional.items() if value})
    if options is not None:
        body.update(options.to_body())
    return ApiCall("start_job", "POST", JOBS_V1, _parse_job, json_body=body, retry_safe=False)


def stop_job(
    job_id: str, project_id: str | None = None, *, commit_results: bool = True
) -> ApiCall[Job | None]:
    """``POST /v4/jobs/stop`` ``{jobId, commitResults}``, plus ``projectId`` when known.

    Stopping twice is harmless. The answer is not needed; a body that is not a job is ignored.
    """

    def parse(call: ApiCall[Job | None], response: RawResponse) -> Job | None:
        if not response.body.strip():
            return None
        try:
            payload = json.loads(response.body.decode("utf-8"))
            return Job.from_api(payload) if isinstance(payload, dict) else None
        except ValueError:  # the stop route's answer is not needed; anything unreadable is ignored
            return None

    body: dict[str, Any] = {"jobId": job_id, "commitResults": commit_results}
    if project_id:
        body["projectId"] = project_id
    return ApiCall("stop_job", "POST", "/v4/jobs/stop", parse, json_body=body)


def add_tag(job_id: str, name: str, project_id: str) -> ApiCall[Tag]:
    """``POST /api/jobs/v1/jobs/{jobId}/tags`` ``{tagName, projectId}`` -> ``{tag, metadata}``."""
    body = {"tagName": name, "projectId": project_id}
    return ApiCall("add_tag", "POST", f"{JOBS_V1}/{segment(job_id)}/tags", _parse_tag, json_body=body)


def remove_tag(job_id: str, tag_id: str, project_id: str) -> ApiCall[None]:
    """``DELETE /api/jobs/v1/jobs/{jobId}/tags/{tagId}?projectId=``."""
    path = f"{JOBS_V1}/{segment(job_id)}/tags/{segment(tag_id)}"
    return ApiCall("remove_tag", "DELETE", path, _parse_nothing, params={"projectId": project_id})


def list_goals(job_id: str) -> ApiCall[list[GoalLink]]:
    """``GET /api/jobs/v1/goals?jobId=``: the goals linked to one job (``{goals, metadata}``)."""
    return ApiCall("list_goals", "GET", GOALS_V1, _parse_goals, params={"jobId": job_id})


def link_goal(job_id: str, goal_id: str) -> ApiCall[GoalLink]:
    """``POST /api/jobs/v1/goals?jobId=`` with body ``{goalId}`` -> ``{goal, metadata}``."""
    return ApiCall(
        "link_goal", "POST", GOALS_V1, _parse_goal, params={"jobId": job_id}, json_body={"goalId": goal_id}
    )


def unlink_goal(goal_id: str, job_id: str) -> ApiCall[None]:
    """``DELETE /api/jobs/v1/goals/{goalId}?jobId=``: unlink a goal from one job."""
    return ApiCall(
        "unlink_goal", "DELETE", f"{GOALS_V1}/{segment(goal_id)}", _parse_nothing, params={"jobId": job_id}
    )


def find_project(owner: str, name: str) -> ApiCall[Project]:
    """``GET /v4/gateway/projects/findProjectByOwnerAndName``: resolve ``owner/name`` to a project."""
    params = {"ownerName": owner, "projectName": name}
    return ApiCall(
        "find_project", "GET", "/v4/gateway/projects/findProjectByOwnerAndName", _parse_project, params=params
    )


def get_project(project_id: str) -> ApiCall[Project]:
    """``GET /v4/projects/{projectId}``: a project's name and ``ownerUsername`` when only its id is known."""
    return ApiCall("get_project", "GET", f"/v4/projects/{segment(project_id)}", _parse_project)


def list_hardware_tiers(project_id: str) -> ApiCall[list[HardwareTier]]:
    """``GET /v4/projects/{projectId}/hardwareTiers``: the tiers a project may use (id and name each)."""
    path = f"/v4/projects/{segment(project_id)}/hardwareTiers"
    return ApiCall("list_hardware_tiers", "GET", path, _parse_hardware_tiers)
