"""Run the bench and write ``bench/results.json`` and ``bench/RESULTS.md`` (how each figure is made: README.md).

    .venv/bin/python bench/run.py                  # everything, 3 runs each (make bench)
    .venv/bin/python bench/run.py --quick          # a smoke run: small sizes, 1 run, written to a temp dir
    .venv/bin/python bench/run.py --parts per_job --runs 1 --sizes 20 --job-seconds 10

Parts: ``per_job`` (ours vs Databricks' trigger, 50 and 300 triggers, http and https), ``coalesced``
(1,000 triggers over 10 projects, logs on), ``big_log`` (a 1,000,000-line job among 999 triggers),
``unfavourable`` (5 watched jobs in a project with 2,000 active jobs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import API_KEY, BACKGROUND_TIER, DatabricksStub, Emulator
from stats import spread
from tls import TlsFiles, make_certificates

BENCH = Path(__file__).resolve().parent

PARTS = ("per_job", "coalesced", "big_log", "unfavourable")
FULL: dict[str, Any] = {
    "runs": 3,
    "poll": 2.0,
    "per_job": {"sizes": [50, 300], "schemes": ["http", "https"], "job_seconds": 16.0},
    "coalesced": {"triggers": 1000, "projects": 10, "job_seconds": 30.0},
    "big_log": {"triggers": 1000, "projects": 10, "job_seconds": 30.0, "lines": 1_000_000},
    "unfavourable": {"watched": 5, "active": 2000, "job_seconds": 20.0},
}
QUICK: dict[str, Any] = {
    "runs": 1,
    "poll": 2.0,
    "per_job": {"sizes": [20], "schemes": ["http", "https"], "job_seconds": 10.0},
    "coalesced": {"triggers": 20, "projects": 2, "job_seconds": 10.0},
    "big_log": {"triggers": 20, "projects": 2, "job_seconds": 10.0, "lines": 20_000},
    "unfavourable": {"watched": 5, "active": 100, "job_seconds": 10.0},
}
#: The 1,000,000-line job: the lines in 100 bursts spread over the job's time.
BIG_LOG_WRITER = """import sys, time
lines, seconds = int(sys.argv[1]), float(sys.argv[2])
per_burst = lines // 100
for burst in range(100):
    first = burst * per_burst
    sys.stdout.write("".join(f"line {n:07d} of a long log\\n" for n in range(first, first + per_burst)))
    sys.stdout.flush()
    time.sleep(seconds / 100)
