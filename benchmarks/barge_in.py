"""Barge-in, measured: how fast a true interruption stops the assistant, how many are caught,
and how often echo, noise, clicks and coughs stop it falsely. Several methods, one corpus.

Usage::

    python benchmarks/barge_in.py [--seed N] [--quick] [--jobs N] [--methods NAME ...]

Prints progress lines, a per-condition table (per method: false stops per minute, detected %,
stop p95), the methods' summary rows with each one's worst condition per metric, then one JSON
object as the last line, keyed by method. The full corpus (both blocks) took 3.2 min for
``realtalk`` alone, 7.5 min for ``realtalk``, ``webrtcvad``, ``server_vad`` and ``naive`` on a
shared 2-core machine (two worker processes), 7.4 min for the two Silero methods together;
``--methods`` runs fewer; ``--quick``, every method, about 35 s.

Methods (each runs the whole corpus through :class:`realtalk.sim.Simulation`):

- ``realtalk``: the current default, ``Simulation``'s own onset detector and ``BargeIn()``
  (with the server's ``speech_started`` as the fallback path).
- ``realtalk_any_level``: ``realtalk`` without the user's level, ``BargeIn(max_below_user_db=
  None)``: speech however far under the user's own level may confirm (without turns the two
  are the same; the room's bar, ``min_over_room_db``, applies to both).
- ``realtalk_stop``: ``realtalk`` without the interruption decision, ``BargeIn(decide=False)``:
  confirmed speech stops and cancels the reply at once.
- ``realtalk_local``: the same detector with the server path off (``BargeIn(use_server_vad=
  False)``, ``interrupt_response=False`` upstream): what the local detector does on its own,
  since the server's VAD hears the raw echo too and, in the default, can stop the assistant.
- ``realtalk_no_aec``: ``realtalk`` with the echo canceller off (``echo=None``): what the gate,
  the detector and the transcript filters do against the raw echo, which the server then hears
  and transcribes.
- ``energy``: ``realtalk`` with :class:`realtalk.vad.EnergyVAD` alone in place of the default
  (energy and :class:`realtalk.vad.SpectralVAD` agreeing).
- ``naive``: the seed's rule, any microphone audio during playback cancels: a frame is "speech"
  when the assistant is playing and the frame is above digital silence, ``BargeIn(
  min_speech_ms=0)``, no echo gate, no ducking.
- ``server_vad``: no local detector (``barge_in=None``): only the server's ``speech_started``,
  after its own prefix and silence settings, stops the assistant.
- ``webrtcvad`` (where ``realtalk.vad.webrtc`` and the ``webrtcvad`` module import): WebRTC's VAD
  in mode 3 in place of the default VAD, everything else as ``realtalk``.
- ``silero_vote`` and ``silero_spectral`` (where onnxruntime and Silero's model are installed:
  ``pip install "realtalk[vad]"`` and ``pip install --no-deps silero-vad``): Silero's neural
  VAD (:class:`realtalk.vad.SileroVAD`, threshold 0.5) on the cancelled microphone, as a third
  detector that must agree with the default two (``silero_vote``), or in place of
  :class:`realtalk.vad.SpectralVAD` beside the energy detector (``silero_spectral``);
  everything else as ``realtalk``.

The corpus, the same for every method and deterministic given ``--seed``, has two blocks: the
**bench** block below, which the defaults were tuned on (conditions ``bench/<echo level>``), and
the **unseen** block after it, which nothing was tuned on.

- **the user's turn**: every trial opens with one, 0.2 s in (:func:`with_turns`): another clip
  of the same voice set as the trial's barge-in, at -26 dBFS +- 4 dB drawn per trial, which
  the reply answers (the server's VAD ends the turn; where it never does, babble keeping it in
  speech, the benchmark asks for the reply 0.7 s after the turn, as an app's own end-of-turn
  detection would). The detector learns the user's level from it (``BargeIn.
  max_below_user_db``). ``--no-turns``: no turn, the reply is asked for at once (a
  ``response.create`` straight to the server), as before the turns.
- **barge-in trials**: at a random point 0.5-8 s into the assistant's speech one of the
  committed espeak-ng clips (ten voices) starts, scaled so its active frames average -26 dBFS
  at the microphone.
- **click and cough trials**: the same, with a click (-20..-10 dBFS) or a cough (-30..-20 dBFS)
  instead of speech, from the committed clips and the seeded generators: any stop is false.
- **AI-only runs**: 10 x 60 s of the assistant talking, no user at all, echo as loud as the
  user's voice: replies of 4-12 s, each asked for (``response.create``) 0.5-2 s after the
  previous one finished playing, as an app reading out a story would, so that the ends of
  replies, where the server's VAD sees the echo stop and commits it as a user turn, are in it.
- Every trial has echo, at one of four levels: an echo path (random synthetic room: delay
  2-15 ms, RT60 0.2-0.5 s) with gain -30, -20 or -10 dB, or ``equal``: the gain at which the
  echo's active frames are as loud at the microphone as the user's (calibrated here on the
  server's voice). Background noise: pink or white, -65..-50 dBFS.

The unseen block crosses, in full, five axes (a condition is ``room/echo/noise/path/speaker``,
e.g. ``live/u+6/babble/moved/clipped``; 64 of them):

- ``room``: a seeded synthetic room (:meth:`realtalk.sim.EchoPath.sampled`), ``dry`` (bulk
  delay 5-40 ms, RT60 0.2-0.4 s) or ``live`` (40-150 ms, 0.4-0.7 s);
- ``echo``: the echo's active level over the user's, ``u-30``, ``u-10``, ``u+0``, ``u+6`` dB;
- ``noise``: pink at -50 dBFS, or multi-talker babble at -40 dBFS
  (:func:`realtalk.sim.talker_babble`: four of the unseen set's espeak-ng talkers, looped);
- ``path``: ``steady``, or ``moved``: the delay, gain and room response change
  (:meth:`~realtalk.sim.EchoPath.moved`, a :class:`realtalk.sim.PathChange`) 0.2-2 s before
  the user starts, mid-reply, as when a laptop is turned or its volume changed;
- ``speaker``: ``linear``, or ``clipped``: a soft-clipping loudspeaker (tanh, drive 2).

Per condition: two barge-ins by the unseen set's users (``scripts/make_speech_clips.py --set
unseen``: eight espeak-ng voices and sentences none of the bench clips use), and one
non-speech event in turn: typing (:func:`realtalk.sim.keyboard`, 1.5 s, -40..-30 dBFS RMS), a
cough or a click. Then 4 x 40 s AI-only runs (moved paths, echo at or over the user) in which
the path moves 1-3 s into every reply. ``--quick`` keeps the two hardest cells
(``live/u+6/babble/moved/clipped``, ``dry/u+0/babble/moved/linear``) and one 15 s AI-only run.

Metrics, per method (times are simulated, so they are ms of audio, not wall clock):

- ``stop_latency_ms`` {p50, p95}: true speech onset (where the clip's sound starts at the
  microphone) -> playback stopped (``Interrupted.latency.playback_stopped``), over detected
  barge-ins. With the interruption decision (``BargeIn(decide=True)``, the default) the
  assistant yields (pauses) at confirmation; a yield the decision took back (a backchannel or
  noise verdict, ``InterruptionDecided``) silenced the assistant all the same, so it counts
  as a stop everywhere below, a false one when no user spoke; the pause is not playback (a
  user who starts during it finds the assistant silent, as after a false stop), and a trial
  still yielded at its end runs on until the verdict. A check of speech too short to confirm
  (``BargeIn.check_speech_ms``, ``InterruptionDecided.evidence.confirmed`` false) does not
  pause the reply: only its interruption verdict, an ``Interrupted``, is a stop. The SDK's own
  ``latency.stop_ms`` starts at the detector's idea of the onset, which echo can move; it is
  reported beside it as ``reported_stop_ms``.
- ``detected_pct``: barge-in trials whose speech stopped the assistant (an interruption detected
  between the onset and 0.5 s after the clip ends), out of those in which the assistant was
  still speaking when the user started (a method that had already stopped it falsely is
  charged for that under ``false_per_min``; ``trials.ai_silent_at_onset`` counts them, and
  ``detected_pct_of_all`` divides by every barge-in trial). ``null`` when the assistant was
  never speaking at a user onset (``naive``: it stops within a frame of every start).
- ``false_per_min``: interruptions detected while no user speech was under way, per minute of
  assistant playback outside user speech, over the whole corpus (barge-in trials before the
  onset, click/cough trials, AI-only runs). ``false.ai_only`` is the issue's goal case alone;
  ``false.by_source`` says which path fired (``local`` or ``server_vad``), ``false.click`` /
  ``false.cough`` / ``false.typing`` how many of those trials the event itself stopped;
  ``false.after_path_change``: false stops within 1 s after an echo path change, per minute of
  playback in those seconds; ``false.resumed``: of the false stops, the yields the decision
  took back (the reply paused, then went on; ``resumed_pause_ms`` {p50, p95}: how long it
  was silent), and ``false.cancelled`` with its ``per_min``,
  the ones that cancelled the reply (the rest of it lost, the model told it was cut).
- ``rtf``: seconds spent in the local detector (the VAD's ``is_speech`` and the echo gate's
  ``passes``, each wrapped in a ``perf_counter`` timer; one worker process per core, so this
  is CPU time) per second of microphone audio it was given. The policy's few comparisons per
  frame are not timed. ``null``
  for ``server_vad``, whose detector runs on the server.
- ``transcripts``: every user item the server committed is transcribed by the simulator's
  :class:`realtalk.sim.OracleTranscriber`, which knows what was at the microphone: the user's
  words if the user spoke in it, otherwise every word the assistant played during it (an echo
  transcript, the worst case), both with a recogniser's word errors
  (``transcript_filters.mishear``: 0-30 % an item, clipped edges, numbers spelled out).
  ``echo`` / ``echo_kept``: echo transcripts, and those the transcript filters let through as
  a ``UserTranscript``; ``user`` / ``user_dropped``: the user's, and those dropped as echo.
  ``ai_only``: the same over the AI-only runs alone.
- ``checks``: checks of short speech (see ``stop_latency_ms``) begun while no user speech was
  under way: ``per_min`` of the same playback as ``false_per_min``, and ``pending_ms`` {p50,
  p95}, how long each waited for its verdict while the reply played on (those that stopped
  it are false stops already). What a check costs where nobody spoke: a commit, and its
  transcription, upstream.
- ``duck_latency_ms``: onset -> playback ducked (``Interrupted.latency.ducked``, the graded
  response), where the method ducks; a duck already in place at the onset (started by echo)
  counts as 0 ms and is counted in ``before_onset``.
- ``false_ducks``: in the AI-only runs, where nobody speaks, the ducks the detector withdrew
  without a stop (``ClientStats.ducks_restored``: the playback dipped and came back):
  ``count`` and ``per_min`` of their playback (also per block and condition), and
  ``ducked_pct``, the share of that playback they held ducked
  (``ClientStats.restored_duck_s``). What a quicker or longer-held duck would cost.

Also per method: ``by_echo`` (the same per echo level, with which path detected and which
fired falsely), ``by_block`` (bench, unseen), ``by_condition`` (per condition: detected_pct,
stop and duck latency, false_per_min, trials), ``by_axis`` (the unseen block pooled per value
of each axis), ``worst`` (per metric, the condition where it is worst: false_per_min,
detected_pct, stop_p95_ms, duck_p95_ms), ``goals`` (issue 4's targets, each true or false),
``goals_issue_15`` (issue 15's, over the whole run: no false stop, detected >= 99 %, stop
p95 <= 150 ms, duck p95 <= 30 ms, detector rtf <= 0.005, canceller rtf <= 0.01; ``null``
where the method has no such part), simulated and wall seconds. The headline figures cover
both blocks. A trial whose run raises does not stop the benchmark: it is counted under
``errors`` (by message and condition) and left out of the other figures.
Detection results are deterministic given ``--seed``; ``rtf`` and the wall times are measured.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import functools
import importlib
import json
import logging
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import attrs
import numpy as np
import numpy.typing as npt
from transcript_filters import mishear

from realtalk import (
    BargeIn,
    Interrupted,
    InterruptionDecided,
    SessionConfig,
    State,
    StateChanged,
    TurnDetection,
    UserTranscript,
)
from realtalk.audio import AudioFrame
from realtalk.audio.pcm import float_to_int16
from realtalk.echo import EchoDefences, EchoFilter, EchoResult, EchoTranscriptDropped
from realtalk.errors import ConfigurationError
from realtalk.server import DEFAULT_REPLIES, ScriptedResponder, ServerOptions
from realtalk.server.voice import SyntheticVoice
from realtalk.sim import (
    UNSEEN_DIR,
    EchoPath,
    EchoPathChanged,
    PathChange,
    Room,
    RoomConfig,
    Simulation,
    SimulationResult,
    UserSpoke,
    Utterance,
    click,
    clips,
    cough,
    keyboard,
    load_clip,
    scale_to_dbfs,
)
from realtalk.sim.room import NOISE_DBFS, ROOM_SIZES, SPEAKER_DRIVES
from realtalk.vad import AllOf, EnergyVAD, VoiceActivityDetector
from realtalk.vad.onset import SpeechGate, default_vad

RATE = 24_000
FRAME = 480  # 20 ms, the simulator's block
USER_DBFS = -26.0  # active-frame level of the user's voice at the microphone
ACTIVE_RANGE_DB = 30.0  # a frame is active when within this of the signal's loudest frame
ECHO_GAINS_DB: dict[str, float | None] = {"-30dB": -30.0, "-20dB": -20.0, "-10dB": -10.0,
                                           "equal": None}  # None: calibrated
# RMS ranges of the non-speech events: a click is short and close, a cough as loud as speech,
# typing a train of sharp ticks (its RMS over pauses too).
EVENT_DBFS: dict[str, tuple[float, float]] = {"click": (-20.0, -10.0), "cough": (-30.0, -20.0),
                                              "typing": (-40.0, -30.0)}
TYPING_S = 1.5

# The unseen block: rooms, echo levels, noises, path changes and loudspeakers nothing was
# tuned on, crossed in full. The rooms, noises and loudspeakers are RoomConfig.sampled's
# (ROOM_SIZES, NOISE_DBFS, SPEAKER_DRIVES), so that an app can test its agent in any cell.
# Echo active level over the user's, in dB (the echo path's gain is calibrated to it).
ECHO_TO_USER_DB: dict[str, float] = {"u-30": -30.0, "u-10": -10.0, "u+0": 0.0, "u+6": 6.0}
PATHS = ("steady", "moved")  # moved: the echo path changes 0.2-2 s before the user starts
CHANGE_LEAD_S = (0.2, 2.0)
AFTER_CHANGE_S = 1.0  # a false stop this soon after a path change is charged to it
BARGE_AT_S = (0.5, 8.0)  # where in the assistant's speech the user (or the click) comes in
GRACE_S = 0.5  # an interruption this long after the user stops is still theirs
# The user's turn that opens each trial (the question the reply answers): it starts this far
# into the run, and the reply is due within TURN_REPLY_S of its end (the server's 500 ms of
# end-of-turn silence, then its latency). Its level is the barge-in's +- TURN_LEVEL_DB: people
# do not talk at one level.
TURN_AT_S = 0.2
TURN_REPLY_S = 1.0
TURN_WAIT_S = 0.7  # the server's VAD has not answered this long after the turn: ask
TURN_LEVEL_DB = 4.0
SECONDS_PER_WORD = 0.3  # the synthetic voice speaks ~0.4 s per word; margin for the reply length
SERVER = ServerOptions(first_audio_latency_ms=100.0, generation_speed=20.0)
NAIVE_SILENCE = 2.0  # int16 RMS at or below which a frame is digital silence (the naive rule)

# The goals of issue 4.
GOAL_STOP_P95_MS = 30.0
GOAL_DETECTED_PCT = 98.0
GOAL_AI_ONLY_MIN = 10.0
GOAL_RTF = 0.005
# The goals of issue 15 (barge-in in rooms it was never tuned on), over the whole run.
GOAL_15_DETECTED_PCT = 99.0
GOAL_15_STOP_P95_MS = 150.0
GOAL_15_DUCK_P95_MS = 30.0
GOAL_15_CANCELLER_RTF = 0.01

Kind = Literal["speech", "click", "cough", "typing", "ai_only"]
Float = npt.NDArray[np.float64]

# ---------------------------------------------------------------------------------------------
# Signals


def frame_levels_db(x: Float) -> Float:
    """Mean power of each whole 20 ms frame of ``x`` (float, full scale 1), in dB."""
    n = len(x) // FRAME
    power = np.mean(x[: n * FRAME].reshape(n, FRAME) ** 2, axis=1)
    levels: Float = 10.0 * np.log10(power + 1e-20)
    return levels


def active_level_dbfs(x: Float) -> float:
    """Mean power of ``x``'s active frames (within 30 dB of its loudest), in dBFS: a speech
    level that pauses do not drag down."""
    levels = frame_levels_db(x)
    active = levels > levels.max() - ACTIVE_RANGE_DB
    power = np.mean(10.0 ** (levels[active] / 10.0))
    return float(10.0 * np.log10(power))


def onset_offset_s(x: Float) -> float:
    """Where ``x``'s sound starts: the first 5 ms window whose power is within 30 dB of the
    loudest 20 ms frame. The clips are silence-trimmed, so this is a few ms at most, but the
    latency is measured from the sound, not from where the file starts."""
    win = RATE // 200
    if len(x) < win:
        return 0.0
    cumsum = np.concatenate(([0.0], np.cumsum(x * x)))
    power = (cumsum[win:] - cumsum[:-win]) / win
    loudest = float(frame_levels_db(x).max()) if len(x) >= FRAME else 10 * np.log10(power.max())
    above = np.flatnonzero(10.0 * np.log10(power + 1e-20) >= loudest - ACTIVE_RANGE_DB)
    return float(above[0]) / RATE if len(above) else 0.0


@attrs.frozen
class Sound:
    """What the "user" makes: a committed clip (``source="clip"``, or ``"unseen"`` from the
    unseen set) or a generated click, cough or typing (``source="gen"``), at ``level_dbfs``
    (active level for speech, RMS otherwise)."""

    kind: Literal["speech", "click", "cough", "typing"]
    name: str
    source: Literal["clip", "unseen", "gen"]
    level_dbfs: float
    seed: int = 0


@functools.lru_cache(maxsize=64)
def render(sound: Sound) -> npt.NDArray[np.int16]:
    """The samples of ``sound`` at the microphone, PCM16 at 24 kHz."""
    if sound.source in ("clip", "unseen"):
        directory = UNSEEN_DIR if sound.source == "unseen" else None
        x = load_clip(sound.name, rate=RATE, directory=directory)[0].astype(np.float64) / 32768.0
    elif sound.kind == "typing":
        x = keyboard(TYPING_S, seed=sound.seed, rate=RATE).astype(np.float64)
    elif sound.kind == "click":
        x = click(seed=sound.seed, rate=RATE).astype(np.float64)
    else:
        x = cough(seed=sound.seed, rate=RATE).astype(np.float64)
    if sound.kind == "speech":
        x = x * 10.0 ** ((sound.level_dbfs - active_level_dbfs(x)) / 20.0)
    else:
        x = scale_to_dbfs(x, sound.level_dbfs).astype(np.float64)
    return float_to_int16(x)


# ---------------------------------------------------------------------------------------------
# Corpus


@attrs.frozen
class Trial:
    """One simulated conversation of the corpus.

    ``sound`` starts ``at_s`` after the assistant starts speaking (``None`` for AI-only runs);
    the run lasts ``duration_s``; the assistant says ``reply``.
    """

    index: int
    kind: Kind
    echo: str
    echo_gain_db: float
    echo_delay_ms: float
    rt60_s: float
    noise: Literal["pink", "white", "babble"]
    noise_dbfs: float
    seed: int
    reply: str
    duration_s: float
    sound: Sound | None = None
    at_s: float | None = None
    more_replies: tuple[str, ...] = ()
    gaps_s: tuple[float, ...] = ()  # AI-only runs: the pause before each next reply
    room: str = "bench"  # "bench": the tuned corpus; else a key of ROOM_SIZES (sampled)
    speaker: str = "linear"  # a key of SPEAKER_DRIVES
    # When the echo path moves: (response number, seconds after that response starts).
    changes: tuple[tuple[int, float], ...] = ()
    turn: Sound | None = None  # the user's turn the first reply answers (None: no turn)

    @property
    def lead_s(self) -> float:
        """How long before the first reply is due: the user's turn and the wait after it."""
        if self.turn is None:
            return 0.0
        return TURN_AT_S + len(render(self.turn)) / RATE + TURN_REPLY_S

    @property
    def condition(self) -> str:
        """The trial's condition: ``bench/<echo>`` for the tuned corpus, else
        ``room/echo/noise/path/speaker`` (e.g. ``live/u+6/babble/moved/clipped``)."""
        return condition_key(self.room, self.echo, self.noise,
                             "moved" if self.changes else "steady", self.speaker)

    def echo_path(self) -> EchoPath:
        """The loudspeaker-to-microphone path at the start of the trial."""
        if self.room == "bench":
            return _echo_path(self.echo_gain_db, self.echo_delay_ms, self.rt60_s, self.seed)
        delay, rt60 = ROOM_SIZES[self.room]  # as RoomConfig.sampled draws it
        return EchoPath.sampled(self.seed, gain_db=self.echo_gain_db, delay_ms=delay,
                                rt60_s=rt60, distortion=SPEAKER_DRIVES[self.speaker])


