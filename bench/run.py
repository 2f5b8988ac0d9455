"""Run the round-2 benchmark suite side by side and write ``bench/RESULTS.md`` (raw figures: ``results.json``).

    .venv/bin/python bench/run.py            # the whole suite, 22-30 minutes on 2 cores (make bench)
    .venv/bin/python bench/run.py --quick    # the same suite, smaller: a smoke run
    .venv/bin/python bench/run.py --b --missed   # only some parts; the others keep their saved figures
    .venv/bin/python bench/run.py --render bench/results.json   # re-render RESULTS.md, run nothing

Parts: A-http and A-https (300 triggers, the async client against the peers), B (1,000 triggers over 10
projects: coalescing, logs, a 1,000,000-line job), C (detection latency), D (JSON log tail), E (missed
transitions, a fault run) and the DAG parse cost. Each part's figures are saved with its own date,
commit and machine load, and a partial run merges into the saved ``results.json``, so ``RESULTS.md``
always shows everything measured so far. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import copy
import inspect
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection_latency
import log_tail
import missed_transitions
import parse_cost
import report
import requests_per_job
import triggerer_scale
from common import BENCH_DIR, WorkDir, machine_info, provider_revision

#: Every peer and our client, 300 triggers in one loop (part A, over http and over https).
A_VARIANTS = ["coalesced", "ours", "ours_httpx", "databricks", "dbt_cloud", "python_domino", "threads"]
B_VARIANTS = [
    "coalesced",
    "coalesced_logs",
    "ours_logs",
    "coalesced_logs_big",
    # The same without the provider's one-time freeze of the triggerer's start-up heap: what it buys.
    "coalesced_logs_no_freeze",
    "coalesced_logs_big_no_freeze",
]

#: The parts of the suite, in running order; ``requests`` (requests per job, adaptive vs fixed polling)
#: runs only when asked for (``--requests``): it is not one of round 2's targets.
SUITE = ("a_http", "a_https", "b", "latency", "logs", "missed", "parse")
OPTIONAL = ("requests",)
SCALE_PARTS = ("a_http", "a_https", "b")

FULL: dict[str, dict[str, Any]] = {
    "a_http": {"triggers": 300, "projects": 1, "job_seconds": 40.0, "poll": 2.0, "variants": A_VARIANTS},
    "a_https": {
        "triggers": 300,
        "projects": 1,
        "job_seconds": 40.0,
        "poll": 2.0,
        "variants": A_VARIANTS,
        "tls": True,
    },
    "b": {"triggers": 1000, "projects": 10, "job_seconds": 40.0, "poll": 2.0, "variants": B_VARIANTS},
    "latency": {"jobs": 100, "poll": 2.0, "min_seconds": 1.0, "max_seconds": 10.0},
    "logs": {"bursts": 100, "pause": 0.25, "poll": 2.0},
    "missed": {
        "triggers": 200,
        "projects": 2,
        "page_size": 20,
        "page_delay": 0.2,
        "list_lag": 6.0,
        "min_seconds": 1.0,
        "max_seconds": 30.0,
        "poll": 2.0,
    },
    "parse": {"repetitions": 20, "dag_repetitions": 5},
    "requests": {"scale": 20.0, "short_jobs": 5},
}
QUICK: dict[str, dict[str, Any]] = {
    "a_http": {**FULL["a_http"], "triggers": 50, "job_seconds": 6.0},
    "a_https": {**FULL["a_https"], "triggers": 50, "job_seconds": 6.0},
    # Jobs long enough for a steady state (every job still running) after the start-up burst.
    "b": {**FULL["b"], "triggers": 100, "projects": 4, "job_seconds": 16.0},
    "latency": {"jobs": 20, "poll": 2.0, "min_seconds": 1.0, "max_seconds": 5.0},
    "logs": {"bursts": 10, "pause": 0.25, "poll": 2.0},
    "missed": {**FULL["missed"], "triggers": 40, "page_size": 5, "list_lag": 3.0, "max_seconds": 8.0},
    "parse": {"repetitions": 3, "dag_repetitions": 1},
    "requests": {"scale": 60.0, "short_jobs": 1},
}


def estimate_seconds(part: str, settings: dict[str, Any]) -> float:
    """A rough wall time for one part on 2 cores (measured on the development machine), for the plan."""
    if part in SCALE_PARTS:
        # Start the jobs and wait for them, run them, tear the emulator down; one fresh emulator each.
        per_variant = settings["job_seconds"] + 5 + 0.025 * settings["triggers"]
        # Logging 1,000,000 lines at INFO takes about a minute of CPU beyond the jobs' own time.
        big = 60 if "coalesced_logs_big" in settings["variants"] else 0
        return per_variant * len(settings["variants"]) + big
    if part == "latency":
        return settings["max_seconds"] + 10
    if part == "logs":
        return len(log_tail.VARIANTS) * (settings["bursts"] * settings["pause"] + 8)
    if part == "missed":
        return settings["max_seconds"] + settings["list_lag"] + 5
    if part == "parse":
        return 3 * settings["repetitions"] + 4 * settings["dag_repetitions"] + 5
    if part == "requests":
        return 600 / settings["scale"] + 40 * settings["short_jobs"]
    return 60.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="the same suite, smaller (a smoke run)")
    for flag, text in (
        ("a-http", "A-http: 300 triggers, one project, the client against the peers"),
        ("a-https", "A-https: the same over TLS"),
        ("b", "B: 1,000 triggers over 10 projects (coalescing, logs, a 1,000,000-line job)"),
        ("scale", "A-http, A-https and B"),
        ("latency", "C: detection latency"),
        ("logs", "D: the JSON log tail"),
        ("missed", "E: missed transitions (fault run)"),
        ("parse", "the DAG parse cost"),
        ("requests", "requests per job, adaptive vs fixed polling (not in the default suite)"),
    ):
        parser.add_argument(f"--{flag}", action="store_true", help=f"run {text}")
    parser.add_argument("--triggers", type=int, help="triggers (and jobs) for the chosen scale parts")
    parser.add_argument("--projects", type=int, help="projects the chosen scale parts spread their jobs over")
    parser.add_argument(
        "--scale-variants",
        help="comma-separated triggerer-scale variants for the chosen scale parts (default: each part's own; "
        "see triggerer_scale.VARIANTS)",
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


def chosen_parts(args: argparse.Namespace) -> list[str]:
    """The parts the flags ask for, in suite order; none asked for means the whole suite."""
    wanted = {part for part in (*SUITE, *OPTIONAL) if getattr(args, part)}
    if args.scale:
        wanted.update(SCALE_PARTS)
    return [part for part in (*SUITE, *OPTIONAL) if part in wanted] or list(SUITE)


def part_settings(args: argparse.Namespace, parts: list[str]) -> dict[str, dict[str, Any]]:
    """Each chosen part's settings, with the command line's overrides for the scale parts."""
    base = QUICK if args.quick else FULL
    settings = {part: copy.deepcopy(base[part]) for part in parts}
    for part in parts:
        if part not in SCALE_PARTS:
            continue
        if args.triggers:
            settings[part]["triggers"] = args.triggers
        if args.projects:
            settings[part]["projects"] = args.projects
        if args.scale_variants:
            settings[part]["variants"] = [
                name.strip() for name in args.scale_variants.split(",") if name.strip()
            ]
    return settings


def load_saved(path: Path) -> dict[str, Any]:
    """The saved round-2 figures, or an empty record (a missing file or the text era's format)."""
    if path.exists():
        saved = json.loads(path.read_text())
        if "parts" in saved:
            return dict(saved)
    return {"meta": {}, "parts": {}}


def unavailable_reason(name: str, tls: bool) -> str | None:
    """Why a triggerer-scale variant cannot run in this checkout, or None if it can."""
    if tls and "tls" not in inspect.signature(triggerer_scale.run).parameters:
        return "not available: triggerer_scale.run has no tls parameter in this checkout"
    try:
        triggerer_scale.variant_config(name)
    except ValueError:
        return f"not available: triggerer_scale has no variant {name!r} in this checkout"
    return None


def run_scale_part(settings: dict[str, Any], work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """One scale part, a variant at a time, so one variant that cannot run does not stop the others."""
    from airflow_provider_domino.hooks import transport

    tls = bool(settings.get("tls"))
    params = {key: value for key, value in settings.items() if key != "variants"}
    variants: dict[str, Any] = {}
    for name in settings["variants"]:
        reason = unavailable_reason(name, tls)
        if reason:
            log(f"  {name}: {reason}")
            variants[name] = {"not_available": reason}
            continue
        kwargs: dict[str, Any] = {
            "triggers": settings["triggers"],
            "job_seconds": settings["job_seconds"],
            "poll": settings["poll"],
            "projects": settings["projects"],
        }
        if tls:
            kwargs["tls"] = True
        try:
            figures = triggerer_scale.run(**kwargs, work_dir=work, variants=[name], log=log)[name]
        except Exception as err:  # a peer's package missing, a stub that would not start...
            log(f"  {name}: failed: {err!r}"[:2000])
            variants[name] = {"not_available": f"failed: {last_line(err)}"}
            continue
        figures["raw"].pop("trigger_seconds", None)  # thousands of numbers; the summaries keep what matters
        variants[name] = figures
    return {
        "params": {**params, "pool_size": getattr(transport, "ASYNC_POOL_SIZE", 16)},
        "variants": variants,
    }


def last_line(err: BaseException) -> str:
    """The line of an error that says what went wrong (a worker's error ends with its traceback's last line)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return (lines[-1] if lines else repr(err))[:300]


def run_part(part: str, settings: dict[str, Any], work: Path, log: Callable[[str], None]) -> dict[str, Any]:
    """Run one part with its own module and method; returns its figures."""
    if part in SCALE_PARTS:
        return run_scale_part(settings, work, log)
    if part == "latency":
        return detection_latency.run(**settings, work_dir=work, log=log)
    if part == "logs":
        return log_tail.run(**settings, work_dir=work, variants=list(log_tail.VARIANTS), log=log)
    if part == "missed":
        return missed_transitions.run(**settings, work_dir=work, log=log)
    if part == "parse":
        return parse_cost.run(**settings, work_dir=work, log=log)
    if part == "requests":
        return requests_per_job.run(**settings, work_dir=work, log=log)
    raise ValueError(f"unknown part {part!r}")


def _load() -> str:
    return " ".join(f"{load:.2f}" for load in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    raw_path = args.output.with_name("results.json")
    if args.render:
        saved = load_saved(args.render)
        args.output.write_text(report.render(saved))
        print(f"rendered {args.output} from {args.render}")
        return 0
    parts = chosen_parts(args)
    settings = part_settings(args, parts)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:6.0f} s] {message}", flush=True)

    estimates = {part: estimate_seconds(part, settings[part]) for part in parts}
    log(
        f"parts: {', '.join(parts)}{' (quick)' if args.quick else ''}; estimated run time "
        f"{sum(estimates.values()) / 60:.0f} min ("
        + ", ".join(
            f"{report.PART_TITLES.get(part, part)} ~{seconds / 60:.1f}" for part, seconds in estimates.items()
        )
        + ")"
    )
    results = load_saved(raw_path)
    command = shlex.join([".venv/bin/python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    provider = provider_revision()
    results["meta"].update(machine=machine_info(), last_command=command)
    failed = 0
    for part in parts:
        part_started = time.monotonic()
        meta = {
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "command": command,
            "quick": args.quick,
            "provider": provider,
            "load_before": _load(),
            "settings": settings[part],
        }
        log(f"{report.PART_TITLES.get(part, part)}: load {meta['load_before']}")
        try:
            with WorkDir(part, args.keep_temp) as work:
                figures = run_part(part, settings[part], work, log)
        except Exception as err:  # keep the part's saved figures, say that this attempt failed
            failed += 1
            log(f"{part} failed: {err!r}"[:3000])
            results.setdefault("failed", {})[part] = {"date": meta["date"], "error": str(err)[:500]}
            continue
        meta["load_after"] = _load()
        meta["elapsed_seconds"] = time.monotonic() - part_started
        results["parts"][part] = {"meta": meta, "figures": figures}
        results.get("failed", {}).pop(part, None)
        # Saved after every part: a run cut short keeps what it measured.
        raw_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
        args.output.write_text(report.render(results))
    raw_path.write_text(json.dumps(results, indent=1, default=str) + "\n")
    args.output.write_text(report.render(results))
    log(f"wrote {args.output} and {raw_path.name} ({(time.monotonic() - started) / 60:.1f} min)")
    missed = results["parts"].get("missed", {}).get("figures", {})
    if "missed" in parts and missed and not missed.get("ok", True):
        log("E: TRANSITIONS WERE MISSED (see RESULTS.md)")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
