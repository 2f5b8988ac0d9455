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


def _sensor(**overrides):
    values = dict(
        task_id="wait",
        deferrable=True,
        trigger_queue=None,
        job_id="{{ dag_run.conf['job_id'] }}",
        project_id=None,
        domino_conn_id="domino_default",
        poke_interval=7,
        fetch_logs=True,
        timeout=600,
        template_fields=("job_id", "project_id", "domino_conn_id"),
        template_ext=(),
    )
    values.update(overrides)
    return SimpleNamespace(**values)


def test_a_sensor_on_a_known_job_id_starts_in_the_triggerer_which_renders_its_template():
    from datetime import timedelta

    from airflow_provider_domino.triggers.domino import DominoJobTrigger

    sensor = _sensor()
    args = placement.sensor_start_args(sensor)
    assert args.trigger_cls == "airflow_provider_domino.triggers.domino.DominoJobTrigger"
    assert args.next_method == "execute_complete" and args.timeout == timedelta(seconds=600)
    kwargs = args.trigger_kwargs
    assert kwargs["job_id"] == "{{ dag_run.conf['job_id'] }}"
    assert kwargs["poll_interval"] == 7.0 and kwargs["fetch_logs"] is True

    # What Airflow 3.3's triggerer does with it: build the trigger from the kwargs, attach the task
    # instance (which picks the template fields), render with the run's context.
    sensor.start_trigger_args = args
    trigger = DominoJobTrigger(**kwargs)
    trigger.task_instance = SimpleNamespace(task=sensor, task_id="wait")  # type: ignore[assignment]
    assert set(trigger.template_fields) == {"job_id", "project_id", "domino_conn_id"}
    trigger.render_template_fields({"dag_run": SimpleNamespace(conf={"job_id": "job-42"}), "params": {}})  # type: ignore[arg-type]
    assert trigger.job_id == "job-42"


@pytest.mark.parametrize(
    "overrides",
    [
        {"job_id": SimpleNamespace(resolve=None, iter_references=None)},  # start.output
        {"job_id": "{{ ti.xcom_pull(task_ids='start') }}"},
        {"project_id": "{{ ti.xcom_pull(task_ids='start')['projectId'] }}"},
        {"deferrable": False},
        {"trigger_queue": "domino-net"},  # a trigger started by the scheduler gets no queue
    ],
)
def test_other_sensors_run_on_a_worker_first(overrides):
    assert placement.sensor_start_args(_sensor(**overrides)) is None


def test_before_airflow_3_3_no_sensor_starts_in_the_triggerer(monkeypatch):
    monkeypatch.setattr(_compat, "start_from_trigger_supported", lambda: False)
    assert placement.sensor_start_args(_sensor(job_id="literal-job")) is None
