"""Run the docker-compose.yml deployment on this machine, without Docker: what ``make stack`` does.

    python scripts/stack.py [--port 8080] [--keep]

Starts, in a throwaway directory (removed at the end unless ``--keep``):

1. PostgreSQL from the machine's binaries (``initdb``/``postgres``) on a free loopback port;
2. the Domino emulator with the example project ``demo/churn``;
3. ``airflow db migrate`` and the admin login, as compose's ``airflow-init`` does;
4. ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer``, each its own process,
   with the commands and environment of their compose services (so ``domino_default`` points at the
   emulator and the connection Test button is enabled).

Then prints the UI address and login and waits. Ctrl-C (SIGINT) or SIGTERM stops everything in reverse
order; no process is left behind. Every server listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack_harness import EXECUTORS, Stack, StackError, port_is_free


class _Stop(Exception):
    """Raised from the signal handler to leave the wait loop."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def say(message: str) -> None:
    print(message, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run Airflow + the Domino emulator as docker-compose.yml does."
    )
    parser.add_argument("--port", type=int, default=8080, help="UI/API port (a free one if taken)")
    parser.add_argument("--keep", action="store_true", help="keep the run directory (logs, database)")
    parser.add_argument("--exit-when-ready", action="store_true", help="stop right after start-up (a check)")
    parser.add_argument(
        "--executor",
        choices=sorted(EXECUTORS),
        default="local",
        help="local: LocalExecutor; celery: CeleryExecutor with Redis and two Celery workers",
    )
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    work_dir = Path(tempfile.mkdtemp(prefix="domino-stack-"))
    port = args.port if port_is_free(args.port) else 0
    stack = Stack(work_dir, api_port=port, executor=args.executor, log=say)
    begun = time.monotonic()
    code = 0
    try:
        say(f"stack: starting in {work_dir} (logs in {work_dir / 'logs'})")
        stack.start()
        say("")
        say(f"stack: up in {time.monotonic() - begun:.0f}s")
        say(f"  Airflow UI:      {stack.ui_url}   (log in as {stack.username} / {stack.password})")
        say(f"  Domino emulator: {stack.emulator.url}   (project demo/churn; connection domino_default)")
        say(f"  DAGs folder:     {stack.dags_folder}   (paused at creation: unpause one, then trigger it)")
        say("  Stop with Ctrl-C.")
        if not args.exit_when_ready:
            while True:
                for process in stack.services.values():
                    if not process.running():
                        raise StackError(f"{process.name} exited:\n{process.output()}")
                time.sleep(1)
    except _Stop as stop:
        say(f"\nstack: {stop}, stopping")
    except StackError as exc:
        say(f"stack: FAILED: {exc}")
        code = 1
    finally:
        # A second Ctrl-C must not leave processes behind half-way through stopping.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        took = stack.stop()
        if took:
            say("stack: stopped " + ", ".join(f"{name} {seconds:.1f}s" for name, seconds in took.items()))
        if args.keep:
            say(f"stack: kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
