"""No credential ever leaves the connection: not in logs, errors, XCom, rendered fields or trigger kwargs.

A DAG with sync, deferrable and sensor tasks, a failing job, a wrong key, a bearer token and a token
file runs against an emulator of its own, with credentials nobody else uses. Then everything the run
left behind is searched for them: the whole captured output (task logs, the inline triggers' logs,
tracebacks), every XCom of the run, every rendered template field, every trigger's serialized kwargs
(those the operator built and those Airflow stored), and the emulator's request log and output.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_domino.triggers.domino import DominoJobTrigger
from tests.conftest import PROJECT
from tests.reliability.support import connection_json
from tests.waiting import until_file_exists

pytestmark = pytest.mark.e2e

API_KEY = "sekret-api-key-" + secrets.token_hex(16)
BEARER_TOKEN = "sekret-bearer-" + secrets.token_hex(16)
FILE_TOKEN = "sekret-file-token-" + secrets.token_hex(16)
WRONG_KEY = "sekret-wrong-key-" + secrets.token_hex(16)
ALL_SECRETS = (API_KEY, BEARER_TOKEN, FILE_TOKEN, WRONG_KEY)

DAG_BODY = """
common = dict(hardware_tier_id="small", poll_interval=0.5)
sync_job = DominoStartJobOperator(task_id="sync_job", command="python print_lines.py 2 0.1", **common)
deferred_job = DominoStartJobOperator(
    task_id="deferred_job", command="UNTIL_DEFERRED; python print_lines.py 3 0.4", deferrable=True, tags=["secrets"],
    **common
)
bearer_job = DominoStartJobOperator(
    task_id="bearer_job", command="UNTIL_DEFERRED; echo bearer", deferrable=True, domino_conn_id="domino_bearer",
    **common
)
token_file_job = DominoStartJobOperator(
    task_id="token_file_job", command="echo token-file", domino_conn_id="domino_token_file", **common
)
failing_job = DominoStartJobOperator(
    task_id="failing_job", command="UNTIL_DEFERRED; echo about to fail >&2; exit 1", deferrable=True, **common
)
wrong_key_job = DominoStartJobOperator(
    task_id="wrong_key_job", command="echo never", domino_conn_id="domino_wrong_key", **common
)
background = DominoStartJobOperator(
    task_id="background", command="UNTIL_DEFERRED; python print_lines.py 6 0.4", wait_for_completion=False,
    trigger_rule="all_done", **common
)
sensor = DominoJobSensor(
    task_id="sensor", job_id="{{ ti.xcom_pull(task_ids='background') }}", deferrable=True,
    poke_interval=0.5, fetch_logs=True,
)
# Last in line, after its job's start (dag.test runs ready tasks one at a time). Jobs marked UNTIL_DEFERRED
# wait until their trigger has been serialized, so each of those tasks, and the sensor, really defers.
[sync_job, deferred_job, bearer_job, token_file_job, failing_job, wrong_key_job] >> background >> sensor


@task
def logs_the_credentials():
    \"\"\"A careless task: prints every credential it can get at, after the hook has resolved them.\"\"\"
    import logging
    from pathlib import Path

    from airflow_provider_domino.hooks.domino import DominoHook

    log = logging.getLogger("careless_dag_author")
    for conn_id in ("domino_default", "domino_bearer", "domino_token_file"):
        hook = DominoHook(conn_id)
        headers = hook.settings.auth.headers()
        log.warning("credential of %s: %s", conn_id, next(iter(headers.values())))
    log.warning("token file says: %s", Path(hook.settings.auth.token_file).read_text().strip())
    return "done"


token_file_job >> logs_the_credentials()
"""


def _everything_stored(dag_run: Any) -> dict[str, str]:
    """XComs, rendered template fields and stored triggers of the run, as text."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.trigger import Trigger
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        xcoms = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        rendered = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id)
            .all()
        )
        triggers = session.query(Trigger).all()
        return {
            "xcom": json.dumps(
                {f"{x.task_id}[{x.map_index}].{x.key}": XComModel.deserialize_value(x) for x in xcoms},
                default=str,
            ),
            "xcom_count": str(len(xcoms)),
            "rendered": json.dumps([r.rendered_fields for r in rendered], default=str),
            "rendered_count": str(len(rendered)),
            "stored_trigger_count": str(len(triggers)),
            "stored_triggers": json.dumps(
                [Trigger._decrypt_kwargs(t.encrypted_kwargs) for t in triggers], default=str
            ),
        }


