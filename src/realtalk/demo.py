"""``realtalk demo``: a scripted user talks over the AI, on the embedded server, and we measure.

Everything is real but the room: a real WebSocket to the embedded server on loopback, real
time, and a simulated sound card whose speaker and microphone stand in a virtual room, so the
AI's own voice reaches the microphone as echo, as it does on a laptop. The user (real speech,
recorded with espeak-ng) asks a question; ``barge_in_after`` seconds into the AI's answer the
user talks over it. The demo prints a timeline and the measured numbers, and :func:`run_demo`
reports whether the interruption really happened as measured: playback stopped,
``response.cancel`` sent, the item truncated upstream at the milliseconds actually played, and
a new answer afterwards.

Every latency is measured from one *onset*: the capture time of the first sample of the user's
speech at the microphone. The demo scripts the user, so it knows that sample exactly; a
detector can only estimate it (:attr:`InterruptionLatency.onset` is the start of the first
frame the local detector took for speech), and the demo reports how far off that estimate was.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable

import anyio
import attrs
import numpy as np
import numpy.typing as npt

from .audio.frame import AudioFrame
from .audio.pcm import int16_to_float
from .conversation import Conversation
from .errors import AudioError, ConfigurationError
from .providers import Provider, local
from .server import ScriptedResponder, ScriptedTranscriber, ServerOptions
from .session import (
    AssistantTranscript,
    ErrorOccurred,
    Interrupted,
    InterruptionLatency,
    ResponseAudioStarted,
    ResponseFinished,
    State,
    StateChanged,
    Truncated,
    UserSpeechStarted,
    UserTranscript,
)
from .session_config import SessionConfig, TurnDetection
from .sim import Room, RoomConfig, SimulatedDevice
from .sim.signals import load_clip, rms_dbfs

__all__ = ("DemoResult", "EchoReport", "run_demo")

_QUESTION = "What's the weather like tomorrow?"
_INTERRUPTION = "Sorry, can I ask something?"
_REPLIES = (
    "Tomorrow looks bright for most of the region. The morning starts cool, with a light "
    "breeze from the west, then the sun breaks through by ten, and the afternoon climbs to "
    "around twenty degrees, with a small chance of a shower near the coast in the evening.",
    "Of course, go ahead.",
)
# The demo's room: a quiet office whose echo is 30 dB below the speaker. The echo is there in
# the microphone signal (the demo reports its level), but under the detector's threshold;
# louder rooms need the echo canceller.
_ECHO_GAIN_DB = -30.0
# A sample louder than this (-80 dBFS) is sound; below it, the digital near-silence that
# recordings start and end with.
_AUDIBLE = 1e-4


@attrs.frozen(kw_only=True)
class EchoReport:
    """Levels measured in the virtual room, while each source was active (dBFS)."""

    speaker_dbfs: float
    echo_dbfs: float
    user_dbfs: float

    @property
    def echo_return_loss_db(self) -> float:
        """How much quieter the echo at the microphone is than the speaker."""
        return self.speaker_dbfs - self.echo_dbfs


@attrs.frozen(kw_only=True)
class DemoResult:
    """What the demo measured; ``ok`` is true only if the interruption happened as measured.

    Attributes:
        onset: when the user began talking over the AI: the capture time of the first sample
            of that speech at the microphone (monotonic seconds, the clock of the events).
        interruption: the library's report; its latency counts from the detector's onset
            estimate.
        latency: the same marks, measured from the true ``onset``.
    """

    ok: bool
    problems: tuple[str, ...]
    onset: float | None
    interruption: Interrupted | None
    latency: InterruptionLatency | None
    generated_ms: float | None
    truncated_upstream_ms: int | None
    answered_after: bool
    echo: EchoReport

    @property
    def onset_estimate_ms(self) -> float | None:
        """How long after the true onset the detector placed it (negative: before)."""
        if self.onset is None or self.interruption is None:
            return None
        estimate = self.interruption.latency.onset
        return None if estimate is None else (estimate - self.onset) * 1000.0


class _MicClock:
    """The simulated microphone, and the capture time of each of its samples.

    The sound card stamps each block on a drift-free grid from its first block, so sample ``i``
    of the room was captured at ``origin + i / sample_rate``.
    """

    def __init__(self, device: SimulatedDevice) -> None:
        self._device = device
        self.sample_rate = device.sample_rate
        self.origin: float | None = None
        self.started = anyio.Event()

    async def frames(self) -> AsyncIterator[AudioFrame]:
        async for frame in self._device.input.frames():
            if self.origin is None:
                assert frame.timestamp is not None  # a real-time device stamps every block
                self.origin = frame.timestamp
                self.started.set()
            yield frame

    def time_of(self, sample: int) -> float:
        """Capture time of the room's sample ``sample`` (once the first block was captured)."""
        assert self.origin is not None
        return self.origin + sample / self.sample_rate


