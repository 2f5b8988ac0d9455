"""The emulator's shared state: one object the routes, the middleware and the CLI all use."""

from __future__ import annotations

import asyncio
import hmac
import logging
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from domino_emulator.faults import FaultInjector
from domino_emulator.models import utc_now_iso
from domino_emulator.projects import CommitStore, discover_projects
from domino_emulator.requestlog import RequestLog
from domino_emulator.runner import JobRunner
from domino_emulator.store import ProjectRecord, StateStore

if TYPE_CHECKING:
    from domino_emulator.settings import EmulatorSettings

logger = logging.getLogger("domino_emulator")

DEFAULT_PROJECT = ("demo", "quickstart")


class EmulatorContext:
    """Owns the store, the commits, the runner, the fault rules, the request log and the keys.

    Without ``--state`` everything lives in a temporary directory removed on graceful exit;
    with it, files go to ``<state>.d`` next to the SQLite file so a restart finds them again.
    """

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._temporary_dir: Path | None = None
        if settings.state_file is not None:
            database = settings.state_file
            database.parent.mkdir(parents=True, exist_ok=True)
            self.data_dir = Path(str(settings.state_file) + ".d")
        else:
            self._temporary_dir = Path(tempfile.mkdtemp(prefix="domino-emulator-"))
            database = self._temporary_dir / "state.sqlite"
            self.data_dir = self._temporary_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(database)
        self.commits = CommitStore(self.data_dir / "commits")
        self.runner = JobRunner(self.store, self.commits, settings, self.data_dir / "jobs")
        self.faults = FaultInjector.from_config(settings.faults)
        self.request_log = RequestLog()
        self._api_keys: list[str] = list(settings.api_keys)
        self._every_key_seen: set[str] = set(self._api_keys)

    # --------------------------------------------------------- run-time knobs
    def runtime_settings(self) -> dict[str, object]:
        """The settings tests may change while the emulator runs (``/_emulator/settings``)."""
        return {
            "flatShapes": self.settings.flat_shapes,
            "listLagSeconds": self.settings.list_lag_seconds,
            "logPageCap": self.settings.log_page_cap,
            "maxConcurrentPerTier": self.settings.max_concurrent_per_tier,  # read-only
        }

    def update_runtime_settings(self, changes: dict[str, object]) -> None:
        """Apply ``listLagSeconds`` and/or ``logPageCap``; ValueError names a bad key or value."""
        for key, value in changes.items():
            if key == "listLagSeconds":
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise ValueError("'listLagSeconds' must be a non-negative number")
            elif key == "logPageCap":
                if not isinstance(value, int) or isinstance(value, bool) or not 2 <= value <= 10_000:
                    raise ValueError("'logPageCap' must be an integer from 2 to 10000")
            else:
                raise ValueError(f"unknown setting '{key}' (known: listLagSeconds, logPageCap)")
        if "listLagSeconds" in changes:
            self.settings.list_lag_seconds = float(changes["listLagSeconds"])  # type: ignore[arg-type]
        if "logPageCap" in changes:
            self.settings.log_page_cap = int(changes["logPageCap"])  # type: ignore[call-overload]

    # ------------------------------------------------------------------- keys
    def is_valid_key(self, candidate: str) -> bool:
        """Constant-time comparison against every accepted key."""
        encoded = candidate.encode()
        return any(hmac.compare_digest(encoded, key.encode()) for key in self._api_keys)

    def replace_keys(self, keys: list[str]) -> None:
        """Accept exactly ``keys`` from now on (lets tests prove a token file is re-read)."""
        self._api_keys = list(keys)
        self._every_key_seen.update(keys)

    @property
    def secrets(self) -> set[str]:
        """Every key ever accepted, so the request log can mask them."""
        return self._every_key_seen

    @property
    def ignore_range(self) -> bool:
        """Whether the logs endpoint must ignore ``Range`` (CLI flag or fault configuration)."""
        return self.settings.ignore_range or self.faults.ignore_range

    # -------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Snapshot new projects, then resume the jobs a previous run left behind."""
        await self._register_projects()
        await self.runner.recover()

    async def close(self) -> None:
        """Stop every running job, close the database and remove temporary files."""
        await self.runner.shutdown()
        self.store.close()
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)

    def _projects_dir(self) -> Path:
        if self.settings.projects_dir is not None:
            return self.settings.projects_dir
        default_root = self.data_dir / "default-projects"
        (default_root / DEFAULT_PROJECT[0] / DEFAULT_PROJECT[1]).mkdir(parents=True, exist_ok=True)
        return default_root

    async def _register_projects(self) -> None:
        """Give every project directory not yet known an initial commit (known ones keep their head)."""
        for directory in discover_projects(self._projects_dir()):
            if self.store.project(directory.id) is not None:
                continue
            commit_id = await asyncio.to_thread(self.commits.snapshot, directory.path)
            self.store.add_commit(commit_id, directory.id, utc_now_iso(), None)
            self.store.add_project(
                ProjectRecord(directory.id, directory.owner, directory.name, commit_id, commit_id)
            )
            logger.info(
                "Project %s/%s (%s) at commit %s", directory.owner, directory.name, directory.id, commit_id
            )
