from __future__ import annotations

import pytest

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy

#: Fast retries for tests: same logic, shorter waits.
FAST_RETRIES = RetryPolicy(max_attempts=5, max_elapsed=30, backoff_initial=0.05, backoff_max=0.2)


@pytest.fixture
def hook(domino_conn: str) -> DominoHook:
    return DominoHook(domino_conn, retry_policy=FAST_RETRIES)
