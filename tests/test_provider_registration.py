"""Airflow discovers the provider: metadata, connection type, form fields, and cheap imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from airflow_provider_domino import __version__
from airflow_provider_domino.get_provider_info import get_provider_info


def _airflow_cli(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_provider_info_names_every_component():
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-domino"
    assert info["versions"] == [__version__]
    (conn_type,) = info["connection-types"]
    assert conn_type["connection-type"] == "domino"
    assert conn_type["hook-class-name"] == "airflow_provider_domino.hooks.domino.DominoHook"
    modules = {
        key: [m for entry in info[key] for m in entry["python-modules"]]
        for key in ("hooks", "operators", "sensors", "triggers")
    }
    for key, names in modules.items():
        for name in names:
            __import__(name)
        assert names, key
    assert info["extra-links"] == ["airflow_provider_domino.links.domino.DominoJobLink"]


def test_airflow_cli_lists_provider_and_connection_type():
    providers = json.loads(_airflow_cli("providers", "list", "-o", "json"))
    ours = [p for p in providers if p["package_name"] == "airflow-provider-domino"]
    assert ours and ours[0]["version"] == __version__
    hooks = json.loads(_airflow_cli("providers", "hooks", "-o", "json"))
    assert any(h["connection_type"] == "domino" and h["class"].endswith("DominoHook") for h in hooks), hooks


def test_connection_form_fields_and_behaviour():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    widgets = manager.connection_form_widgets
    for field in ("auth_type", "token_file", "api_proxy", "verify", "timeout", "project_id"):
        assert f"extra__domino__{field}" in widgets, field
    behaviour = manager.field_behaviours["domino"]
    assert {"schema", "login", "extra"} <= set(behaviour["hidden_fields"])
    # Shown: Airflow 3.3's Test button needs the stored port (tests/ui, README "The domino connection").
    assert "port" not in behaviour["hidden_fields"]
    assert behaviour["relabeling"]["host"] == "Domino URL"


def test_operator_modules_import_nothing_heavy():
    """DAG files import these on every parse: no FastAPI, uvicorn or emulator beyond what airflow.sdk loads."""
    code = (
        "import sys, airflow.sdk; base = set(sys.modules);"
        "import airflow_provider_domino.operators.domino, airflow_provider_domino.sensors.domino,"
        " airflow_provider_domino.triggers.domino;"
        "print(' '.join(sorted(set(sys.modules) - base)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    added = result.stdout.split()
    heavy = [
        m for m in added if m.split(".")[0] in {"fastapi", "uvicorn", "starlette", "requests", "sqlite3"}
    ]
    assert heavy == []
    assert not [m for m in added if m.startswith(("domino_emulator", "airflow_provider_domino.hooks"))]
