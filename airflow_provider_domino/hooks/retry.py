"""The retry policy both transports share: what is retried, how long to wait, when to give up.

Retried: connection failures, ambiguous failures (reset after sending, read timeout) of retry-safe
requests, 429 (``Retry-After`` honoured, capped), 500, 502, 503, 504. Never retried: 400, 401, 403, 404,
409, 422 and every other 4xx, which raise typed errors at once. Attempts and total time are bounded, so a
dead Domino produces one clear error, not a retry storm.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_domino.api.errors import (
    DominoAmbiguousRequestError,
    DominoApiError,
    DominoConnectionError,
    DominoError,
    error_class_for_status,
    message_from_error_body,
)

if TYPE_CHECKING:
    from airflow_provider_domino.api.endpoints import ApiCall, RawResponse

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Statuses that say "not processed, try later": safe to resend for every request.
RETRY_NOT_PROCESSED = frozenset({429, 503})
#: Statuses after which the request may or may not have taken effect.
RETRY_AMBIGUOUS = frozenset({500, 502, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds on retrying one request.

    :param max_attempts: attempts in all, the first included.
    :param max_elapsed: seconds after which no new attempt starts.
    :param backoff_initial: first backoff ceiling in seconds; it doubles per attempt (full jitter).
    :param backoff_max: largest backoff ceiling.
    :param retry_after_cap: longest ``Retry-After`` honoured, so a server cannot park a task for hours.
    """

    max_attempts: int = 6
    max_elapsed: float = 120.0
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    retry_after_cap: float = 60.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap)
        ceiling = min(self.backoff_max, self.backoff_initial * (2 ** (attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def retry_wait(self, attempt: int, started: float, failure: RetryableFailure) -> float | None:
        """After failed attempt ``attempt`` (counted from 1) of a request begun at ``started``
        (``time.monotonic()``): seconds to wait before the next attempt, or ``None`` to give up.

        The transports' retry loops are a few lines around this; a retry library would allocate a
        retry state, its strategies and their closures per request, in reference cycles that only the
        garbage collector frees. At hundreds of requests a second in one triggerer those cycles made
        the collector's full passes, which hold the event loop, several times more frequent.
        """
        if attempt >= self.max_attempts or time.monotonic() - started >= self.max_elapsed:
            return None
        wait = self.backoff(attempt, failure.retry_after)
        log.warning("%s; retrying in %.1f s (attempt %d)", failure, wait, attempt + 1)
        return wait


class RetryableFailure(Exception):
    """Internal: one attempt failed in a way worth another try. Holds the error to raise at the end."""

    def __init__(self, error: DominoError, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after

    def final_error(self, attempts: int) -> DominoError:
        """The user-facing error once retries are exhausted, saying how many attempts were made."""
        error = self.error
        if isinstance(error, DominoApiError):
            return type(error)(
                error.method,
                error.path,
                error.status,
                error.server_message,
                attempts=attempts,
                retry_after=error.retry_after,
            )
        if isinstance(error, DominoConnectionError):
            return type(error)(error.method, error.path, error.reason, attempts=attempts)
        return error


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; ``None`` if invalid.

    A negative number is invalid (RFC 9110 delay-seconds are digits only): the normal backoff applies
    rather than an immediate retry. A date in the past means "now".
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.fromtimestamp(time.time() if now is None else now, tz=timezone.utc)
        seconds = max((when - current).total_seconds(), 0.0)
    if (
        seconds != seconds or seconds in (float("inf"), float("-inf")) or seconds < 0
    ):  # NaN, infinite, negative
        return None
    return seconds


def server_message(response: RawResponse) -> str:
    """The server's explanation from an error body (see :func:`message_from_error_body`)."""
    return message_from_error_body(response.body)


def read_response(call: ApiCall[T], response: RawResponse) -> T:
    """Classify one answer: parse it, raise a typed error, or raise :class:`RetryableFailure`."""
    status = response.status
    if 200 <= status < 300 or status in call.ok_statuses:
        return call.read(response)
    message = server_message(response)
    error = error_class_for_status(status)(
        call.method, call.path, status, message, retry_after=parse_retry_after(response.header("retry-after"))
    )
    if status in RETRY_NOT_PROCESSED:
        raise RetryableFailure(error, error.retry_after if status == 429 or error.retry_after else None)
    if status in RETRY_AMBIGUOUS:
        if call.retry_safe:
            raise RetryableFailure(error)
        raise DominoAmbiguousRequestError(call.method, call.path, f"HTTP {status}: {error.server_message}")
    raise error


def network_failure(call: ApiCall[Any], reason: str, *, maybe_sent: bool) -> Exception:
    """The exception for a transport failure: retryable, or ambiguous for a request that must not repeat."""
    if maybe_sent and not call.retry_safe:
        return DominoAmbiguousRequestError(call.method, call.path, reason)
    return RetryableFailure(DominoConnectionError(call.method, call.path, reason))


#: The bounds every hook uses unless told otherwise: one immutable object, shared rather than one per hook
#: (a triggerer makes a hook per trigger).
DEFAULT_RETRY_POLICY = RetryPolicy()
#: Retries for stopping a job from ``on_kill``: the triggerer gives a trigger's ``on_kill`` about 30 s
#: (``[triggerer] on_kill_timeout``) and a worker's SIGTERM grace is short too, so three quick attempts
#: and a capped ``Retry-After`` keep the whole stop (with :data:`ON_KILL_BUDGET`) well inside that.
ON_KILL_RETRY_POLICY = RetryPolicy(
    max_attempts=3, max_elapsed=8.0, backoff_initial=0.5, backoff_max=2.0, retry_after_cap=2.0
)
#: Seconds an ``on_kill`` waits for the stop request in all, read timeouts included.
ON_KILL_BUDGET = 15.0
