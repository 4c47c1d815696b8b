"""Simulate a conversation with a barge-in, faster than real time, and print its timeline.

Run: python examples/simulate_barge_in.py
"""

from __future__ import annotations

from realtalk import Interrupted, StateChanged, UserTranscript
from realtalk.sim import RoomConfig, Simulation, UserSpoke, Utterance, load_clip


def main() -> None:
    question, _ = load_clip("weather_tomorrow")
    wait, _ = load_clip("wait_stop")
    sim = Simulation(
        [
            Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
            Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=1.5),
        ],
        room=RoomConfig.headphones(),
    )
    result = sim.run(15.0)
    for event in result.timeline:
        match event:
            case UserSpoke(text=text, at=at):
                print(f"{at:6.2f}s  user says {text!r}")
            case StateChanged(old=old, new=new, at=at):
                print(f"{at:6.2f}s  {old.value} -> {new.value}")
            case UserTranscript(text=text, at=at):
                print(f"{at:6.2f}s  server heard: {text!r}")
            case Interrupted(truncate_ms=ms, latency=lat):
                print(f"          barge-in: stopped {lat.stop_ms:.0f} ms after the user "
                      f"started, truncated at {ms} ms")
            case _:
                pass
    # Learned from the question (the speaker silent): a run over the assistant more than
    # BargeIn.max_below_user_db under it is taken for the talkers behind the user.
    if sim.detector is not None and sim.detector.user_level.level_dbfs is not None:
        print(f"the user's level, learned from their turn: "
              f"{sim.detector.user_level.level_dbfs:.1f} dBFS")
    print(f"{result.simulated_s:.0f} s simulated in {result.wall_s:.2f} s "
          f"({result.speed_x:.0f}x real time)")


if __name__ == "__main__":
    main()
