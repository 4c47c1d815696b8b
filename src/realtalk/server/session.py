"""The embedded server's protocol logic, sans-I/O: frames and timestamps in, events out.

:class:`ServerSession` is one realtime session as the hosted service runs it. It never reads a
clock, opens a socket or starts a task: the I/O shell (:mod:`realtalk.server.app`) feeds it
client frames with :meth:`~ServerSession.receive`, calls :meth:`~ServerSession.advance` when
:meth:`~ServerSession.next_deadline` is reached, and sends what
:meth:`~ServerSession.events_to_send` drains. Tests drive it with explicit ``now`` values.

Behaviour follows the hosted service (see ``research/protocol.md``):

- ``session.created`` on creation; ``session.update`` is a partial merge answered by
  ``session.updated`` with the whole configuration.
- Input audio: ``append`` / ``commit`` / ``clear``; with ``server_vad`` (the default) speech
  start and stop are detected (:mod:`.vad`), and a stop commits the turn (``speech_stopped``,
  ``committed``, the user item) whatever the flags say. Then ``create_response`` starts a
  response (none while another is active), and ``interrupt_response`` lets a start cancel
  the active response (``reason: turn_detected``), unless that response is out of band
  (``conversation: "none"``): the service interrupts only the default conversation's. With
  both off, the VAD events still come and nothing else is automatic; with turn detection
  ``null`` the client commits and asks for every response itself.
- Input transcription only when the session asks for it (GA ``audio.input.transcription``,
  beta ``input_audio_transcription``, an object with a ``model``; any model name, since the
  :class:`~.responder.Transcriber` stands in for all): each commit is then followed by
  ``conversation.item.input_audio_transcription.completed`` (with its token ``usage``), or
  ``.failed`` if the transcriber raised. Without it, as on the hosted service (off by
  default), no transcription event is sent and the user item has no transcript.
- A response plays out on the schedule of :class:`~.playout.Playout`; a cancel stops it at once
  and nothing of it is sent after its ``response.done``. ``response.created`` and
  ``response.done`` carry the whole response object: ``conversation_id``, modalities, voice and
  format, ``max_output_tokens``, the request's ``metadata``, and on done the token ``usage``
  (:mod:`.usage`). Just before each ``response.done``, ``rate_limits.updated`` reports the
  token bucket (refilling at ``tokens_per_minute``) after the response's tokens were taken.
- ``output_modalities: ["text"]`` (beta ``modalities``), for the session or one response, gives
  a text-only response: ``response.output_text.*`` events and a text content part, no audio.
  ``max_output_tokens`` cuts a longer reply short (``status: incomplete``), and
  ``conversation: "none"`` makes an out-of-band response, left out of the conversation.
- ``conversation.item.truncate`` cuts an assistant audio item and its transcript to the words
  whose audio ended by ``audio_end_ms``. Truncating the item of a response still generating
  cancels that response first (``client_cancelled``): the item cannot keep growing past a cut.
- Function calling (:mod:`.function_calls`): with ``tools`` declared, a response to a user
  message that names a tool (or any response, under ``tool_choice`` ``"required"`` or a named
  function) is a ``function_call`` item instead of speech: ``response.output_item.added``,
  ``response.function_call_arguments.delta`` (on the audio chunks' schedule) and ``.done``,
  ``response.output_item.done``, ``response.done``, with the conversation item events around
  them. A ``function_call_output`` must answer a ``call_id`` in the conversation; the next
  response speaks the outputs sent since the last message. A cancelled call stays in the
  conversation, ``incomplete``, with the arguments sent so far (no ``arguments.done``).
- ``semantic_vad`` is accepted and approximated by the energy VAD with the default numbers.
- Not modelled: ``idle_timeout_ms``, a response's own ``instructions`` and ``input``,
  ``max_output_tokens`` on function call arguments, parallel calls, and WebRTC/SIP-only events
  (``output_audio_buffer.*``); beta transcription sessions are refused.
- Bad input never raises: a frame that is not one JSON object (binary, invalid or too deeply
  nested JSON, another JSON value), an unknown type or a bad field becomes an ``error`` event
  whose ``error.event_id`` is the client event's ``event_id``, and the session goes on. Error
  codes: ``invalid_json``, ``invalid_value``, ``missing_required_parameter``,
  ``input_audio_buffer_commit_empty``, ``conversation_already_has_active_response``,
  ``response_cancel_not_active``, and ``server_error`` (a user-supplied responder raised).
"""

from __future__ import annotations

import json
import logging
import random
import string
import zlib
from collections import Counter, deque
from collections.abc import Mapping
from typing import Any, Literal

import attrs

