"""Typed views of the Domino API's JSON. Domino's camelCase field names live only in this module.

Every reader is tolerant: it accepts the published Public API shapes (envelopes such as ``{job,
metadata}``, a status object, ``stageTimes``, ``commitDetails``) and the flat form of the simplified
reference (a bare job with a string ``status``, ``startedAt``, ``outputCommitId``...), because gateways
and test doubles that follow the latter exist. Where both carry a field, the published one wins.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

from airflow_provider_domino.api.status import JobStatus


def _opt_str(data: Mapping[str, Any], *keys: str) -> str | None:
    """The first of ``keys`` that ``data`` has a non-empty value for, as text."""
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return str(value)
    return None


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def unwrap(payload: Any, key: str) -> Any:
    """``payload[key]`` when ``payload`` is a published envelope (``{job: ..., metadata}``), else itself."""
    if isinstance(payload, Mapping) and isinstance(payload.get(key), (Mapping, list)):
        return payload[key]
    return payload


@dataclass(frozen=True)
class Tag:
    """A tag attached to a job."""

    id: str
    name: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Tag:
        """Read ``{tag: {id, name, ...}, metadata}`` or a bare ``{id, name}``."""
        data = _mapping(unwrap(data, "tag"))
        return cls(id=str(data.get("id", "")), name=str(data.get("name", "")))


def _status_fields(data: Mapping[str, Any]) -> tuple[str, bool | None]:
    """``(executionStatus, isCompleted)`` from a status object, or ``(status, None)`` from a string."""
    status = data.get("status")
    if isinstance(status, Mapping):
        completed = status.get("isCompleted")
        return str(status.get("executionStatus") or ""), completed if isinstance(completed, bool) else None
    return str(status or ""), None


def stat_value(value: Any) -> int | float | str:
    """A ``dominoStats`` value as XCom shows it: a number as a number, anything else as text.

    The published spec types the value as a string, while deployments also send JSON numbers; both
    ``"0.91"`` and ``0.91`` become ``0.91``. Booleans, ``NaN`` and infinities stay text (they are not
    numbers a JSON reader takes).
    """
    if isinstance(value, bool) or value is None:
        return str(value).lower() if isinstance(value, bool) else ""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = str(value).strip()
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return str(value)
    return number if math.isfinite(number) and any(ch.isdigit() for ch in text) else str(value)


def _domino_stats(value: Any) -> dict[str, int | float | str]:
    """``[{name, value}]`` (published ``DominoStatsV1``) or a plain ``{name: value}`` mapping."""
    if isinstance(value, Mapping):
        return {str(name): stat_value(item) for name, item in value.items()}
    stats: dict[str, int | float | str] = {}
    for item in value or ():
        if isinstance(item, Mapping) and item.get("name") not in (None, ""):
            stats[str(item["name"])] = stat_value(item.get("value"))
    return stats


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class JobUsage:
    """``JobUsageV1``: the job's peak CPU (% of what its tier offers) and peak memory (GiB)."""

    cpu_percentage: float | None
    memory_gib: float | None

    @classmethod
    def from_api(cls, data: Any) -> JobUsage | None:
        if not isinstance(data, Mapping):
            return None
        return cls(_number(data.get("cpuPercentage")), _number(data.get("memoryGiB")))

    def to_dict(self) -> dict[str, float | None]:
        return {"cpuPercentage": self.cpu_percentage, "memoryGiB": self.memory_gib}


@dataclass(frozen=True)
class GitRepoState:
    """``MountedGitRepoV1``: a git repository the job had mounted, and where it ended."""

    name: str
    uri: str | None
    ending_branch: str | None
    ending_commit_id: str | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> GitRepoState:
        return cls(
            name=str(data.get("name") or data.get("id") or ""),
            uri=_opt_str(data, "uri"),
            ending_branch=_opt_str(data, "endingBranch"),
            ending_commit_id=_opt_str(data, "endingCommitId"),
        )

    def to_dict(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "uri": self.uri,
            "endingBranch": self.ending_branch,
            "endingCommitId": self.ending_commit_id,
        }


