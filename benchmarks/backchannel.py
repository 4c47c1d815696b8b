"""Backchannels and interruptions, measured: does a "yeah" or an "mm-hmm" said while the
assistant talks leave its reply playing, and does a real interruption ("wait, which day was
that?", "stop") still stop it, how fast, and what follows each.

Usage::

    python benchmarks/backchannel.py [--seed N] [--quick] [--jobs N] [--methods NAME ...]

Prints progress lines and a table per method (rows: each kind of phrase, each room), then one
JSON object as the last line, keyed by method. The full corpus (618 trials a method) takes a
few minutes on a shared 2-core machine with two worker processes; ``--quick`` (63 trials),
about 30 s.

The corpus (deterministic given ``--seed``) is the committed backchannel set,
``src/realtalk/sim/speech/backchannel/`` (``scripts/make_speech_clips.py --set backchannel``:
14 backchannels in two voices each; interruptions: 5 short in two voices, 8 long and 5 hard
ones that open like a backchannel, "yeah, but what about Tuesday?"). Every clip is said
0.8 s and 2 s after the assistant starts one of four answers (picked by the seed), in each of
three rooms, twice (two seeds for the room's echo path and noise): 336 backchannel and 276
interruption trials. ``--quick`` takes four backchannels and two clips of each interruption
kind, once. Two AI-only runs per room (one in ``--quick``), with no user at all, check that
the room alone does not stop the assistant.

- ``quiet_office``: :meth:`realtalk.sim.RoomConfig.quiet_office` (echo -15 dB, RT60 0.35 s,
  pink noise at -65 dBFS);
- ``loud_laptop``: :meth:`realtalk.sim.RoomConfig.laptop_loud` (echo as loud as the playback,
  a soft-clipping speaker, fan noise at -50 dBFS);
- ``noisy_office``: the quiet office's echo path with multi-talker babble at -45 dBFS
  (:func:`realtalk.sim.talker_babble`).

The user's voice is scaled so that its active frames average -26 dBFS at the microphone, as in
``benchmarks/barge_in.py``. The detector knows the user's level as if from earlier turns
(``OnsetDetector.user_level``, for ``BargeIn.max_below_user_db``): -26 dBFS +- 4 dB, drawn per
trial, as that benchmark draws its turns (``--no-user-level``: unknown, as before). The
server is the embedded one, with the simulator's oracle transcriber (it hears the user's
words exactly), and a responder that acts as a model would:
the first response is the trial's answer; a response created after a user turn answers it
("Sorry, go ahead."); a response created with no user turn since the last assistant item (the
session's resume after a false interruption) continues the answer from the first word the
user did not hear (an assistant item holds only the words heard; a word counts as heard when
its end was played, the server's truncation rule).

The embedded server transcribes a commit at once unless ``--transcription-latency-ms`` delays
its transcript (:attr:`realtalk.server.ServerOptions.transcription_latency_ms`): the hosted
service's transcription runs apart from the model and its latency is not published, so the
default run leaves it out (the decision and resume-gap figures are then lower bounds) and a
run with a latency shows what it adds.

A trial runs until 4 s after the user falls silent (the end of the clip): long enough for the
false-interruption judge (2.5 s after the stop by default) and a resumed reply to be heard.

Methods: ``default`` (realtalk's defaults), ``stop_on_any_speech`` (``BargeIn(decide=False)``:
confirmed speech stops and cancels the reply at once) and ``decide`` (``BargeIn(decide=True)``:
the assistant yields, the interruption classifier decides, a backchannel resumes the reply), each
passing the settings in :data:`METHODS` to :class:`realtalk.BargeIn`. A setting that ``BargeIn``
does not have is left out (listed under ``settings_missing``); a method whose settings come out
equal to another's is not run again, its figures are that method's (``same_as``).

Metrics, per method (times are simulated):

- ``backchannels``, ``interruptions``: judged trials of each kind. A trial in which the
  reply was not playing when the user started (the room had already stopped it) is not
  judged; ``ai_silent_at_onset`` counts those.
- ``backchannels_kept_pct``: backchannel trials in which the reply kept playing: no
  ``Interrupted`` of it at or after the onset, and it played to its end or was playing at the
  end of the trial (a pause that the reply comes back from still counts as kept; a cancel and
  a new response continuing it does not).
- ``interruptions_stopped_pct``: interruption trials in which the assistant stopped (an
  ``Interrupted``, or its play head stopped short of the reply's end) by 2 s after the user
  fell silent, and did not come back to the same reply (its item, or a resumed continuation).
- ``stop_ms`` {p50, p95}: true onset (where the clip's sound starts at the microphone) ->
  playback stopped (``Interrupted.latency.playback_stopped``, or where the play head stopped),
  over the interruptions stopped in that window.
- ``decision_ms`` {p50, p95}: the user falls silent -> decided. Today the decision is the
  stop itself (``Interrupted.latency.detected``), which comes while the user still talks, so
  the difference is negative and clipped to 0 (``before_silence`` counts those). An event of
  a type whose name holds "Backchannel", "Decision" or "Decided" (a later engine's verdict)
  is read as a decision too, for either kind of phrase. Over every judged trial with a
  decision.
- ``resume_gap_ms`` {p50, p95}: the user falls silent -> the reply audible again (its play
  head advancing; a ducked reply is audible), backchannel trials. 0 when it never stopped;
  ``never`` counts the trials in which it never came back (no value for those).
- ``words_lost_or_repeated``: over the backchannel trials whose reply was audible again, the
  words the listener heard (each reply item's words whose end was played, in order) against
  the answer's words (difflib's matching blocks): ``lost``, answer words before the last one
  heard that were never heard; ``repeated``, words heard that match nothing (heard twice);
  ``trials`` measured and ``with_errors``.
- ``false_noise_verdicts``: interruption trials in which the session judged the interruption
  "only noise" (a :class:`realtalk.FalseInterruption` after the onset: no user words within
  ``BargeIn.false_interruption_s``).
- ``backchannels_answered``: backchannel trials in which the model started a response answering
  the backchannel as a user turn (the responder saw the user's words as the latest turn).
- ``resumed_after_interruption``: interruption trials in which the reply was heard again after
  the stop.

Also per method: ``by_kind`` (``backchannel``, ``short``, ``long``, ``hard``), ``by_room`` and
``by_position`` (``0.8s``, ``2s`` into the answer): the same figures over those trials;
``ai_only`` (AI-only runs, and how many the room alone stopped), ``new_event_types``
(timeline events of types this benchmark does not know, by name: what a newer engine emits),
``errors``, ``settings_applied`` / ``settings_missing``, simulated and wall seconds. A trial
whose run raises is counted under ``errors`` and left out of the rest.
"""

