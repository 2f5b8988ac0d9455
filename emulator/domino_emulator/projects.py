"""Projects and their commits: directory trees copied into the emulator's data directory.

Domino runs every job from a commit of the project's files and commits the job's results
afterwards. The emulator imitates that with plain directory snapshots: a commit is a
read-mostly copy of a tree under ``<data>/commits/<40 hex>``. Commit ids are generated
here and validated against a strict pattern before they ever become a path, so a client
cannot point the emulator outside its data directory.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path

_COMMIT_ID = re.compile(r"^[0-9a-f]{40}$")


def project_id_for(owner: str, name: str) -> str:
    """The stable id of project ``owner/name``: the same on every restart and every machine."""
    return hashlib.sha1(f"{owner}/{name}".encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ProjectDirectory:
    """A project found on disk: ``<projects-dir>/<owner>/<name>/``."""

    owner: str
    name: str
    path: Path

    @property
    def id(self) -> str:
        """The project id derived from owner and name."""
        return project_id_for(self.owner, self.name)


def discover_projects(projects_dir: Path) -> list[ProjectDirectory]:
    """Every ``owner/name`` directory two levels below ``projects_dir``, sorted for stable output."""
    found: list[ProjectDirectory] = []
    for owner_dir in sorted(projects_dir.iterdir()):
        if not owner_dir.is_dir() or owner_dir.name.startswith("."):
            continue
        for project_dir in sorted(owner_dir.iterdir()):
            if project_dir.is_dir() and not project_dir.name.startswith("."):
                found.append(ProjectDirectory(owner_dir.name, project_dir.name, project_dir))
    return found


def _copy_regular_file(source: str, destination: str) -> str:
    """Copy files only: a FIFO or device left by a job would otherwise block or fail the copy."""
    mode = os.lstat(source).st_mode
    if stat.S_ISREG(mode):
        return str(shutil.copy2(source, destination))
    return destination


def copy_tree(source: Path, destination: Path) -> None:
    """Copy a directory tree, keeping symlinks as links so a job cannot smuggle outside files in."""
    shutil.copytree(
        source,
        destination,
        symlinks=True,
        copy_function=_copy_regular_file,
        dirs_exist_ok=True,
    )


class UnknownCommitError(ValueError):
    """Raised for a commit id that is malformed or has no snapshot on disk."""


class CommitStore:
    """Creates and checks out snapshots under ``root``; blocking, call it from a worker thread."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)

    def path_for(self, commit_id: str) -> Path:
        """The snapshot directory of ``commit_id``; rejects anything that is not 40 hex digits."""
        if not _COMMIT_ID.match(commit_id):
            raise UnknownCommitError(commit_id)
        return self._root / commit_id

    def snapshot(self, source: Path) -> str:
        """Copy ``source`` into a new commit and return its id.

        The copy lands in a temporary name first and is renamed into place, so a crash mid-copy
        never leaves a half-written commit behind under a valid id.
        """
        commit_id = hashlib.sha1(uuid.uuid4().bytes).hexdigest()
        staging = self._root / f".staging-{commit_id}"
        if source.is_dir():
            copy_tree(source, staging)
        else:
            staging.mkdir()
        os.replace(staging, self.path_for(commit_id))
        return commit_id

    def checkout(self, commit_id: str, destination: Path) -> None:
        """Populate ``destination`` with the files of ``commit_id``."""
        source = self.path_for(commit_id)
        if not source.is_dir():
            raise UnknownCommitError(commit_id)
        copy_tree(source, destination)