from ..audio.pcm import bytes_to_int16
from ..errors import EventParseError, LocalProtocolError
from ..session_config import PCM_SAMPLE_RATE, SessionConfig, TurnDetection, WireShape
from ..wire import (
    CLIENT_EVENT_CLASSES,
    ClientEvent,
    ConversationItemAdded,
    ConversationItemCreate,
    ConversationItemDelete,
    ConversationItemDeleted,
    ConversationItemDone,
    ConversationItemRetrieve,
    ConversationItemRetrieved,
    ConversationItemTruncate,
    ConversationItemTruncated,
    ErrorInfo,
    InputAudioBufferAppend,
    InputAudioBufferClear,
    InputAudioBufferCleared,
    InputAudioBufferCommit,
    InputAudioBufferCommitted,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    OutputAudioBufferClear,
    RateLimitsUpdated,
    ResponseCancel,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseCreate,
    ResponseCreated,
    ResponseDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseInfo,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ServerError,
    ServerEvent,
    SessionCreated,
    SessionUpdate,
    SessionUpdated,
    StatusDetails,
    TranscriptionSessionUpdate,
    UnknownServerEvent,
    load_json,
    parse_client_event,
    wire_type,
)
from .function_calls import ArgumentStream, arguments_for, choose_tool, quote_outputs
from .input_buffer import InputBuffer, TurnStarted
from .items import ContentPart, ConversationItems, Item, RequestError, item_from_client, render_item
from .params import ResponseParams, check_session, max_tokens_key, response_params
from .playout import Playout, Schedule
from .responder import PlaceholderTranscriber, Responder, ScriptedResponder, Transcriber
from .usage import (
    TokenCount,
    audio_tokens,
    output_tokens,
    prompt_tokens,
    response_usage,
    text_tokens,
    transcription_usage,
)
from .vad import DEFAULT_MIN_SPEECH_MS
from .voice import SpeechAudio, SyntheticVoice

__all__ = ("DEFAULT_TURN_DETECTION", "SENT_SERVER_EVENTS", "SUPPORTED_CLIENT_EVENTS",
           "ServerOptions", "ServerSession", "ServerStats", "sent_event_types")

logger = logging.getLogger("realtalk.server.session")

# Client events of the protocol that this server refuses, and why.
_REFUSED: dict[type[ClientEvent], str] = {
    TranscriptionSessionUpdate: "this server runs realtime (speech-to-speech) sessions only, "
    "not transcription sessions",
    OutputAudioBufferClear: "it is for WebRTC and SIP connections, where the server plays the "
    "audio; on a WebSocket the client plays it, so stop playback locally and send "
    "response.cancel",
}

#: The client event types the server understands (others get an ``invalid_value`` error).
SUPPORTED_CLIENT_EVENTS: tuple[str, ...] = tuple(
    wire_type(cls) for cls in CLIENT_EVENT_CLASSES if cls not in _REFUSED
)

#: Every server event class a session can send. A session refuses to queue any other (a bug);
#: the tests drive the server until each of these was sent, on both protocol shapes.
SENT_SERVER_EVENTS: tuple[type[ServerEvent], ...] = (
    SessionCreated,
    SessionUpdated,
    InputAudioBufferSpeechStarted,
    InputAudioBufferSpeechStopped,
    InputAudioBufferCommitted,
    InputAudioBufferCleared,
    ConversationItemAdded,
    ConversationItemDone,
    ConversationItemRetrieved,
    ConversationItemTruncated,
    ConversationItemDeleted,
    InputAudioTranscriptionCompleted,
    InputAudioTranscriptionFailed,
    ResponseCreated,
    ResponseOutputItemAdded,
    ResponseOutputItemDone,
    ResponseContentPartAdded,
    ResponseContentPartDone,
    ResponseOutputTextDelta,
    ResponseOutputTextDone,
    ResponseOutputAudioDelta,
    ResponseOutputAudioDone,
    ResponseOutputAudioTranscriptDelta,
    ResponseOutputAudioTranscriptDone,
    ResponseFunctionCallArgumentsDelta,
    ResponseFunctionCallArgumentsDone,
    ResponseDone,
    RateLimitsUpdated,
    ServerError,
)
# The beta protocol has no conversation.item.done.
_NOT_IN_BETA: tuple[type[ServerEvent], ...] = (ConversationItemDone,)


def sent_event_types(shape: WireShape) -> frozenset[str]:
    """The wire types of the events a session speaking ``shape`` can send."""
    return frozenset(wire_type(cls, shape) for cls in SENT_SERVER_EVENTS
                     if shape == "ga" or cls not in _NOT_IN_BETA)


#: The hosted service's ``server_vad`` defaults.
DEFAULT_TURN_DETECTION = TurnDetection(
    type="server_vad", threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500
)

_MIN_COMMIT_MS = 100  # the hosted service refuses to commit less than this
_BYTES_PER_MS = PCM_SAMPLE_RATE * 2 // 1000  # PCM16 mono
_ID_ALPHABET = string.ascii_letters + string.digits


