"""Which job ids let a sensor start in the triggerer, and how a trigger reaches its triggerer queue."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import pytest

from airflow_provider_domino import _compat
from airflow_provider_domino.triggers import placement


@pytest.mark.parametrize(
    "value",
    [
        "4f1c2a",
        "{{ params.job_id }}",
        "{{ dag_run.conf['job_id'] }}",
        "{{ dag_run.conf.get('job_id', params.job_id) }}",
        "{% if params.use_conf %}{{ dag_run.conf['job_id'] }}{% else %}{{ params.job_id }}{% endif %}",
    ],
)
def test_literals_and_templates_over_params_and_conf_are_known_before_the_run(value):
    assert placement.known_before_run(value)


@pytest.mark.parametrize(
    "value",
    [
        "{{ ti.xcom_pull(task_ids='start') }}",
        "{{ task_instance.xcom_pull('start')['id'] }}",
        "{{ dag_run.run_id }}",
        "{{ ds }}",
        "{{ var.value.job_id }}",
        "{{ params.job_id",  # not a template Jinja can parse: leave it to the worker's clear error
        "",
        None,
        42,
        SimpleNamespace(resolve=None, iter_references=None),  # an XComArg, e.g. start.output
    ],
)
def test_task_outputs_and_other_context_are_not(value):
    assert not placement.known_before_run(value)


def test_route_trigger_sets_the_queue_airflow_reads_when_recording_the_trigger():
    task = SimpleNamespace(queue="default")
    placement.route_trigger(task, None)
    assert task.queue == "default"
    placement.route_trigger(task, "domino-net")
    assert task.queue == "domino-net"


def test_the_queue_airflow_records_is_the_running_task_objects_queue(monkeypatch):
    """Airflow 3.3's own defer code: the trigger's queue comes from ``ti.task.queue`` at defer time."""
    from airflow.sdk.execution_time import task_runner
    from airflow.triggers.base import BaseTrigger

    class Noop(BaseTrigger):
        def serialize(self):
            return ("tests.Noop", {})

        async def run(self):
            yield None

    monkeypatch.setattr(task_runner.conf, "getboolean", lambda *a, **k: True)
    task = SimpleNamespace(queue="default")
    placement.route_trigger(task, "domino-net")
    defer = SimpleNamespace(trigger=Noop(), kwargs={}, timeout=None, method_name="execute_complete")
    ti = SimpleNamespace(task=task, dag_id="d", task_id="t", run_id="r")
    msg, _ = task_runner._defer_task(defer, ti, SimpleNamespace(info=lambda *a, **k: None))  # type: ignore[arg-type]
    assert getattr(msg, "queue", None) == "domino-net"


def test_trigger_queue_warns_once_where_airflow_cannot_honour_it(monkeypatch):
    monkeypatch.setattr(placement, "_warned", set())
    monkeypatch.setattr(_compat, "triggerer_queues_supported", lambda: False)
    with pytest.warns(UserWarning, match="need Airflow 3.2") as caught:
        assert placement.check_trigger_queue("DominoJobSensor", "q") == "q"
        placement.check_trigger_queue("DominoStartJobOperator", "q")
    assert len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert placement.check_trigger_queue("DominoJobSensor", None) is None


def test_trigger_queue_warns_once_while_queues_are_disabled(monkeypatch):
    monkeypatch.setattr(placement, "_warned", set())
    monkeypatch.setattr(_compat, "triggerer_queues_supported", lambda: True)
    monkeypatch.setenv("AIRFLOW__TRIGGERER__QUEUES_ENABLED", "False")
    with pytest.warns(UserWarning, match="queues_enabled is False"):
        placement.check_trigger_queue("DominoJobSensor", "q")
    monkeypatch.setattr(placement, "_warned", set())
    monkeypatch.setenv("AIRFLOW__TRIGGERER__QUEUES_ENABLED", "True")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        placement.check_trigger_queue("DominoJobSensor", "q")


def test_feature_checks_match_this_airflow():
    """The shared venv runs Airflow 3.3: queues for deferred tasks, start_from_trigger, none for watchers."""
    assert _compat.triggerer_queues_supported()
    assert _compat.start_from_trigger_supported()
    assert not _compat.event_trigger_queue_supported()
