"""A sensor that starts in the triggerer (Airflow 3.3's ``start_from_trigger``) in a real ``dag.test()``.

``dag.test()`` has no scheduler that defers tasks itself: it runs the task, which defers as before. The
sensor must give the same result either way, on a job id from the run's conf.
"""

from __future__ import annotations

import pytest

from airflow_provider_domino.hooks.domino import DominoHook

pytestmark = pytest.mark.e2e


def test_a_sensor_on_a_job_id_from_conf_succeeds_under_dag_test(run_dag, domino_conn, project_id):
    job = DominoHook(domino_conn).start_job("python print_lines.py 3 0.3", "small", project_id)
    result = run_dag(
        "e2e_sensor_from_trigger",
        """
        DominoJobSensor(
            task_id="wait", job_id="{{ dag_run.conf['job_id'] }}", deferrable=True, poke_interval=0.5,
        )
        """,
        conf={"job_id": job.id},
    )
    assert result.states() == {"wait": "success"}, result.states()
    assert result.xcom("wait")["id"] == job.id and result.xcom("wait")["status"] == "Succeeded"
    assert result.xcom("wait", "job_url").endswith(job.id)
