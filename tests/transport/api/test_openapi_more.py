"""The later endpoints (rooms, links, comments, schedule, reports, files) keep their contract.

A live server (in a thread, 127.0.0.1:0, temporary data directory) runs one
scenario through every new endpoint: the successes and the errors each one
documents. Every answer is checked against the document the server itself
serves: the status must be listed for the operation (not only `default`),
a JSON body must match the schema of that status, and required headers must
be present. Then the document is checked the other way round: every status
an operation lists for itself was seen, and every documented event type was
delivered on `/events` and matches its schema.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jsonschema_rs
import pytest
import schemathesis
from attrs import define, field
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

from app import (
    MAX_INVITED_ON_CREATE,
    MAX_REASON_CHARS,
    CommentView,
    EventView,
    FileView,
    JoinRequestView,
    MessageView,
    ScheduledView,
    Settings,
    open_service,
)
from domain.files import MAX_FILE_NAME_BYTES
from domain.names import MAX_ROOM_NAME_CHARS
from eventstore import FsyncPolicy, MemoryEventLog
from tests.transport.api.test_schemathesis import CHECKS, LiveServer
from transport.api import ChatApi, mapping, openapi_more, routes
from transport.api.docs_page import docs_page
from transport.api.openapi import EVENT_SCHEMAS, openapi_document
from transport.server import Router

# The endpoints of issues 6, 7 and 8 (API.md): rooms, links, comments,
# scheduled messages, reports and files.
LATER_ENDPOINTS = {
    ("get", "/scheduled"),
    ("delete", "/scheduled/{id}"),
    ("post", "/messages/{id}/comments"),
    ("get", "/messages/{id}/comments"),
    ("post", "/rooms"),
    ("get", "/rooms"),
    ("post", "/rooms/{room}/members"),
    ("post", "/rooms/{room}/leave"),
    ("post", "/rooms/{room}/links"),
    ("delete", "/rooms/{room}/links/{token}"),
    ("post", "/join/{token}"),
    ("get", "/rooms/{room}/requests"),
    ("post", "/rooms/{room}/requests/{name}"),
    ("post", "/users/{name}/report"),
    ("post", "/files"),
    ("get", "/messages/{id}/file"),
}
# Event types of the later issues a client may see (API.md, Synchronisation).
LATER_EVENT_TYPES = {
    "message.commented",
    "room.join_requested",
    "room.join_decided",
    "message.scheduled",
    "message.cancelled",
    "message.schedule_failed",
    "user.banned",
}
MAX_FILE_BYTES = 4096
# The fuzzing's checks, and: the status is documented, the media type is the
# documented one, and the documented required headers are present.
STRICT_CHECKS = [
    *CHECKS,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
RATE_LIMIT = 3
REPORT_THRESHOLD = 3


def documented_operations(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item}


# ------------------------------------------------------------- the document


class RecordingRouter(Router):
    """A router that remembers what was added to it."""

    def __init__(self) -> None:
        super().__init__()
        self.added: set[tuple[str, str]] = set()

    def add(self, method: str, pattern: str, *args: Any, **kwargs: Any) -> None:
        self.added.add((method.lower(), pattern))
        super().add(method, pattern, *args, **kwargs)


def test_the_document_describes_exactly_the_routed_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(routes, "Router", RecordingRouter)

    async def routed() -> set[tuple[str, str]]:
        service = await open_service(
            Settings(scrypt_n=2**4, min_password_length=1, report_min_account_age_s=0.0),
            event_log=MemoryEventLog(),
        )
        try:
            router = ChatApi(service, service.settings).router()
        finally:
            await service.close()
        assert isinstance(router, RecordingRouter)
        return router.added

    added = asyncio.run(routed())
    assert added >= LATER_ENDPOINTS
    assert documented_operations(openapi_document()) == added


def test_every_visible_event_type_is_documented() -> None:
    assert set(EVENT_SCHEMAS) >= LATER_EVENT_TYPES
    schemas = openapi_document()["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_SCHEMAS)
    for event_type, name in EVENT_SCHEMAS.items():
        assert schemas[name]["properties"]["type"] == {"const": event_type}


def test_the_documented_limits_are_the_rules_limits() -> None:
    assert openapi_more.MAX_INVITED_ON_CREATE == MAX_INVITED_ON_CREATE
    assert openapi_more.MAX_REPORT_REASON_CHARS == MAX_REASON_CHARS
    assert openapi_more.MAX_FILE_NAME_BYTES == MAX_FILE_NAME_BYTES
    assert openapi_more.MAX_ROOM_NAME_CHARS == MAX_ROOM_NAME_CHARS


@given(
    text=st.integers(min_value=1, max_value=10**6),
    file_bytes=st.integers(min_value=1, max_value=2**40),
    ahead_days=st.integers(min_value=1, max_value=3650),
    threshold=st.integers(min_value=1, max_value=100),
)
def test_limits_of_the_later_endpoints_follow_the_settings(
    text: int, file_bytes: int, ahead_days: int, threshold: int
) -> None:
    settings = Settings(
        max_text_length=text,
        max_file_bytes=file_bytes,
        max_schedule_ahead_s=ahead_days * 86400.0,
        report_threshold=threshold,
    )
    document = openapi_document(settings)
    schemas = document["components"]["schemas"]
    assert schemas["CommentRequest"]["properties"]["text"]["maxLength"] == text
    assert schemas["FileInfo"]["properties"]["size"]["maximum"] == file_bytes
    upload = document["paths"]["/files"]["post"]
    body = upload["requestBody"]["content"]["application/octet-stream"]["schema"]
    assert body["description"] == f"At most {file_bytes} bytes."
    assert f"over {file_bytes} bytes" in upload["responses"]["413"]["description"]
    assert (
        f"at most {ahead_days:g} days ahead"
        in schemas["SendRequest"]["properties"]["send_at"]["description"]
    )
    assert (
        f"{threshold} distinct reporters"
        in (document["paths"]["/users/{name}/report"]["post"]["description"])
    )


def test_the_document_with_the_later_endpoints_is_valid_openapi_3_1() -> None:
    OPENAPI_31_VALIDATOR.validate(openapi_document(Settings(max_file_bytes=10)))


def test_uploads_are_raw_bytes_and_downloads_any_media_type() -> None:
    document = openapi_document()
    upload = document["paths"]["/files"]["post"]
    assert set(upload["requestBody"]["content"]) == {"application/octet-stream", "*/*"}
    assert "415" not in upload["responses"]  # any Content-Type is a file's type
    assert "`too_large`" in upload["responses"]["413"]["description"]
    assert upload["responses"]["429"]["headers"]["Retry-After"]["required"] is True
    download = document["paths"]["/messages/{id}/file"]["get"]
    assert set(download["responses"]["200"]["content"]) == {"*/*"}
    headers = download["responses"]["200"]["headers"]
    for name in ("Content-Disposition", "ETag", "X-Content-Type-Options", "Content-Length"):
        assert headers[name]["required"] is True
    assert "content" not in download["responses"]["304"]


def test_optional_bodies_are_not_required() -> None:
    paths = openapi_document()["paths"]
    for path in ("/rooms/{room}/leave", "/rooms/{room}/links", "/join/{token}"):
        assert paths[path]["post"]["requestBody"]["required"] is False, path
    assert paths["/users/{name}/report"]["post"]["requestBody"]["required"] is False
    assert paths["/rooms"]["post"]["requestBody"]["required"] is True


def test_the_docs_page_shows_the_later_endpoints() -> None:
    page = docs_page().decode("utf-8")
    for method, path in LATER_ENDPOINTS:
        assert f"{method.upper()} {path}" in page
    for name in ("Comment", "Scheduled", "JoinRequest", "JoinLink", "FileInfo", "UserBannedEvent"):
        assert f'id="schema-{name}"' in page
    assert "application/octet-stream" in page
    assert "Проект Ω" in page


# ------------------------------------------------------------ the live contract


@define
class Contract:
    """Calls the live server and checks every answer against the served document."""

    server: LiveServer
    document: dict[str, Any]
    seen: set[tuple[str, str, str]] = field(factory=set)
    events: dict[str, list[dict[str, Any]]] = field(factory=dict)

    def validator(self, schema: Mapping[str, Any]) -> jsonschema_rs.Validator:
        root = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [schema],
        }
        return jsonschema_rs.Draft202012Validator(root)

    def call(
        self,
        method: str,
        template: str,
        token: str | None,
        *,
        params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        json_body: object = None,
        raw: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One request; returns status, headers (lower-cased) and the JSON or raw body."""
        path = template
        for name, value in (params or {}).items():
            path = path.replace(f"{{{name}}}", quote(value, safe=""))
        if query:
            path += "?" + urlencode(query)
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        payload: bytes | Iterator[bytes] | None = raw
        if json_body is not None:
            sent["Content-Type"] = "application/json"
            payload = json.dumps(json_body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=10)
        try:
            connection.request(method, path, body=payload, headers=sent)
            response = connection.getresponse()
            status, body = response.status, response.read()
            got = {k.lower(): v for k, v in response.getheaders()}
        finally:
            connection.close()
        decoded = self.check(method.lower(), template, status, got, body)
        return status, got, decoded

    def check(
        self, method: str, template: str, status: int, headers: Mapping[str, str], body: bytes
    ) -> Any:
        operation = self.document["paths"][template][method]
        responses = operation["responses"]
        assert str(status) in responses, (method, template, status, body[:200])
        self.seen.add((method, template, str(status)))
        response = responses[str(status)]
        for name, header in response.get("headers", {}).items():
            if header.get("required"):
                assert name.lower() in headers, (method, template, status, name)
                assert self.validator(header["schema"]).is_valid(headers[name.lower()])
        content = response.get("content")
        if content is None:
            assert body == b"", (method, template, status)
            return None
        if "application/json" not in content:
            return body
        assert headers["content-type"].startswith("application/json")
        decoded = json.loads(body)
        errors = list(self.validator(content["application/json"]["schema"]).iter_errors(decoded))
        assert not errors, (method, template, status, decoded, errors)
        return decoded

    def connect(self, name: str) -> str:
        status, _, body = self.call(
            "POST", "/connect", None, json_body={"name": name, "password": "pw"}
        )
        assert status in (200, 201)
        token: str = body["token"]
        return token

    def collect_events(self, name: str, token: str) -> None:
        """Every event the user may see, each checked against the Event schema."""
        event = self.validator({"$ref": "#/components/schemas/Event"})
        collected: list[dict[str, Any]] = []
        after = 0
        while True:
            status, _, page = self.call(
                "GET", "/events", token, query={"after": str(after), "timeout": "0"}
            )
            assert status == 200
            for item in page["events"]:
                errors = list(event.iter_errors(item))
                assert not errors, (item, errors)
            collected += page["events"]
            if page["next"] == after:
                break
            after = page["next"]
        self.events[name] = collected


