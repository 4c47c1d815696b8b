"""OnsetDetector: a VAD and a gate per frame, the barge-in policy over frames."""

from __future__ import annotations

import attrs
import numpy as np
import numpy.typing as npt

from realtalk.audio import AudioFrame
from realtalk.session.barge_in import BargeIn
from realtalk.vad import OnsetDetector

RATE = 24_000
FRAME = 480  # 20 ms


class Script:
    """A VAD that answers from a list and counts the frames it saw."""

    latency_frames = 0

    def __init__(self, decisions: list[bool]) -> None:
        self.decisions = list(decisions)
        self.seen = 0

    def is_speech(self, frame: AudioFrame) -> bool:
        self.seen += 1
        return self.decisions.pop(0) if self.decisions else False

    def reset(self) -> None:
        self.decisions = []


class Gate:
    def __init__(self, passes: bool) -> None:
        self.answer = passes
        self.seen = 0

    def passes(self, frame: AudioFrame) -> bool:
        self.seen += 1
        return self.answer


def _frame(k: int) -> AudioFrame:
    return AudioFrame(np.zeros(FRAME, np.int16), RATE, k * 0.02)


def test_an_onset_is_confirmed_after_min_speech_ms_at_the_first_speech_frame() -> None:
    vad = Script([False, False, True, True, True, True, True, True])
    detector = OnsetDetector(BargeIn(min_speech_ms=100), vad)
    onsets = [detector.process(_frame(k), k * 0.02) for k in range(8)]
    confirmed = [(k, onset) for k, onset in enumerate(onsets) if onset is not None]
    # Frames 2..6 are 100 ms of speech; the onset is frame 2's capture time.
    assert confirmed == [(6, 0.04)]


def test_probable_speech_is_reported_before_the_confirmation() -> None:
    detector = OnsetDetector(BargeIn(min_speech_ms=100), Script([True, True]))
    assert detector.process(_frame(0), 0.0) is None
    assert detector.probable
    assert detector.heard


def test_the_gate_vetoes_speech_and_both_see_every_frame() -> None:
    """The VAD and the gate keep state, so each runs on every frame, even when the other
    already said no."""
    vad, gate = Script([True] * 10), Gate(passes=False)
    detector = OnsetDetector(BargeIn(min_speech_ms=40), vad, gate)
    assert all(detector.process(_frame(k), k * 0.02) is None for k in range(10))
    assert not detector.heard and not detector.probable
    assert vad.seen == gate.seen == 10


def test_reset_forgets_a_partial_onset() -> None:
    detector = OnsetDetector(BargeIn(min_speech_ms=60), Script([True, True, True, True]))
    detector.process(_frame(0), 0.0)
    detector.process(_frame(1), 0.02)
    detector.reset()
    assert not detector.heard and not detector.probable


def _over_a_residual_voice(sound: str, sound_dbfs: float) -> list[AudioFrame]:
    """``sound`` (a committed clip) at ``sound_dbfs`` from 1 s, over the assistant's voice
    left faint by the canceller (a speech clip at -50 dBFS the whole time), in 20 ms
    frames."""
    from realtalk.sim import load_clip  # the clips ship with the simulator

    def at(clip: str, dbfs: float) -> npt.NDArray[np.float64]:
        samples = load_clip(clip, rate=RATE)[0].astype(np.float64)
        rms = float(np.sqrt(np.mean(samples[np.abs(samples) > 100] ** 2)))
        scaled: npt.NDArray[np.float64] = samples * (32768.0 * 10 ** (dbfs / 20) / rms)
        return scaled

    residual = np.concatenate([at(name, -50.0) for name in ("forecast", "weather_tomorrow")])
    start = RATE
    near = at(sound, sound_dbfs)
    mix = residual[:start + len(near) + RATE // 2].copy()
    mix[start:start + len(near)] += near
    samples = np.clip(mix, -32768, 32767).astype(np.int16)
    return [AudioFrame(samples[i:i + FRAME], RATE, i / RATE)
            for i in range(0, len(samples) - FRAME + 1, FRAME)]


def _onsets(detector: OnsetDetector, frames: list[AudioFrame]) -> list[float]:
    found = [detector.process(frame, k * FRAME / RATE) for k, frame in enumerate(frames)]
    return [onset for onset in found if onset is not None]


def test_a_cough_over_the_assistants_residual_voice_is_not_confirmed() -> None:
    """A cough is loud (the energy detector hears it) while the assistant's faint residual
    voice keeps the spectral detector's "speech" held: together they took it for the user.
    Its own audio is not voiced, so with ``min_voiced_ms`` it is not confirmed, while the
    user's words over the same residual are."""
    cough = _over_a_residual_voice("cough", -20.0)
    assert _onsets(OnsetDetector(BargeIn(min_voiced_ms=0.0)), cough) != []  # the failure
    assert _onsets(OnsetDetector(BargeIn()), cough) == []
    words = _over_a_residual_voice("wait_stop", -26.0)
    assert len(_onsets(OnsetDetector(BargeIn()), words)) >= 1


def test_a_frame_that_follows_the_playback_is_not_the_user() -> None:
    """The canceller's echo likeness overrules the VAD and the gate: speech-like frames whose
    power follows what the speaker played (a moved echo path's residue) are not heard and
    never confirm; below ``max_echo_likeness``, or with it off, they are."""
    def confirmed(settings: BargeIn, likeness: float | None) -> list[float]:
        detector = OnsetDetector(settings, Script([True] * 10))
        found = [detector.process(_frame(k), k * 0.02, echo_likeness=likeness)
                 for k in range(10)]
        return [onset for onset in found if onset is not None]

    settings = BargeIn(min_speech_ms=100, max_echo_likeness=0.5)
    assert confirmed(settings, 0.9) == []
    assert confirmed(settings, 0.3) == [0.0]
    assert confirmed(settings, None) == [0.0]
    assert confirmed(attrs.evolve(settings, max_echo_likeness=None), 0.9) == [0.0]

