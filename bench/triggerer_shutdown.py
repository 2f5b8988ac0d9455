"""How long a real ``airflow triggerer`` takes to exit on SIGTERM while it holds a Domino trigger.

Compared with the same triggerer holding Airflow's own ``TimeDeltaTrigger``. Setup: a throwaway sqlite
Airflow home, the emulator, one DAG with two tasks put into the ``deferred`` state by hand (a trigger
row each, exactly what ``BaseOperator.defer`` leaves behind), then ``airflow triggerer`` is started,
given time to run both triggers, and sent SIGTERM. Afterwards a second triggerer finishes the Domino
trigger and the task log is read: every job log line must appear, and at most one poll's lines twice.

Run: ``.venv/bin/python bench/triggerer_shutdown.py`` (about a minute; not part of the test suite);
``--kill`` sends SIGKILL instead (a crash), to count the lines a restart shows twice.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOME = Path(tempfile.mkdtemp(prefix="triggerer-shutdown-"))
LINES, EVERY = 100, 0.3

DAG = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator
with DAG("shutdown_probe", schedule=None, start_date=pendulum.datetime(2024, 1, 1), catchup=False):
    EmptyOperator(task_id="domino")
    EmptyOperator(task_id="timedelta")
"""


def airflow(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "airflow", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return done.stdout


def main() -> None:
    from domino_emulator.harness import EmulatorProcess

    dags = HOME / "dags"
    dags.mkdir(parents=True)
    (dags / "shutdown_probe.py").write_text(DAG)
    projects = HOME / "projects"
    shutil.copytree(ROOT / "tests" / "fixtures" / "projects", projects)
    with EmulatorProcess(projects_dir=projects, proxy=True) as emulator:
        project_id = emulator.project_id("acme", "churn")
        conn = {"conn_type": "domino", "host": emulator.url, "password": emulator.api_key}
        conn["extra"] = {"project_id": project_id}
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_DOMINO_DEFAULT": json.dumps(conn),
        }
        airflow("db", "migrate", env=env)
        airflow("dags", "reserialize", env=env)
        airflow("dags", "trigger", "shutdown_probe", "--run-id", "probe", env=env)
        setup = subprocess.run(
            [sys.executable, __file__, "--defer"], env=env, capture_output=True, text=True, check=False
        )
        if setup.returncode:
            raise RuntimeError(setup.stdout + setup.stderr)
        job_id = setup.stdout.strip().splitlines()[-1]
        print(f"Domino job {job_id}: {LINES} lines, one every {EVERY} s")

        first = subprocess.Popen(
            [sys.executable, "-m", "airflow", "triggerer"],
            env=env,
            stdout=(HOME / "triggerer-1.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: len(task_log_lines(job_id)) >= 10, 90)  # the Domino trigger streams and checkpoints
        time.sleep(4)  # a few more polls: the signal lands mid-stream, not right after the first poll
        print(f"lines in the task log before SIGTERM: {len(set(task_log_lines(job_id)))}")
        sent = time.monotonic()
        if (
            "--kill" in sys.argv
        ):  # a crash: no cleanup at all; the checkpoint of the last poll is all there is
            os.killpg(first.pid, signal.SIGKILL)
        first.send_signal(signal.SIGTERM)
        try:
            first.wait(60)
            print(f"triggerer exited {time.monotonic() - sent:.1f} s after SIGTERM (code {first.returncode})")
        except subprocess.TimeoutExpired:
            os.killpg(first.pid, signal.SIGKILL)
            print("triggerer did not exit within 60 s of SIGTERM; killed")

        second = subprocess.Popen(
            [sys.executable, "-m", "airflow", "triggerer"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        # After a SIGKILL the trigger is taken over once the dead triggerer's heartbeat has expired.
        wait_for(lambda: set(task_log_lines(job_id)) >= set(expected_lines()), LINES * EVERY + 120)
        second.send_signal(signal.SIGTERM)
        second.wait(60)
        logged = task_log_lines(job_id)
        expected = expected_lines()
        missing = [line for line in expected if line not in logged]
        repeated = len(logged) - len(set(logged))
        print(f"Airflow home (logs kept): {HOME}")
        print(f"task log: {len(set(logged))}/{LINES} lines, {repeated} shown twice, {len(missing)} missing")


def expected_lines() -> list[str]:
    return [f"line {n} of {LINES}" for n in range(1, LINES + 1)]


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.5)


def task_log_lines(job_id: str) -> list[str]:
    """The Domino job's lines as the triggerers wrote them into the task's log, in order."""
    logged: list[str] = []
    for path in sorted((HOME / "logs").rglob("*")):
        if path.is_file() and "task_id=domino" in str(path):
            logged += re.findall(rf"\[{job_id}\] (line \d+ of {LINES})", path.read_text(errors="replace"))
    return logged


def defer() -> None:
    """Put both tasks into ``deferred`` with their triggers, as ``BaseOperator.defer`` would."""
    from datetime import timedelta

    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.providers.standard.triggers.temporal import TimeDeltaTrigger
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    from airflow_provider_domino.hooks.domino import DominoHook
    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    job = DominoHook().start_job(f"python print_lines.py {LINES} {EVERY}", "small")
    with create_session() as session:
        for ti in session.query(TaskInstance).filter_by(dag_id="shutdown_probe", run_id="probe"):
            key = {"dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id, "map_index": -1}
            if ti.task_id == "domino":
                trigger = DominoJobTrigger(job.id, poll_interval=1.0, task_key=key)
            else:
                trigger = TimeDeltaTrigger(timedelta(hours=1))
            row = Trigger.from_object(trigger)
            session.add(row)
            session.flush()
            ti.state = TaskInstanceState.DEFERRED
            ti.try_number = 1
            ti.trigger_id = row.id
            ti.next_method = "execute_complete"
            session.merge(ti)
    print(job.id)
    print(HOME, file=sys.stderr)


if __name__ == "__main__":
    defer() if "--defer" in sys.argv else main()
