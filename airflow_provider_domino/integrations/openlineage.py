"""OpenLineage: report the Domino job as the task's run (only with ``apache-airflow-providers-openlineage``).

Install the ``openlineage`` extra (``pip install "airflow-provider-domino[openlineage]"``) and configure
an OpenLineage transport. The operator's ``get_openlineage_facets_on_complete`` then returns two run
facets for the task's COMPLETE event:

* ``externalQuery`` (a standard facet): the Domino job id, with ``source`` ``domino``;
* ``dominoJob`` (:class:`DominoJobRunFacet`): job id, job URL, project id, input and output commit,
  and ``dominoStats`` (the metrics the job wrote to ``dominostats.json``).

The job's mounted Domino datasets (``datasetMounts``) become the run's datasets: those mounted as
input (``isInput``) its inputs, the others its outputs. Their namespace is ``domino://<host>``, the
Domino deployment's host (from the job URL), and their name ``<projectId>/<datasetName>``, the project
that owns the dataset and its name, e.g. ``domino://domino.example.com`` +
``623130ad7a0af0281c01a698/churn-features``.

Only OpenLineage's extractor reaches this module (through that operator method), and that extractor
exists only when the extra is installed. The operator, sensor, trigger and decorator modules never
import it, so without the extra no OpenLineage code is imported at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet, external_query_run

if TYPE_CHECKING:
    from airflow_provider_domino.integrations.assets import SucceededJob

#: The key of the custom facet in the event's ``run.facets``.
FACET_NAME = "dominoJob"
#: Identifies the custom facet's schema: the fields of :class:`DominoJobRunFacet`, version 1.
FACET_SCHEMA_URL = "urn:airflow-provider-domino:openlineage:DominoJobRunFacet:1"


@attrs.define
class DominoJobRunFacet(RunFacet):
    """The Domino job a task ran: id, URL, project, and the commits it read and wrote.

    Field names are camelCase, as in OpenLineage's own facets.
    """

    jobId: str
    jobUrl: str
    projectId: str | None
    inputCommitId: str | None
    outputCommitId: str | None
    status: str
    dominoStats: dict[str, Any] = attrs.field(factory=dict)

    @staticmethod
    def _get_schema() -> str:
        return FACET_SCHEMA_URL


def run_facets(job: SucceededJob) -> dict[str, RunFacet]:
    """The run facets naming ``job``: ``externalQuery`` and ``dominoJob``."""
    return {
        "externalQuery": external_query_run.ExternalQueryRunFacet(
            externalQueryId=job.job_id, source="domino"
        ),
        FACET_NAME: DominoJobRunFacet(
            jobId=job.job_id,
            jobUrl=job.job_url,
            projectId=job.project_id,
            inputCommitId=job.input_commit_id,
            outputCommitId=job.output_commit_id,
            status=job.status,
            dominoStats=dict(job.domino_stats),
        ),
    }


def dataset_namespace(job_url: str) -> str:
    """``domino://<host>`` of the deployment the job ran on (read from its URL)."""
    from urllib.parse import urlsplit

    host = urlsplit(job_url).netloc or "unknown"
    return f"domino://{host}"


def datasets(job: SucceededJob) -> tuple[list[Dataset], list[Dataset]]:
    """``(inputs, outputs)``: the job's dataset mounts, split by ``isInput``."""
    namespace = dataset_namespace(job.job_url)
    inputs: list[Dataset] = []
    outputs: list[Dataset] = []
    for mount in job.dataset_mounts:
        name = f"{mount.project_id or job.project_id or 'unknown'}/{mount.name or mount.id}"
        (inputs if mount.is_input else outputs).append(Dataset(namespace=namespace, name=name))
    return inputs, outputs


def operator_lineage(job: SucceededJob | None) -> Any:
    """What ``get_openlineage_facets_on_complete`` returns: the run facets, or ``None`` with no job."""
    if job is None:
        return None
    from airflow.providers.openlineage.extractors import OperatorLineage

    inputs, outputs = datasets(job)
    return OperatorLineage(inputs=inputs, outputs=outputs, run_facets=run_facets(job))
