"""The relay's exceptions, a branch of realtalk's one exception tree::

    RealtalkError
    └── RelayError                  something the relay refused or could not do
        └── AuthenticationError     a client's handshake was refused (``status``: 401 or 403)
            └── TokenError          a session token is malformed, forged, expired or for
                                    another session (``reason`` says which)

Messages name the bad value (a session id, an expiry time) and never contain a token, a
signing secret or a provider credential.
"""

from __future__ import annotations

from typing import Literal

from ..errors import RealtalkError

__all__ = ("RelayError", "AuthenticationError", "TokenError", "TokenProblem")

#: Why a token was refused.
TokenProblem = Literal["missing", "malformed", "bad_signature", "expired", "wrong_session"]


class RelayError(RealtalkError):
    """Root of the relay's exceptions."""


class AuthenticationError(RelayError):
    """A client's handshake was refused.

    Attributes:
        status: the HTTP status the handshake is refused with: 401 (no valid credential) or
            403 (a valid credential that does not allow this request).
    """

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class TokenError(AuthenticationError):
    """A session token was refused.

    Attributes:
        reason: ``"missing"``, ``"malformed"``, ``"bad_signature"``, ``"expired"`` or
            ``"wrong_session"``.
    """

    def __init__(self, message: str, *, reason: TokenProblem) -> None:
        super().__init__(message, status=403 if reason == "wrong_session" else 401)
        self.reason: TokenProblem = reason
