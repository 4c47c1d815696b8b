"""``realtalk transcripts PATH [--echo] [--conversation ID] [--json]``: list the stored
transcripts of a SQLite or JSONL store, or the suspected echoes among them."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any, TextIO

from .audit import SuspectedEcho, suspected_echoes
from .base import open_store
from .records import (
    ConversationSummary,
    Entry,
    InterruptionMark,
    MarkKind,
    TranscriptRecord,
    TranscriptStoreError,
    entry_to_dict,
)

__all__ = ("add_parser", "run", "main")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``transcripts`` command to ``subparsers`` (from ``add_subparsers()``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "transcripts", help="list stored transcripts, or the suspected echoes among them",
        description="List the transcripts of a store (SQLite, or JSONL for .jsonl files): "
                    "per conversation, user and assistant turns in order with the marks "
                    "between them (barge-ins, reconnects, rollovers) and the echo filters' "
                    "verdicts. --echo lists only suspected echoes: "
                    "transcripts the filters dropped, near misses, and unfiltered ones that "
                    "resemble what the assistant had just said.")
    parser.add_argument("path", metavar="PATH", help="the store: a SQLite file or a .jsonl file")
    parser.add_argument("--echo", action="store_true", help="list suspected echoes only")
    parser.add_argument("--conversation", metavar="ID", default=None,
                        help="only this conversation")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON array instead of text")
    parser.add_argument("--min-score", type=float, default=0.5, metavar="SCORE",
                        help="with --echo: the least filter score that makes a kept "
                             "transcript suspect (default 0.5)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None
        ) -> int:
    """Run the command; 0 on success, 1 when the store cannot be read."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        store = open_store(args.path, readonly=True)
        try:
            if args.echo:
                echoes = suspected_echoes(store, args.conversation, min_score=args.min_score)
                if args.json:
                    _print_json([_echo_to_dict(e) for e in echoes], out)
                else:
                    _print_echoes(echoes, args.path, out)
            else:
                entries = store.entries(args.conversation)
                if args.json:
                    _print_json([{"id": e.id, **entry_to_dict(e)} for e in entries], out)
                else:
                    summaries = [s for s in store.conversations()
                                 if args.conversation in (None, s.conversation_id)]
                    _print_entries(summaries, entries, out)
        finally:
            store.close()
    except TranscriptStoreError as exc:
        print(f"realtalk transcripts: {exc}", file=err)
        return 1
    except BrokenPipeError:
        pass  # `realtalk transcripts db | head`: the reader left early
    return 0


def _print_json(value: object, out: TextIO) -> None:
    json.dump(value, out, ensure_ascii=False, indent=1)
    out.write("\n")


def _echo_to_dict(echo: SuspectedEcho) -> dict[str, Any]:
    return {"record": {"id": echo.record.id, **entry_to_dict(echo.record)}, "how": echo.how,
            "score": echo.score, "reason": echo.reason, "assistant_text": echo.assistant_text}


def _clock(wall_time: float, *, date: bool = False) -> str:
    moment = dt.datetime.fromtimestamp(wall_time, dt.timezone.utc)
    if date:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%H:%M:%S.%f")[:-3]


# How a mark reads in the listing.
_MARK_LABELS: dict[MarkKind, str] = {
    "interrupted": "barge-in",
    "false_interruption": "barge-in judged false",
    "reconnected": "connection lost and restored",
    "rolled_over": "rolled over to a new session",
}


def _summary_line(s: ConversationSummary) -> str:
    dropped = f" ({s.dropped} dropped as echo)" if s.dropped else ""
    false = f" ({s.false_interruptions} false)" if s.false_interruptions else ""
    # Most conversations never lose their connection: counted only when it happened.
    reconnects = f", {s.reconnects} reconnect(s)" if s.reconnects else ""
    rollovers = f", {s.rollovers} rollover(s)" if s.rollovers else ""
    return (f"conversation {s.conversation_id}  {_clock(s.first_wall_time, date=True)}: "
            f"{s.user_transcripts} user{dropped}, {s.assistant_transcripts} assistant, "
            f"{s.interruptions} interruption(s){false}{reconnects}{rollovers}")


def _entry_line(entry: Entry) -> str:
    when = _clock(entry.wall_time)
    if isinstance(entry, InterruptionMark):
        heard = f", {entry.heard_ms:.0f} ms heard" if entry.heard_ms is not None else ""
        return f"  {when}  {'':9}  -- {_MARK_LABELS[entry.kind]} ({entry.detail}{heard}) --"
    notes = _record_notes(entry)
    return f"  {when}  {entry.role:9}  {entry.text}" + (f"  [{notes}]" if notes else "")


def _record_notes(record: TranscriptRecord) -> str:
    if record.role == "assistant":
        if record.interrupted:
            heard = f", {record.heard_ms:.0f} ms heard" if record.heard_ms is not None else ""
            return f"interrupted{heard}"
        return ""
    if record.dropped:
        decided = next((v for v in record.verdicts if v.drop), None)
        return f"DROPPED as echo by {decided.filter}" if decided else "DROPPED as echo"
    if record.verdicts:
        return f"kept, echo score {record.max_score:.2f}"
    return ""


def _print_entries(summaries: list[ConversationSummary], entries: list[Entry],
                   out: TextIO) -> None:
    if not summaries:
        print("no transcripts", file=out)
        return
    for summary in summaries:
        print(_summary_line(summary), file=out)
        for entry in entries:
            if entry.conversation_id == summary.conversation_id:
                print(_entry_line(entry), file=out)
        print(file=out)


def _print_echoes(echoes: list[SuspectedEcho], path: str, out: TextIO) -> None:
    print(f"{len(echoes)} suspected echo(es) in {path}", file=out)
    for echo in echoes:
        r = echo.record
        print(f"  {_clock(r.wall_time, date=True)}  conversation {r.conversation_id}  "
              f"item {r.item_id}", file=out)
        print(f"    user: {r.text!r}", file=out)
        print(f"    {echo.how}, score {echo.score:.2f}: {echo.reason}", file=out)
        if echo.assistant_text:
            print(f"    assistant had said: {echo.assistant_text!r}", file=out)


def main(argv: list[str] | None = None) -> int:
    """``python -m realtalk.transcripts.cli PATH ...``: the command without the ``realtalk``
    entry point."""
    parser = argparse.ArgumentParser(prog="realtalk")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["transcripts", *(sys.argv[1:] if argv is None else argv)])
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
