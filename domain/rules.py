"""The rules: `decide(state, command, now=..., config=...)` -> the events it causes.

One table, `DECIDERS`, from each command to the function that decides it;
each feature keeps its own deciders beside each other (`domain.identity`,
`domain.messages`, `domain.rooms`, `domain.schedule`, `domain.moderation`,
`domain.polling`), over what they all read (`domain.state`).
"""

from __future__ import annotations

from domain import identity, messages, moderation, polling, rooms, schedule
from domain.commands import Command
from domain.state import ChatState, Decider, Events, RulesConfig

DECIDERS: dict[type[Command], Decider] = {
    **identity.DECIDERS,
    **messages.DECIDERS,
    **schedule.DECIDERS,
    **rooms.DECIDERS,
    **moderation.DECIDERS,
    **polling.DECIDERS,
}


def decide(state: ChatState, command: Command, *, now: float, config: RulesConfig) -> Events:
    """The events a command causes in this state.

    Raises DomainError (a subclass) when a rule refuses the command.
    """
    return DECIDERS[type(command)](state, command, now, config)