@attrs.frozen(kw_only=True)
class ServerOptions:
    """How a server session behaves.

    Args:
        model: the model name reported in the session (a connection's ``?model=`` wins).
        voice, instructions: the initial session values.
        first_audio_latency_ms: from ``response.create`` to the first audio delta.
        chunk_ms: audio per ``response.output_audio.delta``.
        generation_speed: audio generated per second of wall time, as a multiple of real time
            (the hosted service is faster than playback); ``math.inf`` sends a whole response
            at once.
        turn_detection: the initial turn detection; ``False`` for manual turns.
        vad_min_speech_ms: how long speech must last before server VAD reports
            ``speech_started`` (:data:`~realtalk.server.vad.DEFAULT_MIN_SPEECH_MS`). The
            default, 200 ms, stands in for the hosted service, whose
            speech_started reaches a client a few hundred ms after the user starts talking
            (so a client's local detector is the faster barge-in path, as in production).
        tokens_per_minute: the token rate limit ``rate_limits.updated`` reports (a bucket that
            refills at this rate; reported, not enforced).
        transcription_latency_ms: from a commit to its input transcription event. The hosted
            service transcribes apart from the model, so a user's words can come after the
            reply to them has started; ``0`` (the default) sends them with the commit.

    Raises:
        ValueError: a negative latency, or a chunk size or speed that is not positive.
    """

    model: str = "gpt-realtime"
    voice: str = "marin"
    instructions: str = "You are a helpful, friendly voice assistant."
    first_audio_latency_ms: float = attrs.field(default=250.0, validator=attrs.validators.ge(0))
    chunk_ms: int = attrs.field(default=100, validator=attrs.validators.gt(0))
    generation_speed: float = attrs.field(default=4.0, validator=attrs.validators.gt(0))
    turn_detection: TurnDetection | Literal[False] = DEFAULT_TURN_DETECTION
    vad_min_speech_ms: int = attrs.field(default=DEFAULT_MIN_SPEECH_MS,
                                         validator=attrs.validators.gt(0))
    tokens_per_minute: int = attrs.field(default=40_000, validator=attrs.validators.gt(0))
    transcription_latency_ms: float = attrs.field(default=0.0,
                                                  validator=attrs.validators.ge(0))


@attrs.frozen(kw_only=True)
class ServerStats:
    """Counters of one server session, for tests and benchmarks."""

    events_received: Mapping[str, int]
    errors_sent: Mapping[str, int]
    responses_created: int
    responses_completed: int
    responses_cancelled: int
    truncations: int
    function_calls: int


@attrs.define
class _ActiveResponse:
    id: str
    item: Item  # an assistant message, or a function call
    stream: Playout | ArgumentStream  # its audio and words, or its arguments
    params: ResponseParams
    info: ResponseInfo  # the response object as response.created reported it
    prompt: TokenCount  # what the model read to produce it
    cut_short: bool = False  # by max_output_tokens
    words_sent: int = 0

    @property
    def schedule(self) -> Schedule:
        return self.stream.schedule