from __future__ import annotations

import difflib
import functools
import json
import logging
import re
import sys
import time
import typing
from collections.abc import Sequence
from typing import Any, Literal

import attrs
import numpy as np
import numpy.typing as npt
from barge_in import (
    SERVER,
    TURN_LEVEL_DB,
    USER_DBFS,
    _cell,
    _counts,
    _latency,
    active_level_dbfs,
    bench_arguments,
    onset_offset_s,
    run_work,
)

from realtalk import (
    BargeIn,
    FalseInterruption,
    ResponseAudioStarted,
    ResponseStarted,
    State,
    StateChanged,
)
from realtalk.audio.pcm import float_to_int16
from realtalk.engine import AppEvent
from realtalk.server.responder import ConversationTurn
from realtalk.session.playback import ItemKey
from realtalk.sim import (
    EchoPathChanged,
    Room,
    RoomConfig,
    Simulation,
    SimulationResult,
    UserSpoke,
    Utterance,
    clips,
    load_clip,
    talker_babble,
)
from realtalk.sim.signals import SPEECH_DIR

RATE = 24_000
BLOCK_S = 0.02  # the simulator's block: the play head is read once a block
BACKCHANNEL_DIR = SPEECH_DIR / "backchannel"
AT_S = (0.8, 2.0)  # where in the assistant's answer the user speaks
TAIL_S = 4.0  # the run goes on this long after the user falls silent
DECIDE_WINDOW_S = 2.0  # a stop this long after the user falls silent is still the user's
REPEATS = 2  # each clip, position and room, with this many seeds
AI_ONLY_RUNS, AI_ONLY_S = 2, 8.0  # per room
NOISY_OFFICE_BABBLE_DBFS = -45.0
ROOMS = ("quiet_office", "loud_laptop", "noisy_office")
GROUPS = ("backchannel", "short", "long", "hard")
# Long enough (15-20 s) to outlast every trial, so "kept" means playing at the end of the run.
ANSWERS: tuple[str, ...] = (
    "Your appointment is on Tuesday the fourteenth at half past nine, at the clinic on Baker "
    "Street. Please bring your card and the letter from your doctor, and plan to arrive ten "
    "minutes early, because the first visit includes a short form about your history.",
    "The basic plan costs twelve dollars a month and includes five hundred minutes and two "
    "gigabytes of data. The premium plan is twenty dollars, with unlimited calls and ten "
    "gigabytes, and both can be cancelled at any time without a fee.",
    "To get to the station, leave the hotel and turn left, then walk two blocks to the big "
    "square with the fountain. Cross the square, keep the museum on your right, and the "
    "entrance is just after the bakery on the corner, next to the bus stop.",
    "First, heat the oven to two hundred degrees and grease a large tin. Then mix the flour, "
    "the sugar and a pinch of salt in one bowl, and whisk the eggs with the milk in another, "
    "before folding the two together slowly until the batter is smooth.",
)
ANSWER_TO_USER = "Sorry, go ahead."
# A setting per method; those BargeIn does not have are left out (see the module docstring).
METHODS: dict[str, dict[str, Any]] = {
    "default": {},
    "stop_on_any_speech": {"decide": False},
    "decide": {"decide": True},
}
# Events of a later engine that carry its verdict on what the user said (read by type name).
DECISION_EVENT = re.compile(r"Backchannel|Decision|Decided")

