"""Turn an Airflow ``domino`` connection (plus Domino's own environment variables) into settings.

Precedence: whatever the connection sets wins; only what it leaves empty is taken from the environment
variables that Domino sets inside its runs (``DOMINO_API_HOST``, ``DOMINO_USER_API_KEY``,
``DOMINO_TOKEN_FILE``, ``DOMINO_API_PROXY``). That way a DAG running inside Domino works with an empty
connection, and an explicit connection is never silently overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from airflow_provider_domino.api.errors import DominoConfigError

if TYPE_CHECKING:
    from airflow.sdk import Connection

AuthKind = Literal["api_key", "bearer", "token_file", "proxy"]

DEFAULT_TIMEOUT = 30.0
DEFAULT_CONNECT_TIMEOUT = 10.0
#: The Domino environment variables a connection falls back to (set inside Domino).
DOMINO_ENV_VARS = ("DOMINO_API_PROXY", "DOMINO_API_HOST", "DOMINO_TOKEN_FILE", "DOMINO_USER_API_KEY")


def _mask(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker so it is redacted from every log line."""
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:  # pragma: no cover - older SDK layouts
        return
    mask_secret(secret)


@dataclass
class DominoAuth:
    """How requests authenticate. ``headers()`` is called for every request, so a token file is re-read."""

    kind: AuthKind
    conn_id: str
    secret: str | None = field(default=None, repr=False)
    token_file: str | None = None
    _last_token: str | None = field(default=None, init=False, repr=False, compare=False)
    _fixed_headers: Mapping[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def headers(self) -> Mapping[str, str]:
        """The authentication headers of one request (read-only: callers copy before adding to them).

        A token file is read again for every request (the token may have been rotated); the headers of
        a key, a token or the proxy never change, so they are built once.
        """
        if self.kind == "token_file":
            return {"Authorization": f"Bearer {self._read_token_file()}"}
        if self._fixed_headers is None:
            self._fixed_headers = self._build_fixed_headers()
        return self._fixed_headers

    def _build_fixed_headers(self) -> Mapping[str, str]:
        if self.kind == "proxy":
            return MappingProxyType({})
        assert self.secret is not None
        if self.kind == "bearer":
            return MappingProxyType({"Authorization": f"Bearer {self.secret}"})
        return MappingProxyType({"X-Domino-Api-Key": self.secret})

    def describe(self) -> str:
        """Which credential is in use, for messages (never the credential itself)."""
        return {
            "api_key": "API key (X-Domino-Api-Key)",
            "bearer": "bearer token",
            "token_file": f"token file {self.token_file}",
            "proxy": "Domino API proxy (no credentials sent)",
        }[self.kind]

    def _read_token_file(self) -> str:
        assert self.token_file is not None
        try:
            token = Path(self.token_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise DominoConfigError(
                f"Connection '{self.conn_id}': cannot read token file {self.token_file}: {err.strerror}"
            ) from None
        if not token:
            raise DominoConfigError(f"Connection '{self.conn_id}': token file {self.token_file} is empty")
        if token != self._last_token:
            _mask(token)
            self._last_token = token
        return token


@dataclass(frozen=True)
class DominoConnectionSettings:
    """Everything the transports need to talk to one Domino deployment."""

    conn_id: str
    base_url: str
    auth: DominoAuth
    verify: bool | str = True
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    project_id: str | None = None
    browser_url: str | None = None

    @property
    def ui_url(self) -> str:
        """Where people open Domino in a browser: extra ``ui_url``, else the API URL."""
        return self.browser_url or self.base_url

    @classmethod
    def resolve(
        cls, conn_id: str, conn: Connection | None, environ: Mapping[str, str]
    ) -> DominoConnectionSettings:
        """Build settings from a connection (``None`` when it is not defined) and the environment."""
        extras: Mapping[str, Any] = _extras(conn) if conn is not None else {}
        # By name: walking all of ``os.environ`` decodes every variable, per trigger started.
        env = {key: value for key in DOMINO_ENV_VARS if (value := environ.get(key))}

        def extra(name: str) -> Any:
            value = extras.get(name, extras.get(f"extra__domino__{name}"))
            return None if value in ("", None) else value

        host = (conn.host or "").strip() if conn is not None else ""
        password = (conn.password or "") if conn is not None else ""
        if conn is not None and conn.port and host and "://" in host:
            host = _with_port(conn_id, host, conn.port)

        proxy = extra("api_proxy")
        if proxy is None and not host and not password and extra("token_file") is None:
            proxy = env.get("DOMINO_API_PROXY")

        auth_type = str(extra("auth_type") or "api_key").strip().lower()
        if auth_type not in ("api_key", "bearer"):
            raise DominoConfigError(
                f"Connection '{conn_id}': extra 'auth_type' must be 'api_key' or 'bearer', got {auth_type!r}"
            )

        if proxy:
            base_url = _validate_url(conn_id, str(proxy), "extra 'api_proxy' (or DOMINO_API_PROXY)")
            auth = DominoAuth("proxy", conn_id)
        else:
            host = host or env.get("DOMINO_API_HOST", "")
            if not host:
                raise DominoConfigError(
                    f"Connection '{conn_id}' has no host and DOMINO_API_HOST is not set; "
                    "set the connection's host to your Domino URL, e.g. https://domino.example.com"
                )
            base_url = _validate_url(conn_id, host, "host")
            auth = _resolve_credentials(conn_id, password, extra("token_file"), auth_type, env)

        if auth.secret:
            _mask(auth.secret)
        return cls(
            conn_id=conn_id,
            base_url=base_url,
            auth=auth,
            verify=_parse_verify(conn_id, extra("verify")),
            timeout=_parse_timeout(conn_id, extra("timeout")),
            project_id=str(extra("project_id")) if extra("project_id") else None,
            browser_url=_validate_url(conn_id, str(extra("ui_url")), "extra 'ui_url'")
            if extra("ui_url")
            else None,
        )


def _extras(conn: Connection) -> Mapping[str, Any]:
    try:
        extras = conn.extra_dejson
    except Exception:  # malformed JSON in the extra field
        raise DominoConfigError(f"Connection '{conn.conn_id}': the extra field is not valid JSON") from None
    return extras if isinstance(extras, Mapping) else {}


def _resolve_credentials(
    conn_id: str, password: str, token_file: Any, auth_type: str, env: Mapping[str, str]
) -> DominoAuth:
    if password:
        return DominoAuth("bearer" if auth_type == "bearer" else "api_key", conn_id, secret=password)
    if token_file:
        return DominoAuth("token_file", conn_id, token_file=str(token_file))
    if env.get("DOMINO_TOKEN_FILE"):
        return DominoAuth("token_file", conn_id, token_file=env["DOMINO_TOKEN_FILE"])
    if env.get("DOMINO_USER_API_KEY"):
        return DominoAuth("api_key", conn_id, secret=env["DOMINO_USER_API_KEY"])
    raise DominoConfigError(
        f"Connection '{conn_id}' has no credentials: set its password to a Domino API key (or a token "
        "with extra auth_type='bearer'), or extra 'token_file', or DOMINO_USER_API_KEY/DOMINO_TOKEN_FILE"
    )


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _with_port(conn_id: str, host: str, port: int) -> str:
    """The host URL with the connection's port field applied.

    The port field exists so Airflow's Test button works (see ``get_provider_info``); it adds to a
    URL without a port, agrees with a URL that has one, and is left out when it is the scheme's
    default, so ``https://domino.example.com`` with port 443 stays that URL (also in job links).
    """
    try:
        url_port = urlsplit(host).port
    except ValueError:
        url_port = None  # a malformed port in the URL: _validate_url names the host
    if url_port is not None:
        if url_port != port:
            raise DominoConfigError(
                f"Connection '{conn_id}': port {port} disagrees with the port {url_port} in host {host!r}; "
                "set the same port in both, or clear the port field"
            )
        return host
    if _DEFAULT_PORTS.get(urlsplit(host).scheme.lower()) == port:
        return host
    return f"{host.rstrip('/')}:{port}"


def _validate_url(conn_id: str, url: str, what: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DominoConfigError(
            f"Connection '{conn_id}': {what} {url!r} must be a URL with scheme, "
            f"e.g. https://{parts.netloc or parts.path or 'domino.example.com'}"
        )
    return url


def _parse_verify(conn_id: str, value: Any) -> bool | str:
    if value is None or isinstance(value, bool):
        return True if value is None else value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    if not Path(text).exists():
        raise DominoConfigError(f"Connection '{conn_id}': extra 'verify' CA bundle {text!r} does not exist")
    return text


def _parse_timeout(conn_id: str, value: Any) -> float:
    if value is None:
        return DEFAULT_TIMEOUT
    try:
        timeout = float(value)
    except (TypeError, ValueError):
        timeout = -1.0
    if timeout <= 0:
        raise DominoConfigError(
            f"Connection '{conn_id}': extra 'timeout' must be positive seconds, got {value!r}"
        )
    return timeout
