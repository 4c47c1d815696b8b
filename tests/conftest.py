"""Shared fixtures: every async test runs under asyncio and trio; the built wheel, installed."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Run each anyio test once per backend."""
    backend: str = request.param
    return backend


@attrs.frozen
class InstalledWheel:
    """The project built as a user gets it (sdist, then a wheel from that sdist), installed
    without extras into a fresh virtual environment that sees none of the checkout.

    Attributes:
        wheel, sdist: the built files.
        python: the environment's interpreter.
        bin: its scripts folder (the ``realtalk`` console script is there).
        workdir: an empty folder outside the checkout to run programs in, so that nothing
            is found relative to the source tree.
    """

    wheel: Path
    sdist: Path
    python: Path
    bin: Path
    workdir: Path

    def run(self, args: list[str], *, timeout: float = 180.0) -> subprocess.CompletedProcess[str]:
        """Run a command of the environment (``args[0]`` is looked up in its scripts folder,
        ``python`` is its interpreter) in :attr:`workdir`; output captured as text."""
        program = str(self.python) if args[0] == "python" else str(self.bin / args[0])
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return subprocess.run([program, *args[1:]], cwd=self.workdir, env=env, text=True,
                              capture_output=True, timeout=timeout, check=False)


def _check(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"{what} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """Build the sdist and the wheel with ``python -m build`` and install the wheel, with its
    runtime dependencies only, into a new virtual environment (once per test session)."""
    top = tmp_path_factory.mktemp("wheel")
    dist = top / "dist"
    _check([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)],
           "python -m build (sdist, then the wheel from it)")
    (wheel,) = dist.glob("realtalk-*.whl")
    (sdist,) = dist.glob("realtalk-*.tar.gz")
    env_dir = top / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / "python"
    _check([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            str(wheel)], f"pip install {wheel.name}")
    workdir = top / "work"
    workdir.mkdir()
    return InstalledWheel(wheel=wheel, sdist=sdist, python=python, bin=bin_dir,
                          workdir=workdir)