Group = Literal["backchannel", "short", "long", "hard", "ai_only"]

# ---------------------------------------------------------------------------------------------
# Corpus


@attrs.frozen
class Trial:
    """One simulated conversation: the assistant says ``answer`` (an index into
    :data:`ANSWERS`) in ``room``; ``clip`` (``None`` for AI-only runs) starts ``at_s`` after
    it starts speaking; the run lasts ``duration_s``."""

    index: int
    group: Group
    room: str
    answer: int
    seed: int
    duration_s: float
    clip: str | None = None
    text: str = ""
    at_s: float | None = None
    transcription_latency_ms: float = 0.0  # the embedded server's, for every commit
    # The user's level the detector has learned from their earlier turns (None: none yet).
    user_level_dbfs: float | None = None

    @property
    def kind(self) -> Literal["backchannel", "interruption", "ai_only"]:
        """What the user's phrase is (what the assistant should do with it)."""
        if self.group in ("backchannel", "ai_only"):
            return self.group
        return "interruption"


@attrs.frozen
class ClipInfo:
    """One clip of the backchannel set, from its manifest."""

    name: str
    text: str
    group: Group
    duration_s: float


_SUBKINDS: dict[str, Group] = {"short": "short", "long": "long", "hard": "hard"}


@functools.cache
def corpus_clips() -> tuple[ClipInfo, ...]:
    """The backchannel set's clips, with each one's group (``backchannel`` or the
    interruption's subkind), in manifest order."""
    manifest = json.loads((BACKCHANNEL_DIR / "manifest.json").read_text(encoding="utf-8"))
    subkinds = {e["name"]: e.get("subkind", "") for e in manifest["clips"]}
    out = []
    for clip in clips(BACKCHANNEL_DIR, rate=RATE):
        group = "backchannel" if clip.kind == "backchannel" else _SUBKINDS.get(
            subkinds[clip.name])
        if group is None or clip.kind not in ("backchannel", "interruption"):
            raise ValueError(f"clip {clip.name!r} has kind {clip.kind!r} and subkind "
                             f"{subkinds[clip.name]!r}; expected a backchannel, or an "
                             "interruption that is short, long or hard")
        out.append(ClipInfo(clip.name, clip.text, group, clip.duration_ms / 1000.0))
    return tuple(out)


def build_corpus(seed: int, quick: bool, transcription_latency_ms: float = 0.0, *,
                 user_level: bool = True) -> tuple[Trial, ...]:
    """The trials, in a fixed order, from one seeded generator, each run with the server's
    ``transcription_latency_ms``; with ``user_level``, each with the user's level known, as
    learned from earlier turns (:func:`with_user_level`, from a second generator)."""
    rng = np.random.default_rng([seed, 0xBAC4])
    chosen: list[ClipInfo] = []
    for group in GROUPS:
        members = [c for c in corpus_clips() if c.group == group]
        if quick:
            picks = rng.choice(len(members), 4 if group == "backchannel" else 2, replace=False)
            members = [members[int(k)] for k in sorted(picks)]
        chosen.extend(members)
    trials: list[Trial] = []
    for clip in chosen:
        for at in AT_S:
            for room in ROOMS:
                for _ in range(1 if quick else REPEATS):
                    trials.append(Trial(
                        index=len(trials), group=clip.group, room=room,
                        answer=int(rng.integers(len(ANSWERS))), seed=int(rng.integers(1 << 30)),
                        duration_s=0.3 + at + clip.duration_s + TAIL_S, clip=clip.name,
                        text=clip.text, at_s=at,
                        transcription_latency_ms=transcription_latency_ms))
    for room in ROOMS:
        for _ in range(1 if quick else AI_ONLY_RUNS):
            trials.append(Trial(index=len(trials), group="ai_only", room=room,
                                answer=int(rng.integers(len(ANSWERS))),
                                seed=int(rng.integers(1 << 30)), duration_s=AI_ONLY_S,
                                transcription_latency_ms=transcription_latency_ms))
    return with_user_level(trials, seed) if user_level else tuple(trials)