def wait_until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def run_scenario(api: Contract) -> None:
    alice, bob, carol = api.connect("alice"), api.connect("bob"), api.connect("carol")
    dave, mallory, eve = api.connect("dave"), api.connect("mallory"), api.connect("eve")

    # -- rooms
    status, _, created = api.call(
        "POST", "/rooms", alice, json_body={"name": "Проект Ω", "members": ["bob"]}
    )
    assert status == 201
    room = created["room"]
    group = room["id"]
    assert room["kind"] == "group"
    assert room["owner"] == "alice"
    assert room["members"] == ["alice", "bob"]
    assert api.call("POST", "/rooms", alice, json_body={"name": ""})[0] == 400
    assert api.call("POST", "/rooms", alice, json_body={"name": "x", "members": ["zed"]})[0] == 404
    assert api.call("GET", "/rooms", None)[0] == 401  # with its WWW-Authenticate challenge
    as_text = {"Content-Type": "text/plain"}
    assert api.call("POST", "/rooms", alice, raw=b'{"name": "x"}', headers=as_text)[0] == 415
    status, _, rooms = api.call("GET", "/rooms", bob)
    assert status == 200
    assert group in {r["id"] for r in rooms["rooms"]}

    members = "/rooms/{room}/members"
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "carol"})[0]
        == 201
    )
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "carol"})[0]
        == 200
    )
    assert (
        api.call("POST", members, bob, params={"room": group}, json_body={"name": "dave"})[0] == 403
    )
    assert api.call("POST", members, alice, params={"room": group}, json_body={"name": 5})[0] == 400
    assert (
        api.call("POST", members, alice, params={"room": group}, json_body={"name": "zed"})[0]
        == 404
    )

    # -- join links and requests
    links = "/rooms/{room}/links"
    status, _, link = api.call("POST", links, alice, params={"room": group})
    assert status == 201
    assert link["path"] == f"/join/{link['token']}"
    assert api.call("POST", links, bob, params={"room": group}, json_body={})[0] == 403
    assert api.call("POST", links, alice, params={"room": "g999999"})[0] == 404
    token = {"token": link["token"]}
    status, _, asked = api.call("POST", "/join/{token}", dave, params=token)
    assert status == 202
    assert asked["request"]["status"] == "pending"
    assert api.call("POST", "/join/{token}", bob, params=token)[2]["request"]["status"] == "member"
    assert api.call("POST", "/join/{token}", mallory, params=token, json_body={})[0] == 202
    assert api.call("POST", "/join/{token}", dave, params={"token": "nope"})[0] == 404
    requests = "/rooms/{room}/requests"
    status, _, pending = api.call("GET", requests, alice, params={"room": group})
    assert status == 200
    assert [r["user"] for r in pending["requests"]] == ["dave", "mallory"]
    assert api.call("GET", requests, bob, params={"room": group})[0] == 403
    assert api.call("GET", requests, alice, params={"room": "general"})[0] == 404
    decide = "/rooms/{room}/requests/{name}"
    dave_request = {"room": group, "name": "dave"}
    assert (
        api.call("POST", decide, alice, params=dave_request, json_body={"approve": "y"})[0] == 400
    )
    assert api.call("POST", decide, bob, params=dave_request, json_body={"approve": True})[0] == 403
    status, _, decided = api.call(
        "POST", decide, alice, params=dave_request, json_body={"approve": True}
    )
    assert (status, decided["request"]["status"]) == (200, "approved")
    assert (
        api.call("POST", decide, alice, params=dave_request, json_body={"approve": True})[0] == 404
    )
    mallory_request = {"room": group, "name": "mallory"}
    status, _, decided = api.call(
        "POST", decide, alice, params=mallory_request, json_body={"approve": False}
    )
    assert (status, decided["request"]["status"]) == (200, "rejected")
    revoke = "/rooms/{room}/links/{token}"
    link_params = {"room": group, **token}
    assert api.call("DELETE", revoke, bob, params=link_params)[0] == 403
    assert api.call("DELETE", revoke, alice, params=link_params)[0] == 204
    assert api.call("DELETE", revoke, alice, params=link_params)[0] == 404
    assert api.call("POST", "/join/{token}", mallory, params=token)[0] == 404

    # -- comments
    status, _, sent = api.call("POST", "/send", bob, json_body={"text": "plan", "room": group})
    assert status == 201
    message = {"id": str(sent["message"]["id"])}
    comments = "/messages/{id}/comments"
    status, _, commented = api.call(
        "POST", comments, carol, params=message, json_body={"text": "ok"}
    )
    assert status == 201
    assert commented["comment"]["message"] == sent["message"]["id"]
    assert api.call("POST", comments, carol, params=message, json_body={"text": " "})[0] == 400
    assert api.call("POST", comments, mallory, params=message, json_body={"text": "hi"})[0] == 403
    assert (
        api.call("POST", comments, carol, params={"id": "999999"}, json_body={"text": "a"})[0]
        == 404
    )
    status, _, listed = api.call("GET", comments, alice, params=message)
    assert status == 200
    assert [c["text"] for c in listed["comments"]] == ["ok"]
    assert api.call("GET", comments, mallory, params=message)[0] == 403
    assert api.call("GET", comments, alice, params={"id": "abc"})[0] == 404

    # -- scheduled messages
    later = {"text": "later", "room": group, "send_at": time.time() + 3600}
    status, _, scheduled = api.call("POST", "/send", alice, json_body=later)
    assert status == 202
    assert scheduled["scheduled"]["status"] == "pending"
    scheduled_id = {"id": str(scheduled["scheduled"]["id"])}
    status, _, pending = api.call("GET", "/scheduled", alice)
    assert [s["id"] for s in pending["scheduled"]] == [scheduled["scheduled"]["id"]]
    assert api.call("DELETE", "/scheduled/{id}", bob, params=scheduled_id)[0] == 404
    assert api.call("DELETE", "/scheduled/{id}", alice, params=scheduled_id)[0] == 204
    assert api.call("DELETE", "/scheduled/{id}", alice, params=scheduled_id)[0] == 409
    assert api.call("DELETE", "/scheduled/{id}", alice, params={"id": "x1"})[0] == 404
    too_far = {"text": "x", "to": "bob", "send_at": time.time() + 31 * 86400}
    status, _, refused = api.call("POST", "/send", alice, json_body=too_far)
    assert (status, refused["error"]["field"]) == (400, "send_at")
    past = {"text": "now", "to": "bob", "send_at": time.time() - 10}
    assert api.call("POST", "/send", alice, json_body=past)[0] == 201
    soon = time.time() + 1.5  # carol leaves the room before then
    status, _, delivered = api.call(
        "POST", "/send", alice, json_body={"text": "soon", "to": "bob", "send_at": soon}
    )
    assert status == 202
    assert delivered["scheduled"]["to"] == "bob"
    failing = {"text": "bye", "room": group, "send_at": soon}
    assert api.call("POST", "/send", carol, json_body=failing)[0] == 202

    # -- leaving (carol's scheduled message to the room will fail: not_member)
    leave = "/rooms/{room}/leave"
    assert api.call("POST", leave, carol, params={"room": group})[0] == 204
    assert api.call("POST", leave, carol, params={"room": group}, json_body={})[0] == 404
    assert api.call("POST", leave, alice, params={"room": group})[0] == 409
    assert api.call("POST", leave, alice, params={"room": "general"})[0] == 409
    wait_until(lambda: not api.call("GET", "/scheduled", alice)[2]["scheduled"])
    wait_until(lambda: not api.call("GET", "/scheduled", carol)[2]["scheduled"])

    # -- files
    upload_query = {"room": group, "name": "notes.txt"}
    text_plain = {"Content-Type": "text/plain; charset=utf-8"}
    status, _, uploaded = api.call(
        "POST", "/files", bob, query=upload_query, raw=b"abc", headers=text_plain
    )
    assert status == 201
    file = uploaded["message"]["file"]
    assert (file["size"], file["content_type"]) == (3, "text/plain; charset=utf-8")
    file_message = {"id": str(uploaded["message"]["id"])}
    download = "/messages/{id}/file"
    status, headers, content = api.call("GET", download, dave, params=file_message)
    assert (status, content) == (200, b"abc")
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["etag"] == f'"{file["sha256"]}"'
    cached = {"If-None-Match": headers["etag"]}
    assert api.call("GET", download, dave, params=file_message, headers=cached)[0] == 304
    assert api.call("GET", download, mallory, params=file_message)[0] == 403
    assert api.call("GET", download, dave, params=message)[0] == 404
    status, _, direct = api.call(
        "POST", "/files", alice, query={"to": "bob", "name": "a.bin"}, raw=b"\x00\xff"
    )
    assert (status, direct["message"]["file"]["content_type"]) == (201, "application/octet-stream")
    big = b"x" * (MAX_FILE_BYTES + 1)
    assert api.call("POST", "/files", bob, query=upload_query, raw=big)[0] == 413

    def chunks(*sizes: int) -> Iterator[bytes]:
        yield from (b"y" * size for size in sizes)

    assert api.call("POST", "/files", bob, query=upload_query, raw=chunks(1000, 3000, 97))[0] == 413
    assert (
        api.call("POST", "/files", bob, query=upload_query, raw=chunks(MAX_FILE_BYTES, 1))[0] == 413
    )
    at_limit = chunks(1, MAX_FILE_BYTES - 1)
    status, _, full = api.call("POST", "/files", bob, query=upload_query, raw=at_limit)
    assert (status, full["message"]["file"]["size"]) == (201, MAX_FILE_BYTES)
    assert api.call("POST", "/files", bob, query={"room": group, "name": "..."}, raw=b"")[0] == 400
    assert api.call("POST", "/files", mallory, query=upload_query, raw=b"a")[0] == 403
    assert api.call("POST", "/files", bob, query={"to": "zed", "name": "a"}, raw=b"a")[0] == 404

    # -- rate limit (general only)
    for n in range(RATE_LIMIT):
        assert api.call("POST", "/send", eve, json_body={"text": f"{n}"})[0] == 201
    status, headers, limited = api.call("POST", "/send", eve, json_body={"text": "more"})
    assert (status, limited["error"]["code"]) == (429, "rate_limited")
    assert int(headers["retry-after"]) >= 1
    status, _, limited = api.call("POST", "/files", eve, query={"name": "f"}, raw=b"f")
    assert status == 429

    # -- reports and the ban
    report = "/users/{name}/report"
    on_mallory = {"name": "mallory"}
    status, _, reported = api.call(
        "POST", report, bob, params=on_mallory, json_body={"reason": "x"}
    )
    assert (status, reported) == (202, {"user": "mallory", "banned": False})
    assert api.call("POST", report, bob, params={"name": "bob"})[0] == 400
    assert api.call("POST", report, bob, params={"name": "zed"})[0] == 404
    assert api.call("POST", report, bob, params={"name": "zed!"})[0] == 404
    too_long = {"reason": "r" * (openapi_more.MAX_REPORT_REASON_CHARS + 1)}
    assert api.call("POST", report, carol, params=on_mallory, json_body=too_long)[0] == 400
    assert api.call("POST", report, carol, params=on_mallory)[2]["banned"] is False
    assert api.call("POST", report, dave, params=on_mallory)[2]["banned"] is True
    status, _, banned = api.call("POST", "/send", mallory, json_body={"text": "hi"})
    assert (status, banned["error"]["code"]) == (403, "banned")
    assert banned["error"]["until"] > time.time()
    general_message = {
        "id": str(api.call("POST", "/send", bob, json_body={"text": "g"})[2]["message"]["id"])
    }
    assert (
        api.call("POST", comments, mallory, params=general_message, json_body={"text": "a"})[0]
        == 403
    )
    assert api.call("POST", "/files", mallory, query={"name": "f"}, raw=b"f")[0] == 403

    users = {"alice": alice, "bob": bob, "carol": carol, "dave": dave, "mallory": mallory}
    for name, user_token in users.items():
        api.collect_events(name, user_token)  # acknowledges, so the cursors move

    other_session = api.connect("alice")  # a cursor.moved is not echoed to its own session

    def cursor_moved() -> bool:
        api.collect_events("alice", other_session)
        return any(e["type"] == "cursor.moved" for e in api.events["alice"])

    wait_until(cursor_moved)


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Contract]:
    server = LiveServer(
        Settings(
            port=0,
            data_dir=tmp_path_factory.mktemp("openapi-more") / "data",
            fsync=FsyncPolicy.NONE,
            scrypt_n=2**4,
            min_password_length=1,
            report_min_account_age_s=0.0,
            poll_timeout_max_s=0.2,
            poll_timeout_default_s=0.1,
            shutdown_grace_s=1.0,
            cursor_flush_interval_s=0.05,
            max_file_bytes=MAX_FILE_BYTES,
            rate_limit=RATE_LIMIT,
            report_threshold=REPORT_THRESHOLD,
        )
    )
    server.start()
    try:
        status, body = server.request("GET", "/openapi.json")
        assert status == 200
        api = Contract(server=server, document=json.loads(body))
        run_scenario(api)
        yield api
    finally:
        server.stop()


