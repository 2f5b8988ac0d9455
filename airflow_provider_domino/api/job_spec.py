"""The optional fields of a published job start (``NewJobV1``): checks and the request body they make.

A DAG author writes Python names (``compute_cluster``, ``main_repo_git_ref``...); Domino reads the
spec's camelCase fields (``computeCluster``, ``mainRepoGitRef``...). The mapping lives here, next to
the checks that turn a value Domino would refuse (or, worse, accept and then fail in setup, as a
``refType`` of ``"branch"`` does) into one error naming the parameter and the accepted values.

Every check takes a ``deferred`` predicate: a value it answers ``True`` for (a Jinja template, an
upstream task's output) is known only when the task runs, so it is left for the run-time check. The
operator calls these at DAG-parse time with its "is this a run-time value" test, and again at run time
with none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from airflow_provider_domino.api.errors import DominoConfigError

#: ``ComputeClusterConfigV1.clusterType`` (the spec's ``ClusterTypeV1`` enum).
CLUSTER_TYPES = ("spark", "ray", "dask", "mpi")
#: ``GitRefV1.refType`` values Domino accepts. The spec only gives an example; these four are what a
#: Domino deployment takes (``branch`` in the singular is accepted by the start and kills the job in
#: setup with "Unknown reference type").
REF_TYPES = ("head", "branches", "tags", "commitId")
#: Spellings Domino rejects, and what their author meant.
REF_TYPE_HINTS = {
    "branch": "branches",
    "tag": "tags",
    "commit": "commitId",
    "commitid": "commitId",
    "sha": "commitId",
}
#: ``EnvironmentRevisionSpecV1`` is a string: one of these, or ``SomeRevision(<revision id>)``.
REVISION_KEYWORDS = ("ActiveRevision", "LatestRevision")
_SOME_REVISION = re.compile(r"^SomeRevision\(([^()\s]+)\)$")

#: ``ComputeClusterConfigV1``'s fields and the JSON type each takes (``float`` meaning any number).
CLUSTER_FIELDS: dict[str, type] = {
    "clusterType": str,
    "computeEnvironmentId": str,
    "workerCount": int,
    "workerHardwareTier": str,
    "maxWorkerCount": int,
    "masterHardwareTierId": str,
    "workerStorageMB": float,
    "computeEnvironmentRevisionSpec": str,
}
#: The fields ``ComputeClusterConfigV1`` requires.
CLUSTER_REQUIRED = ("clusterType", "computeEnvironmentId", "workerCount", "workerHardwareTier")
#: The cluster fields that name a hardware tier (a name or an id; resolved to an id before sending).
CLUSTER_TIER_FIELDS = ("workerHardwareTier", "masterHardwareTierId")
#: ``GitRefV1``'s fields.
GIT_REF_FIELDS = ("refType", "value")

Deferred = Callable[[Any], bool]


def _never(value: Any) -> bool:
    return False


def _fail(parameter: str, message: str) -> DominoConfigError:
    return DominoConfigError(f"Parameter '{parameter}': {message}")


def check_environment_revision(value: Any, parameter: str = "environment_revision") -> str:
    """``ActiveRevision``, ``LatestRevision`` or ``SomeRevision(<id>)``, as the spec's string."""
    if isinstance(value, str):
        text = value.strip()
        if text in REVISION_KEYWORDS or _SOME_REVISION.match(text):
            return text
        if text and "(" not in text and " " not in text:
            hint = f"; to pin revision {text!r} write 'SomeRevision({text})'"
        else:
            hint = ""
    else:
        hint = ""
    raise _fail(
        parameter,
        f"{value!r} is not an environment revision: use 'ActiveRevision', 'LatestRevision' or "
        f"'SomeRevision(<revision id>)'{hint}",
    )