def with_user_level(trials: Sequence[Trial], seed: int) -> tuple[Trial, ...]:
    """Each trial with the level the detector learned from the user's earlier turns: the
    user's -26 dBFS +- ``TURN_LEVEL_DB`` (as ``benchmarks/barge_in.py`` draws its turns), so a
    phrase may be up to that much softer or louder than the user usually talks."""
    rng = np.random.default_rng([seed, 0x1E7E])
    return tuple(attrs.evolve(t, user_level_dbfs=USER_DBFS + float(
        rng.uniform(-TURN_LEVEL_DB, TURN_LEVEL_DB))) for t in trials)


@functools.lru_cache(maxsize=64)
def render(clip: str) -> npt.NDArray[np.int16]:
    """The clip at the microphone: its active frames at ``USER_DBFS``, PCM16 at 24 kHz."""
    x = load_clip(clip, rate=RATE, directory=BACKCHANNEL_DIR)[0].astype(np.float64) / 32768.0
    return float_to_int16(x * 10.0 ** ((USER_DBFS - active_level_dbfs(x)) / 20.0))


def make_room(name: str, seed: int) -> Room:
    """One of :data:`ROOMS`, its echo path and noise seeded."""
    if name == "loud_laptop":
        return Room(RoomConfig.laptop_loud(seed=seed), keep_history=False)
    room = Room(RoomConfig.quiet_office(seed=seed), keep_history=False)
    if name == "noisy_office":
        room.set_noise(talker_babble, NOISY_OFFICE_BABBLE_DBFS, seed=seed)
    elif name != "quiet_office":
        raise ValueError(f"unknown room {name!r}; expected one of {', '.join(ROOMS)}")
    return room


# ---------------------------------------------------------------------------------------------
# Methods


def method_settings(method: str) -> tuple[dict[str, Any], list[str]]:
    """The :class:`BargeIn` settings ``method`` asks for that this realtalk has, and the names
    of those it does not."""
    fields = attrs.fields_dict(BargeIn)
    wanted = METHODS[method]
    return ({k: v for k, v in wanted.items() if k in fields},
            sorted(k for k in wanted if k not in fields))


def barge_in_for(method: str) -> BargeIn:
    """The barge-in settings ``method`` runs with."""
    return BargeIn(**method_settings(method)[0])


def distinct_methods(methods: Sequence[str]) -> dict[str, str]:
    """Each method -> the first method with equal settings (itself when none before it):
    a method that comes out the same as another is not run twice."""
    first: dict[str, str] = {}
    for method in methods:
        settings = barge_in_for(method)
        first[method] = next((m for m in first if first[m] == m
                              and barge_in_for(m) == settings), method)
    return first


# ---------------------------------------------------------------------------------------------
# Running


def _words(text: str) -> list[str]:
    """``text``'s words, lower case, without punctuation (for comparing what was said)."""
    return [w for w in re.sub(r"[^\w\s']", " ", text.lower()).split() if w]


class BenchResponder:
    """The server's model stand-in (see the module docstring): the answer first; then, per
    response, an answer to the user's latest turn, or the rest of the answer."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        # Per response, in order: ("first" | "answer" | "resume", the user text answered).
        self.calls: list[tuple[str, str]] = []

    def reply(self, conversation: Sequence[ConversationTurn]) -> str:
        """The next response's text (see the class docstring)."""
        if not self.calls:
            self.calls.append(("first", ""))
            return self.answer
        last = max((i for i, t in enumerate(conversation) if t.role == "assistant"), default=-1)
        said = [t.text for t in conversation[last + 1:] if t.role == "user" and t.text.strip()]
        if said:
            self.calls.append(("answer", said[-1]))
            return ANSWER_TO_USER
        self.calls.append(("resume", ""))
        # The assistant items hold what was heard: responses in order, one item each.
        assistant = [t.text for t in conversation if t.role == "assistant"]
        heard = sum(len(text.split()) for (kind, _), text in zip(self.calls, assistant,
                                                                 strict=False)
                    if kind in ("first", "resume"))
        rest = self.answer.split()[heard:]
        return " ".join(rest) if rest else "That is all."


class PlayHead:
    """Where the speaker's play head is, block by block: wraps the simulation's feed of the
    oracle transcriber (``(mic sample, item, heard ms)`` after every block)."""

    def __init__(self, sim: Simulation) -> None:
        oracle = sim.oracle
        if oracle is None:
            raise ValueError("PlayHead needs a simulation with the oracle transcriber")
        self.blocks: list[tuple[float, ItemKey | None, float]] = []
        feed = oracle.speaker

        def speaker(mic_sample: int, key: ItemKey | None, heard_ms: float) -> None:
            self.blocks.append((mic_sample / RATE, key, heard_ms))
            feed(mic_sample, key, heard_ms)

        oracle.speaker = speaker  # type: ignore[method-assign]


