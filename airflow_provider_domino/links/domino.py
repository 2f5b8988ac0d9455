"""The "Domino Job" button on a task: opens the job the task started (from XCom ``job_url``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

JOB_URL_XCOM_KEY = "job_url"


class DominoJobLink(BaseOperatorLink):
    """Link to the Domino job started or watched by the task instance."""

    name = "Domino Job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        url = XCom.get_value(key=JOB_URL_XCOM_KEY, ti_key=ti_key)
        return str(url) if url else ""
