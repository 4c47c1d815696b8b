"""The transition table, tested over every (state, trigger) pair."""

from __future__ import annotations

import itertools

import pytest

from realtalk.errors import LocalProtocolError
from realtalk.session.state import TRANSITIONS, State, StateMachine, Trigger


def _machine_in(state: State) -> StateMachine:
    machine = StateMachine()
    machine._state = state
    return machine


@pytest.mark.parametrize(("state", "trigger"), list(itertools.product(State, Trigger)))
def test_every_pair(state: State, trigger: Trigger) -> None:
    """Listed pairs reach their target; all others raise and leave the state unchanged."""
    machine = _machine_in(state)
    if (state, trigger) in TRANSITIONS:
        assert machine.can(trigger)
        assert machine.fire(trigger) is TRANSITIONS[state, trigger]
        assert machine.state is TRANSITIONS[state, trigger]
    else:
        assert not machine.can(trigger)
        with pytest.raises(LocalProtocolError, match=trigger.value):
            machine.fire(trigger)
        assert machine.state is state


def test_table_covers_the_design() -> None:
    """The design's states are all reachable from idle and each can return to idle."""
    reachable = {State.IDLE}
    frontier = [State.IDLE]
    while frontier:
        state = frontier.pop()
        for (src, _), dst in TRANSITIONS.items():
            if src is state and dst not in reachable:
                reachable.add(dst)
                frontier.append(dst)
    assert reachable == set(State)
    for state in (State.LISTENING, State.SPEAKING, State.CANCELLING):
        assert TRANSITIONS[state, Trigger.CLOSED] is State.IDLE


def test_starts_idle() -> None:
    """A new machine is idle."""
    assert StateMachine().state is State.IDLE
