"""Provider metadata read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``)."""

from __future__ import annotations

from typing import Any

#: The port field stays visible on purpose. Airflow 3.3's connection list tests a saved connection by
#: posting ``"port": Number(stored port)``, which is 0 when no port is stored, and its API answers
#: "Bad Request" when the port to test differs from the stored one. A connection with its port stored
#: (443, or the port in the Domino URL) passes; the hook adds the port to the URL only when the URL
#: has none and it is not the scheme's default, so a stored port never changes the URL Domino sees.
CONNECTION_UI_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "extra"],
    "relabeling": {"host": "Domino URL", "password": "API key or access token", "port": "Port"},
    "placeholders": {
        "host": "https://domino.example.com",
        "password": "Domino API key (or token when auth_type is bearer)",
        "port": "443, or the port in the Domino URL (Airflow's Test button needs it)",
    },
}

CONNECTION_FIELDS: dict[str, Any] = {
    "auth_type": {
        "label": "Auth type",
        "description": "api_key sends X-Domino-Api-Key; bearer sends Authorization: Bearer",
        "schema": {"type": ["string", "null"], "enum": ["api_key", "bearer"], "default": "api_key"},
    },
    "token_file": {
        "label": "Token file",
        "description": "File holding a short-lived access token, re-read on every request",
        "schema": {"type": ["string", "null"]},
    },
    "api_proxy": {
        "label": "Domino API proxy",
        "description": "In-run API proxy URL (requests carry no credentials)",
        "schema": {"type": ["string", "null"]},
    },
    "verify": {
        "label": "Verify TLS",
        "description": "true, false, or the path of a CA bundle",
        "schema": {"type": ["string", "null"], "default": "true"},
    },
    "timeout": {
        "label": "Request timeout (s)",
        "schema": {"type": ["number", "null"], "default": 30},
    },
    "ui_url": {
        "label": "Domino UI URL",
        "description": "Base URL for job links in the Airflow UI, when browsers reach Domino elsewhere",
        "schema": {"type": ["string", "null"]},
    },
    "project_id": {
        "label": "Default project id",
        "description": "Used when a task names no project",
        "schema": {"type": ["string", "null"]},
    },
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider to Airflow: package, versions, connection type, hooks, operators..."""
    from airflow_provider_domino import __version__

    return {
        "package-name": "airflow-provider-domino",
        "name": "Domino Data Lab",
        "description": "Run and monitor Domino Data Lab jobs from Airflow DAGs.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Domino Data Lab",
                "external-doc-url": "https://docs.dominodatalab.com/",
                "tags": ["service"],
            }
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_domino.hooks.domino.DominoHook",
                "hook-name": "Domino",
                "connection-type": "domino",
                "conn-fields": CONNECTION_FIELDS,
                "ui-field-behaviour": CONNECTION_UI_BEHAVIOUR,
            }
        ],
        "hooks": [
            {
                "integration-name": "Domino Data Lab",
                "python-modules": ["airflow_provider_domino.hooks.domino"],
            }
        ],
        "operators": [
            {
                "integration-name": "Domino Data Lab",
                "python-modules": ["airflow_provider_domino.operators.domino"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Domino Data Lab",
                "python-modules": ["airflow_provider_domino.sensors.domino"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Domino Data Lab",
                "python-modules": [
                    "airflow_provider_domino.triggers.domino",
                    "airflow_provider_domino.triggers.job_events",
                ],
            }
        ],
        "extra-links": ["airflow_provider_domino.links.domino.DominoJobLink"],
        # `from airflow.sdk import task` then gives `@task.domino(...)`.
        "task-decorators": [
            {"name": "domino", "class-name": "airflow_provider_domino.decorators.domino.domino_task"}
        ],
    }