class ServerSession:
    """One realtime session's protocol logic (see the module docstring).

    Args:
        now: the creation time, in seconds on the caller's clock.
        shape: ``"ga"`` (default) or ``"beta"``: which event names and session layout the
            peer speaks. Beta peers get ``conversation.item.created`` and no
            ``conversation.item.done`` (the beta protocol has none).
        options: behaviour knobs; see :class:`ServerOptions`.
        responder, transcriber: override the ones built from ``options``' defaults.
        voice: the synthetic voice; by default one per session voice name.
        model: the session's model (e.g. from the connection URL).
        seed: seeds the generated ids, for reproducible tests.
    """

    def __init__(
        self,
        *,
        now: float,
        shape: WireShape = "ga",
        options: ServerOptions | None = None,
        responder: Responder | None = None,
        transcriber: Transcriber | None = None,
        voice: SyntheticVoice | None = None,
        model: str | None = None,
        seed: int | None = None,
    ) -> None:
        self.shape: WireShape = shape
        self._options = options or ServerOptions()
        self._responder: Responder = responder or ScriptedResponder()
        self._transcriber: Transcriber = transcriber or PlaceholderTranscriber()
        self._fixed_voice = voice
        self._voices: dict[str, SyntheticVoice] = {}
        self._rng = random.Random(seed)
        self._id = self._new_id("sess")
        # The hosted service's defaults, named as each shape names them.
        extra: dict[str, Any] = {"tools": [], "tool_choice": "auto", max_tokens_key(shape): "inf"}
        if shape == "beta":
            extra["temperature"] = 0.8
        self._config = SessionConfig(
            model=model or self._options.model,
            voice=self._options.voice,
            instructions=self._options.instructions,
            output_modalities=("audio",),
            turn_detection=self._options.turn_detection,
            extra=extra,
        )
        self._conversation = ConversationItems()
        self._outbox: list[ServerEvent] = []
        self._input = InputBuffer(min_speech_ms=self._options.vad_min_speech_ms)
        self._input.configure(self._turn_detection())
        self._speech_item_id: str | None = None  # the user item a detected turn will become
        self._response: _ActiveResponse | None = None
        self._client_event_id: str | None = None  # of the event being handled, for errors
        self._closed = False
        self._received: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._created = self._completed = self._cancelled = self._truncations = 0
        self._function_calls = 0
        self._conversation_id = "conv_" + self._id.removeprefix("sess_")
        self._now = self._bucket_checked = now
        self._tokens_in_bucket = 0.0  # spent tokens the rate-limit bucket has not refilled yet
        # Transcripts on their way (ServerOptions.transcription_latency_ms): when each is due,
        # its item, and the words.
        self._transcripts_due: deque[tuple[float, Item, str]] = deque()
        self._emit(SessionCreated(session=self._session_dict()))

    # -----------------------------------------------------------------------------------------
    # The sans-I/O interface
    # -----------------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        """The session id (``sess_...``)."""
        return self._id

    @property
    def config(self) -> SessionConfig:
        """The current session configuration."""
        return self._config

    @property
    def conversation(self) -> ConversationItems:
        """The conversation's items (read them; do not mutate)."""
        return self._conversation

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (the peer is gone)."""
        return self._closed

    @property
    def active_response_id(self) -> str | None:
        """The id of the response being generated, if any."""
        return self._response.id if self._response else None

    @property
    def stats(self) -> ServerStats:
        """A snapshot of this session's counters."""
        return ServerStats(
            events_received=dict(self._received),
            errors_sent=dict(self._errors),
            responses_created=self._created,
            responses_completed=self._completed,
            responses_cancelled=self._cancelled,
            truncations=self._truncations,
            function_calls=self._function_calls,
        )

    def receive(self, frame: str | bytes, now: float) -> str | None:
        """Handle one client frame received at ``now``; return its ``type`` if it had one.

        Whatever was due before ``now`` is released first. A malformed frame, an unknown type or
        a bad field queues an ``error`` event; nothing is raised.
        """
        if self._closed:
            return None
        self.advance(now)
        if not isinstance(frame, str):
            self._received["(binary frame)"] += 1
            self._error("invalid_json", f"Binary WebSocket frames are not supported (got "
                        f"{len(frame)} bytes); send each client event as one JSON text frame.")
            return None
        try:
            payload = load_json(frame)
        except EventParseError as exc:
            self._received["(invalid json)"] += 1
            self._error("invalid_json", f"The {exc}; expected one JSON object per message.")
            return None
        event_type = payload.get("type") if isinstance(payload, dict) else None
        self._received[event_type if isinstance(event_type, str) else "(no type)"] += 1
        client_id = payload.get("event_id") if isinstance(payload, dict) else None
        self._client_event_id = client_id if isinstance(client_id, str) else None
        try:
            self._handle(payload, now)
        finally:
            self._client_event_id = None
        return event_type if isinstance(event_type, str) else None

    def advance(self, now: float) -> None:
        """Release everything due by ``now`` (audio chunks, the end of a response)."""
        self._now = max(self._now, now)
        due = self._transcripts_due
        while due and due[0][0] <= now:
            _, item, heard = due.popleft()
            self._transcribed(item, heard)
        response = self._response
        if response is None:
            return
        if isinstance(response.stream, ArgumentStream):
            self._release_arguments(response, response.stream, now)
        else:
            self._release_speech(response, response.stream, now)
        if response.schedule.finished and now >= response.schedule.finish_time():
            if response.cut_short:
                self._finish_response("incomplete", "max_output_tokens")
            else:
                self._finish_response("completed", None)

    def _release_speech(self, response: _ActiveResponse, playout: Playout, now: float) -> None:
        rid, iid = response.id, response.item.id
        part = response.item.parts[0]
        for chunk in playout.release(now):
            if response.params.audio:
                response.item.audio += chunk.audio
                self._emit(ResponseOutputAudioDelta(response_id=rid, item_id=iid,
                                                    delta=chunk.audio))
            for word in chunk.words:
                delta = word.word if response.words_sent == 0 else " " + word.word
                response.words_sent += 1
                if response.params.audio:
                    part.transcript = (part.transcript or "") + delta
                    self._emit(ResponseOutputAudioTranscriptDelta(response_id=rid, item_id=iid,
                                                                  delta=delta))
                else:
                    part.text = (part.text or "") + delta
                    self._emit(ResponseOutputTextDelta(response_id=rid, item_id=iid,
                                                       delta=delta))

    def _release_arguments(self, response: _ActiveResponse, stream: ArgumentStream,
                           now: float) -> None:
        fields = response.item.fields
        for delta in stream.release(now):
            fields["arguments"] += delta
            self._emit(ResponseFunctionCallArgumentsDelta(
                response_id=response.id, item_id=response.item.id, call_id=fields["call_id"],
                delta=delta))

    def next_deadline(self) -> float | None:
        """When :meth:`advance` next has something to release, or ``None``."""
        transcript = self._transcripts_due[0][0] if self._transcripts_due else None
        if self._response is None:
            return transcript
        schedule = self._response.schedule
        deadline = schedule.next_deadline()
        if deadline is None:
            deadline = schedule.finish_time()
        return deadline if transcript is None else min(deadline, transcript)

    def events_to_send(self) -> list[ServerEvent]:
        """Drain the queued server events, oldest first."""
        events, self._outbox = self._outbox, []
        return events

    def close(self) -> None:
        """The peer is gone: drop any response in progress and queued events."""
        if self._response is not None:
            logger.debug("session %s closed during response %s", self._id, self._response.id)
        self._response = None
        self._outbox = []
        self._transcripts_due.clear()
        self._closed = True

    # -----------------------------------------------------------------------------------------
    # Dispatch
    # -----------------------------------------------------------------------------------------

    def _handle(self, payload: object, now: float) -> None:
        if not isinstance(payload, dict):
            self._error("invalid_json", f"Expected a JSON object, got {_json_name(payload)}.")
            return
        event_type = payload.get("type")
        if event_type is None:
            self._error("missing_required_parameter", "Missing required parameter: 'type'.",
                        param="type")
            return
        if not isinstance(event_type, str):
            self._error("invalid_value", f"Invalid type for 'type': expected a string, but got "
                        f"{_json_name(event_type)}.", param="type")
            return
        try:
            event = parse_client_event(payload)
        except EventParseError as exc:
            self._reject(exc, payload, event_type)
            return
        self._dispatch(event, now)

    def _dispatch(self, event: ClientEvent, now: float) -> None:
        if isinstance(event, SessionUpdate):
            self._on_session_update(event)
        elif isinstance(event, InputAudioBufferAppend):
            self._on_append(event, now)
        elif isinstance(event, InputAudioBufferCommit):
            self._on_commit()
        elif isinstance(event, InputAudioBufferClear):
            self._on_clear()
        elif isinstance(event, ConversationItemCreate):
            self._on_item_create(event)
        elif isinstance(event, ConversationItemTruncate):
            self._on_truncate(event)
        elif isinstance(event, ResponseCreate):
            self._on_response_create(event, now)
        elif isinstance(event, ResponseCancel):
            self._on_cancel(event)
        elif isinstance(event, ConversationItemDelete):
            self._on_item_delete(event)
        elif isinstance(event, ConversationItemRetrieve):
            self._on_item_retrieve(event)
        else:
            self._error("invalid_value", f"{event.type} is not supported by this server: "
                        f"{_REFUSED[type(event)]}.", param="type")

    def _reject(self, exc: EventParseError, payload: Mapping[str, Any], event_type: str) -> None:
        if exc.field == "type" and event_type not in SUPPORTED_CLIENT_EVENTS:
            supported = ", ".join(repr(t) for t in SUPPORTED_CLIENT_EVENTS)
            self._error("invalid_value",
                        f"Invalid value: {event_type!r}. Supported values are: {supported}.",
                        param="type")
            return
        present = exc.field is None or _has_path(payload, exc.field)
        code = "invalid_value" if present else "missing_required_parameter"
        self._error(code, str(exc), param=exc.field)

    # -----------------------------------------------------------------------------------------
    # Session
    # -----------------------------------------------------------------------------------------

    def _on_session_update(self, event: SessionUpdate) -> None:
        update = event.session
        if update.model is not None and update.model != self._config.model:
            self._error("invalid_value", f"Cannot update a session's model: it is "
                        f"{self._config.model!r}, got {update.model!r}.", param="session.model")
            return
        try:
            check_session(self._config.merged(update), self.shape)
        except RequestError as exc:
            self._error(exc.code, str(exc), param=exc.param)
            return
        turn = update.turn_detection
        if isinstance(turn, TurnDetection):
            path = ("session.audio.input.turn_detection" if event.shape == "ga"
                    else "session.turn_detection")
            problem = _turn_detection_problem(turn, path)
            if problem is not None:
                self._error("invalid_value", problem[1], param=problem[0])
                return
            update = attrs.evolve(update, turn_detection=_with_vad_defaults(turn))
        before = self._config.turn_detection
        self._config = self._config.merged(update)
        if self._config.turn_detection != before:
            self._input.configure(self._turn_detection())
            self._speech_item_id = None
        self._emit(SessionUpdated(session=self._session_dict()))

    def _session_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"object": "realtime.session", "id": self._id}
        out.update(self._config.to_dict(self.shape))
        if self.shape == "ga":
            audio_in = out.setdefault("audio", {}).setdefault("input", {})
            audio_in.setdefault("transcription", None)
            audio_in.setdefault("noise_reduction", None)
        else:
            out.setdefault("input_audio_transcription", None)
        return out

    def _turn_detection(self) -> TurnDetection | None:
        turn = self._config.turn_detection
        return turn if isinstance(turn, TurnDetection) else None

    # -----------------------------------------------------------------------------------------
    # Input audio and turns
    # -----------------------------------------------------------------------------------------

    def _on_append(self, event: InputAudioBufferAppend, now: float) -> None:
        turn = self._turn_detection()
        for turn_event in self._input.append(event.audio):
            assert turn is not None  # turns are detected only with turn detection on
            if isinstance(turn_event, TurnStarted):
                self._speech_item_id = self._new_id("item")
                self._emit(InputAudioBufferSpeechStarted(
                    audio_start_ms=turn_event.audio_start_ms, item_id=self._speech_item_id))
                if (self._response is not None and turn.interrupt_response
                        and self._response.params.in_conversation):
                    self._finish_response("cancelled", "turn_detected")
                continue
            item_id = self._speech_item_id or self._new_id("item")
            self._speech_item_id = None
            self._emit(InputAudioBufferSpeechStopped(
                audio_end_ms=turn_event.audio_end_ms, item_id=item_id))
            self._commit_item(turn_event.audio, item_id)
            if turn.create_response:
                if self._response is None:
                    self._start_response(now)
                else:
                    logger.debug("turn ended during response %s: no new response",
                                 self._response.id)

    def _on_commit(self) -> None:
        buffered_ms = self._input.buffered_ms
        if buffered_ms < _MIN_COMMIT_MS:
            self._error(
                "input_audio_buffer_commit_empty",
                f"Error committing input audio buffer: buffer too small. Expected at least "
                f"{_MIN_COMMIT_MS}ms of audio, but buffer only has {buffered_ms:.2f}ms of audio.",
            )
            return
        item_id = self._speech_item_id or self._new_id("item")
        self._speech_item_id = None
        self._commit_item(self._input.commit(), item_id)

    def _on_clear(self) -> None:
        self._input.clear()
        self._speech_item_id = None
        self._emit(InputAudioBufferCleared())

    def _commit_item(self, pcm: bytes, item_id: str) -> None:
        item = Item(id=item_id, role="user", parts=[ContentPart("input_audio")],
                    audio=bytearray(pcm))
        previous = self._conversation.insert(item)
        self._emit(InputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        self._emit_item_added_done(item, previous)
        # The transcriber also stands in for the model's own hearing (what the responder and
        # the tool choice read), so it runs on every turn; its events only when asked for.
        try:
            heard = self._transcriber.transcribe(bytes_to_int16(pcm), PCM_SAMPLE_RATE)
        except Exception:
            logger.exception("transcriber failed on item %s", item_id)
            if self._config.transcribes:
                self._emit(InputAudioTranscriptionFailed(
                    item_id=item_id,
                    error={"type": "server_error", "code": "transcriber_failed",
                           "message": "the transcriber raised", "param": None}))
            return
        item.heard = heard
        if not self._config.transcribes:
            return
        latency = self._options.transcription_latency_ms
        if latency > 0:
            # Commits come in order and share one latency, so the queue stays in time order.
            self._transcripts_due.append((self._now + latency / 1000.0, item, heard))
        else:
            self._transcribed(item, heard)

    def _transcribed(self, item: Item, heard: str) -> None:
        item.parts[0].transcript = heard
        self._emit(InputAudioTranscriptionCompleted(
            item_id=item.id, transcript=heard, usage=transcription_usage(item.audio_ms, heard)))

    # -----------------------------------------------------------------------------------------
    # Conversation items
    # -----------------------------------------------------------------------------------------

    def _on_item_create(self, event: ConversationItemCreate) -> None:
        try:
            item = item_from_client(event.item, self._new_id("item"))
        except RequestError as exc:
            self._error(exc.code, str(exc), param=exc.param)
            return
        call_id = item.fields.get("call_id", "")
        if item.type == "function_call_output" and not self._conversation.function_call(call_id):
            self._error("invalid_value", f"Tool call ID {call_id!r} not found in conversation: "
                        "a function_call_output must answer a function_call item's call_id.",
                        param="item.call_id")
            return
        if self._conversation.get(item.id) is not None:
            self._error("invalid_value", f"Item with id {item.id!r} already exists.",
                        param="item.id")
            return
        try:
            previous = self._conversation.insert(item, after=event.previous_item_id)
        except KeyError:
            self._error("invalid_value", f"Error adding item: the previous item with id "
                        f"{event.previous_item_id!r} does not exist.", param="previous_item_id")
            return
        self._emit_item_added_done(item, previous)

    def _on_item_delete(self, event: ConversationItemDelete) -> None:
        item = self._item_named(event.item_id)
        if item is None:
            return
        if self._response is not None and self._response.item is item:
            self._finish_response("cancelled", "client_cancelled")
        self._conversation.delete(item.id)
        self._emit(ConversationItemDeleted(item_id=item.id))

    def _on_item_retrieve(self, event: ConversationItemRetrieve) -> None:
        item = self._item_named(event.item_id)
        if item is not None:
            self._emit(ConversationItemRetrieved(
                item=render_item(item, self.shape, with_audio=True)))

    def _item_named(self, item_id: str) -> Item | None:
        item = self._conversation.get(item_id)
        if item is None:
            self._error("invalid_value", f"Item with item_id {item_id!r} not found.",
                        param="item_id")
        return item

    def _on_truncate(self, event: ConversationItemTruncate) -> None:
        item = self._item_named(event.item_id)
        if item is None:
            return
        if not item.is_assistant_audio():
            self._error("invalid_value", f"Only model output audio messages can be truncated; "
                        f"item {item.id!r} is a {item.role or item.type} item without output "
                        "audio.", param="item_id")
            return
        if event.content_index != 0:
            self._error("invalid_value", f"Invalid content_index {event.content_index}: item "
                        f"{item.id!r} has its audio at content_index 0.", param="content_index")
            return
        if event.audio_end_ms < 0:
            self._error("invalid_value", f"audio_end_ms must be >= 0, got {event.audio_end_ms}.",
                        param="audio_end_ms")
            return
        if event.audio_end_ms > item.audio_ms:
            self._error("invalid_value", f"Audio content of {int(item.audio_ms)}ms is already "
                        f"shorter than {event.audio_end_ms}ms", param="audio_end_ms")
            return
        if self._response is not None and self._response.item is item:
            self._finish_response("cancelled", "client_cancelled")
        del item.audio[event.audio_end_ms * _BYTES_PER_MS :]
        item.words = tuple(w for w in item.words if w.end_ms <= event.audio_end_ms)
        item.parts[0].transcript = " ".join(w.word for w in item.words)
        self._truncations += 1
        self._emit(ConversationItemTruncated(item_id=item.id, content_index=0,
                                             audio_end_ms=event.audio_end_ms))

    def _emit_item_added_done(self, item: Item, previous: str | None) -> None:
        rendered = render_item(item, self.shape)
        self._emit(ConversationItemAdded(item=rendered, previous_item_id=previous))
        self._emit(ConversationItemDone(item=rendered, previous_item_id=previous))

    # -----------------------------------------------------------------------------------------
    # Responses
    # -----------------------------------------------------------------------------------------

    def _on_response_create(self, event: ResponseCreate, now: float) -> None:
        if self._response is not None:
            self._error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: "
                f"{self._response.id}. Wait until the response is finished before creating "
                "a new one.",
            )
            return
        try:
            params = response_params(event.response, self._config, self.shape)
        except RequestError as exc:
            self._error(exc.code, str(exc), param=exc.param)
            return
        self._start_response(now, params)

    def _start_response(self, now: float, params: ResponseParams | None = None) -> None:
        if params is None:  # a turn's automatic response: the session's settings
            params = response_params(None, self._config, self.shape)
        cut_short = False
        stream: Playout | ArgumentStream
        request, answered = self._conversation.latest_request()
        tool = choose_tool(params.tools, params.tool_choice, request, answered=answered)
        if tool is not None:
            item = Item(id=self._new_id("item"), type="function_call", status="in_progress",
                        fields={"name": tool.name, "call_id": self._new_id("call"),
                                "arguments": ""})
            stream = ArgumentStream(
                json.dumps(arguments_for(tool.parameters)), start=now,
                first_latency_ms=self._options.first_audio_latency_ms,
                chunk_ms=self._options.chunk_ms, generation_speed=self._options.generation_speed)
            self._function_calls += 1
        else:
            text = self._reply_text()
            if text is None:
                return
            speech = self._voice(params.voice).synthesize(text)
            kept = _words_within(speech, params)
            cut_short = kept < len(speech.words)
            if cut_short:
                speech = _first_words(speech, kept)
            item = Item(id=self._new_id("item"), role="assistant", status="in_progress",
                        words=speech.words)
            stream = Playout(
                speech,
                start=now,
                first_audio_latency_ms=self._options.first_audio_latency_ms,
                chunk_ms=self._options.chunk_ms,
                generation_speed=self._options.generation_speed,
            )
        response_id = self._new_id("resp")
        prompt = prompt_tokens(self._config.instructions or "", self._conversation)
        info = ResponseInfo(
            id=response_id,
            conversation_id=self._conversation_id if params.in_conversation else None,
            output_modalities=params.modalities,
            max_output_tokens=params.max_output_tokens,
            metadata=params.metadata,
            voice=params.voice,
            output_audio_format={"type": "audio/pcm", "rate": PCM_SAMPLE_RATE},
            temperature=params.temperature,
        )
        self._created += 1
        self._emit(ResponseCreated(response=info))
        self._emit(ResponseOutputItemAdded(response_id=response_id,
                                           item=render_item(item, self.shape)))
        if params.in_conversation:
            previous = self._conversation.insert(item)
            self._emit(ConversationItemAdded(item=render_item(item, self.shape),
                                             previous_item_id=previous))
        if isinstance(stream, Playout):
            item.parts.append(ContentPart("output_audio", transcript="") if params.audio
                              else ContentPart("output_text", text=""))
            self._emit(ResponseContentPartAdded(response_id=response_id, item_id=item.id,
                                                part=_part_json(item.parts[0])))
        self._response = _ActiveResponse(id=response_id, item=item, stream=stream,
                                         params=params, info=info, prompt=prompt,
                                         cut_short=cut_short)
        self.advance(now)

    def _reply_text(self) -> str | None:
        """What the next reply says: the function outputs since the last message, quoted, or
        else the responder's reply (``None`` after an ``error`` if the responder raised)."""
        outputs = self._conversation.outputs_to_speak()
        if outputs:
            return quote_outputs(outputs)
        try:
            return self._responder.reply(self._conversation.turns())
        except Exception:
            logger.exception("responder failed")
            self._error("server_error", "The responder raised while producing a reply.",
                        error_type="server_error")
            return None

    def _on_cancel(self, event: ResponseCancel) -> None:
        if self._response is None:
            self._error("response_cancel_not_active",
                        "Cancellation failed: no active response found")
        elif event.response_id is not None and event.response_id != self._response.id:
            self._error("response_cancel_not_active",
                        f"Cancellation failed: response {event.response_id!r} is not active "
                        f"(the active response is {self._response.id!r})", param="response_id")
        else:
            self._finish_response("cancelled", "client_cancelled")

    def _finish_response(self, status: Literal["completed", "cancelled", "incomplete"],
                         reason: str | None) -> None:
        """End the active response: part, item and response done events, in that order."""
        response = self._response
        assert response is not None
        self._response = None  # nothing of this response is released after this point
        item = response.item
        item.status = "completed" if status == "completed" else "incomplete"
        if item.type == "function_call":
            # Cut short, the arguments are not done: the item ends incomplete with what was
            # sent, and no client should run the call.
            if status == "completed":
                self._emit(ResponseFunctionCallArgumentsDone(
                    response_id=response.id, item_id=item.id, call_id=item.fields["call_id"],
                    arguments=item.fields["arguments"],
                    name=item.fields["name"] if self.shape == "ga" else None))
        else:
            self._finish_content_part(response)
        rendered = render_item(item, self.shape)
        self._emit(ResponseOutputItemDone(response_id=response.id, item=rendered))
        if response.params.in_conversation:
            self._emit(ConversationItemDone(
                item=rendered, previous_item_id=self._conversation.previous_id(item.id)))
        usage = response_usage(response.prompt, output_tokens(item), self.shape)
        details = None if reason is None else StatusDetails(type=status, reason=reason)
        self._emit(self._spend_tokens(usage.total_tokens or 0))
        self._emit(ResponseDone(response=attrs.evolve(
            response.info, status=status, status_details=details, output=(rendered,),
            usage=usage)))
        if status == "cancelled":
            self._cancelled += 1
        else:
            self._completed += 1
        logger.debug("response %s %s (%s)", response.id, status, reason or "done")

    def _finish_content_part(self, response: _ActiveResponse) -> None:
        """The done events of an assistant message's content part (audio or text)."""
        item = response.item
        part = item.parts[0]
        if response.params.audio:
            self._emit(ResponseOutputAudioDone(response_id=response.id, item_id=item.id))
            self._emit(ResponseOutputAudioTranscriptDone(
                response_id=response.id, item_id=item.id, transcript=part.transcript or ""))
        else:
            self._emit(ResponseOutputTextDone(response_id=response.id, item_id=item.id,
                                              text=part.text or ""))
        self._emit(ResponseContentPartDone(response_id=response.id, item_id=item.id,
                                           part=_part_json(part)))

    def _spend_tokens(self, spent: int) -> RateLimitsUpdated:
        """Take ``spent`` tokens from the rate-limit bucket (it refills at the per-minute rate)
        and report what is left."""
        per_second = self._options.tokens_per_minute / 60.0
        refilled = (self._now - self._bucket_checked) * per_second
        self._bucket_checked = self._now
        self._tokens_in_bucket = max(0.0, self._tokens_in_bucket - refilled) + spent
        limit = self._options.tokens_per_minute
        return RateLimitsUpdated(rate_limits=({
            "name": "tokens",
            "limit": limit,
            "remaining": max(0, limit - round(self._tokens_in_bucket)),
            "reset_seconds": round(self._tokens_in_bucket / per_second, 3),
        },))

    def _voice(self, name: str) -> SyntheticVoice:
        if self._fixed_voice is not None:
            return self._fixed_voice
        voice = self._voices.get(name)
        if voice is None:
            # Each voice name gets its own stable pitch and seed, so voices sound different.
            digest = zlib.crc32(name.encode())
            voice = SyntheticVoice(seed=digest, pitch_hz=110.0 + digest % 110)
            self._voices[name] = voice
        return voice

    # -----------------------------------------------------------------------------------------
    # Output helpers
    # -----------------------------------------------------------------------------------------

    def _emit(self, event: ServerEvent) -> None:
        if isinstance(event, UnknownServerEvent) or type(event) not in SENT_SERVER_EVENTS:
            raise LocalProtocolError(f"the server sent a {type(event).__name__}, which is not in "
                                     "SENT_SERVER_EVENTS; add it there (and to the tests)")
        if self._closed:
            return
        if self.shape == "beta" and isinstance(event, _NOT_IN_BETA):
            return
        self._outbox.append(attrs.evolve(event, event_id=self._new_id("event")))

    def _error(self, code: str, message: str, *, param: str | None = None,
               error_type: str = "invalid_request_error") -> None:
        self._errors[code] += 1
        logger.debug("session %s error %s: %s", self._id, code, message)
        self._emit(ServerError(error=ErrorInfo(type=error_type, code=code, message=message,
                                               param=param, event_id=self._client_event_id)))

    def _new_id(self, prefix: str) -> str:
        return prefix + "_" + "".join(self._rng.choices(_ID_ALPHABET, k=22))


