"""``realtalk relay``: run the relay from the command line.

Credentials come only from the environment, never from flags (flags show up in ``ps``):
``OPENAI_API_KEY``; ``AZURE_OPENAI_API_KEY`` or ``AZURE_OPENAI_ENDPOINT``; the variable named
by ``--upstream-key-env`` for ``--upstream url``; and the token signing secret from
``REALTALK_RELAY_SECRET`` (or ``--secret-env``). Without a secret the command says how to set
one and how clients get tokens, and exits; only a demo that hands out its own tokens (``--web``
or ``--demo-tokens``, on loopback with the local upstream) runs with a random secret instead.

``--web`` serves the browser client that ships inside the package (or ``--web DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from .. import providers
from .._signals import serve_until_stopped
from ..errors import ConfigurationError, RealtalkError
from ..providers import Provider
from .auth import TokenAuthenticator
from .limits import RelayLimits
from .options import RelayOptions
from .server import RelayServer
from .tokens import TokenSigner, new_session_id
from .web import browser_client

__all__ = ("add_parser", "run")

_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_BUILT_IN = ""  # --web without a directory: the browser client in the package


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``relay`` subcommand to ``commands`` (an ``add_subparsers()`` result)."""
    relay: argparse.ArgumentParser = commands.add_parser(
        "relay", help="run the relay: a realtime backend for browser and mobile clients",
        description="Run the relay in front of a realtime provider until Ctrl-C.")
    relay.add_argument("--host", default="127.0.0.1")
    relay.add_argument("--port", type=int, default=8780)
    relay.add_argument("--upstream", choices=("local", "openai", "azure", "url"), default="local",
                       help="where client sessions go (default: the embedded local server)")
    relay.add_argument("--model", default="gpt-realtime",
                       help="the OpenAI model, or the Azure deployment name")
    relay.add_argument("--azure-api-version", default=None,
                       help="use Azure's preview endpoint with this api-version")
    relay.add_argument("--upstream-url", default=None, help="the ws(s):// URL for --upstream url")
    relay.add_argument("--upstream-key-env", default=None, metavar="VAR",
                       help="environment variable with a key for --upstream url "
                            "(sent as Authorization: Bearer)")
    relay.add_argument("--secret-env", default="REALTALK_RELAY_SECRET", metavar="VAR",
                       help="environment variable with the token signing secret")
    relay.add_argument("--token-ttl", type=float, default=300.0, metavar="SECONDS")
    relay.add_argument("--mint-token", default=None, metavar="SESSION_ID",
                       help="print a token for SESSION_ID and exit")
    relay.add_argument("--max-sessions", type=int, default=1000)
    relay.add_argument("--on-upstream-loss", choices=("close", "reconnect"), default="close")
    relay.add_argument("--web", nargs="?", const=_BUILT_IN, default=None, metavar="DIR",
                       help="serve the browser client (the one built in, or the files in DIR)")
    relay.add_argument("--demo-tokens", action="store_true",
                       help="serve GET /demo-token (loopback only: anyone reaching it gets a "
                            "session)")
    relay.set_defaults(run=run)
    return relay


def run(args: argparse.Namespace) -> int:
    """Run the subcommand; the process exit status."""
    try:
        signer = _signer(args)
        if args.mint_token is not None:
            print(signer.mint(args.mint_token, ttl=args.token_ttl))
            return 0
        if args.demo_tokens and args.host not in _LOOPBACK:
            raise ConfigurationError(
                f"--demo-tokens hands a session to anyone who asks; refusing on {args.host!r}")
        with _web_root(args.web) as web_root:
            options = RelayOptions(host=args.host, port=args.port,
                                   limits=RelayLimits(max_sessions=args.max_sessions),
                                   on_upstream_loss=args.on_upstream_loss, web_root=web_root,
                                   demo_tokens=args.demo_tokens)
            if serve_until_stopped(_serve(args, signer, options)):
                print("stopped", file=sys.stderr)
    except KeyboardInterrupt:  # before the handlers were installed
        print("stopped", file=sys.stderr)
    except RealtalkError as exc:
        print(f"realtalk relay: {exc}", file=sys.stderr)
        return 2
    return 0


