"""Providers: what each builder makes, and connecting through a local and a remote one."""

from __future__ import annotations

import json

import anyio
import pytest

from realtalk import providers
from realtalk.errors import ConfigurationError, ConnectError
from realtalk.server import ScriptedResponder, ServerOptions
from realtalk.transport import Endpoint, azure_endpoint, openai_endpoint

SECRET = "sk-test-SECRET-456"


def test_openai_and_azure_are_remote_providers_of_their_endpoints() -> None:
    openai = providers.openai(api_key=SECRET, model="m")
    assert openai.endpoint == openai_endpoint(api_key=SECRET, model="m")
    assert (openai.shape, openai.open_timeout) == ("ga", 10.0)
    ga = providers.azure(deployment="d", endpoint="https://r.openai.azure.com", api_key=SECRET)
    assert ga.endpoint == azure_endpoint(deployment="d", endpoint="https://r.openai.azure.com",
                                         api_key=SECRET)
    assert ga.shape == "ga"
    preview = providers.azure(deployment="d", endpoint="https://r.openai.azure.com",
                              token="t", api_version="2025-04-01-preview")
    assert preview.shape == "beta"  # the provider speaks its endpoint's shape


def test_endpoint_keeps_its_own_copy_of_the_headers() -> None:
    headers = {"Authorization": f"Bearer {SECRET}"}
    provider = providers.endpoint("wss://h/realtime", headers=headers, shape="beta")
    headers["Authorization"] = "changed"
    assert provider.endpoint == Endpoint(url="wss://h/realtime",
                                         headers={"Authorization": f"Bearer {SECRET}"},
                                         shape="beta")
    assert provider.shape == "beta"
    assert providers.endpoint("ws://h").endpoint.headers == {}


def test_a_bad_endpoint_url_is_named_with_its_credentials_masked() -> None:
    with pytest.raises(ConfigurationError, match=r"ws:// or wss:// URL with a host") as bad:
        providers.endpoint(f"https://h/realtime?api-key={SECRET}")
    assert "api-key=[redacted]" in str(bad.value)
    assert SECRET not in str(bad.value)
    with pytest.raises(ConfigurationError, match="'ws:///realtime'"):
        providers.endpoint("ws:///realtime")  # no host


def test_a_blank_model_or_deployment_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="non-empty string for model, got ' '"):
        providers.openai(api_key="k", model=" ")
    with pytest.raises(ConfigurationError, match="non-empty string for deployment"):
        providers.azure(deployment="", endpoint="https://r", api_key="k")


def test_a_credential_of_the_wrong_type_is_named_but_not_shown() -> None:
    with pytest.raises(ConfigurationError, match="api_key") as bad:
        providers.openai(api_key=b"sk-BYTES-SECRET")  # type: ignore[arg-type]
    assert "BYTES-SECRET" not in str(bad.value)


def test_local_passes_its_settings_to_the_server() -> None:
    def factory() -> ScriptedResponder:
        return ScriptedResponder(["hi"])

    provider = providers.local(first_audio_latency_ms=5.0, generation_speed=8.0, chunk_ms=40,
                               responder_factory=factory)
    assert provider.shape == "ga"
    assert provider.server is None  # nothing runs until a connection
    assert provider.server_options["options"] == ServerOptions(
        first_audio_latency_ms=5.0, generation_speed=8.0, chunk_ms=40)
    assert provider.server_options["responder_factory"] is factory
    assert "transcriber_factory" not in provider.server_options  # the server's default
    assert repr(provider) == "LocalProvider(on_client_event, options, responder_factory)"


@pytest.mark.anyio
async def test_a_local_connection_runs_its_own_server_and_a_remote_one_reaches_it() -> None:
    """local() starts the embedded server for the connection and stops it after; a remote
    provider pointed at that server opens a session of its own on it."""
    local = providers.local()
    with anyio.fail_after(30):  # a safety net: nothing here waits on the clock
        async with local.connect() as transport:
            assert json.loads(await transport.receive())["type"] == "session.created"
            server = local.server
            assert server is not None
            remote = providers.openai(api_key="any", base_url=server.http_base_url)
            async with remote.connect() as other:
                assert json.loads(await other.receive())["type"] == "session.created"
            assert len(server.sessions) == 2
        url = f"ws://127.0.0.1:{server.port}/v1/realtime"
        with pytest.raises(ConnectError):  # stopped with the connection
            async with providers.endpoint(url).connect():
                pass


def test_keepalive_and_faults_are_checked_and_kept() -> None:
    from realtalk.server import Drop, Fault, FaultPlan
    from realtalk.transport import DEFAULT_KEEPALIVE, Keepalive

    assert providers.openai(api_key="sk-x").keepalive is DEFAULT_KEEPALIVE
    assert providers.endpoint("ws://h/x", keepalive=None).keepalive is None
    custom = Keepalive(interval=1.0, timeout=2.0)
    assert providers.azure(deployment="d", endpoint="https://r.example", api_key="k",
                           keepalive=custom).keepalive is custom
    plan = FaultPlan([Fault(Drop(), after=1.0)])
    local = providers.local(faults=plan, keepalive=custom)
    assert local.keepalive is custom and local.server_options["faults"] is plan
    with pytest.raises(ConfigurationError, match="keepalive"):
        providers.openai(api_key="sk-x", keepalive=5.0)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="faults"):
        providers.local(faults=[Fault(Drop(), after=1.0)])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="timeout"):
        Keepalive(timeout=0)