"""


def writing_job(seconds: float) -> str:
    """A job that prints four lines over its run (a shell, not Python: 1,000 of them start at once)."""
    third = seconds / 3
    return f"echo started; sleep {third:g}; echo one third; sleep {third:g}; echo two thirds; sleep {third:g}; echo done"


def estimate_seconds(settings: dict[str, Any], parts: list[str]) -> float:
    """Wall time on 2 cores, calibrated on the development machine: a run lasts its jobs' time plus about 3 s
    (the jobs start while the worker starts up), plus 0.025 s per job started; the 1,000,000-line job's
    trigger needs about 70 s to log every line. https adds the certificate check (~16 s)."""
    runs, per_job, estimate = settings["runs"], settings["per_job"], {}
    per_run = sum(2 * (per_job["job_seconds"] + 3) + 0.01 * size for size in per_job["sizes"])
    estimate["per_job"] = sum(3 + 16 * (scheme == "https") + runs * per_run for scheme in per_job["schemes"])
    for part in ("coalesced", "big_log"):
        figures = settings[part]
        longest = max(figures["job_seconds"], figures.get("lines", 0) / 15_000)
        estimate[part] = 2 * runs * (longest + 5 + 0.025 * figures["triggers"])  # and the opt-in freeze
    unfavourable = settings["unfavourable"]
    estimate["unfavourable"] = 3 + 0.002 * unfavourable["active"] + runs * (unfavourable["job_seconds"] + 3)
    return sum(estimate[part] for part in parts)


# ------------------------------------------------------------------------------------------- running


class Bench:
    """Runs workers against servers and keeps every run's figures."""

    def __init__(self, settings: dict[str, Any], work: Path, log: Any) -> None:
        self.settings, self.work, self.log = settings, work, log
        self.poll: float = settings["poll"]
        self.results: dict[str, Any] = {}
        self._count = 0

    def env(self, connection: tuple[str, dict[str, Any]], ca: Path | None) -> dict[str, str]:
        """The worker's environment: a private Airflow home, Airflow's default log level (INFO), the
        connection by environment variable and, over https, the throwaway CA as the only one trusted."""
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DOMINO_", "AIRFLOW"))}
        env.pop("SSL_CERT_DIR", None)
        if ca is not None:
            env.update(SSL_CERT_FILE=str(ca), REQUESTS_CA_BUNDLE=str(ca))
        env.update(
            AIRFLOW_HOME=str(self.work / "airflow"),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            PYTHONDONTWRITEBYTECODE="1",
        )
        env[f"AIRFLOW_CONN_{connection[0].upper()}"] = json.dumps(connection[1])
        return env

    def worker(self, config: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
        """Run ``worker.py`` with ``config`` and return its figures (its output goes to a log file)."""
        self._count += 1
        name = f"worker{self._count}"
        out, log_path = self.work / f"{name}.json", self.work / f"{name}.log"
        config_path = self.work / f"{name}.config.json"
        config_path.write_text(json.dumps({**config, "poll": self.poll, "out": str(out)}))
        with open(log_path, "wb") as log:
            code = subprocess.run(
                [sys.executable, str(BENCH / "worker.py"), str(config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=timeout + 120,
                check=False,
            ).returncode
        if code != 0 or not out.exists():
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{name} failed with exit code {code}:\n{tail}")
        result: dict[str, Any] = json.loads(out.read_text())
        if result.get("failures") or result.get("unfinished"):
            self.log(f"    {name}: {result.get('unfinished')} unfinished, failures {result.get('failures')}")
        if config.get("tls_check"):  # what the client said about the certificate, if it logged it
            said = log_path.read_text(errors="replace")
            result["certificate_error_logged"] = bool(
                re.search("certificate verify failed|CertificateError", said)
            )
        log_path.unlink()  # a million logged lines are 30 MB
        return result

    def figures(self, result: dict[str, Any], counts: dict[str, int], polls: int) -> dict[str, Any]:
        """One run's figures, from the worker's result and the server's request counts."""
        requests = sum(counts.values())
        status = counts.get("get_job", 0) + counts.get("list_jobs", 0) + counts.get("runs_get", 0)
        intervals = sum(result["event_seconds"]) / self.poll  # each trigger's watched time, in intervals
        keep = ("wall_s", "cpu_s", "gc_full_collections", "gc_full_longest_ms", "events", "unfinished")
        lags = {key: value for key, value in result.items() if key.startswith(("lag_", "steady_"))}
        return {
            **{key: result[key] for key in keep},
            **lags,
            "requests": counts,
            "polls": polls,
            "watched_s": sum(result["event_seconds"]) / len(result["event_seconds"])
            if result["event_seconds"]
            else float("nan"),
            "cpu_ms_per_poll": 1000 * result["cpu_s"] / polls if polls else float("nan"),
            "cpu_ms_per_request": 1000 * result["cpu_s"] / requests if requests else float("nan"),
            "cpu_ms_per_trigger_interval": 1000 * result["cpu_s"] / intervals if intervals else float("nan"),
            "polls_per_trigger_interval": polls / intervals if intervals else float("nan"),
            "requests_per_trigger_interval": requests / intervals if intervals else float("nan"),
            "status_requests_per_trigger_interval": status / intervals if intervals else float("nan"),
            "log_requests_per_trigger_interval": counts.get("get_job_logs", 0) / intervals
            if intervals
            else float("nan"),
        }

    def measure(self, key: str, one_run: Callable[..., dict[str, Any]], *args: Any, **kwargs: Any) -> None:
        """``one_run(*args, **kwargs)``'s figures kept under ``key``; a run that fails is reported, and the
        others go on."""
        try:
            figures = one_run(*args, **kwargs)
        except Exception as err:
            self.log(f"    {key}: FAILED: {err}")
            self.results.setdefault("failed", []).append({"figure": key, "error": str(err)[-500:]})
            return
        self.results.setdefault(key, []).append(figures)
        self.log(
            f"    {key}: CPU {figures['cpu_s']:.2f} s, {figures['cpu_ms_per_poll']:.3f} ms/poll, "
            f"{figures['requests_per_trigger_interval']:.3f} req/trigger/interval, lag p99 "
            f"{figures['lag_p99_ms']:.0f} ms max {figures['lag_max_ms']:.0f} ms "
            f"({figures['lag_max_outside_full_gc_ms']:.0f} outside full GCs), full GCs "
            f"{figures['gc_full_collections']} (longest {figures['gc_full_longest_ms']:.0f} ms), events {figures['events']}"
        )

    def measure_part(self, part: str, run_part: Callable[..., None]) -> None:
        """A part whose servers fail to start is reported; the other parts go on."""
        try:
            run_part()
        except Exception as err:
            self.log(f"  {part}: FAILED: {err}")
            self.results.setdefault("failed", []).append({"figure": part, "error": str(err)[-500:]})

    # -- runs against the emulator ------------------------------------------------------------------

    def run_domino(
        self,
        emulator: Emulator,
        tls: TlsFiles | None,
        commands: list[str],
        projects: list[str],
        warmup: str,
        *,
        coalesced: bool,
        fetch_logs: bool,
        timeout: float,
        gc_freeze: bool = False,
    ) -> dict[str, Any]:
        ids = emulator.start_jobs(commands, projects)
        emulator.wait_for(ids, {"Running"})
        emulator.clear_requests()
        config = {
            "client": "domino",
            "ids": ids,
            "projects": projects if coalesced else None,
            "fetch_logs": fetch_logs,
            "warmup_id": warmup,
            "timeout": timeout,
            "gc_freeze": gc_freeze,
        }
        connection = ("domino_default", {"conn_type": "domino", "host": emulator.url, "password": API_KEY})
        result = self.worker(config, self.env(connection, tls.ca if tls else None), timeout)
        counts = emulator.count_requests(ids, since=result["start_epoch"])
        return self.figures(result, counts, polls=counts.get("get_job", 0))

    def warmup_job(self, emulator: Emulator) -> str:
        job = emulator.start_jobs(["true"], [emulator.project_ids[0]])[0]
        emulator.wait_for([job], {"Succeeded"})
        return job

    # -- part 1 -------------------------------------------------------------------------------------

    def per_job(self) -> None:
        """Ours (no project id: each trigger polls its own job) against Databricks' trigger, alternating."""
        part = self.settings["per_job"]
        seconds = part["job_seconds"]
        for scheme in part["schemes"]:
            tls = make_certificates(self.work / "tls") if scheme == "https" else None
            with Emulator(self.work / f"emulator-{scheme}", tls=tls) as emulator, DatabricksStub(tls) as stub:
                warmup = self.warmup_job(emulator)
                databricks_warmup = stub.start_runs(1, 0)[0]
                if tls is not None:
                    self.tls_check(emulator, stub, warmup)
                for run in range(self.settings["runs"]):
                    for size in part["sizes"]:
                        self.log(f"  per job, {scheme}, {size} triggers, run {run + 1}")
                        commands = [f"sleep {seconds:g}"] * size
                        self.measure(
                            f"per_job/{scheme}/{size}/ours",
                            self.run_domino,
                            emulator,
                            tls,
                            commands,
                            [emulator.project_ids[0]] * size,
                            warmup,
                            coalesced=False,
                            fetch_logs=False,
                            timeout=seconds + 60,
                        )
                        self.measure(
                            f"per_job/{scheme}/{size}/databricks",
                            self.run_databricks,
                            stub,
                            tls,
                            size,
                            seconds,
                            databricks_warmup,
                        )

    def run_databricks(
        self, stub: DatabricksStub, tls: TlsFiles | None, size: int, seconds: float, warmup: str
    ) -> dict[str, Any]:
        ids = stub.start_runs(size, seconds)
        config = {
            "client": "databricks",
            "ids": ids,
            "projects": None,
            "fetch_logs": False,
            "warmup_id": warmup,
            "timeout": seconds + 60,
        }
        env = self.env(("databricks_default", stub.connection()), tls.ca if tls else None)
        result = self.worker(config, env, seconds + 60)
        counts = stub.count_requests(ids, since=result["start_epoch"])
        return self.figures(result, counts, polls=counts["runs_get"])

    def tls_check(self, emulator: Emulator, stub: DatabricksStub, warmup: str) -> None:
        """Verification is on: each client, trusting only an unrelated CA, must get no answer at all."""
        stranger = make_certificates(self.work / "tls-stranger", ca_name="a CA nobody uses").ca
        domino = ("domino_default", {"conn_type": "domino", "host": emulator.url, "password": API_KEY})
        checks = {}
        for client, connection, ids, count in (
            ("ours", domino, [warmup], emulator.count_requests),
            (
                "databricks",
                ("databricks_default", stub.connection()),
                stub.start_runs(1, 60),
                stub.count_requests,
            ),
        ):
            config = {
                "client": "domino" if client == "ours" else "databricks",
                "ids": ids,
                "fetch_logs": False,
                "tls_check": True,
            }
            result = self.worker({**config, "timeout": 6.0}, self.env(connection, stranger), 6.0)
            answered = sum(count(ids, since=result["start_epoch"]).values())
            checks[client] = {
                "outcome": result["outcome"],
                "answered": answered,
                "certificate_error_logged": result["certificate_error_logged"],
            }
            self.log(f"  https check, {client} trusting an unrelated CA: {checks[client]}")
        self.results["tls_check"] = checks

    # -- parts 2 and 3 ------------------------------------------------------------------------------

    def coalesced(self) -> None:
        self.many_triggers("coalesced")

    def big_log(self) -> None:
        self.many_triggers("big_log")

    def many_triggers(self, part_name: str) -> None:
        """Coalesced triggers over several projects, logs on; in ``big_log`` job 0 writes a long log. Each
        run is followed by the same run with the deployment's opt-in ``gc.freeze()`` (docs/triggerer.md),
        kept apart under ``<part>/opt_in_freeze``: no target is judged on it."""
        part = self.settings[part_name]
        seconds, count = part["job_seconds"], part["triggers"]
        files = {"biglog.py": BIG_LOG_WRITER}
        with Emulator(
            self.work / f"emulator-{part_name}", projects=part["projects"], files=files
        ) as emulator:
            warmup = self.warmup_job(emulator)
            projects = [emulator.project_ids[i % part["projects"]] for i in range(count)]
            commands = [writing_job(seconds)] * count
            if part_name == "big_log":
                commands[0] = f"{sys.executable} biglog.py {part['lines']} {seconds * 2 / 3:g}"
            for run in range(self.settings["runs"]):
                self.log(f"  {part_name}, {count} triggers over {part['projects']} projects, run {run + 1}")
                for key, gc_freeze in ((part_name, False), (f"{part_name}/opt_in_freeze", True)):
                    self.measure(
                        key,
                        self.run_domino,
                        emulator,
                        None,
                        commands,
                        projects,
                        warmup,
                        coalesced=True,
                        fetch_logs=True,
                        timeout=seconds + 300,
                        gc_freeze=gc_freeze,
                    )

    # -- part 4 -------------------------------------------------------------------------------------

    def unfavourable(self) -> None:
        """A few watched jobs in a project full of other active jobs (queued behind a 5-job tier limit)."""
        part = self.settings["unfavourable"]
        seconds, watched = part["job_seconds"], part["watched"]
        with Emulator(self.work / "emulator-unfavourable", concurrency=watched) as emulator:
            warmup = self.warmup_job(emulator)
            project = emulator.project_ids[0]
            background = part["active"] - watched
            self.log(f"  unfavourable: starting {background} background jobs")
            emulator.start_jobs(
                [f"sleep {10 * seconds:g}"] * background, [project] * background, BACKGROUND_TIER
            )
            for run in range(self.settings["runs"]):
                self.log(f"  unfavourable, {watched} watched among {part['active']} active, run {run + 1}")
                self.measure(
                    "unfavourable",
                    self.run_domino,
                    emulator,
                    None,
                    [f"sleep {seconds:g}"] * watched,
                    [project] * watched,
                    warmup,
                    coalesced=True,
                    fetch_logs=False,
                    timeout=seconds + 60,
                )


# ------------------------------------------------------------------------------------------ the report


def cell(values: list[float], digits: int = 2) -> str:
    """``median [min-max]`` of one figure over the runs."""
    figure = spread(values)
    if not figure["runs"]:
        return "n/a"
    if figure["runs"] == 1:
        return f"{figure['median']:.{digits}f}"
    return f"{figure['median']:.{digits}f} [{figure['min']:.{digits}f}-{figure['max']:.{digits}f}]"


def column(runs: list[dict[str, Any]], key: str) -> list[float]:
    return [float(run[key]) for run in runs]


def targets(results: dict[str, Any], settings: dict[str, Any]) -> list[tuple[str, str, str, bool, str]]:
    """(figure, target, measured, met on the median, runs that met it) for each target with figures."""
    rows = []
    part = settings["per_job"]
    for scheme in part["schemes"]:
        for size in part["sizes"]:
            ours = results.get(f"per_job/{scheme}/{size}/ours")
            theirs = results.get(f"per_job/{scheme}/{size}/databricks")
            if not ours or not theirs:
                continue
            mine, peer = column(ours, "cpu_ms_per_poll"), column(theirs, "cpu_ms_per_poll")
            each = sum(a <= b for a, b in zip(mine, peer, strict=False))
            rows.append(
                (
                    f"CPU ms per poll, per job, {size} triggers, {scheme}",
                    f"≤ Databricks' ({cell(peer, 3)})",
                    cell(mine, 3),
                    spread(mine)["median"] <= spread(peer)["median"],
                    f"{each}/{len(mine)} (run by run)",
                )
            )
    big = settings["big_log"]
    for key, title in (
        ("coalesced", f"{settings['coalesced']['triggers']:,} triggers, logs on"),
        ("big_log", f"a {big['lines']:,}-line job + {big['triggers'] - 1:,} triggers"),
    ):
        runs = results.get(key)
        if not runs:
            continue
        for figure, limit in (("lag_p99_ms", 50), ("lag_max_ms", 100)):
            values = column(runs, figure)
            name = "p99" if "p99" in figure else "max"
            rows.append(
                (
                    f"loop lag {name}, wall clock, whole run: {title}",
                    f"< {limit} ms",
                    cell(values, 0) + " ms",
                    spread(values)["median"] < limit,
                    f"{sum(value < limit for value in values)}/{len(values)}",
                )
            )
    for key, watched in (("unfavourable", settings["unfavourable"]["watched"]), ("coalesced", None)):
        runs = results.get(key)
        if not runs:
            continue
        watched = watched or settings["coalesced"]["triggers"]
        values = [watched * value for value in column(runs, "status_requests_per_trigger_interval")]
        what = f"{watched} watched jobs" + (
            f" in a project with {settings['unfavourable']['active']:,} active jobs"
            if key == "unfavourable"
            else ""
        )
        rows.append(
            (
                f"status requests per interval, coalesced: {what}",
                f"≤ per-job polling's {watched:,}",
                cell(values, 1),
                spread(values)["median"] <= watched,
                f"{sum(value <= watched for value in values)}/{len(values)}",
            )
        )
    return rows


def render(data: dict[str, Any]) -> str:
    meta, results, settings = data["meta"], data["results"], data["settings"]
    runs, poll = settings["runs"], settings["poll"]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `{meta['command']}` in one run: provider at **{meta['commit']}**, {meta['date']}, "
        f"{meta['minutes']:.1f} min. Machine: {meta['machine']}; load average before {meta['load_before']}, "
        f"after {meta['load_after']}. Versions: {meta['versions']}.",
        "",
        f"Every figure is the median of {runs} run(s), [min-max] beside it. Poll interval {poll:g} s. "
        "How each figure is made: [README.md](README.md).",
        "",
        "## Targets",
        "",
        "| figure | target | measured | met (median) | runs that met it |",
        "|---|---|---|---|---|",
    ]
    for figure, target, measured, met, each in targets(results, settings):
        lines.append(f"| {figure} | {target} | {measured} | {'**met**' if met else '**missed**'} | {each} |")

    part = settings["per_job"]
    if any(key.startswith("per_job/") for key in results):
        lines += per_job_section(results, part)
    for key, title in (
        ("coalesced", "2. Coalesced: {triggers:,} triggers over {projects} projects, logs on"),
        ("big_log", "3. A {lines:,}-line job's log tailed next to {others:,} other triggers"),
    ):
        if results.get(key):
            frozen = results.get(f"{key}/opt_in_freeze", [])
            lines += many_triggers_section(results[key], frozen, settings[key], key, title)
    if results.get("unfavourable") or results.get("coalesced"):
        lines += requests_section(results, settings)
    if results.get("failed"):
        lines += ["", "## Runs that failed", ""]
        lines += [
            f"- {failure['figure']}: `{failure['error'].splitlines()[-1]}`" for failure in results["failed"]
        ]
    return "\n".join(lines) + "\n"


def per_job_section(results: dict[str, Any], part: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## 1. Per-job polling: ours vs Databricks' `DatabricksExecutionTrigger`",
        "",
        f"Triggers without a project id (each polls its own job's route), jobs of {part['job_seconds']:g} s, "
        "logs off. Each table's scheme holds for every row in it. A poll is one request on this path; CPU is the "
        "worker process's, over the whole run.",
    ]
    for scheme in part["schemes"]:
        lines += [
            "",
            f"### over {scheme}",
            "",
            "| triggers | client | CPU ms / poll | CPU ms / request | ours / Databricks (CPU per poll) "
            "| polls / trigger / interval | watched s / trigger | CPU s | lag p99 / max (ms) "
            "| full GCs (longest, ms) | events |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for size in part["sizes"]:
            peer = results.get(f"per_job/{scheme}/{size}/databricks", [])
            for client in ("ours", "databricks"):
                rows = results.get(f"per_job/{scheme}/{size}/{client}", [])
                if not rows:
                    continue
                ratio = "-"
                if client == "ours" and peer:
                    ratio = f"{spread(column(rows, 'cpu_ms_per_poll'))['median'] / spread(column(peer, 'cpu_ms_per_poll'))['median']:.2f}"
                lines.append(
                    f"| {size} | {'ours' if client == 'ours' else 'Databricks'} "
                    f"| {cell(column(rows, 'cpu_ms_per_poll'), 3)} | {cell(column(rows, 'cpu_ms_per_request'), 3)} "
                    f"| {ratio} | {cell(column(rows, 'polls_per_trigger_interval'))} "
                    f"| {cell(column(rows, 'watched_s'), 1)} | {cell(column(rows, 'cpu_s'))} "
                    f"| {cell(column(rows, 'lag_p99_ms'), 0)} / {cell(column(rows, 'lag_max_ms'), 0)} "
                    f"| {full_collections(rows)} | {events(rows)} |"
                )
    if "tls_check" in results:
        checks = "; ".join(
            f"{client}: {check['answered']} requests answered, {check['outcome']}, "
            f"certificate error logged: {'yes' if check['certificate_error_logged'] else 'no'}"
            for client, check in results["tls_check"].items()
        )
        lines += ["", f"https check (each client trusting an unrelated CA instead): {checks}."]
    return lines


def many_triggers_section(
    rows: list[dict[str, Any]], frozen: list[dict[str, Any]], figures: dict[str, Any], key: str, title: str
) -> list[str]:
    """The part's figures; ``frozen``: the same runs with the deployment's opt-in ``gc.freeze()``."""

    def row(name: str, figure: str, digits: int, steady: str | None = None) -> str:
        frozen_cell = cell(column(frozen, figure), digits) if frozen else "n/a"
        steady_cell = cell(column(rows, steady), digits) if steady else ""
        return f"| {name} | {cell(column(rows, figure), digits)} | {steady_cell} | {frozen_cell} |"

    return [
        "",
        "## " + title.format(**figures, others=figures["triggers"] - 1),
        "",
        f"Triggers with their project id (coalesced status), logs on, jobs of {figures['job_seconds']:g} s "
        "printing four lines"
        + (", but one printing the long log" if key == "big_log" else "")
        + "; every streamed line logged at INFO. Steady state: from 2 intervals after the start to the first event. "
        "Last column: each run repeated with the deployment's opt-in `gc.freeze()` after Airflow's imports "
        "(docs/triggerer.md); the provider never does it, and no target is judged on it.",
        "",
        "| figure | whole run | steady state | opt-in freeze, whole run |",
        "|---|---|---|---|",
        row("loop lag p99 (ms, wall clock)", "lag_p99_ms", 0, "steady_lag_p99_ms"),
        row("loop lag max (ms, wall clock)", "lag_max_ms", 0, "steady_lag_max_ms"),
        row("loop lag max over ticks without a full collection (ms)", "lag_max_outside_full_gc_ms", 0),
        row("full garbage collections (oldest generation)", "gc_full_collections", 0),
        row("longest full collection (ms)", "gc_full_longest_ms", 0),
        row("requests / trigger / interval, all", "requests_per_trigger_interval", 3),
        row("status requests / trigger / interval", "status_requests_per_trigger_interval", 3),
        row("log requests / trigger / interval", "log_requests_per_trigger_interval", 3),
        row("CPU ms / trigger / interval", "cpu_ms_per_trigger_interval", 3),
        row("CPU ms / request", "cpu_ms_per_request", 3),
        row("CPU s", "cpu_s", 1),
        row("wall s", "wall_s", 1),
        f"| events | {events(rows)} | | {events(frozen) if frozen else 'n/a'} |",
    ]


def requests_section(results: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    lines = ["", "## 4. Requests: coalesced status polling vs per-job polling", ""]
    lines += [
        "Status requests (list pages and job routes) per poll interval for all watched jobs together: "
        "requests / trigger / interval times the watched jobs. Per-job polling sends one request per watched "
        "job per interval. Beside them, each run's loop lag max and its full garbage collections: with five "
        "triggers, a full collection is a pass over Airflow's heap and little else.",
        "",
        "| workload | coalesced: status requests / interval | per-job polling | list pages | job-route reads "
        "| lag max (ms) | full GCs (longest, ms) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, what in (
        ("unfavourable", "{watched} watched jobs in a project with {active:,} active jobs, logs off"),
        ("coalesced", "{triggers:,} watched jobs over {projects} projects, logs on (part 2)"),
    ):
        rows = results.get(key)
        if not rows:
            continue
        watched = settings[key].get("watched") or settings[key]["triggers"]
        per_interval = [watched * value for value in column(rows, "status_requests_per_trigger_interval")]
        lists = [float(run["requests"].get("list_jobs", 0)) for run in rows]
        jobs = [float(run["requests"].get("get_job", 0)) for run in rows]
        lines.append(
            f"| {what.format(**settings[key])} | {cell(per_interval, 2)} | {watched:,} | {cell(lists, 0)} | {cell(jobs, 0)} "
            f"| {cell(column(rows, 'lag_max_ms'), 0)} "
            f"| {full_collections(rows)} |"
        )
    return lines


def full_collections(rows: list[dict[str, Any]]) -> str:
    """How many full garbage collections the runs had, and (in brackets) the longest, in ms."""
    return f"{cell(column(rows, 'gc_full_collections'), 0)} ({cell(column(rows, 'gc_full_longest_ms'), 0)})"


def events(rows: list[dict[str, Any]]) -> str:
    """The events of the runs, added up, and any trigger that never fired."""
    total: dict[str, int] = {}
    for run in rows:
        for status, count in run["events"].items():
            total[status] = total.get(status, 0) + count
        if run["unfinished"]:
            total["unfinished"] = total.get("unfinished", 0) + run["unfinished"]
    return ", ".join(f"{status} {count}" for status, count in sorted(total.items()))


# ------------------------------------------------------------------------------------------ main


def describe_machine() -> str:
    cpu = platform.processor() or "unknown cpu"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()} CPUs ({cpu}), Linux {platform.release()}"


def versions() -> str:
    names = ("apache-airflow", "apache-airflow-providers-databricks", "aiohttp", "uvicorn", "fastapi")
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} not installed")
    return f"python {platform.python_version()}, " + ", ".join(found)


def commit() -> str:
    """The commit measured, and whether the provider's or the bench's files differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=BENCH.parent).stdout.strip()

    changed = git("status", "--porcelain", "--", "airflow_provider_domino", "emulator", "bench/*.py")
    return git("rev-parse", "--short", "HEAD") + (" with uncommitted changes" if changed else "")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, 1 run (a smoke run)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, help="runs of each figure (default 3; --quick 1)")
    parser.add_argument("--sizes", help="per_job: comma-separated trigger counts (default 50,300)")
    parser.add_argument("--schemes", help="per_job: http, https or both (default http,https)")
    parser.add_argument("--triggers", type=int, help="coalesced and big_log: triggers (default 1000)")
    parser.add_argument("--lines", type=int, help="big_log: lines of the long log (default 1000000)")
    parser.add_argument("--job-seconds", type=float, help="every part: how long each watched job runs")
    parser.add_argument("--output", type=Path, help="directory for RESULTS.md and results.json")
    parser.add_argument("--keep-temp", action="store_true", help="keep the work directory (worker configs)")
    return parser.parse_args(argv)


def chosen_settings(args: argparse.Namespace) -> dict[str, Any]:
    settings = json.loads(json.dumps(QUICK if args.quick else FULL))
    if args.runs:
        settings["runs"] = args.runs
    if args.sizes:
        settings["per_job"]["sizes"] = [int(size) for size in args.sizes.split(",")]
    if args.schemes:
        settings["per_job"]["schemes"] = args.schemes.split(",")
    if args.triggers:
        settings["coalesced"]["triggers"] = settings["big_log"]["triggers"] = args.triggers
    if args.lines:
        settings["big_log"]["lines"] = args.lines
    if args.job_seconds:
        for part in PARTS:
            settings[part]["job_seconds"] = args.job_seconds
    return settings


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = chosen_settings(args)
    parts = [part for part in args.parts.split(",") if part]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts {sorted(unknown)}; known: {', '.join(PARTS)}")
    output = args.output or (Path(tempfile.gettempdir()) / "domino-bench-quick" if args.quick else BENCH)
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - started:5.0f} s] {message}", flush=True)

    log(
        f"parts {', '.join(parts)}, {settings['runs']} run(s) each; estimated {estimate_seconds(settings, parts) / 60:.1f} min"
    )
    load_before = " ".join(f"{load:.2f}" for load in os.getloadavg())
    work = Path(tempfile.mkdtemp(prefix="domino-bench-"))
    bench = Bench(settings, work, log)
    try:
        for part in parts:
            log(f"{part}: load {' '.join(f'{load:.2f}' for load in os.getloadavg())}")
            bench.measure_part(part, getattr(bench, part))
    finally:
        if not args.keep_temp:
            shutil.rmtree(work, ignore_errors=True)
    data = {
        "meta": {
            "command": "bench/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "commit": commit(),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "minutes": (time.monotonic() - started) / 60,
            "machine": describe_machine(),
            "load_before": load_before,
            "load_after": " ".join(f"{load:.2f}" for load in os.getloadavg()),
            "versions": versions(),
        },
        "settings": {**settings, "parts": parts},
        "results": bench.results,
    }
    (output / "results.json").write_text(json.dumps(data, indent=1) + "\n")
    (output / "RESULTS.md").write_text(render(data))
    log(f"wrote {output / 'RESULTS.md'} and results.json ({data['meta']['minutes']:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
