"""The connection's port field, shown so Airflow 3.3's Test button works, never changes Domino's URL wrongly."""

from __future__ import annotations

import pytest
from airflow.sdk import Connection

from airflow_provider_domino.api.errors import DominoConfigError
from airflow_provider_domino.hooks.connection import DominoConnectionSettings


def _base_url(host: str, port: int | None) -> str:
    conn = Connection(conn_id="domino_test", conn_type="domino", host=host, password="k", port=port)
    return DominoConnectionSettings.resolve("domino_test", conn, {}).base_url


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("https://domino.example.com", 443, "https://domino.example.com"),  # the scheme's default
        ("http://domino.example.com", 80, "http://domino.example.com"),
        ("https://domino.example.com", 8443, "https://domino.example.com:8443"),  # added to the URL
        ("http://127.0.0.1:8765", 8765, "http://127.0.0.1:8765"),  # agrees with the URL
        ("http://127.0.0.1:8765", None, "http://127.0.0.1:8765"),
        ("http://127.0.0.1:8765", 0, "http://127.0.0.1:8765"),  # 0 is "no port"
    ],
)
def test_port_field_and_url(host: str, port: int | None, expected: str) -> None:
    assert _base_url(host, port) == expected


def test_port_disagreeing_with_the_url_is_named() -> None:
    with pytest.raises(DominoConfigError, match=r"port 9000 disagrees with the port 8765 in host"):
        _base_url("http://127.0.0.1:8765", 9000)
