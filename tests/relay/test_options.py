"""RelayOptions: the defaults a relay runs with, and settings it refuses, naming them."""

from __future__ import annotations

from typing import Any

import pytest

from realtalk.errors import ConfigurationError
from realtalk.relay import RelayOptions
from realtalk.relay.limits import RelayLimits
from realtalk.relay.options import DEFAULT_PATHS
from realtalk.relay.policy import EventPolicy


def test_the_defaults_listen_on_loopback_and_serve_both_url_forms() -> None:
    options = RelayOptions()
    assert (options.host, options.port) == ("127.0.0.1", 0)
    assert options.paths == DEFAULT_PATHS == ("/v1/realtime", "/openai/v1/realtime")
    assert options.on_upstream_loss == "close"
    assert isinstance(options.policy, EventPolicy)
    assert options.limits == RelayLimits()
    assert options.allowed_origins is None and options.web_root is None
    assert not options.demo_tokens
    assert (options.metrics_path, options.health_path) == ("/metrics", "/healthz")


def test_each_relay_gets_its_own_policy_and_limits() -> None:
    """Mutable parts are made per instance, never shared between relays."""
    assert RelayOptions().policy is not RelayOptions().policy


@pytest.mark.parametrize("field", ["upstream_first_event_timeout", "upstream_send_timeout",
                                   "client_send_timeout", "upstream_close_timeout"])
@pytest.mark.parametrize("value", [0, -1.0])
def test_timeouts_must_be_positive(field: str, value: float) -> None:
    with pytest.raises(ConfigurationError,
                       match=rf"RelayOptions\.{field} must be > 0, got {value!r}"):
        RelayOptions(**{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"on_upstream_loss": "retry"}, ["on_upstream_loss", "'close'", "'reconnect'", "'retry'"]),
    ({"reconnect_attempts": -1}, ["reconnect_attempts", "0", "-1"]),
    ({"reconnect_delay": -0.5}, ["reconnect_delay", "0", "-0.5"]),
])
def test_bad_reconnect_settings_name_the_field_and_the_value(kwargs: dict[str, Any],
                                                              named: list[str]) -> None:
    """In whatever wording, the message holds the field, what it allows and what it got."""
    with pytest.raises(ValueError, match=named[0]) as refused:
        RelayOptions(**kwargs)
    assert all(part in str(refused.value) for part in named), str(refused.value)


@pytest.mark.parametrize("kwargs", [{"on_upstream_loss": "retry"}, {"reconnect_attempts": -1},
                                    {"reconnect_delay": -0.5}])
def test_every_refusal_is_a_configuration_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))) as refused:
        RelayOptions(**kwargs)
    assert isinstance(refused.value, ConfigurationError)


def test_zero_reconnect_attempts_and_delay_are_allowed() -> None:
    options = RelayOptions(on_upstream_loss="reconnect", reconnect_attempts=0,
                           reconnect_delay=0.0)
    assert (options.reconnect_attempts, options.reconnect_delay) == (0, 0.0)