AXES = ("room", "echo", "noise", "path", "speaker")


def condition_key(room: str, echo: str, noise: str, path: str, speaker: str) -> str:
    """One condition's name; the tuned corpus keeps one per echo level."""
    return f"bench/{echo}" if room == "bench" else "/".join((room, echo, noise, path, speaker))


@attrs.frozen
class Corpus:
    trials: tuple[Trial, ...]
    echo_to_user_db: dict[str, float]  # each echo level's active level over the user's


def _echo_path(gain_db: float, delay_ms: float, rt60_s: float, seed: int) -> EchoPath:
    return EchoPath(delay_ms=delay_ms, gain_db=gain_db, rt60_s=rt60_s, rir_ms=250.0,
                    early_reflections=5, direct_to_reverb_db=2.0, seed=seed)


def echo_level_at_0db(text: str, seeds: Sequence[int] = (1, 2, 3)) -> float:
    """Active level (dBFS) of the assistant's voice as echo through a 0 dB path: the echo
    gain for a level is then that level minus this (the path is linear)."""
    speech = SyntheticVoice().synthesize(text).samples
    levels = []
    for seed in seeds:
        room = Room(RoomConfig(echo=_echo_path(0.0, 8.0, 0.35, seed), noise_dbfs=None),
                    keep_history=False)
        room.speaker_played(speech)
        mic = room.mic_frame_float(len(speech) + RATE // 4).astype(np.float64)
        levels.append(active_level_dbfs(mic))
    return float(np.mean(levels))


def _reply(rng: np.random.Generator, seconds: float) -> str:
    """A random stretch of the canned replies, long enough to outlast ``seconds``: varied
    speech, and no longer than needed (the server synthesises a whole reply at once)."""
    words = " ".join(DEFAULT_REPLIES).split()
    start = int(rng.integers(len(words)))
    n = math.ceil(seconds / SECONDS_PER_WORD) + 4
    return " ".join(words[(start + i) % len(words)] for i in range(n))


def build_corpus(seed: int, quick: bool, *, turns: bool = True) -> Corpus:
    """The trials, in a fixed order, from one seeded generator: the tuned block, then the
    unseen one (:func:`add_unseen`, from its own generator, so either can grow alone); with
    ``turns``, each opened by a user turn (:func:`with_turns`, from a third)."""
    rng = np.random.default_rng([seed, 0xBA6E])
    speech = [c.name for c in clips(rate=RATE, kind="speech")]
    echo_names = ["-20dB", "equal"] if quick else list(ECHO_GAINS_DB)
    positions, events_per_kind = (1, 1) if quick else (6, 6)
    ai_only_runs, ai_only_s = (2, 15.0) if quick else (10, 60.0)
    at_0db = echo_level_at_0db(" ".join(DEFAULT_REPLIES))
    gains = {name: USER_DBFS - at_0db if gain is None else gain
             for name, gain in ECHO_GAINS_DB.items()}
    trials: list[Trial] = []

    def add(kind: Kind, echo: str, sound: Sound | None, at_s: float | None,
            duration_s: float) -> None:
        trials.append(Trial(
            index=len(trials), kind=kind, echo=echo, echo_gain_db=gains[echo],
            echo_delay_ms=float(rng.uniform(2.0, 15.0)), rt60_s=float(rng.uniform(0.2, 0.5)),
            noise="pink" if rng.random() < 0.5 else "white",
            noise_dbfs=float(rng.uniform(-65.0, -50.0)), seed=int(rng.integers(1 << 30)),
            reply=_reply(rng, duration_s), duration_s=duration_s, sound=sound, at_s=at_s))

    def timed(sound: Sound) -> tuple[float, float]:
        at = float(rng.uniform(*BARGE_AT_S))
        # The assistant starts ~0.15 s in (latency + network); stop GRACE_S after the sound.
        return at, 0.3 + at + len(render(sound)) / RATE + GRACE_S

    for echo in echo_names:
        for _ in range(positions):
            for name in speech:
                sound = Sound("speech", name, "clip", USER_DBFS)
                add("speech", echo, sound, *timed(sound))
        for k in range(events_per_kind):
            for kind in ("click", "cough"):
                if k % 2 == 0:
                    sound = Sound(kind, kind, "clip", float(rng.uniform(*EVENT_DBFS[kind])))
                else:
                    sound = Sound(kind, kind, "gen", float(rng.uniform(*EVENT_DBFS[kind])),
                                  seed=int(rng.integers(1 << 30)))
                add(kind, echo, sound, *timed(sound))
    for _ in range(ai_only_runs):
        add("ai_only", "equal", None, None, ai_only_s)
        count = math.ceil(ai_only_s / 4.0)
        trials[-1] = attrs.evolve(
            trials[-1],
            reply=_reply(rng, float(rng.uniform(4.0, 12.0))),
            more_replies=tuple(_reply(rng, float(rng.uniform(4.0, 12.0)))
                               for _ in range(count)),
            gaps_s=tuple(float(g) for g in rng.uniform(0.5, 2.0, count)))
    add_unseen(trials, seed, quick, at_0db)
    if turns:
        trials = with_turns(trials, seed)
    levels = {n: at_0db + gains[n] - USER_DBFS for n in echo_names}
    levels.update(ECHO_TO_USER_DB if not quick else
                  {n: ECHO_TO_USER_DB[n] for n in dict.fromkeys(t.echo for t in trials)
                   if n in ECHO_TO_USER_DB})
    return Corpus(trials=tuple(trials), echo_to_user_db=levels)


def with_turns(trials: Sequence[Trial], seed: int) -> list[Trial]:
    """Each trial opened by the user's turn, the question the first reply answers: another
    clip of the same set as its barge-ins (the tuned or the unseen voices), at the user's
    level +- ``TURN_LEVEL_DB``, so the barge-in is up to that much louder or softer than the
    speech the detector learned the user's level from."""
    rng = np.random.default_rng([seed, 0x7E4A])
    sets = {source: [c.name for c in clips(UNSEEN_DIR if source == "unseen" else None,
                                           rate=RATE, kind="speech")]
            for source in ("clip", "unseen")}
    out = []
    for trial in trials:
        source: Literal["clip", "unseen"] = "clip" if trial.room == "bench" else "unseen"
        names = [n for n in sets[source] if trial.sound is None or n != trial.sound.name]
        level = USER_DBFS + float(rng.uniform(-TURN_LEVEL_DB, TURN_LEVEL_DB))
        turn = Sound("speech", names[int(rng.integers(len(names)))], source, level)
        out.append(attrs.evolve(trial, turn=turn))
    return out


def unseen_cells(quick: bool) -> list[tuple[str, str, str, str, str]]:
    """The unseen block's conditions: the full cross of rooms, echo levels, noises, path
    changes and loudspeakers; ``quick``: the two hardest (a moved path, babble, echo at or
    over the user)."""
    if quick:
        return [("live", "u+6", "babble", "moved", "clipped"),
                ("dry", "u+0", "babble", "moved", "linear")]
    return [(r, e, n, p, s) for r in ROOM_SIZES for e in ECHO_TO_USER_DB for n in NOISE_DBFS
            for p in PATHS for s in SPEAKER_DRIVES]


def add_unseen(trials: list[Trial], seed: int, quick: bool, at_0db: float) -> None:
    """Append the unseen block to ``trials``: per condition, barge-ins by the unseen voices
    and one non-speech event (typing, a cough or a click, in turn); then AI-only runs in
    which the path moves during every reply."""
    rng = np.random.default_rng([seed, 0x0D5EE])
    voices = [c.name for c in clips(UNSEEN_DIR, rate=RATE, kind="speech")]
    speech_per_cell = 1 if quick else 2
    events: tuple[Literal["typing", "cough", "click"], ...] = (
        ("typing",) if quick else ("typing", "cough", "click"))

    def add(kind: Kind, cell: tuple[str, str, str, str, str], sound: Sound | None,
            duration_s: float, *, at_s: float | None = None,
            changes: tuple[tuple[int, float], ...] = ()) -> Trial:
        room, echo, noise, _, speaker = cell
        trial = Trial(
            index=len(trials), kind=kind, echo=echo,
            echo_gain_db=USER_DBFS + ECHO_TO_USER_DB[echo] - at_0db, echo_delay_ms=0.0,
            rt60_s=0.0, noise="babble" if noise == "babble" else "pink",
            noise_dbfs=NOISE_DBFS[noise], seed=int(rng.integers(1 << 30)),
            reply=_reply(rng, duration_s), duration_s=duration_s, sound=sound, at_s=at_s,
            room=room, speaker=speaker, changes=changes)
        path = trial.echo_path()
        trials.append(attrs.evolve(trial, echo_delay_ms=path.delay_ms, rt60_s=path.rt60_s))
        return trials[-1]

    for n, cell in enumerate(unseen_cells(quick)):
        moved = cell[3] == "moved"
        picks = rng.choice(len(voices), speech_per_cell, replace=False)
        sounds = [Sound("speech", voices[int(k)], "unseen", USER_DBFS) for k in picks]
        kind = events[n % len(events)]
        sounds.append(Sound(kind, kind, "gen", float(rng.uniform(*EVENT_DBFS[kind])),
                            seed=int(rng.integers(1 << 30))))
        for sound in sounds:
            # A move needs room before the onset: 0.2-2 s of it, after the reply has begun.
            at = float(rng.uniform(2.5 if moved else BARGE_AT_S[0], BARGE_AT_S[1]))
            lead = float(rng.uniform(*CHANGE_LEAD_S))
            changes = ((1, at - lead),) if moved else ()
            add(sound.kind, cell, sound, 0.3 + at + len(render(sound)) / RATE + GRACE_S,
                at_s=at, changes=changes)

    runs = [("live", "u+6", "babble", "moved", "clipped")] if quick else [
        ("dry", "u+0", "pink", "moved", "linear"), ("live", "u+0", "babble", "moved", "clipped"),
        ("dry", "u+6", "babble", "moved", "clipped"), ("live", "u+6", "pink", "moved", "linear")]
    seconds = 15.0 if quick else 40.0
    for cell in runs:
        count = math.ceil(seconds / 4.0)
        replies = [_reply(rng, float(rng.uniform(4.0, 12.0))) for _ in range(count + 1)]
        trial = add("ai_only", cell, None, seconds,
                    changes=tuple((k, float(rng.uniform(1.0, 3.0))) for k in range(1, count + 1)))
        trials[-1] = attrs.evolve(trial, reply=replies[0], more_replies=tuple(replies[1:]),
                                  gaps_s=tuple(float(g) for g in rng.uniform(0.5, 2.0, count)))


# ---------------------------------------------------------------------------------------------
# Methods


class CpuTimer:
    """Seconds spent in the wrapped detector parts, and the audio they were given."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.audio_s = 0.0
        self.echo_cpu_s = 0.0
        self.echo_audio_s = 0.0


class TimedVAD:
    """A VAD whose ``is_speech`` is timed (and whose frames are counted as the audio)."""

    def __init__(self, inner: VoiceActivityDetector, timer: CpuTimer) -> None:
        self.inner = inner
        self.timer = timer
        self.latency_frames = inner.latency_frames

    def is_speech(self, frame: AudioFrame) -> bool:
        start = time.perf_counter()
        speech = self.inner.is_speech(frame)
        self.timer.cpu_s += time.perf_counter() - start
        self.timer.audio_s += frame.duration
        return speech

    def reset(self) -> None:
        self.inner.reset()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)  # anything else the detector may ask of its VAD


class TimedEcho:
    """An echo filter (``Simulation.echo``) whose ``process`` is timed apart from the
    detector: the canceller has its own CPU goal."""

    def __init__(self, inner: EchoFilter, timer: CpuTimer) -> None:
        self.inner = inner
        self.timer = timer

    def process(self, frame: AudioFrame) -> EchoResult:
        start = time.perf_counter()
        result = self.inner.process(frame)
        self.timer.echo_cpu_s += time.perf_counter() - start
        self.timer.echo_audio_s += frame.duration
        return result

    def reset(self) -> None:
        self.inner.reset()


class TimedGate:
    """A speech gate (``OnsetDetector.gate``) whose ``passes`` is timed."""

    def __init__(self, inner: SpeechGate, timer: CpuTimer) -> None:
        self.inner = inner
        self.timer = timer

    def passes(self, frame: AudioFrame) -> bool:
        start = time.perf_counter()
        passes = self.inner.passes(frame)
        self.timer.cpu_s += time.perf_counter() - start
        return passes

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class NaiveVAD:
    """The seed's rule as a VAD: while the assistant plays, any frame above digital silence
    is the user.

    ``playing`` is asked on every frame. Gating on playback here (rather than answering for
    every frame) matters: the policy re-arms only after non-speech frames, so a detector that
    never said "no" under steady room noise would cancel once and then never again, which is
    not what the seed did (it cancelled on every chunk during playback).
    """

    latency_frames = 0

    def __init__(self, playing: Callable[[], bool] = lambda: True,
                 silence_rms: float = NAIVE_SILENCE) -> None:
        self.playing = playing
        self.silence_rms = silence_rms

    def is_speech(self, frame: AudioFrame) -> bool:
        if not self.playing():
            return False
        x = frame.samples.astype(np.float64)
        return bool(len(x)) and math.sqrt(float(np.mean(x * x))) > self.silence_rms

    def reset(self) -> None:
        """Stateless: nothing to forget."""


# Longer than BargeIn.max_yield_ms, which bounds every decision.
DECISION_WAIT_S = 5.0
NO_CANCELLER = EchoDefences(canceller=None)  # the naive rule and server VAD run without one
NAIVE_BARGE_IN = BargeIn(min_speech_ms=0.0, max_gap_ms=0.0, rearm_silence_ms=0.0,
                         duck_gain_db=None)

# The server keeps detecting turns (its commits still happen), but never cancels by itself.
LOCAL_ONLY = SessionConfig(turn_detection=TurnDetection(interrupt_response=False))


def _optional_vad(module_name: str, class_name: str, *args: Any,
                  **kwargs: Any) -> Callable[[], VoiceActivityDetector] | None:
    """A factory of the optional detector ``class_name`` of ``module_name``, or ``None`` when
    the adapter, or what it wraps (a module, a model file), is missing: one is built to
    find out."""
    try:
        module = importlib.import_module(module_name)
        make: Callable[[], VoiceActivityDetector] = functools.partial(
            getattr(module, class_name), *args, **kwargs)
        make()  # raises ConfigurationError when what the adapter wraps is not installed
    except (ImportError, AttributeError, ConfigurationError):
        return None
    return make


# Cached: each check builds a detector (Silero's loads its model), and a run asks per trial.
@functools.cache
def _webrtc_factory() -> Callable[[], VoiceActivityDetector] | None:
    """WebRTC's VAD in mode 3, or ``None`` when its adapter or module is missing."""
    return _optional_vad("realtalk.vad.webrtc", "WebRtcVAD", 3)


@functools.cache
def _silero_factory() -> Callable[[], VoiceActivityDetector] | None:
    """Silero's VAD at the benchmark's rate, or ``None`` when onnxruntime or the model is
    missing."""
    return _optional_vad("realtalk.vad.silero", "SileroVAD", sample_rate=RATE)


SILERO_METHODS = ("silero_vote", "silero_spectral")


def available_methods() -> list[str]:
    """The methods this machine can run, in report order."""
    names = ["realtalk", "realtalk_any_level", "realtalk_stop", "realtalk_local",
             "realtalk_no_aec", "energy", "naive", "server_vad"]
    if _webrtc_factory() is not None:
        names.append("webrtcvad")
    if _silero_factory() is not None:
        names.extend(SILERO_METHODS)
    return names


def _silero_vad(method: str) -> VoiceActivityDetector:
    """The detector of a Silero method (see the module's docstring)."""
    factory = _silero_factory()
    if factory is None:
        raise RuntimeError("Silero's VAD is not available on this machine")
    if method == "silero_vote":
        vote = default_vad(RATE)
        return AllOf(*vote.detectors, factory())
    return AllOf(EnergyVAD(), factory())


@functools.cache
def _clip_texts() -> dict[str, str]:
    return {c.name: c.text for directory in (None, UNSEEN_DIR)
            for c in clips(directory, rate=RATE)}


def _spoken(sound: Sound) -> str:
    """What the user says in ``sound``: a speech clip's words; nothing in other sounds."""
    return _clip_texts().get(sound.name, "") if sound.kind == "speech" else ""


def build_simulation(method: str, trial: Trial) -> tuple[Simulation, CpuTimer]:
    """A ready-to-run simulation of ``trial`` under ``method``, its detector timed."""
    utterances: list[Utterance] = []
    if trial.turn is not None:
        utterances.append(Utterance(samples=render(trial.turn), text=_spoken(trial.turn),
                                    at=TURN_AT_S))
    if trial.sound is not None and trial.at_s is not None:
        utterances.append(Utterance(samples=render(trial.sound), text=_spoken(trial.sound),
                                    after_assistant_starts=trial.at_s))
    path = trial.echo_path()
    room = Room(RoomConfig(echo=path, noise=trial.noise, noise_dbfs=trial.noise_dbfs,
                           seed=trial.seed), keep_history=False)
    changes: list[PathChange] = []
    for k, (response, after_s) in enumerate(trial.changes):
        path = path.moved(trial.seed + k)
        changes.append(PathChange(path=path, after_assistant_starts=after_s,
                                  response_number=response))
    common: dict[str, Any] = {
        "room": room, "server_options": SERVER, "seed": trial.seed, "path_changes": changes,
        "responder_factory": lambda: ScriptedResponder([trial.reply, *trial.more_replies]),
        "transcriber_factory": "oracle"}
    naive = NaiveVAD()
    if method == "realtalk":
        sim = Simulation(utterances, **common)
    elif method == "realtalk_any_level":
        sim = Simulation(utterances, barge_in=BargeIn(max_below_user_db=None), **common)
    elif method == "realtalk_stop":
        sim = Simulation(utterances, barge_in=BargeIn(decide=False), **common)
    elif method == "realtalk_local":
        sim = Simulation(utterances, barge_in=BargeIn(use_server_vad=False),
                         config=LOCAL_ONLY, **common)
    elif method == "energy":
        sim = Simulation(utterances, vad=EnergyVAD(), **common)
    elif method == "naive":
        sim = Simulation(utterances, barge_in=NAIVE_BARGE_IN, vad=naive, echo=NO_CANCELLER,
                         **common)
    elif method == "realtalk_no_aec":
        # The canceller off: what the gate, the detector and the transcript filters do
        # against the raw echo (the server then hears it, and transcribes it).
        sim = Simulation(utterances, echo=NO_CANCELLER, **common)
    elif method == "server_vad":
        # The peers' setup: the raw microphone goes upstream, the server's VAD decides.
        sim = Simulation(utterances, barge_in=None, echo=NO_CANCELLER, **common)
    elif method == "webrtcvad":
        factory = _webrtc_factory()
        if factory is None:
            raise RuntimeError("webrtcvad is not available on this machine")
        sim = Simulation(utterances, vad=factory(), **common)
    elif method in SILERO_METHODS:
        sim = Simulation(utterances, vad=_silero_vad(method), **common)
    else:
        raise ValueError(f"unknown method {method!r}")
    timer = CpuTimer()
    control = sim.echo_control
    if control.echo is not None:
        control.echo = TimedEcho(control.echo, timer)
    if sim.detector is not None:
        if method == "naive":
            naive.playing = lambda: sim.session.state is State.SPEAKING
            sim.detector.gate = None  # the seed had no echo control at all
        sim.detector.vad = TimedVAD(sim.detector.vad, timer)
        if sim.detector.gate is not None:
            sim.detector.gate = TimedGate(sim.detector.gate, timer)
    if sim.oracle is not None:
        # A recogniser with word errors (0-30 % an item, clipped edges), not a perfect one.
        words_rng = random.Random(trial.seed)
        sim.oracle.mishear = lambda words: mishear(words_rng, words)
    if trial.turn is None:
        # Ask for a reply straight away, with no user question before it, so every sound
        # at the microphone before the barge-in is echo or noise. With a turn, the server
        # answers it when it has heard the turn end.
        sim.request_response()
    return sim, timer


# ---------------------------------------------------------------------------------------------
# Running


@attrs.frozen
class Stop:
    """One interruption, in simulated seconds."""

    detected: float
    stopped: float
    ducked: float | None
    reported_onset: float | None
    source: str
    resumed_at: float | None = None  # a yield the decision took back: the reply went on then

    @property
    def resumed(self) -> bool:
        return self.resumed_at is not None


@attrs.frozen
class Transcribed:
    """One user transcript the server produced: whose voice the oracle heard in it, and
    whether the transcript filters kept it."""

    source: Literal["user", "echo"]
    kept: bool
    text: str
    audio: bool | None = None  # the audio's opinion the filters got (True: the user)


@attrs.frozen
class Outcome:
    """What one trial produced: everything the metrics need, nothing heavy."""

    index: int
    kind: Kind
    echo: str
    onset: float | None  # when the sound started at the microphone
    sound_end: float | None
    stops: tuple[Stop, ...]
    speaking: tuple[tuple[float, float], ...]  # spans of assistant playback (SPEAKING)
    simulated_s: float
    cpu_s: float
    detector_audio_s: float
    echo_cpu_s: float
    echo_audio_s: float
    wall_s: float
    transcribed: tuple[Transcribed, ...] = ()
    checks: tuple[tuple[float, float], ...] = ()  # (begun, decided) of each check of speech
    condition: str = "bench/equal"
    changes: tuple[float, ...] = ()  # when the echo path moved
    ducks_withdrawn: int = 0  # ducks restored without a stop (ClientStats.ducks_restored)
    withdrawn_duck_s: float = 0.0  # how long they held (ClientStats.restored_duck_s)
    error: str | None = None  # the run raised this: the trial is counted apart, not judged


def speaking_spans(events: Sequence[object], end: float) -> list[tuple[float, float]]:
    """The spans during which the session was in SPEAKING, from its StateChanged events
    (a span still open at ``end`` closes there), less the pauses of the interruption
    decision (``InterruptionDecided`` of confirmed speech: from the yield to the verdict),
    when the assistant was silent though still in SPEAKING."""
    spans: list[tuple[float, float]] = []
    since: float | None = None
    for event in events:
        if not isinstance(event, StateChanged):
            continue
        if event.new is State.SPEAKING and since is None:
            since = event.at
        elif event.old is State.SPEAKING and since is not None:
            spans.append((since, event.at))
            since = None
    if since is not None:
        spans.append((since, end))
    for pause in events:
        if isinstance(pause, InterruptionDecided) and pause.evidence.confirmed:
            spans = [part for a, b in spans for part in ((a, min(b, pause.yielded)),
                                                         (max(a, pause.decided), b))
                     if part[1] > part[0]]
    return spans


def transcribed(sim: Simulation, result: SimulationResult) -> tuple[Transcribed, ...]:
    """The oracle's transcriptions, each with its fate: they reach the client in the order
    the server made them, as a UserTranscript (kept) or an EchoTranscriptDropped."""
    if sim.oracle is None:
        return ()
    near_end = sim.echo_control.near_end  # it keeps the last 60 s: a whole trial

    def fate(event: UserTranscript | EchoTranscriptDropped) -> tuple[bool, bool | None]:
        if isinstance(event, EchoTranscriptDropped):
            return False, event.audio_near_end
        return True, near_end.opinion(event.speech_started_at, event.speech_ended_at)

    fates = [fate(e) for e in result.timeline
             if isinstance(e, (UserTranscript, EchoTranscriptDropped))]
    # The last few may still be on their way when the run ends: only delivered ones count.
    return tuple(Transcribed(source=t.source, kept=kept, text=t.text, audio=audio)
                 for t, (kept, audio) in zip(sim.oracle.transcripts, fates, strict=False)
                 if t.text)


def outcome_of(trial: Trial, result: SimulationResult, timer: CpuTimer,
               wall_s: float, sim: Simulation) -> Outcome:
    """Distil a finished simulation into an :class:`Outcome`."""
    onset = sound_end = None
    spoke = [e for e in result.timeline if isinstance(e, UserSpoke) and e.barge_in]
    if spoke and trial.sound is not None:
        samples = render(trial.sound).astype(np.float64) / 32768.0
        onset = spoke[0].at + onset_offset_s(samples)
        sound_end = spoke[0].at + spoke[0].duration_ms / 1000.0
    # A yield the decision took back (a backchannel or noise verdict) silenced the assistant
    # as a stop does, so it counts as one; a decided interruption is an Interrupted already.
    # A check (unconfirmed speech) paused nothing.
    decided = [e for e in result.timeline if isinstance(e, InterruptionDecided)]
    stops = tuple(sorted([*(_stop(e) for e in result.interruptions),
                          *(_resumed(e) for e in decided
                            if e.verdict != "interruption" and e.evidence.confirmed)],
                         key=lambda stop: stop.detected))
    return Outcome(index=trial.index, kind=trial.kind, echo=trial.echo, onset=onset,
                   condition=trial.condition,
                   changes=tuple(e.at for e in result.timeline if isinstance(e, EchoPathChanged)),
                   sound_end=sound_end, stops=stops,
                   speaking=tuple(speaking_spans(result.timeline, result.simulated_s)),
                   simulated_s=result.simulated_s, cpu_s=timer.cpu_s,
                   detector_audio_s=timer.audio_s, echo_cpu_s=timer.echo_cpu_s,
                   echo_audio_s=timer.echo_audio_s, wall_s=wall_s,
                   transcribed=transcribed(sim, result),
                   checks=tuple((e.yielded, e.decided) for e in decided
                                if not e.evidence.confirmed),
                   ducks_withdrawn=sim.session.stats.ducks_restored,
                   withdrawn_duck_s=sim.session.stats.restored_duck_s)


def _stop(event: Interrupted) -> Stop:
    lat = event.latency
    stopped = lat.playback_stopped if lat.playback_stopped is not None else lat.detected
    return Stop(detected=lat.detected, stopped=stopped, ducked=lat.ducked,
                reported_onset=lat.onset, source=event.source)


def _resumed(event: InterruptionDecided) -> Stop:
    """A yield that ended in a resume: playback paused at the yield, with no duck recorded
    (the pause is the response)."""
    return Stop(detected=event.yielded, stopped=event.yielded, ducked=None,
                reported_onset=event.onset, source="local", resumed_at=event.decided)


def _answer_turn(sim: Simulation, trial: Trial) -> SimulationResult | None:
    """Run through the user's turn; if the server has not started answering it by then (its
    VAD never heard the turn end: babble keeps it in speech), ask for the reply, as an app
    whose own end-of-turn detection fired would. ``None`` without a turn."""
    if trial.turn is None:
        return None
    result = sim.run(trial.lead_s - TURN_REPLY_S + TURN_WAIT_S)
    if sim.session.state is State.LISTENING and not sim.engine.context.responses_in_progress:
        sim.request_response()
    return result


def _run_replies(sim: Simulation, trial: Trial, step_s: float = 0.1) -> SimulationResult:
    """Run an AI-only trial: each time the assistant has been quiet (listening) for the next
    gap, after its first reply, ask for the next reply."""
    gaps = list(trial.gaps_s)
    quiet = 0.0
    replied = False
    end = trial.lead_s + trial.duration_s
    result = _answer_turn(sim, trial) or sim.run(step_s)
    while result.simulated_s + 1e-9 < end:
        replied = replied or sim.session.state is not State.LISTENING
        quiet = quiet + step_s if replied and sim.session.state is State.LISTENING else 0.0
        if gaps and quiet >= gaps[0]:
            gaps.pop(0)
            quiet = 0.0
            sim.request_response()
        result = sim.run(min(step_s, end - result.simulated_s))
    return result


def run_trial(method: str, trial: Trial) -> Outcome:
    """Simulate one trial under one method."""
    wall = time.perf_counter()
    try:
        sim, timer = build_simulation(method, trial)
        if trial.gaps_s:
            result = _run_replies(sim, trial)
        else:
            done = _answer_turn(sim, trial)
            result = sim.run(trial.lead_s + trial.duration_s
                             - (done.simulated_s if done is not None else 0.0))
        # A decision still pending when the trial ends is waited for: the assistant fell
        # silent at the yield, and only the verdict says whether that was a stop.
        waited = 0.0
        while sim.session.yielded and waited < DECISION_WAIT_S:
            result = sim.run(0.1)
            waited += 0.1
    except Exception as exc:  # a crash of the code measured is a finding, not the end
        return Outcome(index=trial.index, kind=trial.kind, echo=trial.echo, onset=None,
                       sound_end=None, stops=(), speaking=(), simulated_s=0.0, cpu_s=0.0,
                       detector_audio_s=0.0, echo_cpu_s=0.0, echo_audio_s=0.0,
                       wall_s=time.perf_counter() - wall, condition=trial.condition,
                       error=f"{type(exc).__name__}: {exc}")
    return outcome_of(trial, result, timer, time.perf_counter() - wall, sim)


def run_chunk(method: str, trials: Sequence[Trial]) -> list[Outcome]:
    """Simulate several trials (one unit of work for a worker process)."""
    return [run_trial(method, t) for t in trials]


# ---------------------------------------------------------------------------------------------
# Metrics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-th percentile (the smallest value with at least ``q`` % of the
    values at or below it); ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]