@dataclass(frozen=True)
class DatasetMount:
    """``DatasetMountV1``: a dataset the job read (``is_input``) or wrote."""

    id: str
    name: str
    project_id: str | None
    is_input: bool
    snapshot_id: str | None = None
    snapshot_version: int | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> DatasetMount:
        version = data.get("snapshotVersion")
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("datasetName") or data.get("name") or ""),
            project_id=_opt_str(data, "projectId"),
            is_input=data.get("isInput") is True,
            snapshot_id=_opt_str(data, "snapshotId"),
            snapshot_version=version if isinstance(version, int) and not isinstance(version, bool) else None,
        )


@dataclass(frozen=True)
class QueuedDetails:
    """``QueuedJobStatusDetailsV1``: why a queued job waits, how long, and what to do about it."""

    explanation: str
    expected_wait: str
    help_text: str

    @classmethod
    def from_api(cls, data: Any) -> QueuedDetails | None:
        if not isinstance(data, Mapping):
            return None
        details = cls(
            explanation=str(data.get("explanation") or "").strip(),
            expected_wait=str(data.get("expectedWait") or "").strip(),
            help_text=str(data.get("helpText") or "").strip(),
        )
        return details if (details.explanation or details.expected_wait or details.help_text) else None

    def describe(self) -> str:
        """One line for the task log: ``<explanation> (expected wait: <wait>). <help text>``."""
        text = self.explanation or "Waiting"
        if self.expected_wait:
            text += f" (expected wait: {self.expected_wait})"
        if self.help_text:
            text += f". {self.help_text}"
        return text


