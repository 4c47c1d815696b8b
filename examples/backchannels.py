"""A "yeah" keeps the reply playing; a "stop" stops it, even one too short to confirm.

A simulated quiet office. The user asks a question; 0.8 s into the answer, while the echo
canceller is still learning the room, they say a soft "Stop." of which the barge-in detector
hears too little to confirm. realtalk checks such a run by its words
(``BargeIn(check_speech_ms=60)``): the reply plays on while the words come, and "Stop." is a
command, so the reply stops. Later a "Yeah." over the assistant is a backchannel: the reply
pauses for it and plays on from the same sample. The same conversation without checks
follows: the assistant talks on over the "Stop.".

Run: python examples/backchannels.py
"""

from __future__ import annotations

import numpy as np

from realtalk import BargeIn, Interrupted, InterruptionDecided
from realtalk.sim import RoomConfig, Simulation, SimulationResult, Utterance, load_clip
from realtalk.sim.signals import SPEECH_DIR


def conversation(barge_in: BargeIn) -> SimulationResult:
    """The question, a soft "Stop." 0.8 s into the answer, a "Yeah." 3 s in."""
    clips = SPEECH_DIR / "backchannel"
    question, _ = load_clip("weather_tomorrow")
    stop, _ = load_clip("stop_5", directory=clips)  # a low, hoarse voice
    soft_stop = (stop.astype(np.float64) * 0.5).astype(np.int16)  # 6 dB softer
    yeah, _ = load_clip("yeah_0", directory=clips)
    sim = Simulation(
        [Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
         Utterance(samples=soft_stop, text="Stop.", after_assistant_starts=0.8),
         Utterance(samples=yeah, text="Yeah.", after_assistant_starts=3.0)],
        room=RoomConfig.quiet_office(), transcriber_factory="oracle", barge_in=barge_in)
    return sim.run(14.0)


def main() -> None:
    result = conversation(BargeIn())
    for event in result.timeline:
        if isinstance(event, InterruptionDecided):
            how = "confirmed" if event.evidence.confirmed else "checked (too short to confirm)"
            print(f"{event.decided:6.2f}s  {how}: {event.evidence.transcript!r} -> "
                  f"{event.verdict}")
        elif isinstance(event, Interrupted):
            print(f"          the reply stops: truncated at {event.truncate_ms} ms heard")
    stopped = len(conversation(BargeIn(check_speech_ms=None)).interruptions)
    print(f"without checks: the reply was stopped {stopped} time(s)"
          + (" (the soft 'Stop.' went unnoticed)" if stopped == 0 else ""))


if __name__ == "__main__":
    main()
