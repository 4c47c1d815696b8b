"""Documentation that runs: every ```python block of README.md and docs/ is a complete program,
run here from the installed wheel, or is marked ``<!-- fragment -->`` on the line before it."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

import attrs
import pytest

if TYPE_CHECKING:  # conftest is pytest's to import; only its type is needed here
    from conftest import InstalledWheel

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FRAGMENT = "<!-- fragment -->"
_FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@attrs.frozen
class Snippet:
    """One fenced python block: where it is, its code, and whether it is marked a fragment."""

    path: Path
    line: int
    code: str
    fragment: bool

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def snippets(path: Path) -> list[Snippet]:
    """Every ```python block of one Markdown file."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in _FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[:match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        found.append(Snippet(path, line, match.group(1), before == FRAGMENT))
    return found


ALL = [snippet for path in DOCS for snippet in snippets(path)]
COMPLETE = [snippet for snippet in ALL if not snippet.fragment]


def test_the_extractor_sees_the_documented_snippets() -> None:
    """The fence pattern finds blocks, and both kinds are present (a guard for the tests
    below, which would otherwise pass on finding nothing)."""
    assert len(ALL) >= 10
    assert len(COMPLETE) >= 6
    assert any(s.path.name == "README.md" for s in COMPLETE)


@pytest.mark.parametrize("snippet", ALL, ids=lambda s: s.name)
def test_every_snippet_is_valid_python(snippet: Snippet) -> None:
    """Fragments too must parse (``...`` stands for what is left out; a fragment may show the
    body of an async function, so top-level ``await`` is allowed there), so none is garbled;
    a complete program may not await at the top level."""
    flags = ast.PyCF_ONLY_AST | (ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if snippet.fragment else 0)
    compile(snippet.code, snippet.name, "exec", flags=flags)


@pytest.mark.parametrize("snippet", COMPLETE, ids=lambda s: s.name)
def test_complete_snippets_run_from_the_wheel(snippet: Snippet,
                                              installed_wheel: InstalledWheel) -> None:
    """A block not marked as a fragment imports what it uses, has no top-level ``await``,
    and runs to completion by itself (the embedded server, no key, no network)."""
    script = installed_wheel.workdir / f"snippet_{snippet.path.stem}_{snippet.line}.py"
    script.write_text(snippet.code, encoding="utf-8")
    done = installed_wheel.run(["python", str(script)], timeout=120)
    assert done.returncode == 0, f"{snippet.name}\n{done.stdout}\n{done.stderr}"
