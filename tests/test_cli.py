"""The `realtalk` command line: serve runs until interrupted and speaks the protocol."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys

from websockets.sync.client import connect


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_until_interrupted() -> None:
    """`realtalk serve` listens, greets a client with session.created, and stops on Ctrl-C."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "realtalk.cli", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"ws://127.0.0.1:{port}/v1/realtime" in first
        with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime",
                     open_timeout=10) as ws:
            event = json.loads(ws.recv(timeout=10))
            assert event["type"] == "session.created"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_help_lists_commands() -> None:
    """`realtalk --help` names demo and serve."""
    out = subprocess.run([sys.executable, "-m", "realtalk.cli", "--help"], capture_output=True,
                         text=True, check=True)
    assert "demo" in out.stdout
    assert "serve" in out.stdout