def _part_json(part: ContentPart) -> dict[str, Any]:
    """A content part as ``response.content_part.*`` carry it: type ``audio`` or ``text`` in
    both shapes."""
    if part.type == "output_text":
        return {"type": "text", "text": part.text or ""}
    return {"type": "audio", "transcript": part.transcript or ""}


def _words_within(speech: SpeechAudio, params: ResponseParams) -> int:
    """How many of the reply's words fit in the response's ``max_output_tokens``."""
    limit = params.max_output_tokens
    if limit == "inf":
        return len(speech.words)
    for count in range(len(speech.words)):
        words = speech.words[: count + 1]
        tokens = text_tokens(" ".join(w.word for w in words))
        if params.audio:
            tokens += audio_tokens(words[-1].end_ms, assistant=True)
        if tokens > limit:
            return count
    return len(speech.words)


def _first_words(speech: SpeechAudio, count: int) -> SpeechAudio:
    """The speech up to the end of its first ``count`` words."""
    end_ms = speech.words[count - 1].end_ms if count else 0.0
    end = int(end_ms * speech.sample_rate / 1000)
    return SpeechAudio(speech.samples[:end], speech.words[:count], speech.sample_rate)


def _json_name(value: object) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _or(value: int | None, default: int | None) -> int:
    if value is not None:
        return value
    assert default is not None
    return default


