"""Run an example DAG end to end against the local Domino emulator: what ``make demo`` does.

    python scripts/demo.py [--dag domino_retraining_pipeline] [--keep]

Everything happens in a throwaway directory (removed at the end unless ``--keep``):

1. the example Domino project (``example_dags/domino_project``) is copied to ``projects/demo/churn``;
2. the Domino emulator starts on a free loopback port with a freshly generated API key;
3. a private Airflow home gets a migrated SQLite DB and a ``domino_default`` connection (through
   ``AIRFLOW_CONN_DOMINO_DEFAULT``) pointing at the emulator;
4. ``airflow dags test <dag>`` runs the DAG from ``example_dags/`` (progress is echoed, the full
   output is kept in a log file);
5. a summary names each task's final state (``task prepare: success``), the Domino jobs, where their
   log lines ended up, each job's ``domino_stats`` (its ``dominostats.json``) and estimated cost (the
   task log's cost line, the same figures as XCom ``domino_cost``), and the model's accuracy.

Exits 0 only when the DAG run and every task succeeded (or were skipped by a branch). The API key is
never printed. The emulator and every job process it started are stopped on the way out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = REPO / "example_dags"
EXAMPLE_PROJECT = EXAMPLE_DAGS / "domino_project"
PROJECT_OWNER, PROJECT_NAME = "demo", "churn"
DAG_IDS = (
    "domino_retraining_pipeline",
    "domino_hyperparameter_sweep",
    "domino_job_chain",
    "domino_spark_cluster_features",
)
#: Task states that do not make the demo fail (``skipped``: the branch not taken in domino_job_chain).
GOOD_STATES = {"success", "skipped"}
#: Files a local run of the project scripts may have left behind; not part of the project.
GENERATED = shutil.ignore_patterns("data", "metrics", "model.json", "__pycache__", "*.pyc")

# ``2026-01-01T00:00:00.000000Z [info     ] message [logger.name] key=value ...``
_LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\S+ \[(?P<level>\w+)\s*\] (?P<message>.*?)(?: \[[A-Za-z_][\w.]*\](?P<extra>.*))?$"
)
# Job ids are 24-hex ObjectIds (as in Domino); the emulator's flat mode and older runs used ``job-<hex>``.
_DOMINO_LINE = re.compile(r"^\[(?P<job>[0-9a-f]{24}|job-[0-9a-f]+)\] (?P<text>.*)$")
# The task log's cost line, without the logger name and location Airflow appends.
_COST_LINE = re.compile(
    r"Estimated cost of Domino job (?P<job>[0-9a-f]{24}|job-[0-9a-f]+): (?P<estimate>.*?)"
    r"(?: \[[A-Za-z_][\w.]*\].*)?$",
    re.M,
)
_EPOCH = re.compile(r"^epoch (\d+)/(\d+) ")
_TASK_START = re.compile(r"^\[DAG TEST\] starting task_id=(?P<task_id>\S+) map_index=(?P<map_index>-?\d+)")
_RUN_ID = re.compile(r"DagRun Finished: .*?run_id=(?P<run_id>[^,]+),.*?state=(?P<state>\w+)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an example Domino DAG against the local emulator.")
    parser.add_argument("--dag", choices=DAG_IDS, default=DAG_IDS[0], help="the example DAG to run")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory for inspection")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds the DAG run may take (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="domino-demo-"))
    try:
        return Demo(args.dag, workdir, args.timeout, keep=args.keep).run()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print(f"\nkept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


class Demo:
    """One demo run in ``workdir``: emulator, Airflow home, ``airflow dags test``, summary."""

    def __init__(self, dag_id: str, workdir: Path, timeout: float, *, keep: bool = False) -> None:
        self.dag_id = dag_id
        self.keep = keep
        self.workdir = workdir
        self.timeout = timeout
        self.api_key = secrets.token_hex(16)
        self.airflow_home = workdir / "airflow"
        self.projects_dir = workdir / "projects"
        self.logs_dir = workdir / "logs"
        self.dags_test_log = self.logs_dir / f"airflow-dags-test-{dag_id}.log"
        self.domino_samples: dict[str, str] = {}
        self.domino_line_count = 0
        self.run_id: str | None = None
        self.run_state: str | None = None

    # --- steps ---------------------------------------------------------------------------------

    def run(self) -> int:
        from domino_emulator.harness import EmulatorProcess

        started = time.monotonic()
        self.logs_dir.mkdir(parents=True)
        shutil.copytree(EXAMPLE_PROJECT, self.projects_dir / PROJECT_OWNER / PROJECT_NAME, ignore=GENERATED)
        # Jobs run `python ...` through the shell: let that be this interpreter (it has the stdlib the
        # project needs) even where no plain `python` is on PATH. The emulator inherits os.environ.
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
        say(f"demo: running DAG {self.dag_id} in {self.workdir}")
        with EmulatorProcess(
            api_key=self.api_key,
            projects_dir=self.projects_dir,
            work_dir=self.workdir / "emulator",
            extra_args=["--max-concurrent-per-tier", "8"],
        ) as emulator:
            say(f"demo: Domino emulator listening on {emulator.url} (project {PROJECT_OWNER}/{PROJECT_NAME})")
            env = self._airflow_env(emulator.url)
            if not self._migrate(env):
                return 1
            dags_test_rc = self._dags_test(env)
            states = self._task_states(env)
            jobs = emulator.jobs()
            logs = {job["id"]: self._job_log(emulator, job["id"]) for job in jobs}
            stopped = emulator.stop_all_jobs()
        ok = self._summary(dags_test_rc, states, jobs, logs, stopped)
        say(f"demo: {'succeeded' if ok else 'FAILED'} in {time.monotonic() - started:.0f}s")
        return 0 if ok else 1

    def _airflow_env(self, url: str) -> dict[str, str]:
        """A hermetic environment: this demo's Airflow home, DAGs folder and Domino connection only."""
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW")
            and key not in ("DOMINO_API_HOST", "DOMINO_USER_API_KEY", "DOMINO_TOKEN_FILE", "DOMINO_API_PROXY")
        }
        env.update(
            AIRFLOW_HOME=str(self.airflow_home),
            AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
            AIRFLOW__CORE__LOAD_EXAMPLES="False",
            AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
            AIRFLOW_CONN_DOMINO_DEFAULT=json.dumps(
                {"conn_type": "domino", "host": url, "password": self.api_key}
            ),
            PYTHONUNBUFFERED="1",
        )
        return env

    def _migrate(self, env: dict[str, str]) -> bool:
        log_path = self.logs_dir / "airflow-db-migrate.log"
        say("demo: airflow db migrate ...")
        begun = time.monotonic()
        with log_path.open("w") as log:
            code = subprocess.call(
                airflow("db", "migrate"), env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600
            )
        if code != 0:
            say(f"demo: airflow db migrate failed (exit {code}); last lines of {log_path}:")
            for line in log_path.read_text(errors="replace").splitlines()[-20:]:
                say(f"  {self._scrub(line)}")
            return False
        say(f"demo: metadata DB ready in {time.monotonic() - begun:.0f}s")
        return True

    def _dags_test(self, env: dict[str, str]) -> int:
        """``airflow dags test``: every line to the log file, the interesting ones to the terminal."""
        say(f"demo: airflow dags test {self.dag_id} (full output: {self.dags_test_log})")
        process = subprocess.Popen(
            airflow("dags", "test", self.dag_id),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
        )
        timed_out = threading.Event()

        def kill_after_timeout() -> None:
            timed_out.set()
            process.kill()

        timer = threading.Timer(self.timeout, kill_after_timeout)
        timer.start()
        try:
            assert process.stdout is not None
            with self.dags_test_log.open("w") as log:
                self._follow(process.stdout, log)
            code = process.wait()
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if timed_out.is_set():
            say(f"demo: airflow dags test did not finish within {self.timeout:.0f}s and was killed")
        return code

    def _follow(self, stream: IO[str], log: IO[str]) -> None:
        for raw in stream:
            line = self._scrub(raw.rstrip("\n"))
            log.write(line + "\n")
            log.flush()
            shown = self._progress(line)
            if shown:
                say(shown)

    def _progress(self, line: str) -> str | None:
        """The terminal version of one output line, or None to only keep it in the log file."""
        if "graphviz" in line or line.startswith("You might need to install"):
            return None
        match = _LOG_LINE.match(line)
        if match is None:  # a task's print(): short and meant for humans
            return f"    {line}" if line.strip() else None
        level, message = match["level"], match["message"]
        if (finished := _RUN_ID.search(message)) is not None:
            self.run_id, self.run_state = finished["run_id"], finished["state"]
            return f"  DAG run {self.run_id} finished: {self.run_state}"
        if (starting := _TASK_START.match(message)) is not None:
            index = starting["map_index"]
            return f"  > {starting['task_id']}{'' if index == '-1' else f'[{index}]'}"
        domino = _DOMINO_LINE.match(message)
        if domino is not None:
            self.domino_line_count += 1
            text = domino["text"]
            epoch = _EPOCH.match(text)
            if epoch is not None and epoch[1] not in ("1", epoch[2]):
                return None  # first and last epoch are enough on the terminal
            self._keep_sample(line, text)
            return f"      [{domino['job']}] {text}"
        if message.startswith(("Started Domino job", "Deferring while Domino job", "Reattaching")):
            return f"    {message}"
        if level in ("error", "critical") and "XCom not found" not in message:
            return f"    ERROR {message[:300]}"
        return None

    def _keep_sample(self, line: str, text: str) -> None:
        """Remember one line of each kind (training loss, validation accuracy, test accuracy)."""
        for kind, prefix in (("epoch", "epoch "), ("final", "FINAL_ACCURACY="), ("test", "accuracy=")):
            if text.startswith(prefix) and kind not in self.domino_samples:
                self.domino_samples[kind] = line

    def _task_states(self, env: dict[str, str]) -> list[dict[str, Any]]:
        """Each task instance's final state, from the metadata DB through the Airflow CLI."""
        run_id = self.run_id or self._latest_run_id(env)
        if run_id is None:
            return []
        result = subprocess.run(
            airflow("tasks", "states-for-dag-run", self.dag_id, run_id, "-o", "json"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            states: list[dict[str, Any]] = json.loads(_json_part(result.stdout))
        except ValueError:
            say(f"demo: could not read task states: {self._scrub(result.stderr[-500:])}")
            return []
        return states

    def _latest_run_id(self, env: dict[str, str]) -> str | None:
        result = subprocess.run(
            airflow("dags", "list-runs", self.dag_id, "-o", "json"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        try:
            runs = json.loads(_json_part(result.stdout))
        except ValueError:
            return None
        if not runs:
            return None
        latest = max(runs, key=lambda run: run.get("run_after") or run.get("start_date") or "")
        self.run_state = self.run_state or latest.get("state")
        return str(latest["run_id"])

    def _job_log(self, emulator: Any, job_id: str) -> str:
        """The job's stdout and stderr as text (the emulator's admin view, whatever shapes it serves)."""
        try:
            return str(emulator.job_log_text(job_id))
        except Exception:  # a summary is best effort: a missing log must not hide the run's result
            return ""

    # --- summary -------------------------------------------------------------------------------

    def _summary(
        self,
        dags_test_rc: int,
        states: list[dict[str, Any]],
        jobs: list[dict[str, Any]],
        logs: dict[str, str],
        stopped: list[str],
    ) -> bool:
        say("")
        say(f"===== summary: {self.dag_id} =====")
        run = f"dag run {self.run_id or '?'}: {self.run_state or 'unknown'}"
        say(f"{run} (airflow dags test exit code {dags_test_rc})")
        for state in sorted(states, key=lambda state: (state.get("start_date") or "~", _map_index(state))):
            index = _map_index(state)
            label = state["task_id"] + (f"[{index}]" if index >= 0 else "")
            say(f"task {label}: {state.get('state') or 'none'}")
        if not states:
            say("task states: not available (see the log below)")

        say(f"domino jobs ({len(jobs)}):")
        for job in sorted(jobs, key=lambda job: job.get("submittedAt") or job.get("startedAt") or ""):
            say(f"  {job['id']}  {job.get('status', '?'):<9}  {job.get('command', '')}")
        if stopped:
            say(f"  stopped at exit (still running): {', '.join(stopped)}")

        where = "" if self.keep else " (removed at exit: rerun with --keep to read it)"
        say(f"domino job logs: streamed into the task logs, captured in {self.dags_test_log}{where}")
        say(f"  ({self.domino_line_count} Domino log lines; they start with the job id), e.g.:")
        for sample in self.domino_samples.values():
            say(f"    {sample[:200]}")
        task_logs = sorted((self.airflow_home / "logs").rglob("*.log"))
        if task_logs:
            say(f"  task log files: {len(task_logs)} under {self.airflow_home / 'logs'}")

        for line in self._metrics(jobs, logs):
            say(line)
        for line in self._results(jobs):
            say(line)

        ok = (
            dags_test_rc == 0
            and self.run_state == "success"
            and bool(states)
            and all(state.get("state") in GOOD_STATES for state in states)
        )
        say(f"result: {'PASSED' if ok else 'FAILED'}")
        return ok

    def _metrics(self, jobs: list[dict[str, Any]], logs: dict[str, str]) -> list[str]:
        lines = []
        for job in jobs:
            log = logs.get(job["id"], "")
            command = job.get("command") or ""
            if "train.py" in command and (found := re.findall(r"^FINAL_ACCURACY=([0-9.]+)", log, re.M)):
                lines.append(f"metric validation_accuracy={found[-1]} ({job['id']}: {command})")
            if "evaluate.py" in command and (found := re.findall(r"^accuracy=([0-9.]+)", log, re.M)):
                lines.append(f"metric test_accuracy={found[-1]} ({job['id']}: {command})")
        return lines or ["metric: none found in the Domino job logs"]

    def _results(self, jobs: list[dict[str, Any]]) -> list[str]:
        """Each job's ``domino_stats`` (from the emulator) and estimated cost (from the task log)."""
        costs: dict[str, str] = {}
        try:
            text = self.dags_test_log.read_text(errors="replace")
        except OSError:
            text = ""
        for match in _COST_LINE.finditer(text):
            costs[match.group("job")] = match.group("estimate").strip()
        lines = []
        for job in sorted(jobs, key=lambda job: job.get("submittedAt") or ""):
            stats = {stat["name"]: stat["value"] for stat in job.get("dominoStats") or ()}
            shown = ", ".join(f"{name}={value}" for name, value in stats.items()) or "none"
            lines.append(f"domino_stats of {job['id']}: {shown}")
            lines.append(f"  estimated cost: {costs.get(job['id'], 'no cost line in the task log')}")
        return lines

    def _scrub(self, text: str) -> str:
        return text.replace(self.api_key, "***")


def _map_index(state: dict[str, Any]) -> int:
    """The mapped instance's index (the CLI adds ``map_index`` only to runs with mapped tasks); -1 if none."""
    value = str(state.get("map_index") or "")
    return int(value) if value.lstrip("-").isdigit() else -1


def airflow(*args: str) -> list[str]:
    """The Airflow CLI of this interpreter (the venv the provider is installed in)."""
    return [sys.executable, "-m", "airflow", *args]


def _json_part(output: str) -> str:
    """The JSON document in CLI output that may also hold warning lines."""
    for line in reversed(output.splitlines()):
        if line.startswith(("[", "{")):
            try:
                json.loads(line)
            except ValueError:
                continue
            return line
    raise ValueError("no JSON document in the output")


def say(message: str) -> None:
    print(message, flush=True)


if __name__ == "__main__":
    sys.exit(main())
