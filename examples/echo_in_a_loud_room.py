"""Cancel the assistant's echo in a simulated loud room, second by second, while the user
talks over it for a while: how much echo is left, and what happens to the user's voice.

Run: python examples/echo_in_a_loud_room.py
"""

from __future__ import annotations

import numpy as np

from realtalk.audio import AudioFrame
from realtalk.echo import default
from realtalk.sim import Room, RoomConfig, clips, load_clip

RATE = 24_000
FRAME = RATE // 50  # 20 ms, as the sound card delivers it


def main() -> None:
    # The assistant: the committed speech clips back to back; the room: echo as loud as the
    # speaker (a laptop near the microphone in an office).
    speech = [c.name for c in clips() if c.rate == RATE and c.kind == "speech"]
    assistant = np.concatenate([load_clip(name, rate=RATE)[0] for name in speech])
    room = Room(RoomConfig.quiet_office(echo_gain_db=0.0, sample_rate=RATE))
    user, _ = load_clip("not_what_i_meant", rate=RATE)
    user_at = 8 * RATE
    room.add_user_speech(user, at_sample=user_at, level_dbfs=-26.0)

    chain = default(RATE)  # what a Conversation runs: the canceller and its suppressor
    cleaned = []
    for start in range(0, len(assistant) - FRAME + 1, FRAME):
        played = assistant[start:start + FRAME]
        room.speaker_played(played)
        frame = AudioFrame(room.mic_frame(FRAME), RATE, reference=played)
        cleaned.append(chain.process(frame).frame.samples.astype(np.float64) / 32768.0)
    out = np.concatenate(cleaned)
    truth = room.ground_truth(0, len(out))
    echo = truth.echo.astype(np.float64)
    left = out - truth.user - truth.noise  # what remains of the echo (the rest is the user)

    print("second  echo removed")
    for s in range(len(out) // RATE):
        span = slice(s * RATE, (s + 1) * RATE)
        removed = 10 * np.log10(np.sum(echo[span] ** 2) / (np.sum(left[span] ** 2) + 1e-12))
        talking = "  (the user talks over the assistant)" \
            if user_at <= s * RATE < user_at + len(user) else ""
        print(f"{s:6d}  {removed:5.1f} dB{talking}")

    span = slice(user_at, user_at + len(user))
    voice = truth.user[span].astype(np.float64)
    print(f"the user's voice: {_sdr(truth.mic[span], voice):.1f} dB clean at the raw microphone,"
          f" {_sdr(out[span], voice):.1f} dB after the canceller")


def _sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """How close ``estimate`` is to ``reference`` (scale-invariant SDR, dB)."""
    estimate = estimate.astype(np.float64)
    target = np.dot(estimate, reference) / np.dot(reference, reference) * reference
    return float(10 * np.log10(np.sum(target**2) / np.sum((estimate - target) ** 2)))


if __name__ == "__main__":
    main()
