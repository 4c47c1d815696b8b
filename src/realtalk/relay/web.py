"""Serving a directory of static files (the browser client) from the relay's port.

Only ``GET`` of files inside the directory: ``/`` is ``index.html``, paths that resolve outside
the directory (``..``, symlinks) are 404, and every response says ``no-store`` and ``nosniff``.

The browser client (plain HTML and JavaScript) ships inside the package, in
``realtalk/relay/browser/``: :func:`browser_client` gives its directory.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import attrs

from ..errors import ConfigurationError

__all__ = ("StaticFile", "StaticSite", "CONTENT_TYPES", "browser_client")

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".wav": "audio/wav",
    ".ico": "image/x-icon",
}


@attrs.frozen
class StaticFile:
    """A file to send: its body and ``Content-Type``."""

    body: bytes
    content_type: str


class StaticSite:
    """The files under ``root``.

    Raises:
        ConfigurationError: ``root`` is not a directory.
    """

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise ConfigurationError(f"web root must be a directory, got {str(root)!r}")
        self.root = root.resolve()

    def __repr__(self) -> str:
        return f"StaticSite({str(self.root)!r})"

    def get(self, target: str) -> StaticFile | None:
        """The file a request target (path, maybe with a query) names, or ``None`` (404)."""
        path = urllib.parse.unquote(urllib.parse.urlsplit(target).path)
        relative = path.lstrip("/") or "index.html"
        if "\x00" in relative:
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        content_type = CONTENT_TYPES.get(candidate.suffix.lower(), "application/octet-stream")
        return StaticFile(candidate.read_bytes(), content_type)


@contextlib.contextmanager
def browser_client() -> Iterator[Path]:
    """The browser client shipped with realtalk, as a directory for ``RelayOptions.web_root``
    (``with browser_client() as root: ...``; from an ordinary install it is the package's own
    directory, from a zipped one a temporary copy that lasts as long as the ``with``)."""
    with importlib.resources.as_file(
        importlib.resources.files("realtalk.relay") / "browser"
    ) as root:
        yield root