def build_simulation(method: str, trial: Trial) -> tuple[Simulation, BenchResponder, PlayHead]:
    """A ready-to-run simulation of ``trial`` under ``method``."""
    utterances = []
    if trial.clip is not None and trial.at_s is not None:
        utterances.append(Utterance(samples=render(trial.clip), text=trial.text,
                                    after_assistant_starts=trial.at_s))
    responder = BenchResponder(ANSWERS[trial.answer])
    sim = Simulation(utterances, room=make_room(trial.room, trial.seed),
                     barge_in=barge_in_for(method), seed=trial.seed,
                     server_options=attrs.evolve(
                         SERVER, transcription_latency_ms=trial.transcription_latency_ms),
                     responder_factory=lambda: responder, transcriber_factory="oracle")
    head = PlayHead(sim)
    if trial.user_level_dbfs is not None and sim.detector is not None:
        # A second of the user's earlier speech at that level, as the detector learns it.
        sim.detector.user_level.add(10.0 ** (trial.user_level_dbfs / 10.0), 1000.0)
    sim.request_response()  # the answer starts at once: nothing precedes it but the room
    return sim, responder, head


@attrs.frozen
class Stop:
    """An ``Interrupted`` of the reply: when it was decided and when playback stopped."""

    detected: float
    stopped: float


@attrs.frozen
class Outcome:
    """What one trial produced: everything the judging needs, nothing heavy.

    ``audible``: spans in which the reply (its item, or a resumed continuation) was playing,
    its play head advancing; ``finished``: the reply played to its end; ``heard_words``:
    the reply's words the listener heard, in order.
    """

    index: int
    group: Group
    room: str
    text: str
    end: float
    at_s: float | None = None
    onset: float | None = None
    sound_end: float | None = None
    stops: tuple[Stop, ...] = ()
    decisions: tuple[float, ...] = ()
    audible: tuple[tuple[float, float], ...] = ()
    finished: bool = False
    answered: tuple[str, ...] = ()  # the user texts that responses answered
    false_verdicts: tuple[float, ...] = ()  # FalseInterruption times
    answer: str = ""
    heard_words: tuple[str, ...] = ()
    new_events: tuple[str, ...] = ()
    simulated_s: float = 0.0
    wall_s: float = 0.0
    error: str | None = None

    @property
    def kind(self) -> str:
        """``backchannel``, ``interruption`` or ``ai_only``."""
        return self.group if self.group in ("backchannel", "ai_only") else "interruption"


def _flatten(alias: object) -> set[str]:
    return {t.__name__ for t in typing.get_args(alias) if isinstance(t, type)}


#: The event types this benchmark was written against; others are a newer engine's.
KNOWN_EVENTS = frozenset(_flatten(AppEvent) | {UserSpoke.__name__, EchoPathChanged.__name__})


def audible_spans(blocks: Sequence[tuple[float, ItemKey | None, float]],
                  items: set[str]) -> tuple[list[tuple[float, float]], dict[ItemKey, float]]:
    """The spans in which one of ``items`` played (its heard ms grew over the block), merged,
    and each played part's furthest heard ms."""
    spans: list[tuple[float, float]] = []
    heard: dict[ItemKey, float] = {}
    for at, key, ms in blocks:
        if key is None or key[0] not in items:
            continue
        if ms > heard.get(key, 0.0):
            if spans and at - BLOCK_S <= spans[-1][1] + 1e-6:
                spans[-1] = (spans[-1][0], at)
            else:
                spans.append((at - BLOCK_S, at))
        heard[key] = max(ms, heard.get(key, 0.0))
    return spans, heard


