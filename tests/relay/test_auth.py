"""Tests for realtalk.relay.auth: reading credentials from handshakes, and authenticators."""

from __future__ import annotations

import pytest

from realtalk.relay.auth import CallbackAuthenticator, HandshakeRequest, TokenAuthenticator
from realtalk.relay.errors import AuthenticationError, TokenError
from realtalk.relay.tokens import SessionClaims, TokenSigner

pytestmark = pytest.mark.anyio

SIGNER = TokenSigner("k" * 32)
NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("headers", "credential"),
    [
        ([("Authorization", "Bearer tok-1")], "tok-1"),
        ([("authorization", "bearer   tok-2 ")], "tok-2"),
        ([("api-key", "tok-3")], "tok-3"),
        ([("Sec-WebSocket-Protocol", "realtalk, realtalk-token.tok-4")], "tok-4"),
        ([("Sec-WebSocket-Protocol", "realtime, openai-insecure-api-key.tok-5")], "tok-5"),
        ([("Authorization", "Basic dXNlcg=="), ("api-key", "tok-6")], "tok-6"),
        ([("Authorization", "Bearer a"), ("api-key", "b")], "a"),  # bearer wins
        ([("Sec-WebSocket-Protocol", "realtalk-token.")], None),  # empty token
        ([], None),
    ],
)
def test_the_credential_is_read_from_headers_and_subprotocols(
    headers: list[tuple[str, str]], credential: str | None,
) -> None:
    """Bearer, then api-key, then a token subprotocol; never the URL."""
    request = HandshakeRequest.from_http("/v1/realtime?model=m&token=from-url", headers)
    assert request.credential == credential


def test_the_request_keeps_other_headers_and_the_session_id() -> None:
    """Credential headers are left out of headers; session_id and cookies are kept apart."""
    request = HandshakeRequest.from_http(
        "/v1/realtime?session_id=s9&model=m",
        [("Authorization", "Bearer secret-token"), ("Origin", "https://app.example"),
         ("Cookie", "sid=abc"), ("Sec-WebSocket-Protocol", "realtalk")],
        remote_address="10.0.0.1:5000",
    )
    assert request.path == "/v1/realtime"
    assert request.query == {"session_id": "s9", "model": "m"}
    assert request.requested_session_id == "s9"
    assert request.headers == {"origin": "https://app.example"}
    assert request.cookies == "sid=abc"
    assert "secret-token" not in repr(request) and "abc" not in repr(request)
    assert "credential=present" in repr(request)


async def test_token_authenticator_verifies_against_its_clock() -> None:
    """A valid token passes; an expired or missing one raises TokenError."""
    token = SIGNER.mint("s1", ttl=10, now=NOW)
    clock = [NOW + 5]
    auth = TokenAuthenticator(SIGNER, clock=lambda: clock[0])
    request = HandshakeRequest(path="/v1/realtime", credential=token)
    assert (await auth.authenticate(request)).session_id == "s1"
    clock[0] = NOW + 11
    with pytest.raises(TokenError, match="expired"):
        await auth.authenticate(request)
    with pytest.raises(TokenError) as info:
        await auth.authenticate(HandshakeRequest(path="/v1/realtime"))
    assert info.value.reason == "missing"
    wrong = HandshakeRequest(path="/v1/realtime", credential=SIGNER.mint("s1"),
                             requested_session_id="s2")
    with pytest.raises(TokenError) as mismatch:
        await TokenAuthenticator(SIGNER).authenticate(wrong)
    assert mismatch.value.status == 403


async def test_callback_authenticator_sync_async_and_refusal() -> None:
    """The callback may be sync or async; None refuses (401); its own error keeps its status."""
    claims = SessionClaims(session_id="u1")

    def sync(request: HandshakeRequest) -> SessionClaims | None:
        return claims if request.credential == "ok" else None

    async def forbid(request: HandshakeRequest) -> SessionClaims | None:
        raise AuthenticationError("banned", status=403)

    ok = HandshakeRequest(path="/", credential="ok")
    assert await CallbackAuthenticator(sync).authenticate(ok) == claims
    with pytest.raises(AuthenticationError) as refused:
        await CallbackAuthenticator(sync).authenticate(HandshakeRequest(path="/"))
    assert refused.value.status == 401
    with pytest.raises(AuthenticationError) as banned:
        await CallbackAuthenticator(forbid).authenticate(ok)
    assert banned.value.status == 403
    with pytest.raises(TypeError, match="got str"):
        await CallbackAuthenticator(lambda r: "yes").authenticate(ok)  # type: ignore[arg-type,return-value]