@dataclass(frozen=True)
class Job:
    """One Domino job as the get/list/start endpoints describe it.

    ``raw_status`` keeps the server's own spelling (for messages); ``status`` is the typed value.
    ``is_completed`` is the server's ``status.isCompleted`` (``None`` when it sent only a status string);
    it decides :attr:`is_finished`. The published API has no ``projectId`` in a job, so ``project_id``
    is only set when a flat response carries one: callers pass the project they started in.
    ``raw`` keeps the whole job object so fields this model does not name are not lost.
    """

    id: str
    project_id: str | None
    status: JobStatus
    raw_status: str
    is_completed: bool | None = None
    number: int | None = None
    command: str | None = None
    title: str | None = None
    hardware_tier_id: str | None = None
    environment_id: str | None = None
    commit_id: str | None = None
    output_commit_id: str | None = None
    submitted_at: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    tags: tuple[Tag, ...] = ()
    goal_ids: tuple[str, ...] = ()
    #: ``dominoStats``: the metrics the job wrote to ``dominostats.json`` (see :func:`stat_value`).
    domino_stats: Mapping[str, int | float | str] = field(default_factory=dict, compare=False)
    usage: JobUsage | None = None
    git_repos: tuple[GitRepoState, ...] = ()
    dataset_mounts: tuple[DatasetMount, ...] = ()
    #: ``queuedJobStatusDetails``: why a queued job waits (``None`` when the server says nothing).
    queued_details: QueuedDetails | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Job:
        """Build a job from ``{job, metadata}`` or a bare job object; ``ValueError`` when it has no ``id``."""
        data = _mapping(unwrap(data, "job"))
        job_id = data.get("id")
        if not job_id:
            raise ValueError("job object has no 'id'")
        raw_status, is_completed = _status_fields(data)
        stages = _mapping(data.get("stageTimes"))
        commits = _mapping(data.get("commitDetails"))
        number = data.get("number")
        return cls(
            id=str(job_id),
            project_id=_opt_str(data, "projectId"),
            status=JobStatus.parse(raw_status),
            raw_status=raw_status,
            is_completed=is_completed,
            number=number if isinstance(number, int) and not isinstance(number, bool) else None,
            command=_opt_str(data, "runCommand", "command", "commandToRun"),
            title=_opt_str(data, "title"),
            hardware_tier_id=_opt_str(data, "hardwareTierId", "hardwareTier"),
            environment_id=_opt_str(data, "environmentId"),
            commit_id=_opt_str(commits, "inputCommitId") or _opt_str(data, "commitId"),
            output_commit_id=_opt_str(commits, "outputCommitId") or _opt_str(data, "outputCommitId"),
            submitted_at=_opt_str(stages, "submissionTime") or _opt_str(data, "submittedAt"),
            started_at=_opt_str(stages, "startTime") or _opt_str(data, "startedAt"),
            ended_at=_opt_str(stages, "completedTime") or _opt_str(data, "endedAt"),
            tags=tuple(Tag.from_api(t) for t in data.get("tags") or () if isinstance(t, Mapping)),
            goal_ids=tuple(str(g) for g in data.get("goalIds") or () if g),
            domino_stats=_domino_stats(data.get("dominoStats")),
            usage=JobUsage.from_api(data.get("usage")),
            git_repos=tuple(
                GitRepoState.from_api(repo)
                for repo in data.get("gitRepos") or ()
                if isinstance(repo, Mapping)
            ),
            dataset_mounts=tuple(
                DatasetMount.from_api(mount)
                for mount in data.get("datasetMounts") or ()
                if isinstance(mount, Mapping)
            ),
            queued_details=QueuedDetails.from_api(data.get("queuedJobStatusDetails")),
            raw=dict(data),
        )

    @property
    def is_finished(self) -> bool:
        """The job can no longer change: ``isCompleted`` when the server says, else a terminal status."""
        if self.is_completed is not None:
            return self.is_completed
        return self.status.is_terminal

    @property
    def is_success(self) -> bool:
        """Finished and ``Succeeded``; any other finished job failed the task, naming its status."""
        return self.is_finished and self.status.is_success

    @property
    def is_active(self) -> bool:
        """Not finished: the job may still run to completion."""
        return not self.is_finished

    @property
    def status_text(self) -> str:
        """The status as the server spelled it, for messages (``Unknown`` when it sent none)."""
        return self.raw_status or self.status.value

    def to_dict(self, *, project_id: str | None = None) -> dict[str, Any]:
        """The job as XCom ``job`` (and the sensor's return value): one flat, JSON-ready shape.

        Every key is always present; a value the server did not send is ``None`` (lists: empty). The
        names are the provider's, the same whichever form the server answered in (published envelope or
        flat): Domino's nested objects (``status``, ``stageTimes``, ``commitDetails``) are read into the
        flat keys below, never copied next to them, so no value appears twice. New keys are added to
        this table and to the dict below; none is renamed or removed without a new major version.

        ==================  ==========  ======================================================================
        key                 type        meaning
        ==================  ==========  ======================================================================
        ``id``              str         the job id
        ``projectId``       str | None  the project the job runs in (``project_id`` when the job names none)
        ``number``          int | None  the job's number within its project
        ``title``           str | None  the job title (it carries the provider's idempotency key)
        ``command``         str | None  the command the job ran
        ``status``          str         the execution status as Domino spells it (``Succeeded``, ``Failed``)
        ``isCompleted``     bool        the job has ended and can no longer change
        ``hardwareTierId``  str | None  the hardware tier it ran on
        ``environmentId``   str | None  the compute environment it ran in
        ``commitId``        str | None  the input commit
        ``outputCommitId``  str | None  the commit holding the files the job wrote: run the next job on it
        ``submittedAt``     str | None  ISO-8601 time the job was submitted
        ``startedAt``       str | None  ISO-8601 time it started running
        ``endedAt``         str | None  ISO-8601 time it ended
        ``tags``            list        ``{"id", "name"}`` of each tag
        ``goalIds``         list[str]   the goals linked to the job
        ``usage``           dict|None   ``{"cpuPercentage", "memoryGiB"}``: the job's peak CPU and memory
        ``dominoStats``     dict        the job's ``dominostats.json`` metrics (numbers as numbers)
        ``gitRepos``        list        ``{"name", "uri", "endingBranch", "endingCommitId"}`` of each repo
        ==================  ==========  ======================================================================

        :param project_id: the project the caller started or watched the job in (published job details
            do not name it).
        """
        return {
            "id": self.id,
            "projectId": self.project_id or project_id,
            "number": self.number,
            "title": self.title,
            "command": self.command,
            "status": self.status_text,
            "isCompleted": self.is_finished,
            "hardwareTierId": self.hardware_tier_id,
            "environmentId": self.environment_id,
            "commitId": self.commit_id,
            "outputCommitId": self.output_commit_id,
            "submittedAt": self.submitted_at,
            "startedAt": self.started_at,
            "endedAt": self.ended_at,
            "tags": [{"id": tag.id, "name": tag.name} for tag in self.tags],
            "goalIds": list(self.goal_ids),
            "usage": self.usage.to_dict() if self.usage is not None else None,
            "dominoStats": dict(self.domino_stats),
            "gitRepos": [repo.to_dict() for repo in self.git_repos],
        }


