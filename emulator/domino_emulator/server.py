"""Binds the listening sockets and runs uvicorn, announcing readiness only once connections are accepted.

The emulator binds its sockets itself (rather than letting uvicorn do it) for three reasons:
``--port 0`` must resolve to a real port before the app starts (jobs receive the URL in
their environment), the in-run proxy is a second socket served by the *same* app and state,
and the ready file must not appear before both sockets accept connections.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn

from domino_emulator.app import create_app
from domino_emulator.context import EmulatorContext

if TYPE_CHECKING:
    from domino_emulator.settings import EmulatorSettings

logger = logging.getLogger("domino_emulator")

GRACEFUL_SHUTDOWN_SECONDS = 5


class _EmulatorServer(uvicorn.Server):
    """uvicorn's server with a readiness hook and plain, non-re-raising signal handling.

    uvicorn re-raises a captured SIGINT/SIGTERM after shutting down, which would make a
    graceful stop look like a crash (exit by signal); and a second Ctrl-C would skip the
    application shutdown, leaving jobs running. Here every signal just asks for a graceful
    exit, and the job shutdown always runs.
    """

    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        handled = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self._request_exit) for sig in handled}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)

    def _request_exit(self, sig: int, frame: FrameType | None) -> None:
        self.should_exit = True


def url_for(host: str, port: int, scheme: str = "http") -> str:
    """``http://host:port`` (or ``https``), with brackets around an IPv6 literal."""
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0 picks a free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    sock.set_inheritable(False)
    return sock


def write_ready_file(path: Path, base_url: str) -> None:
    """Write the base URL atomically, so a waiting reader never sees a partial file."""
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(base_url)
    os.replace(staging, path)


def run_server(settings: EmulatorSettings) -> int:
    """Serve until SIGINT/SIGTERM; returns the process exit code."""
    try:
        sockets = [bind_socket(settings.host, settings.port)]
        if settings.proxy_port is not None:
            sockets.append(bind_socket(settings.host, settings.proxy_port))
    except OSError as exc:
        print(f"domino-emulator: cannot listen on {settings.host}: {exc}", file=sys.stderr)
        return 1
    settings.port = sockets[0].getsockname()[1]
    settings.base_url = url_for(settings.host, settings.port, settings.scheme)
    if settings.proxy_port is not None:
        settings.proxy_port = sockets[1].getsockname()[1]
        settings.proxy_url = url_for(settings.host, settings.proxy_port, settings.scheme)

    context = EmulatorContext(settings)

    def announce() -> None:
        print(f"domino-emulator listening on {settings.base_url}", flush=True)
        if settings.proxy_url:
            print(f"domino-emulator in-run API proxy (no auth) on {settings.proxy_url}", flush=True)
        if settings.ready_file is not None:
            write_ready_file(settings.ready_file, settings.base_url)

    config = uvicorn.Config(
        create_app(context),
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        # uvicorn wraps every socket it is handed in TLS when given a certificate.
        ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
    )
    server = _EmulatorServer(config, announce)
    server.run(sockets=sockets)
    for sock in sockets:
        sock.close()
    return 0 if server.started else 1
