"""The `realtalk` command line: serve runs until interrupted and speaks the protocol; serve
and devices fail in one line saying what to do."""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import signal
import socket
import subprocess
import sys
import types
from collections.abc import Iterator, Sequence

import pytest
from websockets.sync.client import connect

from realtalk.cli import main


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def _process(command: list[str]) -> Iterator[subprocess.Popen[str]]:
    """``command`` running with its output piped; killed if the test leaves it running, and
    its pipes closed."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_serve_until_interrupted() -> None:
    """`realtalk serve` listens, greets a client with session.created, and stops on Ctrl-C."""
    port = _free_port()
    with _process([sys.executable, "-m", "realtalk.cli", "serve", "--port", str(port)]) as proc:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"ws://127.0.0.1:{port}/v1/realtime" in first
        with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime",
                     open_timeout=10) as ws:
            event = json.loads(ws.recv(timeout=10))
            assert event["type"] == "session.created"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0


@pytest.mark.parametrize(("stop", "ignore_sigint"), [
    (signal.SIGTERM, False),  # a container manager's stop
    (signal.SIGINT, True),  # started in the background by a non-interactive shell
])
def test_serve_stops_cleanly_on_sigterm_and_on_an_inherited_ignored_sigint(
        stop: signal.Signals, ignore_sigint: bool) -> None:
    """`realtalk serve` stops with status 0 and "stopped" on SIGTERM, and on SIGINT even when
    it inherited SIGINT ignored (as `cmd &` in a script does), where Python's own Ctrl-C
    handling is off and the server used to run on until killed."""
    port = _free_port()
    launch = ("import signal, sys\n"
              + ("signal.signal(signal.SIGINT, signal.SIG_IGN)\n" if ignore_sigint else "")
              + "from realtalk.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    with _process([sys.executable, "-c", launch, "serve", "--port", str(port)]) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert f"ws://127.0.0.1:{port}/v1/realtime" in proc.stdout.readline()
        proc.send_signal(stop)
        assert proc.wait(timeout=20) == 0
        assert "stopped" in proc.stderr.read()


def test_help_lists_commands() -> None:
    """`realtalk --help` names demo and serve."""
    out = subprocess.run([sys.executable, "-m", "realtalk.cli", "--help"], capture_output=True,
                         text=True, check=True)
    assert "demo" in out.stdout
    assert "serve" in out.stdout


def test_serve_on_a_busy_port_says_so_in_one_line() -> None:
    """`realtalk serve` on a port another socket holds: one line naming the address, a
    non-zero exit, no traceback."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "realtalk.cli", "serve", "--port", str(port)],
            capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith(f"realtalk serve: cannot listen on 127.0.0.1:{port}: ")
    assert "address already in use" in lines[0]


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--port", "70000", "expected a port from 0 to 65535, got '70000'"),
    ("--generation-speed", "0", "expected a number > 0"),
    ("--first-audio-latency-ms", "-5", "expected a number >= 0"),
])
def test_serve_refuses_an_out_of_range_option_before_starting(
        flag: str, value: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A bad option is a usage error naming it (exit 2), not a traceback from the server."""
    with pytest.raises(SystemExit) as info:
        main(["serve", flag, value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: {message}" in err
    assert "Traceback" not in err


class _PortAudioMissing(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports ``sounddevice`` the way it fails where the PortAudio library is missing."""

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(name, self) if name == "sounddevice" else None

    def exec_module(self, module: types.ModuleType) -> None:
        raise OSError("PortAudio library not found")


def test_devices_without_portaudio_says_to_install_the_library(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """sounddevice installed, PortAudio absent: the system package to install, not the
    Python extra."""
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_PortAudioMissing(), *sys.meta_path])
    assert main(["devices"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("realtalk devices: sounddevice is installed but cannot load the "
                          "PortAudio system library (PortAudio library not found)")
    assert "apt-get install libportaudio2" in err
    assert "brew install portaudio" in err
    assert "pip install" not in err


def test_devices_without_sounddevice_says_to_install_the_extra(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The sounddevice module absent: the extra to install, and nothing about PortAudio."""
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert main(["devices"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'realtalk[audio]'" in err
    assert "PortAudio" not in err
    assert len(err.splitlines()) == 1