class _Timeline:
    """The demo's timeline, printed in time order, each time to the millisecond from ``t0``.

    Some lines are known only after later ones were printable (an interruption's marks come
    with its acknowledgement), so lines wait here until :meth:`release` says nothing earlier
    can still come. Lines stamped at the same instant keep causal order: the scripted user and
    the interruption's marks (causes) before the events they led to, otherwise first added
    first.
    """

    def __init__(self, t0: float, print_line: Callable[[str], None]) -> None:
        self.t0 = t0
        self._print_line = print_line
        self._waiting: list[tuple[float, int, int, str]] = []

    def ms(self, at: float) -> int:
        """``at`` as printed: whole milliseconds since ``t0``. Differences of these are the
        summary's figures, so the two agree to the digit."""
        return round((at - self.t0) * 1000.0)

    def add(self, at: float, text: str, *, cause: bool = False) -> None:
        self._waiting.append((at, 0 if cause else 1, len(self._waiting), text))

    def release(self, upto: float = math.inf) -> None:
        """Print the lines stamped at or before ``upto``, in order."""
        self._waiting.sort()
        ready = [entry for entry in self._waiting if entry[0] <= upto]
        self._waiting = [entry for entry in self._waiting if entry[0] > upto]
        for at, _, _, text in ready:
            ms = self.ms(at)
            self._print_line(f"{ms / 1000:7.3f}s  {text}")


def _room() -> Room:
    return Room(RoomConfig.quiet_office(echo_gain_db=_ECHO_GAIN_DB))


def _audible(x: npt.NDArray[np.float32]) -> npt.NDArray[np.bool_]:
    return np.abs(x) > _AUDIBLE


def _first_audible(clip: npt.NDArray[np.int16]) -> int:
    """Index of the first sample of speech in ``clip``: where its leading silence ends."""
    loud = np.flatnonzero(_audible(int16_to_float(clip)))
    if not len(loud):
        raise AudioError("a demo clip is silent: no sample above -80 dBFS")
    return int(loud[0])


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
        raise ConfigurationError(f"{name}={value!r}: expected a finite number of seconds "
                                 f"{'>= 0' if allow_zero else '> 0'}")


def _provider(in_process: bool) -> Provider:
    """The embedded server, on a thread of its own or in the caller's loop, set up for the
    script: its replies, and the transcripts of the scripted user's two utterances."""
    first_audio_latency_ms, generation_speed = 250.0, 4.0

    def responder() -> ScriptedResponder:
        return ScriptedResponder(_REPLIES, cycle=False)

    def transcriber() -> ScriptedTranscriber:
        return ScriptedTranscriber([_QUESTION, _INTERRUPTION])

    if in_process:
        from .testing import InProcessServer

        return InProcessServer(
            options=ServerOptions(first_audio_latency_ms=first_audio_latency_ms,
                                  generation_speed=generation_speed),
            responder_factory=responder, transcriber_factory=transcriber)
    return local(first_audio_latency_ms=first_audio_latency_ms,
                 generation_speed=generation_speed, responder_factory=responder,
                 transcriber_factory=transcriber)


