"""Where to connect and how to authenticate: URL and header builders for OpenAI and Azure.

Credentials come from arguments or the usual environment variables (``OPENAI_API_KEY``,
``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_ENDPOINT``). They live only in
:attr:`Endpoint.headers`, which no ``repr``, log line or error message shows.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping

import attrs

from ..errors import ConfigurationError
from ..session_config import WireShape
from .redact import Redactor

__all__ = ("Endpoint", "openai_endpoint", "azure_endpoint", "DEFAULT_OPENAI_BASE_URL",
           "AZURE_PREVIEW_API_VERSION")

DEFAULT_OPENAI_BASE_URL = "wss://api.openai.com/v1"
#: The api-version of Azure's preview realtime endpoint (beta protocol shape).
AZURE_PREVIEW_API_VERSION = "2025-04-01-preview"

_REDACTOR = Redactor()


@attrs.frozen(repr=False)
class Endpoint:
    """A realtime WebSocket endpoint.

    Attributes:
        url: the ``ws://`` or ``wss://`` URL, query included.
        headers: HTTP headers for the upgrade request (authentication lives here).
        shape: ``"ga"`` or ``"beta"``: the protocol shape the endpoint speaks.
    """

    url: str
    headers: Mapping[str, str] = attrs.field(factory=dict)
    shape: WireShape = "ga"

    @property
    def safe_url(self) -> str:
        """The URL with any credential-looking query parameter (``api-key``, ``token``, ...)
        masked as ``[redacted]``."""
        return _REDACTOR.redact(self.url)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self.headers))
        return f"Endpoint(url={self.safe_url!r}, headers=<{names}>, shape={self.shape!r})"


def _ws_base(url: str, what: str) -> str:
    parts = urllib.parse.urlsplit(url.strip())
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ConfigurationError(
            f"{what} must be an http(s):// or ws(s):// URL with a host, got {url!r}"
        )
    return urllib.parse.urlunsplit((scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _secret(value: str | None, env: str, what: str) -> str | None:
    if value is None:
        value = os.environ.get(env)
    if value is not None and not value.strip():
        raise ConfigurationError(f"{what} is empty (argument or ${env})")
    return value


def openai_endpoint(
    *,
    model: str = "gpt-realtime",
    api_key: str | None = None,
    base_url: str | None = None,
) -> Endpoint:
    """The OpenAI Realtime endpoint (GA): ``wss://api.openai.com/v1/realtime?model=...``.

    Args:
        model: the realtime model.
        api_key: an API key or ephemeral client secret; default ``$OPENAI_API_KEY``.
        base_url: another compatible server, e.g. ``"http://127.0.0.1:8000/v1"``
            (``/realtime`` is appended, as openai-python does).

    Raises:
        ConfigurationError: no key, an empty key, or a malformed ``base_url``.
    """
    key = _secret(api_key, "OPENAI_API_KEY", "api_key")
    if key is None:
        raise ConfigurationError(
            "no OpenAI API key: pass api_key=... or set the OPENAI_API_KEY environment variable"
        )
    base = _ws_base(base_url or DEFAULT_OPENAI_BASE_URL, "base_url")
    url = f"{base}/realtime?{urllib.parse.urlencode({'model': model})}"
    return Endpoint(url=url, headers={"Authorization": f"Bearer {key}"}, shape="ga")


def azure_endpoint(
    *,
    deployment: str,
    endpoint: str | None = None,
    api_key: str | None = None,
    token: str | None = None,
    api_version: str | None = None,
    base_url: str | None = None,
) -> Endpoint:
    """An Azure OpenAI Realtime endpoint.

    Without ``api_version`` this is the GA form, ``{endpoint}/openai/v1/realtime?model=...``
    (GA protocol). With one, the preview form
    ``{endpoint}/openai/realtime?api-version=...&deployment=...`` (beta protocol shape).

    Args:
        deployment: the deployment name (Azure's "model").
        endpoint: ``https://<resource>.openai.azure.com``; default ``$AZURE_OPENAI_ENDPOINT``.
        api_key: sent as the ``api-key`` header; default ``$AZURE_OPENAI_API_KEY``.
        token: a Microsoft Entra ID token, sent as ``Authorization: Bearer``; wins over a key
            found in the environment.
        api_version: use the preview endpoint with this api-version.
        base_url: replaces ``{endpoint}/openai``, to target any compatible server.

    Raises:
        ConfigurationError: no endpoint, no credential, both a key and a token passed, or a
            malformed URL.
    """
    if not deployment:
        raise ConfigurationError("deployment must be a non-empty deployment name")
    if api_key is not None and token is not None:
        raise ConfigurationError("pass either api_key or token to azure(), not both")
    if base_url is None:
        where = endpoint if endpoint is not None else os.environ.get("AZURE_OPENAI_ENDPOINT")
        if not where:
            raise ConfigurationError(
                "no Azure endpoint: pass endpoint='https://<resource>.openai.azure.com' "
                "or set AZURE_OPENAI_ENDPOINT"
            )
        base = _ws_base(where, "endpoint") + "/openai"
    else:
        base = _ws_base(base_url, "base_url")
    headers: dict[str, str]
    if token is not None:
        if not token.strip():
            raise ConfigurationError("token is empty")
        headers = {"Authorization": f"Bearer {token}"}
    else:
        key = _secret(api_key, "AZURE_OPENAI_API_KEY", "api_key")
        if key is None:
            raise ConfigurationError(
                "no Azure credential: pass api_key=... or token=..., "
                "or set AZURE_OPENAI_API_KEY"
            )
        headers = {"api-key": key}
    if api_version is None:
        query = urllib.parse.urlencode({"model": deployment})
        return Endpoint(url=f"{base}/v1/realtime?{query}", headers=headers, shape="ga")
    query = urllib.parse.urlencode({"api-version": api_version, "deployment": deployment})
    return Endpoint(url=f"{base}/realtime?{query}", headers=headers, shape="beta")


def netloc(host: str, port: int) -> str:
    """``HOST:PORT`` for a URL, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
