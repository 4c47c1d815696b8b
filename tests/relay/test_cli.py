"""Tests for realtalk.relay.cli: the `relay` subcommand."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import pytest
from websockets.asyncio.client import connect

from realtalk.relay import cli
from realtalk.relay.tokens import TokenSigner
from realtalk.relay.web import browser_client

SECRET = "cli-test-secret-0123456789abcdef!"
# Runs the subcommand the way realtalk.cli does once it is wired in.
RUNNER = ("import argparse, sys\n"
          "from realtalk.relay import cli\n"
          "parser = argparse.ArgumentParser()\n"
          "cli.add_parser(parser.add_subparsers())\n"
          "args = parser.parse_args(sys.argv[1:])\n"
          "sys.exit(args.run(args))\n")


@contextlib.asynccontextmanager
async def _relay(*argv: str, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> AsyncIterator[anyio.abc.Process]:
    """The relay subcommand in a subprocess; killed if the test leaves it running (a test
    that fails must not wait for it forever)."""
    process = await anyio.open_process([sys.executable, "-c", RUNNER, "relay", *argv],
                                       env=env, cwd=cwd, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.move_on_after(10, shield=True):
            await process.aclose()


def _without_secret() -> dict[str, str]:
    return {name: value for name, value in os.environ.items()
            if name != "REALTALK_RELAY_SECRET"}


async def _output_until(process: anyio.abc.Process, marker: str) -> str:
    """What the process printed, up to the end of the line holding ``marker``."""
    assert process.stdout is not None
    output = ""
    with anyio.fail_after(20):
        while marker not in output or not output.endswith("\n"):
            output += (await process.stdout.receive()).decode()
    return output


def _args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["relay", *argv])


def test_mint_token_prints_a_token_for_the_session(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """--mint-token signs with the secret from the environment."""
    monkeypatch.setenv("REALTALK_RELAY_SECRET", SECRET)
    assert cli.run(_args("--mint-token", "room-1", "--token-ttl", "60")) == 0
    token = capsys.readouterr().out.strip()
    assert TokenSigner(SECRET).verify(token, session_id="room-1").session_id == "room-1"


@pytest.mark.parametrize(
    "argv",
    [
        (),  # the local upstream on loopback, but nothing hands out tokens
        ("--mint-token", "s1"),
        ("--upstream", "openai", "--web"),
        ("--host", "0.0.0.0", "--demo-tokens"),
    ],
)
def test_without_a_secret_the_command_says_how_to_set_one_and_get_tokens(
    argv: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """Without the secret, only a loopback demo that hands out its own tokens may invent one;
    anything else is refused with how to set a secret and how clients get tokens."""
    monkeypatch.delenv("REALTALK_RELAY_SECRET", raising=False)
    assert cli.run(_args(*argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("realtalk relay: no token signing secret: $REALTALK_RELAY_SECRET "
                          "is not set.")
    for advice in ("--secret-env VAR", "export REALTALK_RELAY_SECRET=",
                   "realtalk relay --mint-token SESSION_ID",
                   "realtalk.relay.TokenSigner(secret).mint(session_id)",
                   "realtalk relay --web"):
        assert advice in err


def test_a_short_secret_is_refused_with_the_same_advice(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """A secret under 32 bytes names the variable, the problem and the fix (not the value)."""
    monkeypatch.setenv("MY_SECRET", "hunter2")
    assert cli.run(_args("--secret-env", "MY_SECRET")) == 2
    err = capsys.readouterr().err
    assert "$MY_SECRET cannot sign tokens: secret must be at least 32 bytes, got 7" in err
    assert "export MY_SECRET=" in err and "hunter2" not in err


def test_the_command_without_a_secret_exits_with_one_message() -> None:
    """`realtalk relay` as a user first types it: exit status 2, the advice, no traceback."""
    result = subprocess.run([sys.executable, "-m", "realtalk.cli", "relay"], env=_without_secret(),
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("realtalk relay: no token signing secret")
    assert "Traceback" not in result.stderr


def test_demo_tokens_are_refused_off_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """--demo-tokens on a public address would hand sessions to anyone: refused."""
    monkeypatch.setenv("REALTALK_RELAY_SECRET", SECRET)
    assert cli.run(_args("--host", "0.0.0.0", "--demo-tokens")) == 2
    assert "refusing on '0.0.0.0'" in capsys.readouterr().err


def test_a_missing_web_directory_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """--web DIR must exist."""
    monkeypatch.setenv("REALTALK_RELAY_SECRET", SECRET)
    assert cli.run(_args("--web", "/no/such/dir")) == 2
    assert "'/no/such/dir'" in capsys.readouterr().err


@pytest.mark.anyio
async def test_web_serves_the_browser_client_built_into_the_package(tmp_path: Path) -> None:
    """`relay --web`, run anywhere but a source checkout and without a secret, serves the
    browser client from the package and prints a URL with a token for it."""
    async with _relay("--web", "--port", "0", env=_without_secret(), cwd=tmp_path) as process:
        output = await _output_until(process, "  open ")
        url = output.split("  open ")[1].split()[0]
        base = url.split("/#")[0]

        def get(path: str) -> tuple[str, bytes]:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return str(response.headers["Content-Type"]), bytes(response.read())

        index = await anyio.to_thread.run_sync(get, "/")
        script = await anyio.to_thread.run_sync(get, "/app.js")
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await process.wait() == 0
    with browser_client() as root:
        assert index == ("text/html; charset=utf-8", (root / "index.html").read_bytes())
        assert script[1] == (root / "app.js").read_bytes()
    token = url.split("token=")[1]
    session_id = url.split("session_id=")[1].split("&")[0]
    assert token.startswith("rt1.") and session_id


@pytest.mark.anyio
async def test_the_relay_runs_from_the_command_line() -> None:
    """`relay --port 0` on the local upstream serves a client holding a minted token, then
    stops on SIGINT."""
    env = {**os.environ, "REALTALK_RELAY_SECRET": SECRET}
    async with _relay("--port", "0", env=env) as process:
        output = await _output_until(process, "realtalk relay listening on ")
        url = output.split("realtalk relay listening on ")[1].split()[0]
        token = TokenSigner(SECRET).mint("cli-1")
        async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
            with anyio.fail_after(5):
                created = json.loads(await ws.recv())
        assert created["type"] == "session.created"
        process.send_signal(signal.SIGINT)
        with anyio.fail_after(10):
            assert await process.wait() == 0


@pytest.mark.anyio
async def test_the_relay_stops_cleanly_on_sigterm() -> None:
    """A container manager stops the relay with SIGTERM: it closes and exits 0 ("stopped"),
    instead of dying without cleanup."""
    env = {**os.environ, "REALTALK_RELAY_SECRET": SECRET}
    async with _relay("--port", "0", env=env) as process:
        await _output_until(process, "realtalk relay listening on ")
        process.send_signal(signal.SIGTERM)
        with anyio.fail_after(10):
            assert await process.wait() == 0
        assert process.stdout is not None
        rest = b""
        with anyio.move_on_after(5):
            async for chunk in process.stdout:
                rest += chunk
        assert b"stopped" in rest
