"""The sans-I/O core imports no I/O library."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_core_imports_neither_anyio_nor_websockets() -> None:
    """Importing the sans-I/O layers (without the package's own __init__, which imports the
    I/O layers on purpose) loads no I/O library: the session core, the wire events, the
    conversation engine (with the echo defences, the detector, the transcript recorder and
    the tool ledger it drives)."""
    # realtalk/__init__ imports the I/O layers on purpose, so load the core packages under a
    # bare parent module that has only the package path.
    code = textwrap.dedent("""
        import importlib.util, sys, types
        spec = importlib.util.find_spec("realtalk")
        parent = types.ModuleType("realtalk")
        parent.__path__ = list(spec.submodule_search_locations)
        sys.modules["realtalk"] = parent
        import realtalk.session, realtalk.wire, realtalk.engine, realtalk.tools.calls
        print(",".join(m for m in ("anyio", "websockets", "trio", "asyncio", "socket")
                       if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == ""
