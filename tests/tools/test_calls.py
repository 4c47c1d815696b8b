"""Tests for realtalk.tools.calls: the tool-call ledger's rules, one by one, on explicit time."""

from __future__ import annotations

import json
from typing import Any, Literal

import pytest

from realtalk import wire as ev
from realtalk.errors import ConfigurationError
from realtalk.tools import Tool, tool
from realtalk.tools.calls import (
    KEPT_SETTLED,
    CancelTool,
    RunTool,
    ToolCallCancelled,
    ToolCallFinished,
    ToolCalls,
    ToolCallStarted,
    ToolOutput,
    error_output,
    result_output,
)


@tool
def lookup_order(order_id: str) -> str:
    """Look up an order."""
    return f"order {order_id} ships tomorrow"


@tool(on_interrupt="cancel", timeout_s=5.0)
def transfer_call(department: Literal["sales", "support"]) -> str:
    """Transfer the caller."""
    return f"transferred to {department}"


def _ledger(*tools: Tool, max_tool_steps: int = 3) -> ToolCalls:
    return ToolCalls(tools or (lookup_order, transfer_call), max_tool_steps=max_tool_steps)


def _item(call_id: str, name: str, arguments: str = "", status: str = "in_progress",
          ) -> dict[str, Any]:
    return {"type": "function_call", "id": f"item_{call_id}", "call_id": call_id, "name": name,
            "arguments": arguments, "status": status}


def _created(rid: str) -> ev.ResponseCreated:
    return ev.ResponseCreated(response=ev.ResponseInfo(id=rid))


def _done(rid: str, *items: dict[str, Any],
          status: Literal["completed", "cancelled"] = "completed") -> ev.ResponseDone:
    return ev.ResponseDone(response=ev.ResponseInfo(id=rid, status=status, output=items))


def _call(ledger: ToolCalls, rid: str, call_id: str, name: str, arguments: str, *,
          now: float = 0.0) -> None:
    """The events of one complete function call in response ``rid``."""
    ledger.server_event(ev.ResponseOutputItemAdded(response_id=rid, item=_item(call_id, name)),
                        now)
    ledger.server_event(ev.ResponseFunctionCallArgumentsDone(
        response_id=rid, item_id=f"item_{call_id}", call_id=call_id, arguments=arguments,
        name=name), now)
    ledger.server_event(ev.ResponseOutputItemDone(
        response_id=rid, item=_item(call_id, name, arguments, "completed")), now)


def _kinds(outputs: list[ToolOutput]) -> list[str]:
    return [type(o).__name__ for o in outputs]


def _sent_outputs(outputs: list[ToolOutput]) -> dict[str, str]:
    return {o.item["call_id"]: o.item["output"] for o in outputs
            if isinstance(o, ev.ConversationItemCreate)}


def test_a_call_runs_once_its_arguments_are_complete_and_is_answered_once() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A7"}', now=0.5)
    (run, started) = ledger.outputs()
    assert isinstance(run, RunTool) and dict(run.arguments) == {"order_id": "A7"}
    assert isinstance(started, ToolCallStarted) and started.at == 0.5
    # response.done repeats the call: nothing runs again.
    ledger.server_event(_done("r1", _item("c1", "lookup_order", '{"order_id": "A7"}',
                                          "completed")), 0.6)
    assert ledger.outputs() == []
    ledger.finished("c1", 0.9, result="ships tomorrow")
    out = ledger.outputs()
    assert _kinds(out) == ["ConversationItemCreate", "ToolCallFinished", "ResponseCreate"]
    assert _sent_outputs(out) == {"c1": "ships tomorrow"}
    finished = out[1]
    assert isinstance(finished, ToolCallFinished)
    assert finished.duration_s == pytest.approx(0.4) and finished.error is None
    assert ledger.unanswered == []
    ledger.finished("c1", 1.0, result="again")  # a second report is dropped
    assert ledger.outputs() == []


def test_the_follow_up_waits_for_every_call_of_the_response() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    _call(ledger, "r1", "c2", "lookup_order", '{"order_id": "B"}')
    ledger.server_event(_done("r1"), 0.1)
    ledger.outputs()
    ledger.finished("c2", 0.2, result="b")
    assert "ResponseCreate" not in _kinds(ledger.outputs())
    ledger.finished("c1", 0.3, result="a")
    assert _kinds(ledger.outputs()).count("ResponseCreate") == 1


def test_the_follow_up_waits_for_the_response_to_be_done() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.finished("c1", 0.1, result="a")
    assert "ResponseCreate" not in _kinds(ledger.outputs())
    ledger.server_event(_done("r1"), 0.2)
    assert _kinds(ledger.outputs()) == ["ResponseCreate"]