def outcome_of(trial: Trial, sim: Simulation, result: SimulationResult, *,
               responder: BenchResponder, head: PlayHead, wall_s: float) -> Outcome:
    """Distil a finished simulation into an :class:`Outcome`."""
    timeline = result.timeline
    onset = sound_end = None
    spoke = [e for e in timeline if isinstance(e, UserSpoke)]
    if spoke and trial.clip is not None:
        samples = render(trial.clip).astype(np.float64) / 32768.0
        onset = spoke[0].at + onset_offset_s(samples)
        sound_end = spoke[0].at + spoke[0].duration_ms / 1000.0
    # Responses in the order the server made them, each with what the responder made of it.
    started = [e.response_id for e in timeline if isinstance(e, ResponseStarted)]
    kinds = dict(zip(started, responder.calls, strict=False))
    item_of = {e.response_id: e.item_id for e in timeline if isinstance(e, ResponseAudioStarted)}
    chain = [r for r in started if kinds.get(r, ("", ""))[0] in ("first", "resume")]
    items = {item_of[r] for r in chain if r in item_of}
    interrupted = [e for e in result.interruptions if e.item_id in items]
    spans, heard = audible_spans(head.blocks, items)
    for e in interrupted:  # the last block before a stop may miss its final few ms
        key = (e.item_id or "", 0)
        heard[key] = max(heard.get(key, 0.0), e.heard_ms)
    # The reply played out when the session drained (speaking -> listening) after its last
    # audio, with no stop in between.
    last = spans[-1][1] if spans else None
    finished = last is not None and any(
        isinstance(e, StateChanged) and e.old is State.SPEAKING and e.new is State.LISTENING
        and e.at >= last - BLOCK_S for e in timeline) and not any(
        e.latency.detected >= last - BLOCK_S for e in interrupted)
    words: list[str] = []
    order = sorted(heard, key=lambda k: next(t for t, key, _ in head.blocks if key == k))
    for key in order:
        item = sim.server.conversation.get(key[0])
        if item is not None:
            words.extend(w.word for w in item.words if w.end_ms <= heard[key] + 1e-6)
    decisions = tuple(float(getattr(e, "at")) for e in timeline  # noqa: B009
                      if DECISION_EVENT.search(type(e).__name__)
                      and isinstance(getattr(e, "at", None), float))
    return Outcome(
        index=trial.index, group=trial.group, room=trial.room, text=trial.text,
        end=result.simulated_s, at_s=trial.at_s, onset=onset, sound_end=sound_end,
        stops=tuple(Stop(e.latency.detected, e.latency.playback_stopped
                         if e.latency.playback_stopped is not None else e.latency.detected)
                    for e in interrupted),
        decisions=decisions, audible=tuple(spans), finished=finished,
        answered=tuple(text for kind, text in responder.calls[:len(started)]
                       if kind == "answer"),
        false_verdicts=tuple(e.at for e in timeline if isinstance(e, FalseInterruption)),
        answer=ANSWERS[trial.answer], heard_words=tuple(words),
        new_events=tuple(type(e).__name__ for e in timeline
                         if type(e).__name__ not in KNOWN_EVENTS),
        simulated_s=result.simulated_s, wall_s=wall_s)


def run_trial(method: str, trial: Trial) -> Outcome:
    """Simulate one trial under one method."""
    wall = time.perf_counter()
    try:
        sim, responder, head = build_simulation(method, trial)
        result = sim.run(trial.duration_s)
    except Exception as exc:  # a crash of the code measured is a finding, not the end
        return Outcome(index=trial.index, group=trial.group, room=trial.room, text=trial.text,
                       end=0.0, wall_s=time.perf_counter() - wall,
                       error=f"{type(exc).__name__}: {exc}")
    return outcome_of(trial, sim, result, responder=responder, head=head,
                      wall_s=time.perf_counter() - wall)


def run_chunk(method: str, trials: Sequence[Trial]) -> list[Outcome]:
    """Simulate several trials (one unit of work for a worker process)."""
    return [run_trial(method, t) for t in trials]


# ---------------------------------------------------------------------------------------------
# Judging


@attrs.frozen
class Verdict:
    """One trial judged (see the module docstring for the rules).

    Attributes:
        valid: the reply was playing when the user started (only then is a trial judged).
        kept: the reply kept playing (backchannels).
        stop_at: when playback stopped, within the decision window (``None``: it did not).
        came_back: the reply was heard again after ``stop_at``.
        decision: when the first decision came (``None``: none seen).
        resume_gap_s: the user falls silent -> the reply audible (``None``: never).
        answered: a response answered the user's words as a turn.
        false_verdict: the session judged the interruption noise.
        lost, repeated: words of the reply lost, or heard twice (``None``: not measured).
    """

    valid: bool
    kept: bool = False
    stop_at: float | None = None
    came_back: bool = False
    decision: float | None = None
    resume_gap_s: float | None = None
    answered: bool = False
    false_verdict: bool = False
    lost: int | None = None
    repeated: int | None = None


def words_diff(expected: Sequence[str], heard: Sequence[str]) -> tuple[int, int]:
    """(lost, repeated): ``expected`` words before the last one heard that were never heard,
    and ``heard`` words that match none of ``expected`` (words heard twice)."""
    want, got = _words(" ".join(expected)), _words(" ".join(heard))
    blocks = [b for b in difflib.SequenceMatcher(None, want, got, autojunk=False)
              .get_matching_blocks() if b.size]
    if not blocks:
        return 0, len(got)
    matched = sum(b.size for b in blocks)
    return blocks[-1].a + blocks[-1].size - matched, len(got) - matched