async def run_demo(
    *,
    barge_in_after: float = 1.5,
    print_line: Callable[[str], None] = print,
    time_limit: float = 30.0,
    in_process: bool = False,
) -> DemoResult:
    """Run the scripted conversation and return what was measured.

    Args:
        barge_in_after: seconds into the AI's answer the user talks over it.
        print_line: where the timeline and the summary go, line by line.
        time_limit: seconds the scripted conversation may take before it counts as failed.
        in_process: host the embedded server in the caller's event loop
            (:class:`realtalk.testing.InProcessServer`) instead of on loopback on a thread of
            its own: the same conversation without a socket, whose timing follows the loop's
            clock, so under :func:`realtalk.testing.run_virtual` it takes no wall-clock time.

    Raises:
        ConfigurationError: ``barge_in_after`` is negative or not finite, or ``time_limit``
            is not a positive number of seconds.
    """
    _check_seconds("barge_in_after", barge_in_after, allow_zero=True)
    _check_seconds("time_limit", time_limit, allow_zero=False)
    provider = _provider(in_process)
    room = _room()
    device = SimulatedDevice(room)
    mic = _MicClock(device)
    frame_s = device.block / device.sample_rate
    config = SessionConfig(
        instructions="You are a friendly guide.",
        voice="marin",
        turn_detection=TurnDetection(silence_duration_ms=700, interrupt_response=False),
    )
    question, _ = load_clip("weather_tomorrow_24k")
    interruption, _ = load_clip("sorry_can_i_ask_24k")

    interrupted: Interrupted | None = None
    # Responses the server had finished generating before the barge-in: cutting one short
    # needs no response.cancel, only the stop and the truncate.
    finished_upstream: dict[str, float] = {}
    onset: float | None = None
    truncated: Truncated | None = None
    answered_after = False
    problems: list[str] = []
    timeline = _Timeline(anyio.current_time(), print_line)
    # While the AI speaks, an interruption may come, and its marks reach back to the user's
    # onset: lines after the start of the AI's speech wait until the interruption is known.
    speaking_since: float | None = None

    def user_says(clip: npt.NDArray[np.int16], text: str) -> float:
        start = room.add_user_speech(clip, at_sample=room.mic_position)
        at = mic.time_of(start + _first_audible(clip))
        timeline.add(at, text, cause=True)
        return at

    async def talk_over() -> None:
        nonlocal onset
        await anyio.sleep(barge_in_after)
        onset = user_says(interruption, f"ONSET: the user talks over the AI: {_INTERRUPTION!r} "
                                        "(the first sample of speech at the microphone)")

    async with anyio.create_task_group() as tg, Conversation(
        provider, config=config, input=mic, output=device.output
    ) as conv:
        timeline.add(anyio.current_time(),
                     "connected to the embedded realtime server (no key, no network)")
        with anyio.move_on_after(time_limit) as scope:
            await mic.started.wait()
            user_says(question, f"the user starts asking: {_QUESTION!r}")
            async for event in conv.events():
                at: float | None = None  # the event's time stamp, when it has one
                match event:
                    case StateChanged(old=old, new=new, at=at):
                        timeline.add(at, f"state: {old.value} -> {new.value}")
                        if new is State.SPEAKING:
                            if speaking_since is None and interrupted is None:
                                tg.start_soon(talk_over)
                            speaking_since = at
                        if old is State.SPEAKING and new is State.LISTENING:
                            # The AI finished: after the interruption, that was its new
                            # answer; before it, the user never got a word in.
                            answered_after = interrupted is not None
                            break
                    case UserSpeechStarted(source=source, at=at):
                        timeline.add(at, f"user speech confirmed ({source} detector)")
                    case UserTranscript(text=text, at=at):
                        timeline.add(at, f"user (transcript): {text!r}")
                    case ResponseAudioStarted(latency_ms=lat, at=at):
                        extra = (f" ({lat:.0f} ms after the user's turn ended, by the server's "
                                 "VAD)" if lat else "")
                        timeline.add(at, f"ai: first audio{extra}")
                    case AssistantTranscript(text=text, interrupted=was_cut, heard_ms=heard,
                                             at=at):
                        if not text:
                            pass  # a response cancelled before it said anything
                        elif was_cut:
                            timeline.add(at, f"ai (generated, cut after {heard:.0f} ms heard): "
                                             f"{text!r}")
                        else:
                            timeline.add(at, f"ai: {text!r}")
                    case Interrupted() as event:
                        interrupted = event
                        speaking_since = None
                        for mark_at, text in _marks(event):
                            timeline.add(mark_at, text, cause=True)
                    case Truncated(audio_end_ms=ms, at=at):
                        truncated = Truncated(item_id="", audio_end_ms=ms, at=at)
                        timeline.add(at, f"server: item truncated at {ms} ms")
                    case ResponseFinished(response_id=rid, status=status, reason=reason,
                                          at=at):
                        finished_upstream[rid] = at
                        timeline.add(at, f"server: response {status}"
                                         + (f" ({reason})" if reason else ""))
                    case ErrorOccurred(message=message, benign=benign, at=at):
                        timeline.add(at, f"{'note' if benign else 'ERROR'}: {message}")
                        if not benign:
                            problems.append(message)
                    case _:
                        continue
                # Nothing earlier can still come: events arrive in time order, the user can
                # only start at the next sample the microphone has not captured yet, and an
                # interruption only reaches back to the start of the AI's speech.
                if at is not None:
                    upto = min(at, mic.time_of(room.mic_position))
                    if speaking_since is not None:
                        upto = min(upto, speaking_since)
                    timeline.release(upto)
        timeline.release()
        if scope.cancelled_caught:
            problems.append(f"the scripted conversation did not finish within {time_limit:g} s")
        generated_ms = None
        if interrupted is not None:
            # Everything the server sent for the response: played, queued, or arriving late
            # (after the cancel) and dropped.
            generated_ms = interrupted.received_ms + conv.session.stats.late_audio_ms_dropped
        tg.cancel_scope.cancel()
        device.close()
    echo = _echo_report(room)

    cancel_due = False
    if interrupted is not None and interrupted.response_id is not None:
        finished = finished_upstream.get(interrupted.response_id, math.inf)
        cancel_due = finished > interrupted.latency.detected
    result = _judge(onset=onset, frame_s=frame_s, interrupted=interrupted, cancel_due=cancel_due,
                    truncated=truncated, generated_ms=generated_ms,
                    answered_after=answered_after, problems=problems, echo=echo)
    _report(result, timeline, print_line)
    return result