@dataclass(frozen=True)
class JobPage:
    """One page of the list-jobs endpoint."""

    jobs: tuple[Job, ...]
    offset: int
    limit: int
    total_count: int

    @property
    def next_offset(self) -> int | None:
        """Offset of the following page, or ``None`` when this is the last one."""
        following = self.offset + len(self.jobs)
        return following if self.jobs and following < self.total_count else None


@dataclass(frozen=True)
class GoalLink:
    """A goal linked to a job."""

    job_id: str
    goal_id: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> GoalLink:
        """Read ``{goal: {...}, metadata}`` or a bare ``{goalId, jobId}``."""
        data = _mapping(unwrap(data, "goal"))
        return cls(job_id=str(data.get("jobId", "")), goal_id=str(data.get("goalId", "")))


@dataclass(frozen=True)
class Project:
    """A Domino project: its id, name and owner's user name (the job link needs all three)."""

    id: str
    name: str
    owner: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Project:
        """Read ``findProjectByOwnerAndName`` (``owner: {id, userName}``) or ``/v4/projects/{id}``
        (``ownerUsername``); a flat ``ownerName`` is accepted too."""
        owner = data.get("owner")
        owner_name = _opt_str(owner, "userName", "username") if isinstance(owner, Mapping) else None
        if owner_name is None and isinstance(owner, str) and owner:
            owner_name = owner
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            owner=owner_name or _opt_str(data, "ownerUsername", "ownerName") or "",
        )


@dataclass(frozen=True)
class HardwareTier:
    """A hardware tier a project may use; jobs are started with its ``id``, people know its ``name``.

    ``cents_per_minute`` is the tier's price (``centsPerMinute``); ``None`` when the server did not
    send one, which is "unknown", never zero.
    """

    id: str
    name: str
    cents_per_minute: float | None = None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> HardwareTier:
        """Read ``{hardwareTier: {id, name, centsPerMinute, ...}, capacity, ...}`` or a bare tier."""
        tier = data.get("hardwareTier")
        data = tier if isinstance(tier, Mapping) else data
        price = _number(data.get("centsPerMinute"))
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            cents_per_minute=price if price is not None and price >= 0 else None,
        )


@dataclass(frozen=True)
class LogEntry:
    """One entry of the JSON log: a line, its stream (``stdOut``, ``stdErr``, ``prepareOutput``) and time."""

    log: str
    log_type: str
    timestamp: str


class LogEntryColumns:
    """Collects a log page's entries while ``json.loads`` decodes it: pass :meth:`hook` as its object hook.

    Each entry's three strings go to three lists and the hook returns the entry's index (an ``int``)
    in its place, so a 10,000-entry page leaves the garbage collector nothing to track per entry: no
    dict, tuple or object survives the decoding (strings and integers are never tracked). Kept as
    dicts or tuples, a page's entries add 10,000 tracked objects to the youngest generation: a dozen
    young collections and one middle one per page, and it is those middle collections that start the
    full ones, which walk every object of the triggerer and hold its loop for 70 ms or more. The hook
    also runs Python code for every object decoded, so a page decoded in a worker thread gives the GIL
    back every switch interval instead of holding it for the whole parse.
    """

    def __init__(self) -> None:
        self.logs: list[str] = []
        self.log_types: list[str] = []
        self.timestamps: list[str] = []

    def hook(self, data: dict[str, Any]) -> Any:
        """``json.loads`` object hook: an entry (an object with ``log``) is collected and replaced by its
        index; any other object (the page's envelopes) is returned as it is."""
        if "log" in data and "logContent" not in data:
            return self.add(data)
        return data

    def add(self, data: Mapping[str, Any]) -> int:
        """Collect one entry ``{log, logType, timestamp}``; returns its index."""
        self.logs.append(str(data.get("log") or ""))
        self.log_types.append(str(data.get("logType") or ""))
        self.timestamps.append(str(data.get("timestamp") or ""))
        return len(self.logs) - 1

    def entries(self, items: list[Any]) -> LogEntries:
        """The entries of a page's ``logContent`` list, in its order: indexes given by :meth:`hook`, or
        objects it did not see (collected now). Anything else is left out; so is an entry-like object
        found elsewhere in the document (its index is not in ``items``)."""
        picked: list[int] = []
        for item in items:
            if type(item) is int and 0 <= item < len(self.logs):
                picked.append(item)
            elif isinstance(item, Mapping):
                picked.append(self.add(item))
        if picked == list(range(len(self.logs))):  # the usual case: every entry, in order
            return LogEntries(self.logs, self.log_types, self.timestamps)
        return LogEntries(
            [self.logs[i] for i in picked],
            [self.log_types[i] for i in picked],
            [self.timestamps[i] for i in picked],
        )


