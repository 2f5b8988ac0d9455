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

    assert _compat.trigger_on_kill_supported() == ("on_kill" in vars(BaseTrigger))
    major, minor = (int(part) for part in airflow.__version__.split(".")[:2])
    newest_known = (major, minor) >= (3, 3)
    # Both 3.3 features arrived together; older releases have neither.
    assert _compat.trigger_on_kill_supported() == _compat.task_state_store_supported() == newest_known


def test_operator_needs_no_resumable_job_mixin():
    """Which job a try owns is ``ownership``'s decision on every release, not Airflow 3.3's mixin."""
    names = {cls.__name__ for cls in DominoStartJobOperator.__mro__}
    assert "ResumableJobMixin" not in names


def test_compat_names_come_from_this_airflow():
    """On 3.2+ from ``airflow.sdk``; on 3.1 from airflow-core (where ``airflow.sdk`` lacks them)."""
    import airflow.exceptions

    if hasattr(airflow.sdk, "conf"):
        assert _compat.conf is airflow.sdk.conf
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:
        AirflowFailException = airflow.exceptions.AirflowFailException
    assert _compat.AirflowFailException is AirflowFailException


def test_airflow_is_bounded_below_only():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (airflow_req,) = [dep for dep in project["dependencies"] if dep.startswith("apache-airflow")]
    assert airflow_req.replace(" ", "") == "apache-airflow>=3.1.0"