def check_git_ref(value: Any, deferred: Deferred = _never, parameter: str = "main_repo_git_ref") -> Any:
    """``{"refType": "head"|"branches"|"tags"|"commitId", "value": ...}``; ``value`` unless ``head``."""
    if deferred(value):
        return value
    if not isinstance(value, Mapping):
        raise _fail(parameter, f"must be a dict with 'refType' and 'value', got {value!r}")
    unknown = sorted(set(value) - set(GIT_REF_FIELDS))
    if unknown:
        raise _fail(
            parameter, f"unknown key(s) {', '.join(map(repr, unknown))}; it takes 'refType' and 'value'"
        )
    ref_type = value.get("refType")
    if not deferred(ref_type):
        if ref_type not in REF_TYPES:
            accepted = ", ".join(repr(kind) for kind in REF_TYPES)
            hint = REF_TYPE_HINTS.get(str(ref_type).strip().lower()) if isinstance(ref_type, str) else None
            suggestion = f" (did you mean {hint!r}?)" if hint else ""
            raise _fail(
                parameter,
                f"refType {ref_type!r} is not one Domino accepts{suggestion}; use one of {accepted}",
            )
        ref_value = value.get("value")
        if (
            ref_type != "head"
            and not deferred(ref_value)
            and (not isinstance(ref_value, str) or not ref_value.strip())
        ):
            raise _fail(parameter, f"refType {ref_type!r} needs a 'value' (the branch, tag or commit)")
    return dict(value)


def check_compute_cluster(value: Any, deferred: Deferred = _never, parameter: str = "compute_cluster") -> Any:
    """A ``ComputeClusterConfigV1`` dict: the spec's keys, its required ones, a known ``clusterType``."""
    if deferred(value):
        return value
    if not isinstance(value, Mapping):
        raise _fail(parameter, f"must be a dict of ComputeClusterConfigV1 keys, got {value!r}")
    unknown = sorted(set(value) - set(CLUSTER_FIELDS))
    if unknown:
        raise _fail(
            parameter,
            f"unknown key(s) {', '.join(map(repr, unknown))}; it takes {', '.join(CLUSTER_FIELDS)}",
        )
    missing = [key for key in CLUSTER_REQUIRED if value.get(key) is None]
    if missing:
        raise _fail(parameter, f"missing required key(s) {', '.join(map(repr, missing))}")
    value = {key: _number_from_text(key, item) for key, item in value.items()}
    for key, item in value.items():
        if item is None or deferred(item):
            continue
        _check_cluster_field(parameter, key, item)
    workers, most = value.get("workerCount"), value.get("maxWorkerCount")
    if isinstance(workers, int) and isinstance(most, int) and most < workers:
        raise _fail(parameter, f"maxWorkerCount ({most}) is below workerCount ({workers})")
    return {key: item for key, item in value.items() if item is not None}


def _number_from_text(key: str, item: Any) -> Any:
    """A count or size rendered by Jinja arrives as text (``"4"``): read it as the number it spells."""
    if CLUSTER_FIELDS.get(key) in (int, float) and isinstance(item, str) and "{" not in item:
        text = item.strip()
        try:
            return int(text)
        except ValueError:
            try:
                return float(text) if CLUSTER_FIELDS[key] is float else item
            except ValueError:
                return item
    return item


def _check_cluster_field(parameter: str, key: str, item: Any) -> None:
    if key == "clusterType":
        if item not in CLUSTER_TYPES:
            hint = (
                f" (did you mean {item.lower()!r}?)"
                if isinstance(item, str) and item.lower() in CLUSTER_TYPES
                else ""
            )
            raise _fail(parameter, f"clusterType {item!r} is not one of {', '.join(CLUSTER_TYPES)}{hint}")
    elif key == "computeEnvironmentRevisionSpec":
        check_environment_revision(item, f"{parameter}.computeEnvironmentRevisionSpec")
    elif CLUSTER_FIELDS[key] is int:
        minimum = 0 if key == "workerCount" else 1
        if isinstance(item, bool) or not isinstance(item, int) or item < minimum:
            raise _fail(parameter, f"{key} must be an integer of at least {minimum}, got {item!r}")
    elif CLUSTER_FIELDS[key] is float:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or item <= 0:
            raise _fail(parameter, f"{key} must be a positive number, got {item!r}")
    elif not isinstance(item, str) or not item.strip():
        raise _fail(parameter, f"{key} must be a non-empty string, got {item!r}")


