"""Where a task's Domino trigger runs: which triggerer queue, and whether the task starts there at once.

**Triggerer queues** (Airflow 3.2+, ``[triggerer] queues_enabled = True``, ``airflow triggerer --queues``).
Airflow gives a deferred task's trigger the queue of the task itself (``BaseOperator.queue``), which is
also the executor queue its worker part runs on. ``trigger_queue`` separates the two: just before the
task defers, :func:`route_trigger` sets the queue of the running task object (the copy in the worker's
process, which Airflow reads once, to fill in the trigger's row) to ``trigger_queue``. The task
instance's own queue, which the scheduler uses when the task resumes on a worker, is untouched.

**Starting in the triggerer** (``start_from_trigger``, Airflow 3.3+: 3.0 to 3.2 ship the feature switched
off in the scheduler). A sensor whose job id is known without running upstream code sends its task
straight to the triggerer; no worker slot is taken before the job ends. :func:`known_before_run` says
which values qualify: a literal, or a Jinja template over ``params`` and ``dag_run.conf`` only (the
triggerer renders those from the run's context).

Only cheap modules are imported: this runs when a DAG file is parsed.
"""

from __future__ import annotations

import warnings
from typing import Any

#: The context names a template may use and still be rendered in the triggerer before any task ran.
TRIGGER_RENDERABLE_NAMES = frozenset({"params", "dag_run"})

_warned: set[str] = set()


def _warn_once(reason: str, message: str) -> None:
    if reason in _warned:
        return
    _warned.add(reason)
    warnings.warn(message, UserWarning, stacklevel=4)


def check_trigger_queue(owner: str, trigger_queue: str | None) -> str | None:
    """``trigger_queue`` as given, after one warning per process when this Airflow cannot honour it."""
    if not trigger_queue:
        return None
    from airflow_provider_domino._compat import conf, triggerer_queues_supported

    if not triggerer_queues_supported():
        _warn_once(
            "unsupported",
            f"{owner}(trigger_queue={trigger_queue!r}) is ignored: triggerer queues need Airflow 3.2+",
        )
    elif not conf.getboolean("triggerer", "queues_enabled", fallback=False):
        _warn_once(
            "disabled",
            f"{owner}(trigger_queue={trigger_queue!r}) is ignored while [triggerer] queues_enabled is False",
        )
    return trigger_queue


def route_trigger(task: Any, trigger_queue: str | None) -> None:
    """Make the trigger of the defer about to happen go to ``trigger_queue`` (call right before deferring).

    Airflow reads the queue of the running task object when it records the trigger (3.2+, with
    ``[triggerer] queues_enabled``); without either, Airflow records no queue and this changes nothing
    that is read.
    """
    if trigger_queue:
        task.queue = trigger_queue


def known_before_run(value: Any) -> bool:
    """The value is known before any task of the run executes: a literal string, or a template over
    ``params`` and ``dag_run.conf`` only. Task outputs (``XComArg``), ``ti.xcom_pull`` and the rest of
    the context are not."""
    if not isinstance(value, str) or not value.strip():
        return False
    if "{{" not in value and "{%" not in value:
        return True
    import jinja2
    from jinja2 import meta, nodes

    try:
        tree = jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError:
        return False
    if not meta.find_undeclared_variables(tree) <= TRIGGER_RENDERABLE_NAMES:
        return False
    # dag_run is allowed only as dag_run.conf (its other fields, such as run_id, are fine in principle,
    # but conf is what a DAG author passes a job id in; keep the rule short and obvious).
    uses = sum(1 for name in tree.find_all(nodes.Name) if name.name == "dag_run")
    confs = sum(
        1
        for attr in tree.find_all(nodes.Getattr)
        if attr.attr == "conf" and isinstance(attr.node, nodes.Name) and attr.node.name == "dag_run"
    )
    confs += sum(
        1
        for item in tree.find_all(nodes.Getitem)
        if isinstance(item.node, nodes.Name)
        and item.node.name == "dag_run"
        and isinstance(item.arg, nodes.Const)
        and item.arg.value == "conf"
    )
    return uses == confs


def sensor_start_args(sensor: Any) -> Any:
    """The ``StartTriggerArgs`` that send a deferrable sensor straight to the triggerer, or ``None``.

    ``None`` (the sensor runs on a worker first, as before) when the sensor is not deferrable, when it
    names a ``trigger_queue`` (Airflow gives a trigger started this way no queue), when a value the
    trigger needs comes from upstream code or other context (see :func:`known_before_run`), or when this
    Airflow does not act on ``start_from_trigger`` (before 3.3). The trigger's arguments are the
    trigger's own serialization, with templates left for the triggerer to render.
    """
    from airflow_provider_domino._compat import start_from_trigger_supported

    if not getattr(sensor, "deferrable", False) or getattr(sensor, "trigger_queue", None):
        return None
    project_id = getattr(sensor, "project_id", None)
    if not (known_before_run(sensor.job_id) and known_before_run(sensor.domino_conn_id)):
        return None
    if project_id is not None and not known_before_run(project_id):
        return None
    if not start_from_trigger_supported():
        return None
    from datetime import timedelta

    from airflow.triggers.base import StartTriggerArgs

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    classpath, trigger_kwargs = DominoJobTrigger(
        job_id=sensor.job_id,
        domino_conn_id=sensor.domino_conn_id,
        poll_interval=float(sensor.poke_interval),
        fetch_logs=bool(sensor.fetch_logs),
        project_id=project_id,
        stop_on_kill=False,  # a sensor does not own the job it watches
    ).serialize()
    timeout = float(sensor.timeout) if sensor.timeout else None
    return StartTriggerArgs(
        trigger_cls=classpath,
        next_method="execute_complete",
        trigger_kwargs=trigger_kwargs,
        next_kwargs=None,
        timeout=timedelta(seconds=timeout) if timeout else None,
    )
