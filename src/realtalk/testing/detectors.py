"""Scripted judges: a voice activity detector and a speech gate that answer from a script and
record every frame they were shown, and an interruption classifier that gives a set verdict."""

from __future__ import annotations

from collections.abc import Sequence

from .._args import bad_argument, check_choice, check_number
from ..audio.frame import AudioFrame
from ..session.decision import VERDICTS, Evidence, Verdict

__all__ = ("ScriptedVAD", "ScriptedGate", "ScriptedClassifier")


def _intervals(name: str, value: object) -> tuple[tuple[float, float], ...]:
    pairs: list[tuple[float, float]] = []
    for pair in value if isinstance(value, Sequence) else [value]:
        if not (isinstance(pair, Sequence) and len(pair) == 2
                and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in pair)
                and pair[0] <= pair[1]):
            raise bad_argument(name, "a sequence of (start, end) pairs of seconds with "
                               "start <= end", value)
        pairs.append((float(pair[0]), float(pair[1])))
    return tuple(pairs)


def _decisions(value: object) -> tuple[bool, ...]:
    if not (isinstance(value, Sequence) and all(isinstance(d, bool) for d in value)):
        raise bad_argument("frames", "a sequence of bools, one per frame", value)
    return tuple(value)


class _FrameScript:
    """Answers per frame from a script: the n-th frame judged gets ``frames[n]`` while the
    list lasts; after that, a frame whose capture time (``AudioFrame.timestamp``) lies in one
    of ``intervals`` (start included, end excluded) gets ``not usual``, any other ``usual``.
    """

    def __init__(self, frames: Sequence[bool], intervals: Sequence[tuple[float, float]],
                 interval_name: str, usual: bool) -> None:
        self._frames = _decisions(frames)
        self._intervals = _intervals(interval_name, intervals)
        self._usual = usual
        self.seen: list[AudioFrame] = []
        """Every frame judged, in order."""
        self.answers: list[bool] = []
        """The answer given for each frame of :attr:`seen`."""
        self.resets = 0
        """How many times ``reset()`` was called (it does not rewind the script)."""

    def _answer(self, frame: AudioFrame) -> bool:
        index = len(self.seen)
        if index < len(self._frames):
            answer = self._frames[index]
        else:
            at = frame.timestamp
            inside = at is not None and any(start <= at < end for start, end in self._intervals)
            answer = self._usual != inside
        self.seen.append(frame)
        self.answers.append(answer)
        return answer

    def reset(self) -> None:
        """Count the call; the script goes on where it was."""
        self.resets += 1


class ScriptedVAD(_FrameScript):
    """A :class:`~realtalk.vad.VoiceActivityDetector` that says speech where its script does.

    Args:
        frames: the answers for the first frames, in order (``True``: speech).
        speech: after those, the stretches of capture time, ``(start, end)`` in seconds on the
            microphone's clock, whose frames hold speech; all other frames are silence.
        latency_frames: the decision latency the detector reports.

    It records every frame it judged (:attr:`seen`) and its answer (:attr:`answers`).

    Raises:
        ConfigurationError: a script that is not bools or ``(start, end)`` pairs.
    """

    def __init__(self, frames: Sequence[bool] = (), *,
                 speech: Sequence[tuple[float, float]] = (), latency_frames: int = 0) -> None:
        check_number("latency_frames", latency_frames, integer=True, minimum=0)
        super().__init__(frames, speech, "speech", usual=False)
        self.latency_frames = latency_frames

    def is_speech(self, frame: AudioFrame) -> bool:
        """The script's answer for this frame."""
        return self._answer(frame)


class ScriptedGate(_FrameScript):
    """A :class:`~realtalk.vad.SpeechGate` that passes frames except where its script blocks.

    Args:
        frames: the answers for the first frames, in order (``False``: blocked).
        blocked: after those, the stretches of capture time, ``(start, end)`` in seconds,
            whose frames are blocked; all other frames pass.

    It records every frame it judged (:attr:`seen`) and its answer (:attr:`answers`). Like
    :class:`~realtalk.echo.EchoGate` it has an :attr:`initial_gain`, which a calibration
    sets (:func:`~realtalk.echo.seed_gate`); the script's answers do not depend on it.

    Raises:
        ConfigurationError: a script that is not bools or ``(start, end)`` pairs.
    """

    def __init__(self, frames: Sequence[bool] = (), *,
                 blocked: Sequence[tuple[float, float]] = ()) -> None:
        super().__init__(frames, blocked, "blocked", usual=True)
        self.initial_gain = 1.0
        """The echo gain (linear energy ratio) assumed before any is learned."""

    def passes(self, frame: AudioFrame) -> bool:
        """The script's answer for this frame."""
        return self._answer(frame)


class ScriptedClassifier:
    """An :class:`~realtalk.InterruptionClassifier` that gives ``verdict`` once ``after_ms``
    have passed since the assistant yielded, and records every :class:`~realtalk.Evidence`
    it was shown (``verdict=None``: it never decides, so ``BargeIn.max_yield_ms`` does).

    Raises:
        ConfigurationError: a verdict other than the three, or a negative ``after_ms``.
    """

    def __init__(self, verdict: Verdict | None = "interruption", *,
                 after_ms: float = 0.0) -> None:
        check_choice("verdict", verdict, VERDICTS, optional=True)
        check_number("after_ms", after_ms, minimum=0.0)
        self.verdict: Verdict | None = verdict
        self.after_ms = after_ms
        self.evidence: list[Evidence] = []

    def decide(self, evidence: Evidence) -> Verdict | None:
        """``verdict`` once ``after_ms`` have passed since the yield, else ``None``."""
        self.evidence.append(evidence)
        return self.verdict if evidence.since_yield_ms >= self.after_ms else None
