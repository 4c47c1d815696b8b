"""The adaptive echo canceller: it converges on a known path, survives double talk and path
changes, and refuses audio it cannot process."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest

from realtalk.audio import AudioFrame
from realtalk.echo import EchoCanceller
from realtalk.errors import AudioError, ConfigurationError
from realtalk.sim import EchoPath, Room, RoomConfig, clips, load_clip

RATE = 16_000
FRAME = RATE // 50  # 20 ms


def _far_end(repeats: int = 2) -> npt.NDArray[np.int16]:
    """The assistant: the committed speech clips back to back with short pauses, -12 dB."""
    parts = []
    for clip in [c for c in clips() if c.rate == RATE and c.kind == "speech"][:7]:
        samples, _ = load_clip(clip.name, rate=RATE)
        parts += [samples, np.zeros(RATE // 5, dtype=np.int16)]
    far = np.concatenate(parts * repeats).astype(np.float64) * 0.25
    return far.astype(np.int16)


def _run(room: Room, far: npt.NDArray[np.int16], canceller: EchoCanceller,
         ) -> npt.NDArray[np.float64]:
    out = []
    for i in range(0, len(far) - FRAME + 1, FRAME):
        block = far[i:i + FRAME]
        room.speaker_played(block)
        frame = AudioFrame(room.mic_frame(FRAME), RATE, reference=block)
        result = canceller.process(frame)
        assert len(result.frame.samples) == FRAME
        assert result.residual_echo is not None
        out.append(result.frame.samples.astype(np.float64) / 32768.0)
    return np.concatenate(out)


def _erle_db(room: Room, out: npt.NDArray[np.float64], start_s: float, end_s: float) -> float:
    """True ERLE over a stretch: echo energy over the energy of what is left of it."""
    truth = room.ground_truth(0, len(out))
    span = slice(int(start_s * RATE), int(end_s * RATE))
    residual = out[span] - truth.user[span] - truth.noise[span]
    echo = truth.echo[span].astype(np.float64)
    return float(10 * np.log10(np.sum(echo**2) / np.sum(residual**2)))


def _si_sdr_db(estimate: npt.NDArray[np.float64], reference: npt.NDArray[np.float64]) -> float:
    scale = np.dot(estimate, reference) / np.dot(reference, reference)
    target = scale * reference
    return float(10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2)))


def _room(delay_ms: float = 30.0, gain_db: float = -6.0) -> Room:
    path = EchoPath(delay_ms=delay_ms, gain_db=gain_db, rt60_s=0.3, rir_ms=180.0, seed=3)
    return Room(RoomConfig(sample_rate=RATE, echo=path, noise_dbfs=-70.0))


def test_converges_on_a_known_path() -> None:
    """On a reverberant room with a 30 ms bulk delay, the echo is cut by > 20 dB once the
    canceller has heard a few seconds of the assistant, and it found the delay."""
    room, far = _room(), _far_end()
    canceller = EchoCanceller(RATE)
    out = _run(room, far, canceller)
    seconds = len(out) / RATE
    assert _erle_db(room, out, seconds - 6.0, seconds) > 20.0
    assert canceller.delay_estimator is not None
    assert canceller.delay_estimator.delay_ms == pytest.approx(30.0, abs=1.0)
    assert canceller.bulk_delay > 0
    assert -9.0 < canceller.echo_gain_db < -3.0  # the learned path's energy is the room's


def _double_talk_room() -> tuple[Room, npt.NDArray[np.int16], int, int]:
    """The usual room and far end, with the user talking over the assistant from 9 s:
    (room, far end, the user's first sample, their length)."""
    room, far = _room(), _far_end()
    near, _ = load_clip("forecast", rate=RATE)
    near = np.concatenate([near, near])
    start = int(9.0 * RATE)
    room.add_user_speech(near, at_sample=start, level_dbfs=-26.0)
    return room, far, start, len(near)


def test_double_talk_does_not_wreck_it() -> None:
    """The user talking over the assistant for seconds neither gets cancelled (the output
    is closer to the user's voice than the raw microphone was) nor makes the filter diverge
    (the echo is still cut afterwards)."""
    room, far, start, length = _double_talk_room()
    canceller = EchoCanceller(RATE)
    out = _run(room, far, canceller)
    truth = room.ground_truth(0, len(out))
    span = slice(start, start + length)
    user = truth.user[span].astype(np.float64)
    raw = _si_sdr_db(truth.mic[span].astype(np.float64), user)
    cleaned = _si_sdr_db(out[span], user)
    assert cleaned > raw + 10.0
    end_s = (start + length) / RATE
    assert _erle_db(room, out, end_s, end_s + 4.0) > 15.0
    assert canceller.restarts == 0


def test_the_foreground_is_held_while_the_user_talks_over_the_assistant() -> None:
    """Once converged, the canceller knows the user is talking over the assistant (the
    microphone holds far more than its echo estimate explains) for nearly all of a double
    talk and never while the assistant talks alone, so the background filter, which may have
    partly learned the user's voice, is not promoted then."""
    room, far, start, length = _double_talk_room()
    canceller = EchoCanceller(RATE)
    held = []
    for i in range(0, len(far) - FRAME + 1, FRAME):
        block = far[i:i + FRAME]
        room.speaker_played(block)
        canceller.process(AudioFrame(room.mic_frame(FRAME), RATE, reference=block))
        held.append(canceller.double_talk)
    t = np.arange(len(held)) * FRAME / RATE
    held_a = np.array(held)
    assert not held_a[(t > 5.0) & (t < 9.0)].any()
    assert held_a[(t >= 9.0) & (t < (start + length) / RATE)].mean() > 0.8


def test_recovers_after_the_echo_path_changes() -> None:
    """A new room response and a longer delay mid-run: the canceller finds the new delay and
    cancels again within seconds instead of adding its stale echo estimate."""
    room, far = _room(), _far_end(3)
    change_s = 14.0
    room.change_path(int(change_s * RATE), EchoPath(delay_ms=70.0, gain_db=-6.0, rt60_s=0.4,
                                                    rir_ms=180.0, seed=9))
    canceller = EchoCanceller(RATE)
    out = _run(room, far, canceller)
    seconds = len(out) / RATE
    assert _erle_db(room, out, seconds - 5.0, seconds) > 15.0
    assert canceller.delay_estimator is not None
    assert canceller.delay_estimator.delay_ms == pytest.approx(70.0, abs=1.0)


def _likeness_over(room: Room, far: npt.NDArray[np.int16]
                   ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Each frame's echo likeness and output level (dBFS) through the default canceller."""
    canceller = EchoCanceller(RATE, suppress=True)
    likeness, level = [], []
    for i in range(0, len(far) - FRAME + 1, FRAME):
        block = far[i:i + FRAME]
        room.speaker_played(block)
        result = canceller.process(AudioFrame(room.mic_frame(FRAME), RATE, reference=block))
        assert result.echo_likeness is not None and 0.0 <= result.echo_likeness <= 1.0
        likeness.append(result.echo_likeness)
        out = result.frame.samples.astype(np.float64) / 32768.0
        level.append(10 * math.log10(float(np.mean(out**2)) + 1e-20))
    return np.array(likeness), np.array(level)


@pytest.mark.parametrize(("delay_ms", "seed"), [(70.0, 9), (35.0, 4), (20.0, 5)])
def test_what_a_moved_path_leaves_follows_the_reference(delay_ms: float, seed: int) -> None:
    """The path moves (a new delay and room, as loud as the speaker): what the stale filter
    leaves in the next 1.5 s is the assistant's voice, as loud as a user, and most of its
    power follows the reference: its echo likeness is high, which the gate uses against
    it."""
    room, far = _room(), _far_end(2)[:int(15.5 * RATE)]
    room.change_path(int(14.0 * RATE), EchoPath(delay_ms=delay_ms, gain_db=0.0, rt60_s=0.4,
                                                rir_ms=180.0, seed=seed))
    likeness, level = _likeness_over(room, far)
    t = np.arange(len(likeness)) * FRAME / RATE
    audible = (t >= 14.0) & (level > -60.0)  # what a detector could take for a user
    assert audible.sum() >= 10
    assert np.median(likeness[audible]) > 0.35
    assert np.mean(likeness[audible] > 0.5) > 0.3


def test_the_users_voice_does_not_follow_the_reference() -> None:
    """Over a converged filter, the user talking over the assistant and the echo alone are
    both judged unlike the reference in nearly every frame."""
    room, far, start, length = _double_talk_room()
    likeness, _ = _likeness_over(room, far)
    t = np.arange(len(likeness)) * FRAME / RATE
    talk = (t >= start / RATE) & (t < (start + length) / RATE)
    assert np.median(likeness[talk]) < 0.2
    assert np.mean(likeness[talk] > 0.5) < 0.05


def test_frames_of_any_length_come_out_whole_and_in_order() -> None:
    """Frames that are not a multiple of the block come out at their own length: the same
    output as block-aligned frames give, one block less a sample late, with no other gap."""
    rng = np.random.default_rng(1)
    ref = (rng.standard_normal(RATE) * 3000).astype(np.int16)
    mic = (ref.astype(np.float64) * 0.3).astype(np.int16)
    aligned = EchoCanceller(RATE, max_delay_ms=0)
    odd = EchoCanceller(RATE, max_delay_ms=0)
    a = np.concatenate([aligned.process(AudioFrame(mic[i:i + FRAME], RATE,
                                                   reference=ref[i:i + FRAME])).frame.samples
                        for i in range(0, RATE, FRAME)])
    pieces = []
    for i in range(0, RATE, 250):
        frame = AudioFrame(mic[i:i + 250], RATE, reference=ref[i:i + 250])
        pieces.append(odd.process(frame).frame.samples)
        assert len(pieces[-1]) == len(frame.samples)
    b = np.concatenate(pieces)
    late = odd.block - 1
    assert not b[:late].any()
    assert np.array_equal(b[late:], a[:len(b) - late])
    assert np.abs(a[-FRAME:]).max() < np.abs(mic[-FRAME:]).max() / 10  # it did cancel


def test_a_frame_without_reference_passes_unchanged() -> None:
    frame = AudioFrame(np.arange(320, dtype=np.int16), RATE)
    result = EchoCanceller(RATE).process(frame)
    assert result.frame is frame
    assert result.residual_echo is None


@pytest.mark.parametrize(("frame", "message"), [
    (AudioFrame(np.zeros(320, np.int16), 24_000, reference=np.zeros(320, np.int16)),
     "runs at 16000 Hz"),
    (AudioFrame(np.zeros(320, np.int16), RATE, reference=np.zeros(300, np.int16)),
     "reference has 300 samples"),
    (AudioFrame(np.zeros((320, 2), np.int16), RATE, reference=np.zeros(320, np.int16)),
     "mono"),
])
def test_bad_frames_are_refused_by_name(frame: AudioFrame, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        EchoCanceller(RATE).process(frame)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="step"):
        EchoCanceller(RATE, step=1.5)
    with pytest.raises(ConfigurationError, match="tail_ms"):
        EchoCanceller(RATE, tail_ms=5.0)


def test_the_suppressor_removes_more_echo_and_leaves_the_user() -> None:
    """With the residual echo suppressor the echo left after the first seconds is far lower
    than the linear filter's alone, and the user talking over the assistant still comes out
    closer to their own voice than the raw microphone was."""
    results = {}
    for suppress in (False, True):
        room, far = _room(), _far_end()
        near, _ = load_clip("forecast", rate=RATE)
        start = int(9.0 * RATE)
        room.add_user_speech(near, at_sample=start, level_dbfs=-26.0)
        out = _run(room, far, EchoCanceller(RATE, suppress=suppress))
        truth = room.ground_truth(0, len(out))
        span = slice(start, start + len(near))
        user = truth.user[span].astype(np.float64)
        results[suppress] = (_erle_db(room, out, 2.0, 8.0),
                             _si_sdr_db(truth.mic[span].astype(np.float64), user),
                             _si_sdr_db(out[span], user))
    linear, suppressed = results[False], results[True]
    assert suppressed[0] > linear[0] + 6.0
    assert suppressed[2] > suppressed[1] + 6.0


def test_the_suppressor_leaves_the_microphone_alone_while_nothing_plays() -> None:
    """No reference power, nothing to suppress: the user alone passes untouched."""
    near, _ = load_clip("forecast", rate=RATE)
    canceller = EchoCanceller(RATE, suppress=True)
    silent = np.zeros(FRAME, dtype=np.int16)
    out = np.concatenate([
        canceller.process(AudioFrame(near[i:i + FRAME], RATE, reference=silent)).frame.samples
        for i in range(0, len(near) - FRAME + 1, FRAME)])
    kept = near[:len(out)].astype(np.float64)
    assert _si_sdr_db(out.astype(np.float64), kept) > 40.0


def test_a_shorter_delay_is_caught_within_a_second() -> None:
    """The delay drops (the echo now arrives before the delayed reference, which the stale
    filter cannot follow) and the response changes: the harm watch restarts the filter at
    once and the suppressor holds the echo down until the delay estimate has moved, so one
    second after the change the echo is cut by > 20 dB again."""
    room, far = _room(delay_ms=60.0), _far_end(2)
    change_s = 8.0
    room.change_path(int(change_s * RATE), EchoPath(delay_ms=20.0, gain_db=-6.0, rt60_s=0.3,
                                                    rir_ms=180.0, seed=5))
    canceller = EchoCanceller(RATE, suppress=True)
    out = _run(room, far, canceller)
    assert canceller.restarts >= 1
    assert _erle_db(room, out, change_s + 1.0, change_s + 3.0) > 20.0


@pytest.mark.parametrize(("start_ms", "moved_by"), [(450.0, -1.5), (0.0, 1.5)])
def test_a_re_alignment_further_than_the_filter_is_long_keeps_nothing_and_does_not_raise(
        start_ms: float, moved_by: float) -> None:
    """The delay estimate can jump by more than the filter's length (falling back from a
    spurious lock on a long delay after the echo path moved): the re-alignment keeps nothing
    of the old response and must not raise (moving back that far once did)."""
    room, far = _room(delay_ms=30.0), _far_end(1)
    canceller = EchoCanceller(RATE)
    _run(room, far[: 4 * RATE], canceller)  # learn a response first
    taps = canceller.block * canceller.partitions
    start = int(start_ms * RATE / 1000)
    canceller.bulk_delay = start
    canceller._move_to(start + int(moved_by * taps) + canceller.delay_margin)
    assert canceller.bulk_delay == start + int(moved_by * taps)
    assert not np.any(canceller._w_fore) and not np.any(canceller._w_back)
    _run(room, far[4 * RATE: 5 * RATE], canceller)  # and it runs on


def test_a_restart_does_not_set_off_the_next_one() -> None:
    """A restart forgets the output that caused it: with the filter zeroed the output equals
    the input, so no second restart follows while the microphone keeps sounding (the
    harmful output's energy left in the smoothed history once set off a restart every 0.1 s
    for as long as the room was loud, leaving the echo uncancelled for seconds)."""
    rng = np.random.default_rng(4)
    canceller = EchoCanceller(RATE, suppress=True, max_delay_ms=0)

    def block(far: npt.NDArray[np.float64], mic: npt.NDArray[np.float64]) -> None:
        canceller.process(AudioFrame(np.clip(mic, -32768, 32767).astype(np.int16), RATE,
                                     reference=far.astype(np.int16)))

    old, new = rng.normal(0.0, 0.3, 40), rng.normal(0.0, 0.3, 40)
    history = np.zeros(len(old))
    for n in range(3 * RATE // FRAME + 100):
        far = rng.normal(0.0, 3000.0, FRAME)
        path = old if n < 3 * RATE // FRAME else new  # the path changes after 3 s
        signal = np.concatenate([history, far])
        block(far, np.convolve(signal, path)[len(history):len(history) + FRAME])
        history = signal[-len(old):]
        if canceller.restarts:
            break
    assert canceller.restarts == 1
    # The assistant stops; someone near the microphone keeps it sounding for 2 s.
    for _ in range(2 * RATE // FRAME):
        block(np.zeros(FRAME), rng.normal(0.0, 1000.0, FRAME))
    assert canceller.restarts == 1


def test_a_filter_louder_than_its_input_is_not_trusted_while_the_restart_is_pending() -> None:
    """The path moved and the stale filter adds an echo that is not there: from the first
    block in which its output is louder than its input, the suppressor treats every bin as
    echo, so what reaches the barge-in detector in the blocks before the restart is not the
    stale filter's loud output (it stopped the assistant in unseen rooms)."""
    rng = np.random.default_rng(5)
    canceller = EchoCanceller(RATE, suppress=True, max_delay_ms=0)
    old, new = rng.normal(0.0, 0.3, 40), rng.normal(0.0, 0.3, 40)
    history = np.zeros(len(old))
    pending: list[float] = []  # output over input, dB, in the blocks of a pending restart
    for n in range(3 * RATE // FRAME + 100):
        far = rng.normal(0.0, 3000.0, FRAME)
        path = old if n < 3 * RATE // FRAME else new
        signal = np.concatenate([history, far])
        mic = np.convolve(signal, path)[len(history):len(history) + FRAME]
        history = signal[-len(old):]
        out = canceller.process(AudioFrame(mic.astype(np.int16), RATE,
                                           reference=far.astype(np.int16))).frame.samples
        if canceller._harm:
            pending.append(10 * math.log10(float(np.mean(out.astype(np.float64) ** 2))
                                           / float(np.mean(mic**2))))
        if canceller.restarts:
            break
    assert canceller.restarts == 1 and len(pending) >= 3
    assert max(pending) < -10.0


@pytest.mark.parametrize(("echo_db", "clip", "at_s"), [
    (-20.0, "wait_stop", 0.8), (-20.0, "never_mind", 0.8), (-20.0, "repeat_that", 0.8),
    (-10.0, "hold_on", 0.8), (-20.0, "hold_on", 3.0)])
def test_the_user_talking_over_the_unconverged_filter_passes(
        echo_db: float, clip: str, at_s: float) -> None:
    """The user speaks before the filter has converged (the first seconds of a
    conversation's first reply): every 20 ms of their voice comes out within 20 dB of what
    they said. Their voice over the half-learned filter made its output a little louder
    than its input, which was taken for a moved echo path and floored 40 dB (the double-talk
    test cannot tell before convergence): a short "stop" vanished before the barge-in
    detector heard it. In the first second the echo estimate is small beside the voice;
    three seconds in (hold_on at 3.0 s) it is not, and only the near-end test
    (``EchoCanceller._judge_near_end``: the microphone far above what the reference
    usually brings) tells the voice from a moved path."""
    path = EchoPath(delay_ms=30.0, gain_db=echo_db, rt60_s=0.3, rir_ms=180.0, seed=3)
    room = Room(RoomConfig(sample_rate=RATE, echo=path, noise_dbfs=-70.0))
    far = _far_end(1)[:5 * RATE]
    near, _ = load_clip(clip, rate=RATE)
    start = int(at_s * RATE)
    room.add_user_speech(near, at_sample=start, level_dbfs=-26.0)
    out = _run(room, far, EchoCanceller(RATE, suppress=True))
    user = room.ground_truth(0, len(out)).user[start:start + len(near)].astype(np.float64)
    said = out[start:start + len(near)]
    frames = len(user) // FRAME * FRAME
    user_db = 10 * np.log10(np.mean(user[:frames].reshape(-1, FRAME) ** 2, axis=1) + 1e-20)
    out_db = 10 * np.log10(np.mean(said[:frames].reshape(-1, FRAME) ** 2, axis=1) + 1e-20)
    loud = user_db > -40.0  # the frames that carry the words
    assert loud.sum() >= 5
    assert np.min(out_db[loud] - user_db[loud]) > -20.0

