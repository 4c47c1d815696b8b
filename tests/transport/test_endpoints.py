"""Endpoints: OpenAI and Azure URLs, auth headers, credentials kept out of sight."""

from __future__ import annotations

import logging

import pytest

from realtalk import providers
from realtalk.errors import ConfigurationError
from realtalk.transport import azure_endpoint, openai_endpoint

SECRET = "sk-test-SECRET-123"


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


def test_openai_default_url_and_bearer() -> None:
    """OpenAI GA: wss://api.openai.com/v1/realtime?model=..., bearer key."""
    e = openai_endpoint(api_key=SECRET)
    assert e.url == "wss://api.openai.com/v1/realtime?model=gpt-realtime"
    assert e.headers == {"Authorization": f"Bearer {SECRET}"}
    assert e.shape == "ga"


def test_openai_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """OPENAI_API_KEY is used when no key is passed."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert openai_endpoint().headers["Authorization"] == f"Bearer {SECRET}"


def test_openai_base_url_override() -> None:
    """base_url targets any compatible server; http becomes ws."""
    e = openai_endpoint(api_key="k", model="m", base_url="http://127.0.0.1:9000/v1/")
    assert e.url == "ws://127.0.0.1:9000/v1/realtime?model=m"


def test_azure_ga_form_with_api_key() -> None:
    """Azure GA: /openai/v1/realtime?model=<deployment>, api-key header."""
    e = azure_endpoint(endpoint="https://res.openai.azure.com/", deployment="gpt-realtime",
                       api_key=SECRET)
    assert e.url == "wss://res.openai.azure.com/openai/v1/realtime?model=gpt-realtime"
    assert e.headers == {"api-key": SECRET}
    assert e.shape == "ga"


def test_azure_preview_form_with_token() -> None:
    """Azure preview: /openai/realtime?api-version&deployment, bearer token, beta shape."""
    e = azure_endpoint(endpoint="https://res.openai.azure.com", deployment="dep",
                       token="tok", api_version="2025-04-01-preview")
    assert e.url == ("wss://res.openai.azure.com/openai/realtime?"
                     "api-version=2025-04-01-preview&deployment=dep")
    assert e.headers == {"Authorization": "Bearer tok"}
    assert e.shape == "beta"


def test_azure_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """AZURE_OPENAI_ENDPOINT and AZURE_OPENAI_API_KEY are read when not passed."""
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    e = azure_endpoint(deployment="d")
    assert e.url.startswith("wss://env.openai.azure.com/openai/v1/realtime")
    assert e.headers == {"api-key": SECRET}


def test_azure_base_url_override() -> None:
    """base_url replaces {endpoint}/openai."""
    e = azure_endpoint(deployment="d", api_key="k", base_url="ws://127.0.0.1:1/openai")
    assert e.url == "ws://127.0.0.1:1/openai/v1/realtime?model=d"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (openai_endpoint, "OPENAI_API_KEY"),
        (lambda: openai_endpoint(api_key="  "), "empty"),
        (lambda: openai_endpoint(api_key="k", base_url="ftp://x"), "base_url"),
        (lambda: azure_endpoint(deployment="d", api_key="k"), "AZURE_OPENAI_ENDPOINT"),
        (lambda: azure_endpoint(deployment="d", endpoint="https://r"), "AZURE_OPENAI_API_KEY"),
        (lambda: azure_endpoint(deployment="d", endpoint="https://r", api_key="k", token="t"),
         "not both"),
        (lambda: azure_endpoint(deployment="", endpoint="https://r", api_key="k"), "deployment"),
        (lambda: azure_endpoint(deployment="d", endpoint="res.openai.azure.com", api_key="k"),
         "endpoint"),
    ],
)
def test_wrong_credentials_config_is_a_clear_error(make: object, message: str) -> None:
    """Missing or conflicting settings raise ConfigurationError saying what to do."""
    with pytest.raises(ConfigurationError, match=message):
        make()  # type: ignore[operator]


def test_credentials_never_in_repr_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Neither the endpoint's nor the provider's repr shows the key; nor does a log line."""
    caplog.set_level(logging.DEBUG)
    e = azure_endpoint(endpoint="https://r.openai.azure.com", deployment="d", api_key=SECRET)
    provider = providers.azure(endpoint="https://r.openai.azure.com", deployment="d",
                               api_key=SECRET)
    logging.getLogger("realtalk.test").info("provider %r endpoint %s", provider, e)
    for text in (repr(e), str(e), repr(provider), caplog.text):
        assert SECRET not in text
    assert "api-key" in repr(e)


def test_safe_url_masks_query_credentials() -> None:
    """A browser-style api-key query parameter is masked in safe_url."""
    e = providers.endpoint(f"wss://h/openai/realtime?api-key={SECRET}&deployment=d").endpoint
    assert e.safe_url == "wss://h/openai/realtime?api-key=[redacted]&deployment=d"
