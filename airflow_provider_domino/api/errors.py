"""Typed errors raised by the provider.

Each message is written for the DAG author who will read it in a task log: it names what was wrong
(connection, parameter, job id, HTTP status and the server's own words) and never includes a credential.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

#: Longest slice of a server message kept in an exception: enough to read, never a whole HTML page.
SERVER_MESSAGE_LIMIT = 500


def trim_message(text: str, limit: int = SERVER_MESSAGE_LIMIT) -> str:
    """Collapse whitespace and cut ``text`` to ``limit`` characters so errors stay one readable line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def message_from_error_body(body: bytes) -> str:
    """The server's explanation from an error response body, as one line.

    Reads the published Public API's error envelopes, ``{"error": "..."}`` (400/404/500) and
    ``{"errors": [...], "requestId": "..."}`` (401/403; the request id is what Domino support asks
    for), the simplified reference's ``{"message": "..."}``, and common gateway forms (``detail``,
    ``errorMessage``). Anything else (an HTML page, plain text) is returned as text.
    """
    text = body[:4096].decode("utf-8", "replace")
    try:
        payload = json.loads(text)
    except ValueError:
        return text
    if not isinstance(payload, dict):
        return text
    message = ""
    for key in ("error", "message", "detail", "errorMessage"):
        if payload.get(key):
            message = _describe(payload[key])
            break
    else:
        errors = payload.get("errors")
        if isinstance(errors, list) and errors:
            message = "; ".join(_describe(item) for item in errors)
        elif isinstance(errors, str) and errors:
            message = errors
    request_id = payload.get("requestId")
    if message and isinstance(request_id, str) and request_id:
        message += f" (request id {request_id})"
    return message or text


def _describe(value: Any) -> str:
    """Text of one error item: a string, or the ``message`` of an object."""
    if isinstance(value, dict):
        for key in ("message", "error", "detail", "description"):
            if value.get(key):
                return str(value[key])
    return value if isinstance(value, str) else json.dumps(value)


class DominoError(Exception):
    """Base class of every error this provider raises on purpose."""


class DominoConfigError(DominoError, ValueError):
    """A connection or operator parameter is missing or malformed; fixing the DAG or connection fixes it."""


class DominoConnectionError(DominoError):
    """Domino could not be reached (refused, DNS, TLS, timeouts) even after the bounded retries."""

    def __init__(self, method: str, path: str, reason: str, attempts: int = 1) -> None:
        self.method = method
        self.path = path
        self.reason = reason
        self.attempts = attempts
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        super().__init__(f"Domino API {method} {path} failed{tries}: could not reach Domino ({reason})")


class DominoAmbiguousRequestError(DominoConnectionError):
    """The request may or may not have reached Domino (reset after sending, read timeout, 502/504).

    Resending a non-idempotent request (starting a job) blindly could duplicate work, so the hook
    raises this to let the caller look for the result first.
    """


class DominoApiError(DominoError):
    """Domino answered with an HTTP error status.

    :param method: HTTP method of the failed request.
    :param path: request path (percent-encoded, without host or query).
    :param status: HTTP status code.
    :param server_message: what the server said, trimmed to one line.
    """

    hint: ClassVar[str] = ""

    def __init__(
        self,
        method: str,
        path: str,
        status: int,
        server_message: str = "",
        *,
        attempts: int = 1,
        retry_after: float | None = None,
    ) -> None:
        self.method = method
        self.path = path
        self.status = status
        self.server_message = trim_message(server_message)
        self.attempts = attempts
        self.retry_after = retry_after
        super().__init__(self._compose())

    def _compose(self) -> str:
        text = f"Domino API {self.method} {self.path} returned HTTP {self.status}"
        if self.attempts > 1:
            text += f" after {self.attempts} attempts"
        if self.server_message:
            text += f": {self.server_message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class DominoBadRequestError(DominoApiError):
    """400 or 422: Domino rejected the request's content (unknown hardware tier, bad commit...)."""


class DominoAuthError(DominoApiError):
    """401 or 403: the credentials were refused or lack permission."""

    hint = "check the API key or token of the Domino connection and its access to the project"


class DominoNotFoundError(DominoApiError):
    """404: the job, project, tag or goal does not exist (or is not visible to these credentials)."""


class DominoConflictError(DominoApiError):
    """409: the request conflicts with the current state of the resource."""


class DominoRateLimitError(DominoApiError):
    """429 that outlasted the retries."""

    hint = "Domino kept rate-limiting; lower the number of concurrent tasks or raise poll_interval"


class DominoServerError(DominoApiError):
    """5xx that outlasted the retries (or an ambiguous one on a request that must not be resent)."""


class DominoUnexpectedResponseError(DominoApiError):
    """A success status whose body is not what the endpoint returns (an SSO login page, a proxy banner)."""

    hint = "is the connection host the Domino API, and not a login page or proxy?"


class DominoJobError(DominoError):
    """A Domino job did not end the way the task needed."""

    def __init__(self, job_id: str, job_status: str, message: str, log_tail: str = "") -> None:
        self.job_id = job_id
        self.job_status = job_status
        self.log_tail = log_tail
        text = message
        if log_tail:
            text += f"\nLast lines of the Domino job log:\n{log_tail}"
        super().__init__(text)


class DominoJobFailedError(DominoJobError):
    """The job ended Failed, Stopped or Error."""


class DominoJobTimeoutError(DominoJobError):
    """The job did not finish within the operator's ``timeout``; it was stopped."""


_ERROR_BY_STATUS: dict[int, type[DominoApiError]] = {
    400: DominoBadRequestError,
    401: DominoAuthError,
    403: DominoAuthError,
    404: DominoNotFoundError,
    409: DominoConflictError,
    422: DominoBadRequestError,
    429: DominoRateLimitError,
}


def error_class_for_status(status: int) -> type[DominoApiError]:
    """Pick the most specific :class:`DominoApiError` subclass for an HTTP status."""
    if status in _ERROR_BY_STATUS:
        return _ERROR_BY_STATUS[status]
    if status >= 500:
        return DominoServerError
    return DominoApiError