def test_bad_arguments_and_unknown_tools_are_answered_with_an_error_not_run() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order": 7}')
    _call(ledger, "r1", "c2", "launch_rocket", "{}")
    out = ledger.outputs()
    assert "RunTool" not in _kinds(out)
    sent = _sent_outputs(out)
    assert "order_id" in json.loads(sent["c1"])["error"]
    assert "no tool named 'launch_rocket'" in json.loads(sent["c2"])["error"]
    assert "lookup_order" in json.loads(sent["c2"])["error"]  # the tools it may call
    errors = [o for o in out if isinstance(o, ToolCallFinished)]
    assert [e.duration_s for e in errors] == [None, None]
    ledger.server_event(_done("r1"), 0.1)
    assert _kinds(ledger.outputs()) == ["ResponseCreate"]  # the model may correct itself


def test_a_tool_that_raises_is_an_error_output_and_an_event() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.outputs()
    ledger.finished("c1", 0.1, error="KeyError: 'A'")
    out = ledger.outputs()
    assert json.loads(_sent_outputs(out)["c1"]) == {"error": "lookup_order failed: KeyError: 'A'"}
    (finished,) = [o for o in out if isinstance(o, ToolCallFinished)]
    assert finished.error == "KeyError: 'A'"


def test_user_speech_cancels_a_cancel_policy_call_and_lets_a_finish_policy_call_run() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    _call(ledger, "r1", "c2", "transfer_call", '{"department": "sales"}')
    ledger.server_event(_done("r1"), 0.1)
    ledger.outputs()
    ledger.user_spoke(0.5)
    out = ledger.outputs()
    assert out[0] == CancelTool("c2")
    assert "the user interrupted" in _sent_outputs(out)["c2"]
    assert [type(o) for o in out if isinstance(o, ToolCallCancelled)] == [ToolCallCancelled]
    assert [c.call_id for c in ledger.running] == ["c1"]
    # The finishing call is delivered, but no follow-up starts over the user.
    ledger.finished("c1", 0.8, result="a")
    out = ledger.outputs()
    assert _sent_outputs(out) == {"c1": "a"}
    assert "ResponseCreate" not in _kinds(out)
    ledger.finished("c2", 0.9, result="late")  # the cancelled run's result is dropped
    assert ledger.outputs() == []


def test_the_output_of_a_call_whose_response_was_cancelled_is_still_delivered() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.user_spoke(0.2)  # the barge-in that cancels r1
    ledger.server_event(_done("r1", _item("c1", "lookup_order", '{"order_id": "A"}',
                                          "completed"), status="cancelled"), 0.3)
    ledger.outputs()
    ledger.finished("c1", 1.0, result="ships")
    assert _sent_outputs(ledger.outputs()) == {"c1": "ships"}
    assert ledger.unanswered == []


def test_a_call_cut_off_before_its_arguments_completed_is_answered_as_not_run() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    ledger.server_event(ev.ResponseOutputItemAdded(
        response_id="r1", item=_item("c1", "lookup_order")), 0.1)
    ledger.server_event(_done("r1", _item("c1", "lookup_order", '{"ord', "incomplete"),
                              status="cancelled"), 0.2)
    out = ledger.outputs()
    assert "RunTool" not in _kinds(out)
    assert "not completed" in _sent_outputs(out)["c1"]
    (cancelled,) = [o for o in out if isinstance(o, ToolCallCancelled)]
    assert cancelled.call.arguments == '{"ord'
    assert ledger.unanswered == []


def test_a_call_seen_only_in_response_done_still_runs_once() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    ledger.server_event(_done("r1", _item("c1", "lookup_order", '{"order_id": "A"}',
                                          "completed")), 0.1)
    assert _kinds(ledger.outputs()) == ["RunTool", "ToolCallStarted"]


def test_a_call_past_its_timeout_is_stopped_and_answered() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "transfer_call", '{"department": "support"}', now=1.0)
    ledger.server_event(_done("r1"), 1.0)
    ledger.outputs()
    assert ledger.next_deadline() == 6.0
    ledger.tick(5.9)
    assert ledger.outputs() == []
    ledger.tick(6.0)
    out = ledger.outputs()
    assert out[0] == CancelTool("c1")
    assert "timed out after 5 s" in _sent_outputs(out)["c1"]
    assert _kinds(out)[-1] == "ResponseCreate"
    assert ledger.next_deadline() is None