def _marks(event: Interrupted) -> list[tuple[float, str]]:
    """The interruption's steps as timeline lines, in causal order."""
    lat = event.latency
    steps: list[tuple[float | None, str]] = [
        (lat.onset, "detector: speech starts here, by its estimate (the first frame it took "
                    "for speech)"),
        (lat.ducked, "playback ducked (volume lowered: speech probable)"),
        (lat.detected, f"BARGE-IN confirmed ({event.source})"),
        (lat.playback_stopped, "playback stopped (the AI falls silent)"),
        (lat.cancel_sent, "response.cancel sent"),
        (lat.truncate_sent, f"conversation.item.truncate sent ({event.truncate_ms} ms heard)"),
    ]
    return [(at, text) for at, text in steps if at is not None]


def _echo_report(room: Room) -> EchoReport:
    truth = room.ground_truth(0, room.mic_position)
    playing = _audible(truth.speaker)
    return EchoReport(
        speaker_dbfs=rms_dbfs(truth.speaker[playing]),
        echo_dbfs=rms_dbfs(truth.echo[playing]),
        user_dbfs=rms_dbfs(truth.user[_audible(truth.user)]),
    )


def _judge(*, onset: float | None, frame_s: float, interrupted: Interrupted | None,
           cancel_due: bool, truncated: Truncated | None, generated_ms: float | None,
           answered_after: bool, problems: list[str], echo: EchoReport) -> DemoResult:
    problems = list(problems)
    latency = None
    if onset is None:
        problems.append("the user never talked over the AI")
    if interrupted is None:
        problems.append("no interruption happened")
    else:
        lat = interrupted.latency
        if onset is not None:
            latency = attrs.evolve(lat, onset=onset)
            # The detector's first speech frame holds the onset, so it starts at most a
            # frame before it; earlier, the detector fired on something else.
            estimate = lat.onset if lat.onset is not None else lat.detected
            if estimate < onset - frame_s:
                problems.append(f"the barge-in began {(onset - estimate) * 1000:.0f} ms before "
                                "the user spoke: it was not the user's speech")
        if cancel_due and (not interrupted.cancel_sent or lat.cancel_sent is None):
            problems.append("response.cancel was not sent")
        if lat.playback_stopped is None:
            problems.append("playback was not stopped")
        if interrupted.truncate_ms is None:
            problems.append("no truncate was sent")
        elif truncated is None or truncated.audio_end_ms != interrupted.truncate_ms:
            problems.append("the server did not confirm the truncation at the ms sent")
        elif abs(interrupted.truncate_ms - interrupted.heard_ms) > 1.0:
            problems.append("truncate ms differs from the audio actually played")
        if generated_ms is not None and interrupted.truncate_ms is not None \
                and interrupted.truncate_ms >= generated_ms:
            problems.append("truncated at or past the end of the generated audio")
    if not answered_after:
        problems.append("the AI did not answer after the interruption")
    return DemoResult(
        ok=not problems, problems=tuple(problems), onset=onset, interruption=interrupted,
        latency=latency, generated_ms=generated_ms,
        truncated_upstream_ms=truncated.audio_end_ms if truncated else None,
        answered_after=answered_after, echo=echo,
    )


