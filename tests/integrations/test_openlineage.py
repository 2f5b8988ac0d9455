"""OpenLineage: the Domino job is reported as the task's run, and nothing is imported without the extra."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.dag_runner import write_dag

REPO = Path(__file__).resolve().parents[1]
HAS_OPENLINEAGE = importlib.util.find_spec("airflow.providers.openlineage") is not None

#: Makes OpenLineage unimportable, as when the extra is not installed. Airflow itself still reads the
#: installed provider's metadata (``get_provider_info``) when it loads its configuration; everything
#: else of the provider and the whole ``openlineage`` client library is refused.
METADATA_ONLY = {"airflow.providers.openlineage", "airflow.providers.openlineage.get_provider_info"}
BLOCK_OPENLINEAGE = f"""
import sys
class _NoOpenLineage:
    def find_spec(self, name, path=None, target=None):
        blocked = name == "openlineage" or name.startswith(("openlineage.", "airflow.providers.openlineage."))
        if blocked and name not in {sorted(METADATA_ONLY)!r}:
            raise ImportError(f"{{name}} is not installed (blocked by the test)")
        return None
sys.meta_path.insert(0, _NoOpenLineage())
"""


def test_nothing_is_imported_without_the_extra():
    """Without OpenLineage the operator, decorator and asset hooks import and run; no OL module loads."""
    script = BLOCK_OPENLINEAGE + textwrap.dedent(
        """
        import json
        from airflow.sdk import Asset
        from airflow_provider_domino.api.models import Job
        from airflow_provider_domino.operators.domino import DominoStartJobOperator
        from airflow_provider_domino.decorators.domino import domino_task
        import airflow_provider_domino.sensors.domino, airflow_provider_domino.triggers.domino

        class Events:  # Airflow's outlet_events: one accessor per asset (3.1's Asset is not hashable)
            def __init__(self):
                self.by_name = {}
            def __getitem__(self, asset):
                return self.by_name.setdefault(asset.name, type("Event", (), {"extra": {}})())

        import airflow_provider_domino.hooks.domino  # the real hook loads without OpenLineage too

        class Hook:  # the job link without a project lookup over HTTP
            def job_url(self, job_id, project_id=None):
                return f"http://domino.test/jobs/{project_id}/{job_id}"

        asset = Asset("lineage_blocked")
        op = DominoStartJobOperator(task_id="t", command="echo", hardware_tier_id="small", outlets=[asset])
        op._hook = Hook()
        op.job_project_id = "p-1"  # what the claim sets: the project the job was started in
        job = Job.from_api({"id": "job-1", "status": "Succeeded", "commitId": "in-1", "outputCommitId": "out-1"})
        events = Events()
        op._announce_success({"outlet_events": events}, job)  # what every success path calls
        print(json.dumps({
            "extra": events[asset].extra,
            "openlineage_modules": sorted(m for m in sys.modules if "openlineage" in m),
        }))
        """
    )
    env = {
        **os.environ,
        "AIRFLOW_CONN_DOMINO_DEFAULT": json.dumps(
            {"conn_type": "domino", "host": "http://domino.test", "password": "k"}
        ),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env, cwd=REPO
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report["openlineage_modules"]) <= METADATA_ONLY
    assert report["extra"] == {
        "domino_job_id": "job-1",
        "output_commit_id": "out-1",
        "project_id": "p-1",
        "job_url": "http://domino.test/jobs/p-1/job-1",
        "domino_stats": {},
    }


@pytest.mark.e2e
@pytest.mark.skipif(
    not HAS_OPENLINEAGE,
    reason="apache-airflow-providers-openlineage is not installed (pip install '.[openlineage]')",
)
def test_emitted_event_carries_the_domino_facet(airflow_db, domino_conn, emulator, tmp_path):
    """A real dag.test() with OpenLineage's file transport: the COMPLETE events name the Domino jobs."""
    events_file = tmp_path / "openlineage.jsonl"
    path = write_dag(
        "e2e_openlineage",
        """
        start = DominoStartJobOperator(
            task_id="start", command="python write_output.py lineage", hardware_tier_id="small",
            poll_interval=0.5,
        )

        @task.domino(hardware_tier_id="small", poll_interval=0.5)
        def decorated(word: str) -> str:
            return f"echo {word}"

        start >> decorated("lineage")
        """,
    )
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "domino-provider-tests",
    }
    # A process of its own: OpenLineage reads its configuration once per process.
    script = textwrap.dedent(
        f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("e2e_openlineage", {str(path)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print("RUN_STATE", module.dag.test().state)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env, cwd=REPO
    )
    assert "RUN_STATE success" in result.stdout, (result.stdout[-3000:], result.stderr[-3000:])

    events = [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]
    complete = {
        event["job"]["name"]: event
        for event in events
        if event.get("eventType") == "COMPLETE" and event["job"]["name"].startswith("e2e_openlineage.")
    }
    assert set(complete) == {"e2e_openlineage.start", "e2e_openlineage.decorated"}, sorted(complete)
    project_id = emulator.project_id("acme", "churn")
    for task_id, event in (
        ("start", complete["e2e_openlineage.start"]),
        ("decorated", complete["e2e_openlineage.decorated"]),
    ):
        facet = event["run"]["facets"]["dominoJob"]
        job = emulator.get_job(facet["jobId"])
        assert job["title"].startswith(f"Airflow e2e_openlineage.{task_id} ")
        assert facet["projectId"] == project_id
        assert facet["jobUrl"].endswith(f"/{facet['jobId']}")
        assert facet["inputCommitId"] == job["commitId"]
        assert facet["outputCommitId"] == job["outputCommitId"] and facet["outputCommitId"]
        assert facet["status"] == "Succeeded"
        assert facet["_schemaURL"] == "urn:airflow-provider-domino:openlineage:DominoJobRunFacet:1"
        external = event["run"]["facets"]["externalQuery"]
        assert external == {**external, "externalQueryId": facet["jobId"], "source": "domino"}


@pytest.mark.skipif(not HAS_OPENLINEAGE, reason="apache-airflow-providers-openlineage is not installed")
def test_dataset_mounts_become_inputs_and_outputs_and_stats_a_facet():
    from airflow_provider_domino.api.models import Job
    from airflow_provider_domino.integrations.assets import SucceededJob
    from airflow_provider_domino.integrations.openlineage import FACET_NAME, operator_lineage

    mounts = [
        {"id": "d1", "datasetName": "raw-events", "projectId": "p-data", "isInput": True},
        {"id": "d2", "datasetName": "features", "projectId": "p-1", "isInput": False},
    ]
    job = Job.from_api(
        {
            "id": "job-1",
            "status": {"executionStatus": "Succeeded", "isCompleted": True},
            "datasetMounts": mounts,
            "dominoStats": [{"name": "auc", "value": "0.91"}],
        }
    )
    lineage = operator_lineage(
        SucceededJob.of(job, project_id="p-1", job_url="https://domino.example.com/jobs/o/p/job-1")
    )
    assert [(d.namespace, d.name) for d in lineage.inputs] == [
        ("domino://domino.example.com", "p-data/raw-events")
    ]
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        ("domino://domino.example.com", "p-1/features")
    ]
    assert lineage.run_facets[FACET_NAME].dominoStats == {"auc": 0.91}