def check_id_list(parameter: str, value: Any, deferred: Deferred = _never) -> Any:
    """A list of ids (one string is one id)."""
    if deferred(value):
        return value
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise _fail(parameter, f"must be a list of ids, got {value!r}")
    for item in items:
        if not deferred(item) and (not isinstance(item, str) or not item.strip()):
            raise _fail(parameter, f"every id must be a non-empty string, got {item!r}")
    return list(items)


def check_flag(parameter: str, value: Any, deferred: Deferred = _never) -> Any:
    """``True``, ``False`` or ``None`` (not sent: Domino's default)."""
    if value is None or deferred(value) or isinstance(value, bool):
        return value
    raise _fail(parameter, f"must be True or False, got {value!r}")


def check_text(parameter: str, value: Any, deferred: Deferred = _never) -> Any:
    """A non-empty string."""
    if deferred(value) or (isinstance(value, str) and value.strip()):
        return value
    raise _fail(parameter, f"must be a non-empty string, got {value!r}")


@dataclass(frozen=True)
class JobOptions:
    """The ``NewJobV1`` fields beyond command, tier, environment, commit and title.

    ``None`` means "not sent" (Domino's default). Build it with :meth:`checked`; tier names in
    ``compute_cluster`` are resolved to ids by the hook before :meth:`to_body`.
    """

    compute_cluster: Mapping[str, Any] | None = None
    main_repo_git_ref: Mapping[str, Any] | None = None
    environment_revision: str | None = None
    external_volume_mount_ids: tuple[str, ...] | None = None
    net_app_volume_ids: tuple[str, ...] | None = None
    capacity_type: str | None = None
    snapshot_datasets_on_completion: bool | None = None
    snapshot_net_app_volumes_on_completion: bool | None = None

    #: Python parameter name -> ``NewJobV1`` field.
    FIELD_NAMES = {
        "compute_cluster": "computeCluster",
        "main_repo_git_ref": "mainRepoGitRef",
        "environment_revision": "environmentRevisionSpec",
        "external_volume_mount_ids": "externalVolumeMountIds",
        "net_app_volume_ids": "netAppVolumeIds",
        "capacity_type": "capacityType",
        "snapshot_datasets_on_completion": "snapshotDatasetsOnCompletion",
        "snapshot_net_app_volumes_on_completion": "snapshotNetAppVolumesOnCompletion",
    }

    @classmethod
    def checked(cls, **values: Any) -> JobOptions:
        """Check every rendered value (run time); ``DominoConfigError`` names the first bad one."""
        checked = check_job_options(values)
        for name in ("external_volume_mount_ids", "net_app_volume_ids"):
            if checked.get(name) is not None:
                checked[name] = tuple(checked[name])
        return cls(**checked)

    def to_body(self) -> dict[str, Any]:
        """The ``NewJobV1`` fields to send (unset ones left out)."""
        body: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Mapping):
                value = dict(value)
            body[self.FIELD_NAMES[item.name]] = value
        return body


#: The parameter names :func:`check_job_options` knows (the public interface; keep them).
OPTION_NAMES = tuple(JobOptions.FIELD_NAMES)


def check_job_options(values: Mapping[str, Any], deferred: Deferred = _never) -> dict[str, Any]:
    """Check each option in ``values`` (names from :data:`OPTION_NAMES`); returns them, normalised.

    Values ``deferred`` answers ``True`` for are returned unchecked. Unknown names are a programming
    error (``KeyError``).
    """
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name not in JobOptions.FIELD_NAMES:
            raise KeyError(name)
        if value is None:
            checked[name] = None
        elif name == "compute_cluster":
            checked[name] = check_compute_cluster(value, deferred)
        elif name == "main_repo_git_ref":
            checked[name] = check_git_ref(value, deferred)
        elif name == "environment_revision":
            checked[name] = value if deferred(value) else check_environment_revision(value)
        elif name in ("external_volume_mount_ids", "net_app_volume_ids"):
            checked[name] = check_id_list(name, value, deferred)
        elif name == "capacity_type":
            checked[name] = check_text(name, value, deferred)
        else:
            checked[name] = check_flag(name, value, deferred)
    return checked