def _onset_rows(event: Interrupted, onset: float,
                timeline: _Timeline) -> list[tuple[str, str, str]]:
    """Each step of the interruption, in milliseconds from the onset, as the timeline prints
    both (so the figures are differences of its lines)."""
    lat, zero = event.latency, timeline.ms(onset)

    def since_onset(at: float | None) -> str:
        return "n/a" if at is None else f"{timeline.ms(at) - zero} ms"

    rows = [
        ("onset -> detector's onset estimate", since_onset(lat.onset),
         "its first frame taken for speech; Interrupted.latency counts from here"),
        ("onset -> playback ducked", since_onset(lat.ducked), "volume lowered: speech probable"),
        ("onset -> barge-in confirmed", since_onset(lat.detected),
         "min_speech_ms of speech heard"),
        ("onset -> playback stopped", since_onset(lat.playback_stopped), "the AI falls silent"),
    ]
    if event.cancel_sent:
        rows += [
            ("onset -> response.cancel sent", since_onset(lat.cancel_sent),
             "the server asked to stop generating"),
            ("onset -> response.done", since_onset(lat.acknowledged),
             "the server confirmed the cancel"),
        ]
    else:
        rows.append(("response.cancel", "not sent",
                     "the server had already finished generating the response"))
    return rows


def _report(result: DemoResult, timeline: _Timeline, print_line: Callable[[str], None]) -> None:
    rows: list[tuple[str, str, str]] = []
    event, onset = result.interruption, result.onset
    if event is not None:
        if onset is not None:
            rows += _onset_rows(event, onset, timeline)
        generated = "n/a" if result.generated_ms is None else f"{result.generated_ms:.0f} ms"
        rows += [
            ("truncated at", f"{event.truncate_ms} ms",
             f"of the AI's audio: what the user heard, {event.heard_ms:.1f} ms"),
            ("AI audio received / generated", f"{event.received_ms:.0f} ms / {generated}",
             "before the stop / sent by the server in all"),
        ]
    echo = result.echo
    rows.append(("echo at the microphone", f"{echo.echo_dbfs:.1f} dBFS",
                 f"while the AI spoke, {echo.echo_return_loss_db:.0f} dB below the speaker; "
                 f"the user's voice: {echo.user_dbfs:.1f} dBFS"))
    print_line("")
    if onset is not None:
        print_line(f"measured from the onset at {timeline.ms(onset) / 1000:.3f}s: the first "
                   "sample of the user's speech at the microphone")
    else:
        print_line("measured")
    width = max(len(label) for label, _, _ in rows)
    for label, value, why in rows:
        print_line(f"  {label:<{width}} : {value} ({why})")
    print_line(f"  result: {'OK' if result.ok else 'FAILED'}")
    for problem in result.problems:
        print_line(f"    - {problem}")