def test_every_answer_of_the_scenario_is_documented(contract: Contract) -> None:
    # `Contract.check` asserted each answer as it came; here: the scenario reached them all.
    assert {(m, p) for m, p, _ in contract.seen} >= LATER_ENDPOINTS


def test_every_status_an_operation_documents_was_answered(contract: Contract) -> None:
    # Shared statuses (401, the JSON body errors, 400 bad_request) are the builder's and
    # tested with the core; each operation's own statuses must all be reachable.
    shared = {"default", "401", "413", "415"}
    missing = []
    for method, path in sorted(LATER_ENDPOINTS):
        operation = contract.document["paths"][path][method]
        for status, response in operation["responses"].items():
            own = status not in shared or (path == "/files" and status == "413")
            bad_request_only = status == "400" and response["description"].startswith(
                ("`bad_json`", "`bad_request`")
            )
            if own and not bad_request_only and (method, path, status) not in contract.seen:
                missing.append((method, path, status))
    assert not missing


def test_every_documented_event_type_is_delivered(contract: Contract) -> None:
    seen = {event["type"] for events in contract.events.values() for event in events}
    assert seen == set(EVENT_SCHEMAS)


def test_the_events_carry_the_documented_fields(contract: Contract) -> None:
    alice = {e["type"]: e for e in contract.events["alice"]}
    assert alice["message.cancelled"]["scheduled"] > 0
    assert alice["message.scheduled"]["scheduled"]["author"] == "alice"
    assert alice["room.join_requested"]["request"]["status"] == "pending"
    sent_by_schedule = [
        e
        for e in contract.events["bob"]
        if e["type"] == "message.sent" and "scheduled" in e["message"]
    ]
    assert [e["message"]["text"] for e in sent_by_schedule] == ["soon"]
    failed = [e for e in contract.events["carol"] if e["type"] == "message.schedule_failed"]
    assert [e["reason"] for e in failed] == ["not_member"]
    decided = {
        e["request"]["status"]
        for e in contract.events["mallory"]
        if e["type"] == "room.join_decided"
    }
    assert decided == {"rejected"}
    banned = [e for e in contract.events["mallory"] if e["type"] == "user.banned"]
    assert [e["user"] for e in banned] == ["mallory"]
    assert any("session" in e for e in contract.events["alice"] if e["type"] == "cursor.moved")


