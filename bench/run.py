"""Run the provider's benchmarks and write ``bench/RESULTS.md`` (and the raw figures, ``results.json``).

    .venv/bin/python bench/run.py            # everything, about 12-15 minutes on 2 cores
    .venv/bin/python bench/run.py --quick    # smaller smoke run, a few minutes
    .venv/bin/python bench/run.py --scale --logs   # only some benchmarks

Each benchmark compares the provider with a baseline in the same run; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection_latency
import log_tail
import parse_cost
import report
import requests_per_job
import triggerer_scale
from common import BENCH_DIR, WorkDir, machine_info, provider_revision

BENCHMARKS = ("scale", "latency", "requests", "logs", "parse")
DEFAULT_SCALE_VARIANTS = [
    "ours",
    "ours_logs",
    "ours_httpx",
    "coalesced",
    "coalesced_logs",
    "databricks",
    "per_poll_client",
    "threads",
    "pool64",
    "gated8",
]

FULL: dict[str, dict[str, Any]] = {
    "scale": {"triggers": 1000, "job_seconds": 40.0, "poll": 2.0},
    "latency": {"jobs": 100, "poll": 2.0, "min_seconds": 1.0, "max_seconds": 10.0},
    "requests": {"scale": 20.0, "short_jobs": 5},
    "logs": {"bursts": 100, "pause": 0.25, "poll": 2.0},
    "parse": {"repetitions": 20, "dag_repetitions": 5},
}
QUICK: dict[str, dict[str, Any]] = {
    "scale": {"triggers": 100, "job_seconds": 10.0, "poll": 2.0},
    "latency": {"jobs": 20, "poll": 2.0, "min_seconds": 1.0, "max_seconds": 5.0},
    "requests": {"scale": 60.0, "short_jobs": 1},
    "logs": {"bursts": 10, "pause": 0.25, "poll": 2.0},
    "parse": {"repetitions": 3, "dag_repetitions": 1},
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller smoke run (100 triggers, 10 MB log...)")
    for name, text in (
        ("scale", "1. triggerer scale"),
        ("latency", "2. detection latency"),
        ("requests", "3. requests per job, fixed vs adaptive polling"),
        ("logs", "4. log tailing"),
        ("parse", "5. DAG parse cost"),
    ):
        parser.add_argument(f"--{name}", action="store_true", help=f"run {text} (default: all)")
    parser.add_argument("--triggers", type=int, help="triggers (and jobs) for the scale benchmark")
    parser.add_argument(
        "--projects", type=int, default=1, help="projects the scale benchmark's jobs are spread over"
    )
    parser.add_argument(
        "--scale-variants",
        default=",".join(DEFAULT_SCALE_VARIANTS),
        help="comma-separated: ours, ours_logs, ours_aiohttp, coalesced, coalesced_aiohttp, coalesced_logs, "
        "databricks, dbt_cloud, python_domino, per_poll_client, threads, pool64, gatedN (default: %(default)s)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="run the scale benchmark over https (a throwaway CA the workers trust; see bench/tls.py)",
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "RESULTS.md", help="the Markdown report")
    parser.add_argument("--keep-temp", action="store_true", help="keep work directories (worker logs)")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="run nothing: re-render --output from saved figures",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render:
        saved = json.loads(args.render.read_text())
        args.output.write_text(report.render(saved, report.notes(saved)))
        print(f"rendered {args.output} from {args.render}")
        return 0
    chosen = [name for name in BENCHMARKS if getattr(args, name)] or list(BENCHMARKS)
    settings = QUICK if args.quick else FULL
    if args.triggers:
        settings["scale"]["triggers"] = args.triggers
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", flush=True)

    log(f"benchmarks: {', '.join(chosen)}{' (quick)' if args.quick else ''}")
    results: dict[str, Any] = {
        "meta": {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": shlex.join(
                [".venv/bin/python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]
            ),
            "quick": args.quick,
            "machine": machine_info(),
            "provider": provider_revision(),
            "load_before": " ".join(f"{load:.2f}" for load in os.getloadavg()),
            "settings": {name: settings[name] for name in chosen},
        }
    }
    if "scale" in chosen:
        with WorkDir("scale", args.keep_temp) as work:
            variants = [name.strip() for name in args.scale_variants.split(",") if name.strip()]
            from airflow_provider_domino.hooks import transport

            results["scale"] = {
                "params": {**settings["scale"], "pool_size": getattr(transport, "ASYNC_POOL_SIZE", 64)},
                "variants": triggerer_scale.run(
                    **settings["scale"],
                    work_dir=work,
                    variants=variants,
                    log=log,
                    projects=args.projects,
                    tls=args.tls,
                ),
            }
    if "latency" in chosen:
        with WorkDir("latency", args.keep_temp) as work:
            results["latency"] = detection_latency.run(**settings["latency"], work_dir=work, log=log)
    if "requests" in chosen:
        with WorkDir("requests", args.keep_temp) as work:
            results["requests"] = requests_per_job.run(**settings["requests"], work_dir=work, log=log)
    if "logs" in chosen:
        with WorkDir("logs", args.keep_temp) as work:
            results["logs"] = log_tail.run(
                **settings["logs"], work_dir=work, variants=list(log_tail.VARIANTS), log=log
            )
    if "parse" in chosen:
        with WorkDir("parse", args.keep_temp) as work:
            results["parse"] = parse_cost.run(**settings["parse"], work_dir=work, log=log)
    results["meta"]["elapsed_seconds"] = time.monotonic() - started
    results["meta"]["load_after"] = " ".join(f"{load:.2f}" for load in os.getloadavg())
    for figures in results.get("scale", {}).get("variants", {}).values():
        figures["raw"].pop("trigger_seconds", None)  # thousands of numbers; the summaries keep what matters
    raw_path = args.output.with_name("results.json")
    raw_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    args.output.write_text(report.render(results, report.notes(results)))
    log(f"wrote {args.output} and {raw_path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