def _how_to_set_a_secret(variable: str) -> str:
    return (
        "  Set it (or another variable, named with --secret-env VAR) to 32 or more random\n"
        "  bytes, the same for the relay and for the backend that gives clients their tokens:\n"
        f"    export {variable}=$(python -c 'import secrets; print(secrets.token_urlsafe(32))')\n"
        "  A client connects with a token for its session, minted with that secret:\n"
        "    realtalk relay --mint-token SESSION_ID\n"
        "    (in Python: realtalk.relay.TokenSigner(secret).mint(session_id))\n"
        "  To try the relay on this machine first: realtalk relay --web (a made-up secret,\n"
        "  and a token for the browser client in the URL it prints)"
    )


def _signer(args: argparse.Namespace) -> TokenSigner:
    variable = args.secret_env
    secret = os.environ.get(variable)
    if secret:
        try:
            return TokenSigner(secret)
        except ConfigurationError as exc:
            raise ConfigurationError(f"${variable} cannot sign tokens: {exc}.\n"
                                     f"{_how_to_set_a_secret(variable)}") from None
    hands_out_tokens = args.web is not None or args.demo_tokens
    if (args.mint_token is None and hands_out_tokens and args.upstream == "local"
            and args.host in _LOOPBACK):
        print(f"${variable} is not set: using a random secret; tokens come from this process "
              "only", file=sys.stderr)
        return TokenSigner(secrets.token_urlsafe(32))
    raise ConfigurationError(f"no token signing secret: ${variable} is not set.\n"
                             f"{_how_to_set_a_secret(variable)}")


@contextlib.contextmanager
def _web_root(value: str | None) -> Iterator[Path | None]:
    if value is None:
        yield None
    elif value == _BUILT_IN:
        with browser_client() as root:
            yield root
    elif Path(value).is_dir():
        yield Path(value)
    else:
        raise ConfigurationError(f"no web directory at {value!r}; pass --web DIR, or --web "
                                 "alone for the built-in browser client")


@contextlib.asynccontextmanager
async def _provider(args: argparse.Namespace) -> AsyncIterator[Provider]:
    if args.upstream == "openai":
        yield providers.openai(model=args.model)
    elif args.upstream == "azure":
        yield providers.azure(deployment=args.model, api_version=args.azure_api_version)
    elif args.upstream == "url":
        if not args.upstream_url:
            raise ConfigurationError("--upstream url needs --upstream-url ws(s)://...")
        headers: dict[str, str] = {}
        if args.upstream_key_env:
            key = os.environ.get(args.upstream_key_env)
            if not key:
                raise ConfigurationError(f"${args.upstream_key_env} is not set")
            headers["Authorization"] = f"Bearer {key}"
        yield providers.endpoint(args.upstream_url, headers=headers)
    else:
        from ..server import RealtimeServer

        async with RealtimeServer() as server:
            print(f"local realtime server on {server.url}", flush=True)
            yield providers.endpoint(f"{server.url}?model={server.options.model}")


async def _serve(args: argparse.Namespace, signer: TokenSigner, options: RelayOptions) -> None:
    async with _provider(args) as provider:
        relay = RelayServer(provider, TokenAuthenticator(signer), options=options)
        await relay.start()
        print(f"realtalk relay listening on {relay.url}", flush=True)
        print(f"  health {relay.http_url}{options.health_path}, metrics "
              f"{relay.http_url}{options.metrics_path}", flush=True)
        if options.web_root is not None:
            if options.demo_tokens:
                print(f"  open {relay.http_url}/", flush=True)
            else:
                session_id = new_session_id()
                token = signer.mint(session_id, ttl=args.token_ttl)
                print(f"  open {relay.http_url}/#session_id={session_id}&token={token}"
                      f"  (valid {args.token_ttl:g} s, one session)", flush=True)
        await relay.serve_forever()