def overlap_s(spans: Sequence[tuple[float, float]], lo: float, hi: float) -> float:
    """How much of ``spans`` falls inside ``[lo, hi)``."""
    return sum(max(0.0, min(b, hi) - max(a, lo)) for a, b in spans)


@attrs.frozen
class Score:
    """One trial judged.

    Attributes:
        hit: the interruption the user's speech caused (speech trials), if any.
        ai_speaking_at_onset: whether the assistant was playing when the sound started.
        false_stops: the interruptions while no user speech was under way.
        event_stops: of those, the ones during a click or cough (or just after it).
        exposure_s: assistant playback outside user speech: what false stops are counted over.
    """

    hit: Stop | None
    ai_speaking_at_onset: bool
    false_stops: tuple[Stop, ...]
    event_stops: int
    exposure_s: float
    false_checks: tuple[tuple[float, float], ...] = ()


def score(outcome: Outcome) -> Score:
    """Judge one trial (see the module docstring for the rules)."""
    window: tuple[float, float] | None = None
    if outcome.onset is not None and outcome.sound_end is not None:
        window = (outcome.onset, outcome.sound_end + GRACE_S)
    speaking_at_onset = window is not None and any(
        a <= window[0] < b for a, b in outcome.speaking)
    hit: Stop | None = None
    false_stops: list[Stop] = []
    event_stops = 0
    for stop in outcome.stops:
        inside = window is not None and window[0] <= stop.detected <= window[1]
        if outcome.kind == "speech" and inside:
            if hit is None and speaking_at_onset:
                hit = stop
            continue  # the user is talking: whatever stops now is theirs, not false
        false_stops.append(stop)
        event_stops += inside
    exposure = sum(b - a for a, b in outcome.speaking)
    if outcome.kind == "speech" and window is not None:
        exposure -= overlap_s(outcome.speaking, *window)
    false_checks = tuple(c for c in outcome.checks
                         if not (outcome.kind == "speech" and window is not None
                                 and window[0] <= c[0] <= window[1]))
    return Score(hit=hit, ai_speaking_at_onset=speaking_at_onset,
                 false_stops=tuple(false_stops), event_stops=event_stops, exposure_s=exposure,
                 false_checks=false_checks)


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _latency(values: Sequence[float]) -> dict[str, Any]:
    return {"p50": _round(percentile(values, 50)), "p95": _round(percentile(values, 95)),
            "max": _round(max(values) if values else None), "n": len(values)}


