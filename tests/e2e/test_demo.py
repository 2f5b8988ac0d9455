"""``scripts/demo.py`` (what ``make demo`` runs): the whole pipeline succeeds and the summary says so.

The script runs as users run it, in a subprocess from the repository root, with its own emulator and
Airflow home; this only reads its exit code and output (about a minute).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PIPELINE_TASKS = ("prepare", "train", "evaluate", "tag_production")


@pytest.mark.e2e
def test_demo_runs_the_retraining_pipeline() -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    result = subprocess.run(
        [sys.executable, "scripts/demo.py"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]

    summary = output[output.index("===== summary: domino_retraining_pipeline") :]
    for task_id in PIPELINE_TASKS:
        assert re.search(rf"^task {task_id}: success$", summary, re.M), (
            f"no success line for {task_id}:\n{summary}"
        )
    assert re.search(r"^dag run \S+: success", summary, re.M)
    # Three Domino jobs, all succeeded; their log lines are in the captured output; a metric is shown.
    assert len(re.findall(r"^  [0-9a-f]{24}\s+Succeeded\s+python ", summary, re.M)) == 3
    assert "domino job logs:" in summary and re.search(r"\[[0-9a-f]{24}\] epoch 1/20 loss=", summary)
    assert re.search(r"^metric test_accuracy=0\.\d+", summary, re.M)
    assert "result: PASSED" in summary
    # The generated API key (32 hex digits) is never printed.
    assert not re.search(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", output)
    # The temporary directory is gone and no emulator or job process was left behind.
    workdir = re.search(r"running DAG \S+ in (\S+)", output)
    assert workdir is not None and not Path(workdir.group(1)).exists()
    assert _processes_mentioning(workdir.group(1)) == []


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that contain ``text`` (Linux /proc)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            command = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found