def test_schemathesis_accepts_the_successes_fuzzing_cannot_reach(contract: Contract) -> None:
    # The fuzzer's random ids, tokens and rooms never name real state, so the
    # successes of these operations are checked here with real values, by
    # schemathesis's own checks (no 5xx, the body matches the documented schema).
    schema = schemathesis.openapi.from_url(f"http://127.0.0.1:{contract.server.port}/openapi.json")
    base_url = f"http://127.0.0.1:{contract.server.port}"
    olga, pavel, rita = (contract.connect(name) for name in ("olga", "pavel", "rita"))

    def call(
        token: str, method: str, path: str, expected: int, body: Any = None, **parts: Any
    ) -> Any:
        operation = schema[path][method]
        if body is not None and "media_type" not in parts:
            parts["media_type"] = "application/json"
        case = operation.Case(body=body, **parts) if body is not None else operation.Case(**parts)
        response = case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, checks=STRICT_CHECKS
        )
        assert response.status_code == expected, (method, path, response.text)
        if response.headers.get("content-type", [""])[0].startswith("application/json"):
            return response.json()
        return response.content

    room = call(olga, "POST", "/rooms", 201, {"name": "r"})["room"]["id"]
    in_room = {"room": room}
    link = call(olga, "POST", "/rooms/{room}/links", 201, path_parameters=in_room)
    token = {"token": link["token"]}
    call(pavel, "POST", "/join/{token}", 202, path_parameters=token)
    call(olga, "GET", "/rooms/{room}/requests", 200, path_parameters=in_room)
    decide = {"room": room, "name": "pavel"}
    call(
        olga,
        "POST",
        "/rooms/{room}/requests/{name}",
        200,
        {"approve": True},
        path_parameters=decide,
    )
    call(pavel, "POST", "/join/{token}", 200, path_parameters=token)
    call(olga, "POST", "/rooms/{room}/members", 201, {"name": "rita"}, path_parameters=in_room)
    call(olga, "POST", "/rooms/{room}/members", 200, {"name": "rita"}, path_parameters=in_room)
    call(olga, "DELETE", "/rooms/{room}/links/{token}", 204, path_parameters={**in_room, **token})
    sent = call(pavel, "POST", "/send", 201, {"text": "t", "room": room})["message"]
    message = {"id": sent["id"]}
    call(rita, "POST", "/messages/{id}/comments", 201, {"text": "c"}, path_parameters=message)
    call(olga, "GET", "/messages/{id}/comments", 200, path_parameters=message)
    uploaded = call(
        pavel,
        "POST",
        "/files",
        201,
        b"bytes",
        query={"room": room, "name": "a.bin"},
        media_type="application/octet-stream",
    )["message"]
    call(rita, "GET", "/messages/{id}/file", 200, path_parameters={"id": uploaded["id"]})
    later = {"text": "l", "to": "rita", "send_at": time.time() + 600}
    scheduled = call(olga, "POST", "/send", 202, later)["scheduled"]
    call(olga, "GET", "/scheduled", 200)
    call(olga, "DELETE", "/scheduled/{id}", 204, path_parameters={"id": scheduled["id"]})
    call(rita, "POST", "/rooms/{room}/leave", 204, path_parameters=in_room)
    call(
        rita,
        "POST",
        "/users/{name}/report",
        202,
        {"reason": "r"},
        path_parameters={"name": "pavel"},
    )


