"""Tests for realtalk.relay.ownership: which ids a client's session owns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from realtalk.relay.ownership import IdRegistry, SessionOwnership
from realtalk.wire import (
    ConversationItemAdded,
    InputAudioBufferCommitted,
    ResponseCreated,
    ResponseDone,
    ResponseInfo,
    SessionCreated,
    to_dict,
)


def _alice(registry: IdRegistry) -> SessionOwnership:
    """A session that has seen a typical response's events."""
    own = SessionOwnership("alice", registry)
    for event in (
        SessionCreated(session={"id": "sess_A", "type": "realtime"}),
        InputAudioBufferCommitted(item_id="item_user"),
        ResponseCreated(response=ResponseInfo(id="resp_1")),
        ConversationItemAdded(item={"id": "item_ai", "type": "message", "role": "assistant"}),
        ResponseDone(response=ResponseInfo(id="resp_1", status="completed",
                                           output=({"id": "item_out"},))),
    ):
        own.observe_server(to_dict(event))
    return own


CHECKS: list[tuple[str, Callable[[str], dict[str, Any]], str]] = [
    ("response.cancel", lambda x: {"response_id": x}, "response_id"),
    ("conversation.item.truncate", lambda x: {"item_id": x, "audio_end_ms": 1}, "item_id"),
    ("conversation.item.delete", lambda x: {"item_id": x}, "item_id"),
    ("conversation.item.retrieve", lambda x: {"item_id": x}, "item_id"),
    ("conversation.item.create", lambda x: {"previous_item_id": x, "item": {}},
     "previous_item_id"),
    ("response.create", lambda x: {"response": {"input": [
        {"type": "message"}, {"type": "item_reference", "id": x}]}}, "response.input[1].id"),
    ("session.update", lambda x: {"session": {"id": x}}, "session.id"),
    ("input_audio_buffer.commit", lambda x: {"session_id": x}, "session_id"),
]


@pytest.mark.parametrize(("event_type", "fields", "field"), CHECKS)
def test_ids_seen_on_the_session_pass_and_others_are_refused(
    event_type: str, fields: Callable[[str], dict[str, Any]], field: str,
) -> None:
    """Each id-naming field accepts this session's ids and refuses another's, naming it."""
    registry = IdRegistry()
    alice, bob = _alice(registry), SessionOwnership("bob", registry)
    bob.observe_server({"type": "session.created", "session": {"id": "sess_B"}})
    bob.observe_server({"type": "response.created", "response": {"id": "resp_b"}})
    bob.observe_server({"type": "conversation.item.added", "item": {"id": "item_b"}})
    own_value = {"session_id": "sess_A", "session.id": "alice"}.get(
        field, "resp_1" if field == "response_id" else "item_ai")
    foreign_value = {"session_id": "sess_B", "session.id": "bob"}.get(
        field, "resp_b" if field == "response_id" else "item_b")

    assert alice.check(event_type, {"type": event_type, **fields(own_value)}) is None
    violation = alice.check(event_type, {"type": event_type, **fields(foreign_value)})
    assert violation is not None
    assert (violation.field, violation.value, violation.owner) == (field, foreign_value, "bob")
    assert violation.refusal.code == "session_not_owned"
    assert violation.refusal.param == field and repr(foreign_value) in violation.refusal.message
    unknown = alice.check(event_type, {"type": event_type, **fields("nobody_has_this")})
    assert unknown is not None and unknown.owner is None


def test_events_naming_nothing_pass() -> None:
    """Events without ids (or with null ones, or previous_item_id root) pass."""
    own = SessionOwnership("s1")
    cases: list[tuple[str, dict[str, Any]]] = [
        ("response.cancel", {}),
        ("response.cancel", {"response_id": None}),
        ("input_audio_buffer.append", {"audio": ""}),
        ("conversation.item.create", {"previous_item_id": "root", "item": {}}),
        ("conversation.item.create", {"item": {"id": "mine"}}),
        ("session.update", {"session": {"voice": "ash"}}),
        ("response.create", {"response": {"input": [{"type": "message", "id": "new"}]}}),
    ]
    for event_type, payload in cases:
        assert own.check(event_type, {"type": event_type, **payload}) is None, payload
    assert own.check("response.cancel", {"response_id": 7}) is not None  # not even a string


@pytest.mark.parametrize("value", [["sess_A"], {"id": "sess_A"}, 7, list(range(10_000))])
def test_ids_of_the_wrong_type_are_refused_not_raised(value: object) -> None:
    """A session id or item id that is a list, an object or a number is refused; the refusal
    shows it cut short."""
    own = SessionOwnership("alice")
    for field in ("session_id", "item_id"):
        violation = own.check("conversation.item.delete", {field: value})
        assert violation is not None and violation.refusal.code == "session_not_owned"
        assert violation.field == field and len(violation.refusal.message) < 300


def test_client_chosen_item_ids_become_its_own() -> None:
    """An item id the client gave in conversation.item.create may be named afterwards."""
    own = SessionOwnership("s1")
    assert own.check("conversation.item.delete", {"item_id": "my_note"}) is not None
    own.observe_client({"type": "conversation.item.create", "item": {"id": "my_note"}})
    assert own.check("conversation.item.delete", {"item_id": "my_note"}) is None


def test_deletion_replacement_and_close_release_ids() -> None:
    """A deleted item, a replaced upstream's ids and a closed session's ids are released."""
    registry = IdRegistry()
    own = _alice(registry)
    assert registry.owner_of("item_ai") == "alice" and own.owns("item_out")
    own.observe_server({"type": "conversation.item.deleted", "item_id": "item_ai"})
    assert registry.owner_of("item_ai") is None and not own.owns("item_ai")
    own.forget_upstream()
    assert not own.owns("resp_1") and registry.owner_of("resp_1") is None
    assert registry.owner_of("alice") == "alice"  # the session itself is still there
    assert own.upstream_session_ids == frozenset({"sess_A"})
    own.close()
    assert len(registry) == 0


def test_the_first_claim_of_an_id_wins() -> None:
    """Another session later seeing the same id string does not steal it in the registry."""
    registry = IdRegistry()
    SessionOwnership("a", registry).observe_server({"type": "x", "item_id": "dup"})
    b = SessionOwnership("b", registry)
    b.observe_server({"type": "x", "item_id": "dup"})
    assert registry.owner_of("dup") == "a"
    assert b.check("conversation.item.delete", {"item_id": "dup"}) is None  # b saw it too


def test_audio_forwarded_per_item_in_pcm16_and_g711() -> None:
    """audio_ms counts 48 bytes a ms for PCM16 at 24 kHz, 8 for G.711 once configured."""
    own = SessionOwnership("s1")
    own.add_audio("item_1", 4800)
    own.add_audio("item_1", 2400)
    assert own.audio_ms("item_1") == 150.0
    assert own.audio_ms("never") == 0.0
    own.observe_server({"type": "session.updated", "session": {
        "audio": {"output": {"format": {"type": "audio/pcmu"}}}}})
    assert own.audio_ms("item_1") == 900.0
    own.observe_server({"type": "session.updated", "session": {"output_audio_format": "pcm16"}})
    assert own.audio_ms("item_1") == 150.0
