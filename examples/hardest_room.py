"""Test an agent's barge-in in the hardest room realtalk's benchmark has, over a few seeds:
a live room, four talkers behind the user, a clipping loudspeaker, the echo as loud as the
playback, and the laptop turned a second into each reply.

Run: python examples/hardest_room.py
"""

from __future__ import annotations

from realtalk.sim import PathChange, RoomConfig, Simulation, UserSpoke, Utterance, load_clip


def main() -> None:
    question, _ = load_clip("weather_tomorrow")
    wait, _ = load_clip("wait_stop")
    for seed in range(3):
        room = RoomConfig.sampled(seed)
        assert room.echo is not None
        sim = Simulation(
            [Utterance(samples=question, text="What's the weather like tomorrow?", at=0.5),
             Utterance(samples=wait, text="Wait, stop.", after_assistant_starts=3.0)],
            room=room, seed=seed,
            path_changes=[PathChange(path=room.echo.moved(seed), after_assistant_starts=1.0)])
        # The talkers keep the server's VAD from hearing the question end: ask for the
        # reply, as an app's own end-of-turn detection would.
        sim.run(2.8)
        sim.request_response()
        result = sim.run(7.0)
        barge_in = next(e.at for e in result.timeline
                        if isinstance(e, UserSpoke) and e.barge_in)
        print(f"seed {seed}: delay {room.echo.delay_ms:.0f} ms, "
              f"RT60 {room.echo.rt60_s:.2f} s, the user barges in at {barge_in:.2f} s")
        for stop in result.interruptions:
            # A stop before the user spoke is a false one: the talkers, or the echo.
            kind = "false stop" if stop.latency.detected < barge_in else "barge-in"
            print(f"  {kind} at {stop.latency.detected:.2f} s, "
                  f"stopped {stop.latency.stop_ms:.0f} ms after its onset")
        if not result.interruptions:
            print("  the reply was never stopped")

if __name__ == "__main__":
    main()