def _counts(keys: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key in keys:
        out[key] = out.get(key, 0) + 1
    return out


def _per_min(count: int, seconds: float) -> float | None:
    return round(count / (seconds / 60.0), 3) if seconds > 0 else None


def stops_after(at: float, changes: Sequence[float], window_s: float) -> bool:
    """Whether ``at`` falls within ``window_s`` after one of ``changes`` (path changes)."""
    return any(0.0 <= at - c <= window_s for c in changes)


def false_ducks(rows: Sequence[tuple[Outcome, Score]]) -> dict[str, Any]:
    """The ducks withdrawn without a stop in the AI-only runs among ``rows``: where nobody
    spoke, each is a dip the listener heard for nothing (the cost side of the duck's
    latency). ``per_min`` of those runs' playback; ``None`` without any."""
    ai_only = [(o, s) for o, s in rows if o.kind == "ai_only"]
    count = sum(o.ducks_withdrawn for o, _ in ai_only)
    exposure = sum(s.exposure_s for _, s in ai_only)
    ducked = sum(o.withdrawn_duck_s for o, _ in ai_only)
    return {"count": count, "per_min": _per_min(count, exposure),
            "ducked_pct": _round(100.0 * ducked / exposure, 2) if exposure > 0 else None}


def group_metrics(rows: Sequence[tuple[Outcome, Score]]) -> dict[str, Any]:
    """The per-group figures (an echo level, a condition, an axis value) of judged trials."""
    valid = [(o, s) for o, s in rows if o.kind == "speech" and s.ai_speaking_at_onset]
    hits = [(o, s.hit) for o, s in valid if s.hit is not None]
    ducks = [max(0.0, (h.ducked - o.onset) * 1000.0) for o, h in hits
             if h.ducked is not None and o.onset is not None]
    exposure = sum(s.exposure_s for _, s in rows)
    return {
        "detected_pct": _round(100.0 * len(hits) / len(valid)) if valid else None,
        "stop_latency_ms": _latency([(h.stopped - o.onset) * 1000.0 for o, h in hits
                                     if o.onset is not None]),
        "duck_latency_ms": _latency(ducks),
        "false_per_min": _per_min(sum(len(s.false_stops) for _, s in rows), exposure),
        "false_count": sum(len(s.false_stops) for _, s in rows),
        "exposure_s": round(exposure, 1),
        "trials": len(rows),
        "detected_by_source": _counts(h.source for _, h in hits),
        "false_by_source": _counts(f.source for _, s in rows for f in s.false_stops),
        "false_ducks": false_ducks(rows),
    }


# The worst-condition metrics: (name, where in a group's figures, whether higher is worse).
WORST_METRICS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("false_per_min", ("false_per_min",), True),
    ("detected_pct", ("detected_pct",), False),
    ("stop_p95_ms", ("stop_latency_ms", "p95"), True),
    ("duck_p95_ms", ("duck_latency_ms", "p95"), True),
)


