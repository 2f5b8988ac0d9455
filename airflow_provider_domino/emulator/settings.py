"""The emulator's start-up configuration, shared by the CLI, the app and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ONE_MIB = 1024 * 1024


@dataclass(frozen=True)
class HardwareTier:
    """A hardware tier jobs may ask for, by ``id`` exactly or by ``name`` case-insensitively."""

    id: str
    name: str


DEFAULT_HARDWARE_TIERS: tuple[HardwareTier, ...] = (
    HardwareTier("small", "Small"),
    HardwareTier("medium", "Medium"),
    HardwareTier("large", "Large"),
    HardwareTier("gpu-small", "GPU Small"),
)


@dataclass
class EmulatorSettings:
    """Everything the command line decides; the defaults match ``domino-emulator --help``."""

    api_keys: list[str]
    host: str = "127.0.0.1"
    port: int = 8765
    proxy_port: int | None = None
    projects_dir: Path | None = None
    state_file: Path | None = None
    max_concurrent_per_tier: int = 4
    hardware_tiers: tuple[HardwareTier, ...] = DEFAULT_HARDWARE_TIERS
    faults: dict[str, Any] | None = None
    ignore_range: bool = False
    ready_file: Path | None = None
    max_body_bytes: int = ONE_MIB
    # Filled in by the server once the sockets are bound (port 0 becomes a real port).
    base_url: str = ""
    proxy_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def resolve_hardware_tier(self, requested: str, is_direct: bool) -> HardwareTier | None:
        """Find the tier a job asked for, the way Domino does.

        An exact id always matches; a case-insensitive name only matches when the caller did
        not promise a direct id (``isDirectHardwareTierId``), as python-domino passes names.
        """
        for tier in self.hardware_tiers:
            if tier.id == requested:
                return tier
        if not is_direct:
            wanted = requested.casefold()
            for tier in self.hardware_tiers:
                if tier.name.casefold() == wanted:
                    return tier
        return None
