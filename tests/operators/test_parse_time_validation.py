"""Bad operator and sensor arguments fail when the DAG is parsed, naming the parameter."""

from __future__ import annotations

import pytest

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.operators.domino import DominoStartJobOperator
from airflow_provider_domino.sensors.domino import DominoJobSensor

GOOD = {"task_id": "t", "command": "python train.py", "hardware_tier_id": "small"}


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [
        ({"command": ""}, "'command'"),
        ({"command": "   "}, "'command'"),
        ({"hardware_tier_id": ""}, "'hardware_tier_id'"),
        ({"poll_interval": 0}, "'poll_interval'"),
        ({"poll_interval": -5}, "'poll_interval'"),
        ({"timeout": 0}, "'timeout'"),
        ({"project": "no-slash"}, "'project'"),
        ({"project": "a/b/c"}, "'project'"),
        ({"project": "acme/churn", "project_id": "p1"}, "not both"),
    ],
)
def test_operator_rejects(overrides, parameter):
    with pytest.raises(DominoConfigError, match=parameter):
        DominoStartJobOperator(**{**GOOD, **overrides})


def test_templated_values_are_checked_at_run_time_instead():
    op = DominoStartJobOperator(**GOOD, project="{{ var.value.domino_project }}")
    assert op.project.startswith("{{")


def test_template_fields_and_defaults():
    op = DominoStartJobOperator(**GOOD)
    assert {
        "command",
        "hardware_tier_id",
        "project_id",
        "project",
        "environment_id",
        "commit_id",
        "title",
        "tags",
        "goal_ids",
        "domino_conn_id",
    } <= set(op.template_fields)
    assert (op.wait_for_completion, op.poll_interval, op.timeout, op.fetch_logs, op.domino_conn_id) == (
        True,
        30,
        None,
        True,
        "domino_default",
    )
    assert op.deferrable is False
    assert [link.name for link in op.operator_extra_links] == ["Domino Job"]


@pytest.mark.parametrize(
    ("overrides", "parameter"), [({"job_id": ""}, "'job_id'"), ({"poke_interval": 0}, "'poke_interval'")]
)
def test_sensor_rejects(overrides, parameter):
    with pytest.raises(DominoConfigError, match=parameter):
        DominoJobSensor(**{"task_id": "s", "job_id": "job-1", **overrides})


def test_task_outputs_are_accepted_and_checked_when_the_task_runs():
    """``DominoJobSensor(job_id=start.output)`` and ``command=some_task()`` parse."""
    from airflow.sdk import DAG, task

    with DAG("parse_task_outputs", schedule=None):

        @task
        def make_command() -> str:
            return "python train.py"

        start = DominoStartJobOperator(
            task_id="start",
            hardware_tier_id="small",
            command=make_command(),
            commit_id=make_command(),
            tags=make_command(),
            goal_ids=make_command(),
            wait_for_completion=False,
        )
        sensor = DominoJobSensor(task_id="sense", job_id=start.output, deferrable=True)
    assert sensor.job_id is not None and start.command is not None


def test_one_string_is_one_tag():
    from airflow_provider_domino.operators._validation import names_of

    op = DominoStartJobOperator(**GOOD, tags="nightly", goal_ids="goal-1")
    assert names_of("tags", op.tags) == ["nightly"]
    assert names_of("goal_ids", op.goal_ids) == ["goal-1"]
    assert names_of("tags", "{{ params.tag }}") == ["{{ params.tag }}"]  # rendered later: still one tag
    assert names_of("tags", ["a", "b"]) == ["a", "b"]


@pytest.mark.parametrize(
    ("overrides", "parameter"),
    [({"tags": ["ok", ""]}, "'tags'"), ({"tags": 5}, "'tags'"), ({"goal_ids": [None]}, "'goal_ids'")],
)
def test_literal_tags_and_goals_are_checked_at_parse_time(overrides, parameter):
    with pytest.raises(DominoConfigError, match=parameter):
        DominoStartJobOperator(**{**GOOD, **overrides})


def test_sensor_templates_its_connection():
    fields = set(DominoJobSensor(task_id="s", job_id="job-1").template_fields)
    assert fields == {"job_id", "project_id", "project", "domino_conn_id"}
