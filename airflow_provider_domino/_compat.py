"""What differs between the Airflow releases the provider supports (3.1, 3.2, 3.3 and later).

Every version check of the provider lives here, as a check for the feature rather than for a version
number, so a newer Airflow that keeps the feature keeps working and an older one gets the fallback:

* ``ResumableJobMixin`` (Airflow 3.3): reattach on retry through ``task_state_store``. Older releases
  get :class:`_ResumableJobFallback`, which submits and polls; a retry still finds the job its previous
  try started through the idempotency key carried in the job title.
* ``task_state_store`` (Airflow 3.3): absent from the task context before; callers use
  ``context.get("task_state_store")`` and treat ``None`` as "no store"
  (see :func:`task_state_store_supported`).
* ``BaseTrigger.on_kill`` (Airflow 3.3): before it, Airflow never tells a trigger that the user killed
  its deferred task, so the Domino job is not stopped then (:func:`trigger_on_kill_supported`).
* ``conf``, ``AirflowFailException``, ``AirflowSkipException`` and ``determine_kwargs`` moved into
  ``airflow.sdk`` in Airflow 3.2; on 3.1 they come from their airflow-core homes.

Only cheap modules are imported: this runs when a DAG file imports an operator.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

try:  # Airflow 3.2+
    from airflow.sdk import conf as conf
except ImportError:  # Airflow 3.1
    from airflow.configuration import conf as conf  # type: ignore[no-redef,assignment]

try:  # Airflow 3.2+
    from airflow.sdk.exceptions import AirflowFailException as AirflowFailException
    from airflow.sdk.exceptions import AirflowSkipException as AirflowSkipException
except ImportError:  # Airflow 3.1
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowFailException as AirflowFailException,
    )
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowSkipException as AirflowSkipException,
    )


class _ResumableJobFallback:
    """Stand-in for Airflow 3.3's ``ResumableJobMixin`` on 3.1 and 3.2: submit, poll, return.

    The operator implements the mixin's methods either way. Without ``task_state_store`` a retry cannot
    read back the job id of the previous try; the operator's idempotency-key lookup finds that job.
    """

    external_id_key = "remote_job_id"

    def __init__(self, *, durable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.durable = durable

    def execute_resumable(self, context: Any) -> Any:
        external_id = self.submit_job(context)  # type: ignore[attr-defined]
        self.poll_until_complete(external_id, context)  # type: ignore[attr-defined]
        return self.get_job_result(external_id, context)  # type: ignore[attr-defined]


if TYPE_CHECKING:
    from airflow.sdk import ResumableJobMixin as ResumableJobMixin

    HAS_RESUMABLE_JOB_MIXIN: bool
else:
    try:  # Airflow 3.3+
        from airflow.sdk import ResumableJobMixin

        HAS_RESUMABLE_JOB_MIXIN = True
    except ImportError:  # Airflow 3.1, 3.2
        ResumableJobMixin = _ResumableJobFallback
        HAS_RESUMABLE_JOB_MIXIN = False


@cache
def trigger_on_kill_supported() -> bool:
    """Airflow tells triggers that their deferred task was killed (mark failed/success, clear): 3.3+."""
    from airflow.triggers.base import BaseTrigger

    return callable(getattr(BaseTrigger, "on_kill", None))


@cache
def task_state_store_supported() -> bool:
    """The task context carries ``task_state_store``, a per-task store that outlives a try: 3.3+."""
    from airflow.sdk.definitions.context import Context

    return "task_state_store" in getattr(Context, "__annotations__", {})


def determine_kwargs(callable_: Any, args: Any, context: Any) -> Any:
    """The keyword arguments Airflow passes a TaskFlow function: its own plus the context keys it asks for."""
    try:  # Airflow 3.2+
        from airflow.sdk.bases.decorator import determine_kwargs as determine
    except ImportError:  # Airflow 3.1
        from airflow.utils.operator_helpers import determine_kwargs as determine  # type: ignore[no-redef]
    return determine(callable_, args, context)
