"""Local speech-onset detection: a voice activity detector followed by the barge-in policy.

The conversation engine (:mod:`realtalk.engine`) runs it on each microphone frame, live and in
the simulator alike: the detector judges the frame, and the policy turns per-frame decisions
into a confirmed onset (the capture time of the first speech frame), which the engine reports
to the session.
"""

from __future__ import annotations

import collections
import math
import statistics
from typing import Protocol

from ..audio.frame import AudioFrame
from ..audio.pcm import mean_square, power_dbfs, sustained_mean_square
from ..session.barge_in import BargeIn, BargeInPolicy, ShortSpeech
from .base import VoiceActivityDetector
from .combined import AllOf, Held, voiced_ms_of
from .energy import EnergyVAD
from .spectral import SpectralVAD
from .user_level import UserLevel

__all__ = ("OnsetDetector", "SpeechGate", "default_vad")

# How long the speaker must have been silent before confirmed speech is taken as the user's own
# level: the room's echo of the last words rings on for a few hundred milliseconds (the gate's
# max_delay_ms is 300).
_ECHO_TAIL_MS = 500.0
# The time constant of the room's recent level (every frame's power, smoothed), which says
# whether the user is still talking: long enough to ride over the gaps between their
# syllables and over the talkers' single loud ones, short enough to fall within a few hundred
# milliseconds of the user's last word.
_ROOM_LEVEL_MS = 100.0
# How far back the room's usual level is taken, which a run must stand out of
# (BargeIn.min_over_room_db): long enough to hold several of the talkers' syllables and the
# gaps between them, short enough to follow a room that changes (a reply starting, a path
# moving), and longer than the short first word a user may say before going on.
ROOM_WINDOW_MS = 2000.0
# Less than this heard of the room, and its median says little yet.
_ROOM_MIN_MS = 500.0
# The stretch a frame's level is judged in: a keystroke's tick dies out within about 5 ms,
# so it fills one 10 ms stretch of a 20 ms frame and leaves the other to the room; a voice's
# pitch period is 2.5-12.5 ms, and a stretch shorter than one period (5 ms, first built)
# caught a low voice between its glottal pulses: a tenth of the simulator's clips' loud
# frames lost 8.8 dB or more so (see sustained_mean_square).
_PIECE_MS = 10.0
_SILENCE_DBFS = -120.0  # what power_dbfs gives digital silence


class _RecentLevels:
    """The levels (dBFS) of the frames over the last ``window_ms``, and their median."""

    def __init__(self, window_ms: float) -> None:
        self.window_ms = window_ms
        self._frames: collections.deque[tuple[float, float, float]] = collections.deque()
        self._ms = 0.0

    def add(self, at: float, level_db: float, frame_ms: float) -> None:
        """One frame, captured at ``at``."""
        self._frames.append((at, level_db, frame_ms))
        self._ms += frame_ms
        while self._ms - self._frames[0][2] >= self.window_ms:
            self._ms -= self._frames.popleft()[2]

    def forget_since(self, at: float) -> None:
        """Forget the frames captured at ``at`` or later."""
        while self._frames and self._frames[-1][0] >= at:
            self._ms -= self._frames.pop()[2]

    def median_db(self, min_ms: float) -> float | None:
        """The median frame level, or ``None`` with less than ``min_ms`` heard."""
        if self._ms < min_ms:
            return None
        return statistics.median(level for _, level, _ in self._frames)

    def clear(self) -> None:
        self._frames.clear()
        self._ms = 0.0


def default_vad(sample_rate: int = 24_000) -> AllOf:
    """The barge-in detector's default VAD: :class:`~realtalk.vad.EnergyVAD` and
    :class:`~realtalk.vad.SpectralVAD` (its yes held for 80 ms) must agree (see
    :mod:`realtalk.vad.combined`)."""
    return AllOf(EnergyVAD(), Held(SpectralVAD(sample_rate=sample_rate), hold_ms=80.0))


class SpeechGate(Protocol):
    """A second opinion on each frame: could it hold the user at all (for example, is it
    clearly louder than the assistant's own echo)? See ``realtalk.echo.EchoGate``."""

    def passes(self, frame: AudioFrame) -> bool:
        """Whether ``frame`` may hold the user."""
        ...