# ------------------------------------------- the mapping's shapes vs the schemas

SCHEMAS = openapi_document()["components"]["schemas"]
names = st.from_regex(r"[A-Za-z\u0410-\u044f\u0451\u03a9\u00e90-9_.-]{1,32}", fullmatch=True)
room_ids = st.one_of(
    st.just("general"),
    st.integers(min_value=1, max_value=2**53).map(lambda n: f"g{n}"),
    st.tuples(names, names).map(lambda pair: f"dm:{pair[0].casefold()}:{pair[1].casefold()}"),
)
offsets = st.integers(min_value=1, max_value=2**53)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)
files = st.builds(
    FileView,
    name=st.text(min_size=1),
    size=st.integers(min_value=0, max_value=Settings().max_file_bytes),
    content_type=st.sampled_from(["application/octet-stream", "text/plain; charset=utf-8"]),
    sha256=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
messages = st.builds(
    MessageView,
    id=offsets,
    room=room_ids,
    author=names,
    text=st.text(),
    ts=times,
    comments=st.integers(min_value=0, max_value=10**6),
    scheduled=st.none() | offsets,
    file=st.none() | files,
)
comments = st.builds(
    CommentView, id=offsets, message=offsets, room=room_ids, author=names, text=st.text(), ts=times
)
scheduled = st.builds(
    ScheduledView,
    id=offsets,
    author=names,
    text=st.text(),
    send_at=times,
    status=st.sampled_from(openapi_more.SCHEDULED_STATUSES),
    room=st.none() | room_ids,
    to=st.none() | names,
)
join_requests = st.builds(
    JoinRequestView,
    room=room_ids,
    user=names,
    status=st.sampled_from(openapi_more.JOIN_STATUSES),
    requested_at=st.none() | times,
)


def schema_validator(name: str) -> jsonschema_rs.Validator:
    root = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": {"schemas": SCHEMAS},
        "$ref": f"#/components/schemas/{name}",
    }
    return jsonschema_rs.Draft202012Validator(root)


