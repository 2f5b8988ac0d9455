from __future__ import annotations

import pytest

from airflow_provider_domino.hooks.domino import DominoHook
from airflow_provider_domino.hooks.retry import RetryPolicy

#: Fast retries for tests: same logic, shorter waits.
FAST_RETRIES = RetryPolicy(max_attempts=5, max_elapsed=30, backoff_initial=0.05, backoff_max=0.2)
#: Seconds an ambiguous start looks for its job in tests (the emulator's list does not lag unless asked).
FAST_LOOKUP_WINDOW = 2.0


@pytest.fixture
def hook(domino_conn: str) -> DominoHook:
    hook = DominoHook(domino_conn, retry_policy=FAST_RETRIES)
    hook.start_lookup_window = FAST_LOOKUP_WINDOW
    return hook


@pytest.fixture
def flat_hook(flat_domino_conn: str) -> DominoHook:
    """A hook on the session's flat-shapes emulator (``flat_emulator``, ``--flat-shapes``)."""
    hook = DominoHook(flat_domino_conn, retry_policy=FAST_RETRIES)
    hook.start_lookup_window = FAST_LOOKUP_WINDOW
    return hook
