"""A bounded record of the API requests the emulator answered, for tests to assert on.

It keeps what a test needs to prove client behaviour (which endpoint, how it
authenticated, which fault it met, what status it got, and the request body, so contract
tests can check what a client sent) and nothing secret: no header values, and any accepted
API key that shows up in a path, query or body is masked.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

from domino_emulator.models import utc_now_iso

DEFAULT_CAPACITY = 100_000
_MASK = "***"
_FIELDS = ("seq", "time", "method", "path", "query", "endpoint", "status", "auth", "fault", "body")


class RequestLog:
    """The last ``capacity`` API requests, oldest first."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        # Tuples, not dicts: 100,000 entries must stay a few tens of MB under a polling benchmark.
        self._entries: deque[tuple[Any, ...]] = deque(maxlen=capacity)
        self._next_seq = 1

    def record(
        self,
        *,
        method: str,
        path: str,
        query: str,
        endpoint: str | None,
        status: int | str,
        auth: str,
        fault: str | None,
        secrets: Iterable[str],
        body: str | None = None,
    ) -> None:
        """Append one request; ``secrets`` are masked wherever they appear in path, query or body."""
        for secret in secrets:
            if not secret:
                continue
            path = path.replace(secret, _MASK)
            query = query.replace(secret, _MASK)
            if body is not None:
                body = body.replace(secret, _MASK)
        self._entries.append(
            (self._next_seq, utc_now_iso(), method, path, query, endpoint, status, auth, fault, body)
        )
        self._next_seq += 1

    def entries(self) -> list[dict[str, Any]]:
        """A copy of the recorded requests."""
        return [dict(zip(_FIELDS, entry, strict=True)) for entry in self._entries]

    def clear(self) -> None:
        """Forget everything recorded so far (sequence numbers keep increasing)."""
        self._entries.clear()