def worst_conditions(groups: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """For each metric, the condition where it is worst (ties: the one with more trials,
    then the first by name), with its value; ``None`` when no condition has the metric."""
    worst: dict[str, dict[str, Any] | None] = {}
    for name, where, higher_is_worse in WORST_METRICS:
        found: list[tuple[float, int, str]] = []
        for condition, figures in groups.items():
            value: Any = figures
            for key in where:
                value = value.get(key) if isinstance(value, dict) else None
            if isinstance(value, (int, float)):
                badness = float(value) if higher_is_worse else -float(value)
                found.append((-badness, -int(figures.get("trials", 0)), condition))
        if not found:
            worst[name] = None
            continue
        _, _, condition = min(found)
        value = groups[condition]
        for key in where:
            value = value[key]
        worst[name] = {"condition": condition, "value": value,
                       "trials": groups[condition].get("trials")}
    return worst


def summarize(outcomes: Sequence[Outcome], *, local_detector: bool) -> dict[str, Any]:
    """The report of one method over its outcomes (``local_detector``: whether it has one,
    i.e. whether ``rtf`` means anything). Trials whose run raised are counted under
    ``errors`` and left out of every other figure."""
    crashed = [o for o in outcomes if o.error is not None]
    outcomes = [o for o in outcomes if o.error is None]
    scored = [(o, score(o)) for o in outcomes]
    speech = [(o, s) for o, s in scored if o.kind == "speech"]
    valid = [(o, s) for o, s in speech if s.ai_speaking_at_onset]
    hits = [(o, s.hit) for o, s in valid if s.hit is not None]
    stop_ms = [(h.stopped - o.onset) * 1000.0 for o, h in hits if o.onset is not None]
    reported = [(h.stopped - h.reported_onset) * 1000.0 for _, h in hits
                if h.reported_onset is not None]
    ducks = [(h.ducked - o.onset) * 1000.0 for o, h in hits
             if h.ducked is not None and o.onset is not None]
    false_sources = [f.source for _, s in scored for f in s.false_stops]
    false_count = sum(len(s.false_stops) for _, s in scored)
    false_resumed = sum(f.resumed for _, s in scored for f in s.false_stops)
    pauses = [(f.resumed_at - f.stopped) * 1000.0 for _, s in scored for f in s.false_stops
              if f.resumed_at is not None]
    exposure = sum(s.exposure_s for _, s in scored)
    checks = [c for _, s in scored for c in s.false_checks]
    ai_only = [(o, s) for o, s in scored if o.kind == "ai_only"]
    ai_only_false = sum(len(s.false_stops) for _, s in ai_only)
    ai_only_exposure = sum(s.exposure_s for _, s in ai_only)
    cpu = sum(o.cpu_s for o in outcomes)
    audio = sum(o.detector_audio_s for o in outcomes)
    rtf = cpu / audio if local_detector and audio > 0 else None
    echo_audio = sum(o.echo_audio_s for o in outcomes)
    echo_rtf = sum(o.echo_cpu_s for o in outcomes) / echo_audio if echo_audio > 0 else None
    detected_pct = 100.0 * len(hits) / len(valid) if valid else None
    ai_only_simulated = sum(o.simulated_s for o, _ in ai_only)
    stop_p95 = percentile(stop_ms, 95)
    # A duck already in place at the onset (started by echo) counts as 0 ms.
    duck_ms = [max(0.0, d) for d in ducks]
    duck_p95 = percentile(duck_ms, 95)

    def transcripts(rows: Sequence[Outcome]) -> dict[str, Any]:
        said = [t for o in rows for t in o.transcribed]
        opinion = {True: "user", False: "echo", None: "unknown"}
        return {"echo": sum(t.source == "echo" for t in said),
                "echo_kept": sum(t.source == "echo" and t.kept for t in said),
                "user": sum(t.source == "user" for t in said),
                "user_dropped": sum(t.source == "user" and not t.kept for t in said),
                # What the audio said of each (NearEndLog), against what it was.
                "audio_said": {source: _counts(opinion[t.audio] for t in said
                                               if t.source == source)
                               for source in ("echo", "user")}}

    def events(kind: str) -> dict[str, Any]:
        rows = [s for o, s in scored if o.kind == kind]
        return {"trials": len(rows), "stopped_by_it": sum(s.event_stops > 0 for s in rows)}

    by_echo = {echo: group_metrics([(o, s) for o, s in scored if o.echo == echo])
               for echo in dict.fromkeys(o.echo for o in outcomes)}
    by_condition = {c: group_metrics([(o, s) for o, s in scored if o.condition == c])
                    for c in sorted(dict.fromkeys(o.condition for o in outcomes))}
    unseen = [(o, s) for o, s in scored if not o.condition.startswith("bench/")]
    by_axis = {axis: {value: group_metrics([(o, s) for o, s in unseen
                                            if o.condition.split("/")[i] == value])
                      for value in dict.fromkeys(o.condition.split("/")[i] for o, _ in unseen)}
               for i, axis in enumerate(AXES)} if unseen else {}
    after_change = [f for o, s in scored for f in s.false_stops
                    if stops_after(f.detected, o.changes, AFTER_CHANGE_S)]
    change_exposure = sum(overlap_s(o.speaking, c, c + AFTER_CHANGE_S)
                          for o, _ in scored for c in o.changes)
    return {
        "stop_latency_ms": _latency(stop_ms),
        "detected_pct": _round(detected_pct),
        "false_per_min": _per_min(false_count, exposure),
        "checks": {"count": len(checks), "per_min": _per_min(len(checks), exposure),
                   "pending_ms": _latency([(b - a) * 1000.0 for a, b in checks])},
        "rtf": _round(rtf, 6),
        "echo_canceller_rtf": _round(echo_rtf, 6),
        "duck_latency_ms": {**_latency(duck_ms),
                            "before_onset": sum(d < 0 for d in ducks)} if ducks else None,
        "reported_stop_ms": _latency(reported),
        "false_ducks": false_ducks(scored),
        # Of all barge-in trials, including those where a false stop had silenced the AI.
        "detected_pct_of_all": _round(100.0 * len(hits) / len(speech)) if speech else None,
        "trials": {"speech": len(speech), "ai_speaking_at_onset": len(valid),
                   "ai_silent_at_onset": len(speech) - len(valid), "detected": len(hits),
                   "by_source": _counts(h.source for _, h in hits)},
        "false": {
            "count": false_count,
            "exposure_min": round(exposure / 60.0, 2),
            "by_source": _counts(false_sources),
            "resumed": false_resumed,
            "resumed_pause_ms": _latency(pauses),
            "cancelled": false_count - false_resumed,
            "cancelled_per_min": _per_min(false_count - false_resumed, exposure),
            "in_barge_in_trials": sum(len(s.false_stops) for _, s in speech),
            "ai_only": {"count": ai_only_false, "speaking_min": round(ai_only_exposure / 60, 2),
                        "simulated_min": round(ai_only_simulated / 60, 2),
                        "per_min": _per_min(ai_only_false, ai_only_exposure)},
            "click": events("click"),
            "cough": events("cough"),
            "typing": events("typing"),
            # False stops within AFTER_CHANGE_S of an echo path change, over the playback
            # in those windows.
            "after_path_change": {
                "count": len(after_change), "changes": sum(len(o.changes) for o in outcomes),
                "exposure_min": round(change_exposure / 60.0, 2),
                "per_min": _per_min(len(after_change), change_exposure)},
        },
        "transcripts": {**transcripts(outcomes),
                        "ai_only": transcripts([o for o, _ in ai_only])},
        "by_echo": by_echo,
        "errors": {"count": len(crashed),
                   "by_message": _counts(o.error or "" for o in crashed),
                   "by_condition": _counts(o.condition for o in crashed)},
        "by_block": {"bench": group_metrics([(o, s) for o, s in scored
                                            if o.condition.startswith("bench/")]),
                     "unseen": group_metrics(unseen)},
        "by_condition": by_condition,
        "by_axis": by_axis,
        "worst": worst_conditions(by_condition),
        "goals": {
            "stop_p95_le_30ms": stop_p95 is not None and stop_p95 <= GOAL_STOP_P95_MS,
            "detected_ge_98pct": detected_pct is not None and detected_pct >= GOAL_DETECTED_PCT,
            # With no false stop the AI talks all along, so simulated time is its speech.
            "zero_false_in_10min_ai_only": ai_only_false == 0
            and ai_only_simulated >= GOAL_AI_ONLY_MIN * 60.0,
            "rtf_le_0.005": None if rtf is None else rtf <= GOAL_RTF,  # None: no local part
        },
        # None where the method has no such part (no local detector, no duck, no canceller).
        "goals_issue_15": {
            "no_false_stops": false_count == 0,
            "detected_ge_99pct": detected_pct is not None
            and detected_pct >= GOAL_15_DETECTED_PCT,
            "stop_p95_le_150ms": stop_p95 is not None and stop_p95 <= GOAL_15_STOP_P95_MS,
            "duck_p95_le_30ms": None if duck_p95 is None else duck_p95 <= GOAL_15_DUCK_P95_MS,
            "detector_rtf_le_0.005": None if rtf is None else rtf <= GOAL_RTF,
            "canceller_rtf_le_0.01": None if echo_rtf is None
            else echo_rtf <= GOAL_15_CANCELLER_RTF,
        },
        "simulated_s": round(sum(o.simulated_s for o in outcomes), 1),
        "wall_s": round(sum(o.wall_s for o in outcomes), 1),
    }


# ---------------------------------------------------------------------------------------------
# Report


def _chunks(trials: Sequence[Trial], size: int) -> list[list[Trial]]:
    # Long AI-only runs go first, so that no worker is left with one at the very end.
    ordered = sorted(trials, key=lambda t: -t.duration_s)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


class Ran(Protocol):
    """What :func:`run_work` needs of a trial's outcome."""

    @property
    def index(self) -> int:
        """The trial's place in its corpus."""
        ...

    @property
    def simulated_s(self) -> float:
        """Simulated seconds the trial covered."""
        ...


RanT = TypeVar("RanT", bound=Ran)
WorkT = TypeVar("WorkT")


def run_work(work: Sequence[tuple[str, Sequence[WorkT]]],
             run_chunk: Callable[[str, Sequence[WorkT]], list[RanT]], *, jobs: int,
             started: float) -> dict[str, list[RanT]]:
    """Run each ``(method, trials)`` chunk of ``work`` with ``run_chunk`` (in ``jobs`` worker
    processes; one runs them here), printing a progress line per chunk; each method's
    outcomes, in trial order. ``benchmarks/backchannel.py`` runs its trials through this."""
    outcomes: dict[str, list[RanT]] = {m: [] for m, _ in work}
    done = 0

    def collect(method: str, chunk_outcomes: list[RanT]) -> None:
        nonlocal done
        done += 1
        outcomes[method].extend(chunk_outcomes)
        sim_s = sum(o.simulated_s for o in chunk_outcomes)
        print(f"[{done:3d}/{len(work)}] {method:<15} {len(chunk_outcomes):3d} trials, "
              f"{sim_s:6.1f} s simulated, {time.perf_counter() - started:6.1f} s elapsed",
              flush=True)

    if jobs <= 1:
        for method, chunk in work:
            collect(method, run_chunk(method, chunk))
    else:
        with concurrent.futures.ProcessPoolExecutor(jobs) as pool:
            futures = {pool.submit(run_chunk, m, c): m for m, c in work}
            for future in concurrent.futures.as_completed(futures):
                collect(futures[future], future.result())
    # Completion order varies with the workers: put each method's outcomes in trial order.
    return {m: sorted(found, key=lambda o: o.index) for m, found in outcomes.items()}


def bench_arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line: ``--seed``, ``--quick`` and ``--jobs``, described by the
    first line of ``doc`` (its module docstring)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--seed", type=int, default=0, help="corpus seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="a small corpus, for a smoke run")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1),
                        help="worker processes (default: 2, or fewer cores)")
    return parser