def test_the_follow_up_waits_while_another_response_is_in_progress() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.server_event(_done("r1"), 0.1)
    ledger.server_event(_created("r2"), 0.2)  # the app asked for one, say
    ledger.outputs()
    ledger.finished("c1", 0.3, result="a")
    assert "ResponseCreate" not in _kinds(ledger.outputs())
    ledger.server_event(_done("r2"), 0.4)
    assert _kinds(ledger.outputs()) == ["ResponseCreate"]


def test_a_committed_user_turn_replaces_the_follow_up() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.server_event(_done("r1"), 0.1)
    ledger.server_event(ev.InputAudioBufferCommitted(item_id="u2"), 0.5)
    ledger.finished("c1", 0.6, result="a")
    out = ledger.outputs()
    assert _sent_outputs(out) == {"c1": "a"} and "ResponseCreate" not in _kinds(out)


def test_max_tool_steps_ends_a_chain_with_a_follow_up_that_forbids_calls() -> None:
    ledger = _ledger(max_tool_steps=2)
    creates: list[ev.ResponseCreate] = []
    for step in range(4):
        rid, cid = f"r{step}", f"c{step}"
        ledger.server_event(_created(rid), step)
        _call(ledger, rid, cid, "lookup_order", '{"order_id": "A"}', now=step)
        ledger.server_event(_done(rid), step + 0.1)
        ledger.finished(cid, step + 0.2, result="a")
        creates += [o for o in ledger.outputs() if isinstance(o, ev.ResponseCreate)]
    assert [c.response for c in creates] == [None, {"tool_choice": "none"}]
    ledger.user_turn()  # a new turn starts a new chain
    ledger.server_event(_created("r9"), 9.0)
    _call(ledger, "r9", "c9", "lookup_order", '{"order_id": "A"}', now=9.0)
    ledger.server_event(_done("r9"), 9.1)
    ledger.finished("c9", 9.2, result="a")
    assert [o.response for o in ledger.outputs() if isinstance(o, ev.ResponseCreate)] == [None]


def test_outputs_are_strings_as_is_and_json_otherwise_and_bounded() -> None:
    assert result_output("plain") == "plain"
    assert json.loads(result_output({"n": 1, "when": object()}))["n"] == 1
    assert result_output(None) == "null"
    assert result_output("x" * 20_000).endswith(" [cut]")
    assert json.loads(error_output("bad")) == {"error": "bad"}


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"tools": [lookup_order, lookup_order]}, "two tools are named 'lookup_order'"),
    ({"tools": [print]}, "expected realtalk.Tool objects in tools"),
    ({"tools": [], "max_tool_steps": 0}, "max_tool_steps must be an integer >= 1, got 0"),
])
def test_bad_settings_are_named(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        ToolCalls(**kwargs)


def test_a_follow_up_waits_while_speech_may_be_starting_and_goes_if_it_was_not() -> None:
    ledger = _ledger()
    ledger.server_event(_created("r1"), 0.0)
    _call(ledger, "r1", "c1", "lookup_order", '{"order_id": "A"}')
    ledger.server_event(_done("r1"), 0.1)
    ledger.outputs()
    ledger.hold(True)  # the detector hears what may be the user starting to talk
    ledger.finished("c1", 0.2, result="a")
    assert "ResponseCreate" not in _kinds(ledger.outputs())
    ledger.hold(False)  # it was not speech
    assert _kinds(ledger.outputs()) == ["ResponseCreate"]


def test_a_long_conversation_keeps_only_the_last_settled_calls() -> None:
    """Calls answered and followed up are forgotten past the last KEPT_SETTLED responses; a
    late result for one is dropped as for any answered call, and a call still running is
    kept however old."""
    ledger = _ledger()
    ledger.server_event(_created("slow"), 0.0)
    _call(ledger, "slow", "c_slow", "lookup_order", '{"order_id": "S"}')
    ledger.server_event(_done("slow"), 0.0)
    for n in range(3 * KEPT_SETTLED):
        ledger.user_turn()
        ledger.server_event(_created(f"r{n}"), float(n))
        _call(ledger, f"r{n}", f"c{n}", "lookup_order", '{"order_id": "A"}', now=float(n))
        ledger.server_event(_done(f"r{n}"), float(n))
        ledger.finished(f"c{n}", float(n), result="ok")
        ledger.outputs()
    assert len(ledger._calls) <= KEPT_SETTLED + 2  # the last settled, the running, the newest
    assert [c.call_id for c in ledger.running] == ["c_slow"]
    ledger.finished("c0", 99.0, result="late")
    assert ledger.outputs() == []
    ledger.finished("c_slow", 99.0, result="done at last")
    assert _sent_outputs(ledger.outputs()) == {"c_slow": "done at last"}
