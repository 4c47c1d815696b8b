"""Short-lived session tokens: minted by the app's backend, verified by the relay.

A token binds one client to one relay session id until it expires. It is
``rt1.<claims>.<signature>``: the claims are base64url JSON (``sid``, ``exp``, ``iat`` and an
optional ``sub``), the signature is HMAC-SHA256 over ``rt1.<claims>`` with a secret that the
app's backend and every relay process share. Nothing here touches the network or a clock
unless no ``now`` is passed (then :func:`time.time`).

The token is only base64url and dots, so it fits an ``Authorization: Bearer`` header and a
WebSocket subprotocol (``realtalk-token.<token>``), which is how a browser presents it.

Verification can accept older secrets besides the current one, so the secret can be rotated
across a fleet of relays without refusing the tokens already handed out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Iterable
from typing import TypeGuard

import attrs

from ..errors import ConfigurationError
from .errors import TokenError

__all__ = ("SessionClaims", "TokenSigner", "new_session_id", "is_valid_session_id",
           "TOKEN_PREFIX", "MIN_SECRET_BYTES")

TOKEN_PREFIX = "rt1"
#: The shortest signing secret accepted (HMAC-SHA256 wants at least its output size).
MIN_SECRET_BYTES = 32
_MAX_TOKEN_CHARS = 4096  # far above a real token; refuses absurd inputs before any work
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def is_valid_session_id(session_id: str) -> bool:
    """Whether ``session_id`` is 1-128 characters of ``A-Z a-z 0-9 _ -``.

    The restriction keeps session ids safe to put in URLs and log lines verbatim.
    """
    return _SESSION_ID.fullmatch(session_id) is not None


def new_session_id() -> str:
    """A fresh random relay session id (``rs_`` and 22 URL-safe characters)."""
    return "rs_" + secrets.token_urlsafe(16)


@attrs.frozen(kw_only=True)
class SessionClaims:
    """What a verified token (or an app's own authenticator) grants a client.

    Attributes:
        session_id: the one relay session the client may act on.
        expires_at: Unix time after which the token is refused.
        issued_at: Unix time the token was minted.
        subject: the app's name for the user, if it put one in (for logs and policies).
    """

    session_id: str = attrs.field()
    expires_at: float = math.inf
    issued_at: float = 0.0
    subject: str | None = None

    @session_id.validator
    def _check_session_id(self, _: attrs.Attribute[str], value: str) -> None:
        if not is_valid_session_id(value):
            raise ConfigurationError(
                f"session_id must be 1-128 characters of A-Z a-z 0-9 _ -, got {value!r}"
            )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes, what: str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{what} must be at least {MIN_SECRET_BYTES} bytes, got {len(key)}"
        )
    return key


class TokenSigner:
    """Mints and verifies session tokens with a shared secret.

    Args:
        secret: the current signing secret (at least 32 bytes; e.g.
            ``secrets.token_urlsafe(32)``).
        previous_secrets: older secrets still accepted when verifying, during a rotation.
        leeway: seconds of clock difference tolerated past a token's expiry.

    Raises:
        ConfigurationError: a secret shorter than 32 bytes, or a negative leeway.
    """

    def __init__(self, secret: str | bytes, *, previous_secrets: Iterable[str | bytes] = (),
                 leeway: float = 0.0) -> None:
        if leeway < 0:
            raise ConfigurationError(f"leeway must be >= 0 seconds, got {leeway!r}")
        self._key = _key(secret, "secret")
        self._keys = (self._key, *(_key(s, "a previous secret") for s in previous_secrets))
        self.leeway = leeway

    def __repr__(self) -> str:
        # Never the secret itself.
        return f"TokenSigner(secrets={len(self._keys)}, leeway={self.leeway})"

    def _sign(self, key: bytes, body: str) -> bytes:
        return hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()

    def mint(self, session_id: str, *, ttl: float = 300.0, subject: str | None = None,
             now: float | None = None) -> str:
        """A token for ``session_id``, valid for ``ttl`` seconds from ``now``.

        Raises:
            ConfigurationError: an invalid session id (see :func:`is_valid_session_id`) or a
                ``ttl`` that is not positive.
        """
        if not is_valid_session_id(session_id):
            raise ConfigurationError(
                f"session_id must be 1-128 characters of A-Z a-z 0-9 _ -, got {session_id!r}"
            )
        if not ttl > 0:
            raise ConfigurationError(f"ttl must be > 0 seconds, got {ttl!r}")
        issued = time.time() if now is None else now
        claims: dict[str, object] = {"sid": session_id, "iat": issued, "exp": issued + ttl}
        if subject is not None:
            claims["sub"] = subject
        body = f"{TOKEN_PREFIX}.{_b64(json.dumps(claims, separators=(',', ':')).encode())}"
        return f"{body}.{_b64(self._sign(self._key, body))}"

    def verify(self, token: str, *, session_id: str | None = None,
               now: float | None = None) -> SessionClaims:
        """Check ``token`` and return its claims.

        Args:
            token: the presented token.
            session_id: if given, the session the client asked for; the token must be for it.
            now: the current Unix time (default :func:`time.time`).

        Raises:
            TokenError: ``reason`` is ``"malformed"`` (not a token of this format),
                ``"bad_signature"`` (forged, altered, or signed with an unknown secret),
                ``"expired"``, or ``"wrong_session"`` (valid, but for another session).
        """
        parts = token.split(".") if len(token) <= _MAX_TOKEN_CHARS else []
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise TokenError(f"not a {TOKEN_PREFIX} session token", reason="malformed")
        body = f"{parts[0]}.{parts[1]}"
        try:
            signature = _unb64(parts[2])
            raw_claims = _unb64(parts[1])
        except (binascii.Error, ValueError) as exc:
            raise TokenError("session token is not valid base64url", reason="malformed") from exc
        # Every key is tried (no early exit), so timing does not tell which one matched.
        matched = [hmac.compare_digest(self._sign(key, body), signature) for key in self._keys]
        if not any(matched):
            raise TokenError("session token signature does not match", reason="bad_signature")
        claims = _claims(raw_claims)
        current = time.time() if now is None else now
        if current > claims.expires_at + self.leeway:
            raise TokenError(
                f"session token for {claims.session_id!r} expired at {claims.expires_at:.0f} "
                f"(now {current:.0f})", reason="expired",
            )
        if session_id is not None and session_id != claims.session_id:
            raise TokenError(
                f"session token is for session {claims.session_id!r}, not {session_id!r}",
                reason="wrong_session",
            )
        return claims


def _claims(raw: bytes) -> SessionClaims:
    """The claims of a correctly signed token (a signed token can still be malformed if the
    minting side is buggy, so every field is checked)."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("session token claims are not JSON", reason="malformed") from exc
    if not isinstance(data, dict):
        raise TokenError("session token claims are not a JSON object", reason="malformed")
    sid, exp, iat, sub = data.get("sid"), data.get("exp"), data.get("iat", 0.0), data.get("sub")
    if not (isinstance(sid, str) and is_valid_session_id(sid) and _is_number(exp)
            and _is_number(iat) and (sub is None or isinstance(sub, str))):
        raise TokenError("session token claims have a missing or invalid field",
                         reason="malformed")
    return SessionClaims(session_id=sid, expires_at=float(exp), issued_at=float(iat),
                         subject=sub)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
