"""Scheduled messages: `/send` with `send_at` answers 202 with one, `/scheduled` lists them."""

from __future__ import annotations

from app import ScheduledView
from tests.transport.api.shapes import schema_validator
from transport.api.routes import openapi_document
from transport.api.schedule import scheduled_json

SCHEDULED = schema_validator("Scheduled")


def test_a_scheduled_message_to_general_names_its_room() -> None:
    # A message scheduled without `room` or `to` goes to general, and says so.
    written = scheduled_json(
        ScheduledView(id=25, author="alice", text="t", send_at=1.0, status="pending")
    )
    assert written["room"] == "general"
    assert "to" not in written
    assert SCHEDULED.is_valid(written)


def test_send_documents_the_scheduled_answer_and_cancel_its_id() -> None:
    paths = openapi_document()["paths"]
    accepted = paths["/send"]["post"]["responses"]["202"]["content"]["application/json"]
    assert accepted["schema"] == {"$ref": "#/components/schemas/ScheduledAccepted"}
    cancel = paths["/scheduled/{id}"]["delete"]
    [identifier] = cancel["parameters"]
    assert identifier["schema"]["minimum"] == 1
    assert {"204", "404", "409"} <= set(cancel["responses"])
