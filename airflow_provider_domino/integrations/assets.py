"""Asset events that name the Domino job behind them, so a downstream DAG knows which commit to use.

When a ``DominoStartJobOperator`` (or ``@task.domino``) task with ``outlets`` succeeds, Airflow emits
one asset event per outlet. :func:`annotate_outlet_events` puts the Domino job into each event's
``extra``::

    {"domino_job_id": "...", "output_commit_id": "...", "project_id": "...", "job_url": "https://...",
     "domino_stats": {"accuracy": 0.93, "model": "gbm"}}

``domino_stats`` is the job's ``dominoStats`` (what it wrote to ``dominostats.json``): numbers as
numbers, anything else as text; ``{}`` when it wrote none.

A DAG scheduled on the asset reads it from the event that triggered its run::

    @task
    def evaluate(*, triggering_asset_events):
        (event,) = triggering_asset_events[churn_model]
        commit = event.extra["output_commit_id"]

Nothing heavy is imported here; the operator calls this once, on its success path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_domino.api.models import DatasetMount, Job

#: The keys of an outlet event's ``extra`` that this provider sets.
EXTRA_KEYS = ("domino_job_id", "output_commit_id", "project_id", "job_url", "domino_stats")


@dataclass(frozen=True)
class SucceededJob:
    """What downstream consumers (asset events, OpenLineage) learn about a Domino job that succeeded."""

    job_id: str
    project_id: str | None
    job_url: str
    input_commit_id: str | None
    output_commit_id: str | None
    status: str
    domino_stats: Mapping[str, int | float | str] = field(default_factory=dict)
    dataset_mounts: tuple[DatasetMount, ...] = ()

    @classmethod
    def of(cls, job: Job, *, project_id: str | None, job_url: str) -> SucceededJob:
        """From the final job details; ``project_id`` is the one the task ran in (the job may not say)."""
        return cls(
            job_id=job.id,
            project_id=project_id,
            job_url=job_url,
            input_commit_id=job.commit_id,
            output_commit_id=job.output_commit_id,
            status=job.status_text,
            domino_stats=dict(job.domino_stats),
            dataset_mounts=job.dataset_mounts,
        )

    def asset_event_extra(self) -> dict[str, Any]:
        """The ``extra`` of the task's outlet asset events."""
        return {
            "domino_job_id": self.job_id,
            "output_commit_id": self.output_commit_id,
            "project_id": self.project_id,
            "job_url": self.job_url,
            "domino_stats": dict(self.domino_stats),
        }


def annotate_outlet_events(
    context: Mapping[str, Any], outlets: Iterable[Any], job: SucceededJob, log: Any
) -> int:
    """Add the job to the ``extra`` of every outlet asset's event; returns how many were annotated.

    Asset aliases are left alone: which asset an alias stands for is the DAG author's choice, made with
    ``outlet_events[alias].add(asset, extra=...)``. Keys the task set itself are kept unless they are
    one of :data:`EXTRA_KEYS`.
    """
    outlets = list(outlets or ())
    if not outlets:
        return 0
    events = context.get("outlet_events")
    if events is None:  # not a real task run (e.g. a bare execute() in a unit test)
        return 0
    from airflow.sdk import AssetAlias

    extra = job.asset_event_extra()
    annotated = 0
    for outlet in outlets:
        if isinstance(outlet, AssetAlias):
            continue
        try:
            events[outlet].extra.update(extra)
        except (KeyError, TypeError, AttributeError) as err:  # an outlet that is not an asset
            log.warning("Could not add Domino job %s to the event of outlet %r: %s", job.job_id, outlet, err)
            continue
        annotated += 1
    if annotated:
        log.info(
            "Asset events of %d outlet(s) name Domino job %s, output commit %s",
            annotated,
            job.job_id,
            job.output_commit_id,
        )
    return annotated