def _with_vad_defaults(turn: TurnDetection) -> TurnDetection:
    """Fill the unset ``server_vad`` numbers with the service defaults, as it reports them."""
    if turn.type != "server_vad":
        return turn
    defaults = DEFAULT_TURN_DETECTION
    return attrs.evolve(
        turn,
        threshold=turn.threshold if turn.threshold is not None else defaults.threshold,
        prefix_padding_ms=_or(turn.prefix_padding_ms, defaults.prefix_padding_ms),
        silence_duration_ms=_or(turn.silence_duration_ms, defaults.silence_duration_ms),
    )


def _turn_detection_problem(turn: TurnDetection, path: str) -> tuple[str, str] | None:
    """``(param, message)`` for the first out-of-range turn detection number, if any."""
    if turn.threshold is not None and not 0.0 <= turn.threshold <= 1.0:
        return (f"{path}.threshold",
                f"{path}.threshold must be between 0.0 and 1.0, got {turn.threshold!r}")
    for name in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        value = getattr(turn, name)
        if value is not None and value < 0:
            return f"{path}.{name}", f"{path}.{name} must be >= 0 ms, got {value!r}"
    return None


def _has_path(payload: Mapping[str, Any], path: str) -> bool:
    node: object = payload
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node or node[key] is None:
            return False
        node = node[key]
    return True