def judge(outcome: Outcome) -> Verdict:
    """Judge one trial."""
    onset, silent = outcome.onset, outcome.sound_end
    if onset is None or silent is None:
        return Verdict(valid=False)
    spans = outcome.audible
    playing_at_onset = any(a - 1e-6 <= onset <= b + BLOCK_S for a, b in spans)
    if not playing_at_onset or any(s.detected < onset for s in outcome.stops):
        return Verdict(valid=False)
    stops = [s for s in outcome.stops if s.detected >= onset]
    deadline = silent + DECIDE_WINDOW_S
    stop_at: float | None = None
    if stops and stops[0].detected <= deadline:
        stop_at = stops[0].stopped
    elif not stops:
        # A pause with no Interrupted: the play head stopped short of the reply's end.
        ends = [b for a, b in spans if onset <= b <= deadline and b < outcome.end - BLOCK_S]
        if ends and not (outcome.finished and ends[0] == spans[-1][1]):
            stop_at = ends[0]
    came_back = stop_at is not None and any(a > stop_at + 1e-6 for a, _ in spans)
    audible_at_end = bool(spans) and spans[-1][1] >= outcome.end - 2 * BLOCK_S
    kept = not stops and (audible_at_end or outcome.finished)
    gap: float | None = None
    for a, b in spans:
        if b >= silent:
            gap = max(0.0, a - silent)
            break
    decided = [s.detected for s in stops] + [d for d in outcome.decisions if d >= onset]
    lost = repeated = None
    if outcome.kind == "backchannel" and gap is not None:
        lost, repeated = words_diff(outcome.answer.split(), outcome.heard_words)
    said = _words(outcome.text)
    return Verdict(valid=True, kept=kept, stop_at=stop_at, came_back=came_back,
                   decision=min(decided) if decided else None, resume_gap_s=gap,
                   answered=any(_words(text) == said for text in outcome.answered),
                   false_verdict=any(t >= onset for t in outcome.false_verdicts),
                   lost=lost, repeated=repeated)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def figures(rows: Sequence[tuple[Outcome, Verdict]]) -> dict[str, Any]:
    """The metrics over judged trials (a kind of phrase, a room, or all)."""
    valid = [(o, v) for o, v in rows if v.valid]
    back = [(o, v) for o, v in valid if o.kind == "backchannel"]
    inter = [(o, v) for o, v in valid if o.kind == "interruption"]
    stopped = [(o, v) for o, v in inter if v.stop_at is not None and not v.came_back]
    stop_ms = [(v.stop_at - o.onset) * 1000.0 for o, v in inter
               if v.stop_at is not None and o.onset is not None]
    decision = [(v.decision - o.sound_end) * 1000.0 for o, v in valid
                if v.decision is not None and o.sound_end is not None]
    gaps = [v.resume_gap_s * 1000.0 for _, v in back if v.resume_gap_s is not None]
    measured = [v for _, v in back if v.lost is not None and v.repeated is not None]
    return {
        "backchannels": len(back),
        "interruptions": len(inter),
        "backchannels_kept_pct": _pct(sum(v.kept for _, v in back), len(back)),
        "interruptions_stopped_pct": _pct(len(stopped), len(inter)),
        "stop_ms": _latency(stop_ms),
        "decision_ms": {**_latency([max(0.0, d) for d in decision]),
                        "before_silence": sum(d < 0 for d in decision)},
        "resume_gap_ms": {**_latency(gaps), "never": len(back) - len(gaps)},
        "words_lost_or_repeated": {
            "trials": len(measured), "lost": sum(v.lost or 0 for v in measured),
            "repeated": sum(v.repeated or 0 for v in measured),
            "with_errors": sum(bool(v.lost or v.repeated) for v in measured)},
        "false_noise_verdicts": sum(v.false_verdict for _, v in inter),
        "backchannels_answered": sum(v.answered for _, v in back),
        "resumed_after_interruption": sum(v.came_back for _, v in inter),
        "ai_silent_at_onset": sum(not v.valid for o, v in rows
                                  if o.kind != "ai_only" and o.error is None),
    }