def test_no_credential_leaks_anywhere(run_dag, private_emulator, tmp_path: Path, monkeypatch):
    emulator = private_emulator
    emulator.set_keys([API_KEY, BEARER_TOKEN, FILE_TOKEN])
    project_id = emulator.project_id(*PROJECT)
    token_file = tmp_path / "domino-token"
    token_file.write_text(FILE_TOKEN + "\n")
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_DEFAULT", connection_json(emulator.url, password=API_KEY, project_id=project_id)
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_BEARER",
        connection_json(emulator.url, password=BEARER_TOKEN, project_id=project_id, auth_type="bearer"),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_TOKEN_FILE",
        connection_json(emulator.url, password=None, project_id=project_id, token_file=str(token_file)),
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_WRONG_KEY",
        connection_json(emulator.url, password=WRONG_KEY, project_id=project_id),
    )
    serialized: list[Any] = []
    original_serialize = DominoJobTrigger.serialize
    deferred = tmp_path / "deferred"
    deferred.mkdir()

    def recording_serialize(self: DominoJobTrigger) -> Any:
        serialized.append(original_serialize(self))
        (deferred / self.job_id).touch()  # the job's task has deferred: let the job go on
        return serialized[-1]

    monkeypatch.setattr(DominoJobTrigger, "serialize", recording_serialize)
    # The emulator gives each job its id as DOMINO_RUN_ID (as Domino does).
    until_deferred = until_file_exists(f"{deferred}/$DOMINO_RUN_ID")

    result = run_dag("secrets_everywhere", DAG_BODY.replace("UNTIL_DEFERRED", until_deferred))

    assert result.states() == {
        "sync_job": "success",
        "deferred_job": "success",
        "bearer_job": "success",
        "token_file_job": "success",
        "failing_job": "failed",
        "wrong_key_job": "failed",
        "background": "success",
        "sensor": "success",
        "logs_the_credentials": "success",
    }
    auth_kinds = {entry["auth"] for entry in emulator.requests_log()}
    assert auth_kinds == {"api_key", "bearer", "invalid"}, auth_kinds  # every credential was really used
    assert "Invalid API key" in result.output and "about to fail" in result.output
    deferring = (
        "deferred_job",
        "bearer_job",
        "failing_job",
        "background",
    )  # the sensor defers on background's
    # A sensor that starts in the triggerer serializes its trigger when its DAG is parsed, with the job
    # id still a template (other DAG files in the folder have such sensors): those are not deferrals.
    deferred_ids = {kwargs["job_id"] for _, kwargs in serialized if "{{" not in kwargs["job_id"]}
    assert deferred_ids == {result.xcom(task, "job_id") for task in deferring}

    # The careless task printed credentials on purpose; everything else must hold none, even unmasked.
    careless = [line for line in result.output.splitlines() if "[careless_dag_author]" in line]
    assert len(careless) == 4, careless
    output = "\n".join(line for line in result.output.splitlines() if line not in careless)

    stored = _everything_stored(result.dag_run)
    assert int(stored["xcom_count"]) >= 9 and int(stored["rendered_count"]) >= 9
    assert int(stored["stored_trigger_count"]) >= 1
    places = {
        "captured output (task and trigger logs, tracebacks)": output,
        **stored,
        "serialized trigger kwargs": json.dumps(serialized, default=str),
        "emulator request log": json.dumps(emulator.requests_log()),
        "emulator output": emulator.output(),
    }
    leaks = [
        (place, secret[:20]) for place, text in places.items() for secret in ALL_SECRETS if secret in text
    ]
    assert leaks == [], f"credentials found in: {leaks}"

    # dag.test() renders logs in-process without Airflow's masking processor; on a worker, the
    # supervisor passes every task log line through ``mask_logs``. Do that to the careless lines: every
    # credential the hook resolved, the token read from a file included, must have been registered with
    # the secrets masker while the task ran.
    from airflow.sdk.log import mask_logs

    masked = [mask_logs(None, "warning", {"event": line})["event"] for line in careless]
    assert not [line for line in masked for secret in ALL_SECRETS if secret in line], masked
    assert [line.split(" [careless_dag_author]")[0].split("[warning  ] ")[1].rstrip() for line in masked] == [
        "credential of domino_default: ***",
        "credential of domino_bearer: Bearer ***",
        "credential of domino_token_file: Bearer ***",
        "token file says: ***",
    ]


def test_errors_and_reprs_carry_no_credential(private_emulator, monkeypatch):
    from airflow_provider_domino.api.errors import DominoAuthError
    from airflow_provider_domino.hooks.domino import DominoHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_DOMINO_DEFAULT", connection_json(private_emulator.url, password=WRONG_KEY)
    )
    hook = DominoHook()
    with pytest.raises(DominoAuthError) as info:
        hook.get_job("job-1")
    texts = [
        str(info.value),
        repr(info.value),
        repr(vars(info.value)),
        repr(hook.settings),
        repr(hook.settings.auth),
    ]
    assert not [text for text in texts if WRONG_KEY in text], texts
