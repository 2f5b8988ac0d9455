"""The README's quickstart DAG runs as pasted, against the emulator, with the setup the README gives."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from domino_emulator.harness import EmulatorProcess

README = Path(__file__).resolve().parents[2] / "README.md"
KEY = "quickstart-" + secrets.token_hex(8)


def readme_block(marker: str) -> str:
    """The fenced code block right after ``<!-- marker -->`` in the README."""
    match = re.search(rf"<!-- {marker} -->\n```\w*\n(.*?)\n```", README.read_text(), re.S)
    assert match, f"README.md has no code block marked <!-- {marker} -->"
    return match.group(1)


def test_quickstart_setup_matches_the_dag() -> None:
    """The shell setup creates the project the DAG names and points the connection at the emulator."""
    text = README.read_text()
    setup = text[text.index("## Quickstart") : text.index("<!-- quickstart-dag -->")]
    dag = readme_block("quickstart-dag")
    projects = set(re.findall(r'project="([^"]+)"', dag))
    assert projects == {"demo/quickstart"}
    assert "projects/demo/quickstart" in setup
    port = re.search(r"domino-emulator --port (\d+) --api-key (\S+)", setup)
    assert port, "the setup starts no emulator"
    assert f'"host": "http://127.0.0.1:{port.group(1)}", "password": "{port.group(2)}"' in setup


@pytest.fixture
def quickstart_emulator(tmp_path: Path) -> Iterator[EmulatorProcess]:
    from domino_emulator.harness import EmulatorProcess

    (tmp_path / "projects" / "demo" / "quickstart").mkdir(parents=True)
    with EmulatorProcess(api_key=KEY, projects_dir=tmp_path / "projects", work_dir=tmp_path / "emu") as emu:
        yield emu


@pytest.mark.e2e
def test_quickstart_dag_runs_as_pasted(
    quickstart_emulator: EmulatorProcess, airflow_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.utils.session import create_session

    conn = {"conn_type": "domino", "host": quickstart_emulator.url, "password": KEY}
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", json.dumps(conn))
    # Into the DAGs folder, as the README says (dag.test() reads the DAG from there).
    path = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / "domino_quickstart.py"
    path.write_text(readme_block("quickstart-dag"))
    spec = importlib.util.spec_from_file_location("domino_quickstart_from_readme", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    dag_run = module.dag.test()

    with create_session() as session:
        dag_run = session.merge(dag_run)
        states = {ti.task_id: ti.state for ti in dag_run.get_task_instances(session=session)}
    assert states == {"hello": "success", "count_words": "success"}
    jobs = {job["command"]: job for job in quickstart_emulator.jobs()}
    hello = jobs["echo hello from Domino > greeting.txt && cat greeting.txt"]
    count = jobs["wc -w greeting.txt"]
    output_commit = quickstart_emulator.get_job(hello["id"])["outputCommitId"]
    assert quickstart_emulator.get_job(count["id"])["commitId"] == output_commit
    # What the README says the task logs hold.
    assert "hello from Domino" in quickstart_emulator.job_log_text(hello["id"])
    assert "3 greeting.txt" in quickstart_emulator.job_log_text(count["id"])
