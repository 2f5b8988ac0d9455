"""Auth modes, the token file, the API proxy and connection resolution, seen from the emulator's log."""

from __future__ import annotations

import json

import pytest

from airflow_provider_domino.api.errors import DominoAuthError, DominoConfigError
from airflow_provider_domino.hooks.connection import DominoConnectionSettings
from airflow_provider_domino.hooks.domino import DominoHook
from tests.conftest import API_KEY
from tests.hooks.conftest import FAST_RETRIES


def _use_conn(monkeypatch, **conn) -> DominoHook:
    monkeypatch.setenv("AIRFLOW_CONN_DOMINO_DEFAULT", json.dumps({"conn_type": "domino", **conn}))
    return DominoHook(retry_policy=FAST_RETRIES)


def _last_auth(emulator) -> str:
    return emulator.requests_log()[-1]["auth"]


def test_api_key_header(emulator, monkeypatch, project_id):
    hook = _use_conn(monkeypatch, host=emulator.url, password=API_KEY)
    hook.list_jobs(project_id, limit=1)
    assert _last_auth(emulator) == "api_key"


def test_bearer_token(emulator, monkeypatch, project_id):
    hook = _use_conn(monkeypatch, host=emulator.url, password=API_KEY, extra={"auth_type": "bearer"})
    hook.list_jobs(project_id, limit=1)
    assert _last_auth(emulator) == "bearer"


def test_token_file_is_reread_on_every_request(emulator, monkeypatch, tmp_path, project_id):
    token_file = tmp_path / "token"
    token_file.write_text("rotated-token-1\n")
    hook = _use_conn(monkeypatch, host=emulator.url, extra={"token_file": str(token_file)})
    emulator.set_keys([API_KEY, "rotated-token-1"])
    try:
        hook.list_jobs(project_id, limit=1)
        assert _last_auth(emulator) == "bearer"
        emulator.set_keys([API_KEY, "rotated-token-2"])
        with pytest.raises(DominoAuthError):
            hook.list_jobs(project_id, limit=1)
        token_file.write_text("rotated-token-2")
        hook.list_jobs(project_id, limit=1)  # same hook, new token: the file was read again
    finally:
        emulator.set_keys([API_KEY])


def test_api_proxy_sends_no_credentials(emulator, monkeypatch, project_id):
    if not emulator.proxy_url:
        pytest.skip("emulator started without a proxy port")
    hook = _use_conn(monkeypatch, extra={"api_proxy": emulator.proxy_url})
    hook.list_jobs(project_id, limit=1)
    assert _last_auth(emulator) == "proxy"


def test_wrong_key_fails_at_once_with_a_hint(emulator, monkeypatch, project_id):
    hook = _use_conn(monkeypatch, host=emulator.url, password="wrong-key-123456")
    emulator.clear_requests()
    with pytest.raises(DominoAuthError) as info:
        hook.list_jobs(project_id, limit=1)
    message = str(info.value)
    assert "HTTP 401" in message and "API key" in message and "wrong-key-123456" not in message
    assert len(emulator.requests_log()) == 1


def test_test_connection_reports_both_outcomes(emulator, monkeypatch):
    ok, message = _use_conn(monkeypatch, host=emulator.url, password=API_KEY).test_connection()
    assert ok and emulator.url in message
    ok, message = _use_conn(monkeypatch, host=emulator.url, password="bad-key-99999").test_connection()
    assert not ok and "401" in message


def test_environment_fills_what_the_connection_leaves_empty(tmp_path):
    env = {"DOMINO_API_HOST": "https://env.example.com", "DOMINO_USER_API_KEY": "env-key-12345"}
    settings = DominoConnectionSettings.resolve("c", None, env)
    assert settings.base_url == "https://env.example.com"
    assert settings.auth.headers() == {"X-Domino-Api-Key": "env-key-12345"}
    token = tmp_path / "t"
    token.write_text("tok-abcdef")
    env_with_file = {**env, "DOMINO_TOKEN_FILE": str(token)}
    assert DominoConnectionSettings.resolve("c", None, env_with_file).auth.kind == "token_file"
    proxy_env = {"DOMINO_API_PROXY": "http://localhost:8899", **env}
    assert DominoConnectionSettings.resolve("c", None, proxy_env).auth.kind == "proxy"


def test_connection_wins_over_environment(monkeypatch):
    from airflow.sdk import Connection

    conn = Connection(conn_id="c", conn_type="domino", host="https://conn.example.com", password="conn-key-1")
    env = {
        "DOMINO_API_HOST": "https://env.example.com",
        "DOMINO_USER_API_KEY": "env-key",
        "DOMINO_API_PROXY": "http://p",
    }
    settings = DominoConnectionSettings.resolve("c", conn, env)
    assert settings.base_url == "https://conn.example.com"
    assert settings.auth.headers() == {"X-Domino-Api-Key": "conn-key-1"}


@pytest.mark.parametrize(
    ("conn", "message"),
    [
        ({"host": "domino.example.com", "password": "k"}, "must be a URL with scheme"),
        ({"host": "", "password": "k"}, "has no host"),
        ({"host": "https://d.example.com"}, "has no credentials"),
        ({"host": "https://d.example.com", "password": "k", "extra": {"auth_type": "oauth"}}, "auth_type"),
        ({"host": "https://d.example.com", "password": "k", "extra": {"timeout": "0"}}, "timeout"),
        ({"host": "https://d.example.com", "password": "k", "extra": {"verify": "/no/such.pem"}}, "verify"),
    ],
)
def test_bad_connections_name_the_problem(monkeypatch, conn, message):
    hook = _use_conn(monkeypatch, **conn)
    with pytest.raises(DominoConfigError, match=message) as info:
        hook.settings
    assert "domino_default" in str(info.value)


def test_missing_connection(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_DOMINO_MISSING", raising=False)
    with pytest.raises(DominoConfigError, match="'domino_missing' is not defined"):
        DominoHook("domino_missing").settings


def test_user_agent_names_provider_and_version(hook):
    from airflow_provider_domino import __version__

    assert f"airflow-provider-domino/{__version__}" in hook.user_agent


def test_job_links_use_ui_url_when_browsers_reach_domino_elsewhere(monkeypatch):
    hook = _use_conn(
        monkeypatch,
        host="http://domino-api:8765",
        password="k-123456",
        extra={"ui_url": "https://domino.example.com/"},
    )
    assert hook.job_url("job-1") == "https://domino.example.com/jobs/job-1"
    assert (
        _use_conn(monkeypatch, host="http://domino-api:8765", password="k-123456").job_url("a/b")
        == "http://domino-api:8765/jobs/a%2Fb"
    )
