"""Tests for realtalk.relay.tokens: minting and verifying session tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from realtalk.errors import ConfigurationError, RealtalkError
from realtalk.relay.errors import AuthenticationError, TokenError
from realtalk.relay.tokens import (
    SessionClaims,
    TokenSigner,
    is_valid_session_id,
    new_session_id,
)

SECRET = "s" * 32
NOW = 1_700_000_000.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(claims: dict[str, object], secret: str = SECRET) -> str:
    """A token built by hand, signed with ``secret``."""
    body = "rt1." + _b64(json.dumps(claims).encode())
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(signature)}"


def test_mint_then_verify_returns_the_claims() -> None:
    """A fresh token verifies to its session, subject and times."""
    signer = TokenSigner(SECRET)
    token = signer.mint("room-42_a", ttl=60, subject="user@example.com", now=NOW)
    claims = signer.verify(token, now=NOW + 59)
    assert claims == SessionClaims(session_id="room-42_a", expires_at=NOW + 60, issued_at=NOW,
                                   subject="user@example.com")
    assert signer.verify(token, session_id="room-42_a", now=NOW).session_id == "room-42_a"
    assert set(token) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def test_an_expired_token_is_refused() -> None:
    """Past exp (plus leeway) the token is refused with reason "expired"."""
    token = TokenSigner(SECRET).mint("s1", ttl=60, now=NOW)
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(token, now=NOW + 60.5)
    assert info.value.reason == "expired" and info.value.status == 401
    assert "'s1'" in str(info.value) and token not in str(info.value)
    assert TokenSigner(SECRET, leeway=1).verify(token, now=NOW + 60.5).session_id == "s1"


@pytest.mark.parametrize("part", [1, 2])
def test_a_tampered_token_is_refused(part: int) -> None:
    """Changing one character of the claims or of the signature breaks the signature."""
    token = TokenSigner(SECRET).mint("s1", now=NOW)
    pieces = token.split(".")
    flipped = "A" if pieces[part][5] != "A" else "B"
    pieces[part] = pieces[part][:5] + flipped + pieces[part][6:]
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(".".join(pieces), now=NOW)
    assert info.value.reason in ("bad_signature", "malformed")


def test_claims_rewritten_for_another_session_are_refused() -> None:
    """A client re-encoding the claims for another session cannot re-sign them."""
    token = TokenSigner(SECRET).mint("alice", now=NOW)
    prefix, _, signature = token.split(".")
    claims = _b64(json.dumps({"sid": "bob", "iat": NOW, "exp": NOW + 300}).encode())
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(f"{prefix}.{claims}.{signature}", now=NOW)
    assert info.value.reason == "bad_signature"


def test_a_token_for_another_session_is_refused() -> None:
    """verify(session_id=...) refuses a valid token for a different session (403)."""
    token = TokenSigner(SECRET).mint("alice", now=NOW)
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(token, session_id="bob", now=NOW)
    assert info.value.reason == "wrong_session" and info.value.status == 403
    assert "'alice'" in str(info.value) and "'bob'" in str(info.value)


def test_another_secret_does_not_verify_but_a_previous_one_does() -> None:
    """Tokens from an unknown secret are refused; rotation accepts listed old secrets."""
    old, new = "o" * 32, "n" * 32
    token = TokenSigner(old).mint("s1", now=NOW)
    with pytest.raises(TokenError) as info:
        TokenSigner(new).verify(token, now=NOW)
    assert info.value.reason == "bad_signature"
    rotated = TokenSigner(new, previous_secrets=[old])
    assert rotated.verify(token, now=NOW).session_id == "s1"
    # New tokens are signed with the new secret only.
    with pytest.raises(TokenError):
        TokenSigner(old).verify(rotated.mint("s2", now=NOW), now=NOW)


@pytest.mark.parametrize(
    "token",
    ["", "rt1", "rt1.a", "rt2.e30.AAAA", "rt1.e30.AAAA.extra", "rt1.!!!.AAAA", "x" * 5000],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    """Anything not shaped like a token is refused before any claim is trusted."""
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(token, now=NOW)
    assert info.value.reason in ("malformed", "bad_signature")


@pytest.mark.parametrize(
    "claims",
    [
        {"iat": NOW, "exp": NOW + 60},  # no sid
        {"sid": "has space", "iat": NOW, "exp": NOW + 60},
        {"sid": "s1", "iat": NOW},  # no exp
        {"sid": "s1", "iat": NOW, "exp": "tomorrow"},
        {"sid": "s1", "iat": NOW, "exp": True},
        {"sid": "s1", "iat": NOW, "exp": NOW + 60, "sub": 7},
    ],
)
def test_correctly_signed_but_invalid_claims_are_malformed(claims: dict[str, object]) -> None:
    """A buggy minting side cannot produce a token with unchecked claims."""
    with pytest.raises(TokenError) as info:
        TokenSigner(SECRET).verify(_forge(claims), now=NOW)
    assert info.value.reason == "malformed"


def test_bad_configuration_is_refused() -> None:
    """Short secrets, bad session ids, non-positive ttl and negative leeway are errors."""
    with pytest.raises(ConfigurationError, match="at least 32 bytes, got 5"):
        TokenSigner("short")
    with pytest.raises(ConfigurationError, match="previous secret"):
        TokenSigner(SECRET, previous_secrets=["tiny"])
    with pytest.raises(ConfigurationError, match="leeway"):
        TokenSigner(SECRET, leeway=-1)
    signer = TokenSigner(SECRET)
    with pytest.raises(ConfigurationError, match="'a/b'"):
        signer.mint("a/b")
    with pytest.raises(ConfigurationError, match="ttl"):
        signer.mint("s1", ttl=0)
    with pytest.raises(ConfigurationError):
        SessionClaims(session_id="")


def test_the_secret_never_shows() -> None:
    """repr shows how many secrets, not what they are."""
    signer = TokenSigner(SECRET, previous_secrets=["p" * 40])
    assert SECRET not in repr(signer) and "p" * 40 not in repr(signer)
    assert repr(signer) == "TokenSigner(secrets=2, leeway=0.0)"


def test_session_ids_and_errors() -> None:
    """new_session_id makes valid, distinct ids; token errors are RealtalkErrors."""
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100 and all(is_valid_session_id(i) for i in ids)
    assert not is_valid_session_id("x" * 129) and not is_valid_session_id("a.b")
    assert issubclass(TokenError, AuthenticationError) and issubclass(TokenError, RealtalkError)
