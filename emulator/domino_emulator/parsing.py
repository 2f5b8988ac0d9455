"""Reading requests the way Domino does: by hand, answering 400 with a message naming the field.

Bodies are parsed here rather than with pydantic models: Domino answers ``400 {"error": ...}``
naming the bad field, and clients are tested against exactly that, not FastAPI's 422 shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from fastapi import Request

    from domino_emulator.context import EmulatorContext
    from domino_emulator.models import Job


class ApiError(Exception):
    """An error answered with ``status`` and ``message`` in the shape ``shapes.error_body`` picks."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


#: JSON types of the fields the published ``NewJobV1`` lists; any other field is refused.
NEW_JOB_FIELDS: dict[str, type | tuple[type, ...]] = {
    "projectId": str,
    "runCommand": str,
    "hardwareTier": str,
    "environmentId": str,
    "commitId": str,
    "title": str,
    "capacityType": str,
    "computeCluster": dict,
    "environmentRevisionSpec": str,
    "externalVolumeMountIds": list,
    "mainRepoGitRef": dict,
    "netAppVolumeIds": list,
    "snapshotDatasetsOnCompletion": bool,
    "snapshotNetAppVolumesOnCompletion": bool,
}
_TYPE_NAMES = {str: "a string", dict: "an object", list: "an array", bool: "true or false"}


async def json_object(request: Request) -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "Request body must be valid JSON") from exc
    if not isinstance(data, dict):
        raise ApiError(400, "Request body must be a JSON object")
    return data


def check_listed_fields(
    data: dict[str, Any], listed: dict[str, type | tuple[type, ...]], schema: str
) -> None:
    """Refuse a field ``schema`` does not list, and a listed field of the wrong JSON type."""
    for name, value in data.items():
        expected = listed.get(name)
        if expected is None:
            accepted = ", ".join(sorted(listed))
            raise ApiError(400, f"Unknown field '{name}': {schema} accepts only {accepted}")
        if isinstance(expected, type) and (
            not isinstance(value, expected) or (expected is not bool and isinstance(value, bool))
        ):
            raise ApiError(400, f"Field '{name}' must be {_TYPE_NAMES.get(expected, expected.__name__)}")


def required_text(data: dict[str, Any], name: str) -> str:
    """A non-blank string field, or 400 naming it."""
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Missing required field '{name}'")
    return value


def optional_text(data: dict[str, Any], name: str) -> str | None:
    """A string field that may be absent, null or empty (None then)."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ApiError(400, f"Field '{name}' must be a string")
    return value


def optional_flag(data: dict[str, Any], name: str) -> bool:
    """A boolean field that defaults to False."""
    value = data.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ApiError(400, f"Field '{name}' must be true or false")
    return value


def required_query(request: Request, name: str) -> str:
    """A query parameter that must be present and non-empty."""
    value = request.query_params.get(name)
    if not value:
        raise ApiError(400, f"Missing required query parameter '{name}'")
    return value


def int_query(request: Request, name: str, default: int, *, minimum: int = 0) -> int:
    """An integer query parameter of at least ``minimum``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        kind = "a non-negative integer" if minimum == 0 else f"an integer of at least {minimum}"
        raise ApiError(400, f"Query parameter '{name}' must be {kind}, got '{raw}'")
    return value


