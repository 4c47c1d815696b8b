"""The wheel is the product: what a user installs from it works without the checkout."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import tarfile
import threading
import urllib.request
import zipfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # conftest is pytest's to import; only its type is needed here
    from conftest import InstalledWheel


def test_the_wheel_ships_what_the_public_api_reads(installed_wheel: InstalledWheel) -> None:
    """Package data the API loads at run time is inside the wheel; tests and docs are not."""
    names = set(zipfile.ZipFile(installed_wheel.wheel).namelist())
    assert "realtalk/py.typed" in names
    assert "realtalk/sim/speech/manifest.json" in names
    assert "realtalk/sim/speech/wait_stop_24k.wav" in names
    assert "realtalk/relay/browser/index.html" in names
    assert not any(name.startswith(("tests/", "docs/", "examples/")) for name in names)


def test_the_sdist_holds_the_sources_tests_and_docs(installed_wheel: InstalledWheel) -> None:
    """A source distribution can rebuild and test the project."""
    with tarfile.open(installed_wheel.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE",
                   "src/realtalk/__init__.py", "tests/conftest.py", "docs/index.md",
                   "examples/local_conversation.py"):
        assert needed in names, needed


def test_realtalk_is_imported_from_the_installed_wheel(installed_wheel: InstalledWheel) -> None:
    """The environment under test really is the wheel's, not the source tree."""
    done = installed_wheel.run(
        ["python", "-c", "import realtalk, realtalk.sim as s; print(realtalk.__file__); "
         "print(len(s.clips()))"])
    assert done.returncode == 0, done.stderr
    where, count = done.stdout.split()
    assert "site-packages" in where
    assert int(count) > 10


def test_demo_runs_from_the_wheel(installed_wheel: InstalledWheel) -> None:
    """`realtalk demo`, the first command in the README, exits 0 from an installed wheel."""
    done = installed_wheel.run(["realtalk", "demo"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "result: OK" in done.stdout


def test_the_cli_answers_help_from_the_wheel(installed_wheel: InstalledWheel) -> None:
    """Every subcommand's --help works with only the runtime dependencies installed."""
    for command in (["--help"], ["demo", "--help"], ["serve", "--help"],
                    ["relay", "--help"], ["transcripts", "--help"], ["devices", "--help"]):
        done = installed_wheel.run(["realtalk", *command])
        assert done.returncode == 0, (command, done.stderr)


def test_the_relay_serves_the_packaged_browser_client(installed_wheel: InstalledWheel) -> None:
    """`realtalk relay --web` from the wheel serves the browser client shipped in it."""
    names = zipfile.ZipFile(installed_wheel.wheel).namelist()
    index_name = next(n for n in names if n.endswith("relay/browser/index.html"))
    packaged = zipfile.ZipFile(installed_wheel.wheel).read(index_name)
    env = {k: v for k, v in os.environ.items() if k != "REALTALK_RELAY_SECRET"}
    process = subprocess.Popen([str(installed_wheel.bin / "realtalk"), "relay", "--web",
                                "--port", "0"], cwd=installed_wheel.workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stdout = process.stdout
    assert stdout is not None
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:  # a thread, so that a command that prints nothing fails, not hangs
        for line in stdout:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        printed = ""
        while "  open " not in printed:
            printed += lines.get(timeout=30)
        base = printed.split("  open ")[1].split()[0].split("/#")[0]
        with urllib.request.urlopen(base + "/", timeout=10) as response:
            served = response.read()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        reader.join(timeout=10)
        stdout.close()
    assert served == packaged
