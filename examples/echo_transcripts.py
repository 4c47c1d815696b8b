"""When the assistant's echo reaches the server anyway: the transcript filters drop it, the item
is deleted upstream and the reply the server started for it is cancelled.

A simulated laptop at full volume with the echo canceller switched off (as if it could not
keep up): the server's VAD takes the assistant's own voice for a user turn when a reply ends,
and realtalk's own checks of short sounds (``BargeIn.check_speech_ms``) commit some of it while
a reply plays; a perfect recogniser (the simulator's oracle) transcribes it as the assistant's
words. Then the user asks a real question, which is kept.

Run: python examples/echo_transcripts.py
"""

from __future__ import annotations

from realtalk import AssistantTranscript, ResponseFinished, UserTranscript
from realtalk.echo import EchoDefences, EchoTranscriptDropped
from realtalk.server import ScriptedResponder
from realtalk.sim import EchoPath, RoomConfig, Simulation, UserSpoke, Utterance, load_clip

REPLIES = ["The forecast for Saturday is sunny with a high of twenty four degrees.",
           "This reply answers the echo, so nobody should ever hear it.",
           "Tomorrow looks dry and mild, with a light breeze in the afternoon."]


def main() -> None:
    question, _ = load_clip("weather_tomorrow")
    sim = Simulation(
        [Utterance(samples=question, text="What's the weather like tomorrow?", at=10.0)],
        room=RoomConfig(echo=EchoPath(delay_ms=10.0, gain_db=-3.0, rt60_s=0.3, seed=4),
                        noise_dbfs=-60.0),
        echo=EchoDefences(canceller=None),  # no canceller: the server hears the echo
        transcriber_factory="oracle",
        responder_factory=lambda: ScriptedResponder(REPLIES),
    )
    sim.request_response()
    result = sim.run(20.0)
    for event in result.timeline:
        match event:
            case UserSpoke(text=text, at=at):
                print(f"{at:6.2f}s  the user says {text!r}")
            case EchoTranscriptDropped(text=text, at=at, verdict=verdict):
                print(f"{at:6.2f}s  DROPPED as echo: {text!r}\n"
                      f"         {verdict.filter}: {verdict.reason}")
            case UserTranscript(text=text, at=at):
                print(f"{at:6.2f}s  kept: {text!r}")
            case AssistantTranscript(text=text, at=at):
                print(f"{at:6.2f}s  the assistant said {text!r}")
            case ResponseFinished(response_id=rid, status=status, at=at):
                print(f"{at:6.2f}s  reply {rid[-6:]} {status}")
    stats = sim.session.stats
    print(f"echo items deleted upstream: {stats.echo_items_deleted}, "
          f"replies to echo cancelled before playing: {stats.echo_replies_cancelled}")


if __name__ == "__main__":
    main()
