"""Keeping credentials out of log records.

A client holds the provider's key (in its request headers); the relay also holds its clients'
session tokens (in their handshakes). realtalk's own log lines never contain either, but
websockets, at DEBUG level, logs every handshake header and request path on both sides, so
the transport hands websockets a logger that carries a :class:`RedactingFilter`.
:class:`RedactingFilter` scrubs records of the loggers it is attached to: credential headers
(``Authorization``, ``api-key``, ``Sec-WebSocket-Protocol``, cookies), bearer values,
credential-looking query parameters, session tokens, and any secret value it was given.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterable, Iterator

__all__ = ("Redactor", "RedactingFilter", "redacting")

_MASK = "[redacted]"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # websockets' handshake lines: "> Authorization: Bearer ..." / "< api-key: ..."
    (re.compile(r"(?im)^([<>] )?(authorization|api-key|sec-websocket-protocol|cookie|set-cookie)"
                r"(\s*:\s*).*$"), r"\1\2\3" + _MASK),
    (re.compile(r"(?i)\b(bearer\s+)[^\s,;'\"]+"), r"\1" + _MASK),
    (re.compile(r"(?i)([?&](?:api-key|api_key|key|token|access_token)=)[^&\s'\"]*"),
     r"\1" + _MASK),
    (re.compile(r"(realtalk-token\.|openai-insecure-api-key\.)[^\s,;'\"]+"), r"\1" + _MASK),
    (re.compile(r"\brt1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"), _MASK),
)


class Redactor:
    """Removes credentials from text.

    Args:
        secrets: exact values to mask wherever they appear (provider keys, say).
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)

    def __repr__(self) -> str:
        return f"Redactor(secrets={len(self._secrets)})"

    def add(self, secret: str) -> None:
        """Also mask ``secret`` (values under 8 characters are too common to mask blindly)."""
        if len(secret) >= 8:
            self._secrets.add(secret)

    def redact(self, text: str) -> str:
        """``text`` with every credential masked."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, _MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message through a :class:`Redactor`.

    The message is formatted (``msg % args``) and replaced by its redacted form, so no
    argument carries a secret further down the handler chain.
    """

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place; never drops it."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a malformed call: keep only the template
            message = str(record.msg)
        record.msg = self.redactor.redact(message)
        record.args = None
        return True


@contextlib.contextmanager
def redacting(logger_names: Iterable[str], redactor: Redactor) -> Iterator[RedactingFilter]:
    """Attach a :class:`RedactingFilter` to the named loggers for the ``with`` block."""
    log_filter = RedactingFilter(redactor)
    loggers = [logging.getLogger(name) for name in logger_names]
    for logger in loggers:
        logger.addFilter(log_filter)
    try:
        yield log_filter
    finally:
        for logger in loggers:
            logger.removeFilter(log_filter)
