"""SQLite persistence with an in-memory cache in front of it.

Every mutation is written through to SQLite at once, so a crashed emulator (SIGKILL)
restarts with every job, tag, goal link, commit and project head it had acknowledged.
Reads never touch SQLite: pollers hammer ``GET /jobs/{id}`` and must stay cheap. All
methods are called from the event-loop thread only, so no locking is needed.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from domino_emulator.models import Job, Tag

_SCHEMA = """
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    initial_commit_id TEXT NOT NULL,
    head_commit_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS commits (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    source_job_id TEXT
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    project_id TEXT NOT NULL,
    status TEXT NOT NULL,
    command TEXT NOT NULL,
    title TEXT,
    hardware_tier_id TEXT NOT NULL,
    is_direct_hardware_tier_id INTEGER NOT NULL,
    environment_id TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    output_commit_id TEXT,
    submitted_at TEXT NOT NULL,
    started_at TEXT,
    ended_at TEXT,
    exit_code INTEGER,
    pid INTEGER,
    pid_start_time INTEGER,
    options_json TEXT NOT NULL DEFAULT '{}',
    results_json TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS tags (
    id TEXT PRIMARY KEY,
    job_id TEXT NOT NULL,
    name TEXT NOT NULL,
    seq INTEGER NOT NULL,
    created_at TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS goal_links (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    goal_id TEXT NOT NULL,
    UNIQUE (job_id, goal_id)
);
"""

#: The ``jobs`` table's columns, named exactly like the ``Job`` fields they hold (tags live apart).
_JOB_FIELDS = (
    "id", "seq", "project_id", "status", "command", "title", "hardware_tier_id", "is_direct_hardware_tier_id",
    "environment_id", "commit_id", "output_commit_id", "submitted_at", "started_at", "ended_at", "exit_code",
    "pid", "pid_start_time", "options_json", "results_json",
)  # fmt: skip
_JOB_COLUMNS = ", ".join(_JOB_FIELDS)


@dataclass
class ProjectRecord:
    """A project and the commit its next job starts from by default."""

    id: str
    owner: str
    name: str
    initial_commit_id: str
    head_commit_id: str

    def to_admin(self) -> dict[str, str]:
        """The admin ``GET /_emulator/projects`` shape."""
        return {"id": self.id, "owner": self.owner, "name": self.name, "headCommitId": self.head_commit_id}


@dataclass(frozen=True)
class GoalLink:
    """A goal linked to a job."""

    job_id: str
    goal_id: str


class StateStore:
    """Jobs, tags, goal links, commits and projects: SQLite on disk, dictionaries in memory."""

    def __init__(self, database: Path) -> None:
        self._db = sqlite3.connect(str(database), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._upgrade_schema()
        self._projects: dict[str, ProjectRecord] = {}
        self._commit_projects: dict[str, str] = {}
        self._jobs: dict[str, Job] = {}
        self._jobs_by_project: dict[str, list[Job]] = {}
        self._goal_links: list[GoalLink] = []
        self._next_seq = 1
        self._next_tag_seq = 1
        self._load()

    def close(self) -> None:
        """Close the database; the in-memory view stays readable."""
        self._db.close()

    def _upgrade_schema(self) -> None:
        """Add the columns a state file written by an older emulator lacks."""
        tag_columns = {row[1] for row in self._db.execute("PRAGMA table_info(tags)")}
        if "created_at" not in tag_columns:
            self._db.execute("ALTER TABLE tags ADD COLUMN created_at TEXT NOT NULL DEFAULT ''")
        job_columns = {row[1] for row in self._db.execute("PRAGMA table_info(jobs)")}
        for column in ("options_json", "results_json"):
            if column not in job_columns:
                self._db.execute(f"ALTER TABLE jobs ADD COLUMN {column} TEXT NOT NULL DEFAULT '{{}}'")

    # ----------------------------------------------------------------- loading
    def _load(self) -> None:
        for row in self._db.execute(
            "SELECT id, owner, name, initial_commit_id, head_commit_id FROM projects"
        ):
            self._projects[row[0]] = ProjectRecord(*row)
        for commit_id, project_id in self._db.execute("SELECT id, project_id FROM commits"):
            self._commit_projects[commit_id] = project_id
        for row in self._db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs ORDER BY seq"):
            job = Job(**dict(zip(_JOB_FIELDS, row, strict=True)))
            job.is_direct_hardware_tier_id = bool(job.is_direct_hardware_tier_id)  # SQLite keeps 0/1
            self._index_job(job)
            self._next_seq = max(self._next_seq, job.seq + 1)
        for tag_id, job_id, name, seq, created_at in self._db.execute(
            "SELECT id, job_id, name, seq, created_at FROM tags ORDER BY seq"
        ):
            if job_id in self._jobs:
                self._jobs[job_id].tags.append(Tag(tag_id, name, created_at))
            self._next_tag_seq = max(self._next_tag_seq, seq + 1)
        for job_id, goal_id in self._db.execute("SELECT job_id, goal_id FROM goal_links ORDER BY seq"):
            self._goal_links.append(GoalLink(job_id, goal_id))

    def _index_job(self, job: Job) -> None:
        self._jobs[job.id] = job
        project_jobs = self._jobs_by_project.setdefault(job.project_id, [])
        project_jobs.append(job)
        job.number = len(project_jobs)  # Domino numbers a project's jobs 1, 2, 3...

    # ---------------------------------------------------------------- projects
    def projects(self) -> list[ProjectRecord]:
        """Every known project, in creation order."""
        return list(self._projects.values())

    def project(self, project_id: str) -> ProjectRecord | None:
        """One project by id, or None."""
        return self._projects.get(project_id)

    def find_project(self, owner: str, name: str) -> ProjectRecord | None:
        """One project by owner and name (exact match), or None."""
        for project in self._projects.values():
            if project.owner == owner and project.name == name:
                return project
        return None

    def add_project(self, project: ProjectRecord) -> None:
        """Register a newly discovered project and its initial commit."""
        self._db.execute(
            "INSERT INTO projects (id, owner, name, initial_commit_id, head_commit_id)"
            " VALUES (?, ?, ?, ?, ?)",
            (project.id, project.owner, project.name, project.initial_commit_id, project.head_commit_id),
        )
        self._projects[project.id] = project

    def set_head(self, project_id: str, commit_id: str) -> None:
        """Move a project's head, as Domino does when a job commits its results."""
        self._db.execute("UPDATE projects SET head_commit_id = ? WHERE id = ?", (commit_id, project_id))
        self._projects[project_id].head_commit_id = commit_id

    # ----------------------------------------------------------------- commits
    def add_commit(self, commit_id: str, project_id: str, created_at: str, source_job_id: str | None) -> None:
        """Record a snapshot that now exists on disk."""
        self._db.execute(
            "INSERT INTO commits (id, project_id, created_at, source_job_id) VALUES (?, ?, ?, ?)",
            (commit_id, project_id, created_at, source_job_id),
        )
        self._commit_projects[commit_id] = project_id

    def commit_belongs_to(self, commit_id: str, project_id: str) -> bool:
        """True when ``commit_id`` is a snapshot of ``project_id`` (initial, head or a job's output)."""
        return self._commit_projects.get(commit_id) == project_id

    # -------------------------------------------------------------------- jobs
    def next_seq(self) -> int:
        """The submission order number for a new job (newest first sorts on it)."""
        seq = self._next_seq
        self._next_seq += 1
        return seq

    def job(self, job_id: str) -> Job | None:
        """One job by id, from memory."""
        return self._jobs.get(job_id)

    def all_jobs(self) -> list[Job]:
        """Every job of every project, oldest first."""
        return sorted(self._jobs.values(), key=lambda job: job.seq)

    def project_jobs(self, project_id: str) -> list[Job]:
        """A project's jobs, oldest first (the list is append-only)."""
        return self._jobs_by_project.get(project_id, [])

    def add_job(self, job: Job) -> None:
        """Persist a newly submitted job."""
        placeholders = ", ".join("?" * len(_JOB_FIELDS))
        self._db.execute(f"INSERT INTO jobs ({_JOB_COLUMNS}) VALUES ({placeholders})", self._row(job))
        self._index_job(job)

    def save_job(self, job: Job) -> None:
        """Write a job's mutable fields back after the caller changed them in place."""
        row = self._row(job)
        assignments = ", ".join(f"{column} = ?" for column in _JOB_FIELDS[1:])
        self._db.execute(f"UPDATE jobs SET {assignments} WHERE id = ?", (*row[1:], job.id))

    @staticmethod
    def _row(job: Job) -> tuple[object, ...]:
        """The job's ``jobs`` row, in ``_JOB_FIELDS`` order (booleans as SQLite integers)."""
        return tuple(
            int(value) if isinstance(value, bool) else value
            for value in (getattr(job, f) for f in _JOB_FIELDS)
        )

    # -------------------------------------------------------------------- tags
    def add_tag(self, job: Job, tag: Tag) -> None:
        """Attach a tag to a job."""
        self._db.execute(
            "INSERT INTO tags (id, job_id, name, seq, created_at) VALUES (?, ?, ?, ?, ?)",
            (tag.id, job.id, tag.name, self._next_tag_seq, tag.created_at),
        )
        self._next_tag_seq += 1
        job.tags.append(tag)

    def remove_tag(self, job: Job, tag_id: str) -> bool:
        """Detach a tag; False when the job has no such tag."""
        for tag in job.tags:
            if tag.id == tag_id:
                self._db.execute("DELETE FROM tags WHERE id = ?", (tag_id,))
                job.tags.remove(tag)
                return True
        return False

    # ------------------------------------------------------------------- goals
    def goal_links(self, job_id: str | None = None) -> list[GoalLink]:
        """Goal links, optionally only those of one job, in linking order."""
        return [link for link in self._goal_links if job_id is None or link.job_id == job_id]

    def link_goal(self, job_id: str, goal_id: str) -> GoalLink:
        """Link a goal to a job; linking twice is harmless."""
        link = GoalLink(job_id, goal_id)
        if link not in self._goal_links:
            self._db.execute("INSERT INTO goal_links (job_id, goal_id) VALUES (?, ?)", (job_id, goal_id))
            self._goal_links.append(link)
        return link

    def unlink_goal(self, goal_id: str, job_id: str | None) -> int:
        """Remove a goal's links (only with ``job_id`` if given); returns how many were removed."""
        doomed = [
            link
            for link in self._goal_links
            if link.goal_id == goal_id and (job_id is None or link.job_id == job_id)
        ]
        for link in doomed:
            self._db.execute(
                "DELETE FROM goal_links WHERE job_id = ? AND goal_id = ?", (link.job_id, link.goal_id)
            )
            self._goal_links.remove(link)
        return len(doomed)
