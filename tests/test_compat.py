"""The feature checks in ``_compat`` agree with the Airflow that is installed, and the fallbacks work."""

from __future__ import annotations

from pathlib import Path

import airflow
import airflow.sdk
import tomllib

from airflow_provider_domino import _compat
from airflow_provider_domino.operators.domino import DominoStartJobOperator

REPO = Path(__file__).resolve().parents[1]


def test_feature_checks_match_the_installed_airflow():
    from airflow.triggers.base import BaseTrigger

    assert hasattr(airflow.sdk, "ResumableJobMixin") == _compat.HAS_RESUMABLE_JOB_MIXIN
    assert _compat.trigger_on_kill_supported() == ("on_kill" in vars(BaseTrigger))
    major, minor = (int(part) for part in airflow.__version__.split(".")[:2])
    newest_known = (major, minor) >= (3, 3)
    # The three 3.3 features arrived together; older releases have none of them.
    assert _compat.HAS_RESUMABLE_JOB_MIXIN == _compat.task_state_store_supported() == newest_known


def test_operator_uses_the_mixin_of_this_airflow():
    assert issubclass(DominoStartJobOperator, _compat.ResumableJobMixin)
    if _compat.HAS_RESUMABLE_JOB_MIXIN:
        assert _compat.ResumableJobMixin is airflow.sdk.ResumableJobMixin


def test_fallback_mixin_submits_polls_and_returns_the_result():
    """The stand-in used before Airflow 3.3 submits, polls and returns the result (no store)."""
    calls: list[str] = []

    class Base:
        def __init__(self, **kwargs):
            calls.append(f"base {sorted(kwargs)}")

    class Job(_compat._ResumableJobFallback, Base):
        def submit_job(self, context):
            calls.append("submit")
            return "job-1"

        def poll_until_complete(self, external_id, context):
            calls.append(f"poll {external_id}")

        def get_job_result(self, external_id, context):
            return f"result of {external_id}"

    job = Job(durable=False, task_id="t")
    assert job.durable is False
    assert job.execute_resumable({}) == "result of job-1"
    assert calls == ["base ['task_id']", "submit", "poll job-1"]


def test_airflow_is_bounded_below_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (airflow_req,) = [dep for dep in project["dependencies"] if dep.startswith("apache-airflow")]
    assert airflow_req.replace(" ", "") == "apache-airflow>=3.1.0"