VALIDATORS = {
    name: schema_validator(name)
    for name in ("Message", "Comment", "Scheduled", "JoinRequest", "Event", "FileInfo")
}


@given(message=messages, comment=comments, pending=scheduled, request=join_requests)
def test_every_shape_the_mapping_writes_matches_its_schema(
    message: MessageView, comment: CommentView, pending: ScheduledView, request: JoinRequestView
) -> None:
    assert VALIDATORS["Message"].is_valid(mapping.message_json(message))
    assert VALIDATORS["Comment"].is_valid(mapping.comment_json(comment))
    assert VALIDATORS["Scheduled"].is_valid(mapping.scheduled_json(pending))
    assert VALIDATORS["JoinRequest"].is_valid(mapping.request_json(request))


@given(
    offset=offsets,
    ts=times,
    comment=comments,
    pending=scheduled,
    request=join_requests,
    user=names,
    reason=st.sampled_from(["not_member", "banned", "rate_limited", "not_found"]),
)
def test_every_later_event_the_mapping_writes_is_one_documented_event(
    offset: int,
    ts: float,
    comment: CommentView,
    pending: ScheduledView,
    request: JoinRequestView,
    user: str,
    reason: str,
) -> None:
    fields: dict[str, dict[str, object]] = {
        "message.commented": {"comment": comment},
        "room.join_requested": {"request": request},
        "room.join_decided": {"request": request},
        "message.scheduled": {"scheduled": pending},
        "message.cancelled": {"scheduled": pending.id},
        "message.schedule_failed": {"scheduled": pending.id, "reason": reason},
        "user.banned": {"user": user, "until": ts},
        "cursor.moved": {"user": user, "cursor": offset, "session": None},
    }
    for event_type, event_fields in fields.items():
        written = mapping.event_json(
            EventView(offset=offset, ts=ts, type=event_type, fields=event_fields)
        )
        errors = list(VALIDATORS["Event"].iter_errors(written))
        assert not errors, (written, errors)
        for missing in event_fields:
            broken = {k: v for k, v in written.items() if k != missing}
            assert not VALIDATORS["Event"].is_valid(broken), (event_type, missing)