class LogEntries(Sequence[LogEntry]):
    """A page's entries as three columns of strings; each made a :class:`LogEntry` only when it is reached.

    Done lazily, the conversion of 10,000 entries happens inside the sliced loop that shows them
    (:mod:`~airflow_provider_domino.jobs.log_cursor`), which yields to the event loop, and each
    :class:`LogEntry` is freed as soon as its lines are out. See :class:`LogEntryColumns` for why
    columns, not one object per entry.
    """

    def __init__(self, logs: list[str], log_types: list[str], timestamps: list[str]) -> None:
        if not len(logs) == len(log_types) == len(timestamps):
            raise ValueError("log entry columns differ in length")
        self.logs = logs
        self.log_types = log_types
        self.timestamps = timestamps

    @classmethod
    def of(cls, entries: Sequence[LogEntry]) -> LogEntries:
        """Columns from entry objects (a test double's page)."""
        return cls([e.log for e in entries], [e.log_type for e in entries], [e.timestamp for e in entries])

    def __len__(self) -> int:
        return len(self.logs)

    @overload
    def __getitem__(self, index: int) -> LogEntry: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[LogEntry]: ...
    def __getitem__(self, index: int | slice) -> LogEntry | Sequence[LogEntry]:
        if isinstance(index, slice):
            return LogEntries(self.logs[index], self.log_types[index], self.timestamps[index])
        return LogEntry(self.logs[index], self.log_types[index], self.timestamps[index])

    def __iter__(self) -> Iterator[LogEntry]:
        for log, log_type, timestamp in zip(self.logs, self.log_types, self.timestamps, strict=True):
            yield LogEntry(log, log_type, timestamp)


@dataclass(frozen=True)
class LogPage:
    """One page of the JSON log endpoint.

    :param entries: the entries, oldest first (read from the JSON as they are iterated, see
        :class:`LogEntries`, so a 10,000-entry page is not converted in one go).
    :param limit: the most entries the server says it returns per call (``metadata.pagination.limit``),
        ``None`` when it did not say.
    :param latest_time_nano: the server's cursor for the next call (``metadata.pagination.latestTimeNano``).
    :param is_complete: ``logs.isComplete`` as sent (``None`` when absent).
    :param problem: ``logs.problem``, Domino's explanation of a job that failed to start.
    """

    entries: Sequence[LogEntry]
    limit: int | None = None
    latest_time_nano: int | None = None
    is_complete: bool | None = None
    problem: str | None = None


@dataclass(frozen=True)
class LogChunk:
    """Bytes of a job log from ``start`` on, and the offset to ask from next time."""

    data: bytes
    start: int

    @property
    def end(self) -> int:
        """Byte offset just past this chunk: where the next tail request begins."""
        return self.start + len(self.data)


def epoch_seconds(timestamp: str | None) -> float | None:
    """An ISO-8601 time as Domino sends it (``...Z`` or with an offset) in epoch seconds; ``None`` when
    absent or unreadable."""
    if not timestamp:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
