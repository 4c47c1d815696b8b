"""The ``realtalk`` command: ``demo``, ``serve``, ``devices``, ``relay`` and ``transcripts``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

import anyio

from ._args import check_number
from .errors import ConfigurationError

__all__ = ("main",)


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo
    from .errors import ConfigurationError

    def line(text: str) -> None:
        # `realtalk demo | head`: the reader may leave early; keep measuring regardless.
        with contextlib.suppress(BrokenPipeError):
            print(text, flush=True)

    try:
        result = anyio.run(
            lambda: run_demo(barge_in_after=args.barge_in_after, print_line=line),
            backend=args.backend,
        )
    except ConfigurationError as exc:
        print(f"realtalk demo: {exc}", file=sys.stderr)
        return 2
    return 0 if result.ok else 1


def _serve(args: argparse.Namespace) -> int:
    from ._signals import serve_until_stopped
    from .errors import RealtalkError
    from .server import RealtimeServer, ServerOptions

    async def serve() -> None:
        server = RealtimeServer(
            host=args.host,
            port=args.port,
            options=ServerOptions(first_audio_latency_ms=args.first_audio_latency_ms,
                                  generation_speed=args.generation_speed),
        )
        await server.start()
        print(f"realtalk server listening on {server.url}", flush=True)
        print(f"  openai client: AsyncOpenAI(base_url={server.http_base_url!r}, api_key='any')",
              flush=True)
        await server.serve_forever()

    try:
        if serve_until_stopped(serve()):
            print("stopped", file=sys.stderr)
    except KeyboardInterrupt:  # before the handlers were installed
        print("stopped", file=sys.stderr)
    except RealtalkError as exc:  # the port is taken, a setting is out of range, ...
        print(f"realtalk serve: {exc}", file=sys.stderr)
        return 2
    return 0


def _devices(args: argparse.Namespace) -> int:
    from .audio.device import format_devices
    from .errors import AudioError

    try:
        print(format_devices())
    except AudioError as exc:
        print(f"realtalk devices: {exc}", file=sys.stderr)
        return 1
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 0 to 65535, got {text!r}")
    return port


def _number(**bounds: Any) -> Callable[[str], float]:
    """An argparse type: a float within ``bounds`` (as :func:`~realtalk._args.check_number`
    takes them), the message naming what was expected."""

    def parse(text: str) -> float:
        try:
            value = float(text)
            check_number("this option", value, **bounds)
        except ValueError as exc:  # ConfigurationError is a ValueError
            message = str(exc) if isinstance(exc, ConfigurationError) else (
                f"expected a number, got {text!r}")
            raise argparse.ArgumentTypeError(message) from exc
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="realtalk", description="Interruptible realtime voice conversations."
    )
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="log more (-v info, -vv debug)")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser(
        "demo", help="watch an AI get interrupted mid-sentence, on the embedded local server")
    demo.add_argument("--barge-in-after", type=float, default=1.5, metavar="SECONDS",
                      help="how long into the AI's speech the user talks over it (seconds >= 0, "
                           "default 1.5)")
    demo.add_argument("--backend", choices=("asyncio", "trio"), default="asyncio",
                      help="the event loop to run on (default asyncio)")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="run the embedded realtime server until Ctrl-C")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=_port, default=8765)
    serve.add_argument("--first-audio-latency-ms", type=_number(minimum=0.0), default=250.0)
    serve.add_argument("--generation-speed", type=_number(positive=True), default=4.0,
                       help="how much faster than real time audio is generated (default 4)")
    serve.set_defaults(run=_serve)

    devices = commands.add_parser("devices", help="list audio input and output devices "
                                  "(needs the 'audio' extra)")
    devices.set_defaults(run=_devices)

    # Imported here so that the other commands start without loading them.
    from .relay.cli import add_parser as add_relay_parser
    from .transcripts.cli import add_parser as add_transcripts_parser

    add_relay_parser(commands)
    add_transcripts_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``realtalk`` console script."""
    args = _parser().parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