def test_the_schemas_refuse_what_the_mapping_never_writes() -> None:
    message = {"id": 3, "room": "general", "author": "a", "text": "t", "ts": 1.0, "comments": 0}
    assert not VALIDATORS["Message"].is_valid({**message, "file": {"name": "a.txt"}})
    assert not VALIDATORS["Message"].is_valid({**message, "scheduled": 0})
    entry = {"id": 5, "author": "a", "text": "t", "send_at": 2.0, "status": "pending"}
    assert not VALIDATORS["Scheduled"].is_valid(entry)  # neither room nor to
    assert not VALIDATORS["Scheduled"].is_valid({**entry, "room": "general", "to": "b"})
    assert not VALIDATORS["Scheduled"].is_valid({**entry, "room": "general", "status": "done"})
    assert not VALIDATORS["JoinRequest"].is_valid({"room": "g1", "user": "a", "status": "maybe"})
    assert not VALIDATORS["FileInfo"].is_valid(
        {"name": "a", "size": 1, "content_type": "x/y", "sha256": "A" * 64}
    )


# ------------------------------------------------------------- docs/api.md

API_MD = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_docs_api_md_covers_every_operation_event_and_error_code() -> None:
    text = API_MD.read_text(encoding="utf-8")
    document = openapi_document()
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    for method, path in documented_operations(document):
        named = re.compile(re.escape(f"`{method.upper()} {path}") + "[`?]")
        assert any(named.search(heading) for heading in headings), (method, path)
    for event_type in EVENT_SCHEMAS:
        assert f"| `{event_type}` |" in text, event_type
    codes = {
        code
        for item in document["paths"].values()
        for operation in item.values()
        for status, response in operation["responses"].items()
        if status[0] in "45"
        for code in response["content"]["application/json"]["schema"]["allOf"][1]["properties"][
            "error"
        ]["properties"]["code"]["enum"]
    }
    assert codes >= {"not_owner", "banned", "rate_limited", "conflict", "too_large"}
    for code in codes:
        assert f"`{code}`" in text, code
