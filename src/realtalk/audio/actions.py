"""Performing the session core's audio actions on an :class:`AudioOutput`.

The live conversation and the offline simulator both run the core; this is the one place that
turns its audio actions into output calls, so both behave the same to the sample.
"""

from __future__ import annotations

from ..session import AudioAction, DuckPlayback, EndOfAudio, PlayAudio, Session, StopPlayback
from .base import AudioOutput
from .pcm import bytes_to_int16

__all__ = ("perform_audio_action",)


def perform_audio_action(out: AudioAction, output: AudioOutput, session: Session,
                         now: float) -> None:
    """Perform the audio action ``out`` on ``output``.

    ``StopPlayback`` reports the output's final played count back to the core at once, which
    releases the barge-in's truncate (computed from what the user really heard).
    """
    match out:
        case PlayAudio(pcm=pcm):
            output.write(bytes_to_int16(pcm))
        case StopPlayback():
            played = output.clear()
            session.playback_stopped(now, played)
        case DuckPlayback(gain=gain, ramp_ms=ramp_ms):
            output.set_gain(gain, ramp_ms)
        case EndOfAudio():
            output.mark_end()
