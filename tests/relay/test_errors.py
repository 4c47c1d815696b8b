"""The relay's exceptions: one branch of realtalk's tree, each with the status or reason a
handshake is refused with."""

from __future__ import annotations

import pytest

from realtalk.errors import RealtalkError
from realtalk.relay.errors import AuthenticationError, RelayError, TokenError, TokenProblem


def test_the_tree() -> None:
    assert issubclass(RelayError, RealtalkError)
    assert issubclass(AuthenticationError, RelayError)
    assert issubclass(TokenError, AuthenticationError)


def test_an_authentication_error_is_a_401_unless_told() -> None:
    assert AuthenticationError("no credential").status == 401
    refused = AuthenticationError("not for you", status=403)
    assert refused.status == 403
    assert str(refused) == "not for you"


@pytest.mark.parametrize(("reason", "status"), [
    ("missing", 401), ("malformed", 401), ("bad_signature", 401), ("expired", 401),
    ("wrong_session", 403),
])
def test_a_token_error_is_a_403_only_for_another_session(reason: TokenProblem,
                                                        status: int) -> None:
    """A valid token for another session is a credential that does not allow this request
    (403); every other problem is no valid credential at all (401)."""
    error = TokenError(f"token {reason}", reason=reason)
    assert (error.reason, error.status, str(error)) == (reason, status, f"token {reason}")


def test_they_are_caught_as_realtalk_errors() -> None:
    with pytest.raises(RealtalkError, match="expired at 12"):
        raise TokenError("token expired at 12", reason="expired")