class OnsetDetector:
    """Frames in, confirmed speech onsets out.

    Args:
        settings: the barge-in settings (``min_speech_ms`` and friends).
        vad: the per-frame detector; default :func:`default_vad` at ``sample_rate``.
        sample_rate: the rate of the frames, for the default detector.
        gate: a frame counts as speech only if the gate also passes it (``None``: no gate).
        user_level: where the user's speaking level is learned (default: a new
            :class:`~realtalk.vad.user_level.UserLevel`), for ``BargeIn.max_below_user_db``.
    """

    def __init__(self, settings: BargeIn | None = None,
                 vad: VoiceActivityDetector | None = None,
                 gate: SpeechGate | None = None, sample_rate: int = 24_000,
                 user_level: UserLevel | None = None) -> None:
        self.vad: VoiceActivityDetector = (vad if vad is not None
                                           else default_vad(sample_rate))
        self.gate = gate
        self.policy = BargeInPolicy(settings)
        self.user_level = user_level if user_level is not None else UserLevel()
        """The user's speaking level, learned from the speech confirmed while the speaker was
        silent (their turns)."""
        self.heard: bool = False
        """Whether the last frame was taken for the user (the VAD said speech, the gate passed
        it and the echo canceller did not judge it the playback's)."""
        self._speaker_silent_ms = math.inf
        self._room_power = 0.0
        self._room_under_user = False  # the room under the user's level, the speaker silent
        # Since the last turn the service's VAD ended: whether any speech was confirmed, and
        # the speech heard with the speaker silent that was not (power x ms, ms).
        self._turn_confirmed = False
        self._unconfirmed_energy = 0.0
        self._unconfirmed_ms = 0.0
        self._room_levels = _RecentLevels(ROOM_WINDOW_MS)
        self._run_bar_db: float | None = None  # the level the run under way must reach

    def process(self, frame: AudioFrame, captured_at: float, *,
                echo_likeness: float | None = None) -> float | None:
        """Feed one frame captured at ``captured_at``; the onset time when one is confirmed.
        ``echo_likeness``: the echo canceller's judgement of the frame
        (``EchoResult.echo_likeness``); above ``BargeIn.max_echo_likeness`` the frame is not
        the user.

        After each call, :attr:`probable` says whether unconfirmed speech is under way.
        """
        # Both run on every frame: each keeps state (noise floor, echo gain) that must see it.
        speech = self.vad.is_speech(frame)
        passes = self.gate.passes(frame) if self.gate is not None else True
        limit = self.policy.settings.max_echo_likeness
        playback = (limit is not None and echo_likeness is not None
                    and echo_likeness > limit)
        self.heard = speech and passes and not playback
        frame_ms = frame.duration * 1000.0
        reference = frame.reference
        if reference is not None and reference.any():
            self._speaker_silent_ms = 0.0
        else:
            self._speaker_silent_ms += frame_ms
        power = mean_square(frame.samples.reshape(-1))
        keep = math.exp(-frame_ms / _ROOM_LEVEL_MS)
        self._room_power = keep * self._room_power + (1.0 - keep) * power
        margin = self.policy.settings.max_below_user_db
        user = self.user_level.level_dbfs if margin is not None else None
        min_level = user - margin if user is not None and margin is not None else None
        # With the speaker silent, only the room is heard: the user's speech goes on while
        # the room stays near the user's level, and the talkers behind them, heard when the
        # user stops, are not more of it. While it plays, the user's own soft stretches
        # (under the suppressed echo, or around a yield's pause) must not split one
        # utterance into two onsets.
        room_only = self._speaker_silent_ms >= _ECHO_TAIL_MS
        over = self._room_under_user = (room_only and min_level is not None
                                        and self._room_power < 10.0 ** (min_level / 10.0))
        bar = self._level_bar(captured_at, power_dbfs(power), frame_ms, min_level)
        if not self.heard:
            return self.policy.update(False, captured_at, frame_ms)
        # The level a run is judged by is what the frame holds throughout: a keystroke over
        # talkers behind the user is as loud as a voice for a few milliseconds, and the
        # talkers make it sound like speech to the VAD. (The room's level stays the frames'
        # mean: the lower median of a fluctuating room, taken as its usual level, would
        # lower the bar under the talkers' syllables, which are voices.)
        level = power_dbfs(sustained_mean_square(
            frame.samples, max(1, round(frame_ms / _PIECE_MS))))
        onset = self.policy.update(True, captured_at, frame_ms, voiced_ms_of(self.vad),
                                   level_db=level, min_level_db=bar, over=over)
        if onset is not None:
            # The user's speech, from its first frame, is not the room: with it, what they
            # say just after would have to stand out of their own voice.
            self._room_levels.forget_since(onset)
        if self.policy.confirmed:
            self._turn_confirmed = True
            if room_only and (min_level is None or level >= min_level):
                self.user_level.add(power, frame_ms)
        elif room_only:
            self._unconfirmed_energy += power * frame_ms
            self._unconfirmed_ms += frame_ms
        return onset

    def _level_bar(self, captured_at: float, room_level: float, frame_ms: float,
                   user_bar: float | None) -> float | None:
        """The level ``BargeIn.min_loud_ms`` of the run under way must reach to confirm
        it: near the user's own level (``user_bar``), and standing
        ``BargeIn.min_over_room_db`` out of the room's usual level before the run began (the
        median frame level over the last 2 s: the talkers behind the user, a television,
        what the canceller leaves of the echo, all make up that level themselves; the user,
        the nearest talker, stands out of it). Takes every frame, heard or not, but the
        user's confirmed speech, at its mean level ``room_level``."""
        over_room = self.policy.settings.min_over_room_db
        if over_room is None:
            return user_bar
        if self.heard and not self.policy.in_run:  # a run begins: judged against the room
            room = self._room_levels.median_db(_ROOM_MIN_MS)
            self._run_bar_db = None if room is None else room + over_room
        # Neither is the user's confirmed speech the room, nor digital silence (a source
        # that sends exact zeros, as a test's or a muted input does, has no room to stand
        # out of).
        if not self.policy.confirmed and room_level > _SILENCE_DBFS:
            self._room_levels.add(captured_at, room_level, frame_ms)
        if self._run_bar_db is None:
            return user_bar
        return self._run_bar_db if user_bar is None else max(user_bar, self._run_bar_db)

    def turn_ended(self) -> None:
        """The service's VAD heard the user's turn end (``input_audio_buffer.speech_stopped``).
        If none of the speech heard since the last turn was confirmed, but at least
        ``UserLevel.min_speech_s`` of it was heard with the speaker silent, the user spoke
        under the level learned for them (they moved away from the microphone, or someone
        quieter took over): the level is learned again from that speech alone.

        Why: only confirmed speech is learned, and a run confirms only near the learned
        level, so a user who became more than ``BargeIn.max_below_user_db`` quieter would
        never be confirmed again, nor their level follow them. The service's turn is the
        evidence that this speech was meant for the assistant. Talkers behind the user that
        the service takes for a turn while the user is silent can set the level too low;
        the user's next confirmed turn brings it back up (the level is a power mean, and the
        user's louder frames dominate it)."""
        if (not self._turn_confirmed and self.user_level.level_dbfs is not None
                and self._unconfirmed_ms >= self.user_level.min_speech_ms):
            self.user_level.reset()
            self.user_level.add(self._unconfirmed_energy / self._unconfirmed_ms,
                                self._unconfirmed_ms)
            # Nor is that speech the room, which their next words must stand out of.
            self._room_levels.clear()
        self._turn_confirmed = False
        self._unconfirmed_energy = self._unconfirmed_ms = 0.0

    @property
    def probable(self) -> bool:
        """Whether the last frames look like the start of speech, not yet confirmed."""
        return self.policy.probable

    @property
    def short_speech(self) -> ShortSpeech | None:
        """Set on the frame that ended a run of speech too short to confirm but worth
        checking by its words (``BargeIn.check_speech_ms``)."""
        return self.policy.short

    @property
    def speaking(self) -> bool:
        """Whether the user is still talking after a confirmed onset (until the silence that
        re-arms the detector)."""
        return self.policy.confirmed

    def talking_now(self) -> bool:
        """Whether the user is talking now, for a reply about to start over them: their
        confirmed speech goes on (:attr:`speaking`), unless the room has already fallen
        under their level with the speaker silent (see ``BargeIn.max_below_user_db``).
        Then it is over before ``rearm_silence_ms`` has passed: the detector re-arms, so
        that what the user says next is a new onset over the reply, and the talkers behind
        them are judged on their own frames."""
        if self.policy.confirmed and self._room_under_user:
            self.policy.speech_over()
        return self.policy.confirmed

    def speech_judged(self) -> None:
        """The session judged the confirmed speech (see
        :meth:`~realtalk.session.barge_in.BargeInPolicy.speech_judged`)."""
        self.policy.speech_judged()

    def reset(self) -> None:
        """Forget partial onsets and the detector's state (the user's level stays: it is
        theirs, not the moment's)."""
        self.vad.reset()
        self.policy.reset()
        self.heard = False
        self._speaker_silent_ms = math.inf
        self._room_power = 0.0
        self._room_under_user = False
        self._turn_confirmed = False
        self._unconfirmed_energy = self._unconfirmed_ms = 0.0
        self._room_levels.clear()
        self._run_bar_db = None
