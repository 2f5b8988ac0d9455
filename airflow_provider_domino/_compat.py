"""What differs between the Airflow releases the provider supports (3.1, 3.2, 3.3 and later).

Every version check of the provider lives here, as a check for the feature rather than for a version
number, so a newer Airflow that keeps the feature keeps working and an older one gets the fallback:

* ``task_state_store`` (Airflow 3.3): absent from the task context before. Callers use
  ``context.get("task_state_store")`` and treat ``None`` as "no store": which job a retry owns is then
  found through the per-try idempotency keys of the earlier tries (see ``ownership``), and a
  rescheduled sensor cannot carry its log cursor from one poke to the next
  (see :func:`task_state_store_supported`).
* ``BaseTrigger.on_kill`` (Airflow 3.3): before it, Airflow never tells a trigger that the user killed
  its deferred task, so the Domino job is not stopped then (:func:`trigger_on_kill_supported`).
* ``conf``, ``AirflowFailException``, ``AirflowSkipException`` and ``determine_kwargs`` moved into
  ``airflow.sdk`` in Airflow 3.2; on 3.1 they come from their airflow-core homes.
* ``XCom.aset`` / ``XCom.aget_one`` (the async XCom API a trigger uses on the triggerer's loop, Airflow
  3.3) are missing from older Task SDKs: :func:`xcom_aset` and :func:`xcom_aget_one` then send the same
  ``SetXCom`` / ``GetXCom`` messages over the supervisor channel's async side themselves.

The provider does not use Airflow 3.3's ``ResumableJobMixin``: the ``ownership`` module decides which
job a try owns on every release.

Only cheap modules are imported: this runs when a DAG file imports an operator.
"""

from __future__ import annotations

from functools import cache
from typing import Any

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


async def xcom_aset(key: str, value: Any, **target: Any) -> None:
    """``XCom.aset`` where the Task SDK has it; otherwise the same ``SetXCom`` message, sent on the loop.

    :param target: ``dag_id``, ``task_id``, ``run_id`` and ``map_index`` of the task instance.
    """
    from airflow.sdk.execution_time.xcom import XCom

    native = getattr(XCom, "aset", None)
    if native is not None:
        await native(key, value, **target)
        return
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import SetXCom

    serialized = XCom.serialize_value(value=value, key=key, **target)
    await task_runner.SUPERVISOR_COMMS.asend(SetXCom(key=key, value=serialized, **target))


async def xcom_aget_one(key: str, **target: Any) -> Any:
    """``XCom.aget_one`` where the Task SDK has it; otherwise a ``GetXCom`` message, sent on the loop."""
    from airflow.sdk.execution_time.xcom import XCom

    native = getattr(XCom, "aget_one", None)
    if native is not None:
        return await native(key=key, **target)
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetXCom, XComResult

    answer = await task_runner.SUPERVISOR_COMMS.asend(GetXCom(key=key, **target))
    if not isinstance(answer, XComResult):
        raise TypeError(f"expected an XComResult, got {type(answer).__name__}")
    return XCom.deserialize_value(answer) if answer.value is not None else None


@cache
def event_trigger_queue_supported() -> bool:
    """An asset watcher's trigger can be sent to a triggerer queue.

    Airflow 3.2 added triggerer queues, but only for triggers of deferred tasks: ``BaseEventTrigger`` says
    ``supports_triggerer_queue = False`` (3.2, 3.3) and the rows of asset watchers carry no queue. Before
    3.2 the attribute does not exist and nothing has a queue.
    """
    from airflow.triggers.base import BaseEventTrigger

    return bool(getattr(BaseEventTrigger, "supports_triggerer_queue", False))


@cache
def triggerer_queues_supported() -> bool:
    """A deferring task can name its trigger's triggerer queue: the Task SDK's ``DeferTask`` carries a
    ``queue`` (Airflow 3.2+)."""
    try:
        from airflow.sdk.execution_time.comms import DeferTask
    except ImportError:  # pragma: no cover - every supported Task SDK has it
        return False
    return "queue" in DeferTask.model_fields


@cache
def start_from_trigger_supported() -> bool:
    """The scheduler sends a ``start_from_trigger`` task straight to the triggerer, which renders the
    task's templates first: Airflow 3.3+. Airflow 3.0 to 3.2 keep the attribute but never act on it (the
    task then runs on a worker and defers as usual); the same change gave ``BaseTrigger`` its own
    ``render_template_fields``, which is what is checked."""
    from airflow.triggers.base import BaseTrigger

    return "render_template_fields" in vars(BaseTrigger)
