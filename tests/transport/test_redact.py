"""Tests for realtalk.transport.redact: scrubbing credentials from log records."""

from __future__ import annotations

import logging

import pytest

from realtalk.relay.tokens import TokenSigner
from realtalk.transport.redact import Redactor, redacting

TOKEN = TokenSigner("z" * 32).mint("s1")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("> Authorization: Bearer sk-live-abcdef", "sk-live-abcdef"),
        ("< api-key: 0123456789abcdef", "0123456789abcdef"),
        ("< Sec-WebSocket-Protocol: realtalk, realtalk-token.abc.def.ghi", "abc.def.ghi"),
        ("< Cookie: session=verysecretcookie", "verysecretcookie"),
        ("> GET /openai/realtime?api-key=k3y-in-url&deployment=d HTTP/1.1", "k3y-in-url"),
        ("failed with bearer tokentokentoken in it", "tokentokentoken"),
        (f"a token {TOKEN} in a message", TOKEN),
        ("subprotocol openai-insecure-api-key.sk-proj-xyz offered", "sk-proj-xyz"),
    ],
)
def test_credential_patterns_are_masked(text: str, secret: str) -> None:
    """Headers, bearer values, URL keys, subprotocol tokens and session tokens are masked."""
    clean = Redactor().redact(text)
    assert secret not in clean
    assert "[redacted]" in clean


def test_known_secret_values_are_masked_anywhere() -> None:
    """A provider key given to the redactor is masked even in free text; short ones are not
    (they would mask ordinary words)."""
    redactor = Redactor(["plain-key-value-123", "abc"])
    assert redactor.redact("oops plain-key-value-123!") == "oops [redacted]!"
    assert redactor.redact("abc") == "abc"
    assert redactor.redact("> Host: example.com") == "> Host: example.com"


def test_the_filter_rewrites_records_of_its_loggers_only_while_attached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Records of the named loggers reach handlers already redacted (args folded in);
    after the block the filter is gone."""
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("realtalk.test.redact")
    with redacting(["realtalk.test.redact"], Redactor(["sk-secret-provider-key"])):
        log.debug("> %s: %s", "Authorization", "Bearer sk-secret-provider-key")
        log.debug("key %s", "sk-secret-provider-key")
    log.debug("after %s", "sk-secret-provider-key")
    records = [r for r in caplog.records if r.name == "realtalk.test.redact"]
    assert [r.getMessage() for r in records] == [
        "> Authorization: [redacted]", "key [redacted]", "after sk-secret-provider-key"]
    assert records[0].args is None
    assert not log.filters