def summarize(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The report of one method over its outcomes. Trials whose run raised are counted under
    ``errors`` and left out of every other figure."""
    crashed = [o for o in outcomes if o.error is not None]
    judged = [(o, judge(o)) for o in outcomes if o.error is None]
    ai_only = [o for o, _ in judged if o.kind == "ai_only"]
    return {
        **figures(judged),
        "by_kind": {g: figures([(o, v) for o, v in judged if o.group == g]) for g in GROUPS},
        "by_room": {r: figures([(o, v) for o, v in judged if o.room == r]) for r in ROOMS},
        "by_position": {f"{at:g}s": figures([(o, v) for o, v in judged if o.at_s == at])
                        for at in AT_S},
        "ai_only": {"trials": len(ai_only),
                    "stopped": sum(bool(o.stops) or not o.audible for o in ai_only)},
        "new_event_types": _counts(name for o, _ in judged for name in o.new_events),
        "errors": {"count": len(crashed), "by_message": _counts(o.error or "" for o in crashed)},
        "simulated_s": round(sum(o.simulated_s for o in outcomes), 1),
        "wall_s": round(sum(o.wall_s for o in outcomes), 1),
    }


# ---------------------------------------------------------------------------------------------
# Report


def run_methods(methods: Sequence[str], *, seed: int = 0, quick: bool = False, jobs: int = 2,
                started: float | None = None, transcription_latency_ms: float = 0.0,
                user_level: bool = True) -> dict[str, dict[str, Any]]:
    """Run the corpus under each method (``jobs`` worker processes), printing progress;
    the report keyed by method."""
    started = time.perf_counter() if started is None else started
    trials = build_corpus(seed, quick, transcription_latency_ms, user_level=user_level)
    print(f"corpus (seed {seed}{', quick' if quick else ''}"
          f"{'' if user_level else ', user level unknown'}, transcription latency "
          f"{transcription_latency_ms:g} ms): {len(trials)} trials, "
          + ", ".join(f"{g} {sum(t.group == g for t in trials)}" for g in (*GROUPS, "ai_only")),
          flush=True)
    same = distinct_methods(methods)
    runs = [m for m in methods if same[m] == m]
    size = max(1, len(trials) // (4 * max(1, jobs)))
    ordered = sorted(trials, key=lambda t: -t.duration_s)  # long ones first
    work = [(m, ordered[i:i + size]) for m in runs for i in range(0, len(ordered), size)]
    outcomes = run_work(work, run_chunk, jobs=jobs, started=started)

    report: dict[str, dict[str, Any]] = {}
    for method in methods:
        applied, missing = method_settings(method)
        summary = summarize(outcomes[same[method]])
        report[method] = {**summary, "settings_applied": applied, "settings_missing": missing,
                          "same_as": None if same[method] == method else same[method]}
    for line in table(report):
        print(line, flush=True)
    return report


def _pair(latency: dict[str, Any]) -> str:
    return "-" if latency["p50"] is None else f"{latency['p50']}/{latency['p95']}"


def table(report: dict[str, dict[str, Any]]) -> list[str]:
    """Per method, one row for all trials, per kind of phrase and per room."""
    lines = []
    for method, r in report.items():
        note = f" (same as {r['same_as']})" if r["same_as"] else ""
        lines.append(f"{method}{note}:")
        lines.append(f"  {'rows':<14}{'bc':>5}{'int':>5}{'kept%':>7}{'stop%':>7}"
                     f"{'stop p50/p95':>15}{'decide p50/p95':>16}{'gap p50/p95':>15}"
                     f"{'answered':>9}{'noise':>6}{'resumed':>8}")
        rows = [("all", r), *r["by_kind"].items(), *r["by_room"].items(),
                *((f"at {name}", g) for name, g in r["by_position"].items())]
        for name, g in rows:
            stop, decide, gap = (_pair(g[k]) for k in ("stop_ms", "decision_ms", "resume_gap_ms"))
            lines.append(
                f"  {name:<14}{g['backchannels']:>5}{g['interruptions']:>5}"
                f"{_cell(g['backchannels_kept_pct'], 7)}{_cell(g['interruptions_stopped_pct'], 7)}"
                f"{stop:>15}{decide:>16}{gap:>15}"
                f"{g['backchannels_answered']:>9}{g['false_noise_verdicts']:>6}"
                f"{g['resumed_after_interruption']:>8}")
        lines.append(f"  AI-only runs {r['ai_only']['trials']}, stopped by the room alone "
                     f"{r['ai_only']['stopped']}; words lost/repeated "
                     f"{r['words_lost_or_repeated']}; errors {r['errors']['count']}; "
                     f"new event types {r['new_event_types'] or 'none'}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                        help="run only these methods (default: all)")
    parser.add_argument("--transcription-latency-ms", type=float, default=0.0,
                        help="the embedded server's delay from a commit to its transcript "
                             "(default 0: at once)")
    parser.add_argument("--no-user-level", action="store_true",
                        help="the detector does not know the user's level (no earlier turn), "
                             "as before it learned one")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    logging.getLogger("realtalk").setLevel(logging.ERROR)  # absorbed races would bury progress
    report = run_methods(args.methods, seed=args.seed, quick=args.quick, jobs=args.jobs,
                         started=started,
                         transcription_latency_ms=args.transcription_latency_ms,
                         user_level=not args.no_user_level)
    print(f"total wall time {time.perf_counter() - started:.1f} s", flush=True)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
