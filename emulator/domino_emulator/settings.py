"""The emulator's start-up configuration, shared by the CLI, the app and the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ONE_MIB = 1024 * 1024


#: Largest ``limit`` the logs route honours per call; Domino's own cap is 10,000, and a lower one
#: here makes every client page even on small logs.
DEFAULT_LOG_PAGE_CAP = 1000
#: At most this many log entries share one timestamp (a burst is split into such groups).
MAX_LINES_PER_TIMESTAMP = 100


@dataclass(frozen=True)
class HardwareTier:
    """A hardware tier: the published API takes its ``id``; people know it by its ``name``.

    ``cents_per_minute`` is its price (``centsPerMinute`` in the tier list), made up but fixed, so a
    client's cost estimate can be checked against it.
    """

    id: str
    name: str
    cents_per_minute: float = 0.0


#: Ids differ from names, as on a real Domino, so a client that sends a name where an id
#: belongs fails here too. The first tier is every project's default.
DEFAULT_HARDWARE_TIERS: tuple[HardwareTier, ...] = (
    HardwareTier("small-k8s", "Small", 0.8),
    HardwareTier("medium-k8s", "Medium", 2.0),
    HardwareTier("large-k8s", "Large", 6.5),
    HardwareTier("gpu-small-k8s", "GPU Small", 25.0),
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
    #: Serve the simplified reference's flat responses instead of Domino's published shapes.
    flat_shapes: bool = False
    #: Seconds a new job stays missing from the beta list (Domino's list lags behind starts).
    list_lag_seconds: float = 0.0
    #: Changeable at run time (``/_emulator/settings``), like ``list_lag_seconds``.
    log_page_cap: int = DEFAULT_LOG_PAGE_CAP
    #: PEM certificate (chain) and key: serve https instead of http (both sockets, proxy included).
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None

    @property
    def scheme(self) -> str:
        """``https`` when a certificate is configured, else ``http``."""
        return "https" if self.ssl_certfile is not None else "http"

    @property
    def lines_per_timestamp(self) -> int:
        """How many log entries may share one timestamp: 100, or fewer under a small page cap.

        An inclusive cursor cannot move past more entries at one timestamp than a page holds,
        so a group stays at most half a page.
        """
        return max(1, min(MAX_LINES_PER_TIMESTAMP, self.log_page_cap // 2))

    # Filled in by the server once the sockets are bound (port 0 becomes a real port).
    base_url: str = ""
    proxy_url: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def tier_by_id(self, tier_id: str) -> HardwareTier | None:
        """The tier with exactly this id, or None."""
        for tier in self.hardware_tiers:
            if tier.id == tier_id:
                return tier
        return None

    def resolve_hardware_tier(self, requested: str, is_direct: bool) -> HardwareTier | None:
        """Find a tier the lenient way of the simplified reference (``--flat-shapes`` only).

        An exact id always matches; a case-insensitive name only matches when the caller did
        not promise a direct id (``isDirectHardwareTierId``). The published API takes ids only.
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