def bool_query(request: Request, name: str, default: bool) -> bool:
    """``true``/``false`` (any case), as Domino's query booleans."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    raise ApiError(400, f"Query parameter '{name}' must be true or false, got '{raw}'")


def choice_query(
    request: Request, name: str, choices: tuple[str, ...], default: str | None, *, any_case: bool = False
) -> str | None:
    """One of ``choices`` (in the spec's spelling; ``any_case`` where the spec says so), or ``default``."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    for choice in choices:
        if raw == choice or (any_case and raw.casefold() == choice.casefold()):
            return choice
    raise ApiError(400, f"Query parameter '{name}' must be one of {', '.join(choices)}, got '{raw}'")


def job_or_404(context: EmulatorContext, encoded_job_id: str) -> Job:
    """The job a (still percent-encoded) path segment names, or 404."""
    job_id = unquote(encoded_job_id)
    job = context.store.job(job_id)
    if job is None:
        raise ApiError(404, f"Job '{job_id}' not found")
    return job


#: ``ComputeClusterConfigV1``: its fields, their JSON types (``float`` meaning any number), required ones.
CLUSTER_FIELDS: dict[str, type | tuple[type, ...]] = {
    "clusterType": str,
    "computeEnvironmentId": str,
    "workerCount": int,
    "workerHardwareTier": str,
    "maxWorkerCount": int,
    "masterHardwareTierId": str,
    "workerStorageMB": (int, float),
    "computeEnvironmentRevisionSpec": str,
}
CLUSTER_REQUIRED = ("clusterType", "computeEnvironmentId", "workerCount", "workerHardwareTier")
#: ``ClusterTypeV1``.
CLUSTER_TYPES = ("dask", "mpi", "ray", "spark")
GIT_REF_FIELDS: dict[str, type | tuple[type, ...]] = {"refType": str, "value": str}
#: The optional ``NewJobV1`` fields kept with a job and echoed back.
OPTION_FIELDS = (
    "capacityType", "computeCluster", "environmentRevisionSpec", "externalVolumeMountIds", "mainRepoGitRef",
    "netAppVolumeIds", "snapshotDatasetsOnCompletion", "snapshotNetAppVolumesOnCompletion",
)  # fmt: skip
_REVISION = re.compile(r"^(ActiveRevision|LatestRevision|SomeRevision\([^()\s]+\))$")


def _check_number_fields(
    data: dict[str, Any], listed: dict[str, type | tuple[type, ...]], where: str
) -> None:
    for name, value in data.items():
        expected = listed.get(name)
        if isinstance(expected, tuple) and (isinstance(value, bool) or not isinstance(value, expected)):
            raise ApiError(400, f"Field '{where}.{name}' must be a number")


def _revision(value: Any, where: str) -> None:
    if not isinstance(value, str) or not _REVISION.match(value):
        raise ApiError(
            400,
            f"Field '{where}' must be ActiveRevision, LatestRevision or SomeRevision(<id>), got {value!r}",
        )


def job_options(body: dict[str, Any], tier_ids: Collection[str]) -> dict[str, Any]:
    """The optional ``NewJobV1`` fields of a start body, checked per the spec; 400 names a bad one.

    ``mainRepoGitRef.refType`` is only checked for being a string, as Domino does: an unknown type
    is accepted here and fails the job in setup (``runner``).
    """
    options = {name: body[name] for name in OPTION_FIELDS if body.get(name) is not None}
    cluster = options.get("computeCluster")
    if cluster is not None:
        check_listed_fields(cluster, CLUSTER_FIELDS, "ComputeClusterConfigV1")
        _check_number_fields(cluster, CLUSTER_FIELDS, "computeCluster")
        for name in CLUSTER_REQUIRED:
            if cluster.get(name) is None:
                raise ApiError(400, f"Missing required field 'computeCluster.{name}'")
        if cluster["clusterType"] not in CLUSTER_TYPES:
            raise ApiError(
                400,
                f"Field 'computeCluster.clusterType' must be one of {', '.join(CLUSTER_TYPES)}, "
                f"got {cluster['clusterType']!r}",
            )
        for name in ("workerHardwareTier", "masterHardwareTierId"):
            if cluster.get(name) is not None and cluster[name] not in tier_ids:
                raise ApiError(
                    400, f"Field 'computeCluster.{name}': '{cluster[name]}' is not a hardware tier id"
                )
        if cluster["workerCount"] < 0:
            raise ApiError(400, "Field 'computeCluster.workerCount' must not be negative")
        if cluster.get("maxWorkerCount") is not None and cluster["maxWorkerCount"] < cluster["workerCount"]:
            raise ApiError(400, "Field 'computeCluster.maxWorkerCount' must be at least workerCount")
        if cluster.get("computeEnvironmentRevisionSpec") is not None:
            _revision(
                cluster["computeEnvironmentRevisionSpec"], "computeCluster.computeEnvironmentRevisionSpec"
            )
    ref = options.get("mainRepoGitRef")
    if ref is not None:
        check_listed_fields(ref, GIT_REF_FIELDS, "GitRefV1")
        required_text(ref, "refType")
    if "environmentRevisionSpec" in options:
        _revision(options["environmentRevisionSpec"], "environmentRevisionSpec")
    for name in ("externalVolumeMountIds", "netAppVolumeIds"):
        if any(not isinstance(item, str) or not item for item in options.get(name, ())):
            raise ApiError(400, f"Field '{name}' must be an array of ids (strings)")
    if "capacityType" in options and not options["capacityType"].strip():
        raise ApiError(400, "Field 'capacityType' must not be empty")
    return options
