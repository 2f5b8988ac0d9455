"""``annotate_outlet_events``: which outlets get the Domino job in their event's ``extra`` (unit tier)."""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import Asset, AssetAlias

from airflow_provider_domino.api.models import Job
from airflow_provider_domino.integrations.assets import SucceededJob, annotate_outlet_events

LOG = logging.getLogger("test_assets")
JOB = SucceededJob.of(
    Job.from_api({"id": "job-9", "status": "Succeeded", "commitId": "in-9", "outputCommitId": "out-9"}),
    project_id="project-9",
    job_url="https://domino.test/jobs/job-9",
)
EXTRA = {
    "domino_job_id": "job-9",
    "output_commit_id": "out-9",
    "project_id": "project-9",
    "job_url": "https://domino.test/jobs/job-9",
    "domino_stats": {},
}


class Event:
    def __init__(self) -> None:
        self.extra: dict[str, Any] = {}


class Events:
    """Stands in for Airflow's ``outlet_events``: an accessor per asset, created on first use.

    Keyed by name: an ``Asset`` is not hashable on Airflow 3.1.
    """

    def __init__(self) -> None:
        self.by_name: dict[str, Event] = {}

    def __getitem__(self, key: Any) -> Event:
        if not isinstance(key, (Asset, AssetAlias)):
            raise KeyError(key)
        return self.by_name.setdefault(key.name, Event())


def test_every_asset_outlet_gets_the_job_and_keeps_its_own_keys():
    model, metrics = Asset("model"), Asset("metrics")
    events = Events()
    events[model].extra["owner"] = "ml-team"  # set by the DAG author: kept

    assert annotate_outlet_events({"outlet_events": events}, [model, metrics], JOB, LOG) == 2

    assert events[model].extra == {"owner": "ml-team", **EXTRA}
    assert events[metrics].extra == EXTRA


def test_aliases_and_non_assets_are_left_alone(caplog):
    alias = AssetAlias("chosen-later")
    events = Events()
    with caplog.at_level(logging.WARNING, logger="test_assets"):
        count = annotate_outlet_events({"outlet_events": events}, [alias, "not-an-asset"], JOB, LOG)
    assert count == 0
    assert events.by_name == {}
    assert "Could not add Domino job job-9 to the event of outlet 'not-an-asset'" in caplog.text


def test_no_outlets_or_no_outlet_events_is_a_no_op():
    assert annotate_outlet_events({"outlet_events": Events()}, [], JOB, LOG) == 0
    assert annotate_outlet_events({}, [Asset("model")], JOB, LOG) == 0


def test_extra_has_every_key_even_without_an_output_commit():
    job = SucceededJob.of(
        Job.from_api({"id": "job-1", "status": "Succeeded"}), project_id="from-task", job_url="u"
    )
    assert job.asset_event_extra() == {
        "domino_job_id": "job-1",
        "output_commit_id": None,
        "project_id": "from-task",
        "job_url": "u",
        "domino_stats": {},
    }
