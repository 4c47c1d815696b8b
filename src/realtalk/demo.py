"""``realtalk demo``: a scripted user talks over the AI, on the embedded server, and we measure.

Everything is real but the room: a real WebSocket to the embedded server on loopback, real
time, and a simulated sound card whose speaker and microphone stand in a virtual room, so the
AI's own voice reaches the microphone as echo, as it does on a laptop. The user (real speech,
recorded with espeak-ng) asks a question; ``barge_in_after`` seconds into the AI's answer the
user talks over it. The demo prints a timeline and the measured numbers, and :func:`run_demo`
reports whether the interruption really happened as measured: playback stopped,
``response.cancel`` sent, the item truncated upstream at the milliseconds actually played, and
a new answer afterwards.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import anyio
import attrs
import numpy as np
import numpy.typing as npt

from .audio.wav import read_wav
from .conversation import Conversation
from .errors import ConfigurationError
from .providers import local
from .server import ScriptedResponder, ScriptedTranscriber
from .session import (
    AssistantTranscript,
    ErrorOccurred,
    Interrupted,
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

__all__ = ("DemoResult", "EchoReport", "run_demo")

_QUESTION = "What's the weather like tomorrow?"
_INTERRUPTION = "Sorry, can I ask something?"
_CLIPS = Path(__file__).parent / "demo_data"
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
    """What the demo measured; ``ok`` is true only if the interruption happened as measured."""

    ok: bool
    problems: tuple[str, ...]
    interruption: Interrupted | None
    generated_ms: float | None
    truncated_upstream_ms: int | None
    answered_after: bool
    echo: EchoReport


def _room() -> Room:
    return Room(RoomConfig.quiet_office(echo_gain_db=_ECHO_GAIN_DB))


def _dbfs(x: npt.NDArray[np.float32]) -> float:
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0
    return 20 * math.log10(rms) if rms > 0 else -120.0


def _check_seconds(name: str, value: float, *, allow_zero: bool) -> None:
    if not (math.isfinite(value) and (value >= 0 if allow_zero else value > 0)):
        raise ConfigurationError(f"{name}={value!r}: expected a finite number of seconds "
                                 f"{'>= 0' if allow_zero else '> 0'}")


async def run_demo(
    *,
    barge_in_after: float = 1.5,
    print_line: Callable[[str], None] = print,
    time_limit: float = 30.0,
) -> DemoResult:
    """Run the scripted conversation and return what was measured.

    Raises:
        ConfigurationError: ``barge_in_after`` is negative or not finite, or ``time_limit``
            is not a positive number of seconds.
    """
    _check_seconds("barge_in_after", barge_in_after, allow_zero=True)
    _check_seconds("time_limit", time_limit, allow_zero=False)
    provider = local(
        first_audio_latency_ms=250.0,
        generation_speed=4.0,
        responder_factory=lambda: ScriptedResponder(_REPLIES, cycle=False),
        transcriber_factory=lambda: ScriptedTranscriber([_QUESTION, _INTERRUPTION]),
    )
    room = _room()
    device = SimulatedDevice(room)
    config = SessionConfig(
        instructions="You are a friendly guide.",
        voice="marin",
        turn_detection=TurnDetection(silence_duration_ms=700, interrupt_response=False),
    )
    question, _ = read_wav(_CLIPS / "weather_tomorrow_24k.wav")
    interruption, _ = read_wav(_CLIPS / "sorry_can_i_ask_24k.wav")

    interrupted: Interrupted | None = None
    truncated: Truncated | None = None
    answered_after = False
    problems: list[str] = []
    t0 = anyio.current_time()

    def say(line: str, at: float | None = None) -> None:
        when = (at if at is not None else anyio.current_time()) - t0
        print_line(f"{when:7.3f}s  {line}")

    async def talk_over() -> None:
        await anyio.sleep(barge_in_after)
        say(f"user (talking over the AI): {_INTERRUPTION!r}")
        room.add_user_speech(interruption, at_sample=room.mic_position)

    async with anyio.create_task_group() as tg, Conversation(
        provider, config=config, input=device.input, output=device.output
    ) as conv:
        say("connected to the embedded realtime server (no key, no network)")
        say(f"user (speaking): {_QUESTION!r}")
        room.add_user_speech(question, at_sample=room.mic_position)
        barge_in_scheduled = False
        with anyio.move_on_after(time_limit) as scope:
            async for event in conv.events():
                match event:
                    case StateChanged(old=old, new=new, at=at):
                        say(f"state: {old.value} -> {new.value}", at)
                        if new is State.SPEAKING and not barge_in_scheduled:
                            barge_in_scheduled = True
                            tg.start_soon(talk_over)
                        if (new is State.LISTENING and old is State.SPEAKING
                                and interrupted is not None):
                            answered_after = True
                            break
                    case UserSpeechStarted(source=source, at=at):
                        say(f"user speech detected ({source})", at)
                    case UserTranscript(text=text, at=at):
                        say(f"user (transcript): {text!r}", at)
                    case ResponseAudioStarted(latency_ms=lat, at=at):
                        extra = f", {lat:.0f} ms after the user stopped" if lat else ""
                        say(f"ai: first audio{extra}", at)
                    case AssistantTranscript(text=text, interrupted=was_cut, heard_ms=heard,
                                             at=at):
                        if not text:
                            pass  # a response cancelled before it said anything
                        elif was_cut:
                            say(f"ai (generated, cut after {heard:.0f} ms heard): {text!r}", at)
                        else:
                            say(f"ai: {text!r}", at)
                    case Interrupted() as event:
                        interrupted = event
                        say(f"BARGE-IN ({event.source}): playback stopped, cancel sent, "
                            f"truncate at {event.truncate_ms} ms", event.latency.detected)
                    case Truncated(audio_end_ms=ms, at=at):
                        truncated = Truncated(item_id="", audio_end_ms=ms, at=at)
                        say(f"server: item truncated at {ms} ms", at)
                    case ResponseFinished(status=status, reason=reason, at=at):
                        say(f"server: response {status}" + (f" ({reason})" if reason else ""),
                            at)
                    case ErrorOccurred(message=message, benign=benign, at=at):
                        say(f"{'note' if benign else 'ERROR'}: {message}", at)
                        if not benign:
                            problems.append(message)
                    case _:
                        pass
        if scope.cancelled_caught:
            problems.append(f"the scripted conversation did not finish within {time_limit:.0f} s")
        generated_ms = None
        if interrupted is not None:
            # Everything the server sent for the response: played, queued, or arriving late
            # (after the cancel) and dropped.
            generated_ms = interrupted.received_ms + conv.session.stats.late_audio_ms_dropped
        tg.cancel_scope.cancel()
        device.close()
    echo = _echo_report(room)

    result = _judge(interrupted=interrupted, truncated=truncated, generated_ms=generated_ms,
                    answered_after=answered_after, problems=problems, echo=echo)
    _report(result, print_line)
    return result


def _echo_report(room: Room) -> EchoReport:
    truth = room.ground_truth(0, room.mic_position)
    playing = np.abs(truth.speaker) > 1e-4
    talking = np.abs(truth.user) > 1e-4
    return EchoReport(
        speaker_dbfs=_dbfs(truth.speaker[playing]),
        echo_dbfs=_dbfs(truth.echo[playing]),
        user_dbfs=_dbfs(truth.user[talking]),
    )


def _judge(*, interrupted: Interrupted | None, truncated: Truncated | None,
           generated_ms: float | None, answered_after: bool,
           problems: list[str], echo: EchoReport) -> DemoResult:
    problems = list(problems)
    if interrupted is None:
        problems.append("no interruption happened")
    else:
        lat = interrupted.latency
        if not interrupted.cancel_sent or lat.cancel_sent is None:
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
        if lat.stop_ms is None or not math.isfinite(lat.stop_ms):
            problems.append("speech onset -> playback stopped was not measured")
    if not answered_after:
        problems.append("the AI did not answer after the interruption")
    return DemoResult(
        ok=not problems, problems=tuple(problems), interruption=interrupted,
        generated_ms=generated_ms,
        truncated_upstream_ms=truncated.audio_end_ms if truncated else None,
        answered_after=answered_after, echo=echo,
    )


def _fmt(value: float | None, unit: str = "ms") -> str:
    return "n/a" if value is None else f"{value:.1f} {unit}"


def _report(result: DemoResult, print_line: Callable[[str], None]) -> None:
    print_line("")
    print_line("measured")
    event = result.interruption
    if event is not None:
        lat = event.latency
        print_line(f"  speech onset -> playback ducked  : {_fmt(lat.duck_ms)} "
                   "(the assistant audibly yields on the first frames of speech)")
        print_line(f"  speech onset -> playback stopped : {_fmt(lat.stop_ms)} "
                   f"(detector needs {_fmt(lat.detect_ms)} of speech to confirm)")
        print_line(f"  detection -> response.cancel sent: {_fmt(lat.detect_to_cancel_ms)}")
        print_line(f"  response.cancel -> response.done : {_fmt(lat.cancel_to_ack_ms)}")
        print_line(f"  truncate sent                    : {event.truncate_ms} ms "
                   f"(heard {event.heard_ms:.1f} ms)")
        print_line(f"  AI audio received / generated    : {event.received_ms:.0f} ms / "
                   f"{_fmt(result.generated_ms)}")
    echo = result.echo
    print_line(f"  echo at the microphone           : {echo.echo_dbfs:.1f} dBFS while the AI "
               f"spoke ({echo.echo_return_loss_db:.0f} dB below the speaker; the user's voice: "
               f"{echo.user_dbfs:.1f} dBFS)")
    print_line(f"  result: {'OK' if result.ok else 'FAILED'}")
    for problem in result.problems:
        print_line(f"    - {problem}")
