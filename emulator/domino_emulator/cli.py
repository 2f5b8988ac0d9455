"""``domino-emulator``: parse the command line, refuse unsafe binds, then serve.

The emulator executes whatever command a request sends it, so by default it only listens
on a loopback address; ``--allow-remote`` is the explicit opt-in for anything else.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from domino_emulator.faults import FaultConfigError, FaultInjector
from domino_emulator.settings import (
    DEFAULT_LOG_PAGE_CAP,
    ONE_MIB,
    EmulatorSettings,
    HardwareTier,
)

API_KEY_ENV = "DOMINO_EMULATOR_API_KEY"
EXIT_USAGE = 2


class _UsageError(Exception):
    """A command-line problem: reported on stderr with exit code 2."""


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP literals (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="domino-emulator",
        description="Run a local emulator of the Domino Jobs API that executes jobs as local processes.",
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free port")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (loopback unless --allow-remote)"
    )
    parser.add_argument(
        "--api-key", help=f"the API key clients must send (default: ${API_KEY_ENV}); never printed"
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback --host (jobs run arbitrary commands!)",
    )
    parser.add_argument("--projects-dir", type=Path, help="directory holding <owner>/<name>/ project dirs")
    parser.add_argument("--state", type=Path, help="SQLite file keeping state across restarts")
    parser.add_argument(
        "--max-concurrent-per-tier", type=int, default=4, help="jobs running at once per hardware tier"
    )
    parser.add_argument(
        "--hardware-tier",
        action="append",
        default=[],
        metavar="ID=NAME[:CENTS]",
        help="a hardware tier every project offers, with its price in cents per minute (default 0) "
        "(repeatable; replaces the defaults small-k8s=Small:0.8, medium-k8s=Medium:2, "
        "large-k8s=Large:6.5, gpu-small-k8s=GPU Small:25; the first is the default)",
    )
    parser.add_argument(
        "--faults", metavar="JSON_OR_@FILE", help="fault-injection configuration (tests only)"
    )
    parser.add_argument(
        "--ignore-range", action="store_true", help="answer log requests in full, ignoring Range"
    )
    parser.add_argument(
        "--proxy-port", type=int, help="also listen here without auth, like Domino's in-run proxy"
    )
    parser.add_argument(
        "--ready-file", type=Path, help="write the base URL here once connections are accepted"
    )
    parser.add_argument("--max-body-bytes", type=int, default=ONE_MIB, help="largest accepted request body")
    parser.add_argument(
        "--flat-shapes",
        action="store_true",
        help="answer in the simplified reference's flat shapes (text logs with Range) instead of "
        "Domino's published ones",
    )
    parser.add_argument(
        "--list-lag",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep a new job out of the beta job list for this long, as Domino's list lags behind",
    )
    parser.add_argument(
        "--log-page-cap",
        type=int,
        default=DEFAULT_LOG_PAGE_CAP,
        metavar="LINES",
        help="most log entries one logs call returns, whatever limit asks (default "
        f"{DEFAULT_LOG_PAGE_CAP}); at most half as many entries share one timestamp",
    )
    parser.add_argument(
        "--ssl-certfile",
        type=Path,
        metavar="PEM",
        help="serve https with this certificate (chain); the base URL becomes https://HOST:PORT",
    )
    parser.add_argument(
        "--ssl-keyfile", type=Path, metavar="PEM", help="the private key of --ssl-certfile (if not in it)"
    )
    return parser


def _parse_tiers(values: Sequence[str]) -> tuple[HardwareTier, ...] | None:
    tiers: list[HardwareTier] = []
    for value in values:
        tier_id, separator, name = value.partition("=")
        if not separator or not tier_id.strip() or not name.strip():
            raise _UsageError(f"--hardware-tier expects ID=NAME[:CENTS], got {value!r}")
        price = 0.0
        label, colon, cents = name.rpartition(":")
        if colon:
            try:
                price = float(cents)
            except ValueError:
                raise _UsageError(f"--hardware-tier price must be a number of cents, got {cents!r}") from None
            if price < 0 or not label.strip():
                raise _UsageError(f"--hardware-tier expects ID=NAME[:CENTS], got {value!r}")
            name = label
        tiers.append(HardwareTier(tier_id.strip(), name.strip(), price))
    return tuple(tiers) or None


def _parse_faults(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        text = Path(value[1:]).read_text() if value.startswith("@") else value
        config = json.loads(text)
        FaultInjector.from_config(config)
    except OSError as exc:
        raise _UsageError(f"--faults: cannot read {value[1:]}: {exc.strerror}") from None
    except ValueError as exc:  # JSONDecodeError and FaultConfigError
        kind = "invalid fault configuration" if isinstance(exc, FaultConfigError) else "invalid JSON"
        raise _UsageError(f"--faults: {kind}: {exc}") from None
    assert isinstance(config, dict)
    return config


def _settings_from(args: argparse.Namespace) -> EmulatorSettings:
    api_key = args.api_key or os.environ.get(API_KEY_ENV)
    if not api_key:
        raise _UsageError(f"an API key is required: pass --api-key or set {API_KEY_ENV}")
    if not args.allow_remote and not is_loopback(args.host):
        raise _UsageError(
            f"refusing to listen on non-loopback address {args.host!r}: the emulator executes the "
            "commands it is sent, so anyone who can reach it can run programs as you. "
            "Pass --allow-remote to do it anyway."
        )
    for name, port in (("--port", args.port), ("--proxy-port", args.proxy_port)):
        if port is not None and not 0 <= port <= 65535:
            raise _UsageError(f"{name} must be between 0 and 65535")
    if args.max_concurrent_per_tier < 1:
        raise _UsageError("--max-concurrent-per-tier must be at least 1")
    if args.max_body_bytes < 1:
        raise _UsageError("--max-body-bytes must be positive")
    if args.list_lag < 0:
        raise _UsageError("--list-lag must not be negative")
    if not 2 <= args.log_page_cap <= 10_000:  # an inclusive cursor needs room past one timestamp
        raise _UsageError("--log-page-cap must be between 2 and 10000")
    if args.ssl_keyfile is not None and args.ssl_certfile is None:
        raise _UsageError("--ssl-keyfile needs --ssl-certfile")
    for name, path in (("--ssl-certfile", args.ssl_certfile), ("--ssl-keyfile", args.ssl_keyfile)):
        if path is not None and not path.is_file():
            raise _UsageError(f"{name} {path} is not a file")
    if args.projects_dir is not None and not args.projects_dir.is_dir():
        raise _UsageError(f"--projects-dir {args.projects_dir} is not a directory")
    settings = EmulatorSettings(
        api_keys=[api_key],
        host=args.host,
        port=args.port,
        proxy_port=args.proxy_port,
        projects_dir=args.projects_dir.resolve() if args.projects_dir else None,
        state_file=args.state.resolve() if args.state else None,
        max_concurrent_per_tier=args.max_concurrent_per_tier,
        faults=_parse_faults(args.faults),
        ignore_range=args.ignore_range,
        ready_file=args.ready_file,
        max_body_bytes=args.max_body_bytes,
        flat_shapes=args.flat_shapes,
        list_lag_seconds=args.list_lag,
        log_page_cap=args.log_page_cap,
        ssl_certfile=args.ssl_certfile.resolve() if args.ssl_certfile else None,
        ssl_keyfile=args.ssl_keyfile.resolve() if args.ssl_keyfile else None,
    )
    tiers = _parse_tiers(args.hardware_tier)
    if tiers:
        settings.hardware_tiers = tiers
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``domino-emulator`` and ``python -m domino_emulator``."""
    args = _build_parser().parse_args(argv)
    try:
        settings = _settings_from(args)
    except _UsageError as exc:
        print(f"domino-emulator: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for noisy in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Imported late: argument errors should not pay for importing FastAPI and uvicorn.
    from domino_emulator.server import run_server

    return run_server(settings)
