"""Audio benchmark: the resampler's cost and quality, and the simulator's speed.

Prints progress lines, then one JSON object as the last line::

    {"resampler": {"48000->24000": {"rtf": .., "aliasing_db": .., ...}, ...},
     "sim_speed_x": .., "sim": {...}}

- ``resampler``: per common ratio, the numpy resampler's real-time factor (CPU seconds per
  second of audio, fed 20 ms blocks as a live stream would) and quality in dB, with soxr side by
  side where it is installed (see ``benchmarks/audio_resample.py``).
- ``sim_speed_x``: simulated seconds per wall second for a full 60 s conversation with echo: a
  question, an answer, a barge-in, a second answer, another barge-in and a long answer, in a
  quiet office whose echo is 30 dB below the speaker (the median of three runs).
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from realtalk.sim import RoomConfig, Simulation, Utterance, load_clip

sys.path.insert(0, str(Path(__file__).parent))
from audio_resample import resampler_report


def _conversation() -> list[Utterance]:
    question, _ = load_clip("weather_tomorrow")
    wait, _ = load_clip("wait_stop")
    sorry, _ = load_clip("sorry_can_i_ask")
    how_long, _ = load_clip("how_long")
    return [
        Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
        Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=1.5),
        Utterance(samples=sorry, text="Sorry, can I ask something?",
                  after_assistant_starts=2.0, response_number=2),
        Utterance(samples=how_long, text="How long will it take to get there?",
                  after_assistant_starts=20.0, response_number=3),
    ]


def sim_report(runs: int = 3) -> dict[str, object]:
    """Simulate the 60 s conversation ``runs`` times; speed and what happened."""
    room = RoomConfig.quiet_office(echo_gain_db=-30.0)
    speeds = []
    result = None
    for _ in range(runs):
        result = Simulation(_conversation(), room=room).run(60.0)
        speeds.append(result.speed_x)
    assert result is not None
    return {
        "simulated_s": round(result.simulated_s, 2),
        "wall_s": round(result.wall_s, 3),
        "speed_x": round(statistics.median(speeds), 1),
        "interruptions": len(result.interruptions),
        "server_events": result.stats.server_events,
    }


def main() -> None:
    print("resampler: cost and quality per ratio ...", flush=True)
    resampler = resampler_report()
    for ratio, numbers in resampler.items():
        print(f"  {ratio}: {numbers}", flush=True)
    print("simulator: a 60 s conversation with echo, three runs ...", flush=True)
    sim = sim_report()
    print(f"  {sim}", flush=True)
    print(json.dumps({"resampler": resampler, "sim_speed_x": sim["speed_x"], "sim": sim}))


if __name__ == "__main__":
    main()