def run_methods(methods: Sequence[str], *, seed: int = 0, quick: bool = False, jobs: int = 2,
                started: float | None = None, turns: bool = True) -> dict[str, dict[str, Any]]:
    """Run the corpus under each method (``jobs`` worker processes), printing progress;
    the report keyed by method. ``benchmarks/echo.py`` runs its chain block through this.
    ``turns``: each trial opens with a user turn (:func:`with_turns`)."""
    started = time.perf_counter() if started is None else started
    corpus = build_corpus(seed, quick, turns=turns)
    kinds = {k: sum(t.kind == k for t in corpus.trials)
             for k in ("speech", "click", "cough", "typing")}
    ai_only_s = sum(t.duration_s for t in corpus.trials if t.kind == "ai_only")
    print(f"corpus (seed {seed}{', quick' if quick else ''}"
          f"{'' if turns else ', no user turns'}): "
          f"{len(corpus.trials)} trials, {kinds}, AI-only {ai_only_s / 60:.1f} min; "
          "echo/user active level dB: "
          + ", ".join(f"{k} {v:+.1f}" for k, v in corpus.echo_to_user_db.items()), flush=True)

    size = max(1, len(corpus.trials) // (4 * max(1, jobs)))
    work = [(m, chunk) for m in methods for chunk in _chunks(corpus.trials, size)]
    outcomes = run_work(work, run_chunk, jobs=jobs, started=started)

    report: dict[str, Any] = {}
    for method in methods:
        report[method] = summarize(outcomes[method], local_detector=method != "server_vad")
    for line in condition_table(report):
        print(line, flush=True)
    for method in methods:
        r = report[method]
        t = r["transcripts"]
        print(f"{method}: stop p50/p95 {r['stop_latency_ms']['p50']}/"
              f"{r['stop_latency_ms']['p95']} ms, detected {r['detected_pct']} %, "
              f"false {r['false_per_min']}/min, rtf {r['rtf']}; transcripts: echo "
              f"{t['echo_kept']} kept of {t['echo']}, user {t['user_dropped']} dropped of "
              f"{t['user']}", flush=True)
    for line in summary_table(report):
        print(line, flush=True)
    return report


def _cell(value: Any, width: int) -> str:
    return f"{'-' if value is None else value:>{width}}"


def condition_table(report: dict[str, dict[str, Any]]) -> list[str]:
    """One row per condition: per method, false stops per minute, detected %, and stop p95."""
    methods = list(report)
    if not methods:
        return []
    conditions = list(report[methods[0]]["by_condition"])
    width = max([len(c) for c in conditions] + [9])
    lines = ["per condition: false/min det% stop-p95-ms (trials)",
             f"{'condition':<{width}} " + " ".join(f"{m[:20]:>21}" for m in methods)]
    for condition in conditions:
        row = [f"{condition:<{width}}"]
        for method in methods:
            g = report[method]["by_condition"].get(condition)
            if g is None:
                row.append(_cell(None, 21))
                continue
            row.append(f"{_cell(g['false_per_min'], 7)} {_cell(g['detected_pct'], 5)} "
                       f"{_cell(g['stop_latency_ms']['p95'], 7)}")
        trials = report[methods[0]]["by_condition"][condition]["trials"]
        lines.append(" ".join(row) + f" ({trials})")
    return lines


def summary_table(report: dict[str, dict[str, Any]]) -> list[str]:
    """One row per method (the headline figures), then its worst condition per metric."""
    lines = [f"{'method':<16}{'false/min':>10}{'det%':>7}{'stop p50/p95':>14}"
             f"{'duck p50/p95':>14}{'rtf':>10}{'after-move/min':>15}{'checks/min':>11}"
             f"{'crashed':>8}"]
    for method, r in report.items():
        duck = r["duck_latency_ms"] or {"p50": None, "p95": None}
        stop = r["stop_latency_ms"]
        stops = f"{stop['p50']}/{stop['p95']}"
        ducks = f"{duck['p50']}/{duck['p95']}"
        lines.append(f"{method:<16}{_cell(r['false_per_min'], 10)}{_cell(r['detected_pct'], 7)}"
                     f"{_cell(stops, 14)}{_cell(ducks, 14)}{_cell(r['rtf'], 10)}"
                     f"{_cell(r['false']['after_path_change']['per_min'], 15)}"
                     f"{_cell(r['checks']['per_min'], 11)}{_cell(r['errors']['count'], 8)}")
    for method, r in report.items():
        worst = ", ".join(f"{name} {w['value']} at {w['condition']}"
                          for name, w in r["worst"].items() if w is not None)
        lines.append(f"worst {method}: {worst}")
        for message, count in r["errors"]["by_message"].items():
            lines.append(f"crashed {method}: {count} x {message}")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--methods", nargs="+", default=None,
                        help="run only these methods (default: all available)")
    parser.add_argument("--no-turns", action="store_true",
                        help="no user turn before the first reply (the reply is asked for "
                             "at once, as before the turns)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    # The core logs every server error it absorbs (a resume racing a server-VAD response, ...);
    # hundreds of them would bury the progress lines. Worker processes inherit this.
    logging.getLogger("realtalk").setLevel(logging.ERROR)

    methods = available_methods()
    if "webrtcvad" not in methods:
        print("webrtcvad: skipped (realtalk.vad.webrtc or the webrtcvad module is missing)",
              flush=True)
    if not set(SILERO_METHODS) <= set(methods):
        print("silero_vote, silero_spectral: skipped (onnxruntime or Silero's model is "
              "missing)", flush=True)
    if args.methods:
        methods = [m for m in methods if m in args.methods]
    report = run_methods(methods, seed=args.seed, quick=args.quick, jobs=args.jobs,
                         started=started, turns=not args.no_turns)
    print(f"total wall time {time.perf_counter() - started:.1f} s", flush=True)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
