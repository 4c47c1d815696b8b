"""Tests for realtalk.relay.web: static files, and the browser client in the package."""

from __future__ import annotations

from pathlib import Path

import pytest

import realtalk.relay
from realtalk.errors import ConfigurationError
from realtalk.relay.web import StaticSite, browser_client


def test_files_under_the_root_are_served_with_their_type(tmp_path: Path) -> None:
    """/ is index.html; types follow the suffix; queries are ignored."""
    (tmp_path / "index.html").write_text("<h1>hi</h1>")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("let x = 1;")
    site = StaticSite(tmp_path)
    index = site.get("/")
    assert index is not None and index.body == b"<h1>hi</h1>"
    assert index.content_type == "text/html; charset=utf-8"
    script = site.get("/js/app.js?v=2")
    assert script is not None and script.content_type.startswith("text/javascript")
    assert site.get("/missing.js") is None
    assert site.get("/js") is None  # a directory


def test_nothing_outside_the_root_is_reachable(tmp_path: Path) -> None:
    """.. (plain or percent-encoded), absolute paths and symlinks out are 404."""
    root = tmp_path / "web"
    root.mkdir()
    (tmp_path / "secret.txt").write_text("key")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    site = StaticSite(root)
    for target in ("/../secret.txt", "/%2e%2e/secret.txt", "//etc/passwd", "/link.txt",
                   "/a\x00b"):
        assert site.get(target) is None, target


def test_the_root_must_be_a_directory(tmp_path: Path) -> None:
    """A missing root is a configuration error naming it."""
    with pytest.raises(ConfigurationError, match="nowhere"):
        StaticSite(tmp_path / "nowhere")


def test_the_browser_client_ships_inside_the_package() -> None:
    """The page, its script and its worklets are package files (so a wheel has them), and
    browser_client() gives their directory."""
    package = Path(realtalk.relay.__file__).resolve().parent
    with browser_client() as root:
        assert root.resolve() == package / "browser"
        site = StaticSite(root)
        for name in ("index.html", "app.js", "worklets.js"):
            found = site.get("/" + name)
            assert found is not None and found.body == (package / "browser" / name).read_bytes()
        index = site.get("/")
        assert index is not None and b'<script src="app.js"' in index.body
